//! `keepalive --attach`: running processes that no library reaches (a static program) get the
//! options on the sockets they hold. Every value is read back from the kernel by `peek` (a
//! separate C program using pidfd_getfd) or `ss`, never from the command's own report.

mod common;
use common::netns::{Host, Lab};
use common::{Running, c_program, clean_command, command_path, copies_for_other_users, describe, report, spawn, text};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn keepalive() -> Command {
    clean_command(command_path())
}

fn attach(options: &[&str], pids: &[u32]) -> Output {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    keepalive().args(options).arg("--attach").args(&pids).output().unwrap()
}

fn holder() -> PathBuf {
    c_program("static", "holder")
}

/// A holder process, and its output lines.
struct Holder {
    running: Running,
    lines: BufReader<ChildStdout>,
}

impl Holder {
    fn start(command: Command) -> Holder {
        let mut running = spawn(command);
        let lines = BufReader::new(running.0.stdout.take().unwrap());
        Holder { running, lines }
    }

    fn with_arguments(arguments: &[&str]) -> Holder {
        let mut command = clean_command(holder());
        command.args(arguments);
        Holder::start(command)
    }

    fn pid(&self) -> u32 {
        self.running.0.id()
    }

    /// The next line, whose words after `start` are numbers: `listening fd 3 port 4000` gives [3, 4000].
    fn numbers(&mut self, start: &str) -> Vec<u32> {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        assert!(line.starts_with(start), "expected {start:?}, got {line:?}");
        line.split_whitespace().filter_map(|word| word.parse().ok()).collect()
    }

    /// The next line, whole.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        line
    }

    /// The rest of the output, once the process has ended with status 0.
    fn rest_after_success(mut self) -> String {
        let status = self.running.0.wait().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.lines, &mut rest).unwrap();
        assert_eq!(status.code(), Some(0), "{rest}");
        rest
    }
}

/// `keepalive ARGUMENTS --follow 100ms`, started, with its output lines.
fn follow(arguments: &[&str]) -> Holder {
    let mut command = keepalive();
    command.args(arguments).args(["--follow", "100ms"]);
    Holder::start(command)
}

/// `holder listen`: (holder, listening descriptor, port).
fn listener() -> (Holder, u32, u16) {
    let mut holder = Holder::with_arguments(&["listen"]);
    let numbers = holder.numbers("listening");
    (holder, numbers[0], numbers[1] as u16)
}

/// `holder connect 127.0.0.1 PORT [IDLE]`: (holder, its descriptor).
fn client(port: u16, idle: Option<&str>) -> (Holder, u32) {
    let port = port.to_string();
    let mut arguments = vec!["connect", "127.0.0.1", &port];
    arguments.extend(idle);
    let mut holder = Holder::with_arguments(&arguments);
    let fd = holder.numbers("connected")[0];
    (holder, fd)
}

/// The options the kernel holds for descriptor `fd` of `pid`, read by `peek`.
fn kernel(pid: u32, fd: u32) -> HashMap<String, i64> {
    let output = Command::new(c_program("glibc", "peek")).arg(pid.to_string()).arg(fd.to_string()).output().unwrap();
    assert!(output.status.success(), "peek: {}", describe(&output));
    let values = text(&output.stdout);
    let pairs = values.split_whitespace().filter_map(|pair| pair.split_once('='));
    pairs.map(|(name, value)| (name.to_owned(), value.parse().unwrap())).collect()
}

fn keepalive_and_idle(pid: u32, fd: u32) -> (i64, i64) {
    let values = kernel(pid, fd);
    (values["SO_KEEPALIVE"], values["TCP_KEEPIDLE"])
}

fn succeeded(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", describe(output));
    text(&output.stdout)
}

#[test]
fn an_idle_static_client_gets_the_options() {
    let (_server, _, port) = listener();
    let (client, fd) = client(port, None);
    let before = kernel(client.pid(), fd);
    assert_eq!(before["SO_KEEPALIVE"], 0);
    let output = attach(&["--idle", "20", "--interval", "5", "--count", "3"], &[client.pid()]);
    let stdout = succeeded(&output);
    let values = kernel(client.pid(), fd);
    assert_eq!(
        (values["SO_KEEPALIVE"], values["TCP_KEEPIDLE"], values["TCP_KEEPINTVL"], values["TCP_KEEPCNT"]),
        (1, 20, 5, 3),
        "{stdout}"
    );
    let expected = format!("pid {} fd {fd} tcp 127.0.0.1:", client.pid());
    let line = stdout.lines().find(|line| line.starts_with(&expected)).unwrap_or_else(|| panic!("{stdout}"));
    let wanted = format!(
        "> 127.0.0.1:{port} established: off, idle {}s intvl {}s cnt {} → on, idle 20s intvl 5s cnt 3",
        before["TCP_KEEPIDLE"], before["TCP_KEEPINTVL"], before["TCP_KEEPCNT"]
    );
    assert!(line.ends_with(&wanted), "{line:?} should end with {wanted:?}");
    assert!(stdout.contains("1 TCP socket: 1 configured, 0 left alone"), "{stdout}");
    // The kernel's timer runs: the next probe is at most 20 s away.
    let local_port: u16 = line.split_whitespace().nth(5).unwrap().rsplit(':').next().unwrap().parse().unwrap();
    let timer = common::keepalive_timer_ms(local_port, port).expect("a keepalive timer in ss");
    assert!(timer <= 20_000, "ss shows the next probe in {timer} ms");
}

#[test]
fn a_listener_passes_the_options_to_connections_accepted_later() {
    let (mut server, listening, port) = listener();
    let stdout = succeeded(&attach(&["--idle", "25"], &[server.pid()]));
    assert!(stdout.contains(" listening: off,"), "{stdout}");
    assert_eq!(keepalive_and_idle(server.pid(), listening), (1, 25));
    let _connection = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let accepted = server.numbers("accepted")[0];
    assert_eq!(keepalive_and_idle(server.pid(), accepted), (1, 25), "inherited from the listener");
}

#[test]
fn the_programs_own_timer_is_kept_unless_forced() {
    let (_server, _, port) = listener();
    let (client, fd) = client(port, Some("45"));
    let stdout = succeeded(&attach(&["--idle", "20", "--count", "4"], &[client.pid()]));
    assert!(stdout.contains("idle kept as the program set it"), "{stdout}");
    let values = kernel(client.pid(), fd);
    assert_eq!((values["SO_KEEPALIVE"], values["TCP_KEEPIDLE"], values["TCP_KEEPCNT"]), (1, 45, 4));

    let stdout = succeeded(&attach(&["--idle", "20"], &[client.pid()]));
    assert!(stdout.contains("left alone: keepalive on already"), "{stdout}");
    assert_eq!(keepalive_and_idle(client.pid(), fd), (1, 45));

    let stdout = succeeded(&attach(&["--idle", "20", "--force"], &[client.pid()]));
    assert!(stdout.contains("on, idle 45s intvl 75s cnt 4 → on, idle 20s"), "{stdout}");
    assert_eq!(keepalive_and_idle(client.pid(), fd), (1, 20));
}

/// A Go client (tests/go/dial.go, static) connected to `port`, with Go's own 15 s keepalive or
/// with keepalive off.
fn go_client(port: u16, go_keepalive: bool) -> Holder {
    static DIAL: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let program = DIAL.get_or_init(|| common::go_build("dial.go", "dial", false));
    let mut command = clean_command(program);
    command.arg(format!("127.0.0.1:{port}"));
    if go_keepalive {
        command.arg("go-keepalive");
    }
    let mut holder = Holder::start(command);
    holder.numbers("connected");
    holder
}

/// The descriptor `--attach` names for process `pid`'s one TCP socket.
fn attached_descriptor(stdout: &str, pid: u32) -> u32 {
    let prefix = format!("pid {pid} fd ");
    let line = stdout.lines().find_map(|line| line.strip_prefix(&prefix)).unwrap_or_else(|| panic!("{stdout}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_go_client_gets_the_options_and_keeps_its_own_unless_forced() {
    let (_server, _, port) = listener();
    let quiet = go_client(port, false);
    let stdout = succeeded(&attach(&["--idle", "20", "--count", "4"], &[quiet.pid()]));
    let fd = attached_descriptor(&stdout, quiet.pid());
    let values = kernel(quiet.pid(), fd);
    assert_eq!((values["SO_KEEPALIVE"], values["TCP_KEEPIDLE"], values["TCP_KEEPCNT"]), (1, 20, 4), "{stdout}");

    // Go's net package turns keepalive on at 15 s by itself: its choice, kept unless forced.
    let own = go_client(port, true);
    let stdout = succeeded(&attach(&["--idle", "20", "--count", "4"], &[own.pid()]));
    let fd = attached_descriptor(&stdout, own.pid());
    assert_eq!(keepalive_and_idle(own.pid(), fd), (1, 15), "{stdout}");
    let stdout = succeeded(&attach(&["--idle", "20", "--force"], &[own.pid()]));
    assert_eq!(keepalive_and_idle(own.pid(), fd), (1, 20), "{stdout}");
}

#[test]
fn peer_rules_choose_by_peer_and_side_by_role() {
    let (mut first_server, _, first_port) = listener();
    let (_second_server, _, second_port) = listener();
    let (first, first_fd) = client(first_port, None);
    // Connected is not accepted yet: until the server has accepted, it holds its listener alone.
    first_server.numbers("accepted");
    let (second, second_fd) = client(second_port, None);
    let stdout = succeeded(&attach(&["--only", &format!(":{first_port}")], &[first.pid(), second.pid()]));
    assert!(stdout.contains("left alone: peer not selected by --only/--skip"), "{stdout}");
    assert_eq!(kernel(first.pid(), first_fd)["SO_KEEPALIVE"], 1, "{stdout}");
    assert_eq!(kernel(second.pid(), second_fd)["SO_KEEPALIVE"], 0, "{stdout}");

    // The first server holds its listener and the connection it accepted: --side client leaves both.
    let stdout = succeeded(&attach(&["--side", "client"], &[first_server.pid()]));
    assert!(stdout.contains("2 TCP sockets: 0 configured, 2 left alone"), "{stdout}");
    assert!(stdout.contains("left alone: accepted or listening, --side client"), "{stdout}");
    let stdout = succeeded(&attach(&["--side", "server"], &[first_server.pid()]));
    assert!(stdout.contains("2 TCP sockets: 2 configured, 0 left alone"), "{stdout}");
}

/// README's and the man page's example, `--attach $(pidof legacy-daemon)`, as sh runs it: for a
/// daemon of several processes (a master and its workers) `pidof` names them all, and each gets
/// the options.
#[test]
fn the_documented_example_does_every_process_of_a_daemon() {
    let (_server, _, port) = listener();
    let (first, first_fd) = client(port, None);
    let (second, second_fd) = client(port, None);
    let bin = std::env::temp_dir().join(format!("keepalive-pidof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(command_path(), bin.join("keepalive")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // pidof names the two clients. A shell function, not a script written here: a child forked
    // meanwhile by another test could still hold the script open for writing when sh runs it
    // (ETXTBSY, "Text file busy").
    let pidof = format!("pidof() {{ echo {} {}; }}\n", first.pid(), second.pid());
    let page = |name: &str| std::fs::read_to_string(common::root().join(name)).unwrap();
    let readme = page("README.md");
    let once = readme.lines().find(|line| line.starts_with("keepalive ") && line.contains("pidof")).unwrap();
    let man = page("man/keepalive.1");
    let follow = man.lines().find(|line| line.starts_with("keepalive ") && line.contains("pidof")).unwrap();
    let follow = follow.replace("\\-", "-");

    let output = clean_command("sh").args(["-c", &format!("{pidof}{once}")]).env("PATH", &path).output().unwrap();
    let stdout = succeeded(&output);
    assert!(stdout.contains("2 processes, 2 TCP sockets: 2 configured, 0 left alone"), "{once}: {stdout}");
    assert_eq!(keepalive_and_idle(first.pid(), first_fd), (1, 60));
    assert_eq!(keepalive_and_idle(second.pid(), second_fd), (1, 60));

    // `--follow` ends once both have exited.
    let mut command = clean_command("sh");
    command.args(["-c", &format!("{pidof}{follow}")]).env("PATH", &path);
    let mut following = spawn(command);
    let mut lines = BufReader::new(following.0.stdout.take().unwrap());
    for pid in [first.pid(), second.pid()] {
        let mut line = String::new();
        while !line.starts_with(&format!("process {pid} ")) {
            line.clear();
            assert_ne!(lines.read_line(&mut line).unwrap(), 0, "{follow}: ended before the summary of {pid}");
        }
    }
    drop((first, second));
    let status = following.0.wait().unwrap();
    let _ = std::fs::remove_dir_all(&bin);
    assert_eq!(status.code(), Some(0), "{follow}");
}

/// A zombie (exited, not reaped yet: its PID still shows in `ps`) and PID 0 each get a line that
/// says so; the other processes are done, and the status is 1.
#[test]
fn a_zombie_and_pid_0_are_named_and_the_other_processes_done() {
    let (_server, _, port) = listener();
    let (client, fd) = client(port, None);
    // Not waited for until the end: a zombie once it has exited.
    let mut zombie = Command::new("true").spawn().unwrap();
    let stat = format!("/proc/{}/stat", zombie.id());
    let exited = common::wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&stat).unwrap().contains(") Z ").then_some(())
    });
    assert!(exited.is_some(), "`true` still runs");
    let output = attach(&["--idle", "20"], &[0, zombie.id(), client.pid()]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        format!(
            "keepalive: process 0: no such process\nkeepalive: process {}: exited, but its parent has not reaped it \
             yet (a zombie): it holds no sockets\n",
            zombie.id()
        )
    );
    assert_eq!(keepalive_and_idle(client.pid(), fd), (1, 20));
    zombie.wait().unwrap();
}

/// `keepalive --idle 23 --attach` of two idle clients, with `stdout` as its standard output;
/// checks that both got the options, whatever became of the report.
fn attach_two_clients(stdout: impl Into<Stdio>) -> Output {
    let (_server, _, port) = listener();
    let (first, first_fd) = client(port, None);
    let (second, second_fd) = client(port, None);
    let mut command = keepalive();
    command.args(["--idle", "23", "--attach", &first.pid().to_string(), &second.pid().to_string()]);
    let output = command.stdout(stdout).output().unwrap();
    assert_eq!(keepalive_and_idle(first.pid(), first_fd), (1, 23), "{}", describe(&output));
    assert_eq!(keepalive_and_idle(second.pid(), second_fd), (1, 23), "{}", describe(&output));
    output
}

/// `keepalive --attach ... | head -1`: a reader that stops reading ends the report, quietly, but
/// not the work: every process still gets the options, and the status is 0.
#[test]
fn a_reader_gone_from_the_output_stops_the_report_not_the_work() {
    let output = attach_two_clients(common::pipe_without_reader());
    assert_eq!((output.status.code(), text(&output.stderr)), (Some(0), String::new()), "{}", describe(&output));
}

/// `keepalive --attach ... >/dev/full`: the report ends at the first write, the work does not,
/// and the status is 1, as from `--status` and `--print-env`.
#[test]
fn an_output_that_cannot_be_written_stops_the_report_not_the_work_and_fails() {
    let output = attach_two_clients(std::fs::File::create("/dev/full").unwrap());
    let failed = (output.status.code(), text(&output.stderr));
    let line = "keepalive: cannot write output: No space left on device\n";
    assert_eq!(failed, (Some(1), line.to_owned()), "{}", describe(&output));
}

fn nobody() -> Command {
    let mut command = clean_command("/usr/bin/setpriv");
    command.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
    command
}

#[test]
fn a_caller_without_rights_is_refused_and_the_other_processes_done() {
    // SAFETY: geteuid takes no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        report("SKIPPED a_caller_without_rights_is_refused: running a process as nobody needs root");
        return;
    }
    let (_server, _, port) = listener();
    let (roots, roots_fd) = client(port, None);
    let [holder, keepalive] = copies_for_other_users([&holder(), &command_path()]);
    let mut command = nobody();
    command.arg(holder).args(["connect", "127.0.0.1", &port.to_string()]);
    let mut nobodys = Holder::start(command);
    let nobodys_fd = nobodys.numbers("connected")[0];
    let mut command = nobody();
    command.arg(keepalive).args(["--idle", "30", "--attach"]);
    command.arg(roots.pid().to_string()).arg(nobodys.pid().to_string());
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        format!("keepalive: process {}: permission denied: run as root or as uid 0\n", roots.pid())
    );
    assert_eq!(keepalive_and_idle(roots.pid(), roots_fd).0, 0);
    assert_eq!(keepalive_and_idle(nobodys.pid(), nobodys_fd), (1, 30), "{}", describe(&output));
}

#[test]
fn ten_thousand_sockets_in_one_pass() {
    let mut many = Holder::with_arguments(&["many", "5000"]);
    let fds = many.numbers("ready fds");
    let start = Instant::now();
    let output = attach(&["--idle", "20"], &[many.pid()]);
    let first = start.elapsed();
    let stdout = succeeded(&output);
    assert!(stdout.contains("10001 TCP sockets: 10001 configured, 0 left alone"), "{}", stdout.lines().last().unwrap());
    for fd in [fds[0], fds[0] + 1, (fds[0] + fds[1]) / 2, fds[1]] {
        assert_eq!(keepalive_and_idle(many.pid(), fd), (1, 20), "fd {fd}");
    }
    let start = Instant::now();
    let stdout = succeeded(&attach(&["--idle", "20"], &[many.pid()]));
    let second = start.elapsed();
    assert!(stdout.contains("10001 TCP sockets: 0 configured, 10001 left alone"), "{}", stdout.lines().last().unwrap());
    report(&format!(
        "attach to 10001 sockets: first pass {} ms, a pass with nothing to change {} ms",
        first.as_millis(),
        second.as_millis()
    ));
}

#[test]
fn follow_catches_new_connections_and_ends_cleanly() {
    let (_server, _, port) = listener();
    // A python client that opens one more connection for each line it reads, in another thread.
    let script = format!(
        "import socket, sys, threading\n\
         held = []\n\
         def work():\n    for line in sys.stdin:\n        held.append(socket.create_connection(('127.0.0.1', {port})))\n        print('connected', held[-1].fileno(), flush=True)\n\
         thread = threading.Thread(target=work)\n\
         thread.start()\n\
         print('thread', thread.native_id, flush=True)\n\
         thread.join()\n"
    );
    let mut command = clean_command(common::python3());
    command.args(["-c", &script]).stdin(Stdio::piped());
    let mut python = Holder::start(command);
    let thread = python.numbers("thread")[0];
    let mut follow = follow(&["--idle", "21", "--attach", &thread.to_string()]);
    assert_eq!(follow.line(), format!("thread {thread} is in process {}\n", python.pid()));
    let line = follow.line();
    assert_eq!(line, format!("process {} (python3): 0 TCP sockets: 0 configured, 0 left alone\n", python.pid()));

    let mut input = python.running.0.stdin.take().unwrap();
    writeln!(input).unwrap();
    let fd = python.numbers("connected")[0];
    let line = follow.line();
    assert!(line.starts_with(&format!("pid {} fd {fd} tcp ", python.pid())), "{line:?}");
    assert!(line.ends_with("→ on, idle 21s intvl 75s cnt 9\n"), "{line:?}");
    assert_eq!(keepalive_and_idle(python.pid(), fd), (1, 21));

    // The python program ends when its input does; --follow with it.
    drop(input);
    let rest = follow.rest_after_success();
    assert!(rest.starts_with(&format!("process {} (python3) exited\n", python.pid())), "{rest}");
    assert!(rest.contains("1 TCP socket: 1 configured, 0 left alone in "), "{rest}");
}

/// With peer rules, a socket not connected yet is looked at again on every pass; it is one
/// socket in the summaries all the same, left alone until it connects, then configured.
#[test]
fn follow_counts_a_socket_once_while_it_waits_to_be_connected() {
    let (_server, _, port) = listener();
    let script = format!(
        "import socket, sys\n\
         held = socket.socket()\n\
         print('made', held.fileno(), flush=True)\n\
         sys.stdin.readline()\n\
         held.connect(('127.0.0.1', {port}))\n\
         print('connected', held.fileno(), flush=True)\n\
         sys.stdin.read()\n"
    );
    let mut command = clean_command(common::python3());
    command.args(["-c", &script]).stdin(Stdio::piped());
    let mut python = Holder::start(command);
    let fd = python.numbers("made")[0];
    let mut follow = follow(&["--idle", "22", "--only", "127.0.0.0/8", "--attach", &python.pid().to_string()]);
    let first = follow.line() + &follow.line();
    assert!(first.contains(", left alone: not connected yet, no peer to judge by\n"), "{first}");
    assert!(first.ends_with(": 1 TCP socket: 0 configured, 1 left alone\n"), "{first}");
    // Several passes see it still waiting.
    std::thread::sleep(Duration::from_millis(600));

    let mut input = python.running.0.stdin.take().unwrap();
    writeln!(input).unwrap();
    assert_eq!(python.numbers("connected")[0], fd);
    let line = follow.line();
    assert!(line.starts_with(&format!("pid {} fd {fd} tcp ", python.pid())), "{line:?}");
    assert!(line.ends_with("→ on, idle 22s intvl 75s cnt 9\n"), "{line:?}");
    assert_eq!(keepalive_and_idle(python.pid(), fd), (1, 22));

    drop(input);
    let rest = follow.rest_after_success();
    assert!(rest.contains("\n1 TCP socket: 1 configured, 0 left alone in "), "{rest}");
}

#[test]
fn follow_stops_cleanly_on_sigterm() {
    let (server, _, _) = listener();
    let mut follow = keepalive();
    follow.args(["--attach", &server.pid().to_string(), "--follow"]);
    let mut follow = spawn(follow);
    let mut followed = BufReader::new(follow.0.stdout.take().unwrap());
    let mut line = String::new();
    followed.read_line(&mut line).unwrap();
    followed.read_line(&mut line).unwrap();
    assert!(line.contains("1 TCP socket: 1 configured"), "{line}");
    // SAFETY: kill takes a pid and a signal number and touches no memory of ours; `follow` is our
    // child, not yet waited for, so its pid is still its own.
    unsafe { libc::kill(follow.0.id() as i32, libc::SIGTERM) };
    let status = follow.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn status_lists_every_process_and_what_protects_it() {
    let (mut server, _, port) = listener();
    let (_client, _) = client(port, None);
    server.numbers("accepted");
    let mut preloaded = common::preloaded(c_program("glibc", "holder"));
    preloaded.arg("listen");
    let mut protected = Holder::start(preloaded);
    protected.numbers("listening");
    let output = keepalive().arg("--status").output().unwrap();
    let stdout = succeeded(&output);
    let row = |pid: u32| -> Vec<String> {
        let line = stdout.lines().find(|line| line.split_whitespace().next() == Some(&pid.to_string()));
        line.unwrap_or_else(|| panic!("no row for {pid} in\n{stdout}")).split_whitespace().map(str::to_owned).collect()
    };
    assert_eq!(row(server.pid())[1..], ["holder", "2", "0", "none"], "{stdout}");
    assert_eq!(row(protected.pid())[1..], ["holder", "1", "1", "library"], "{stdout}");
    assert!(stdout.lines().next().unwrap().starts_with("PID"), "{stdout}");
}

/// Python running `code`, whose main thread then exits (`pthread_exit`) while the threads `code`
/// started run on, with standard input a pipe.
fn leaderless_python(code: &str) -> Holder {
    let code = format!("{code}import ctypes\nctypes.CDLL(None).pthread_exit(None)\n");
    let mut command = clean_command(common::python3());
    command.args(["-c", &code]).stdin(Stdio::piped());
    Holder::start(command)
}

/// Waits until the main thread of `pid` has exited: the process's own state is then Z.
fn wait_until_the_main_thread_exited(pid: u32) {
    let stat = format!("/proc/{pid}/stat");
    let exited = common::wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&stat).unwrap().contains(") Z ").then_some(())
    });
    assert!(exited.is_some(), "the main thread still runs");
}

/// The old kernels' line for a process whose main thread has exited, reached only through it.
const MAIN_THREAD_EXITED: &str = "its main thread has exited while other threads run, and pidfd_getfd reaches \
                                  descriptors only through it: not supported";

/// A process whose main thread has exited while another runs (`pthread_exit` in `main`): its
/// own /proc entries are empty, its sockets are its threads'. `--status` lists them with their
/// options, read through a thread's pidfd (Linux 6.9; before, it says why they cannot be), and the
/// overview counts them.
#[test]
fn status_of_a_process_whose_main_thread_exited_lists_its_sockets() {
    let mut python = leaderless_python(
        "import socket, sys, threading\n\
         listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()\n\
         print('listening', listener.fileno(), listener.getsockname()[1], flush=True)\n\
         threading.Thread(target=sys.stdin.read).start()\n",
    );
    let numbers = python.numbers("listening");
    let pid = python.pid();
    wait_until_the_main_thread_exited(pid);

    let old_kernel = common::kernel_older_than((6, 9));
    let stdout = succeeded(&keepalive().args(["--status", &pid.to_string()]).output().unwrap());
    let keepalive_column = if old_kernel { "unknown" } else { "off" };
    let row = [
        numbers[0].to_string(),
        "LISTEN".into(),
        format!("127.0.0.1:{}", numbers[1]),
        "*".into(),
        keepalive_column.into(),
    ];
    assert!(stdout.lines().any(|line| line.split_whitespace().eq(row.iter().map(String::as_str))), "{stdout}");
    let count = "\n1 TCP socket, 0 with keepalive on\n";
    assert!(stdout.contains(count), "{stdout}");
    assert_eq!(stdout.contains(&format!("socket options not read ({MAIN_THREAD_EXITED})")), old_kernel, "{stdout}");
    let overview = succeeded(&keepalive().arg("--status").output().unwrap());
    let line = overview.lines().find(|line| line.split_whitespace().next() == Some(&pid.to_string()));
    let columns: Vec<&str> =
        line.unwrap_or_else(|| panic!("no row for {pid} in\n{overview}")).split_whitespace().collect();
    assert_eq!(columns[2..], ["1", if old_kernel { "?" } else { "0" }, "none"], "{overview}");
    drop(python.running.0.stdin.take());
}

/// `--attach` of a process whose main thread has exited goes through one of the threads left
/// (Linux 6.9), given the process's ID or the thread's; the options are read back through the
/// thread's pidfd. Before Linux 6.9 it says why it cannot.
#[test]
fn attach_reaches_a_process_whose_main_thread_exited() {
    let (_server, _, port) = listener();
    let mut python = leaderless_python(&format!(
        "import socket, sys, threading\n\
         held = socket.create_connection(('127.0.0.1', {port}))\n\
         def hold(): print('holding', held.fileno(), threading.get_native_id(), flush=True); sys.stdin.read()\n\
         threading.Thread(target=hold).start()\n"
    ));
    let numbers = python.numbers("holding");
    let (fd, tid) = (numbers[0], numbers[1]);
    let pid = python.pid();
    wait_until_the_main_thread_exited(pid);

    let output = attach(&["--idle", "21"], &[pid]);
    if common::kernel_older_than((6, 9)) {
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        assert_eq!(text(&output.stderr), format!("keepalive: process {pid}: {MAIN_THREAD_EXITED}\n"));
        return;
    }
    let stdout = succeeded(&output);
    let socket = format!("pid {pid} fd {fd} tcp 127.0.0.1:");
    let line = stdout.lines().find(|line| line.starts_with(&socket)).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains(&format!("> 127.0.0.1:{port} established: off, ")), "{line}");
    assert!(line.contains(" → on, idle 21s "), "{line}");
    assert!(stdout.ends_with(": 1 TCP socket: 1 configured, 0 left alone\n"), "{stdout}");
    assert_eq!(keepalive_and_idle(tid, fd), (1, 21));

    let stdout = succeeded(&attach(&["--force", "--idle", "23"], &[tid]));
    assert!(stdout.starts_with(&format!("thread {tid} is in process {pid}\n{socket}")), "{stdout}");
    assert_eq!(keepalive_and_idle(tid, fd), (1, 23));
    drop(python.running.0.stdin.take());
}

/// A line on the input of `python`, whose main thread has exited, has another thread connect and
/// print `connected FD TID`: `--follow` (`follow`, at idle 22 s) configures that connection, as
/// the kernel says through the thread. The end of the input then ends the program, and `--follow`
/// with status 0: its last lines.
fn a_threads_connection_is_followed_to_the_end(python: &mut Holder, mut follow: Holder) -> String {
    let pid = python.pid();
    let mut input = python.running.0.stdin.take().unwrap();
    writeln!(input).unwrap();
    let numbers = python.numbers("connected");
    let (fd, tid) = (numbers[0], numbers[1]);
    let line = follow.line();
    assert!(line.starts_with(&format!("pid {pid} fd {fd} tcp ")), "{line:?}");
    assert!(line.contains(" → on, idle 22s "), "{line:?}");
    assert_eq!(keepalive_and_idle(tid, fd), (1, 22));
    drop(input);
    follow.rest_after_success()
}

/// `--attach --follow` of a process whose main thread has exited: when the thread it goes
/// through exits too, it goes on through another, and says the process exited only when it has.
#[test]
fn follow_goes_on_through_another_thread_when_its_own_exits() {
    if common::kernel_older_than((6, 9)) {
        report("SKIPPED follow_goes_on_through_another_thread: a pidfd of a thread needs Linux 6.9");
        return;
    }
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    // The first thread, which --attach goes through, ends at the first line; the second then
    // connects, and ends with standard input.
    let mut python = leaderless_python(&format!(
        "import socket, sys, threading\n\
         first = threading.Thread(target=sys.stdin.readline); first.start()\n\
         def second():\n\
         \x20   first.join()\n\
         \x20   held = socket.create_connection(('127.0.0.1', {port}))\n\
         \x20   print('connected', held.fileno(), threading.get_native_id(), flush=True)\n\
         \x20   sys.stdin.read()\n\
         threading.Thread(target=second).start()\n"
    ));
    let pid = python.pid();
    wait_until_the_main_thread_exited(pid);
    let mut follow = follow(&["--idle", "22", "--attach", &pid.to_string()]);
    let first = follow.line();
    assert!(first.starts_with(&format!("process {pid} (")), "{first:?}");
    assert!(first.ends_with("): 0 TCP sockets: 0 configured, 0 left alone\n"), "{first:?}");

    let rest = a_threads_connection_is_followed_to_the_end(&mut python, follow);
    assert!(rest.starts_with(&format!("process {pid} (")), "{rest}");
    assert!(rest.contains(") exited\n1 TCP socket: 1 configured, 0 left alone in "), "{rest}");
}

/// `--attach --follow` of a process whose main thread exits later, while another runs on: the
/// process has not exited, and the connection the other thread then makes gets the options.
#[test]
fn follow_outlives_the_main_thread_of_a_process() {
    if common::kernel_older_than((6, 9)) {
        report("SKIPPED follow_outlives_the_main_thread: a pidfd of a thread needs Linux 6.9");
        return;
    }
    // The main thread ends at the first line; the other connects once it has, and ends with
    // standard input.
    let mut python = leaderless_python(
        "import socket, sys, threading, time\n\
         server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen()\n\
         def connect():\n\
         \x20   while ') Z ' not in open('/proc/self/stat').read(): time.sleep(0.01)\n\
         \x20   held = socket.create_connection(server.getsockname())\n\
         \x20   print('connected', held.fileno(), threading.get_native_id(), flush=True)\n\
         \x20   sys.stdin.read()\n\
         print('listening', server.fileno(), flush=True)\n\
         sys.stdin.readline()\n\
         threading.Thread(target=connect).start()\n",
    );
    let listening = python.numbers("listening")[0];
    let pid = python.pid();
    let mut follow = follow(&["--idle", "22", "--attach", &pid.to_string()]);
    let first = follow.line() + &follow.line();
    assert!(first.starts_with(&format!("pid {pid} fd {listening} tcp ")), "{first:?}");
    assert!(first.ends_with("): 1 TCP socket: 1 configured, 0 left alone\n"), "{first:?}");

    let rest = a_threads_connection_is_followed_to_the_end(&mut python, follow);
    assert!(rest.contains(") exited\n2 TCP sockets: 2 configured, 0 left alone in "), "{rest}");
}

/// A client in a namespace whose default idle is 600 s, to a server that then vanishes: after
/// attach, the client notices within idle + intvl x cnt. The namespace's default differs from
/// the host's, so a fresh-socket probe made in the wrong namespace would take the client's 600 s
/// for a choice of the program's and keep it.
#[test]
fn after_attach_a_dead_peer_is_found() {
    let Some(mut lab) = Lab::new("after_attach_a_dead_peer_is_found") else { return };
    let client_host = lab.host("c");
    let server_host = lab.host("s");
    lab.link(&client_host, "eth0", "10.0.0.1/24", &server_host, "eth0", "10.0.0.2/24");
    lab.sysctl(&client_host, "net.ipv4.tcp_keepalive_time", "600");
    let _server = lab.start(lab.command(&server_host, c_program("glibc", "wire")).args(["serve", "7000"]));
    let mut client = connect_when_listening(&mut lab, &client_host);
    let pid = namespace_pids(&client_host)[0];
    assert_eq!(keepalive_and_idle(pid, 3), (0, 600));
    let stdout = succeeded(&attach(&["--idle", "1", "--interval", "1", "--count", "2"], &[pid]));
    assert!(stdout.contains("off, idle 600s intvl 75s cnt 9 → on, idle 1s intvl 1s cnt 2"), "{stdout}");
    let vanished = Instant::now();
    lab.vanish(&server_host);
    let (_, line) = client.expect("read:", Duration::from_secs(10));
    let after = vanished.elapsed().as_secs_f64();
    assert!(line.starts_with("read: ") && line.contains("timed out after"), "{line}");
    assert!((1.5..6.0).contains(&after), "found after {after:.1} s; idle 1 + intvl 1 x cnt 2 = 3 s");
    report(&format!("dead peer found {after:.1} s after it vanished (idle 1s + intvl 1s x cnt 2)"));
}

fn connect_when_listening(lab: &mut Lab, host: &Host) -> common::netns::Process {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut client = lab.start(lab.command(host, holder()).args(["connect", "10.0.0.2", "7000"]));
        match client.line("", Duration::from_secs(5)) {
            Some((_, line)) if line.starts_with("connected fd 3") => return client,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("cannot connect: {other:?}"),
        }
    }
}

fn namespace_pids(host: &Host) -> Vec<u32> {
    let output = Command::new("ip").args(["netns", "pids", &host.0]).output().unwrap();
    text(&output.stdout).split_whitespace().map(|pid| pid.parse().unwrap()).collect()
}

#[test]
fn a_process_that_is_not_dumpable_is_refused_with_the_reason() {
    // SAFETY: geteuid takes no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        report("SKIPPED a_process_that_is_not_dumpable: running a process as nobody needs root");
        return;
    }
    let (_server, _, port) = listener();
    let script = format!(
        "import ctypes, socket, sys\n\
         ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0\n\
         held = socket.create_connection(('127.0.0.1', {port}))\n\
         print('connected', held.fileno(), flush=True)\n\
         sys.stdin.read()\n"
    );
    let mut command = nobody();
    command.arg(common::python3()).args(["-c", &script]).stdin(Stdio::piped());
    let mut python = Holder::start(command);
    let fd = python.numbers("connected")[0];
    let mut command = nobody();
    let [keepalive] = copies_for_other_users([&command_path()]);
    command.arg(keepalive).args(["--attach", &python.pid().to_string()]);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let pid = python.pid();
    assert_eq!(
        text(&output.stderr),
        format!(
            "keepalive: process {pid}: permission denied: process {pid} is not dumpable (set-user-ID, or \
             PR_SET_DUMPABLE 0): run as root\n"
        )
    );
    assert_eq!(keepalive_and_idle(pid, fd).0, 0);
    // Root may.
    succeeded(&attach(&[], &[pid]));
    assert_eq!(keepalive_and_idle(pid, fd).0, 1);
}
