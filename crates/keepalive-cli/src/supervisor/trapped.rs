//! What the supervisor does to a socket the program is about to connect, listen on or accept
//! from: the shared decision (`keepalive_policy::decide`), made and carried out on a duplicate of
//! the program's descriptor by `foreign`, as `--attach` does; this file adds what only a trap
//! knows (the moment, the address given to `connect()`) and says what was done.

use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};

use keepalive_config::{Peer, Settings};
use keepalive_policy::{Decision, Fact, Facts, Moment, Options, SocketOption, Timer, linux};

use crate::foreign::{Outcome, Snapshot, Socket, Target, owned};

/// The call the program made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Connect,
    /// A `sendto`, `sendmsg` or `sendmmsg` with `MSG_FASTOPEN`, which connects like `connect()`.
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

/// How many processes the supervisor keeps open between their calls.
const KEPT_PROCESSES: usize = 16;

/// The settings, and the processes met lately, each with its network namespace's defaults
/// learnt once.
pub struct Plan {
    pub settings: Settings,
    processes: Vec<Target>,
}

impl Plan {
    pub fn new(settings: Settings) -> Plan {
        Plan { processes: Vec::new(), settings }
    }

    /// The process of thread `tid`, kept from an earlier call or opened now. A kept one that has
    /// ended since is opened again: its ID may now be another process's. The caller checks that
    /// the notification is still pending after using it, so that the process is the caller's.
    pub fn process_of(&mut self, tid: u32) -> Option<&Target> {
        // A thread that leads its process has the process's ID: no need to ask /proc.
        let leader = self.processes.iter().any(|process| process.pid() == tid);
        let pid = if leader { tid } else { thread_group(tid)? };
        let kept = self.processes.iter().position(|process| process.pid() == pid);
        if let Some(index) = kept {
            let ended =
                self.processes[index].duplicate(-1).is_err_and(|error| error.raw_os_error() == Some(libc::ESRCH));
            if !ended {
                return self.processes.get(index);
            }
            self.processes.remove(index);
        }
        let process = match Target::open(pid) {
            Ok(process) => process,
            Err(_) => Target::open(thread_group(tid)?).ok()?,
        };
        if self.processes.len() >= KEPT_PROCESSES {
            self.processes.remove(0);
        }
        self.processes.push(process);
        self.processes.last()
    }
}

/// The process a thread belongs to (its `Tgid`), in this process's PID namespace: as a pidfd of
/// the thread gives it, else from `/proc`, which names processes in the namespace it was mounted
/// for. That is another where this process is PID 1 of a namespace made without its own /proc
/// (`unshare --pid --fork` without `--mount-proc`): there /proc names other processes by the
/// program's threads' IDs.
fn thread_group(tid: u32) -> Option<u32> {
    thread_group_of_pidfd(tid).or_else(|| {
        let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
        status.lines().find_map(|line| line.strip_prefix("Tgid:"))?.trim().parse().ok()
    })
}

/// `PIDFD_THREAD` (linux/pidfd.h, Linux 6.9): a pidfd of any thread, not only of a leader.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// `PIDFD_GET_INFO` (Linux 6.13): `_IOWR(0xFF, 11, struct pidfd_info)`, 64 bytes in its first version.
const PIDFD_GET_INFO: libc::Ioctl = (3 << 30) | ((size_of::<PidfdInfo>() as libc::Ioctl) << 16) | (0xFF << 8) | 11;

/// `PIDFD_INFO_PID`: the IDs, which every answer has.
const PIDFD_INFO_PID: u64 = 1;

/// `struct pidfd_info` as far as the IDs, which the kernel gives in the caller's PID namespace.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroup: u64,
    pid: u32,
    tgid: u32,
    others: [u32; 10],
}

/// The thread's process as a pidfd of the thread tells it; `None` before Linux 6.13.
fn thread_group_of_pidfd(tid: u32) -> Option<u32> {
    let tid = libc::pid_t::try_from(tid).ok()?;
    // SAFETY: pidfd_open takes a thread ID and flags and returns a new descriptor or -1.
    let thread = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
    let thread = owned(thread).ok()?;
    let mut info = PidfdInfo { mask: PIDFD_INFO_PID, ..PidfdInfo::default() };
    // SAFETY: the kernel writes at most size_of::<PidfdInfo>() bytes, the size the request names.
    let answered = unsafe { libc::ioctl(thread.as_raw_fd(), PIDFD_GET_INFO, &raw mut info) } == 0;
    (answered && info.mask & PIDFD_INFO_PID != 0 && info.tgid != 0).then_some(info.tgid)
}

/// Decides on `socket` (the program's descriptor `fd`, duplicated) before the call proceeds,
/// and carries the decision out. `peer` is the address the call was given, when peer rules need
/// it. Returns the line `--verbose` shows after the descriptor.
pub fn configure_trapped(
    process: &Target,
    fd: i32,
    socket: OwnedFd,
    call: Call,
    peer: Option<Peer>,
    settings: &Settings,
) -> String {
    let socket = Socket::read(socket);
    let heading = heading(&socket, call.name());
    let options = Options::of(settings);
    if settings.force && call == Call::Accept && has_ours(&socket.before, &options) {
        // Every accept() on a listener configured at listen(): nothing to redo.
        return format!("{heading}: untouched, has the options KEEPALIVE_FORCE keeps");
    }
    let mut facts = Facts::at(call.moment());
    if let Some(peer) = peer {
        facts.peer = Fact::Known(peer);
    }
    format!("{heading}: {}", describe(&process.configure_socket(fd, &socket, facts, settings), &options))
}

/// After the program's own `setsockopt` of a keepalive option in force mode, which the
/// supervisor carried out on `socket`: the socket is decided as it is now, as `--attach`
/// would, so that one the supervisor configures (connected, connecting or listening; one not
/// connected yet, which `connect()` would configure anyway) gets our options back. Returns the
/// line `--verbose` shows after the descriptor, or `None` when nothing was set.
pub fn enforce(process: &Target, fd: i32, socket: OwnedFd, settings: &Settings) -> Option<String> {
    let socket = Socket::read(socket);
    let outcome = process.configure_socket(fd, &socket, Facts::at(Moment::Attach), settings);
    matches!(outcome.decision, Decision::SetAll | Decision::SetUnchosen(_)).then(|| {
        let described = describe(&outcome, &Options::of(settings));
        format!("{}: KEEPALIVE_FORCE puts ours back: {described}", heading(&socket, "setsockopt()"))
    })
}

/// The socket and the call, as the library's debug lines name them: `tcp6 connect()`, and the
/// call alone for a socket that is not TCP.
fn heading(socket: &Socket, call: &str) -> String {
    match (socket.domain, socket.protocol) {
        (Some(domain), Some(protocol)) if socket.is_tcp() => format!("{} {call}", linux::label(domain, protocol)),
        _ => call.to_owned(),
    }
}

/// Whether every option of ours has our value already.
fn has_ours(snapshot: &Snapshot, options: &Options) -> bool {
    options.as_slice().iter().all(|option| match option.timer() {
        Some(timer) => snapshot.timers.get(timer) == Some(option.value),
        None => snapshot.keepalive == Some(true),
    })
}

/// What was done, as the library's debug lines say it.
fn describe(outcome: &Outcome, options: &Options) -> String {
    let mut text = match outcome.decision {
        Decision::SetAll => set_text(options.as_slice().iter().copied(), &[]),
        Decision::SetUnchosen(kept) => {
            let timers: Vec<Timer> = Timer::ALL.into_iter().filter(|&timer| kept.contains(timer)).collect();
            set_text(options.except(kept), &timers)
        }
        Decision::PutBack(option) => format!("{} changed back, KEEPALIVE_FORCE keeps {}", option.name(), shown(option)),
        Decision::LeaveAlone(reason) => format!("untouched, {}", reason.text().replace("library", "supervisor")),
        Decision::Need(_) => "untouched".to_owned(),
    };
    for (option, error) in &outcome.failed {
        let _ = write!(text, "; {} failed: {error}", option.name());
    }
    text
}

fn set_text(options: impl Iterator<Item = SocketOption>, kept: &[Timer]) -> String {
    let mut text = "keepalive on".to_owned();
    for option in options.filter(|option| option.timer().is_some()) {
        let _ = write!(text, ", {}", shown(option));
    }
    for timer in kept {
        let _ = write!(text, ", {} kept as the program set it", timer.label().0);
    }
    text
}

fn shown(option: SocketOption) -> String {
    match option.timer() {
        Some(timer) => format!("{} {}{}", timer.label().0, option.value, timer.label().1),
        None => "keepalive on".to_owned(),
    }
}
