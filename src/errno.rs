//! `errno`, which the program must find exactly as the real call left it.

use core::ffi::c_int;

#[inline]
fn location() -> *mut c_int {
    // SAFETY: both glibc and musl export __errno_location, which never fails.
    unsafe { libc::__errno_location() }
}

pub fn get() -> c_int {
    // SAFETY: the thread's own errno, always valid.
    unsafe { *location() }
}

pub fn set(value: c_int) {
    // SAFETY: as above.
    unsafe { *location() = value }
}

/// The value `errno` had when our own work began, put back when it ends.
#[must_use]
pub struct Saved(c_int);

impl Saved {
    pub fn now() -> Self {
        Self(get())
    }

    pub fn restore(self) {
        set(self.0)
    }
}
