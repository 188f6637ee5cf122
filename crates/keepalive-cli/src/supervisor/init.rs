//! As PID 1 of a PID namespace or a child subreaper, orphans in this process's tree come to it,
//! and after `execve` they would come to the program: the detached supervisor among them, which a
//! program that waits for all its children would wait for forever. There this command stays the
//! program's parent instead, as an init such as tini does: the child installs the filter, hands
//! the listener over and becomes the program; this process serves the listener, passes signals
//! on, reaps every child, and ends as the program ends.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use keepalive_config::Settings;

use super::serve::{self, FileIdentity, Server, Stop};
use super::trapped::Plan;

/// Signals sent to this process that it passes on to the program.
const FORWARDED: [libc::c_int; 8] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

/// The stops of job control: from the terminal (to its whole foreground process group, the
/// program included) they stop this process with the program's job; sent to this process alone,
/// they are passed on, so that this process never stops while the program runs.
const JOB_CONTROL: [libc::c_int; 3] = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// Runs `path` as this process's child under the filter `program`, and supervises it; returns
/// the exit status to give: the program's, or 125 when the supervisor cannot be set up.
pub fn run(
    path: &Path,
    name: &OsStr,
    arguments: &[OsString],
    program: &[libc::sock_filter],
    settings: Settings,
    verbose: bool,
) -> u8 {
    let user_stderr = serve::identity(2);
    let (original, signals) = match take_signals() {
        Ok(taken) => taken,
        Err(error) => return super::cannot_start(&error),
    };
    let (ours, theirs) = match super::socket_pair() {
        Ok(pair) => pair,
        Err(error) => {
            original.restore();
            return super::cannot_start(&error);
        }
    };
    // SAFETY: this process has one thread, so the child may run ordinary code.
    let child = unsafe { libc::fork() };
    if child < 0 {
        let error = io::Error::last_os_error();
        original.restore();
        return super::cannot_start(&error);
    }
    if child == 0 {
        drop((ours, signals));
        original.restore();
        let status = start_program(theirs, program, path, name, arguments);
        // SAFETY: ends the child without running the command's exit code.
        unsafe { libc::_exit(i32::from(status)) }
    }
    drop(theirs);
    supervise(child, ours, signals, Plan::new(settings), verbose, user_stderr)
}

/// The signal mask and dispositions the command started with, which the program gets back.
struct Original {
    mask: libc::sigset_t,
    dispositions: Vec<(libc::c_int, libc::sigaction)>,
}

impl Original {
    fn restore(&self) {
        for (signal, action) in &self.dispositions {
            // SAFETY: puts back an action sigaction returned.
            unsafe { libc::sigaction(*signal, action, std::ptr::null_mut()) };
        }
        // SAFETY: sets the mask sigprocmask returned.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.mask, std::ptr::null_mut()) };
    }
}

/// Blocks the signals to pass on, those of job control and SIGCHLD, which the returned signalfd
/// reads (blocked, they are queued for PID 1 too, which the kernel spares the default action of
/// any other), and ignores every other signal that would end this process and so leave the
/// program without a supervisor; faults included: one the kernel raises for a real fault ends the
/// process all the same. SIGCHLD gets its default action: ignored, the kernel would reap children
/// before `waitpid`.
fn take_signals() -> io::Result<(Original, OwnedFd)> {
    let blocked = signal_set(FORWARDED.into_iter().chain(JOB_CONTROL).chain([libc::SIGCHLD]));
    // SAFETY: sigset_t is plain data, which sigprocmask fills.
    let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: blocks the set and writes the old mask into `mask`.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &blocked, &raw mut mask) };
    // SIGKILL and SIGSTOP are left out by sigaction itself.
    let ignorable = |signal: &libc::c_int| !FORWARDED.contains(signal) && !JOB_CONTROL.contains(signal);
    let dispositions = (1..=libc::SIGRTMAX())
        .filter(ignorable)
        .filter_map(|signal| {
            let handler = if signal == libc::SIGCHLD { libc::SIG_DFL } else { libc::SIG_IGN };
            // SAFETY: all-zero is a valid sigaction (no flags, empty mask), and so is the old
            // one sigaction writes; the C library refuses the signals it keeps for itself.
            unsafe {
                let (mut new, mut old): (libc::sigaction, libc::sigaction) = std::mem::zeroed();
                new.sa_sigaction = handler;
                (libc::sigaction(signal, &new, &raw mut old) == 0).then_some((signal, old))
            }
        })
        .collect();
    let original = Original { mask, dispositions };
    // SAFETY: a new descriptor reading the blocked signals.
    let signals = unsafe { libc::signalfd(-1, &blocked, libc::SFD_CLOEXEC) };
    if signals < 0 {
        let error = io::Error::last_os_error();
        original.restore();
        return Err(error);
    }
    // SAFETY: the descriptor is new and ours.
    Ok((original, unsafe { OwnedFd::from_raw_fd(signals) }))
}

/// The set of `signals`.
fn signal_set(signals: impl IntoIterator<Item = libc::c_int>) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data that sigemptyset initialises.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: the set is a valid sigset_t.
    unsafe { libc::sigemptyset(&raw mut set) };
    for signal in signals {
        // SAFETY: as above; a signal number out of range is refused, not written.
        unsafe { libc::sigaddset(&raw mut set, signal) };
    }
    set
}

/// In the child: installs the filter, hands the listener to the parent, and becomes the program.
/// Returns only on failure, with the exit status to give after one line saying why.
fn start_program(
    channel: OwnedFd,
    program: &[libc::sock_filter],
    path: &Path,
    name: &OsStr,
    arguments: &[OsString],
) -> u8 {
    match super::filter_and_hand_over(program, channel) {
        Ok(supervisor) => super::execute(path, name, arguments, supervisor),
        Err(status) => status,
    }
}

/// In the parent: takes the listener and serves it until the program ends, reaping every child and
/// passing signals on; returns the exit status to give.
fn supervise(
    program: libc::pid_t,
    channel: OwnedFd,
    signals: OwnedFd,
    plan: Plan,
    verbose: bool,
    user_stderr: Option<FileIdentity>,
) -> u8 {
    // SAFETY: getpid cannot fail.
    let init = unsafe { libc::getpid() } == 1;
    super::close_all_above_2_but(&[channel.as_raw_fd(), signals.as_raw_fd()]);
    let Some(listener) = super::receive_listener(&channel) else {
        // The child could not install the filter, and said why; or it waits for our answer,
        // which closing the channel gives.
        drop(channel);
        return match wait_for(program) {
            Some(status) => exit_status(status),
            None => super::NOT_SUPERVISED,
        };
    };
    super::let_go_of_the_programs_files(verbose);
    super::acknowledge(&channel);
    drop(channel);
    let mut server = Server::new(listener, plan, verbose, user_stderr);
    // SAFETY: getsid and getpid cannot fail for this process.
    let session_leader = unsafe { libc::getsid(0) == libc::getpid() };
    let mut serving = true;
    loop {
        if serving {
            serving = server.serve_until(Some(signals.as_raw_fd())) == Stop::Readable;
        }
        let Some(signal) = next_signal(&signals) else { continue };
        let number = signal.ssi_signo as libc::c_int;
        if number == libc::SIGCHLD {
            if let Some(status) = reap_children(program) {
                return end_like_the_program(status, server, init);
            }
            continue;
        }
        let sent = Sent { signal: number, by_the_kernel: signal.ssi_code == libc::SI_KERNEL, sender: signal.ssi_pid };
        // SAFETY: getpgid and getpgrp only read process groups; the program is not reaped yet.
        let with_the_program = unsafe { libc::getpgid(program) == libc::getpgrp() };
        let standing = Standing { session_leader, init, with_the_program };
        match route(sent, program as u32, standing) {
            Route::PassOn => {
                // SAFETY: kill takes a pid and a signal number; the program is this process's
                // child, not yet reaped, so its ID is still its own.
                unsafe { libc::kill(program, number) };
            }
            Route::StopHere => stop_with(number),
            Route::Drop => {}
        }
    }
}

/// A signal read from the signalfd, as `route` needs it.
#[derive(Clone, Copy)]
struct Sent {
    signal: libc::c_int,
    /// `SI_KERNEL`: the terminal sent it (a key, a window resized, a hang-up).
    by_the_kernel: bool,
    sender: u32,
}

/// Where this process stands, for `route`.
#[derive(Clone, Copy)]
struct Standing {
    /// It leads its session, which a hang-up signals alone.
    session_leader: bool,
    /// PID 1, which the kernel does not stop.
    init: bool,
    /// The program is in its process group, which the terminal signals as one job.
    with_the_program: bool,
}

/// What to do with a signal sent to this process.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    PassOn,
    /// A stop of job control from the terminal: this process stops with the program's job.
    StopHere,
    Drop,
}

/// Where a signal goes: to the program, unless it has it already. The program has it when it
/// sent it itself (to its process group, or to this process, its parent), and when the terminal
/// sent it to its foreground process group, which the program is in, or left (then it is not
/// for the program); but a hang-up (SIGHUP, then SIGCONT) goes to the session leader alone,
/// which this process may be. A stop from the terminal stops this process with the program, not
/// without it: stopped alone, it would hold the program's calls.
fn route(sent: Sent, program: u32, standing: Standing) -> Route {
    let hang_up = matches!(sent.signal, libc::SIGHUP | libc::SIGCONT) && standing.session_leader;
    if sent.sender == program && !sent.by_the_kernel {
        Route::Drop
    } else if !sent.by_the_kernel || hang_up {
        Route::PassOn
    } else if JOB_CONTROL.contains(&sent.signal) && standing.with_the_program && !standing.init {
        Route::StopHere
    } else {
        Route::Drop
    }
}

/// Waits for `pid` to end; its wait status, or `None` if it cannot be waited for.
fn wait_for(pid: libc::pid_t) -> Option<libc::c_int> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the child's status into `status`.
        if unsafe { libc::waitpid(pid, &raw mut status, 0) } == pid {
            return Some(status);
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// The next signal the signalfd has, if it gives one.
fn next_signal(signals: &OwnedFd) -> Option<libc::signalfd_siginfo> {
    // SAFETY: all-zero is a valid signalfd_siginfo.
    let mut signal: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = size_of::<libc::signalfd_siginfo>();
    // SAFETY: reads at most `size` bytes into `signal`.
    let read = unsafe { libc::read(signals.as_raw_fd(), (&raw mut signal).cast(), size) };
    (read == size as isize).then_some(signal)
}

/// Reaps every child that has ended, orphans reparented to this process included; returns the
/// program's wait status if it ended.
fn reap_children(program: libc::pid_t) -> Option<libc::c_int> {
    let mut programs = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the child's status into `status`.
        let pid = unsafe { libc::waitpid(-1, &raw mut status, libc::WNOHANG) };
        if pid <= 0 {
            return programs;
        }
        if pid == program {
            programs = Some(status);
        }
    }
}

/// Stops this process with `signal`, a stop of job control it has read (so taken) from the
/// signalfd: unblocked a moment, the signal sent again stops it, unless it was started with the
/// signal ignored. SIGCONT, from the shell to the whole job, continues it.
fn stop_with(signal: libc::c_int) {
    let set = signal_set([signal]);
    // SAFETY: the calls change this process's own mask and send it a signal.
    unsafe {
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Once the program has ended with `status`: leaves a supervisor for processes still under the
/// filter, and returns the exit status to give, or, for a program a signal ended, dies of that
/// signal; PID 1, which the kernel does not let die of its own signals, exits with 128 + N.
fn end_like_the_program(status: libc::c_int, server: Server, init: bool) -> u8 {
    if !init && processes_remain(&server) {
        leave_a_supervisor(server);
    }
    if libc::WIFSIGNALED(status) && !init {
        die_of(libc::WTERMSIG(status));
    }
    exit_status(status)
}

/// The exit status a shell shows for a wait status: the exit code, or 128 + N for signal N.
fn exit_status(status: libc::c_int) -> u8 {
    if libc::WIFSIGNALED(status) {
        128u8.saturating_add(libc::WTERMSIG(status) as u8)
    } else {
        libc::WEXITSTATUS(status) as u8
    }
}

/// Whether processes are still under the filter, such as a daemon the program started: the
/// kernel hangs the listener up once the last one has ended and been reaped.
fn processes_remain(server: &Server) -> bool {
    let mut poll = libc::pollfd { fd: server.listener(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd, not waited on.
    let polled = unsafe { libc::poll(&raw mut poll, 1, 0) };
    polled >= 0 && poll.revents & libc::POLLHUP == 0
}

/// Forks a supervisor that serves the listener until no process is left under the filter,
/// detached as the one the command starts when it does not adopt orphans.
fn leave_a_supervisor(mut server: Server) {
    // SAFETY: this process has one thread, so the child may run ordinary code.
    if unsafe { libc::fork() } != 0 {
        return;
    }
    let none = signal_set([]);
    // SAFETY: setsid and sigprocmask change this process's own state.
    unsafe {
        libc::setsid();
        super::ignore_signals();
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    super::close_all_above_2_but(&[server.listener()]);
    server.serve_until(None);
    // SAFETY: ends this process without running the command's exit code.
    unsafe { libc::_exit(0) }
}

/// Ends this process by `signal`, as the program ended, without a core file of ours.
fn die_of(signal: libc::c_int) {
    let set = signal_set([signal]);
    // SAFETY: plain system calls on this process's own state.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::signal(signal, libc::SIG_DFL);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: u32 = 40;

    fn sent(signal: libc::c_int, by_the_kernel: bool, sender: u32) -> Sent {
        Sent { signal, by_the_kernel, sender }
    }

    #[test]
    fn signals_go_to_the_program_unless_it_has_them_already() {
        use libc::{SIGCONT, SIGHUP, SIGINT, SIGTERM, SIGTSTP, SIGUSR1, SIGWINCH};
        let job = Standing { session_leader: false, init: false, with_the_program: true };
        let init = Standing { session_leader: true, init: true, ..job };
        let left = Standing { with_the_program: false, ..job };
        let cases = [
            ("docker stop", sent(SIGTERM, false, 0), init, Route::PassOn),
            ("kill from a shell", sent(SIGINT, false, 7), job, Route::PassOn),
            ("the program signals its parent", sent(SIGUSR1, false, PROGRAM), init, Route::Drop),
            ("the program signals its group", sent(SIGTERM, false, PROGRAM), job, Route::Drop),
            ("Ctrl-C", sent(SIGINT, true, 0), job, Route::Drop),
            ("window resized", sent(SIGWINCH, true, 0), init, Route::Drop),
            ("hang-up, session leader", sent(SIGHUP, true, 0), init, Route::PassOn),
            ("hang-up's SIGCONT, session leader", sent(SIGCONT, true, 0), init, Route::PassOn),
            ("hang-up, not the leader", sent(SIGHUP, true, 0), job, Route::Drop),
            ("Ctrl-Z", sent(SIGTSTP, true, 0), job, Route::StopHere),
            ("Ctrl-Z, the program out of the group", sent(SIGTSTP, true, 0), left, Route::Drop),
            ("Ctrl-Z as PID 1", sent(SIGTSTP, true, 0), init, Route::Drop),
            ("kill -TSTP to the command", sent(SIGTSTP, false, 7), job, Route::PassOn),
            ("fg", sent(SIGCONT, false, 7), job, Route::PassOn),
        ];
        for (case, sent, standing, expected) in cases {
            assert_eq!(route(sent, PROGRAM, standing), expected, "{case}");
        }
    }
}
