//! The moments a hook looks at a socket: the facts known for free, the others gathered as
//! `keepalive_policy::decide` asks for them, and its decision carried out.

use core::ffi::c_int;
use keepalive_policy::{Decision, Fact, Facts, Moment, decide};
use libc::{sockaddr, socklen_t};

use crate::carry_out::{carry_out, set_all, set_options};
use crate::gather::{Address, Socket, Stop, gather};
use crate::plan::Plan;
use crate::{config, sys};

/// Asks `decide` until it decides, gathering each fact it needs.
#[inline(always)]
fn settle(socket: &Socket, plan: &Plan, facts: &mut Facts) -> Result<Decision, Stop> {
    loop {
        match decide(&plan.settings, facts) {
            Decision::Need(need) => gather(need, socket, plan, facts)?,
            decision => return Ok(decision),
        }
    }
}

/// Decides on `socket` and carries the decision out; a `Stop` is passed on. Cold: the hooks'
/// common cases are their shortcuts.
#[cold]
#[inline(never)]
fn look_at(socket: Socket, plan: &Plan, mut facts: Facts, call: &'static str) -> Result<(), Stop> {
    let decision = settle(&socket, plan, &mut facts)?;
    carry_out(decision, &socket, plan, &facts, call);
    Ok(())
}

/// A TCP socket `socket()` just made: its decision depends on the settings alone, and is
/// usually the options set and nothing else.
#[inline(always)]
pub fn at_tcp_socket(fd: c_int) {
    match config::with_shortcut(config::PLAIN_AT_SOCKET) {
        Some(plan) => set_options(fd, plan),
        None => at_socket_deciding(fd),
    }
}

#[cold]
#[inline(never)]
fn at_socket_deciding(fd: c_int) {
    config::when_enabled("socket()", |plan| at_socket_decided(fd, plan));
}

/// Apart from `at_socket_deciding`, which would otherwise hold two copies of it (see
/// `config::when_enabled`).
#[cold]
#[inline(never)]
fn at_socket_decided(fd: c_int, plan: &Plan) {
    match plan.at_socket {
        Decision::SetAll => set_all(fd, plan, "socket()"),
        _ => not_at_socket(fd, true, plan),
    }
}

/// A socket `socket()` just made that is not TCP, or a TCP one left for later.
#[cold]
#[inline(never)]
pub fn not_at_socket(fd: c_int, tcp: bool, plan: &Plan) {
    let facts = Facts { tcp: Fact::Known(tcp), ..Facts::at(Moment::Socket) };
    let _ = look_at(Socket { fd, holder: fd, address: Address::None }, plan, facts, "socket()");
}

/// The first fact at `connect()` or `accept()`, when the plan has the `shortcut` for it (see
/// `Plan::quiet_if_on_at_connect`): `SO_KEEPALIVE`, which `decide` asks first. `None`: it is on,
/// and the socket is left alone with nothing to carry out; otherwise `decide` goes on from
/// what was read (nothing without the shortcut).
#[inline(always)]
pub fn keepalive_first(fd: c_int, shortcut: u8) -> Option<Fact<bool>> {
    if config::with_shortcut(shortcut).is_none() {
        return Some(Fact::Unknown);
    }
    match sys::getsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE) {
        Ok(0) => Some(Fact::Known(false)),
        Ok(_) => None,
        Err(_) => Some(Fact::Unavailable),
    }
}

/// Before a `connect()`: a TCP socket without keepalive gets it now, so that its options govern
/// the handshake too (`TCP_USER_TIMEOUT` bounds the SYN retries). Returns whether the decision
/// must wait until the kernel has read the address, because it cannot be read safely here.
pub fn before_connect(
    fd: c_int,
    address: *const sockaddr,
    length: socklen_t,
    plan: &Plan,
    keepalive: Fact<bool>,
) -> bool {
    let socket = Socket { fd, holder: fd, address: Address::BeforeConnect(address, length) };
    let facts = Facts { keepalive, ..Facts::at(Moment::Connect) };
    matches!(look_at(socket, plan, facts, "connect()"), Err(Stop::AfterTheCall))
}

/// After a `connect()` that started a connection, when `before_connect` could not read the
/// address: the kernel has read it, so it is readable.
#[cold]
#[inline(never)]
pub fn after_connect(fd: c_int, address: *const sockaddr, length: socklen_t, plan: &Plan) {
    let socket = Socket { fd, holder: fd, address: Address::AfterConnect(address, length) };
    let _ = look_at(socket, plan, Facts::at(Moment::Connected), "connect()");
}

/// A socket `accept()` or `accept4()` (named by `call`) just returned from `listener`.
pub fn at_accept(listener: c_int, fd: c_int, plan: &Plan, call: &'static str, keepalive: Fact<bool>) {
    let socket = Socket { fd, holder: listener, address: Address::Accepted };
    let _ = look_at(socket, plan, Facts { keepalive, ..Facts::at(Moment::Accept) }, call);
}

/// After a `setsockopt(level, name)` that succeeded in force mode.
#[inline(always)]
pub fn after_setsockopt(fd: c_int, level: c_int, name: c_int, plan: &Plan) {
    let socket = Socket { fd, holder: fd, address: Address::None };
    let _ = look_at(socket, plan, Facts::at(Moment::Setsockopt { level, name }), "setsockopt()");
}
