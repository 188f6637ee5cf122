//! libkeepalive: TCP keepalive for programs that do not ask for it.
//!
//! Preloaded with `LD_PRELOAD`, the library stands in for `socket`, `connect`, `accept` and
//! `accept4`. Every TCP socket the program creates, connects or accepts gets `SO_KEEPALIVE` and
//! the timers set in `KEEPALIVE_*` variables; every call returns exactly what the C library
//! returned. What the variables mean lives in the `keepalive-config` crate (policy); this crate
//! only forwards calls and applies options (mechanism).
//!
//! The library is `no_std` and allocates nothing: its hooks run inside other people's processes,
//! in signal handlers, in `vfork` children and before its own constructor.

#![cfg_attr(not(test), no_std)]

mod config;
mod errno;
#[cfg(not(test))]
mod hooks;
mod log;
mod policy;
mod real;
mod sockopt;

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // No code path here panics; a test checks that the built library does not even reference
    // `abort`, which only this handler would.
    unsafe { libc::abort() }
}

// glibc 2.34 moved dlsym into libc.so.6 under a new version; binding to the original version
// (with libdl.so.2 linked, see build.rs) lets the library load into programs on older glibc.
#[cfg(all(not(test), target_env = "gnu", target_arch = "x86_64"))]
core::arch::global_asm!(".symver dlsym, dlsym@GLIBC_2.2.5");
#[cfg(all(not(test), target_env = "gnu", target_arch = "aarch64"))]
core::arch::global_asm!(".symver dlsym, dlsym@GLIBC_2.17");

#[cfg(not(test))]
ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn load() {
        real::resolve_all();
        config::settings("");
    }
}
