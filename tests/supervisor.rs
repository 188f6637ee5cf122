//! `keepalive --via seccomp` and `--via auto`: programs the preload cannot reach (static C,
//! busybox, Go static and dynamic, PHP's sockets extension) get the options from the supervisor,
//! read back from the kernel through `keepalive --status` (getsockopt on a pidfd_getfd duplicate)
//! and seen on the wire; the program keeps its PID, exit status, signals and descriptors; each
//! failure is one line and an exit status.

mod common;
use common::netns::{Host, Lab, Process};
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

fn run(arguments: &[&str]) -> Output {
    keepalive(arguments).output().unwrap()
}

/// `wire` linked statically against `libc` (glibc or musl).
fn static_wire(libc: &str) -> PathBuf {
    built(&format!("target/c-tests/static-{libc}/wire"), &["c-tests/wire.c", "c-tests/check.h"])
}

/// tests/go/peer.go built `static` (CGO_ENABLED=0) or `dynamic`.
fn go_peer(linking: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let directory = BUILT.get_or_init(|| {
        for (name, cgo) in [("static", false), ("dynamic", true)] {
            go_build("peer.go", name, cgo);
        }
        root().join("target/go-tests")
    });
    let program = directory.join(linking);
    let has_loader = std::fs::read(&program).unwrap().windows(9).any(|window| window == b"/ld-linux");
    assert_eq!(has_loader, linking == "dynamic", "{} is {linking}", program.display());
    program
}

/// The KEEPALIVE column of the process's established connections, read back from the kernel.
fn established_keepalive(pid: u32) -> Vec<String> {
    let output = run(&["--status", &pid.to_string()]);
    assert!(output.status.success(), "{}", describe(&output));
    text(&output.stdout)
        .lines()
        .filter(|line| line.split_whitespace().nth(1) == Some("ESTABLISHED"))
        .map(|line| line.splitn(5, char::is_whitespace).last().unwrap_or_default().trim().to_owned())
        .map(|column| column.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
        .collect()
}

/// The processes in `host`'s namespace whose command line starts with `program`.
fn pids_running(host: &Host, program: &Path) -> Vec<u32> {
    let pids = Command::new("ip").args(["netns", "pids", &host.0]).output().unwrap();
    let wanted = program.as_os_str().as_encoded_bytes();
    text(&pids.stdout)
        .split_whitespace()
        .filter_map(|pid| pid.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| line.starts_with(wanted)))
        .collect()
}

/// The process in `host` running `program` with `word` in its command line, once there is one.
fn process_with(host: &Host, program: &Path, word: &str) -> u32 {
    let found = wait_for(Duration::from_secs(5), || {
        pids_running(host, program)
            .into_iter()
            .find(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| text(&line).contains(word)))
    });
    found.unwrap_or_else(|| panic!("no {} with {word:?} in {}", program.display(), host.0))
}

/// The KEEPALIVE column of every established connection of every process running `program`.
fn rows_of(host: &Host, program: &Path) -> Vec<String> {
    pids_running(host, program).into_iter().flat_map(established_keepalive).collect()
}

fn wait_listening(lab: &Lab, host: &Host, port: u16) {
    let listening = wait_for(Duration::from_secs(10), || {
        let output = lab.command(host, "ss").args(["-tlnH", &format!("sport = :{port}")]).output().unwrap();
        (!output.stdout.is_empty()).then_some(())
    });
    listening.unwrap_or_else(|| panic!("nothing listens on port {port}"));
}

/// `wire serve PORT` started in `host`, once it listens.
fn wire_server(lab: &mut Lab, host: &Host, wire: &Path, port: u16) -> Process {
    let server = lab.start(lab.command(host, wire).args(["serve", &port.to_string()]));
    wait_listening(lab, host, port);
    server
}

/// The state of `keepalive` run in `host` with `options`, then `program` and `arguments`.
fn start_under(lab: &mut Lab, host: &Host, options: &[&str], program: &Path, arguments: &[&str]) -> Process {
    let mut command = lab.command(host, command_path());
    command.args(options).arg("--").arg(program).args(arguments);
    lab.start(&mut command)
}

const EVERY_OPTION: [&str; 8] = ["--idle", "20", "--interval", "5", "--count", "3", "--user-timeout", "30s"];
const OURS: &str = "idle 20s intvl 5s cnt 3 user-timeout 30000ms";

#[test]
fn static_c_servers_and_clients_get_every_option_before_their_first_packet() {
    let Some(mut lab) = Lab::new("static C") else { return };
    let host = lab.host("h");
    for (port, libc) in [(7101, "glibc"), (7102, "musl")] {
        let wire = static_wire(libc);
        let options = [&["--via", "seccomp", "--verbose"], &EVERY_OPTION[..]].concat();
        let mut server = start_under(&mut lab, &host, &options, &wire, &["serve", &port.to_string()]);
        wait_listening(&lab, &host, port);
        let mut client = start_under(&mut lab, &host, &options, &wire, &["connect", "127.0.0.1", &port.to_string()]);
        client.expect("connected", Duration::from_secs(5));
        server.expect("accepted", Duration::from_secs(5));
        for (call, process) in [("listen()", &mut server), ("connect()", &mut client)] {
            let line = format!("fd 3 tcp {call}: keepalive on, idle 20s, intvl 5s, cnt 3, user timeout 30000ms");
            let said = process.saw(|seen| seen.ends_with(&line), Duration::from_secs(5));
            assert!(said, "{libc} {call}: {:?}", process.output(Duration::ZERO));
        }
        let rows = rows_of(&host, &wire);
        assert_eq!(rows.len(), 2, "{libc}: {rows:?}");
        for row in rows {
            assert!(row.starts_with(&format!("on, {OURS}")), "{libc}: {row}");
        }
        client.close_input();
        server.close_input();
    }
}

#[test]
fn go_keeps_its_own_15s_without_force_and_gets_ours_with_force() {
    let Some(mut lab) = Lab::new("Go") else { return };
    let host = lab.host("h");
    let cases = [("static", false, 7201), ("dynamic", false, 7202), ("static", true, 7203), ("dynamic", true, 7204)];
    for (linking, force, port) in cases {
        let peer = go_peer(linking);
        let address = format!("127.0.0.1:{port}");
        let mut options = vec!["--idle", "20", "--interval", "5", "--count", "3"];
        if force {
            options.push("--force");
        }
        // --via auto (the default) chooses the supervisor for a Go program.
        let mut server = start_under(&mut lab, &host, &options, &peer, &["serve", &address]);
        server.expect("listening", Duration::from_secs(10));
        let mut client = start_under(&mut lab, &host, &options, &peer, &["connect", &address]);
        client.expect("connected", Duration::from_secs(10));
        server.expect("accepted", Duration::from_secs(5));
        for pid in pids_running(&host, &peer) {
            let status = text(&run(&["--status", &pid.to_string()]).stdout);
            assert!(status.contains("supervised by keepalive"), "{linking}: {status}");
        }
        let rows = rows_of(&host, &peer);
        // Go sets idle and interval to 15 s itself, after connect() and accept(); the count it
        // leaves, so ours fills it in, as the library does.
        let expected = if force { "on, idle 20s intvl 5s cnt 3" } else { "on, idle 15s intvl 15s cnt 3" };
        assert_eq!(rows.len(), 2, "{linking}: {rows:?}");
        for row in &rows {
            assert!(row.starts_with(expected), "{linking}, force {force}: {row}");
        }
        report(&format!("Go {linking}, force {force}: {rows:?}"));
        client.close_input();
        server.close_input();
    }
}

/// The supervisor of a process started under it, from `keepalive --status`.
fn supervisor_of(pid: u32) -> u32 {
    let status = text(&run(&["--status", &pid.to_string()]).stdout);
    let after = status.split("supervisor PID ").nth(1).unwrap_or_else(|| panic!("not supervised: {status}"));
    after.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

#[test]
fn auto_supervises_static_and_go_programs_and_preloads_the_others() {
    let Some(mut lab) = Lab::new("auto") else { return };
    let host = lab.host("h");
    let cases = [(static_wire("musl"), "supervised by keepalive"), (c_program("glibc", "wire"), "libkeepalive loaded")];
    for (port, (program, expected)) in (7301..).zip(cases) {
        let mut server = start_under(&mut lab, &host, &["--idle", "20"], &program, &["serve", &port.to_string()]);
        wait_listening(&lab, &host, port);
        let pid = pids_running(&host, &program)[0];
        let status = text(&run(&["--status", &pid.to_string()]).stdout);
        assert!(status.contains(expected), "{}: {status}", program.display());
        // --status without PID: every process with TCP sockets, and what protects it.
        let overview = text(&run(&["--status"]).stdout);
        let row = overview.lines().find(|line| line.split_whitespace().next() == Some(&pid.to_string()));
        let protection = if expected.starts_with("supervised") { "supervisor (pid" } else { "library" };
        assert!(row.is_some_and(|row| row.contains(protection)), "{pid}: {overview}");
        let seen = server.output(Duration::from_millis(50)).to_vec();
        assert!(seen.iter().all(|line| !line.contains("warning")), "{seen:?}");
        server.close_input();
    }
}

#[test]
fn go_under_the_preload_is_warned_about() {
    let peer = go_peer("dynamic");
    let output = run(&["--via", "preload", peer.to_str().unwrap()]);
    let expected = format!(
        "keepalive: warning: {} is a Go program, which makes its own system calls: LD_PRELOAD cannot reach them",
        peer.display()
    );
    assert!(text(&output.stderr).starts_with(&expected), "{}", describe(&output));
    assert_eq!(output.status.code(), Some(2), "the program ran: {}", describe(&output));
}

#[test]
fn exit_status_and_death_by_signal_are_the_programs() {
    for via in [["--via", "seccomp"], ["--via", "auto"]] {
        let shell = if via[1] == "auto" { vec!["busybox", "sh"] } else { vec!["sh"] };
        let exited = run(&[&via[..], &shell[..], &["-c", "exit 7"]].concat());
        assert_eq!(exited.status.code(), Some(7), "{}", describe(&exited));
        assert_eq!(text(&exited.stderr), "", "nothing printed");
        let killed = run(&[&via[..], &shell[..], &["-c", "kill -TERM $$"]].concat());
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(killed.status.signal(), Some(libc::SIGTERM), "{}", describe(&killed));
    }
}

#[test]
fn the_program_keeps_the_command_pid_and_gets_its_signals() {
    let mut command = keepalive(&[
        "--via",
        "seccomp",
        "sh",
        "-c",
        "trap 'echo got USR1' USR1; trap 'echo got TERM; exit 3' TERM; echo pid $$; while :; do sleep 0.05; done",
    ]);
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    assert_eq!(lines.next().unwrap().unwrap(), format!("pid {pid}"), "the program has the command's PID");
    // SAFETY: kill takes a pid and a signal number and touches no memory of ours; `child` is not
    // waited for until the end, so `pid` is still its own.
    unsafe { libc::kill(pid as i32, libc::SIGUSR1) };
    assert_eq!(lines.next().unwrap().unwrap(), "got USR1");
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    let mut status = 0;
    // SAFETY: `status` is a live, writable c_int for waitpid to fill; with WUNTRACED it reports
    // the stop without reaping `child`, which `child.wait()` still does below.
    let stopped = unsafe { libc::waitpid(pid as i32, &mut status, libc::WUNTRACED) };
    assert!(stopped == pid as i32 && libc::WIFSTOPPED(status), "stop reaches the program");
    // SAFETY: as for SIGUSR1 above.
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    assert_eq!(lines.next().unwrap().unwrap(), "got TERM");
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

/// Each descriptor of the shell and what it is. What the shell opens itself (dash keeps
/// descriptor 10) and what this test process passes on are there without us too.
const DESCRIPTORS: &str = "cd /proc/$$/fd && for fd in *; do echo $fd $(readlink $fd | sed 's/:.*//'); done";

/// Checks that the program supervised saw only the descriptors it sees `bare`.
fn assert_only_the_programs_descriptors(bare: &Output, supervised: &Output) {
    assert!(supervised.status.success(), "{}", describe(supervised));
    let bare = text(&bare.stdout);
    for line in text(&supervised.stdout).lines() {
        assert!(bare.lines().any(|seen| seen == line), "{line:?} is ours: {bare:?}");
    }
    assert!(text(&supervised.stdout).lines().count() >= 3, "{}", describe(supervised));
}

#[test]
fn no_descriptor_of_ours_is_visible_to_the_program() {
    let bare = clean_command("sh").args(["-c", DESCRIPTORS]).output().unwrap();
    assert_only_the_programs_descriptors(&bare, &run(&["--via", "seccomp", "sh", "-c", DESCRIPTORS]));
}

#[test]
fn as_pid_1_no_descriptor_of_ours_is_visible_to_the_program_and_none_of_its_to_us() {
    let bare = in_a_pid_namespace("sh", &["-c", DESCRIPTORS]).output().unwrap();
    let supervised = in_a_pid_namespace(command_path(), &["--via", "seccomp", "sh", "-c", DESCRIPTORS]).output();
    assert_only_the_programs_descriptors(&bare, &supervised.unwrap());
    // PID 1 keeps only its signalfd and the listener, with its standard streams on /dev/null,
    // once it has closed the socket it handed the listener over with, right after it let the
    // program start: waited for (5 s at most) rather than assumed after a fixed pause.
    let listing = "i=0; while readlink /proc/1/fd/* 2>/dev/null | grep -q '^socket:' && [ $i -lt 100 ]; do \
                   sleep 0.05; i=$((i + 1)); done; cd /proc/1/fd && for fd in *; do echo $fd $(readlink $fd); done";
    let output = in_a_pid_namespace(command_path(), &["--via", "seccomp", "sh", "-c", listing]).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let held: Vec<String> =
        text(&output.stdout).lines().map(|line| line.split_once(' ').unwrap().1.to_owned()).collect();
    let expected = ["/dev/null", "/dev/null", "/dev/null", "anon_inode:[signalfd]", "anon_inode:seccomp notify"];
    assert_eq!(held, expected, "{}", describe(&output));
}

#[test]
fn as_pid_1_the_program_inherits_an_ignored_sigpipe_and_closed_descriptors() {
    for (ignore_sigpipe, closed) in [(true, &[0, 2][..]), (false, &[1][..])] {
        let bare = inherited_by_sh(in_a_pid_namespace("sh", &[]), ignore_sigpipe, closed);
        let supervised = in_a_pid_namespace(command_path(), &["--via", "seccomp", "sh"]);
        let supervised = inherited_by_sh(supervised, ignore_sigpipe, closed);
        assert_eq!(supervised, bare, "SIGPIPE ignored: {ignore_sigpipe}, closed: {closed:?}");
    }
}

/// A shell program that forks a subshell, which forks again and exits at once, leaving an orphan
/// that execs `wire`'s client to `port` later: a double-forking daemon, reparented away from the
/// program, which exits at once.
fn double_forking_client(wire: &Path, port: u16) -> String {
    let client = format!("exec {} connect 127.0.0.1 {port} </dev/null >/dev/null 2>&1", wire.display());
    format!("( (sleep 0.5; {client}) & ); exit 0")
}

#[test]
fn a_forked_daemon_stays_covered_and_the_supervisor_ends_with_it() {
    let Some(mut lab) = Lab::new("daemon") else { return };
    let host = lab.host("h");
    let wire = static_wire("glibc");
    let mut server = wire_server(&mut lab, &host, &wire, 7401);
    let daemon = double_forking_client(&wire, 7401);
    let mut command = lab.command(&host, command_path());
    command.args(["--via", "seccomp", "--idle", "20", "--", "sh", "-c", &daemon]);
    let started = command.output().unwrap();
    assert_eq!(started.status.code(), Some(0), "{}", describe(&started));
    server.expect("accepted", Duration::from_secs(5));
    let client = process_with(&host, &wire, "connect");
    let rows = established_keepalive(client);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].starts_with("on, idle 20s"), "{rows:?}");
    let supervisor = supervisor_of(client);
    assert!(alive(supervisor));
    // SAFETY: kill takes a pid and a signal number and touches no memory of ours; `client` is the
    // process just found running in the lab's namespace, not this one.
    unsafe { libc::kill(client as i32, libc::SIGKILL) };
    let ended = wait_for(Duration::from_secs(5), || (!alive(supervisor)).then_some(()));
    assert!(ended.is_some(), "the supervisor ends when the last supervised process does");
}

#[test]
fn the_supervisor_ignores_signals_and_only_sigkill_leaves_the_program_with_enosys() {
    let Some(mut lab) = Lab::new("killed") else { return };
    let host = lab.host("h");
    let wire = static_wire("musl");
    let mut server = wire_server(&mut lab, &host, &wire, 7501);
    let script = format!("read go; exec {} connect 127.0.0.1 7501", wire.display());
    for kill in [false, true] {
        let mut program =
            start_under(&mut lab, &host, &["--via", "seccomp", "--idle", "20"], Path::new("sh"), &["-c", &script]);
        let shell = process_with(&host, Path::new("sh"), "read go");
        let supervisor = supervisor_of(shell);
        let signals = [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGALRM,
            libc::SIGPIPE,
            libc::SIGTSTP,
            libc::SIGRTMIN(),
            libc::SIGRTMAX(),
        ];
        for signal in signals {
            // SAFETY: kill takes a pid and a signal number and touches no memory of ours;
            // `supervisor` is the supervisor process found in the lab's namespace, not this one.
            unsafe { libc::kill(supervisor as i32, signal) };
        }
        if kill {
            // SAFETY: as above.
            unsafe { libc::kill(supervisor as i32, libc::SIGKILL) };
            assert!(wait_for(Duration::from_secs(5), || (!alive(supervisor)).then_some(())).is_some());
            let status = text(&run(&["--status", &shell.to_string()]).stdout);
            let expected = format!("started under a keepalive supervisor (PID {supervisor}) that no longer runs");
            assert!(status.contains(&expected), "{status}");
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(alive(supervisor), !kill, "the supervisor outlives every signal but SIGKILL");
        program.send("go");
        if kill {
            program.expect("connect: Function not implemented", Duration::from_secs(5));
        } else {
            program.expect("connected", Duration::from_secs(5));
            server.expect("accepted", Duration::from_secs(5));
            let rows = established_keepalive(process_with(&host, &wire, "connect"));
            assert!(rows.first().is_some_and(|row| row.starts_with("on, idle 20s")), "{rows:?}");
            program.close_input();
        }
    }
}

/// `program` with `arguments` as PID 1 of a new PID namespace with its own /proc: unshare's
/// child, killed with the namespace after 10 s.
fn in_a_pid_namespace(program: impl AsRef<std::ffi::OsStr>, arguments: &[&str]) -> Command {
    let mut command = clean_command("timeout");
    command.args(["-s", "KILL", "10", "unshare", "--kill-child", "--pid", "--fork", "--mount-proc"]);
    command.arg(program).args(arguments);
    command
}

/// The command run by a child subreaper: `python`, a command for python3, sets
/// PR_SET_CHILD_SUBREAPER (36), which `execve` keeps, and becomes the command.
fn as_a_subreaper(mut python: Command, arguments: &[&str]) -> Command {
    let code = "import ctypes, os, sys\n\
                assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0\n\
                os.execv(sys.argv[1], sys.argv[1:])\n";
    python.args(["-c", code]).arg(command_path()).args(arguments);
    python
}

/// A child leading a process group, which is killed when the test ends, whether it passes or not.
struct Group(std::process::Child);

impl Group {
    fn spawn(command: &mut Command) -> Group {
        use std::os::unix::process::CommandExt;
        Group(command.stdout(Stdio::piped()).process_group(0).spawn().unwrap())
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill takes plain integers; the group is the child's own.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// The children of `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children.split_whitespace().filter_map(|child| child.parse().ok()).collect()
}

/// A field of `/proc/PID/status`, such as `PPid` or `NSpid`.
fn status_field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find_map(|line| line.strip_prefix(&format!("{name}:")));
    line.unwrap_or_default().trim().to_owned()
}

#[test]
fn as_pid_1_the_command_is_the_programs_parent_and_supervises_it() {
    let Some(mut lab) = Lab::new("pid 1") else { return };
    let host = lab.host("h");
    let wire = static_wire("musl");
    let mut server = wire_server(&mut lab, &host, &wire, 7601);
    let mut command = lab.command(&host, "unshare");
    command.args(["--kill-child", "--pid", "--fork", "--mount-proc"]).arg(command_path());
    command.args(["--via", "seccomp", "--verbose", "--idle", "20", "--"]).arg(&wire);
    let mut program = lab.start(command.args(["connect", "127.0.0.1", "7601"]));
    program.expect("connected", Duration::from_secs(5));
    // The program is PID 2; PID 1, the supervisor, writes its --verbose lines on standard error.
    let line = "stderr: keepalive[2]: fd 3 tcp connect(): keepalive on, idle 20s";
    assert!(program.saw(|seen| seen == line, Duration::from_secs(5)), "{:?}", program.output(Duration::ZERO));
    server.expect("accepted", Duration::from_secs(5));
    let client = process_with(&host, &wire, "connect");
    let rows = established_keepalive(client);
    assert!(rows.len() == 1 && rows[0].starts_with("on, idle 20s"), "{rows:?}");
    // `--status` from outside the namespace finds the supervisor the program's environment names
    // (KEEPALIVE_SUPERVISOR=1): the program's parent, PID 1 of the namespace.
    let supervisor = supervisor_of(client);
    assert_eq!(status_field(client, "PPid"), supervisor.to_string());
    assert_eq!(status_field(supervisor, "Name"), "keepalive-sup");
    let nspid = status_field(supervisor, "NSpid");
    assert_eq!(nspid.split_whitespace().last(), Some("1"), "{nspid}");
    program.close_input();
}

#[test]
fn as_pid_1_without_a_proc_of_its_own_a_threads_connection_is_configured() {
    // The thread's process is asked of a pidfd of the thread (Linux 6.13): /proc, the outer
    // namespace's here, names other processes by the IDs of the program and its thread.
    if kernel_older_than((6, 13)) {
        report("SKIPPED: a PID namespace without its own /proc needs PIDFD_GET_INFO, Linux 6.13");
        return;
    }
    let code = "import socket, threading\n\
                listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()\n\
                def keepalive(): return socket.create_connection(listener.getsockname()).getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)\n\
                seen = []\n\
                thread = threading.Thread(target=lambda: seen.append(keepalive())); thread.start(); thread.join()\n\
                print('thread', seen[0], 'main', keepalive())\n";
    let mut command = clean_command("timeout");
    command.args(["-s", "KILL", "10", "unshare", "--kill-child", "--pid", "--fork"]).arg(command_path());
    let output = command.args(["--via", "seccomp", "--idle", "30"]).arg(python3()).args(["-c", code]).output().unwrap();
    assert_eq!(text(&output.stdout), "thread 1 main 1\n", "{}", describe(&output));
}

/// A program that sets `net.ipv4.tcp_keepalive_time` to 45 in the network namespace it runs in,
/// then prints the idle time of a socket it connects (to nothing: the namespace's loopback is down).
const IDLE_AFTER_CONNECT_IN_ITS_NAMESPACE: &str = "import socket\n\
    open('/proc/sys/net/ipv4/tcp_keepalive_time', 'w').write('45')\n\
    s = socket.socket()\n\
    try: s.connect(('127.0.0.1', 9))\n\
    except OSError: pass\n\
    print('idle', s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))\n";

#[test]
fn as_pid_1_without_a_proc_of_its_own_the_programs_network_namespace_has_its_defaults() {
    // The program's idle time, 45 s, is its network namespace's default, not a choice of its own:
    // ours replaces it. /proc, the outer namespace's here, names kthreadd by the program's ID 2,
    // whose network namespace is not the program's.
    let mut command = clean_command("timeout");
    command.args(["-s", "KILL", "10", "unshare", "--kill-child", "--pid", "--fork"]).arg(command_path());
    command.args(["--via", "seccomp", "--verbose", "--idle", "30", "--", "unshare", "--net"]);
    let output = command.arg(python3()).args(["-c", IDLE_AFTER_CONNECT_IN_ITS_NAMESPACE]).output().unwrap();
    assert_eq!(text(&output.stdout), "idle 30\n", "{}", describe(&output));
    let line = "keepalive[2]: fd 3 tcp connect(): keepalive on, idle 30s\n";
    assert_eq!(text(&output.stderr), line, "{}", describe(&output));
}

/// `keepalive` with `arguments` run as nobody, then a python3 nobody may run (one under /root is
/// out of its reach) with `code`; `None` unless this is root.
fn as_nobody_python(arguments: &[&str], code: &str) -> Option<Output> {
    if text(&Command::new("id").arg("-u").output().unwrap().stdout).trim() != "0" {
        report("SKIPPED: switching to nobody needs root");
        return None;
    }
    let [command_copy] = copies_for_other_users([&command_path()]);
    let mut command = clean_command("setpriv");
    command.args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--inh-caps=-all"]);
    let system_python = Path::new("/usr/bin/python3");
    let python = if system_python.exists() { system_python.to_owned() } else { python3() };
    Some(command.arg(command_copy).args(arguments).arg(python).args(["-c", code]).output().unwrap())
}

#[test]
fn an_unprivileged_supervisor_tells_the_programs_own_timer_from_the_default() {
    // Without CAP_NET_ADMIN, SIOCGSKNS refuses to name the socket's network namespace: /proc does.
    let code = "import socket\n\
                s = socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 45)\n\
                try: s.connect(('127.0.0.1', 9))\n\
                except OSError: pass\n\
                print('idle', s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))\n";
    let Some(output) = as_nobody_python(&["--via", "seccomp", "--verbose", "--idle", "30"], code) else { return };
    assert_eq!(text(&output.stdout), "idle 45\n", "{}", describe(&output));
    let line = "]: fd 3 tcp connect(): keepalive on, idle kept as the program set it\n";
    assert!(text(&output.stderr).ends_with(line), "{}", describe(&output));
}

#[test]
fn a_process_the_supervisor_may_not_read_is_one_verbose_line_that_says_why() {
    // As nobody, the supervisor may not take the descriptors of a program that made itself not
    // dumpable (PR_SET_DUMPABLE, 4): before its first connect(), or after one it could.
    for connected_first in [false, true] {
        let code = format!(
            "import ctypes, os, socket\n\
             def connect():\n\
             \x20   s = socket.socket()\n\
             \x20   try: s.connect(('127.0.0.1', 9))\n\
             \x20   except OSError: pass\n\
             \x20   return s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)\n\
             print(os.getpid(), flush=True)\n\
             if {}: print('keepalive', connect(), flush=True)\n\
             assert ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0\n\
             print('keepalive', connect())\n",
            if connected_first { "True" } else { "False" }
        );
        let Some(output) = as_nobody_python(&["--via", "seccomp", "--verbose", "--idle", "30"], &code) else {
            return;
        };
        let stdout = text(&output.stdout);
        let (pid, rest) = stdout.split_once('\n').unwrap_or_default();
        let configured = format!("keepalive[{pid}]: fd 3 tcp connect(): keepalive on, idle 30s\n");
        let refused = format!(
            "keepalive[{pid}]: fd 3 connect(): untouched, permission denied: process {pid} is not dumpable \
             (set-user-ID, or PR_SET_DUMPABLE 0): run as root\n"
        );
        let (expected_stdout, expected_stderr) = if connected_first {
            ("keepalive 1\nkeepalive 0\n", configured + &refused)
        } else {
            ("keepalive 0\n", refused)
        };
        assert_eq!(rest, expected_stdout, "{}", describe(&output));
        assert_eq!(text(&output.stderr), expected_stderr, "{}", describe(&output));
    }
}

#[test]
fn a_thread_that_outlives_its_main_thread_gets_its_connection_configured() {
    // pidfd_getfd on the process's pidfd answers ESRCH once its main thread has exited; the
    // calling thread's own pidfd (PIDFD_THREAD, Linux 6.9) reaches the same descriptors.
    if kernel_older_than((6, 9)) {
        report("SKIPPED: a pidfd of a thread needs Linux 6.9");
        return;
    }
    for libc in ["musl", "glibc"] {
        let program = c_program(libc, "leaderless");
        let output = run(&["--via", "seccomp", "--verbose", "--idle", "30", program.to_str().unwrap()]);
        assert!(output.status.success(), "{libc}: {}", describe(&output));
        assert_eq!(text(&output.stdout), "keepalive 1 idle 30\n", "{libc}: {}", describe(&output));
        let stderr = text(&output.stderr);
        let lines = stderr.lines().filter_map(|line| line.split_once("]: ").map(|(_, rest)| rest));
        let connects: Vec<&str> = lines.filter(|line| line.contains("connect()")).collect();
        assert_eq!(connects, ["fd 4 tcp connect(): keepalive on, idle 30s"], "{libc}: {}", describe(&output));
    }
}

#[test]
fn as_pid_1_verbose_lines_to_a_closed_pipe_leave_the_program_supervised() {
    // The --verbose line for the program's connect meets a pipe without reader: PID 1 goes on
    // (a panic there would end the whole namespace), and the program ends as it would.
    let script = format!("{} connect 127.0.0.1 1; exit 6", static_wire("musl").display());
    let mut command = in_a_pid_namespace(command_path(), &["--via", "seccomp", "--verbose", "sh", "-c", &script]);
    let output = command.stderr(pipe_without_reader()).output().unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", describe(&output));
}

#[test]
fn as_pid_1_exit_status_is_the_programs_and_every_child_is_reaped() {
    let exited = in_a_pid_namespace(command_path(), &["--via", "seccomp", "sh", "-c", "exit 7"]).output().unwrap();
    assert_eq!(exited.status.code(), Some(7), "{}", describe(&exited));
    assert_eq!(text(&exited.stderr), "", "nothing printed");
    // PID 1 cannot die of its own signal: 128 + N, as tini gives.
    let killed =
        in_a_pid_namespace(command_path(), &["--via", "seccomp", "sh", "-c", "kill -TERM $$"]).output().unwrap();
    assert_eq!(killed.status.code(), Some(128 + libc::SIGTERM), "{}", describe(&killed));
    // A program that waits for all its children until ECHILD: the supervisor is none of them.
    let waits_for_all = "import os\n\
                         if os.fork() == 0: os._exit(3)\n\
                         try:\n\
                         \x20   while True: print('reaped', os.waitstatus_to_exitcode(os.wait()[1]), flush=True)\n\
                         except ChildProcessError: print('done', flush=True)\n";
    let python = python3();
    let output =
        in_a_pid_namespace(command_path(), &["--via", "seccomp", python.to_str().unwrap(), "-c", waits_for_all])
            .output()
            .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(text(&output.stdout), "reaped 3\ndone\n", "{}", describe(&output));
    // A double fork leaves an orphan, reparented to PID 1, which must reap it when it ends: a
    // zombie until then, so two processes are left once it is reaped (waited for, 5 s at most;
    // a process gone between listing /proc and reading its state is skipped). The orphan ends
    // once it is PID 1's (5 s at most): ending before, its parent would reap it.
    let orphans_one = "import os, sys, time\n\
                       if os.fork() == 0:\n\
                       \x20   if os.fork() == 0:\n\
                       \x20       deadline = time.monotonic() + 5\n\
                       \x20       while os.getppid() != 1 and time.monotonic() < deadline: time.sleep(0.01)\n\
                       \x20       os._exit(0)\n\
                       \x20   os._exit(0)\n\
                       os.wait()\n\
                       def states():\n\
                       \x20   found = []\n\
                       \x20   for p in filter(str.isdigit, os.listdir('/proc')):\n\
                       \x20       try: found.append(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0])\n\
                       \x20       except (FileNotFoundError, ProcessLookupError): pass\n\
                       \x20   return found\n\
                       deadline = time.monotonic() + 5\n\
                       while len(states()) > 2 and time.monotonic() < deadline: time.sleep(0.05)\n\
                       left = states()\n\
                       print('processes', len(left), 'zombies', left.count('Z'), flush=True)\n\
                       sys.exit(1 if 'Z' in left else 0)\n";
    let output = in_a_pid_namespace(command_path(), &["--via", "seccomp", python.to_str().unwrap(), "-c", orphans_one])
        .output()
        .unwrap();
    assert_eq!(text(&output.stdout), "processes 2 zombies 0\n", "{}", describe(&output));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn as_pid_1_failures_are_the_same_line_and_exit_status() {
    // Under a supervisor already: the child's filter gets EBUSY.
    let mut nested = keepalive(&["--via", "seccomp", "--", "unshare", "--pid", "--fork", "--mount-proc"]);
    let nested = nested.arg(command_path()).args(["--via", "seccomp", "true"]).output().unwrap();
    assert_eq!(nested.status.code(), Some(125), "{}", describe(&nested));
    assert!(text(&nested.stderr).starts_with("keepalive: this process is already under a seccomp supervisor"));
    assert_eq!(text(&nested.stderr).lines().count(), 1, "{}", describe(&nested));
    // seccomp() unavailable (noseccomp makes it fail with ENOSYS).
    let noseccomp = c_program("musl", "noseccomp");
    let command_path = command_path();
    let arguments = [command_path.to_str().unwrap(), "--via", "seccomp", "true"];
    let unavailable = in_a_pid_namespace(&noseccomp, &arguments).output().unwrap();
    assert_eq!(unavailable.status.code(), Some(125), "{}", describe(&unavailable));
    assert!(text(&unavailable.stderr).starts_with("keepalive: seccomp user notification is not available here"));
    assert_eq!(text(&unavailable.stderr).lines().count(), 1, "{}", describe(&unavailable));
    // A file that cannot be executed, as a shell says.
    let refused = in_a_pid_namespace(command_path, &["--via", "seccomp", "/etc/passwd"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(126), "{}", describe(&refused));
    assert_eq!(text(&refused.stderr), "keepalive: /etc/passwd: Permission denied\n");
}

#[test]
fn as_pid_1_a_signal_sent_from_outside_reaches_the_program() {
    let program = "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    let mut command = in_a_pid_namespace(command_path(), &["--via", "seccomp", "sh", "-c", program]);
    let mut timeout = Group::spawn(&mut command);
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(timeout.0.stdout.take().unwrap()));
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let unshare = children_of(timeout.0.id());
    let init = unshare.first().map(|&unshare| children_of(unshare)).unwrap_or_default();
    assert_eq!(init.len(), 1, "unshare's child: {init:?}");
    assert_eq!(status_field(init[0], "Name"), "keepalive-sup");
    // SAFETY: kill takes a pid and a signal number; `init` is the command this test started, still
    // running in its namespace (the program printed `ready` and waits).
    unsafe { libc::kill(init[0] as i32, libc::SIGTERM) };
    let status = timeout.0.wait().unwrap();
    assert_eq!(status.code(), Some(7), "the program's trap ran: {status:?}");
}

#[test]
fn as_a_child_subreaper_exit_status_death_and_stop_are_the_programs() {
    let exited =
        as_a_subreaper(clean_command(python3()), &["--via", "seccomp", "sh", "-c", "exit 7"]).output().unwrap();
    assert_eq!(exited.status.code(), Some(7), "{}", describe(&exited));
    assert_eq!(text(&exited.stderr), "", "nothing printed");
    use std::os::unix::process::ExitStatusExt;
    let killed =
        as_a_subreaper(clean_command(python3()), &["--via", "seccomp", "sh", "-c", "kill -QUIT $$"]).output().unwrap();
    assert_eq!(killed.status.signal(), Some(libc::SIGQUIT), "{}", describe(&killed));
    assert!(!killed.status.core_dumped(), "no core file of ours");
    // The program signals its parent, the command: that is not passed back to it.
    let arguments = ["--via", "seccomp", "sh", "-c", "kill -USR1 $PPID; sleep 0.3; exit 4"];
    let told = as_a_subreaper(clean_command(python3()), &arguments).output().unwrap();
    assert_eq!(told.status.code(), Some(4), "{}", describe(&told));
    // The program stops itself: the command goes on serving (stopped with it, it would wait for
    // a SIGCONT of its own while the program, continued alone, found its calls held), and a
    // SIGCONT to the program alone continues it. A stop sent to the command is passed on, and so
    // is the SIGCONT that follows. A signal sent to the command reaches the program, and one not
    // passed on leaves it running. The program gives up after 5 s.
    let program = "trap 'echo got USR1; exit 5' USR1; kill -STOP $$; echo continued; \
                   i=0; while [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done";
    let mut command = as_a_subreaper(clean_command(python3()), &["--via", "seccomp", "sh", "-c", program]);
    let mut child = Group::spawn(&mut command);
    let pid = child.0.id();
    let stopped = |pid: u32| status_field(pid, "State").starts_with('T');
    let program = wait_for(Duration::from_secs(5), || children_of(pid).into_iter().find(|&shell| stopped(shell)));
    let program = program.expect("the program stops itself");
    assert!(!stopped(pid), "the command goes on serving");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.0.stdout.take().unwrap()));
    let send = |pid: u32, signal: libc::c_int| {
        // SAFETY: kill takes a pid and a signal number; both processes are children not reaped
        // yet (the command of this test, the program of the command).
        unsafe { libc::kill(pid as i32, signal) };
    };
    send(program, libc::SIGCONT);
    assert_eq!(lines.next().unwrap().unwrap(), "continued");
    send(pid, libc::SIGTSTP);
    assert!(wait_for(Duration::from_secs(5), || stopped(program).then_some(())).is_some(), "TSTP passed on");
    assert!(!stopped(pid), "the command goes on serving");
    send(pid, libc::SIGCONT);
    assert!(wait_for(Duration::from_secs(5), || (!stopped(program)).then_some(())).is_some(), "CONT passed on");
    // Faults sent with kill() are ignored too (SIGSEGV twice: the Rust runtime's handler would
    // take the first); a real fault still ends the command, as the kernel forces it.
    let survived =
        [libc::SIGALRM, libc::SIGRTMIN() + 1, libc::SIGABRT, libc::SIGTRAP, libc::SIGSYS, libc::SIGBUS, libc::SIGSEGV];
    for signal in survived.into_iter().chain([libc::SIGSEGV, libc::SIGUSR1]) {
        send(pid, signal);
    }
    assert_eq!(lines.next().unwrap().unwrap(), "got USR1");
    assert_eq!(child.0.wait().unwrap().code(), Some(5));
}

/// What a terminal shows when `keys`, python statements, are typed at it while the command, a
/// child subreaper, runs python3 `program` as a job of a shell with job control: the job leads a
/// process group of its own, in the terminal's foreground, and the shell says when it stops (and
/// in what state the program is; then it continues it, as `fg` does) and when it ends. `keys` may
/// call `until(b'text')`, which waits until the terminal has shown `text`, and `os.write(terminal,
/// ...)`; echo is off, and so is the flush of what was written when a key sends a signal.
/// Bounded by `timeout`.
fn on_a_terminal(keys: &str, program: &str) -> Output {
    let terminal = "import ctypes, os, pty, re, signal, sys, termios, time\n\
                    pid, terminal = pty.fork()\n\
                    if pid == 0:\n\
                    \x20   attributes = termios.tcgetattr(0)\n\
                    \x20   attributes[3] = attributes[3] & ~termios.ECHO | termios.NOFLSH\n\
                    \x20   termios.tcsetattr(0, termios.TCSANOW, attributes)\n\
                    \x20   signal.signal(signal.SIGTTOU, signal.SIG_IGN)\n\
                    \x20   job = os.fork()\n\
                    \x20   if job == 0:\n\
                    \x20       os.setpgid(0, 0)\n\
                    \x20       os.tcsetpgrp(0, os.getpid())\n\
                    \x20       signal.signal(signal.SIGTTOU, signal.SIG_DFL)\n\
                    \x20       assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0\n\
                    \x20       os.execv(sys.argv[2], sys.argv[2:])\n\
                    \x20   while True:\n\
                    \x20       _, status = os.waitpid(job, os.WUNTRACED)\n\
                    \x20       if not os.WIFSTOPPED(status): break\n\
                    \x20       children = open(f'/proc/{job}/task/{job}/children').read().split()\n\
                    \x20       for _ in range(100):\n\
                    \x20           states = [open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0] for p in children]\n\
                    \x20           if 'R' not in states and 'S' not in states: break\n\
                    \x20           time.sleep(0.02)\n\
                    \x20       print('job stopped by', os.WSTOPSIG(status), 'program', *states, flush=True)\n\
                    \x20       os.tcsetpgrp(0, job)\n\
                    \x20       os.killpg(job, signal.SIGCONT)\n\
                    \x20   print('job exited', os.waitstatus_to_exitcode(status), 'end', flush=True)\n\
                    \x20   os._exit(0)\n\
                    seen = b''\n\
                    def until(text):\n\
                    \x20   global seen\n\
                    \x20   deadline = time.monotonic() + 5\n\
                    \x20   while text not in seen and time.monotonic() < deadline:\n\
                    \x20       try: seen += os.read(terminal, 1024)\n\
                    \x20       except OSError: break\n\
                    exec(sys.argv[1])\n\
                    until(b' end\\r\\n')\n\
                    print(seen.decode().replace('\\r', ''), end='')\n";
    let python = python3();
    let mut command = clean_command("timeout");
    command.args(["-s", "KILL", "10"]).arg(&python).args(["-c", terminal, keys]).arg(command_path());
    command.args(["--via", "seccomp", "--"]).arg(&python).args(["-c", program]).output().unwrap()
}

#[test]
fn as_a_child_subreaper_ctrl_z_stops_the_job_and_fg_continues_it() {
    // The program waits until it is continued (5 s at most), however long Ctrl-Z takes to come.
    let program = "import signal, time\n\
                   continued = []\n\
                   signal.signal(signal.SIGCONT, lambda *_: continued.append(1))\n\
                   print('ready', flush=True)\n\
                   deadline = time.monotonic() + 5\n\
                   while not continued and time.monotonic() < deadline: time.sleep(0.02)\n\
                   print('continued', flush=True)\n";
    let output = on_a_terminal("until(b'ready\\r\\n'); os.write(terminal, b'\\x1a')", program);
    let expected = format!("ready\njob stopped by {} program T\ncontinued\njob exited 0 end\n", libc::SIGTSTP);
    assert_eq!(text(&output.stdout), expected, "{}", describe(&output));
}

#[test]
fn as_a_child_subreaper_the_terminals_signals_are_not_passed_on_twice() {
    // Ctrl-C once the program has left the terminal's foreground group, then a SIGINT sent to
    // the command with kill(). Only the second may reach the program, passed on: the first the
    // terminal sends to its whole foreground group, which the program is normally in.
    let program = "import os, signal, time\n\
                   got = []\n\
                   signal.signal(signal.SIGINT, lambda *_: got.append(1))\n\
                   foreground = os.tcgetpgrp(0) == os.getppid()\n\
                   os.setpgid(0, 0)\n\
                   print('ready', os.getppid(), 'in the foreground group', foreground, flush=True)\n\
                   time.sleep(1)\n\
                   print('interrupts', len(got), flush=True)\n\
                   deadline = time.monotonic() + 3\n\
                   while not got and time.monotonic() < deadline: time.sleep(0.02)\n\
                   print('interrupts', len(got), flush=True)\n";
    let keys = "until(b'foreground'); os.write(terminal, b'\\x03'); until(b'interrupts 0');\
                os.kill(int(re.search(rb'ready (\\d+)', seen)[1]), signal.SIGINT)";
    let output = on_a_terminal(keys, program);
    let seen = text(&output.stdout);
    let lines: Vec<&str> = seen.lines().map(|line| line.split_once(" end").map_or(line, |(line, _)| line)).collect();
    assert_eq!(lines.len(), 4, "{}", describe(&output));
    assert!(lines[0].starts_with("ready ") && lines[0].ends_with(" in the foreground group True"), "{seen}");
    assert_eq!(lines[1..], ["interrupts 0", "interrupts 1", "job exited 0"], "{}", describe(&output));
}

#[test]
fn as_a_child_subreaper_ctrl_z_does_not_stop_the_command_without_the_program() {
    // The program leaves the terminal's foreground group, then Ctrl-Z: it is not for the program,
    // and the command, stopped alone, would hold the program's calls; so nothing stops.
    let program = "import os, time\n\
                   os.setpgid(0, 0)\n\
                   print('ready, out of the foreground group', flush=True)\n\
                   time.sleep(1)\n\
                   print('done', flush=True)\n";
    let output = on_a_terminal("until(b'group\\r\\n'); os.write(terminal, b'\\x1a')", program);
    let expected = "ready, out of the foreground group\ndone\njob exited 0 end\n";
    assert_eq!(text(&output.stdout), expected, "{}", describe(&output));
}

#[test]
fn as_a_child_subreaper_and_session_leader_a_hang_up_reaches_the_program() {
    // The terminal hangs up: the kernel sends SIGHUP to the session leader alone, here the
    // command, which must pass it on. The program ends with 9 if it gets it, 1 after 5 s if not.
    // The terminal hangs up once it has shown the whole line: python writes its end apart, and
    // that write would fail (EIO) on a terminal hung up before.
    let terminal = "import ctypes, os, pty, sys, time\n\
                    pid, terminal = pty.fork()\n\
                    if pid == 0:\n\
                    \x20   assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0\n\
                    \x20   os.execv(sys.argv[1], sys.argv[1:])\n\
                    seen = b''\n\
                    deadline = time.monotonic() + 5\n\
                    while b'ready\\r\\n' not in seen and time.monotonic() < deadline: seen += os.read(terminal, 1024)\n\
                    os.close(terminal)\n\
                    print('exited', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n";
    let program = "import os, signal, time\n\
                   signal.signal(signal.SIGHUP, lambda *_: os._exit(9))\n\
                   print('ready', flush=True)\n\
                   time.sleep(5)\n\
                   os._exit(1)\n";
    let python = python3();
    let mut command = clean_command("timeout");
    command.args(["-s", "KILL", "10"]).arg(&python).args(["-c", terminal]).arg(command_path());
    let output = command.args(["--via", "seccomp", "--"]).arg(&python).args(["-c", program]).output().unwrap();
    assert_eq!(text(&output.stdout), "exited 9\n", "{}", describe(&output));
}

#[test]
fn as_a_child_subreaper_a_double_forking_daemon_stays_covered_after_the_program_exits() {
    let Some(mut lab) = Lab::new("subreaper daemon") else { return };
    let host = lab.host("h");
    let wire = static_wire("glibc");
    let mut server = wire_server(&mut lab, &host, &wire, 7602);
    let marker = format!("SUPERVISOR_TEST_MARK=subreaper-{}", std::process::id());
    let (name, value) = marker.split_once('=').unwrap();
    // The orphan is reparented to the command, the subreaper, until the command exits.
    let daemon = double_forking_client(&wire, 7602);
    let python = lab.command(&host, python3());
    let started = as_a_subreaper(python, &["--via", "seccomp", "--idle", "20", "--", "sh", "-c", &daemon])
        .env(name, value)
        .output()
        .unwrap();
    assert_eq!(started.status.code(), Some(0), "{}", describe(&started));
    server.expect("accepted", Duration::from_secs(5));
    let client = process_with(&host, &wire, "connect");
    let rows = established_keepalive(client);
    assert!(rows.len() == 1 && rows[0].starts_with("on, idle 20s"), "{rows:?}");
    let left = supervisors_marked(&marker);
    assert_eq!(left.len(), 1, "one supervisor left for the daemon: {left:?}");
    // SAFETY: kill takes a pid and a signal number; `client` is the daemon found in the lab's
    // namespace, not this process.
    unsafe { libc::kill(client as i32, libc::SIGKILL) };
    let ended = wait_for(Duration::from_secs(5), || (!alive(left[0])).then_some(()));
    assert!(ended.is_some(), "the supervisor left behind ends with the daemon");
}

#[test]
fn busybox_nc_client_and_server() {
    let Some(mut lab) = Lab::new("busybox") else { return };
    let host = lab.host("h");
    let busybox = PathBuf::from("/bin/busybox");
    assert!(busybox.exists(), "busybox (Debian's busybox-static) is needed for these tests");
    let mut server = start_under(&mut lab, &host, &["--idle", "25"], &busybox, &["nc", "-l", "-p", "7701"]);
    wait_listening(&lab, &host, 7701);
    let mut client = start_under(&mut lab, &host, &["--idle", "25"], &busybox, &["nc", "127.0.0.1", "7701"]);
    client.send("hello");
    server.expect("hello", Duration::from_secs(5));
    let rows = rows_of(&host, &busybox);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|row| row.starts_with("on, idle 25s")), "{rows:?}");
    client.close_input();
}

#[test]
fn php_sockets_extension_under_the_supervisor() {
    let Some(mut lab) = Lab::new("php") else { return };
    let host = lab.host("h");
    let php = PathBuf::from("/usr/bin/php");
    assert!(php.exists(), "php (Debian's php-cli) is needed for these tests");
    let mut server = wire_server(&mut lab, &host, &static_wire("glibc"), 7801);
    let code = "$s = socket_create(AF_INET, SOCK_STREAM, SOL_TCP); \
                if (!socket_connect($s, '127.0.0.1', 7801)) exit(1); echo \"connected\\n\"; fgets(STDIN);";
    let mut client = start_under(&mut lab, &host, &["--via", "seccomp", "--idle", "21"], &php, &["-r", code]);
    client.expect("connected", Duration::from_secs(10));
    server.expect("accepted", Duration::from_secs(5));
    let rows = rows_of(&host, &php);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].starts_with("on, idle 21s"), "{rows:?}");
    client.close_input();
}

#[test]
fn failures_are_one_line_and_an_exit_status() {
    let directory = std::env::temp_dir().join(format!("keepalive-supervisor-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();

    // A kernel or sandbox without seccomp(): noseccomp makes it fail with ENOSYS.
    let mut command = clean_command(c_program("musl", "noseccomp"));
    command.arg(command_path()).args(["--via", "seccomp", "true"]);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(125), "{}", describe(&output));
    let line = text(&output.stderr);
    assert!(line.starts_with("keepalive: seccomp user notification is not available here"), "{line}");
    assert!(line.contains("use --via preload"), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");

    // A kernel too old: setarch's UNAME26 personality makes uname() report 2.6.
    let old = clean_command("setarch")
        .arg(std::env::consts::ARCH)
        .arg("--uname-2.6")
        .arg(command_path())
        .args(["--via", "seccomp", "true"])
        .output()
        .unwrap();
    assert_eq!(old.status.code(), Some(125), "{}", describe(&old));
    assert!(text(&old.stderr).starts_with("keepalive: Linux 2.6."), "{}", describe(&old));
    assert!(text(&old.stderr).contains("is too old for the supervisor, which needs 5.8"), "{}", describe(&old));
    assert_eq!(text(&old.stderr).lines().count(), 1);

    // The program installing its own notification filter: the kernel allows one (EBUSY).
    let nested = run(&["--via", "seccomp", command_path().to_str().unwrap(), "--via", "seccomp", "true"]);
    assert_eq!(nested.status.code(), Some(125), "{}", describe(&nested));
    assert!(text(&nested.stderr).starts_with("keepalive: this process is already under a seccomp supervisor"));
    assert_eq!(text(&nested.stderr).lines().count(), 1);

    // A 32-bit program: refused before it starts.
    let mut header = vec![0u8; 64];
    header[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1]);
    header[16] = 2;
    header[18] = 3;
    let program = directory.join("32-bit");
    std::fs::write(directory.join(".32-bit"), &header).unwrap();
    let installed = Command::new("install").arg("-m755").arg(directory.join(".32-bit")).arg(&program).status();
    assert!(installed.unwrap().success());
    let refused = run(&["--via", "seccomp", program.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(126), "{}", describe(&refused));
    assert_eq!(
        text(&refused.stderr),
        format!(
            "keepalive: {} is a 32-bit program: the supervisor's filter sees only this machine's 64-bit system calls\n",
            program.display()
        )
    );

    // A set-user-ID program would lose its privileges under no_new_privs: refused unless allowed.
    if text(&Command::new("id").arg("-u").output().unwrap().stdout).trim() != "0" {
        report("SKIPPED: a set-user-ID file owned by another user needs root");
        return;
    }
    let setuid = directory.join("setuid-true");
    assert!(
        Command::new("install")
            .arg("-m4755")
            .arg("-o")
            .arg("nobody")
            .arg("/bin/true")
            .arg(&setuid)
            .status()
            .unwrap()
            .success()
    );
    let refused = run(&["--via", "seccomp", setuid.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(126), "{}", describe(&refused));
    let expected = format!("keepalive: {} is set-user-ID: under the supervisor (no_new_privs)", setuid.display());
    assert!(text(&refused.stderr).starts_with(&expected), "{}", describe(&refused));
    let allowed = run(&["--via", "seccomp", "--allow-privilege-drop", setuid.to_str().unwrap()]);
    assert_eq!(allowed.status.code(), Some(0), "{}", describe(&allowed));
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn a_supervisor_that_cannot_be_forked_is_one_line_that_says_why() {
    if text(&Command::new("id").arg("-u").output().unwrap().stdout).trim() != "0" {
        report("SKIPPED: switching to nobody, whose processes RLIMIT_NPROC counts, needs root");
        return;
    }
    let [command_copy] = copies_for_other_users([&command_path()]);
    // With one process allowed, the command cannot fork; with two, it forks the supervisor's
    // parent, which cannot fork the supervisor.
    for processes in [1, 2] {
        let mut command = clean_command("setpriv");
        command.args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--inh-caps=-all"]);
        command.arg("prlimit").arg(format!("--nproc={processes}")).arg(&command_copy);
        let output = command.args(["--via", "seccomp", "true"]).output().unwrap();
        assert_eq!(output.status.code(), Some(125), "{processes}: {}", describe(&output));
        assert_eq!(
            text(&output.stderr),
            "keepalive: cannot start the supervisor: Resource temporarily unavailable\n",
            "{processes}"
        );
    }
}

#[test]
fn verbose_lines_name_sockets_as_the_librarys_do() {
    // A UDP and a Unix socket connected (no socket() trap told the supervisor that they are not
    // TCP), then an MPTCP listener and a client, where the kernel has MPTCP.
    let code = "import socket\n\
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.connect(('127.0.0.1', 9))\n\
                unix = socket.socket(socket.AF_UNIX)\n\
                try: unix.connect('/nonexistent')\n\
                except OSError: pass\n\
                try: listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\n\
                except OSError: raise SystemExit(0)\n\
                listener.bind(('127.0.0.1', 0)); listener.listen()\n\
                client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\n\
                client.connect(listener.getsockname())\n";
    let python = python3();
    let output = run(&["--via", "seccomp", "--verbose", "--idle", "30", python.to_str().unwrap(), "-c", code]);
    assert!(output.status.success(), "{}", describe(&output));
    let lines: Vec<String> = text(&output.stderr)
        .lines()
        .map(|line| line.split_once("]: ").map_or(line, |(_, rest)| rest).to_owned())
        .collect();
    let mut expected = vec!["fd 3 connect(): untouched, not TCP", "fd 4 connect(): untouched, not TCP"];
    if lines.len() == 2 {
        report("SKIPPED: MPTCP sockets, which this kernel does not have");
    } else {
        expected
            .extend(["fd 5 mptcp listen(): keepalive on, idle 30s", "fd 6 mptcp connect(): keepalive on, idle 30s"]);
    }
    assert_eq!(lines, expected, "{}", describe(&output));
}

/// A client host and a server host on one link: 10.0.0.1 and 10.0.0.2.
fn two_hosts(test: &str) -> Option<(Lab, Host, Host)> {
    let mut lab = Lab::new(test)?;
    let client = lab.host("c");
    let server = lab.host("s");
    lab.link(&client, "eth0", "10.0.0.1/24", &server, "eth0", "10.0.0.2/24");
    Some((lab, client, server))
}

#[test]
fn wire_a_static_client_finds_a_dead_peer_after_idle_plus_intvl_times_cnt() {
    let Some((mut lab, client_host, server_host)) = two_hosts("supervised dead peer") else { return };
    let mut server = wire_server(&mut lab, &server_host, &static_wire("musl"), 7001);
    let fast = ["--via", "seccomp", "--idle", "2", "--interval", "1", "--count", "3"];
    let mut client = start_under(&mut lab, &client_host, &fast, &static_wire("musl"), &["connect", "10.0.0.2", "7001"]);
    client.expect("connected", Duration::from_secs(5));
    server.expect("accepted", Duration::from_secs(5));
    client.close_input();
    lab.vanish(&server_host);
    let (_, line) = client.expect("read:", Duration::from_secs(9));
    let fields: Vec<&str> = line.split_whitespace().collect();
    let seconds: f64 = fields[3].parse().unwrap();
    report(&format!("supervised static client, idle 2 intvl 1 cnt 3: {line}"));
    assert_eq!(fields[1], "ETIMEDOUT", "{line}");
    assert!((4.0..=6.0).contains(&seconds), "{line}");
}

#[test]
fn wire_a_user_timeout_bounds_the_blocked_syn_of_a_static_client() {
    let Some((mut lab, client_host, server_host)) = two_hosts("supervised SYN") else { return };
    lab.vanish(&server_host);
    let options = ["--via", "seccomp", "--user-timeout", "3s"];
    let started = std::time::Instant::now();
    let mut client =
        start_under(&mut lab, &client_host, &options, &static_wire("glibc"), &["connect", "10.0.0.2", "7002"]);
    // Without the option set before the SYN, connect() would retry for about two minutes.
    client.expect("connect: ETIMEDOUT", Duration::from_secs(8));
    let seconds = started.elapsed().as_secs_f64();
    report(&format!("supervised static client, user timeout 3 s, SYN unanswered: ETIMEDOUT after {seconds:.3} s"));
    assert!((2.9..=5.0).contains(&seconds), "{seconds} s");
}

#[test]
fn a_fast_open_send_is_configured_and_io_uring_is_reported() {
    let Some(mut lab) = Lab::new("fast open") else { return };
    let host = lab.host("h");
    let mut server = wire_server(&mut lab, &host, &static_wire("musl"), 7901);
    let python = python3();
    // sendto(MSG_FASTOPEN) connects without connect(); io_uring_setup (425) opens a ring.
    let code = "import ctypes, socket, sys\n\
                s = socket.socket()\n\
                s.sendto(b'hello\\n', socket.MSG_FASTOPEN, ('127.0.0.1', 7901))\n\
                print('connected', flush=True)\n\
                params = ctypes.create_string_buffer(120)\n\
                ring = ctypes.CDLL(None, use_errno=True).syscall(425, 8, params)\n\
                print('ring', ring, flush=True)\n\
                sys.stdin.read()\n";
    let mut client = start_under(&mut lab, &host, &["--via", "seccomp", "--idle", "22"], &python, &["-c", code]);
    client.expect("connected", Duration::from_secs(10));
    server.expect("accepted", Duration::from_secs(5));
    let rows = rows_of(&host, &python);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].starts_with("on, idle 22s"), "{rows:?}");
    client.line("ring", Duration::from_secs(5));
    client.saw(|line| line.starts_with("stderr: keepalive: warning:"), Duration::from_secs(5));
    let seen = client.output(Duration::from_millis(200)).to_vec();
    assert!(
        seen.iter().any(|line| line.starts_with("ring ") && !line.ends_with("-1")),
        "io_uring still works: {seen:?}"
    );
    let warning = "set up io_uring: connections it makes or accepts through io_uring bypass the supervisor";
    let warnings: Vec<&String> = seen.iter().filter(|line| line.starts_with("stderr: keepalive: warning:")).collect();
    assert!(warnings.len() == 1 && warnings[0].contains(warning), "{seen:?}");
    client.close_input();
}

#[test]
fn an_unprivileged_user_is_supervised_too() {
    if text(&Command::new("id").arg("-u").output().unwrap().stdout).trim() != "0" {
        report("SKIPPED: switching to nobody needs root");
        return;
    }
    let Some(mut lab) = Lab::new("unprivileged") else { return };
    let host = lab.host("h");
    let wire = static_wire("musl");
    let mut server = wire_server(&mut lab, &host, &wire, 7951);
    let mut command = lab.command(&host, "setpriv");
    command.args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--inh-caps=-all"]);
    let [command_copy, wire_copy] = copies_for_other_users([&command_path(), &wire]);
    command.arg(command_copy).args(["--idle", "23", "--"]).arg(&wire_copy).args(["connect", "127.0.0.1", "7951"]);
    let mut client = lab.start(&mut command);
    client.expect("connected", Duration::from_secs(5));
    server.expect("accepted", Duration::from_secs(5));
    let rows = established_keepalive(process_with(&host, &wire_copy, "connect"));
    assert!(rows.len() == 1 && rows[0].starts_with("on, idle 23s"), "{rows:?}");
    client.close_input();
}

/// The `keepalive-sup` processes whose environment holds `marker`.
fn supervisors_marked(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm == "keepalive-sup\n"))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|environ| environ.split(|&byte| byte == 0).any(|entry| entry == marker.as_bytes()))
        })
        .collect()
}

#[test]
fn a_refused_start_leaves_no_supervisor_behind() {
    let marker = format!("SUPERVISOR_TEST_MARK=refused-{}", std::process::id());
    let (name, value) = marker.split_once('=').unwrap();
    let command = command_path();
    // The inner command is refused (EBUSY): its supervisor, and the outer one serving the inner
    // command's processes, must both end.
    let nested = keepalive(&["--via", "seccomp", command.to_str().unwrap(), "--via", "seccomp", "true"])
        .env(name, value)
        .output()
        .unwrap();
    assert_eq!(nested.status.code(), Some(125), "{}", describe(&nested));
    let gone = wait_for(Duration::from_secs(5), || supervisors_marked(&marker).is_empty().then_some(()));
    let left = supervisors_marked(&marker);
    for pid in &left {
        // SAFETY: kill takes a pid and a signal number; these are supervisors this test started.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    assert!(gone.is_some(), "supervisors left running: {left:?}");
}

#[test]
fn the_supervisor_holds_none_of_the_programs_descriptors() {
    let mut pipe = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `pipe`.
    assert_eq!(unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (reader, writer) = (pipe[0], pipe[1]);
    let mut command = keepalive(&["--via", "seccomp", "sh", "-c", "echo ready >&3; exec 3>&-; read go; exit 0"]);
    command.stdin(Stdio::piped()).stdout(Stdio::null());
    use std::os::unix::process::CommandExt;
    // SAFETY: dup2 is async-signal-safe; the pipe's write end becomes the program's descriptor 3.
    unsafe {
        command.pre_exec(move || if libc::dup2(writer, 3) < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) })
    };
    let mut child = command.spawn().unwrap();
    // SAFETY: the write end is this test's own descriptor, now passed on to the child.
    unsafe { libc::close(writer) };
    // Everything the pipe gives until its end, or what came within 3 seconds.
    let mut received = Vec::new();
    let ended = loop {
        let mut poll = libc::pollfd { fd: reader, events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd, waited on for at most 3 seconds.
        if unsafe { libc::poll(&raw mut poll, 1, 3000) } <= 0 {
            break false;
        }
        let mut buffer = [0u8; 64];
        // SAFETY: reads at most 64 bytes into `buffer`.
        let got = unsafe { libc::read(reader, buffer.as_mut_ptr().cast(), buffer.len()) };
        if got <= 0 {
            break true;
        }
        received.extend_from_slice(&buffer[..got as usize]);
    };
    let supervisor = supervisor_of(child.id());
    let held: Vec<String> = std::fs::read_dir(format!("/proc/{supervisor}/fd"))
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd: u32 = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?.to_string_lossy().into_owned();
            (fd > 2 && !target.starts_with("anon_inode:")).then(|| format!("{fd} {target}"))
        })
        .collect();
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    // SAFETY: the read end is this test's own descriptor.
    unsafe { libc::close(reader) };
    assert_eq!(text(&received), "ready\n");
    assert!(ended, "the pipe stays open after the program closed it");
    assert!(held.is_empty(), "the supervisor holds {held:?}");
    assert!(status.success());
}

#[test]
fn the_io_uring_warning_never_lands_in_the_programs_data() {
    let directory = std::env::temp_dir().join(format!("keepalive-uring-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let data = directory.join("data");
    // The program closes its standard error, opens a data file (descriptor 2), then io_uring_setup.
    let code = "import ctypes, os, sys\n\
                os.close(2)\n\
                fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n\
                params = ctypes.create_string_buffer(120)\n\
                ring = ctypes.CDLL(None, use_errno=True).syscall(425, 8, params)\n\
                print('fd', fd, 'ring', ring, flush=True)\n";
    let output = run(&["--via", "seccomp", python3().to_str().unwrap(), "-c", code, data.to_str().unwrap()]);
    let written = std::fs::read(&data).unwrap_or_default();
    std::fs::remove_dir_all(&directory).unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let seen = text(&output.stdout);
    assert!(seen.starts_with("fd 2 ring ") && !seen.trim_end().ends_with("-1"), "{}", describe(&output));
    assert_eq!(text(&written), "", "the program's data file");
}

#[test]
fn as_pid_1_without_a_proc_of_its_own_the_io_uring_warning_names_the_program() {
    // /proc, the outer namespace's here, names kthreadd by the program's ID 2.
    let code = "import ctypes\n\
                params = ctypes.create_string_buffer(120)\n\
                ctypes.CDLL(None, use_errno=True).syscall(425, 8, params)\n";
    let python = python3();
    let mut command = clean_command("timeout");
    command.args(["-s", "KILL", "10", "unshare", "--kill-child", "--pid", "--fork"]).arg(command_path());
    let output = command.args(["--via", "seccomp"]).arg(&python).args(["-c", code]).output().unwrap();
    let name: String = python.file_name().unwrap().to_str().unwrap().chars().take(15).collect();
    let warning = format!("keepalive: warning: {name}[2] set up io_uring: ");
    assert!(text(&output.stderr).starts_with(&warning), "{}", describe(&output));
}

#[test]
fn a_fast_open_sendmmsg_is_configured() {
    let Some(mut lab) = Lab::new("fast open sendmmsg") else { return };
    let host = lab.host("h");
    let mut server = wire_server(&mut lab, &host, &static_wire("musl"), 7911);
    let python = python3();
    // sendmmsg(MSG_FASTOPEN) connects without connect(): one message, to the peer in its msg_name.
    let code = "import ctypes, socket, struct, sys\n\
                c = ctypes\n\
                class Message(c.Structure):\n\
                \x20   _fields_ = [('name', c.c_void_p), ('namelen', c.c_uint32), ('iov', c.c_void_p),\n\
                \x20               ('iovlen', c.c_size_t), ('control', c.c_void_p), ('controllen', c.c_size_t),\n\
                \x20               ('flags', c.c_int), ('pad', c.c_int), ('len', c.c_uint), ('pad2', c.c_uint)]\n\
                class Iovec(c.Structure):\n\
                \x20   _fields_ = [('base', c.c_void_p), ('len', c.c_size_t)]\n\
                address = struct.pack('=H', socket.AF_INET) + struct.pack('!H', 7911) + socket.inet_aton('127.0.0.1')\n\
                name = c.create_string_buffer(address + bytes(8), 16)\n\
                data = c.create_string_buffer(b'hello\\n', 6)\n\
                iov = Iovec(c.addressof(data), 6)\n\
                message = Message(c.addressof(name), 16, c.addressof(iov), 1, None, 0, 0, 0, 0, 0)\n\
                s = socket.socket()\n\
                sent = c.CDLL(None, use_errno=True).sendmmsg(s.fileno(), c.byref(message), 1, socket.MSG_FASTOPEN)\n\
                print('sent', sent, c.get_errno(), flush=True)\n\
                sys.stdin.read()\n";
    let mut client = start_under(&mut lab, &host, &["--via", "seccomp", "--idle", "24"], &python, &["-c", code]);
    client.expect("sent 1", Duration::from_secs(10));
    server.expect("accepted", Duration::from_secs(5));
    let rows = rows_of(&host, &python);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].starts_with("on, idle 24s"), "{rows:?}");
    client.close_input();
}
