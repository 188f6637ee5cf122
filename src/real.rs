//! The C library's own functions behind our hooks, found with `dlsym(RTLD_NEXT, …)`.
//!
//! Each address is looked up once and cached in an atomic: the constructor resolves them all, so a
//! hook never calls `dlsym` (which is not async-signal-safe) unless it runs before the constructor.
//! Two threads resolving at once store the same address, so no lock is needed.
//!
//! `dlsym` is a weak reference. glibc before 2.34 defines it in libdl.so.2, which a program need
//! not load; naming libdl as a dependency would cost every process that loads us a whole extra
//! library. Without `dlsym`, or when it finds nothing (musl, with the library `dlopen`ed: nothing
//! is loaded after us), each hook uses its fallback, the same call made directly to the kernel.

use core::ffi::{CStr, c_char, c_int, c_void};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicUsize, Ordering};
use libc::{sockaddr, socklen_t};

use crate::sys::fallback;

const UNRESOLVED: usize = 0;

/// A C library function: its name and fallback, and where its address is kept once found.
/// Used as a constant, so that the name and the fallback are part of the code that asks, not
/// pointers in our data, which the loader would relocate in every process. The place is a raw
/// pointer to a static: before Rust 1.93 a constant may not hold a reference to memory that can
/// change, and we support 1.85.
pub struct Real<F> {
    name: &'static CStr,
    fallback: F,
    address: *const AtomicUsize,
    function: PhantomData<F>,
}

impl<F: Copy> Real<F> {
    const fn new(name: &'static CStr, fallback: F, address: *const AtomicUsize) -> Self {
        const { assert!(size_of::<F>() == size_of::<usize>()) };
        Self { name, fallback, address, function: PhantomData }
    }

    /// The real function, looked up at the first call.
    #[inline(always)]
    pub fn get(&self) -> F {
        self.resolved().unwrap_or_else(|| {
            // SAFETY: `F` is a pointer-sized function pointer type (checked in `new`).
            let fallback = unsafe { core::mem::transmute_copy::<F, usize>(&self.fallback) };
            let found = look_up(self.name, fallback, self.address());
            // SAFETY: as in `resolved`.
            unsafe { core::mem::transmute_copy::<usize, F>(&found) }
        })
    }

    #[inline(always)]
    fn address(&self) -> &'static AtomicUsize {
        // SAFETY: every `Real` is made with a pointer to a static (or, in tests, leaked) atomic,
        // which lives as long as the program.
        unsafe { &*self.address }
    }

    /// The real function if it has been looked up already; never looks it up.
    #[inline(always)]
    pub fn resolved(&self) -> Option<F> {
        let address = self.address().load(Ordering::Acquire);
        // SAFETY: `address` only holds what dlsym returned for `name`, or the address of
        // `fallback`; both have the C type `F`, which is pointer-sized (checked in `new`).
        (address != UNRESOLVED).then(|| unsafe { core::mem::transmute_copy::<usize, F>(&address) })
    }
}

/// Finds `name` with `dlsym`, or takes `fallback`, and stores it in `address`. Not generic: one
/// copy serves every function.
#[cold]
#[inline(never)]
fn look_up(name: &CStr, fallback: usize, address: &AtomicUsize) -> usize {
    let found = dlsym().map_or(fallback, |dlsym| {
        let saved = crate::errno::Saved::now();
        // SAFETY: a NUL-terminated name; RTLD_NEXT searches the objects loaded after us.
        let found = unsafe { dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        saved.restore();
        if found == UNRESOLVED {
            if crate::config::wants(crate::config::WHEN_DEBUG, "dlsym()") {
                crate::log::calling_the_kernel(name);
            }
            return fallback;
        }
        found
    });
    // Two threads resolving at once found the same address.
    address.store(found, Ordering::Release);
    found
}

type DlsymFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void;

#[cfg(not(test))]
fn dlsym() -> Option<DlsymFn> {
    unsafe extern "C" {
        /// Filled in by the dynamic loader: the address of `dlsym`, or 0 where there is none.
        static libkeepalive_dlsym_address: usize;
    }
    // SAFETY: a word in our own data, written only by the loader's relocation.
    let address = unsafe { core::ptr::read_volatile(&raw const libkeepalive_dlsym_address) };
    // SAFETY: a non-zero value is the address of the C library's dlsym.
    (address != 0).then(|| unsafe { core::mem::transmute::<usize, DlsymFn>(address) })
}

#[cfg(test)]
fn dlsym() -> Option<DlsymFn> {
    tests::DLSYM.with(|dlsym| dlsym.get())
}

// A weak reference, bound to the version every glibc has (2.34 gave libc.so.6's dlsym a new
// default version), so the library loads on older glibc too. Rust assumes a function's address is
// never null, so the address is read from a word the loader fills in instead.
#[cfg(all(not(test), target_env = "gnu", target_arch = "x86_64"))]
core::arch::global_asm!(".symver dlsym, dlsym@GLIBC_2.2.5");
#[cfg(all(not(test), target_env = "gnu", target_arch = "aarch64"))]
core::arch::global_asm!(".symver dlsym, dlsym@GLIBC_2.17");
#[cfg(not(test))]
core::arch::global_asm!(
    ".weak dlsym",
    ".section .data.rel.ro.libkeepalive_dlsym_address,\"aw\"",
    ".balign 8",
    ".globl libkeepalive_dlsym_address",
    ".hidden libkeepalive_dlsym_address",
    "libkeepalive_dlsym_address:",
    ".quad dlsym",
    ".previous",
);

pub type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
pub type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;
pub type AcceptFn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
pub type Accept4Fn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
pub type SetsockoptFn = unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;

pub const SOCKET: Real<SocketFn> = Real::new(c"socket", fallback::socket, &raw const SOCKET_ADDRESS);
pub const CONNECT: Real<ConnectFn> = Real::new(c"connect", fallback::connect, &raw const CONNECT_ADDRESS);
pub const ACCEPT: Real<AcceptFn> = Real::new(c"accept", fallback::accept, &raw const ACCEPT_ADDRESS);
pub const ACCEPT4: Real<Accept4Fn> = Real::new(c"accept4", fallback::accept4, &raw const ACCEPT4_ADDRESS);
pub const SETSOCKOPT: Real<SetsockoptFn> =
    Real::new(c"setsockopt", fallback::setsockopt, &raw const SETSOCKOPT_ADDRESS);

static SOCKET_ADDRESS: AtomicUsize = AtomicUsize::new(UNRESOLVED);
static CONNECT_ADDRESS: AtomicUsize = AtomicUsize::new(UNRESOLVED);
static ACCEPT_ADDRESS: AtomicUsize = AtomicUsize::new(UNRESOLVED);
static ACCEPT4_ADDRESS: AtomicUsize = AtomicUsize::new(UNRESOLVED);
static SETSOCKOPT_ADDRESS: AtomicUsize = AtomicUsize::new(UNRESOLVED);

/// Looks functions up now, while the process is still single-threaded, so that their hooks
/// never call `dlsym` (which takes a lock) in a signal handler or a `vfork` child. Each lookup
/// costs every process about a thousand instructions, most of which never accept a connection,
/// so `accept` and `accept4`, which only servers call and only from their main loops, are looked
/// up at their first call; so is `setsockopt`, whose hook merely forwards without force mode.
pub fn resolve_all(force: bool) {
    SOCKET.get();
    CONNECT.get();
    if force {
        SETSOCKOPT.get();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn fresh_address() -> &'static AtomicUsize {
        Box::leak(Box::new(AtomicUsize::new(UNRESOLVED)))
    }

    std::thread_local! {
        pub static DLSYM: Cell<Option<DlsymFn>> = Cell::new(Some(libc::dlsym));
    }

    #[test]
    fn finds_libc_functions() {
        let real: Real<SocketFn> = Real::new(c"socket", fallback::socket, fresh_address());
        assert!(real.resolved().is_none());
        let socket = real.get();
        assert_ne!(socket as usize, fallback::socket as SocketFn as usize);
        assert_eq!(real.resolved().map(|f| f as usize), Some(socket as usize), "cached");
    }

    #[test]
    fn a_function_dlsym_does_not_know_is_called_in_the_kernel() {
        let real: Real<SocketFn> = Real::new(c"libkeepalive_no_such_function", fallback::socket, fresh_address());
        crate::errno::set(4242);
        assert_eq!(real.get() as usize, fallback::socket as SocketFn as usize);
        assert_eq!(crate::errno::get(), 4242, "dlsym's errno is not leaked");
        assert_eq!(real.resolved().map(|f| f as usize), Some(fallback::socket as SocketFn as usize), "cached");
    }

    #[test]
    fn without_dlsym_the_kernel_is_called_directly() {
        DLSYM.with(|dlsym| dlsym.set(None));
        let real: Real<SocketFn> = Real::new(c"socket", fallback::socket, fresh_address());
        assert_eq!(real.get() as usize, fallback::socket as SocketFn as usize);
        // SAFETY: the kernel's socket(2), with plain integers.
        let fd = unsafe { real.get()(libc::AF_INET, libc::SOCK_STREAM, 0) };
        assert!(fd >= 0);
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(fd) };
    }
}
