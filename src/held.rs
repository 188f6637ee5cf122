//! The sockets the library configured in force mode, by descriptor number, each with the
//! kernel's cookie for it: `close()` is not hooked, and a later socket can get the same number
//! without passing through here (`recvmsg()`, `dup2()`, a raw system call), so the number alone
//! would vouch for a socket the library never configured. No allocation, no lock; descriptors
//! past the table are not held.

use core::ffi::c_int;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use crate::sys;

const TRACKED: usize = 65536;
// 0: not held. Held on a kernel without SO_COOKIE (before 4.12): by number alone.
const NO_COOKIE: u64 = u64::MAX;
// TRACKED cookies, mapped only in force mode: other processes carry none of its 512 KiB.
static COOKIES: AtomicPtr<AtomicU64> = AtomicPtr::new(core::ptr::null_mut());

/// Maps the table once, when the settings are published with force mode on. Without it (the
/// mapping failed, or a hook ran while another thread was still reading the settings),
/// nothing is held: force mode then sets the options again at each connect() and accept(),
/// and undoes nothing.
pub fn prepare() {
    if COOKIES.load(Ordering::Acquire).is_null() {
        if let Ok(table) = sys::map_zeroed(TRACKED * size_of::<AtomicU64>()) {
            COOKIES.store(table.cast(), Ordering::Release);
        }
    }
}

#[inline(always)]
fn slot(fd: c_int) -> Option<&'static AtomicU64> {
    let table = COOKIES.load(Ordering::Acquire);
    // A negative descriptor becomes a huge index: one comparison rules out both.
    let index = fd as u32 as usize;
    if table.is_null() || index >= TRACKED {
        return None;
    }
    // SAFETY: the table holds TRACKED zeroed AtomicU64 (zero is a valid one), never unmapped.
    Some(unsafe { &*table.add(index) })
}

#[cold]
#[inline(never)]
pub fn hold(fd: c_int) {
    if let Some(slot) = slot(fd) {
        slot.store(sys::cookie(fd).unwrap_or(NO_COOKIE), Ordering::Relaxed);
    }
}

/// Forgets `fd`, at a cost of one load when it was not held.
#[inline(always)]
pub fn release(fd: c_int) {
    if let Some(slot) = slot(fd).filter(|slot| slot.load(Ordering::Relaxed) != 0) {
        slot.store(0, Ordering::Relaxed);
    }
}

/// Whether `fd` is still the socket the library configured: compared by cookie, or without
/// cookies by being TCP. Asks the kernel, acts on nothing (`release` forgets).
pub fn holds(fd: c_int) -> bool {
    let Some(slot) = slot(fd) else { return false };
    match slot.load(Ordering::Relaxed) {
        0 => false,
        NO_COOKIE => crate::gather::is_tcp(fd),
        cookie => sys::cookie(fd) == Ok(cookie),
    }
}
