//! The exported functions that stand in for the C library's. Each calls the real function and
//! returns exactly its result; the real call's `errno` is the one the program sees.

use core::ffi::{c_int, c_void};
use libc::{sockaddr, socklen_t};

use keepalive_policy::Fact;

use crate::config::{self, WHEN_FORCING, WHEN_NOTED, may_want};
use crate::errno;
use crate::moments;
use crate::real;

/// Creates a socket like the C library's `socket()`; a TCP socket gets keepalive right away.
///
/// # Safety
/// The same contract as `socket(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int {
    let real_socket = real::SOCKET.get();
    // Decided before the call, so that only this bit has to survive it.
    let tcp = keepalive_policy::linux::is_tcp_request(domain, kind, protocol);
    // SAFETY: forwarded unchanged.
    let fd = unsafe { real_socket(domain, kind, protocol) };
    if fd >= 0 {
        if tcp {
            moments::at_tcp_socket(fd);
        } else if may_want(WHEN_NOTED) {
            moments::at_socket(fd, false);
        }
    }
    fd
}

/// Connects like the C library's `connect()`; a TCP socket without keepalive gets it first.
///
/// # Safety
/// The same contract as `connect(2)`; `address` is read only through the kernel, or once the
/// kernel has read it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, address: *const sockaddr, length: socklen_t) -> c_int {
    let real_connect = real::CONNECT.get();
    match moments::keepalive_first(fd, config::QUIET_IF_ON_AT_CONNECT) {
        // SAFETY: forwarded unchanged.
        None => unsafe { real_connect(fd, address, length) },
        // SAFETY: as above.
        Some(keepalive) => unsafe { connect_deciding(real_connect, fd, address, length, keepalive) },
    }
}

/// `connect()` for a socket the shortcut does not settle: decided before the call, or after it.
///
/// # Safety
/// The same contract as `connect(2)`.
#[cold]
#[inline(never)]
unsafe fn connect_deciding(
    real_connect: real::ConnectFn,
    fd: c_int,
    address: *const sockaddr,
    length: socklen_t,
    keepalive: Fact<bool>,
) -> c_int {
    if !moments::before_connect(fd, address, length, keepalive) {
        // SAFETY: forwarded unchanged.
        return unsafe { real_connect(fd, address, length) };
    }
    // SAFETY: as above.
    unsafe { connect_then_decide(real_connect, fd, address, length) }
}

/// `connect()` when peer rules could not read the address before the call: only a call that
/// started a connection (not one that failed, nor EISCONN or EALREADY) is looked at after it.
///
/// # Safety
/// The same contract as `connect(2)`.
#[inline(always)]
unsafe fn connect_then_decide(
    real_connect: real::ConnectFn,
    fd: c_int,
    address: *const sockaddr,
    length: socklen_t,
) -> c_int {
    // SAFETY: forwarded unchanged.
    let result = unsafe { real_connect(fd, address, length) };
    if result == 0 || matches!(errno::get(), libc::EINPROGRESS | libc::EINTR) {
        moments::after_connect(fd, address, length);
    }
    result
}

/// Accepts like the C library's `accept()`; an accepted TCP socket without keepalive gets it.
///
/// # Safety
/// The same contract as `accept(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, address: *mut sockaddr, length: *mut socklen_t) -> c_int {
    let real_accept = real::ACCEPT.get();
    // SAFETY: forwarded unchanged.
    let accepted = unsafe { real_accept(fd, address, length) };
    configure_accepted(fd, accepted, "accept()", config::QUIET_IF_ON_AT_ACCEPT);
    accepted
}

/// Accepts like the C library's `accept4()`; an accepted TCP socket without keepalive gets it.
///
/// # Safety
/// The same contract as `accept4(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(fd: c_int, address: *mut sockaddr, length: *mut socklen_t, flags: c_int) -> c_int {
    let real_accept4 = real::ACCEPT4.get();
    // SAFETY: forwarded unchanged.
    let accepted = unsafe { real_accept4(fd, address, length, flags) };
    configure_accepted(fd, accepted, "accept4()", config::QUIET_IF_ON_AT_ACCEPT);
    accepted
}

/// Sets a socket option like the C library's `setsockopt()`. With `KEEPALIVE_FORCE`, a change to
/// an option the operator configured, on a socket the library configured, is undone right after
/// it succeeds; the call's result and `errno` are the kernel's in every case.
///
/// # Safety
/// The same contract as `setsockopt(2)`; `value` is passed through and never read here.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    length: socklen_t,
) -> c_int {
    // Without force mode this is the whole cost of the hook: one test of the state byte, and a
    // jump to the C library's function.
    match real::SETSOCKOPT.resolved() {
        // SAFETY: forwarded unchanged.
        Some(real_setsockopt) if !may_want(WHEN_FORCING) => unsafe { real_setsockopt(fd, level, name, value, length) },
        // SAFETY: the caller's arguments, unchanged.
        _ => unsafe { setsockopt_forcing(fd, level, name, value, length) },
    }
}

/// `setsockopt` in force mode, before the settings are read, or before the C library's function
/// is found. The call always reaches the kernel, which alone knows whether it is valid (a bad
/// pointer, a closed descriptor, a value out of range); only one that succeeded is undone.
///
/// # Safety
/// The same contract as `setsockopt(2)`.
#[inline(never)]
unsafe fn setsockopt_forcing(fd: c_int, level: c_int, name: c_int, value: *const c_void, length: socklen_t) -> c_int {
    let real_setsockopt = real::SETSOCKOPT.get();
    // SAFETY: forwarded unchanged.
    let result = unsafe { real_setsockopt(fd, level, name, value, length) };
    if result == 0 {
        moments::after_setsockopt(fd, level, name);
    }
    result
}

/// Linux copies a listener's options to the sockets it accepts, so without side or peer rules
/// this only acts for listeners that did not come through our `socket()`: inherited, or handed
/// over by systemd or inetd.
#[inline(always)]
fn configure_accepted(listener: c_int, accepted: c_int, call: &'static str, shortcut: u8) {
    if accepted >= 0 {
        if let Some(keepalive) = moments::keepalive_first(accepted, shortcut) {
            accepted_deciding(listener, accepted, call, keepalive);
        }
    }
}

#[cold]
#[inline(never)]
fn accepted_deciding(listener: c_int, accepted: c_int, call: &'static str, keepalive: Fact<bool>) {
    moments::at_accept(listener, accepted, call, keepalive);
}

// Each hook, the C library's function behind it and the fallback in `sys` have one C type: the
// statics in `real` tie the fallbacks to it, these tie the hooks and the libc crate's prototypes.
const _: [real::SocketFn; 2] = [socket, libc::socket];
const _: [real::ConnectFn; 2] = [connect, libc::connect];
const _: [real::AcceptFn; 2] = [accept, libc::accept];
const _: [real::Accept4Fn; 2] = [accept4, libc::accept4];
const _: [real::SetsockoptFn; 2] = [setsockopt, libc::setsockopt];
