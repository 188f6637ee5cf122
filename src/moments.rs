//! The moments a hook looks at a socket: the facts known for free, the others gathered as
//! `keepalive_policy::decide` asks for them, and its decision carried out.

use core::ffi::c_int;
use keepalive_policy::{Decision, Fact, Facts, Moment, decide};
use libc::{sockaddr, socklen_t};

use crate::carry_out::carry_out;
use crate::gather::{Address, Socket, Stop, gather};
use crate::plan::Plan;

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

/// Decides on `socket` and carries the decision out; a `Stop` is passed on.
#[inline(always)]
fn look_at(socket: Socket, plan: &Plan, mut facts: Facts, call: &'static str) -> Result<(), Stop> {
    let decision = settle(&socket, plan, &mut facts)?;
    carry_out(decision, &socket, plan, &facts, call);
    Ok(())
}

/// A socket `socket()` just made; `tcp` from its arguments.
#[inline(always)]
pub fn at_socket(fd: c_int, tcp: bool, plan: &Plan) {
    let facts = Facts { tcp: Fact::Known(tcp), ..Facts::at(Moment::Socket) };
    let _ = look_at(Socket { fd, holder: fd, address: Address::None }, plan, facts, "socket()");
}

/// Before a `connect()`: a TCP socket without keepalive gets it now, so that its options govern
/// the handshake too (`TCP_USER_TIMEOUT` bounds the SYN retries). Returns whether the decision
/// must wait until the kernel has read the address, because it cannot be read safely here.
#[inline(always)]
pub fn before_connect(fd: c_int, address: *const sockaddr, length: socklen_t, plan: &Plan) -> bool {
    let socket = Socket { fd, holder: fd, address: Address::BeforeConnect(address, length) };
    matches!(look_at(socket, plan, Facts::at(Moment::Connect), "connect()"), Err(Stop::AfterTheCall))
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
#[inline(always)]
pub fn at_accept(listener: c_int, fd: c_int, plan: &Plan, call: &'static str) {
    let socket = Socket { fd, holder: listener, address: Address::Accepted };
    let _ = look_at(socket, plan, Facts::at(Moment::Accept), call);
}

/// After a `setsockopt(level, name)` that succeeded in force mode.
#[inline(always)]
pub fn after_setsockopt(fd: c_int, level: c_int, name: c_int, plan: &Plan) {
    let socket = Socket { fd, holder: fd, address: Address::None };
    let _ = look_at(socket, plan, Facts::at(Moment::Setsockopt { level, name }), "setsockopt()");
}
