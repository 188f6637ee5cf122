//! What the supervisor does to a socket the program is about to connect, listen on or accept
//! from: the library's decision, made on a duplicate of the program's descriptor.
//!
//! This is the one place the supervisor decides; it holds until the shared policy crate lands.

use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};

use keepalive_config::{Peer, Settings, Side};

/// The call the program made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    Connect,
    /// A `sendto` or `sendmsg` with `MSG_FASTOPEN`, which connects like `connect()`.
    FastOpen,
    Listen,
    /// `accept()` or `accept4()`: the listener, whose options the accepted socket inherits.
    Accept,
}

impl Moment {
    pub fn name(self) -> &'static str {
        match self {
            Moment::Connect => "connect()",
            Moment::FastOpen => "sendto(MSG_FASTOPEN)",
            Moment::Listen => "listen()",
            Moment::Accept => "accept()",
        }
    }

    fn client(self) -> bool {
        matches!(self, Moment::Connect | Moment::FastOpen)
    }
}

/// The settings as `setsockopt` calls, timers first, and what a fresh socket has.
pub struct Plan {
    pub settings: Settings,
    options: Vec<(i32, i32, i32)>,
    /// A fresh TCP socket's timers, in the order of `TIMERS`: a socket whose timer differs was
    /// configured by the program, which wins.
    fresh: Option<[i32; 4]>,
}

const TIMERS: [i32; 4] = [libc::TCP_KEEPIDLE, libc::TCP_KEEPINTVL, libc::TCP_KEEPCNT, libc::TCP_USER_TIMEOUT];

impl Plan {
    pub fn new(settings: Settings) -> Plan {
        let values = [settings.idle, settings.interval, settings.count, settings.user_timeout_ms];
        let mut options: Vec<(i32, i32, i32)> = TIMERS
            .iter()
            .zip(values)
            .filter_map(|(&name, value)| Some((libc::IPPROTO_TCP, name, value? as i32)))
            .collect();
        options.push((libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1));
        Plan { settings, options, fresh: fresh_timers() }
    }
}

/// What was done, for `--verbose`.
pub struct Outcome {
    pub text: String,
}

/// Applies the library's decision to `socket`, the program's descriptor duplicated, before the
/// call proceeds. `peer` is the address `connect()` was given, when peer rules need it.
pub fn configure_trapped(socket: &OwnedFd, moment: Moment, peer: Option<Peer>, plan: &Plan) -> Outcome {
    let fd = socket.as_raw_fd();
    let left = |why: &str| Outcome { text: format!("untouched, {why}") };
    if !plan.settings.enabled {
        return left("KEEPALIVE=off");
    }
    let protocol = getsockopt::<i32>(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL);
    if !protocol.is_some_and(|p| p == libc::IPPROTO_TCP || p == libc::IPPROTO_MPTCP) {
        return Outcome { text: "not TCP, untouched".to_owned() };
    }
    let side = plan.settings.side;
    if moment.client() && side == Side::Server {
        return left("KEEPALIVE_SIDE=server");
    }
    if !moment.client() && side == Side::Client {
        return left("KEEPALIVE_SIDE=client");
    }
    let peer_rules = plan.settings.only.configured || plan.settings.skip.configured;
    if peer_rules {
        if !moment.client() {
            // The peer of an accepted connection is known only after accept() returns, which
            // seccomp does not report.
            return left("peer rules apply to connections the program makes");
        }
        match peer {
            Some(peer) if plan.settings.selects(&peer) => {}
            Some(_) => return left("peer not selected by KEEPALIVE_ONLY/KEEPALIVE_SKIP"),
            None => return left("not an IPv4 or IPv6 peer"),
        }
    }
    if plan.settings.force {
        if moment.client() && connected(fd) {
            return left("connected or connecting already");
        }
        if has_ours(fd, plan) {
            return left("has the options KEEPALIVE_FORCE keeps");
        }
        return set(fd, &plan.options);
    }
    if getsockopt::<i32>(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).is_some_and(|on| on != 0) {
        return left("keepalive already on, left as it is");
    }
    if moment.client() && connected(fd) {
        return left("connected or connecting already, keepalive turned off by the program");
    }
    let unset: Vec<(i32, i32, i32)> = plan
        .options
        .iter()
        .copied()
        .filter(|&(level, name, _)| !chosen_by_program(fd, level, name, plan.fresh))
        .collect();
    let mut outcome = set(fd, &unset);
    for &(_, name, _) in plan.options.iter().filter(|option| !unset.contains(option)) {
        let _ = write!(outcome.text, ", {} kept as the program set it", label(name));
    }
    outcome
}

/// After the program's own `setsockopt` of a keepalive option in force mode: ours go back on a
/// TCP socket that is connected, connecting or listening, as it had them from `connect()`,
/// `listen()` or its listener. One not connected yet keeps the program's value until then. With
/// `--side`, an established socket's side cannot be told, and it is left as the program set it.
/// Returns what was done, if anything.
pub fn enforce(socket: &OwnedFd, level: i32, name: i32, plan: &Plan) -> Option<String> {
    let fd = socket.as_raw_fd();
    let ours = plan.options.iter().find(|&&(l, n, _)| l == level && n == name)?;
    if !plan.settings.enabled || plan.settings.side != Side::Both || !connected(fd) {
        return None;
    }
    let protocol = getsockopt::<i32>(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL)?;
    if protocol != libc::IPPROTO_TCP && protocol != libc::IPPROTO_MPTCP {
        return None;
    }
    if (plan.settings.only.configured || plan.settings.skip.configured)
        && !peer_of_socket(fd).is_some_and(|peer| plan.settings.selects(&peer))
    {
        return None;
    }
    let restored = setsockopt(fd, ours.0, ours.1, ours.2);
    Some(match restored {
        Ok(()) => format!("{} changed back, KEEPALIVE_FORCE keeps {}", label(name), ours.2),
        Err(error) => format!("{} could not be changed back ({error})", label(name)),
    })
}

/// Whether every option of the plan has our value already.
fn has_ours(fd: i32, plan: &Plan) -> bool {
    plan.options.iter().all(|&(level, name, value)| getsockopt::<i32>(fd, level, name) == Some(value))
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

fn chosen_by_program(fd: i32, level: i32, name: i32, fresh: Option<[i32; 4]>) -> bool {
    let Some(fresh) = fresh else {
        return false;
    };
    let Some(index) = TIMERS.iter().position(|&timer| timer == name && level == libc::IPPROTO_TCP) else {
        return false;
    };
    getsockopt::<i32>(fd, level, name).is_some_and(|value| value != fresh[index])
}

fn set(fd: i32, options: &[(i32, i32, i32)]) -> Outcome {
    let mut text = String::new();
    let mut failed = String::new();
    for &(level, name, value) in options {
        match setsockopt(fd, level, name, value) {
            Ok(()) if name == libc::SO_KEEPALIVE => text.insert_str(0, "keepalive on"),
            Ok(()) => {
                let unit = if name == libc::TCP_USER_TIMEOUT {
                    "ms"
                } else if name == libc::TCP_KEEPCNT {
                    ""
                } else {
                    "s"
                };
                let _ = write!(text, ", {} {value}{unit}", label(name));
            }
            Err(error) => {
                let _ = write!(failed, "; {} failed: {error}", label(name));
            }
        }
    }
    Outcome { text: text + &failed }
}

fn label(name: i32) -> &'static str {
    match name {
        libc::TCP_KEEPIDLE => "idle",
        libc::TCP_KEEPINTVL => "intvl",
        libc::TCP_KEEPCNT => "cnt",
        libc::TCP_USER_TIMEOUT => "user-timeout",
        _ => "keepalive",
    }
}

/// Whether a TCP socket is past `CLOSE`: connected, connecting, or listening.
fn connected(fd: i32) -> bool {
    const TCP_CLOSE: u8 = 7;
    getsockopt::<u8>(fd, libc::IPPROTO_TCP, libc::TCP_INFO).is_some_and(|state| state != TCP_CLOSE)
}

fn fresh_timers() -> Option<[i32; 4]> {
    // SAFETY: socket takes three integers and returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    let values = TIMERS.map(|name| getsockopt::<i32>(fd, libc::IPPROTO_TCP, name));
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    let mut fresh = [0; 4];
    for (slot, value) in fresh.iter_mut().zip(values) {
        *slot = value?;
    }
    Some(fresh)
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
