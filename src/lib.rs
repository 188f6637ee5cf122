//! libkeepalive: TCP keepalive for programs that do not ask for it.
//!
//! Preloaded with `LD_PRELOAD`, the library stands in for `socket`, `connect`, `accept`,
//! `accept4` and, for `KEEPALIVE_FORCE`, `setsockopt`. Every TCP socket the program creates, connects or accepts gets `SO_KEEPALIVE` and
//! the timers set in `KEEPALIVE_*` variables; every call returns exactly what the C library
//! returned. What the variables mean lives in the `keepalive-config` crate, which sockets get what
//! in `keepalive-policy` (the decision); this crate forwards calls, gathers the facts the
//! decision asks for and carries it out.
//!
//! The library is `no_std` and allocates nothing: its hooks run inside other people's processes,
//! in signal handlers, in `vfork` children and before its own constructor.

#![cfg_attr(not(test), no_std)]
#![cfg_attr(test, allow(dead_code))]

mod carry_out;
mod config;
mod describe;
mod errno;
mod fresh;
mod gather;
mod held;
#[cfg(not(test))]
mod hooks;
mod log;
mod mem;
mod moments;
mod peer;
mod plan;
mod probe;
mod real;
mod sys;

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // No code path here panics; a test checks that the built library does not even reference
    // `abort`, which only this handler would.
    // SAFETY: abort takes no arguments and never returns; a panic here has nowhere else to go.
    unsafe { libc::abort() }
}

#[cfg(not(test))]
ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn load() {
        config::load();
        real::resolve_all(config::force());
    }
}
