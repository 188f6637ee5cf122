//! The decision: what to do with one socket at one moment, from the facts known about it.

use core::ffi::c_int;
use keepalive_config::{Peer, Settings, Side};

use crate::linux::TcpState;
use crate::options::{Kept, Options, SocketOption, Timer, Timers, configured};

/// When a socket is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// `socket()` just made it.
    Socket,
    /// The program is about to call `connect()` on it.
    Connect,
    /// A `connect()` that started a connection has returned: decided late because the peer's
    /// address could not be read before the call. The socket is connecting now, as it should be.
    Connected,
    /// The program is about to call `listen()` on it (the library does not hook `listen()`).
    Listen,
    /// `accept()` or `accept4()` just returned it. `Facts::held` is about its listener.
    Accept,
    /// An existing socket found in a running process (`keepalive --attach`).
    Attach,
    /// In force mode, the program's `setsockopt(level, name)` on it has just succeeded.
    Setsockopt { level: c_int, name: c_int },
}

impl Moment {
    pub fn name(self) -> &'static str {
        match self {
            Moment::Socket => "socket()",
            Moment::Connect | Moment::Connected => "connect()",
            Moment::Listen => "listen()",
            Moment::Accept => "accept()",
            Moment::Attach => "attach",
            Moment::Setsockopt { .. } => "setsockopt()",
        }
    }
}

/// One fact about a socket: not gathered yet, gathered but unavailable (the kernel refused), or
/// known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fact<T> {
    #[default]
    Unknown,
    Unavailable,
    Known(T),
}

impl<T> Fact<T> {
    /// `Known` from `Some`, `Unavailable` from `None`.
    pub fn from_read(value: Option<T>) -> Fact<T> {
        value.map_or(Fact::Unavailable, Fact::Known)
    }
}

/// Which side made a connection, as `--attach` learns it: a listener and what it accepted serve,
/// the rest are the program's own connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// What is known about a socket. Everything starts `Unknown`; the caller fills in what it has
/// for free, asks `decide`, and gathers what a `Decision::Need` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    pub moment: Moment,
    /// TCP or MPTCP (see `linux::is_tcp`).
    pub tcp: Fact<bool>,
    pub state: Fact<TcpState>,
    pub keepalive: Fact<bool>,
    /// The socket's timers now. Needed only for configured timers, so the caller may read those alone.
    pub timers: Fact<Timers>,
    /// A fresh TCP socket's timers (the system's defaults), in the socket's network namespace.
    pub fresh: Fact<Timers>,
    /// The peer; `Unavailable` when it is not an IPv4 or IPv6 address, or cannot be read.
    pub peer: Fact<Peer>,
    /// At `Attach` with `--side`: which side the connection is.
    pub role: Fact<Role>,
    /// Force mode holds the socket (at `Accept`: its listener) since it configured it.
    pub held: Fact<bool>,
}

impl Facts {
    pub const fn at(moment: Moment) -> Facts {
        Facts {
            moment,
            tcp: Fact::Unknown,
            state: Fact::Unknown,
            keepalive: Fact::Unknown,
            timers: Fact::Unknown,
            fresh: Fact::Unknown,
            peer: Fact::Unknown,
            role: Fact::Unknown,
            held: Fact::Unknown,
        }
    }
}

/// A fact the decision cannot be made without.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// `SO_DOMAIN`, `SO_TYPE`, `SO_PROTOCOL` (or the `socket()` call's arguments).
    Tcp,
    /// `TCP_INFO`'s state.
    State,
    /// `SO_KEEPALIVE`.
    Keepalive,
    /// The configured timers' current values.
    Timers,
    /// The system's defaults, from a fresh socket.
    Fresh,
    /// `getpeername`, or the address given to `connect()`.
    Peer,
    Role,
    /// Whether force mode holds the socket (or the listener).
    Held,
}

/// Why a socket is left as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `KEEPALIVE=off`.
    Disabled,
    NotTcp,
    /// `SO_KEEPALIVE` could not be read: not a socket (any more), or a closed descriptor.
    Unreadable,
    /// Keepalive is on already, from `socket()`, the listener, or the program: its choice is kept.
    KeepaliveOn,
    /// Before `connect()`: connected or connecting already, and keepalive off: the program turned it off.
    ConnectedAlready,
    /// With side or peer rules, `socket()` leaves it for `connect()` or `accept()`, where the peer is known.
    WaitingForPeer,
    SideServer,
    SideClient,
    /// Peer rules decide on each accepted connection, not on the listener.
    ListenerWithPeerRules,
    PeerNotSelected,
    PeerNotIp,
    /// Force mode holds it (at `Accept`: its listener) since it configured it: nothing to redo.
    Held,
    /// At `Attach`: closing, or closed after a connection; nothing to protect.
    Closing,
    /// At `Attach` with side or peer rules: not connected yet, so no peer or side to judge by.
    NotConnected,
    /// At `Attach` with `--side`: which side made it is not known.
    SideUnknown,
    /// At `Setsockopt`: force mode does not hold this socket.
    NotHeld,
    /// At `Setsockopt`: an option the settings do not configure.
    NotOurs,
    /// At `Setsockopt`: not in force mode, the program's change stands.
    NotForcing,
}

impl Reason {
    pub fn text(self) -> &'static str {
        match self {
            Reason::Disabled => "KEEPALIVE=off",
            Reason::NotTcp => "not TCP",
            Reason::Unreadable => "SO_KEEPALIVE unreadable",
            Reason::KeepaliveOn => "keepalive already on, left as it is",
            Reason::ConnectedAlready => "connected or connecting already, keepalive turned off by the program",
            Reason::WaitingForPeer => "waiting for connect() or accept(), where the peer is known",
            Reason::SideServer => "KEEPALIVE_SIDE=server",
            Reason::SideClient => "KEEPALIVE_SIDE=client",
            Reason::ListenerWithPeerRules => "a listener: KEEPALIVE_ONLY/KEEPALIVE_SKIP decide per accepted connection",
            Reason::PeerNotSelected => "peer not selected by KEEPALIVE_ONLY/KEEPALIVE_SKIP",
            Reason::PeerNotIp => "not an IPv4 or IPv6 peer",
            Reason::Held => "held by KEEPALIVE_FORCE since the library configured it",
            Reason::Closing => "closing",
            Reason::NotConnected => "not connected yet, no peer to judge by",
            Reason::SideUnknown => "which side opened it is unknown",
            Reason::NotHeld => "not held by KEEPALIVE_FORCE",
            Reason::NotOurs => "not an option KEEPALIVE_FORCE keeps",
            Reason::NotForcing => "KEEPALIVE_FORCE is off",
        }
    }
}

/// What to do with the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Gather this fact into the `Facts`, then ask again.
    Need(Need),
    /// Set every option (`Options::of(settings)`), in order. In force mode the socket is held from now on.
    SetAll,
    /// Set the options except the timers kept: those differ from a fresh socket's, so someone
    /// (the program, or whoever made the listener) chose them. Never empty: no kept timer is `SetAll`.
    SetUnchosen(Kept),
    /// Force mode: set this one option back to the operator's value.
    PutBack(SocketOption),
    /// Change nothing. In force mode the socket is no longer held, except for `Reason::Held`.
    LeaveAlone(Reason),
}

/// Decides what to do with the socket the `facts` describe, under `settings`. Pure: gathering
/// the facts and carrying the decision out are the caller's. Facts are asked for in the order
/// of their cost to the library's hooks, and only when they can change the answer; a caller
/// that has every fact already (`--attach`) gets the final answer at once.
pub fn decide(settings: &Settings, facts: &Facts) -> Decision {
    use Decision::LeaveAlone;
    if !settings.enabled {
        return LeaveAlone(Reason::Disabled);
    }
    let moment = facts.moment;
    if let Moment::Setsockopt { level, name } = moment {
        return put_back(settings, level, name, facts.held);
    }
    // Known for free at socket(); at attach, before the state, which only TCP sockets have.
    if matches!(moment, Moment::Socket | Moment::Attach) {
        match facts.tcp {
            Fact::Unknown => return Decision::Need(Need::Tcp),
            Fact::Known(false) | Fact::Unavailable => return LeaveAlone(Reason::NotTcp),
            Fact::Known(true) => {}
        }
    }
    if moment == Moment::Socket {
        return if settings.selective() { LeaveAlone(Reason::WaitingForPeer) } else { Decision::SetAll };
    }
    let moment = match (moment, facts.state) {
        (Moment::Attach, Fact::Unknown) => return Decision::Need(Need::State),
        (Moment::Attach, Fact::Known(TcpState::LISTEN)) => Moment::Listen,
        (Moment::Attach, Fact::Known(TcpState::CLOSE)) if settings.selective() => {
            return LeaveAlone(Reason::NotConnected);
        }
        (Moment::Attach, Fact::Known(state)) if !state.is_connection() && state != TcpState::CLOSE => {
            return LeaveAlone(Reason::Closing);
        }
        _ => moment,
    };
    if let Some(reason) = wrong_side(settings, moment, facts.role) {
        return reason;
    }
    if moment == Moment::Listen && peer_rules(settings) {
        return LeaveAlone(Reason::ListenerWithPeerRules);
    }
    let forced = settings.force;
    // As the library holds them: a socket configured at socket(), a listener whose accepted
    // sockets have its options. With side or peer rules nothing was configured at socket().
    if forced && !settings.selective() && matches!(moment, Moment::Connect | Moment::Accept) {
        match facts.held {
            Fact::Unknown => return Decision::Need(Need::Held),
            Fact::Known(true) => return LeaveAlone(Reason::Held),
            _ => {}
        }
    }
    if !forced {
        match facts.keepalive {
            Fact::Unknown => return Decision::Need(Need::Keepalive),
            Fact::Unavailable => return LeaveAlone(Reason::Unreadable),
            Fact::Known(true) => return LeaveAlone(Reason::KeepaliveOn),
            Fact::Known(false) => {}
        }
    }
    match facts.tcp {
        Fact::Unknown => return Decision::Need(Need::Tcp),
        Fact::Known(false) | Fact::Unavailable => return LeaveAlone(Reason::NotTcp),
        Fact::Known(true) => {}
    }
    // A connect() on a socket already connecting is the program's; force mode sets the options anyway.
    if moment == Moment::Connect && !forced {
        match facts.state {
            Fact::Unknown => return Decision::Need(Need::State),
            Fact::Known(state) if state != TcpState::CLOSE => return LeaveAlone(Reason::ConnectedAlready),
            // MPTCP before Linux 5.16 has no state to read: it counts as not connected.
            _ => {}
        }
    }
    if peer_rules(settings) && moment != Moment::Listen {
        match facts.peer {
            Fact::Unknown => return Decision::Need(Need::Peer),
            Fact::Unavailable => return LeaveAlone(Reason::PeerNotIp),
            Fact::Known(peer) if !settings.selects(&peer) => return LeaveAlone(Reason::PeerNotSelected),
            Fact::Known(_) => {}
        }
    }
    if forced { Decision::SetAll } else { unchosen(settings, facts) }
}

fn peer_rules(settings: &Settings) -> bool {
    settings.only.configured || settings.skip.configured
}

/// `--side` against the moment, or against the role at `Attach`.
fn wrong_side(settings: &Settings, moment: Moment, role: Fact<Role>) -> Option<Decision> {
    let role = match moment {
        Moment::Connect | Moment::Connected => Role::Client,
        Moment::Listen | Moment::Accept => Role::Server,
        _ if settings.side == Side::Both => return None,
        _ => match role {
            Fact::Unknown => return Some(Decision::Need(Need::Role)),
            Fact::Unavailable => return Some(Decision::LeaveAlone(Reason::SideUnknown)),
            Fact::Known(role) => role,
        },
    };
    match (settings.side, role) {
        (Side::Server, Role::Client) => Some(Decision::LeaveAlone(Reason::SideServer)),
        (Side::Client, Role::Server) => Some(Decision::LeaveAlone(Reason::SideClient)),
        _ => None,
    }
}

/// Keepalive is off: it goes on, with each configured timer that still has a fresh socket's
/// value. One that differs was chosen, and is kept. Without the defaults, every option is set.
fn unchosen(settings: &Settings, facts: &Facts) -> Decision {
    if Timer::ALL.iter().all(|timer| configured(settings, *timer).is_none()) {
        return Decision::SetAll;
    }
    let fresh = match facts.fresh {
        Fact::Unknown => return Decision::Need(Need::Fresh),
        Fact::Unavailable => return Decision::SetAll,
        Fact::Known(fresh) => fresh,
    };
    let current = match facts.timers {
        Fact::Unknown => return Decision::Need(Need::Timers),
        Fact::Unavailable => Timers::default(),
        Fact::Known(current) => current,
    };
    let mut kept = Kept::NONE;
    for timer in Timer::ALL.into_iter().filter(|timer| configured(settings, *timer).is_some()) {
        // A timer that cannot be read is set.
        if matches!((current.get(timer), fresh.get(timer)), (Some(now), Some(default)) if now != default) {
            kept = kept.with(timer);
        }
    }
    if kept.is_empty() { Decision::SetAll } else { Decision::SetUnchosen(kept) }
}

/// Force mode, after the program changed an option: the operator's value goes back on a socket
/// force mode holds.
fn put_back(settings: &Settings, level: c_int, name: c_int, held: Fact<bool>) -> Decision {
    if !settings.force {
        return Decision::LeaveAlone(Reason::NotForcing);
    }
    let Some(option) = Options::find(settings, level, name) else {
        return Decision::LeaveAlone(Reason::NotOurs);
    };
    match held {
        Fact::Unknown => Decision::Need(Need::Held),
        Fact::Known(true) => Decision::PutBack(option),
        _ => Decision::LeaveAlone(Reason::NotHeld),
    }
}
