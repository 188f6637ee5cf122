//! The C library's own functions behind our hooks, found with `dlsym(RTLD_NEXT, …)`.
//!
//! Each address is looked up once and cached in an atomic: the constructor resolves them all, so a
//! hook never calls `dlsym` (which is not async-signal-safe) unless it runs before the constructor.
//! Two threads resolving at once store the same address, so no lock is needed.

use core::ffi::{CStr, c_int, c_void};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicUsize, Ordering};
use libc::{sockaddr, socklen_t};

const UNRESOLVED: usize = 0;
const MISSING: usize = 1;

pub struct Real<F> {
    name: &'static CStr,
    address: AtomicUsize,
    function: PhantomData<F>,
}

// SAFETY: the only state is an atomic; `F` is a plain function pointer type.
unsafe impl<F> Sync for Real<F> {}

impl<F: Copy> Real<F> {
    const fn new(name: &'static CStr) -> Self {
        const { assert!(size_of::<F>() == size_of::<usize>()) };
        Self {
            name,
            address: AtomicUsize::new(UNRESOLVED),
            function: PhantomData,
        }
    }

    /// The real function, or `None` (after one warning for the whole process) if there is none.
    #[inline]
    pub fn get(&self) -> Option<F> {
        match self.address.load(Ordering::Acquire) {
            UNRESOLVED => self.resolve(),
            MISSING => None,
            // SAFETY: `address` only ever holds what dlsym returned for `name`, whose C type is
            // `F` as declared below, and `F` is pointer-sized (checked in `new`).
            address => Some(unsafe { core::mem::transmute_copy::<usize, F>(&address) }),
        }
    }

    #[cold]
    fn resolve(&self) -> Option<F> {
        // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT searches the objects after ours.
        let found = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) } as usize;
        let stored = if found > MISSING { found } else { MISSING };
        match self.address.compare_exchange(UNRESOLVED, stored, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) if stored == MISSING => crate::log::missing_function(self.name),
            _ => {}
        }
        if stored == MISSING { None } else { self.get() }
    }
}

pub type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
pub type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;
pub type AcceptFn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
pub type Accept4Fn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
pub type SetsockoptFn = unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;
pub type GetsockoptFn = unsafe extern "C" fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int;

pub static SOCKET: Real<SocketFn> = Real::new(c"socket");
pub static CONNECT: Real<ConnectFn> = Real::new(c"connect");
pub static ACCEPT: Real<AcceptFn> = Real::new(c"accept");
pub static ACCEPT4: Real<Accept4Fn> = Real::new(c"accept4");
pub static SETSOCKOPT: Real<SetsockoptFn> = Real::new(c"setsockopt");
pub static GETSOCKOPT: Real<GetsockoptFn> = Real::new(c"getsockopt");

/// Looks every function up now, while the process is still single-threaded.
pub fn resolve_all() {
    SOCKET.get();
    CONNECT.get();
    ACCEPT.get();
    ACCEPT4.get();
    SETSOCKOPT.get();
    GETSOCKOPT.get();
}

/// What a hook returns when the real function is missing: -1 with `ENOSYS`.
#[cold]
pub fn unavailable() -> c_int {
    crate::errno::set(libc::ENOSYS);
    -1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_libc_functions() {
        let real: Real<SocketFn> = Real::new(c"socket");
        let socket = real.get().expect("libc has socket");
        assert_eq!(real.get().map(|f| f as usize), Some(socket as usize), "cached");
        assert!(real.address.load(Ordering::Relaxed) > MISSING);
    }

    #[test]
    fn a_missing_function_is_none_and_looked_up_once() {
        let real: Real<SocketFn> = Real::new(c"libkeepalive_no_such_function");
        assert!(real.get().is_none());
        assert_eq!(real.address.load(Ordering::Relaxed), MISSING);
        assert!(real.get().is_none());
    }
}
