//! `keepalive --attach PID...`: the TCP sockets running processes hold get the options, under
//! the library's policy, through duplicates of their descriptors (see `foreign`). `--follow`
//! rescans until the processes exit, for connections made since.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keepalive_config::{Settings, Side};
use keepalive_policy::{Decision, Fact, Facts, Moment, Reason, Role, Timer};

use crate::foreign::{OpenError, Outcome, Snapshot, Socket};
use crate::reach::Running;
use crate::status;
use crate::streams::{self, stderr_line};

/// Attaches to `ids` (processes, or threads standing for theirs), prints one line per TCP
/// socket and a summary, and returns the exit status: 1 when a process could not be attached to,
/// or the report could not be written.
pub fn run(ids: &[u32], settings: &Settings, follow: Option<Duration>) -> u8 {
    if follow.is_some() {
        stop_on_signals();
    }
    let mut refused = false;
    let mut watched = Vec::new();
    for &id in ids {
        let pid = status::process_of(id);
        if pid != id {
            say(&format!("thread {id} is in process {pid}\n"));
        }
        if watched.iter().any(|process: &Process| process.running.pid == pid) {
            continue;
        }
        match Running::open(pid) {
            Ok(running) => watched.push(Process::new(running)),
            Err(OpenError::Gone) => {
                stderr_line!("keepalive: process {pid}: no such process");
                refused = true;
            }
            Err(OpenError::Denied(reason) | OpenError::Unsupported(reason) | OpenError::Unreachable(reason)) => {
                stderr_line!("keepalive: process {pid}: {reason}");
                refused = true;
            }
        }
    }
    let started = Instant::now();
    let attached = watched.len();
    let mut total = Counts::default();
    watched.retain_mut(|process| {
        let alive = process.pass(settings, true);
        say(&format!("{}\n", process.summary()));
        if !alive {
            say(&format!("process {} ({}) exited during the pass\n", process.running.pid, process.name));
            total.add(&process.counts());
        }
        alive
    });
    if let Some(interval) = follow {
        follow_until_exit(&mut watched, settings, interval, &mut total);
    }
    for process in &watched {
        total.add(&process.counts());
    }
    if attached > 1 || (attached > 0 && follow.is_some()) {
        say(&format!("{} in {} ms\n", total.describe(), started.elapsed().as_millis()));
    }
    u8::from(refused || UNWRITABLE.load(Ordering::Relaxed))
}

/// Set once standard output is gone: the report stops, the work goes on.
static UNHEARD: AtomicBool = AtomicBool::new(false);

/// Set when standard output failed otherwise than by its reader leaving: the exit status is 1.
static UNWRITABLE: AtomicBool = AtomicBool::new(false);

/// Writes `text` on standard output. A reader that stopped reading (`| head -3`) or an output
/// that cannot be written to ends the report, not the passes: every process is still attached
/// to. The first is not an error; the second (a full disk) is one line on stderr, and exit
/// status 1 as from `--status`.
fn say(text: &str) {
    if UNHEARD.load(Ordering::Relaxed) {
        return;
    }
    if let Err(error) = streams::write_stdout(text) {
        UNHEARD.store(true, Ordering::Relaxed);
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            UNWRITABLE.store(true, Ordering::Relaxed);
            stderr_line!("keepalive: cannot write output: {}", crate::launch::without_error_number(&error));
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// From now on SIGINT and SIGTERM end `--follow` after its current pass, with the summary.
fn stop_on_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic; no SA_RESTART,
        // so that poll() returns at once.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Rescans every `interval`, or at once when a process exits, until none is left or SIGINT or
/// SIGTERM arrives. Prints only what changed; adds the processes that exit to `total`.
fn follow_until_exit(watched: &mut Vec<Process>, settings: &Settings, interval: Duration, total: &mut Counts) {
    let timeout = libc::c_int::try_from(interval.as_millis()).unwrap_or(libc::c_int::MAX);
    while !watched.is_empty() && !STOP.load(Ordering::Relaxed) {
        let mut polled: Vec<libc::pollfd> = watched
            .iter()
            .map(|process| process.running.exit_pidfd().as_raw_fd())
            .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
            .collect();
        // SAFETY: `polled` is a valid array of its length. A pidfd is readable once its process exited.
        unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, timeout) };
        if STOP.load(Ordering::Relaxed) {
            break;
        }
        let exited: Vec<bool> = polled.iter().map(|entry| entry.revents != 0).collect();
        let mut index = 0;
        watched.retain_mut(|process| {
            let gone = exited[index];
            index += 1;
            let alive = !gone && process.pass(settings, false);
            if !alive {
                say(&format!("process {} ({}) exited\n", process.running.pid, process.name));
                total.add(&process.counts());
            }
            alive
        });
    }
}

/// A process attached to, with the sockets already looked at.
struct Process {
    running: Running,
    name: String,
    /// Socket inodes decided on for good: rescans skip them.
    seen: HashSet<u64>,
    /// Socket inodes left alone until they are connected: each pass looks at them again, and
    /// they count once, as left alone, until decided on for good.
    waiting: HashSet<u64>,
    /// The sockets decided on for good.
    decided: Counts,
}

#[derive(Clone, Copy, Default)]
struct Counts {
    processes: usize,
    sockets: usize,
    configured: usize,
    left_alone: usize,
    failed: usize,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.processes += other.processes;
        self.sockets += other.sockets;
        self.configured += other.configured;
        self.left_alone += other.left_alone;
        self.failed += other.failed;
    }

    fn describe(&self) -> String {
        let mut text = format!(
            "{} TCP socket{}: {} configured, {} left alone",
            self.sockets,
            if self.sockets == 1 { "" } else { "s" },
            self.configured,
            self.left_alone
        );
        if self.failed > 0 {
            let _ = write!(text, ", {} with an option refused", self.failed);
        }
        if self.processes > 1 {
            text = format!("{} processes, {text}", self.processes);
        }
        text
    }
}

impl Process {
    fn new(running: Running) -> Process {
        let name = fs::read_to_string(format!("/proc/{}/comm", running.pid)).unwrap_or_default().trim_end().to_owned();
        let decided = Counts { processes: 1, ..Counts::default() };
        Process { running, name, seen: HashSet::new(), waiting: HashSet::new(), decided }
    }

    /// Every socket looked at, each once: those still waiting to be connected as left alone.
    fn counts(&self) -> Counts {
        let waiting = self.waiting.len();
        Counts {
            sockets: self.decided.sockets + waiting,
            left_alone: self.decided.left_alone + waiting,
            ..self.decided
        }
    }

    fn summary(&self) -> String {
        format!("process {} ({}): {}", self.running.pid, self.name, self.counts().describe())
    }

    /// Looks at every socket not seen yet; prints every line on the first pass, and on later
    /// ones only the sockets changed. Returns false once the process has exited.
    fn pass(&mut self, settings: &Settings, first: bool) -> bool {
        let mut lines = String::new();
        let alive = self.look(settings, first, &mut lines);
        say(&lines);
        alive
    }

    /// `pass`, with the lines added to `lines`: one write for a pass, not one per socket.
    fn look(&mut self, settings: &Settings, first: bool, lines: &mut String) -> bool {
        let pid = self.running.pid;
        let Ok(descriptors) = status::socket_descriptors(pid) else {
            return false;
        };
        let servers = if settings.side == Side::Both { Vec::new() } else { server_ports(pid) };
        for (fd, inode) in descriptors {
            if self.seen.contains(&inode) {
                continue;
            }
            let duplicate = match self.running.duplicate(fd) {
                Ok(duplicate) => duplicate,
                Err(error) if error.raw_os_error() == Some(libc::ESRCH) => return false,
                // Closed since the directory was read.
                Err(_) => continue,
            };
            let socket = Socket::read(duplicate);
            if !socket.is_tcp() {
                self.seen.insert(inode);
                continue;
            }
            let role = match (socket.state, socket.local) {
                (Fact::Known(state), _) if state == keepalive_policy::TcpState::LISTEN => Fact::Known(Role::Server),
                (_, Some(local)) if servers.contains(&local.port()) => Fact::Known(Role::Server),
                (_, Some(_)) => Fact::Known(Role::Client),
                (_, None) => Fact::Unavailable,
            };
            let facts = Facts { role, ..Facts::at(Moment::Attach) };
            let outcome = self.running.target.configure_socket(fd, &socket, facts, settings);
            // Not connected yet: a later pass sees it connected, with a peer and a side.
            if outcome.decision == Decision::LeaveAlone(Reason::NotConnected) {
                self.waiting.insert(inode);
            } else {
                self.waiting.remove(&inode);
                self.seen.insert(inode);
                self.decided.sockets += 1;
                match outcome.decision {
                    Decision::LeaveAlone(_) => self.decided.left_alone += 1,
                    _ => self.decided.configured += 1,
                }
                if !outcome.failed.is_empty() {
                    self.decided.failed += 1;
                }
            }
            if first || outcome.changed() || !outcome.failed.is_empty() {
                *lines += &line(pid, &outcome);
                lines.push('\n');
            }
        }
        true
    }
}

/// The local ports `pid`'s network namespace listens on: a connection on one was accepted.
fn server_ports(pid: u32) -> Vec<u16> {
    let listening = status::connections(pid).into_iter().filter(|connection| connection.state == "LISTEN");
    listening.map(|connection| connection.local.port()).collect()
}

/// `pid 42 fd 5 tcp 127.0.0.1:40000 > 127.0.0.1:8080 established: off → on, idle 20s intvl 75s cnt 9`
fn line(pid: u32, outcome: &Outcome) -> String {
    let socket = &outcome.socket;
    let mut text = format!("pid {pid} fd {} {}", outcome.fd, socket.label);
    if let Some(local) = socket.local {
        let _ = write!(text, " {local}");
    }
    if let Some(peer) = socket.peer {
        let _ = write!(text, " > {peer}");
    }
    let state = match socket.state {
        Fact::Known(state) => state.name(),
        _ => "state unknown",
    };
    let _ = write!(text, " {state}: {}", keepalive(&outcome.before));
    match outcome.decision {
        Decision::LeaveAlone(reason) => {
            let _ = write!(text, ", left alone: {}", reason_text(reason));
        }
        decision => {
            let _ = write!(text, " → {}", keepalive(&outcome.after));
            if let Decision::SetUnchosen(kept) = decision {
                for timer in Timer::ALL.into_iter().filter(|timer| kept.contains(*timer)) {
                    let _ = write!(text, "; {} kept as the program set it", timer.label().0);
                }
            }
            if !outcome.changed() {
                text += " (unchanged)";
            }
        }
    }
    for (option, error) in &outcome.failed {
        let _ = write!(text, "; {} failed: {error}", option.name());
    }
    text
}

/// The reasons as an operator reads them about another process.
fn reason_text(reason: Reason) -> &'static str {
    match reason {
        Reason::KeepaliveOn => "keepalive on already, the program's choice (--force overrides)",
        Reason::SideServer => "its own connection, --side server",
        Reason::SideClient => "accepted or listening, --side client",
        Reason::PeerNotSelected => "peer not selected by --only/--skip",
        Reason::ListenerWithPeerRules => "a listener: --only/--skip decide per connection (--follow catches them)",
        reason => reason.text(),
    }
}

/// `off`, or `on, idle 20s intvl 75s cnt 9` (and the user timeout when set).
fn keepalive(snapshot: &Snapshot) -> String {
    let mut text = match snapshot.keepalive {
        Some(true) => "on".to_owned(),
        Some(false) => "off".to_owned(),
        None => "?".to_owned(),
    };
    let value = |timer| snapshot.timers.get(timer).map_or("?".to_owned(), |value| value.to_string());
    let _ =
        write!(text, ", idle {}s intvl {}s cnt {}", value(Timer::Idle), value(Timer::Interval), value(Timer::Count));
    if snapshot.timers.get(Timer::UserTimeout).is_some_and(|ms| ms != 0) {
        let _ = write!(text, " user timeout {}ms", value(Timer::UserTimeout));
    }
    text
}
