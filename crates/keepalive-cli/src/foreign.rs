//! Configuring another process's socket from outside it: `pidfd_getfd` (Linux 5.6) duplicates
//! the descriptor into this process, the facts are read from the duplicate, `keepalive-policy`
//! decides, and `setsockopt` on the duplicate changes the socket both descriptors share. The
//! process is not stopped; it sees nothing but its socket's options changing.
//!
//! Used by `--attach` for every socket a process holds, and meant for the supervisor, which
//! has the descriptor a trapped `connect()`, `listen()` or `accept()` names: open a `Target`
//! once per process, then `configure` (or `configure_with`, to add what the trap knows, such
//! as the peer of a `connect()` not yet made).
//!
//! A fresh socket's timers, which tell a timer the program chose from the system's default,
//! depend on the network namespace (`net.ipv4.tcp_keepalive_*` are per namespace). They are
//! read from a probe socket made in this process, in the socket's namespace: when it differs
//! from ours, from a short-lived thread that joins it (`setns`, needs CAP_SYS_ADMIN). The
//! namespace is asked of the socket (`SIOCGSKNS`, needs CAP_NET_ADMIN), else of /proc for the
//! process, found through its pidfd. Where that fails the defaults are unknown, and the options
//! are all set, as the library does when it cannot learn them.

use std::cell::Cell;
use std::fs;
use std::io;
use std::mem::{MaybeUninit, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use keepalive_config::{Peer, Settings};
use keepalive_policy::{Decision, Fact, Facts, Moment, Need, Options, SocketOption, TcpState, Timer, Timers, linux};

/// `PIDFD_THREAD` (linux/pidfd.h, Linux 6.9): a pidfd of any thread, not only of a leader.
pub const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// A process whose descriptors this one may duplicate.
pub struct Target {
    /// The process's ID, or the thread's that `open_thread` reached it through.
    pid: u32,
    pidfd: OwnedFd,
    /// The fresh defaults last learnt, with the network namespace they are of.
    fresh: Cell<Option<(NamespaceIdentity, Fact<Timers>)>>,
}

/// A namespace as `fstat` names it: device and inode.
type NamespaceIdentity = (u64, u64);

/// Why a process cannot be configured.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// It has exited (or never existed): no error for a pass over processes.
    Gone,
    /// This process lacks the rights; the text says which.
    Denied(String),
    Unsupported(String),
    /// Its ID is still taken but its descriptors are out of reach; the text says why.
    Unreachable(String),
}

impl Target {
    /// Opens `pid` (a process, not one of its other threads) and checks that its descriptors can
    /// be duplicated.
    pub fn open(pid: u32) -> Result<Target, OpenError> {
        // 0 is no process's ID: pidfd_open would refuse it as an invalid argument.
        let raw = libc::pid_t::try_from(pid).ok().filter(|&raw| raw > 0).ok_or(OpenError::Gone)?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let pidfd = owned(unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) }).map_err(|error| {
            match error.raw_os_error() {
                Some(libc::ESRCH) => OpenError::Gone,
                Some(libc::ENOSYS) => OpenError::Unsupported("pidfd_open needs Linux 5.3".to_owned()),
                // EINVAL: a thread that is not its process's leader.
                _ => OpenError::Unsupported(format!("pidfd_open: {error}")),
            }
        })?;
        Target { pid, pidfd, fresh: Cell::new(None) }.reachable(|| OpenError::Unreachable(why_unreachable(pid)))
    }

    /// Opens the process of thread `tid` through that thread (`PIDFD_THREAD`, Linux 6.9), which
    /// shares the process's descriptors: they stay within its reach after the process's main
    /// thread has exited, which `open` goes through. `pid()` is then the thread's ID.
    pub fn open_thread(tid: u32) -> Result<Target, OpenError> {
        let raw = libc::pid_t::try_from(tid).ok().filter(|&raw| raw > 0).ok_or(OpenError::Gone)?;
        // SAFETY: pidfd_open takes a thread ID and flags and returns a new descriptor or -1.
        let pidfd = owned(unsafe { libc::syscall(libc::SYS_pidfd_open, raw, PIDFD_THREAD) }).map_err(|error| {
            match error.raw_os_error() {
                Some(libc::ESRCH) => OpenError::Gone,
                // EINVAL: a kernel that does not know the flag.
                Some(libc::EINVAL) => OpenError::Unsupported("pidfd_open of a thread needs Linux 6.9".to_owned()),
                _ => OpenError::Unsupported(format!("pidfd_open: {error}")),
            }
        })?;
        Target { pid: tid, pidfd, fresh: Cell::new(None) }.reachable(|| OpenError::Gone)
    }

    /// This target, if its descriptors can be duplicated; `exited` is the error when the kernel
    /// answers that the process or thread has exited.
    fn reachable(self, exited: impl FnOnce() -> OpenError) -> Result<Target, OpenError> {
        // Descriptor -1 never exists: EBADF when allowed, EPERM when not, before any socket is read.
        match self.duplicate(-1) {
            Err(error) if error.raw_os_error() == Some(libc::EPERM) => Err(OpenError::Denied(self.missing_rights())),
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) => Err(exited()),
            Err(error) if error.raw_os_error() == Some(libc::ENOSYS) => {
                Err(OpenError::Unsupported("pidfd_getfd needs Linux 5.6".to_owned()))
            }
            _ => Ok(self),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What this process lacks to duplicate the target's descriptors, as one line.
    pub fn missing_rights(&self) -> String {
        missing_rights(self.pid, self.pidfd())
    }

    pub fn pidfd(&self) -> BorrowedFd<'_> {
        // SAFETY: `self.pidfd` is open as long as `self`.
        unsafe { BorrowedFd::borrow_raw(self.pidfd.as_raw_fd()) }
    }

    /// A duplicate of the process's descriptor `fd`: `EBADF` once it is closed, `ESRCH` once the
    /// process has exited.
    pub fn duplicate(&self, fd: i32) -> io::Result<OwnedFd> {
        // SAFETY: pidfd_getfd takes a pidfd, a descriptor number and flags, and returns a new
        // descriptor (close-on-exec) or -1.
        owned(unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.pidfd.as_raw_fd(), fd, 0) })
    }

    /// Decides on the process's descriptor `fd` at `moment` and carries the decision out.
    #[allow(dead_code, reason = "the supervisor's entry (issue 15); --attach reads sockets first")]
    pub fn configure(&self, fd: i32, moment: Moment, settings: &Settings) -> io::Result<Outcome> {
        self.configure_with(fd, Facts::at(moment), settings)
    }

    /// As `configure`, with facts the caller knows already (the address given to a trapped
    /// `connect()`, the role of a connection); the others are read from the socket.
    #[allow(dead_code, reason = "the supervisor's entry (issue 15)")]
    pub fn configure_with(&self, fd: i32, known: Facts, settings: &Settings) -> io::Result<Outcome> {
        let socket = Socket::read(self.duplicate(fd)?);
        Ok(self.configure_socket(fd, &socket, known, settings))
    }

    /// Decides on a socket already read, and carries the decision out.
    pub fn configure_socket(&self, fd: i32, socket: &Socket, known: Facts, settings: &Settings) -> Outcome {
        let mut facts = known;
        let decision = loop {
            match keepalive_policy::decide(settings, &facts) {
                Decision::Need(need) => self.gather(socket, &mut facts, need),
                decision => break decision,
            }
        };
        let wanted = options_to_set(decision, settings);
        let failed =
            wanted.iter().filter_map(|option| setsockopt(socket.fd(), *option).err().map(|error| (*option, error)));
        let failed = failed.collect();
        let after = socket.before.read_again(socket.fd(), &wanted);
        Outcome { fd, socket: socket.summary(), decision, before: socket.before, after, failed }
    }

    fn gather(&self, socket: &Socket, facts: &mut Facts, need: Need) {
        match need {
            Need::Tcp => facts.tcp = Fact::Known(socket.is_tcp()),
            // Never left Unknown, so that the loop in `configure_socket` ends.
            Need::State => facts.state = known_or_unavailable(socket.state),
            Need::Keepalive => facts.keepalive = Fact::from_read(socket.before.keepalive),
            Need::Timers => facts.timers = Fact::Known(socket.before.timers),
            Need::Fresh => facts.fresh = self.fresh_defaults(socket),
            Need::Peer => facts.peer = Fact::from_read(socket.peer.map(peer_of)),
            // Set by callers that can tell; the others leave the socket alone with side rules.
            Need::Role => facts.role = Fact::Unavailable,
            // Nothing outside the library holds sockets.
            Need::Held => facts.held = Fact::Known(false),
        }
    }
}

fn known_or_unavailable<T>(fact: Fact<T>) -> Fact<T> {
    match fact {
        Fact::Unknown => Fact::Unavailable,
        fact => fact,
    }
}

/// One socket as read from a duplicate: what it is, where, and its options before anything is changed.
pub struct Socket {
    descriptor: OwnedFd,
    pub domain: Option<i32>,
    pub kind: Option<i32>,
    pub protocol: Option<i32>,
    pub state: Fact<TcpState>,
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
    pub before: Snapshot,
}

impl Socket {
    /// Reads every fact of a TCP socket (nine system calls); of any other, its kind and
    /// `SO_KEEPALIVE`, which the decision at `connect()` and `listen()` asks for first, as the
    /// library reads it there.
    pub fn read(descriptor: OwnedFd) -> Socket {
        let fd = descriptor.as_raw_fd();
        let option = |name| getsockopt(fd, libc::SOL_SOCKET, name);
        let mut socket = Socket {
            domain: option(libc::SO_DOMAIN),
            kind: option(libc::SO_TYPE),
            protocol: option(libc::SO_PROTOCOL),
            state: Fact::Unknown,
            local: None,
            peer: None,
            before: Snapshot::default(),
            descriptor,
        };
        if socket.is_tcp() {
            socket.state = Fact::from_read(tcp_state(fd));
            socket.local = address(fd);
            socket.peer = socket.domain.and_then(|domain| peer_address(fd, domain));
            socket.before = Snapshot::read(fd);
        } else {
            socket.before.keepalive = option(libc::SO_KEEPALIVE).map(|on| on != 0);
        }
        socket
    }

    pub fn fd(&self) -> i32 {
        self.descriptor.as_raw_fd()
    }

    pub fn is_tcp(&self) -> bool {
        matches!((self.domain, self.kind, self.protocol), (Some(d), Some(k), Some(p)) if linux::is_tcp(d, k, p))
    }

    fn summary(&self) -> SocketSummary {
        let label = match (self.domain, self.protocol) {
            (Some(domain), Some(protocol)) if self.is_tcp() => linux::label(domain, protocol),
            _ => "other",
        };
        SocketSummary { label, state: self.state, local: self.local, peer: self.peer }
    }
}

/// What a report line says of the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketSummary {
    /// `tcp`, `tcp6`, `mptcp`, `mptcp6`, or `other` for anything that is not TCP.
    pub label: &'static str,
    pub state: Fact<TcpState>,
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
}

/// A socket's keepalive and timers as the kernel reports them; `None` where it refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub keepalive: Option<bool>,
    pub timers: Timers,
}

impl Snapshot {
    pub fn read(fd: i32) -> Snapshot {
        let mut timers = Timers::default();
        for timer in Timer::ALL {
            timers.set(timer, getsockopt(fd, libc::IPPROTO_TCP, timer.option_name()));
        }
        let keepalive = getsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).map(|on| on != 0);
        Snapshot { keepalive, timers }
    }

    /// This snapshot with the `options` just set read back from the kernel; the others cannot
    /// have changed but by the program, in the meantime.
    fn read_again(&self, fd: i32, options: &[SocketOption]) -> Snapshot {
        let mut after = *self;
        for option in options {
            let value = getsockopt(fd, option.level, option.name);
            match option.timer() {
                Some(timer) => after.timers.set(timer, value),
                None => after.keepalive = value.map(|on| on != 0),
            }
        }
        after
    }
}

/// What was done to one socket, for the report.
#[derive(Debug)]
pub struct Outcome {
    /// The descriptor's number in its process.
    pub fd: i32,
    pub socket: SocketSummary,
    pub decision: Decision,
    pub before: Snapshot,
    /// Read back from the kernel after the options were set; `before` when nothing was set.
    pub after: Snapshot,
    /// The options the kernel refused, with its error.
    pub failed: Vec<(SocketOption, io::Error)>,
}

impl Outcome {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// The `setsockopt` calls `decision` asks for, in order.
fn options_to_set(decision: Decision, settings: &Settings) -> Vec<SocketOption> {
    let options = Options::of(settings);
    match decision {
        Decision::SetAll => options.as_slice().to_vec(),
        Decision::SetUnchosen(kept) => options.except(kept).collect(),
        Decision::PutBack(option) => vec![option],
        Decision::LeaveAlone(_) | Decision::Need(_) => Vec::new(),
    }
}

impl Target {
    /// A fresh TCP socket's timers in `socket`'s network namespace, learnt once per namespace.
    fn fresh_defaults(&self, socket: &Socket) -> Fact<Timers> {
        let Some(namespace) = network_namespace(socket.fd()).or_else(|| self.network_namespace()) else {
            return Fact::Unavailable;
        };
        let Ok(identity) = namespace.metadata().map(|meta| (meta.dev(), meta.ino())) else {
            return Fact::Unavailable;
        };
        if let Some((_, fresh)) = self.fresh.get().filter(|(learnt, _)| *learnt == identity) {
            return fresh;
        }
        let fresh = fresh_defaults_in(&namespace, identity);
        self.fresh.set(Some((identity, fresh)));
        fresh
    }

    /// The network namespace of the process, open, as /proc shows it.
    fn network_namespace(&self) -> Option<fs::File> {
        crate::procfs::read(self.pidfd(), |directory| fs::File::open(directory.join("ns/net")).ok())
    }
}

/// The network namespace the socket at `fd` was made in, open; `None` without CAP_NET_ADMIN there.
fn network_namespace(fd: i32) -> Option<fs::File> {
    // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor or -1.
    let namespace = owned(libc::c_long::from(unsafe { libc::ioctl(fd, libc::SIOCGSKNS as libc::Ioctl) })).ok()?;
    Some(fs::File::from(namespace))
}

/// A fresh TCP socket's timers in `namespace`, whose identity is `identity`.
fn fresh_defaults_in(namespace: &fs::File, identity: NamespaceIdentity) -> Fact<Timers> {
    // Only the short-lived probe threads ever leave this process's namespace.
    static OURS: std::sync::OnceLock<Option<NamespaceIdentity>> = std::sync::OnceLock::new();
    let ours = OURS.get_or_init(|| fs::metadata("/proc/self/ns/net").map(|meta| (meta.dev(), meta.ino())).ok());
    let probe = || Fact::from_read(probe_timers());
    if *ours == Some(identity) {
        return probe();
    }
    let namespace = namespace.as_fd();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: setns moves only this thread, which ends right after.
                let joined = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) } == 0;
                if joined { probe() } else { Fact::Unavailable }
            })
            .join()
            .unwrap_or(Fact::Unavailable)
    })
}

/// The timers of a TCP socket made for the purpose, in this thread's network namespace.
fn probe_timers() -> Option<Timers> {
    let make = |domain| {
        // SAFETY: socket takes three integers and returns a new descriptor or -1.
        owned(libc::c_long::from(unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })).ok()
    };
    let probe = make(libc::AF_INET).or_else(|| make(libc::AF_INET6))?;
    let timers = Snapshot::read(probe.as_raw_fd()).timers;
    timers.0.iter().all(Option::is_some).then_some(timers)
}

/// The state byte that starts `struct tcp_info`.
fn tcp_state(fd: i32) -> Option<TcpState> {
    let mut info = [0u8; 8];
    let mut length = info.len() as libc::socklen_t;
    // SAFETY: info and length describe a writable buffer; the kernel copies at most `length` bytes.
    let result =
        unsafe { libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, info.as_mut_ptr().cast(), &mut length) };
    (result == 0 && length >= 1).then(|| TcpState(info[0]))
}

/// The socket's own address (`getsockname`), if IPv4 or IPv6.
fn address(fd: i32) -> Option<SocketAddr> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut length = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage and length describe a writable buffer large enough for any address.
    if unsafe { libc::getsockname(fd, storage.as_mut_ptr().cast(), &mut length) } != 0 {
        return None;
    }
    // SAFETY: zeroed, then written by the kernel: every byte is initialised.
    socket_address(&unsafe { storage.assume_init() }, length)
}

/// The peer's address, if IPv4 or IPv6, read with `SO_PEERNAME` rather than `getpeername`: the
/// kernel refuses the latter while the connection is still being made (syn-sent), and a
/// connecting socket must be judged by its peer as the library judges it at `connect()`.
/// `SO_PEERNAME` wants the length of the domain's address exactly.
fn peer_address(fd: i32, domain: i32) -> Option<SocketAddr> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut length = match domain {
        libc::AF_INET => size_of::<libc::sockaddr_in>(),
        libc::AF_INET6 => size_of::<libc::sockaddr_in6>(),
        _ => return None,
    } as libc::socklen_t;
    // SAFETY: storage is writable and larger than `length` bytes.
    let result =
        unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERNAME, storage.as_mut_ptr().cast(), &mut length) };
    if result != 0 {
        return None;
    }
    // SAFETY: zeroed, then written by the kernel: every byte is initialised.
    socket_address(&unsafe { storage.assume_init() }, length)
}

/// An IPv4 or IPv6 address of `length` bytes the kernel wrote in `storage`.
fn socket_address(storage: &libc::sockaddr_storage, length: libc::socklen_t) -> Option<SocketAddr> {
    let start = (&raw const *storage).cast::<u8>();
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET if length as usize >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: a sockaddr_storage holds any address, and is aligned for all of them.
            let four = unsafe { &*start.cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(four.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(four.sin_port)))
        }
        libc::AF_INET6 if length as usize >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above.
            let six = unsafe { &*start.cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(six.sin6_addr.s6_addr);
            Some(SocketAddr::new(IpAddr::V6(ip), u16::from_be(six.sin6_port)))
        }
        _ => None,
    }
}

/// The peer as peer rules see it: IPv4 as IPv4-mapped, so that rules match either way.
pub fn peer_of(address: SocketAddr) -> Peer {
    match address.ip() {
        IpAddr::V4(ip) => Peer::v4(ip.octets(), address.port()),
        IpAddr::V6(ip) => Peer::v6(ip.octets(), address.port()),
    }
}

/// Why `pid`, which pidfd_open found, has no descriptors pidfd_getfd can reach, as one line.
pub fn why_unreachable(pid: u32) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let threads = status.lines().find_map(|line| line.strip_prefix("Threads:"));
    match threads.and_then(|count| count.trim().parse::<u32>().ok()) {
        Some(threads) if threads > 1 => {
            "its main thread has exited while other threads run, and pidfd_getfd reaches descriptors only \
             through it: not supported"
                .to_owned()
        }
        Some(_) => "exited, but its parent has not reaped it yet (a zombie): it holds no sockets".to_owned(),
        None => "no such process".to_owned(),
    }
}

/// What this process lacks to duplicate `pid`'s descriptors (`pidfd`'s), as one line.
fn missing_rights(pid: u32, pidfd: BorrowedFd<'_>) -> String {
    let read = |directory: &std::path::Path| {
        let status = directory.join("status");
        Some((fs::read_to_string(&status).ok()?, fs::metadata(&status).ok()?.uid()))
    };
    let (status, owner) = crate::procfs::read(pidfd, read).unwrap_or_default();
    let uid = status.lines().find_map(|line| line.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().next());
    let Some(uid) = uid.and_then(|uid| uid.parse::<u32>().ok()) else {
        return "permission denied: run as root".to_owned();
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != uid {
        return format!("permission denied: run as root or as uid {uid}");
    }
    // A process that is not dumpable has its /proc files owned by root.
    if owner != uid {
        return format!(
            "permission denied: process {pid} is not dumpable (set-user-ID, or PR_SET_DUMPABLE 0): run as root"
        );
    }
    match fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").map(|scope| scope.trim().to_owned()) {
        Ok(scope) if scope != "0" => {
            format!("permission denied: Yama ptrace_scope is {scope} (/proc/sys/kernel/yama/ptrace_scope): run as root")
        }
        _ => format!("permission denied: run as root or as uid {uid}"),
    }
}

/// The descriptor a system call returned, or the error it set.
pub fn owned(result: libc::c_long) -> io::Result<OwnedFd> {
    let fd = i32::try_from(result).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An integer option, `None` when the kernel refuses it or answers with another size. Only
/// `c_int`, which any four bytes the kernel writes leave valid: a generic `T` would let a safe
/// caller ask for a type that some bytes make invalid.
pub fn getsockopt(fd: i32, level: i32, name: i32) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut length = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and length describe a writable buffer of exactly size_of::<c_int>() bytes.
    let result = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut length) };
    (result == 0 && length as usize == size_of::<libc::c_int>()).then_some(value)
}

fn setsockopt(fd: i32, option: SocketOption) -> io::Result<()> {
    let value: libc::c_int = option.value;
    let length = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value is a readable c_int of `length` bytes.
    let result = unsafe { libc::setsockopt(fd, option.level, option.name, (&raw const value).cast(), length) };
    if result == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Calls `with` with the ID of a thread of this process other than the main one, which runs
/// until `with` returns, and has ended when this returns.
#[cfg(test)]
pub fn while_a_thread_runs<T>(with: impl FnOnce(u32) -> T) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        // SAFETY: gettid cannot fail.
        sender.send(unsafe { libc::gettid() } as u32).unwrap();
        let _ = wait.recv();
    });
    let result = with(receiver.recv().unwrap());
    done.send(()).unwrap();
    thread.join().unwrap();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalive_config::rules::parse_rules;
    use keepalive_policy::{Kept, Reason};
    use std::net::{TcpListener, TcpStream, UdpSocket};

    fn idle_20() -> Settings {
        Settings { idle: Some(20), ..Settings::DEFAULT }
    }

    /// This process as the target: the same calls as for another one, which `--attach`'s tests make.
    fn ourselves() -> Target {
        Target::open(std::process::id()).expect("pidfd_open and pidfd_getfd on ourselves")
    }

    fn pair() -> (TcpListener, TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (listener, client, server)
    }

    fn kernel(fd: i32) -> (Option<i32>, Option<i32>) {
        (getsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE))
    }

    fn set_idle(fd: i32, seconds: i32) {
        setsockopt(fd, SocketOption { level: libc::IPPROTO_TCP, name: libc::TCP_KEEPIDLE, value: seconds }).unwrap();
    }

    #[test]
    fn an_idle_connection_gets_the_options() {
        let (_listener, client, _server) = pair();
        let fresh_idle = kernel(client.as_raw_fd()).1;
        let outcome = ourselves().configure(client.as_raw_fd(), Moment::Attach, &idle_20()).unwrap();
        assert_eq!(outcome.decision, Decision::SetAll);
        assert_eq!(kernel(client.as_raw_fd()), (Some(1), Some(20)), "read back from the kernel");
        assert_eq!((outcome.before.keepalive, outcome.before.timers.get(Timer::Idle)), (Some(false), fresh_idle));
        assert_eq!((outcome.after.keepalive, outcome.after.timers.get(Timer::Idle)), (Some(true), Some(20)));
        assert_eq!(outcome.socket.state, Fact::Known(TcpState::ESTABLISHED));
        assert_eq!(outcome.socket.peer, client.peer_addr().ok());
        assert!(outcome.changed() && outcome.failed.is_empty());
        let again = ourselves().configure(client.as_raw_fd(), Moment::Attach, &idle_20()).unwrap();
        assert_eq!(again.decision, Decision::LeaveAlone(Reason::KeepaliveOn));
        assert!(!again.changed());
    }

    #[test]
    fn the_programs_own_timer_is_kept_unless_forced() {
        let (_listener, client, _server) = pair();
        set_idle(client.as_raw_fd(), 45);
        let outcome = ourselves().configure(client.as_raw_fd(), Moment::Attach, &idle_20()).unwrap();
        assert_eq!(outcome.decision, Decision::SetUnchosen(Kept::NONE.with(Timer::Idle)));
        assert_eq!(kernel(client.as_raw_fd()), (Some(1), Some(45)));
        let forced = Settings { force: true, ..idle_20() };
        ourselves().configure(client.as_raw_fd(), Moment::Attach, &forced).unwrap();
        assert_eq!(kernel(client.as_raw_fd()), (Some(1), Some(20)));
    }

    #[test]
    fn a_listener_passes_the_options_to_what_it_accepts() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let outcome = ourselves().configure(listener.as_raw_fd(), Moment::Attach, &idle_20()).unwrap();
        assert_eq!((outcome.decision, outcome.socket.state), (Decision::SetAll, Fact::Known(TcpState::LISTEN)));
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert_eq!(kernel(accepted.as_raw_fd()), (Some(1), Some(20)), "inherited from the listener");
    }

    #[test]
    fn peer_rules_are_judged_on_the_peer() {
        let (_listener, client, _server) = pair();
        let only = |text: &str| Settings { only: parse_rules(text.as_bytes(), |_| panic!()), ..idle_20() };
        let outcome = ourselves().configure(client.as_raw_fd(), Moment::Attach, &only("192.168.0.0/16")).unwrap();
        assert_eq!(outcome.decision, Decision::LeaveAlone(Reason::PeerNotSelected));
        assert_eq!(kernel(client.as_raw_fd()).0, Some(0));
        ourselves().configure(client.as_raw_fd(), Moment::Attach, &only("127.0.0.0/8")).unwrap();
        assert_eq!(kernel(client.as_raw_fd()), (Some(1), Some(20)));
    }

    /// A socket whose SYN goes unanswered: a listener with a backlog of 0 holds one connection
    /// not accepted yet, and the kernel drops the SYN of the next one, which stays connecting.
    fn connecting() -> (TcpListener, TcpStream, OwnedFd) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen on a socket we own; again on a listener, it only changes the backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let queued = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let mut ready = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd. Readable once the first connection is in the accept queue, full from then on.
        assert_eq!(unsafe { libc::poll(&mut ready, 1, 5000) }, 1);
        // SAFETY: socket takes three integers and returns a new descriptor or -1.
        let socket = owned(libc::c_long::from(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)
        }))
        .unwrap();
        let SocketAddr::V4(to) = listener.local_addr().unwrap() else { unreachable!() };
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: to.port().to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(to.ip().octets()) },
            sin_zero: [0; 8],
        };
        // SAFETY: `address` is a sockaddr_in of the length given.
        let result = unsafe {
            libc::connect(
                socket.as_raw_fd(),
                (&raw const address).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!((result, io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EINPROGRESS)));
        (listener, queued, socket)
    }

    #[test]
    fn a_connecting_socket_is_judged_by_its_peer() {
        let (listener, _queued, socket) = connecting();
        let only = Settings { only: parse_rules(b"127.0.0.0/8", |_| panic!()), ..idle_20() };
        let outcome = ourselves().configure(socket.as_raw_fd(), Moment::Attach, &only).unwrap();
        assert_eq!(outcome.socket.state, Fact::Known(TcpState::SYN_SENT));
        assert_eq!(outcome.socket.peer, listener.local_addr().ok());
        assert_eq!(outcome.decision, Decision::SetAll);
        assert_eq!(kernel(socket.as_raw_fd()), (Some(1), Some(20)));
    }

    #[test]
    fn ipv6_and_ipv4_mapped_peers_are_read() {
        let only = |text: &str| Settings { only: parse_rules(text.as_bytes(), |_| panic!()), ..idle_20() };
        let listener = TcpListener::bind("[::]:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        for (to, rule) in [("[::1]", "::1"), ("[::ffff:127.0.0.1]", "127.0.0.1")] {
            let client = TcpStream::connect(format!("{to}:{port}")).unwrap();
            let outcome = ourselves().configure(client.as_raw_fd(), Moment::Attach, &only(rule)).unwrap();
            assert_eq!((outcome.socket.label, outcome.socket.peer), ("tcp6", client.peer_addr().ok()), "{to}");
            assert_eq!(outcome.decision, Decision::SetAll, "{to}");
        }
    }

    #[test]
    fn other_sockets_are_left_alone() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let outcome = ourselves().configure(udp.as_raw_fd(), Moment::Attach, &idle_20()).unwrap();
        assert_eq!((outcome.decision, outcome.socket.label), (Decision::LeaveAlone(Reason::NotTcp), "other"));
        assert_eq!(getsockopt(udp.as_raw_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE), Some(0));
    }

    #[test]
    fn closed_descriptors_and_exited_processes() {
        let error = ourselves().configure(1_000_000, Moment::Attach, &idle_20()).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EBADF));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let exited = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z ")) {
            assert!(std::time::Instant::now() < exited, "`true` still runs");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let zombie = "exited, but its parent has not reaped it yet (a zombie): it holds no sockets";
        assert_eq!(Target::open(pid).err(), Some(OpenError::Unreachable(zombie.to_owned())));
        child.wait().unwrap();
        assert_eq!(Target::open(pid).err(), Some(OpenError::Gone));
        assert_eq!(Target::open(0).err(), Some(OpenError::Gone));
    }

    #[test]
    fn a_thread_reaches_its_processs_descriptors() {
        let (_listener, client, _server) = pair();
        let (tid, target) = while_a_thread_runs(|tid| {
            let target = match Target::open_thread(tid) {
                Err(OpenError::Unsupported(why)) => return (tid, Err(why)),
                opened => opened.expect("a pidfd of a running thread of ours"),
            };
            let outcome = target.configure(client.as_raw_fd(), Moment::Attach, &idle_20()).unwrap();
            assert_eq!(outcome.decision, Decision::SetAll);
            assert_eq!(kernel(client.as_raw_fd()), (Some(1), Some(20)), "read back from the kernel");
            (tid, Ok(target))
        });
        let target = match target {
            Err(why) => return eprintln!("SKIPPED: {why}"),
            Ok(target) => target,
        };
        assert_eq!(target.pid(), tid);
        // The thread has ended: its pidfd reaches nothing any more.
        let error = target.configure(client.as_raw_fd(), Moment::Attach, &idle_20()).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ESRCH));
        assert_eq!(Target::open_thread(tid).err(), Some(OpenError::Gone));
    }

    #[test]
    fn fresh_defaults_come_from_a_probe() {
        let (_listener, client, _server) = pair();
        let fresh = ourselves().fresh_defaults(&Socket::read(client.into()));
        let Fact::Known(timers) = fresh else { panic!("no defaults: {fresh:?}") };
        let system: i32 = fs::read_to_string("/proc/sys/net/ipv4/tcp_keepalive_time").unwrap().trim().parse().unwrap();
        assert_eq!(timers.get(Timer::Idle), Some(system));
        assert_eq!(timers.get(Timer::UserTimeout), Some(0));
    }

    fn fresh_idle(fresh: Fact<Timers>) -> Option<i32> {
        match fresh {
            Fact::Known(timers) => timers.get(Timer::Idle),
            _ => None,
        }
    }

    /// A TCP socket made in a network namespace of its own, whose `tcp_keepalive_time` is `idle`.
    fn a_socket_in_another_network_namespace(idle: u32) -> io::Result<OwnedFd> {
        std::thread::spawn(move || {
            // SAFETY: unshare moves only this thread, which ends right after.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // Sysctls under /proc/sys/net are the namespace's of the thread that opens them.
            fs::write("/proc/sys/net/ipv4/tcp_keepalive_time", idle.to_string())?;
            // SAFETY: socket takes three integers and returns a new descriptor or -1.
            owned(libc::c_long::from(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) }))
        })
        .join()
        .unwrap()
    }

    #[test]
    fn fresh_defaults_are_the_sockets_network_namespaces() {
        let socket = match a_socket_in_another_network_namespace(4321) {
            Err(error) if error.raw_os_error() == Some(libc::EPERM) => {
                return eprintln!("SKIPPED: a network namespace needs CAP_SYS_ADMIN");
            }
            socket => Socket::read(socket.unwrap()),
        };
        let target = ourselves();
        let fresh = target.fresh_defaults(&socket);
        assert_eq!(fresh_idle(fresh), Some(4321), "{fresh:?}");
        // The program's sockets in this namespace have this namespace's defaults.
        let (_listener, client, _server) = pair();
        let system: i32 = fs::read_to_string("/proc/sys/net/ipv4/tcp_keepalive_time").unwrap().trim().parse().unwrap();
        let fresh = target.fresh_defaults(&Socket::read(client.into()));
        assert_eq!(fresh_idle(fresh), Some(system), "{fresh:?}");
        // Its idle time is the namespace's default, not a choice of the program's: ours replaces it.
        let outcome = target.configure_socket(socket.fd(), &socket, Facts::at(Moment::Connect), &idle_20());
        assert_eq!(outcome.decision, Decision::SetAll);
    }
}
