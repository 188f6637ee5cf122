//! What the supervisor does to a socket the program is about to connect, listen on or accept
//! from: the shared decision (`keepalive_policy::decide`), made and carried out on a duplicate of
//! the program's descriptor by `foreign`, as `--attach` does; this file adds what only a trap
//! knows (the moment, the address given to `connect()`) and says what was done.

use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};

use keepalive_config::{Peer, Settings};
use keepalive_policy::{Decision, Fact, Facts, Moment, Options, SocketOption, Timer, linux};

use crate::foreign::{OpenError, Outcome, PIDFD_THREAD, Snapshot, Socket, Target, owned};

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
    pub fn process_of(&mut self, tid: u32) -> Result<&Target, OpenError> {
        // A thread that leads its process has the process's ID: no need to ask /proc. Where
        // nothing tells a thread's process, the thread may lead one: `Target::open` opens only a
        // thread that does. A process reached through one of its threads is kept under the
        // thread's ID, which its other threads never have: each is reached through itself.
        let leader = self.processes.iter().any(|process| process.pid() == tid);
        let pid = if leader { tid } else { thread_group(tid).unwrap_or(tid) };
        let kept = self.processes.iter().position(|process| process.pid() == pid);
        if let Some(index) = kept {
            let ended =
                self.processes[index].duplicate(-1).is_err_and(|error| error.raw_os_error() == Some(libc::ESRCH));
            if !ended {
                return Ok(&self.processes[index]);
            }
            self.processes.remove(index);
        }
        let opened = match Target::open(pid) {
            // `pid` may be a guess, or a kept process's ID that is another's now.
            Err(error) if !matches!(error, OpenError::Unreachable(_)) => match thread_group(tid) {
                Some(group) if group != pid => Target::open(group),
                _ => Err(error),
            },
            opened => opened,
        };
        let process = match opened {
            Err(OpenError::Unreachable(_)) => through_the_thread(tid)?,
            opened => opened?,
        };
        if self.processes.len() >= KEPT_PROCESSES {
            self.processes.remove(0);
        }
        self.processes.push(process);
        self.processes.last().ok_or(OpenError::Gone)
    }
}

/// The process of thread `tid`, whose main thread has exited while `tid` runs, reached through
/// `tid`, which is waiting for the supervisor and shares the process's descriptors.
fn through_the_thread(tid: u32) -> Result<Target, OpenError> {
    Target::open_thread(tid).map_err(|error| match error {
        OpenError::Unsupported(_) => OpenError::Unreachable(MAIN_THREAD_EXITED.to_owned()),
        error => error,
    })
}

/// Why the call of a thread whose process's main thread has exited goes on untouched, on a
/// kernel without `PIDFD_THREAD`.
pub const MAIN_THREAD_EXITED: &str = "the process's main thread has exited, and before Linux 6.9 (no PIDFD_THREAD) \
                                      the supervisor reaches the process's descriptors only through it";

/// The process a thread belongs to (its `Tgid`), in this process's PID namespace: as a pidfd of
/// the thread gives it, else from `/proc`.
fn thread_group(tid: u32) -> Option<u32> {
    thread_group_of_pidfd(tid).or_else(|| thread_group_in_proc(tid))
}

/// The thread's process as `/proc` tells it, when `/proc` is this PID namespace's. It names
/// processes in the namespace it was mounted for: in one made without its own (`unshare --pid
/// --fork` without `--mount-proc`) it names other processes by the program's threads' IDs, and
/// the supervisor would take another process's descriptor.
fn thread_group_in_proc(tid: u32) -> Option<u32> {
    if !proc_is_ours() {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("Tgid:"))?.trim().parse().ok()
}

/// Whether `/proc` names processes as this process's PID namespace does: `/proc/self` is then
/// this process's own ID.
fn proc_is_ours() -> bool {
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    std::fs::read_link("/proc/self").is_ok_and(|link| link.as_os_str().to_str() == Some(pid.to_string().as_str()))
}

/// Why the supervisor cannot tell which process a thread other than a process's main one belongs
/// to, here and on this kernel: `/proc` is another PID namespace's and the kernel predates
/// `PIDFD_GET_INFO`. The calls of those threads then go on untouched.
pub fn threads_unknown() -> Option<&'static str> {
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() } as u32;
    if proc_is_ours() || thread_group_of_pidfd(pid).is_some() {
        return None;
    }
    Some(
        "/proc is missing or another PID namespace's, and this kernel (before 6.13: no PIDFD_GET_INFO) has no \
         other way to tell the supervisor which process a thread is in: calls made by threads other than a \
         process's main thread go on untouched; give the namespace its own /proc (unshare --mount-proc)",
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread of this process, other than the main one, and its process as `/proc` tells it,
    /// asked while the thread runs.
    fn a_threads_process() -> (u32, Option<u32>) {
        crate::foreign::while_a_thread_runs(|tid| (tid, thread_group_in_proc(tid)))
    }

    #[test]
    fn proc_of_this_namespace_names_a_threads_process() {
        let (tid, group) = a_threads_process();
        assert!(proc_is_ours());
        // SAFETY: getpid cannot fail.
        assert_eq!(group, Some(unsafe { libc::getpid() } as u32), "thread {tid}");
    }

    /// Run by the next test in a PID namespace of its own whose /proc is the one outside.
    #[test]
    #[ignore = "run in a PID namespace by proc_of_another_namespace_is_not_asked"]
    fn in_a_pid_namespace_without_its_own_proc() {
        let (tid, group) = a_threads_process();
        assert!(!proc_is_ours());
        assert_eq!(group, None, "thread {tid}: /proc names another process by that ID");
    }

    #[test]
    fn proc_of_another_namespace_is_not_asked() {
        let test = "supervisor::trapped::tests::in_a_pid_namespace_without_its_own_proc";
        crate::procfs::run_in_a_pid_namespace_without_its_own_proc(test);
    }
}
