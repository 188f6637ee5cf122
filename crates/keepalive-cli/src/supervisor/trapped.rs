//! What the supervisor does to a socket the program is about to connect, listen on or accept
//! from. The decision is the shared one (`keepalive_policy::decide`); this file gathers the facts
//! it asks for from a duplicate of the program's descriptor, and carries the decision out.

use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};

use keepalive_config::{Peer, Settings};
use keepalive_policy::{Decision, Fact, Facts, Moment, Need, Options, Reason, SocketOption, TcpState, Timer, Timers};

/// The call the program made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Connect,
    /// A `sendto` or `sendmsg` with `MSG_FASTOPEN`, which connects like `connect()`.
    FastOpen,
    Listen,
    /// `accept()` or `accept4()`: the socket is the listener, whose options the accepted socket
    /// inherits; it is decided as at `listen()`, for a listener the program was handed.
    Accept,
}

impl Call {
    pub fn name(self) -> &'static str {
        match self {
            Call::Connect => "connect()",
            Call::FastOpen => "sendto(MSG_FASTOPEN)",
            Call::Listen => "listen()",
            Call::Accept => "accept()",
        }
    }

    fn moment(self) -> Moment {
        match self {
            Call::Connect | Call::FastOpen => Moment::Connect,
            Call::Listen | Call::Accept => Moment::Listen,
        }
    }
}

/// The settings, their options, and a fresh socket's timers (the system's defaults), read once
/// from a socket the supervisor makes in its network namespace, the program's at its start.
pub struct Plan {
    pub settings: Settings,
    options: Options,
    fresh: Fact<Timers>,
}

impl Plan {
    pub fn new(settings: Settings) -> Plan {
        Plan { options: Options::of(&settings), fresh: Fact::from_read(fresh_timers()), settings }
    }
}

/// Decides on `socket`, the program's descriptor duplicated, before the call proceeds, and
/// carries the decision out. `peer` is the address the call was given, when peer rules need it.
/// Returns the line `--verbose` shows.
pub fn configure_trapped(socket: &OwnedFd, call: Call, peer: Option<Peer>, plan: &Plan) -> String {
    let fd = socket.as_raw_fd();
    if plan.settings.force && call == Call::Accept && has_ours(fd, &plan.options) {
        // Every accept() on a listener configured at listen(): nothing to redo.
        return format!("untouched, {}", Reason::Held.text().replace("library", "supervisor"));
    }
    let decision = decide(Facts::at(call.moment()), &plan.settings, |facts, need| match need {
        Need::Peer => facts.peer = Fact::from_read(peer),
        // Force mode holds what it configured: here, a socket that has our options already.
        Need::Held => facts.held = Fact::Known(has_ours(fd, &plan.options)),
        Need::Fresh => facts.fresh = plan.fresh,
        _ => gather(fd, facts, need, &plan.settings),
    });
    carry_out(fd, decision, &plan.options)
}

/// After the program's own `setsockopt` of a keepalive option in force mode, carried out by the
/// supervisor: ours goes back on a socket the supervisor would configure as it is now (force
/// mode holds every such socket: it configured it at `connect()`, `listen()`, or its listener
/// did). `None` when nothing was put back and nothing needs saying.
pub fn enforce(socket: &OwnedFd, level: i32, name: i32, plan: &Plan) -> Option<String> {
    let fd = socket.as_raw_fd();
    let held = || {
        let now = decide(Facts::at(Moment::Attach), &plan.settings, |facts, need| match need {
            // Which side opened an established socket cannot be told from outside.
            Need::Role => facts.role = Fact::Unavailable,
            Need::Fresh => facts.fresh = plan.fresh,
            _ => gather(fd, facts, need, &plan.settings),
        });
        matches!(now, Decision::SetAll | Decision::SetUnchosen(_))
    };
    let mut facts = Facts::at(Moment::Setsockopt { level, name });
    loop {
        match keepalive_policy::decide(&plan.settings, &facts) {
            Decision::Need(Need::Held) => facts.held = Fact::Known(held()),
            Decision::PutBack(option) => return Some(put_back(fd, option)),
            _ => return None,
        }
    }
}

/// Asks `decide` until it answers, filling each fact it needs with `fill`.
fn decide(mut facts: Facts, settings: &Settings, mut fill: impl FnMut(&mut Facts, Need)) -> Decision {
    loop {
        match keepalive_policy::decide(settings, &facts) {
            Decision::Need(need) => fill(&mut facts, need),
            decision => return decision,
        }
    }
}

/// A fact read from the socket itself.
fn gather(fd: i32, facts: &mut Facts, need: Need, settings: &Settings) {
    match need {
        Need::Tcp => {
            let read = |name| getsockopt::<i32>(fd, libc::SOL_SOCKET, name);
            let kind = (read(libc::SO_DOMAIN), read(libc::SO_TYPE), read(libc::SO_PROTOCOL));
            facts.tcp = match kind {
                (Some(domain), Some(kind), Some(protocol)) => {
                    Fact::Known(keepalive_policy::linux::is_tcp(domain, kind, protocol))
                }
                _ => Fact::Unavailable,
            };
        }
        Need::State => {
            facts.state = Fact::from_read(getsockopt::<u8>(fd, libc::IPPROTO_TCP, libc::TCP_INFO).map(TcpState));
        }
        Need::Keepalive => {
            facts.keepalive =
                Fact::from_read(getsockopt::<i32>(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).map(|on| on != 0));
        }
        Need::Timers => {
            let mut timers = Timers::default();
            for timer in Timer::ALL.into_iter().filter(|&timer| keepalive_policy::configured(settings, timer).is_some())
            {
                timers.set(timer, getsockopt(fd, libc::IPPROTO_TCP, timer.option_name()));
            }
            facts.timers = Fact::Known(timers);
        }
        Need::Peer => facts.peer = Fact::from_read(peer_of_socket(fd)),
        Need::Role => facts.role = Fact::Unavailable,
        Need::Fresh => facts.fresh = Fact::from_read(fresh_timers()),
        Need::Held => facts.held = Fact::Known(false),
    }
}

fn carry_out(fd: i32, decision: Decision, options: &Options) -> String {
    match decision {
        Decision::SetAll => set(fd, options.as_slice().iter().copied(), &[]),
        Decision::SetUnchosen(kept) => {
            let timers: Vec<Timer> = Timer::ALL.into_iter().filter(|&timer| kept.contains(timer)).collect();
            set(fd, options.except(kept), &timers)
        }
        Decision::PutBack(option) => put_back(fd, option),
        Decision::LeaveAlone(reason) => format!("untouched, {}", reason.text().replace("library", "supervisor")),
        Decision::Need(_) => "untouched".to_owned(),
    }
}

/// Sets `options` in order; the line says what was set, what failed, and which timers were kept.
fn set(fd: i32, options: impl Iterator<Item = SocketOption>, kept: &[Timer]) -> String {
    let mut text = "keepalive on".to_owned();
    let mut failed = String::new();
    for option in options {
        match (setsockopt(fd, option.level, option.name, option.value), option.timer()) {
            (Ok(()), Some(timer)) => {
                let (label, unit) = timer.label();
                let _ = write!(text, ", {label} {}{unit}", option.value);
            }
            (Ok(()), None) => {}
            (Err(error), _) => {
                let _ = write!(failed, "; {} failed: {error}", option.name());
            }
        }
    }
    for timer in kept {
        let _ = write!(text, ", {} kept as the program set it", timer.label().0);
    }
    text + &failed
}

fn put_back(fd: i32, option: SocketOption) -> String {
    let shown = match option.timer() {
        Some(timer) => format!("{} {}{}", timer.label().0, option.value, timer.label().1),
        None => "keepalive on".to_owned(),
    };
    match setsockopt(fd, option.level, option.name, option.value) {
        Ok(()) => format!("{} changed back, KEEPALIVE_FORCE keeps {shown}", option.name()),
        Err(error) => format!("{} could not be changed back ({error}), KEEPALIVE_FORCE wanted {shown}", option.name()),
    }
}

/// Whether every option of ours has our value already.
fn has_ours(fd: i32, options: &Options) -> bool {
    options.as_slice().iter().all(|option| getsockopt::<i32>(fd, option.level, option.name) == Some(option.value))
}

/// The connected peer of `fd`.
fn peer_of_socket(fd: i32) -> Option<Peer> {
    let mut storage = [0u8; size_of::<libc::sockaddr_storage>()];
    let mut length = storage.len() as libc::socklen_t;
    // SAFETY: storage and length describe a writable buffer.
    if unsafe { libc::getpeername(fd, storage.as_mut_ptr().cast(), &mut length) } != 0 {
        return None;
    }
    super::serve::peer_of(storage.get(..length as usize)?)
}

fn fresh_timers() -> Option<Timers> {
    // SAFETY: socket takes three integers and returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    let mut timers = Timers::default();
    for timer in Timer::ALL {
        timers.set(timer, getsockopt(fd, libc::IPPROTO_TCP, timer.option_name()));
    }
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    Some(timers)
}

/// An option of type `T` (of which the kernel may fill fewer bytes, as `TCP_INFO`), `None` on failure.
pub fn getsockopt<T: Copy + Default>(fd: i32, level: i32, name: i32) -> Option<T> {
    let mut value = T::default();
    let mut length = size_of::<T>() as libc::socklen_t;
    // SAFETY: value and length describe a writable buffer of exactly size_of::<T>() bytes.
    let result = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut length) };
    (result == 0).then_some(value)
}

pub fn setsockopt(fd: i32, level: i32, name: i32, value: i32) -> std::io::Result<()> {
    // SAFETY: value is an int of the size given.
    let result = unsafe { libc::setsockopt(fd, level, name, (&raw const value).cast(), size_of::<i32>() as u32) };
    if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}
