//! Gathering the one fact `decide` asks for next, from the kernel, the force table, the fresh
//! defaults or the peer's address. Each fact costs what it must and no more: the hooks ask
//! `SO_KEEPALIVE` first, and only a socket without it costs more calls.

use core::ffi::c_int;
use keepalive_policy::linux::{self, TcpState};
use keepalive_policy::{Fact, Facts, Moment, Need, Timer, Timers, configured};
use libc::{SOL_SOCKET, sockaddr, socklen_t};

use crate::plan::Plan;
use crate::{fresh, held, peer, sys};

/// The socket being decided on, with where its facts come from.
pub struct Socket {
    pub fd: c_int,
    /// The socket whose place in the force table counts: `fd` itself, or at `accept()` its listener.
    pub holder: c_int,
    pub address: Address,
}

/// Where the peer's address is.
#[derive(Clone, Copy)]
pub enum Address {
    /// Not needed at this moment.
    None,
    /// Given to `connect()`, not read by the kernel yet.
    BeforeConnect(*const sockaddr, socklen_t),
    /// Given to a `connect()` that started a connection: the kernel read it.
    AfterConnect(*const sockaddr, socklen_t),
    /// `getpeername` of an accepted socket.
    Accepted,
}

/// Why a decision is not taken now.
pub enum Stop {
    /// The kernel refuses the call anyway (an address it cannot read): nothing to decide.
    Refused,
    /// The address cannot be read before the call: decide after a `connect()` that started.
    AfterTheCall,
}

/// Fills in the fact `need` names.
pub fn gather(need: Need, socket: &Socket, plan: &Plan, facts: &mut Facts) -> Result<(), Stop> {
    let fd = socket.fd;
    match need {
        Need::Keepalive => facts.keepalive = keepalive(fd),
        Need::Tcp => gather_tcp(fd, facts),
        Need::State => facts.state = Fact::from_read(sys::tcp_state(fd).ok().map(TcpState)),
        Need::Held => facts.held = Fact::Known(held::holds(socket.holder)),
        Need::Fresh => facts.fresh = Fact::from_read(fresh::defaults()),
        Need::Timers => facts.timers = Fact::Known(configured_timers(fd, plan)),
        Need::Peer => facts.peer = Fact::from_read(read_peer(fd, socket.address)?),
        Need::Role => facts.role = Fact::Unavailable,
    }
    Ok(())
}

/// `SO_KEEPALIVE`.
fn keepalive(fd: c_int) -> Fact<bool> {
    Fact::from_read(sys::getsockopt(fd, SOL_SOCKET, libc::SO_KEEPALIVE).ok().map(|on| on != 0))
}

/// TCP from `SO_PROTOCOL`, then the type, which a raw socket with TCP's protocol number lacks.
/// The type is asked of the kernel only when nothing else tells it: before `connect()` the state
/// is read (only a TCP socket answers `TCP_INFO`), and `accept()` makes stream sockets.
fn gather_tcp(fd: c_int, facts: &mut Facts) {
    let Some(protocol) = tcp_protocol(fd) else {
        facts.tcp = Fact::Known(false);
        return;
    };
    if facts.moment == Moment::Connect {
        facts.state = Fact::from_read(sys::tcp_state(fd).ok().map(TcpState));
    }
    let stream = matches!(facts.state, Fact::Known(_)) || facts.moment == Moment::Accept;
    facts.tcp = Fact::Known(stream || is_stream(fd, protocol));
}

/// `SO_PROTOCOL`, if TCP's or MPTCP's: only those sockets have it, and only in `AF_INET` and
/// `AF_INET6`, but a raw socket can too.
fn tcp_protocol(fd: c_int) -> Option<c_int> {
    let protocol = sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(0);
    linux::is_tcp(linux::AF_INET, linux::SOCK_STREAM, protocol).then_some(protocol)
}

fn is_stream(fd: c_int, protocol: c_int) -> bool {
    let kind = sys::getsockopt(fd, SOL_SOCKET, libc::SO_TYPE).unwrap_or(0);
    linux::is_tcp(linux::AF_INET, kind, protocol)
}

/// Whether `fd` is a TCP socket, asked of the kernel: the type only when the protocol is TCP's.
pub fn is_tcp(fd: c_int) -> bool {
    tcp_protocol(fd).is_some_and(|protocol| is_stream(fd, protocol))
}

/// The current values of the timers the settings configure, the others left unknown.
fn configured_timers(fd: c_int, plan: &Plan) -> Timers {
    let mut timers = Timers::default();
    for timer in Timer::ALL.into_iter().filter(|timer| configured(&plan.settings, *timer).is_some()) {
        timers.set(timer, sys::getsockopt(fd, libc::IPPROTO_TCP, timer.option_name()).ok());
    }
    timers
}

fn read_peer(fd: c_int, address: Address) -> Result<Option<keepalive_config::Peer>, Stop> {
    match address {
        Address::None => Ok(None),
        Address::BeforeConnect(address, length) => match peer::before_connect(address, length) {
            peer::Before::Read(peer) => Ok(peer),
            peer::Before::Refused => Err(Stop::Refused),
            peer::Before::Later => Err(Stop::AfterTheCall),
        },
        // SAFETY: the kernel read `length` bytes at `address` without a fault.
        Address::AfterConnect(address, length) => Ok(unsafe { peer::after_connect(address, length) }),
        Address::Accepted => Ok(peer::of_accepted(fd)),
    }
}
