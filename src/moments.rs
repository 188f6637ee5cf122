//! The moments a hook looks at a socket: the facts known for free, the others gathered as
//! `keepalive_policy::decide` asks for them, and its decision carried out.

use core::ffi::c_int;
use core::mem::MaybeUninit;
use keepalive_policy::{Decision, Fact, Facts, Moment, decide};
use libc::{sockaddr, socklen_t};

use crate::carry_out::{carry_out, set_options};
use crate::config::{self, Wanted};
use crate::gather::{Address, Socket, Stop, gather};
use crate::plan::Plan;
use crate::sys;

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

/// Decides on `socket` and carries the decision out, if the plan has one of the `wanted`
/// switches (`config::WHEN_ENABLED`...); a `Stop` is passed on. Cold: the hooks' common cases are
/// their shortcuts. The one way in for every moment, so that the first use of the settings has
/// one copy (`look_first`).
#[cold]
#[inline(never)]
fn look(socket: Socket, facts: Facts, call: &'static str, wanted: u8) -> Result<(), Stop> {
    match config::published_plan(wanted) {
        Wanted::Yes(plan) => look_at(socket, plan, facts, call),
        Wanted::No => Ok(()),
        Wanted::NotRead => look_first(socket, facts, call, wanted),
    }
}

/// `look` before the settings are published: the plan's own copy, when another thread is
/// publishing at this moment, is in this frame alone.
#[cold]
#[inline(never)]
fn look_first(socket: Socket, facts: Facts, call: &'static str, wanted: u8) -> Result<(), Stop> {
    let mut own = MaybeUninit::uninit();
    match config::first_plan(wanted, call, &mut own) {
        Some(plan) => look_at(socket, plan, facts, call),
        None => Ok(()),
    }
}

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
        None => at_socket(fd, true),
    }
}

/// A socket `socket()` just made, TCP without the shortcut, or any other, which only force mode
/// and debug lines look at (`config::may_want`).
#[cold]
#[inline(never)]
pub fn at_socket(fd: c_int, tcp: bool) {
    let facts = Facts { tcp: Fact::Known(tcp), ..Facts::at(Moment::Socket) };
    let wanted = if tcp { config::WHEN_ENABLED } else { config::WHEN_NOTED };
    let _ = look(Socket { fd, holder: fd, address: Address::None }, facts, "socket()", wanted);
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
    match sys::getsockopt_inline(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE) {
        Ok(0) => Some(Fact::Known(false)),
        Ok(_) => None,
        Err(_) => Some(Fact::Unavailable),
    }
}

/// Before a `connect()`: a TCP socket without keepalive gets it now, so that its options govern
/// the handshake too (`TCP_USER_TIMEOUT` bounds the SYN retries). Returns whether the decision
/// must wait until the kernel has read the address, because it cannot be read safely here.
#[inline(always)]
pub fn before_connect(fd: c_int, address: *const sockaddr, length: socklen_t, keepalive: Fact<bool>) -> bool {
    let socket = Socket { fd, holder: fd, address: Address::BeforeConnect(address, length) };
    let facts = Facts { keepalive, ..Facts::at(Moment::Connect) };
    matches!(look(socket, facts, "connect()", config::WHEN_ENABLED), Err(Stop::AfterTheCall))
}

/// After a `connect()` that started a connection, when `before_connect` could not read the
/// address: the kernel has read it, so it is readable.
#[inline(always)]
pub fn after_connect(fd: c_int, address: *const sockaddr, length: socklen_t) {
    let socket = Socket { fd, holder: fd, address: Address::AfterConnect(address, length) };
    let _ = look(socket, Facts::at(Moment::Connected), "connect()", config::WHEN_ENABLED);
}

/// A socket `accept()` or `accept4()` (named by `call`) just returned from `listener`.
#[inline(always)]
pub fn at_accept(listener: c_int, fd: c_int, call: &'static str, keepalive: Fact<bool>) {
    let socket = Socket { fd, holder: listener, address: Address::Accepted };
    let _ = look(socket, Facts { keepalive, ..Facts::at(Moment::Accept) }, call, config::WHEN_ENABLED);
}

/// After a `setsockopt(level, name)` that succeeded, in force mode.
#[inline(always)]
pub fn after_setsockopt(fd: c_int, level: c_int, name: c_int) {
    let socket = Socket { fd, holder: fd, address: Address::None };
    let facts = Facts::at(Moment::Setsockopt { level, name });
    let _ = look(socket, facts, "setsockopt()", config::WHEN_FORCING);
}
