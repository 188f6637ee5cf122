//! `--via seccomp`: the program runs under a seccomp filter that sends its `connect`, `listen`,
//! `accept` and `accept4` calls to a supervisor process, which sets the options on the socket
//! before the kernel carries the call out. It reaches what `LD_PRELOAD` cannot: statically
//! linked programs, Go, and code loaded with `RTLD_DEEPBIND`.
//!
//! The program keeps this command's process ID: this process installs the filter and then
//! replaces itself with the program, as the preload does, so that exit status, signals, stop and
//! continue and the terminal are the program's own with nothing in between. The supervisor is a
//! separate process started first (so that it is not under the filter itself), in its own
//! session so that no signal for the program's job reaches it; it serves until no process under
//! the filter is left. As PID 1 or a child subreaper, where that orphaned supervisor would become
//! the program's child, this command stays the program's parent instead, as an init does
//! (`init.rs`). See docs/supervisor.md.

mod filter;
mod init;
mod serve;
mod trapped;

use std::ffi::{CStr, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use keepalive_config::Settings;

use crate::exec;
use crate::launch;
use crate::streams::stderr_line;

/// Names the supervisor's process ID in the program's environment, for `keepalive --status`.
pub const SUPERVISOR_VARIABLE: &str = "KEEPALIVE_SUPERVISOR";

/// The supervisor's process name, as `ps` and `/proc/PID/comm` show it.
const SUPERVISOR_NAME: &str = "keepalive-sup";
const SUPERVISOR_NAME_C: &CStr = c"keepalive-sup";

/// Exit status when the supervisor cannot be set up: the program did not run.
pub const NOT_SUPERVISED: u8 = 125;

/// Runs `path` under the supervisor; returns only on failure, with the exit status to give, or,
/// where this process stays the program's parent, once the program has ended, with its status.
pub fn run(path: &Path, name: &OsStr, arguments: &[OsString], settings: Settings, verbose: bool) -> u8 {
    if let Some(release) = kernel_release().filter(|release| too_old(release)) {
        stderr_line!(
            "keepalive: Linux {release} is too old for the supervisor, which needs 5.8 (pidfd_getfd, and \
             knowing when the last supervised process ended): use --via preload, or set keepalive in the program"
        );
        return NOT_SUPERVISED;
    }
    if let Some(warning) = trapped::threads_unknown() {
        stderr_line!("keepalive: {warning}");
    }
    let program = filter::program(settings.force);
    if adopts_orphans() {
        return init::run(path, name, arguments, &program, settings, verbose);
    }
    let (ours, theirs) = match socket_pair() {
        Ok(pair) => pair,
        Err(error) => return cannot_start(&error),
    };
    if let Err(error) = start_supervisor(theirs, &ours, settings, verbose) {
        return cannot_start(&error);
    }
    let supervisor = match filter_and_hand_over(&program, ours) {
        Ok(supervisor) => supervisor,
        Err(status) => return status,
    };
    // Under Yama's ptrace_scope 1, only an ancestor or a declared tracer may take a process's
    // descriptors: the supervisor is declared for the program (Linux keeps it across execve).
    // The program's children are not covered by it; see docs/supervisor.md.
    // SAFETY: prctl with integer arguments; without Yama it fails harmlessly.
    unsafe { libc::prctl(libc::PR_SET_PTRACER, supervisor as libc::c_ulong, 0, 0, 0) };
    execute(path, name, arguments, supervisor)
}

/// Says that the supervisor could not be started, and gives the exit status for it.
fn cannot_start(error: &io::Error) -> u8 {
    stderr_line!("keepalive: cannot start the supervisor: {}", launch::without_error_number(error));
    NOT_SUPERVISED
}

/// Installs the filter on this process and hands its listener over on `channel` (closed
/// after); returns the supervisor's process ID, or, after one line saying why, the exit status.
fn filter_and_hand_over(program: &[libc::sock_filter], channel: OwnedFd) -> Result<libc::pid_t, u8> {
    install_filter(program).and_then(|listener| hand_over(&channel, listener)).map_err(|problem| {
        stderr_line!("keepalive: {problem}");
        NOT_SUPERVISED
    })
}

/// Replaces this process with the program, `supervisor` named in its environment; returns only
/// on failure, with the exit status a shell would give.
fn execute(path: &Path, name: &OsStr, arguments: &[OsString], supervisor: libc::pid_t) -> u8 {
    let marker = (OsString::from(SUPERVISOR_VARIABLE), OsString::from(supervisor.to_string()));
    let environment: Vec<OsString> = std::env::vars_os()
        .filter(|(name, _)| name != SUPERVISOR_VARIABLE)
        .chain([marker])
        .map(|(name, value)| {
            let mut entry = name;
            entry.push("=");
            entry.push(value);
            entry
        })
        .collect();
    launch::exec_failure(path, exec::replace_process(path, name, arguments, &environment))
}

/// Whether orphans in this process's tree are reparented to it, and so, after `execve`, to the
/// program: it is PID 1 of its namespace, or a child subreaper (kept across `execve`).
fn adopts_orphans() -> bool {
    let mut subreaper: libc::c_int = 0;
    // SAFETY: getpid cannot fail; PR_GET_CHILD_SUBREAPER writes an int into `subreaper`.
    unsafe {
        libc::getpid() == 1 || (libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &raw mut subreaper) == 0 && subreaper != 0)
    }
}

fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into `fds`.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The kernel's release, as `uname -r` shows it.
fn kernel_release() -> Option<String> {
    // SAFETY: all-zero is a valid utsname, which uname fills.
    let mut names: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes into `names`.
    if unsafe { libc::uname(&raw mut names) } != 0 {
        return None;
    }
    // SAFETY: the kernel NUL-terminates the field.
    let release = unsafe { CStr::from_ptr(names.release.as_ptr()) };
    Some(release.to_string_lossy().into_owned())
}

/// Whether a release such as `5.4.0-150-generic` is older than 5.8.
fn too_old(release: &str) -> bool {
    let mut numbers = release.split(|c: char| !c.is_ascii_digit()).map(|number| number.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) < (5, 8)
}

/// Starts the supervisor as a grandchild in a session of its own, and waits for its parent to
/// end, so that it is reparented to PID 1 or the nearest subreaper above this process, never to
/// the program (`run` does not come here when that would be the program). The supervisor keeps only
/// `channel`: holding the command's end too, it would never see the command end before handing
/// the listener over. The supervisor's parent exits with the error number of a `fork` that failed.
fn start_supervisor(channel: OwnedFd, commands_end: &OwnedFd, settings: Settings, verbose: bool) -> io::Result<()> {
    // SAFETY: this process has one thread; the child only calls async-signal-safe functions
    // before it forks again, and the grandchild runs ordinary code in a process of its own.
    let middle = unsafe { libc::fork() };
    if middle < 0 {
        return Err(io::Error::last_os_error());
    }
    if middle == 0 {
        // SAFETY: as above.
        unsafe {
            libc::close(commands_end.as_raw_fd());
            libc::setsid();
            match libc::fork() {
                0 => {}
                -1 => libc::_exit(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EAGAIN)),
                _ => libc::_exit(0),
            }
        }
        supervise(channel, settings, verbose);
    }
    drop(channel);
    let mut status = 0;
    // SAFETY: waits for the child just made.
    let waited = unsafe { libc::waitpid(middle, &raw mut status, 0) } == middle;
    if waited && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) != 0 {
        return Err(io::Error::from_raw_os_error(libc::WEXITSTATUS(status)));
    }
    Ok(())
}

/// The supervisor process: takes the listener, says it has it, and serves. Never returns.
fn supervise(channel: OwnedFd, settings: Settings, verbose: bool) -> ! {
    let user_stderr = serve::identity(2);
    let_go_of_the_programs_files(verbose);
    ignore_signals();
    close_all_above_2_but(&[channel.as_raw_fd()]);
    let listener = receive_listener(&channel);
    if let Some(listener) = listener {
        acknowledge(&channel);
        drop(channel);
        serve::Server::new(listener, trapped::Plan::new(settings), verbose, user_stderr).serve_until(None);
    }
    // SAFETY: ends this process without running the command's exit code.
    unsafe { libc::_exit(0) }
}

/// Says that the listener is safe here, so that the program may start, and gives this process's
/// ID, which `hand_over` returns.
fn acknowledge(channel: &OwnedFd) {
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() }.to_ne_bytes();
    // SAFETY: send reads 4 bytes from a valid buffer.
    unsafe { libc::send(channel.as_raw_fd(), pid.as_ptr().cast(), pid.len(), libc::MSG_NOSIGNAL) };
}

/// Lets go of what the supervisor must not hold: the program's standard input and output (a
/// reader of a pipe would wait for this process too), its error output unless `--verbose`
/// writes there, and its working directory; and takes the supervisor's name.
fn let_go_of_the_programs_files(verbose: bool) {
    // SAFETY: plain system calls on this process's own state.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            if !verbose {
                libc::dup2(null, 2);
            }
            libc::close(null);
        }
        libc::chdir(c"/".as_ptr());
        libc::prctl(libc::PR_SET_NAME, SUPERVISOR_NAME_C.as_ptr());
    }
}

/// No signal can end the supervisor, short of SIGKILL.
fn ignore_signals() {
    for signal in 1..=libc::SIGRTMAX() {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: ignoring a signal has no preconditions.
            unsafe { libc::signal(signal, libc::SIG_IGN) };
        }
    }
}

/// Closes every descriptor the command had when it forked, but 0, 1, 2 and `keep`: a pipe, lock
/// or readiness descriptor given to the program must close when the program closes it.
fn close_all_above_2_but(keep: &[RawFd]) {
    let mut kept = keep.to_vec();
    kept.sort_unstable();
    let mut ranges = Vec::new();
    let mut first = 3;
    for fd in kept.into_iter().filter(|&fd| fd >= 3) {
        ranges.push((first, fd - 1));
        first = fd + 1;
    }
    ranges.push((first, RawFd::MAX));
    for (first, last) in ranges.into_iter().filter(|(first, last)| first <= last) {
        // SAFETY: close_range (Linux 5.9) closes descriptors of this process only.
        if unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0) } == 0 {
            continue;
        }
        let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { continue };
        let open: Vec<RawFd> = entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok()).collect();
        for fd in open.into_iter().filter(|fd| (first..=last).contains(fd)) {
            // SAFETY: as above; the directory's own descriptor is closed already or fails harmlessly.
            unsafe { libc::close(fd) };
        }
    }
}

/// Sets `no_new_privs` and installs the filter on this process; returns the listener.
fn install_filter(program: &[libc::sock_filter]) -> Result<OwnedFd, String> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("cannot set no_new_privs: {}", io::Error::last_os_error()));
    }
    let fprog = filter::as_fprog(program);
    // SAFETY: fprog points at `program`, which outlives the call.
    let listener = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &raw const fprog,
        )
    };
    if listener < 0 {
        let error = io::Error::last_os_error();
        return Err(match error.raw_os_error() {
            Some(libc::EBUSY) => "this process is already under a seccomp supervisor (a filter with a listener); \
                                  the kernel allows one: use --via preload"
                .to_owned(),
            Some(libc::ENOSYS | libc::EINVAL | libc::EACCES | libc::EPERM) => format!(
                "seccomp user notification is not available here ({}); it needs Linux 5.8 or later and \
                 no sandbox that forbids seccomp(): use --via preload, or set keepalive in the program",
                launch::without_error_number(&error)
            ),
            _ => format!("cannot install the seccomp filter: {}", launch::without_error_number(&error)),
        });
    }
    // SAFETY: the kernel just returned this descriptor, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(listener as RawFd) })
}

/// Sends the listener to the supervisor and waits until it has it; our copy is closed. Returns
/// the supervisor's process ID.
fn hand_over(channel: &OwnedFd, listener: OwnedFd) -> Result<libc::pid_t, String> {
    let sent = send_descriptor(channel.as_raw_fd(), listener.as_raw_fd());
    drop(listener);
    sent.map_err(|error| {
        format!("cannot hand the listener to the supervisor: {}", launch::without_error_number(&error))
    })?;
    let mut pid = [0u8; 4];
    // SAFETY: reads at most 4 bytes into a valid buffer.
    let got = unsafe { libc::recv(channel.as_raw_fd(), pid.as_mut_ptr().cast(), pid.len(), 0) };
    if got != 4 {
        return Err("the supervisor did not start".to_owned());
    }
    Ok(libc::pid_t::from_ne_bytes(pid))
}

/// The supervisor the process was started under (from `KEEPALIVE_SUPERVISOR` in its
/// environment), and whether it still runs; `None` unless the process is under a seccomp filter
/// and was started so.
pub fn supervision(pid: u32) -> Option<(u32, bool)> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{SUPERVISOR_VARIABLE}=");
    let supervisor: u32 = environ
        .split(|&byte| byte == 0)
        .find_map(|entry| entry.strip_prefix(prefix.as_bytes()))
        .and_then(|value| std::str::from_utf8(value).ok()?.parse().ok())?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    if !status.lines().any(|line| line.split_whitespace().eq(["Seccomp:", "2"])) {
        return None;
    }
    let Some(supervisor) = seen_from_here(pid, supervisor) else {
        return Some((supervisor, false));
    };
    // `/proc/PID/stat`: `PID (comm) STATE ...`; a killed supervisor may linger as a zombie.
    let stat = std::fs::read_to_string(format!("/proc/{supervisor}/stat")).unwrap_or_default();
    let alive = stat
        .split_once(" (")
        .and_then(|(_, rest)| rest.rsplit_once(") "))
        .is_some_and(|(comm, state)| comm == SUPERVISOR_NAME && !state.starts_with(['Z', 'X']));
    Some((supervisor, alive))
}

/// The ID here of the process that process `pid`'s PID namespace calls `id`, which differ when
/// `pid` is in another namespace (a container's, whose PID 1 may be the supervisor); `None` when
/// no process here is that one. Without the right to read the namespaces, `id`.
fn seen_from_here(pid: u32, id: u32) -> Option<u32> {
    let namespace_of = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let (Some(namespace), Some(ours)) = (namespace_of(&pid.to_string()), namespace_of("self")) else {
        return Some(id);
    };
    if namespace == ours {
        return Some(id);
    }
    // `NSpid:` lists a process's ID in each namespace from ours down to its own.
    let own_id = |candidate: u32| {
        let status = std::fs::read_to_string(format!("/proc/{candidate}/status")).ok()?;
        let line = status.lines().find(|line| line.starts_with("NSpid:"))?;
        line.split_whitespace().last()?.parse::<u32>().ok()
    };
    let in_namespace = |candidate: u32| namespace_of(&candidate.to_string()).as_ref() == Some(&namespace);
    let entries = std::fs::read_dir("/proc").ok()?;
    let pids = entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok());
    pids.into_iter().find(|&candidate| own_id(candidate) == Some(id) && in_namespace(candidate))
}

/// For `keepalive --status PID`: the line saying the process is supervised, or was.
pub fn status_line(pid: u32) -> Option<String> {
    Some(match supervision(pid)? {
        (supervisor, true) => format!("supervised by keepalive (supervisor PID {supervisor}, --via seccomp)"),
        (supervisor, false) => format!(
            "started under a keepalive supervisor (PID {supervisor}) that no longer runs: \
             its connect, listen and accept calls fail with ENOSYS"
        ),
    })
}

/// Calls `use_message` with a message of one data byte and room for one descriptor.
fn with_message<R>(use_message: impl FnOnce(&mut libc::msghdr) -> R) -> R {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: all-zero is a valid msghdr; the fields set below point at buffers that outlive it.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &raw mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = space as _;
    use_message(&mut message)
}

fn send_descriptor(channel: RawFd, fd: RawFd) -> io::Result<()> {
    let sent = with_message(|message| {
        // SAFETY: the control buffer has room for one header and one descriptor.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(message);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
            libc::sendmsg(channel, message, libc::MSG_NOSIGNAL)
        }
    });
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The listener sent by `send_descriptor`, or `None` when the other end closed first.
fn receive_listener(channel: &OwnedFd) -> Option<OwnedFd> {
    with_message(|message| {
        loop {
            // SAFETY: the message describes valid buffers.
            let received = unsafe { libc::recvmsg(channel.as_raw_fd(), message, libc::MSG_CMSG_CLOEXEC) };
            if received > 0 {
                break;
            }
            if received == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return None;
            }
        }
        // SAFETY: the kernel filled the control buffer; a header, if any, is within it.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(message);
            if header.is_null() || (*header).cmsg_type != libc::SCM_RIGHTS {
                return None;
            }
            let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>());
            Some(OwnedFd::from_raw_fd(fd))
        }
    })
}

/// Why a program cannot run under the supervisor, found before anything starts.
pub fn refusal(path: &Path, allow_privilege_drop: bool) -> Option<String> {
    use crate::program::{self, Kind};
    if let Kind::Foreign(description) = program::kind(path) {
        return Some(format!(
            "{} is {description}: the supervisor's filter sees only this machine's 64-bit system calls",
            path.display()
        ));
    }
    if allow_privilege_drop {
        return None;
    }
    program::secure_execution(path).map(|reason| {
        format!(
            "{} is {reason}: under the supervisor (no_new_privs) it would run without those privileges; \
             add --allow-privilege-drop to run it so anyway, or use --via preload",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_older_than_5_8_are_too_old() {
        assert!(too_old("5.4.0-150-generic"));
        assert!(too_old("4.19.0"));
        assert!(too_old("2.6.58"));
        assert!(!too_old("5.8.0"));
        assert!(!too_old("5.15.0-91-generic"));
        assert!(!too_old("6.18.44-fc-v1045"));
    }
}
