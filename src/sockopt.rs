//! Applying the settings to a socket: which options, in what order, at which moment, and how a
//! socket that reached `connect()` or `accept()` is checked first.

use core::ffi::c_int;
use core::sync::atomic::{AtomicU64, Ordering};
use keepalive_config::{Peer, Settings, Side};
use libc::{IPPROTO_TCP, SOL_SOCKET, sockaddr, socklen_t};

use crate::log::Line;
use crate::policy;
use crate::sys;

#[derive(Clone, Copy)]
struct SocketOption {
    level: c_int,
    name: c_int,
    value: c_int,
}

/// The settings turned into the `setsockopt` calls they need, computed once at load.
#[derive(Clone, Copy)]
pub struct Plan {
    pub enabled: bool,
    pub debug: bool,
    pub force: bool,
    /// Options go on at `socket()`; otherwise side or peer decide, at `connect()` or `accept()`.
    at_socket: bool,
    /// `KEEPALIVE_ONLY` or `KEEPALIVE_SKIP` is set: the peer decides.
    peer_rules: bool,
    pub settings: Settings,
    length: usize,
    options: [SocketOption; 5],
}

impl Plan {
    pub const OFF: Plan = Plan {
        enabled: false,
        debug: false,
        force: false,
        at_socket: true,
        peer_rules: false,
        settings: Settings::DEFAULT,
        length: 0,
        options: [SocketOption { level: 0, name: 0, value: 0 }; 5],
    };

    /// Derives everything else from `settings`: one option for each configured timer, then
    /// `SO_KEEPALIVE`, so that the keepalive timer starts with its final values.
    pub fn prepare(&mut self) {
        let settings = &self.settings;
        (self.enabled, self.debug, self.force) = (settings.enabled, settings.debug, settings.force);
        self.at_socket = !settings.selective();
        self.peer_rules = settings.only.configured || settings.skip.configured;
        let timers = [
            (libc::TCP_KEEPIDLE, settings.idle),
            (libc::TCP_KEEPINTVL, settings.interval),
            (libc::TCP_KEEPCNT, settings.count),
            (libc::TCP_USER_TIMEOUT, settings.user_timeout_ms),
        ];
        let wanted = timers.into_iter().filter_map(|(name, value)| Some((IPPROTO_TCP, name, value?)));
        self.length = 0;
        const { assert!(SOL_SOCKET != 0 && IPPROTO_TCP != 0, "level 0 marks an unused option") };
        self.options = Plan::OFF.options;
        for (level, name, value) in wanted.chain([(SOL_SOCKET, libc::SO_KEEPALIVE, 1)]) {
            if let Some(slot) = self.options.get_mut(self.length) {
                *slot = SocketOption { level, name, value: value as c_int };
                self.length += 1;
            }
        }
    }

    #[inline(always)]
    fn options(&self) -> &[SocketOption] {
        self.options.get(..self.length).unwrap_or_default()
    }
}

/// The moment a socket is looked at, named in debug lines.
#[derive(Clone, Copy)]
pub enum Moment {
    Socket,
    Connect,
    Accept,
    Accept4,
    Setsockopt,
}

impl Moment {
    pub fn name(self) -> &'static str {
        match self {
            Moment::Socket => "socket()",
            Moment::Connect => "connect()",
            Moment::Accept => "accept()",
            Moment::Accept4 => "accept4()",
            Moment::Setsockopt => "setsockopt()",
        }
    }
}

/// Sets every option of the plan. A failure changes nothing for the program; with
/// `KEEPALIVE_DEBUG` on, a line shows it.
#[inline(always)]
pub fn configure(fd: c_int, plan: &Plan, moment: Moment) {
    if plan.force {
        held::hold(fd);
    }
    if plan.debug {
        return configure_and_describe(fd, plan, moment);
    }
    // Unused slots have level 0, which no option of ours has: no length to bound-check.
    for option in plan.options.iter().take_while(|option| option.level != 0) {
        let _ = sys::setsockopt(fd, option.level, option.name, option.value);
    }
}

/// A TCP socket `socket()` just made.
#[inline(always)]
pub fn at_socket(fd: c_int, plan: &Plan) {
    if plan.at_socket {
        configure(fd, plan, Moment::Socket);
    } else {
        wait_for_peer(fd, plan);
    }
}

/// With side or peer rules, options wait for `connect()` or `accept()`, which will need the
/// timers this fresh socket has.
#[cold]
#[inline(never)]
fn wait_for_peer(fd: c_int, plan: &Plan) {
    fresh::learn(fd);
    left_alone(fd, plan, Moment::Socket, "waiting for connect() or accept(), where the peer is known");
}

/// No descriptor: a socket configured at `connect()` or `accept()` has no options of ours yet.
const NOT_HELD: c_int = -1;

/// Before a `connect()`: a TCP socket without keepalive gets it now, so that its options govern
/// the handshake too (`TCP_USER_TIMEOUT` bounds the SYN retries). Returns whether the decision
/// must wait until the kernel has read the address, because it cannot be read safely here.
#[inline(always)]
pub fn before_connect(fd: c_int, address: *const sockaddr, length: socklen_t, plan: &Plan) -> bool {
    if plan.at_socket {
        configure_if_needed(fd, plan, Moment::Connect, fd);
        return false;
    }
    if plan.settings.side == Side::Server {
        left_alone(fd, plan, Moment::Connect, "KEEPALIVE_SIDE=server");
        return false;
    }
    if !plan.peer_rules {
        configure_if_needed(fd, plan, Moment::Connect, NOT_HELD);
        return false;
    }
    select_before_connect(fd, address, length, plan)
}

/// With peer rules, the peer decides; its address is copied through the kernel, which reports
/// an invalid pointer instead of crashing on it.
#[cold]
#[inline(never)]
fn select_before_connect(fd: c_int, address: *const sockaddr, length: socklen_t, plan: &Plan) -> bool {
    if !needs_options(fd, plan, Moment::Connect, NOT_HELD, true) {
        return false;
    }
    let mut copy = zeroed_address();
    let Some(bytes) = as_bytes(&mut copy).get_mut(..length as usize) else {
        // Longer than any address: the kernel refuses it (EINVAL).
        return false;
    };
    match sys::read_own_memory(address.cast(), bytes) {
        Ok(()) => {
            configure_if_selected(fd, peer_of(&copy, length), plan, Moment::Connect);
            false
        }
        // The kernel refuses the address too.
        Err(libc::EFAULT) => false,
        // A sandbox that forbids process_vm_readv: decide once the kernel has read the address.
        Err(_) => true,
    }
}

/// After a `connect()` that started a connection, when `before_connect` could not read the
/// address: the kernel has read it, so it is readable.
#[cold]
#[inline(never)]
pub fn after_connect(fd: c_int, address: *const sockaddr, length: socklen_t, plan: &Plan) {
    if needs_options(fd, plan, Moment::Connect, NOT_HELD, false) {
        // SAFETY: the kernel read `length` bytes at `address` without a fault.
        let peer = unsafe { peer_at(address, length) };
        configure_if_selected(fd, peer, plan, Moment::Connect);
    }
}

/// A socket `accept()` or `accept4()` just returned from `listener`.
#[inline(always)]
pub fn at_accept(listener: c_int, fd: c_int, plan: &Plan, moment: Moment) {
    if plan.at_socket {
        return configure_if_needed(fd, plan, moment, listener);
    }
    if plan.settings.side == Side::Client {
        return left_alone(fd, plan, moment, "KEEPALIVE_SIDE=client");
    }
    if !plan.peer_rules {
        return configure_if_needed(fd, plan, moment, NOT_HELD);
    }
    if needs_options(fd, plan, moment, NOT_HELD, false) {
        let peer = sys::getpeername(fd).ok().and_then(|(address, length)| peer_of(&address, length));
        configure_if_selected(fd, peer, plan, moment);
    }
}

fn configure_if_selected(fd: c_int, peer: Option<Peer>, plan: &Plan, moment: Moment) {
    match peer {
        Some(peer) if plan.settings.selects(&peer) => apply(fd, plan, moment),
        Some(_) => left_alone(fd, plan, moment, "peer not selected by KEEPALIVE_ONLY/KEEPALIVE_SKIP"),
        None => left_alone(fd, plan, moment, "not an IPv4 or IPv6 peer"),
    }
}

#[inline(always)]
fn configure_if_needed(fd: c_int, plan: &Plan, moment: Moment, holder: c_int) {
    let before_connect = matches!(moment, Moment::Connect);
    if needs_options(fd, plan, moment, holder, before_connect) {
        apply(fd, plan, moment);
    }
}

/// Whether a socket that reached `connect()` or `accept()` needs the options: a TCP socket
/// without keepalive, made by a raw system call, inherited, handed over by systemd or inetd,
/// or whose keepalive the program turned off before connecting. A socket with keepalive
/// already on (from `socket()`, its listener, or the program itself) is left as it is, at the
/// cost of one `getsockopt`; so is one already connected or connecting when `connect()` is
/// called again (`before_connect`), whose keepalive the program turned off afterwards. With
/// `KEEPALIVE_FORCE`, every TCP socket needs them, unless `holder` (the socket itself, or the
/// listener it came from) is one the library configured and has held since.
#[inline(always)]
fn needs_options(fd: c_int, plan: &Plan, moment: Moment, holder: c_int, before_connect: bool) -> bool {
    if plan.force {
        return forced_needs_options(fd, plan, moment, holder);
    }
    match sys::getsockopt(fd, SOL_SOCKET, libc::SO_KEEPALIVE) {
        Ok(0) => tcp_not_connected(fd, plan, moment, before_connect),
        Ok(_) => {
            if plan.debug {
                describe_left_alone(fd, moment);
            }
            false
        }
        Err(_) => false,
    }
}

#[cold]
#[inline(never)]
fn forced_needs_options(fd: c_int, plan: &Plan, moment: Moment, holder: c_int) -> bool {
    if held::holds(holder) {
        if holder != fd {
            // Accepted from a held listener: it has the listener's options, ours.
            held::hold(fd);
        }
        if plan.debug {
            describe_why(fd, moment, "held by KEEPALIVE_FORCE since the library configured it");
        }
        return false;
    }
    tcp_not_connected(fd, plan, moment, false)
}

/// Whether `fd` is TCP and, before a `connect()`, not yet connected or connecting.
#[cold]
#[inline(never)]
fn tcp_not_connected(fd: c_int, plan: &Plan, moment: Moment, before_connect: bool) -> bool {
    let Some(protocol) =
        sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL).ok().filter(|p| policy::is_tcp_protocol(*p))
    else {
        left_alone(fd, plan, moment, "");
        return false;
    };
    let state = if before_connect { sys::tcp_state(fd).ok() } else { None };
    // A raw socket has TCP's protocol number too. Its type is asked of the kernel only when
    // nothing else tells it: only a TCP socket answers TCP_INFO, and accept() makes stream sockets.
    let stream = state.is_some() || matches!(moment, Moment::Accept | Moment::Accept4);
    let kind = if stream { libc::SOCK_STREAM } else { sys::getsockopt(fd, SOL_SOCKET, libc::SO_TYPE).unwrap_or(0) };
    if !policy::is_tcp_socket(kind, protocol) {
        left_alone(fd, plan, moment, "");
        return false;
    }
    // A socket whose state cannot be read (MPTCP before Linux 5.16) counts as not connected.
    if state.is_some_and(|state| state != TCP_CLOSE) {
        left_alone(fd, plan, moment, "connected or connecting already, keepalive turned off by the program");
        return false;
    }
    true
}

/// Whether `fd` is a TCP socket, asked of the kernel: the type only when the protocol is TCP's.
fn is_tcp(fd: c_int) -> bool {
    let protocol = sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(0);
    policy::is_tcp_protocol(protocol)
        && sys::getsockopt(fd, SOL_SOCKET, libc::SO_TYPE).is_ok_and(|kind| policy::is_tcp_socket(kind, protocol))
}

/// The state of a TCP socket before `connect()` and after it failed (linux/tcp_states.h).
const TCP_CLOSE: u8 = 7;

/// Sets the options on a socket that needs them: all of them in force mode, otherwise those
/// nobody chose yet.
fn apply(fd: c_int, plan: &Plan, moment: Moment) {
    if plan.force {
        configure(fd, plan, moment);
    } else {
        configure_unset(fd, plan, moment);
    }
}

/// Turns keepalive on, and sets each configured timer that still has the value a fresh socket
/// gets: a timer that differs was chosen by someone (the program, or whoever made the
/// listener), and is kept.
#[cold]
#[inline(never)]
fn configure_unset(fd: c_int, plan: &Plan, moment: Moment) {
    // Per option: its current value, if it differs from a fresh socket's (None: set it).
    let mut kept = [None; 5];
    if let Some(fresh) = fresh::defaults() {
        for (option, kept) in plan.options().iter().zip(&mut kept) {
            if let Some(default) = fresh::of(&fresh, option.name) {
                *kept = sys::getsockopt(fd, option.level, option.name).ok().filter(|value| *value != default);
            }
        }
    }
    if kept.iter().all(Option::is_none) {
        return configure(fd, plan, moment);
    }
    for (option, _) in plan.options().iter().zip(kept).filter(|(_, kept)| kept.is_none()) {
        let _ = sys::setsockopt(fd, option.level, option.name, option.value);
    }
    if plan.debug {
        Line::debug(|line| {
            describe(line, fd, moment);
            line.text("keepalive on");
            for (option, kept) in plan.options().iter().zip(kept).filter(|(option, _)| option.level == IPPROTO_TCP) {
                let (label, unit) = label(option.name);
                // A kept value equal to ours was set at socket(): only keepalive had been turned off.
                if kept.is_some_and(|value| value != option.value) {
                    line.text(", ").text(label).text(" kept as the program set it");
                } else {
                    line.timer(label, Some(option.value as u32), unit, "");
                }
            }
        });
    }
}

/// What a fresh TCP socket's timers are (the system's defaults). With side or peer rules they
/// are read from the first socket `socket()` makes, which has them still; otherwise they are
/// asked of the kernel by the probe (see `probe`), the first time a socket reaches `connect()` or
/// `accept()` without keepalive. Two threads asking at once store the same values.
mod fresh {
    use super::*;
    use crate::probe::Fresh;
    use core::sync::atomic::{AtomicBool, AtomicI64};

    const TIMERS: [c_int; 4] = [libc::TCP_KEEPIDLE, libc::TCP_KEEPINTVL, libc::TCP_KEEPCNT, libc::TCP_USER_TIMEOUT];
    // No c_int: `stored` fails until every value has been read.
    const UNKNOWN: i64 = i64::MIN;
    static DEFAULTS: [AtomicI64; 4] = [const { AtomicI64::new(UNKNOWN) }; 4];

    /// The probe cannot run in this process: it is not tried again at every socket.
    static NO_PROBE: AtomicBool = AtomicBool::new(false);

    pub fn defaults() -> Option<[c_int; 4]> {
        stored().or_else(|| {
            if NO_PROBE.load(Ordering::Relaxed) {
                return None;
            }
            match crate::probe::fresh_tcp_options(TIMERS) {
                Fresh::Options(values) => {
                    for (value, stored) in values.iter().zip(&DEFAULTS) {
                        stored.store(i64::from(*value), Ordering::Relaxed);
                    }
                    Some(values)
                }
                Fresh::NotNow => None,
                Fresh::Never => {
                    NO_PROBE.store(true, Ordering::Relaxed);
                    None
                }
            }
        })
    }

    /// Reads the defaults from `fd`, a socket `socket()` just made, unless they are known: four
    /// `getsockopt` calls once per process instead of the probe, which costs a child process and
    /// could meet a seccomp filter the program installed later.
    pub fn learn(fd: c_int) {
        if DEFAULTS[TIMERS.len() - 1].load(Ordering::Relaxed) == UNKNOWN {
            read_from(fd);
        }
    }

    fn read_from(fd: c_int) -> Option<[c_int; 4]> {
        for (timer, stored) in TIMERS.iter().zip(&DEFAULTS) {
            stored.store(i64::from(sys::getsockopt(fd, IPPROTO_TCP, *timer).ok()?), Ordering::Relaxed);
        }
        stored()
    }

    fn stored() -> Option<[c_int; 4]> {
        let mut values = [0; 4];
        for (value, stored) in values.iter_mut().zip(&DEFAULTS) {
            *value = c_int::try_from(stored.load(Ordering::Relaxed)).ok()?;
        }
        Some(values)
    }

    /// The default of one timer, by option name.
    pub fn of(defaults: &[c_int; 4], name: c_int) -> Option<c_int> {
        TIMERS.iter().zip(defaults).find(|(timer, _)| **timer == name).map(|(_, value)| *value)
    }
}

/// A socket the library does not configure: forgotten by force mode, and shown in debug lines.
#[inline(always)]
pub fn left_alone(fd: c_int, plan: &Plan, moment: Moment, why: &'static str) {
    if plan.force {
        held::release(fd);
    }
    if plan.debug && !why.is_empty() {
        describe_why(fd, moment, why);
    }
}

/// After a `setsockopt` that succeeded in force mode: if it set an option the operator
/// configured, on a socket the library configured and holds, the operator's value goes back.
#[inline(always)]
pub fn enforce(fd: c_int, level: c_int, name: c_int, plan: &Plan) {
    let Some(option) = plan.options().iter().find(|option| option.level == level && option.name == name) else {
        return;
    };
    if held::holds(fd) {
        if plan.debug {
            return enforce_and_describe(fd, option);
        }
        let _ = sys::setsockopt(fd, option.level, option.name, option.value);
    }
}

/// With debug lines, the value the program set is read first: the line says whether it was
/// changed back, or was the operator's already (then there is nothing to change back).
#[cold]
#[inline(never)]
fn enforce_and_describe(fd: c_int, option: &SocketOption) {
    if sys::getsockopt(fd, option.level, option.name) == Ok(option.value) {
        return describe_kept(fd, option, None);
    }
    describe_kept(fd, option, Some(sys::setsockopt(fd, option.level, option.name, option.value)));
}

const SIN6_LEN_RFC2133: usize = 24;

/// The peer in an address of `length` bytes, if it is IPv4 or IPv6 and long enough.
fn peer_of(address: &libc::sockaddr_storage, length: socklen_t) -> Option<Peer> {
    let length = length as usize;
    let start = (address as *const libc::sockaddr_storage).cast::<u8>();
    match c_int::from(address.ss_family) {
        libc::AF_INET if length >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: a sockaddr_storage holds any address, and all its bytes are initialised.
            let four = unsafe { core::ptr::read_unaligned(start.cast::<libc::sockaddr_in>()) };
            Some(Peer::v4(four.sin_addr.s_addr.to_ne_bytes(), u16::from_be(four.sin_port)))
        }
        // The kernel also takes the older IPv6 address without its scope id (RFC 2133), left zero here.
        libc::AF_INET6 if length >= SIN6_LEN_RFC2133 => {
            // SAFETY: as above.
            let six = unsafe { core::ptr::read_unaligned(start.cast::<libc::sockaddr_in6>()) };
            Some(Peer::v6(six.sin6_addr.s6_addr, u16::from_be(six.sin6_port)))
        }
        _ => None,
    }
}

/// The peer in the caller's address.
///
/// # Safety
/// `length` bytes at `address` are readable.
unsafe fn peer_at(address: *const sockaddr, length: socklen_t) -> Option<Peer> {
    let mut copy = zeroed_address();
    let bytes = as_bytes(&mut copy);
    let length = length.min(bytes.len() as socklen_t);
    if address.is_null() {
        return None;
    }
    // SAFETY: `length` bytes are readable at `address` (the caller) and writable in `bytes`.
    unsafe { core::ptr::copy_nonoverlapping(address.cast::<u8>(), bytes.as_mut_ptr(), length as usize) };
    peer_of(&copy, length)
}

fn zeroed_address() -> libc::sockaddr_storage {
    // SAFETY: plain data, for which all zeros is a valid value.
    unsafe { core::mem::zeroed() }
}

fn as_bytes(address: &mut libc::sockaddr_storage) -> &mut [u8] {
    // SAFETY: the bytes of plain data, borrowed as long as it is.
    unsafe { core::slice::from_raw_parts_mut((address as *mut libc::sockaddr_storage).cast(), size_of_val(address)) }
}

/// The sockets the library configured in force mode, by descriptor number, each with the
/// kernel's cookie for it: `close()` is not hooked, and a later socket can get the same number
/// without passing through here (`recvmsg()`, `dup2()`, a raw system call), so the number alone
/// would vouch for a socket the library never configured. No allocation, no lock; descriptors
/// past the table are not held.
pub mod held {
    use super::*;
    use core::sync::atomic::AtomicPtr;

    const TRACKED: usize = 65536;
    // 0: not held. Held on a kernel without SO_COOKIE (before 4.12): by number alone.
    const NO_COOKIE: u64 = u64::MAX;
    // TRACKED cookies, mapped only in force mode: other processes carry none of its 512 KiB.
    static COOKIES: AtomicPtr<AtomicU64> = AtomicPtr::new(core::ptr::null_mut());

    /// Maps the table once, when the settings are published with force mode on. Without it (the
    /// mapping failed, or a hook ran while another thread was still reading the settings),
    /// nothing is held: force mode then sets the options again at each connect() and accept(),
    /// and undoes nothing.
    pub fn prepare() {
        if COOKIES.load(Ordering::Acquire).is_null() {
            if let Ok(table) = sys::map_zeroed(TRACKED * size_of::<AtomicU64>()) {
                COOKIES.store(table.cast(), Ordering::Release);
            }
        }
    }

    #[inline(always)]
    fn slot(fd: c_int) -> Option<&'static AtomicU64> {
        let table = COOKIES.load(Ordering::Acquire);
        // A negative descriptor becomes a huge index: one comparison rules out both.
        let index = fd as u32 as usize;
        if table.is_null() || index >= TRACKED {
            return None;
        }
        // SAFETY: the table holds TRACKED zeroed AtomicU64 (zero is a valid one), never unmapped.
        Some(unsafe { &*table.add(index) })
    }

    #[cold]
    #[inline(never)]
    pub fn hold(fd: c_int) {
        if let Some(slot) = slot(fd) {
            slot.store(sys::cookie(fd).unwrap_or(NO_COOKIE), Ordering::Relaxed);
        }
    }

    /// Forgets `fd`, at a cost of one load when it was not held.
    #[inline(always)]
    pub fn release(fd: c_int) {
        if let Some(slot) = slot(fd).filter(|slot| slot.load(Ordering::Relaxed) != 0) {
            slot.store(0, Ordering::Relaxed);
        }
    }

    /// Whether `fd` is still the socket the library configured and holds.
    #[inline(never)]
    pub fn holds(fd: c_int) -> bool {
        let Some(slot) = slot(fd) else { return false };
        let same = match slot.load(Ordering::Relaxed) {
            0 => return false,
            NO_COOKIE => is_tcp(fd),
            cookie => sys::cookie(fd) == Ok(cookie),
        };
        if !same {
            slot.store(0, Ordering::Relaxed);
        }
        same
    }
}

#[cold]
#[inline(never)]
fn configure_and_describe(fd: c_int, plan: &Plan, moment: Moment) {
    let mut errors = [0; 5];
    for (option, error) in plan.options().iter().zip(&mut errors) {
        *error = sys::setsockopt(fd, option.level, option.name, option.value).err().unwrap_or(0);
    }
    Line::debug(|line| {
        describe(line, fd, moment);
        // SO_KEEPALIVE is the plan's last option.
        let keepalive_error = errors.get(plan.length.wrapping_sub(1)).copied().unwrap_or(0);
        line.text(if keepalive_error == 0 { "keepalive on" } else { "keepalive not set" });
        for option in plan.options().iter().filter(|option| option.level == IPPROTO_TCP) {
            let (label, unit) = label(option.name);
            line.timer(label, Some(option.value as u32), unit, "");
        }
        for (option, &code) in plan.options().iter().zip(&errors).filter(|(_, code)| **code != 0) {
            line.text("; ").text(option_name(option.name, option.level)).text(" failed: ").errno(code);
        }
    });
}

#[cold]
#[inline(never)]
fn describe_left_alone(fd: c_int, moment: Moment) {
    if is_tcp(fd) {
        Line::debug(|line| {
            describe(line, fd, moment);
            line.text("keepalive already on, left as it is");
        });
    }
}

/// A socket `socket()` made that is not TCP: its descriptor number may have been one of ours
/// before, which force mode must forget; shown in debug lines.
#[cold]
#[inline(never)]
pub fn not_tcp(fd: c_int, plan: &Plan) {
    if plan.force {
        held::release(fd);
    }
    if plan.debug {
        Line::debug(|line| {
            line.text("fd ").number(fd as u64).text(" socket(): not TCP, untouched");
        });
    }
}

#[cold]
#[inline(never)]
fn describe_why(fd: c_int, moment: Moment, why: &'static str) {
    Line::debug(|line| {
        describe(line, fd, moment);
        line.text("untouched, ").text(why);
    });
}

#[cold]
#[inline(never)]
/// `restored`: the result of putting the operator's value back, `None` when the program set
/// that very value.
fn describe_kept(fd: c_int, option: &SocketOption, restored: Option<sys::Result<()>>) {
    Line::debug(|line| {
        describe(line, fd, Moment::Setsockopt);
        line.text(option_name(option.name, option.level));
        match restored {
            None => line.text(" set to the value KEEPALIVE_FORCE keeps, "),
            Some(Ok(())) => line.text(" changed back, KEEPALIVE_FORCE keeps "),
            Some(Err(code)) => line.text(" could not be changed back (").errno(code).text("), KEEPALIVE_FORCE wanted "),
        };
        if option.level == IPPROTO_TCP {
            let (label, unit) = label(option.name);
            line.text(label).text(" ").number(option.value as u64).text(unit);
        } else {
            line.text("keepalive on");
        }
    });
}

/// `fd 5 tcp6 connect(): `, with the family and protocol asked of the kernel: debug lines are
/// rare, and the hooks stay lean by not carrying them around.
fn describe(line: &mut Line, fd: c_int, moment: Moment) {
    let domain = sys::getsockopt(fd, SOL_SOCKET, libc::SO_DOMAIN).unwrap_or(libc::AF_INET);
    let protocol = sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(IPPROTO_TCP);
    line.text("fd ").number(fd as u64).text(" ").text(policy::label(domain, protocol));
    line.text(" ").text(moment.name()).text(": ");
}

fn label(name: c_int) -> (&'static str, &'static str) {
    match name {
        libc::TCP_KEEPIDLE => ("idle", "s"),
        libc::TCP_KEEPINTVL => ("intvl", "s"),
        libc::TCP_KEEPCNT => ("cnt", ""),
        _ => ("user timeout", "ms"),
    }
}

fn option_name(name: c_int, level: c_int) -> &'static str {
    match (level, name) {
        (SOL_SOCKET, _) => "SO_KEEPALIVE",
        (_, libc::TCP_KEEPIDLE) => "TCP_KEEPIDLE",
        (_, libc::TCP_KEEPINTVL) => "TCP_KEEPINTVL",
        (_, libc::TCP_KEEPCNT) => "TCP_KEEPCNT",
        _ => "TCP_USER_TIMEOUT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(settings: &Settings) -> Plan {
        let mut plan = Plan::OFF;
        plan.settings = *settings;
        plan.prepare();
        plan
    }

    #[test]
    fn nothing_configured_sets_only_so_keepalive() {
        let plan = plan(&Settings::DEFAULT);
        let options: Vec<_> = plan.options().iter().map(|o| (o.level, o.name, o.value)).collect();
        assert_eq!(options, [(SOL_SOCKET, libc::SO_KEEPALIVE, 1)]);
        assert!(plan.enabled && !plan.debug);
    }

    #[test]
    fn timers_first_then_so_keepalive() {
        let settings = Settings { idle: Some(20), count: Some(3), user_timeout_ms: Some(0), ..Settings::DEFAULT };
        let options: Vec<_> = plan(&settings).options().iter().map(|o| (o.name, o.value)).collect();
        assert_eq!(
            options,
            [(libc::TCP_KEEPIDLE, 20), (libc::TCP_KEEPCNT, 3), (libc::TCP_USER_TIMEOUT, 0), (libc::SO_KEEPALIVE, 1)]
        );
    }

    #[test]
    fn the_largest_user_timeout_fits_a_c_int() {
        let settings = Settings { user_timeout_ms: Some(i32::MAX as u32), ..Settings::DEFAULT };
        assert_eq!(plan(&settings).options()[0].value, i32::MAX);
    }
}
