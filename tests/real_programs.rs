//! Real, unmodified programs under the library, checked from the kernel's side: `ss -tno` must
//! show a keepalive timer near the configured idle time on their connections, and none without
//! the library.

mod common;
use common::*;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Accepts the client's connection on `listener` within a few seconds; returns the client's port.
fn accept_client(listener: &TcpListener) -> (TcpStream, u16) {
    listener.set_nonblocking(true).unwrap();
    let accepted = wait_for(Duration::from_secs(10), || listener.accept().ok()).expect("the client connects");
    let (stream, peer) = accepted;
    (stream, peer.port())
}

/// Asserts that the connection's keepalive timer is running, between `low` and `high` seconds.
fn assert_timer(local: u16, remote: u16, low: u64, high: u64, what: &str) {
    let timer = wait_for(Duration::from_secs(3), || keepalive_timer_ms(local, remote));
    let timer = timer.unwrap_or_else(|| panic!("{what}: no keepalive timer on {local} -> {remote}"));
    report(&format!("{what}: keepalive timer {timer} ms"));
    assert!((low * 1000..=high * 1000).contains(&timer), "{what}: timer {timer} ms, expected {low}..{high} s");
}

fn assert_no_timer(local: u16, remote: u16, what: &str) {
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(keepalive_timer_ms(local, remote), None, "{what}: a keepalive timer without the library");
}

/// Which end of the connection the program is.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// It connects to a listener of the test's.
    Client,
    /// It listens; the test connects to it.
    Server,
}

/// How the library reaches the program.
#[derive(Clone, Copy)]
enum Launch {
    /// `LD_PRELOAD` on the program's own command line.
    Preload,
    /// `scripts/container-entrypoint.sh PROGRAM ARGS...`, which exports `LD_PRELOAD` and `exec`s it.
    Entrypoint,
}

/// A real program from Debian that never sets keepalive itself, and how to start it. `{port}` in
/// `args` is the port it connects to or listens on. Add a row to check another program.
struct Program {
    name: &'static str,
    side: Side,
    launch: Launch,
    args: &'static [&'static str],
}

const PYTHON_CLIENT: &str = "import socket, sys, time\n\
    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
    time.sleep(20)";
const PYTHON_SERVER: &str = "import socket, sys, time\n\
    l = socket.socket()\n\
    l.bind(('127.0.0.1', int(sys.argv[1])))\n\
    l.listen()\n\
    c, _ = l.accept()\n\
    time.sleep(20)";
const PERL_CLIENT: &str =
    "use IO::Socket::INET; my $s = IO::Socket::INET->new(qq(127.0.0.1:$ARGV[0])) or die; sleep 20";
const REDIS: &[&str] =
    &["redis-server", "--bind", "127.0.0.1", "--port", "{port}", "--save", "", "--tcp-keepalive", "0"];

const fn client(name: &'static str, args: &'static [&'static str]) -> Program {
    Program { name, side: Side::Client, launch: Launch::Preload, args }
}

const fn server(name: &'static str, args: &'static [&'static str]) -> Program {
    Program { name, side: Side::Server, launch: Launch::Preload, args }
}

const PROGRAMS: &[Program] = &[
    client("python3 socket client", &["python3", "-c", PYTHON_CLIENT, "{port}"]),
    client("curl --no-keepalive", &["curl", "-s", "--max-time", "15", "--no-keepalive", "http://127.0.0.1:{port}/"]),
    client(
        "wget --no-http-keep-alive",
        &[
            "wget",
            "-q",
            "-O",
            "/dev/null",
            "--tries",
            "1",
            "--timeout",
            "15",
            "--no-http-keep-alive",
            "http://127.0.0.1:{port}/",
        ],
    ),
    client("socat client", &["socat", "-u", "TCP:127.0.0.1:{port}", "STDOUT"]),
    client("nc (OpenBSD) client", &["nc.openbsd", "-d", "127.0.0.1", "{port}"]),
    client("perl IO::Socket client", &["perl", "-e", PERL_CLIENT, "{port}"]),
    server("python3 socket server", &["python3", "-c", PYTHON_SERVER, "{port}"]),
    server("python3 -m http.server", &["python3", "-m", "http.server", "--bind", "127.0.0.1", "{port}"]),
    server("socat server", &["socat", "-u", "TCP-LISTEN:{port},bind=127.0.0.1", "STDOUT"]),
    server("nc (OpenBSD) server", &["nc.openbsd", "-d", "-l", "127.0.0.1", "{port}"]),
    server("redis-server --tcp-keepalive 0", REDIS),
    Program { launch: Launch::Entrypoint, ..server("redis-server from a container entrypoint", REDIS) },
];

/// The program's command, with `{port}` filled in, under the library or not.
fn command(program: &Program, port: u16, preload: bool) -> Command {
    let args: Vec<String> = program.args.iter().map(|arg| arg.replace("{port}", &port.to_string())).collect();
    let executable = if args[0] == "python3" { python3().into_os_string() } else { args[0].clone().into() };
    let mut command = match (preload, program.launch) {
        (false, _) => clean_command(executable),
        (true, Launch::Preload) => preloaded(executable),
        (true, Launch::Entrypoint) => {
            let mut command = clean_command(root().join("scripts/container-entrypoint.sh"));
            command.env("KEEPALIVE_LIBRARY", library()).arg(executable);
            command
        }
    };
    command.args(&args[1..]).env("KEEPALIVE_IDLE", "20");
    command
}

/// Starts the program and returns it with the test's end of its connection, the program's port
/// and the test's port.
fn connection(program: &Program, preload: bool) -> (Running, TcpStream, u16, u16) {
    if program.side == Side::Client {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let running = spawn(command(program, port, preload));
        let (stream, client_port) = accept_client(&listener);
        return (running, stream, client_port, port);
    }
    on_free_ports(|[port]| {
        let mut command = command(program, port, preload);
        let mut running = Running(command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("program starts"));
        // The program exits when another process took the port first.
        let listening = wait_for(Duration::from_secs(10), || match running.0.try_wait() {
            Ok(Some(status)) => Some(Err(PortTaken(format!("{} exited with {status}", program.name)))),
            _ => TcpStream::connect(("127.0.0.1", port)).ok().map(Ok),
        });
        let stream = listening.unwrap_or_else(|| panic!("{} never listened", program.name))?;
        let test_port = stream.local_addr().unwrap().port();
        Ok((running, stream, port, test_port))
    })
}

fn check_programs(side: Side) {
    for program in PROGRAMS.iter().filter(|program| program.side == side) {
        let (_running, _stream, local, remote) = connection(program, true);
        assert_timer(local, remote, 15, 20, &format!("{}, KEEPALIVE_IDLE=20", program.name));
        let (_running, _stream, local, remote) = connection(program, false);
        assert_no_timer(local, remote, program.name);
        report(&format!("{}: no keepalive timer without the library", program.name));
    }
}

#[test]
fn client_programs() {
    check_programs(Side::Client);
}

#[test]
fn server_programs_accepted_connections() {
    check_programs(Side::Server);
}

#[test]
fn curl_keeps_its_own_keepalive_settings() {
    // Without --no-keepalive, curl turns keepalive on itself with a 60 s idle time, after
    // socket(): the program's own choice wins over KEEPALIVE_IDLE.
    let curl = client("curl", &["curl", "--silent", "--max-time", "15", "http://127.0.0.1:{port}/"]);
    let (_curl, _stream, local, remote) = connection(&curl, true);
    assert_timer(local, remote, 55, 60, "curl with its own keepalive, KEEPALIVE_IDLE=20");
}

#[test]
fn no_descriptor_is_left_open() {
    let list = |mut command: Command| text(&command.args(["-1", "/proc/self/fd"]).output().unwrap().stdout);
    assert_eq!(list(preloaded("ls")), list(clean_command("ls")));
    let mut debug = preloaded("ls");
    debug.env("KEEPALIVE_DEBUG", "1").env("KEEPALIVE_IDLE", "abc");
    assert_eq!(list(debug), list(clean_command("ls")));
}

#[test]
fn ss_durations() {
    assert_eq!(parse_ss_duration("19sec"), Some(19_000));
    assert_eq!(parse_ss_duration("1min29sec"), Some(89_000));
    assert_eq!(parse_ss_duration("12min"), Some(720_000));
    assert_eq!(parse_ss_duration("996ms"), Some(996));
    assert_eq!(parse_ss_duration("2.864ms"), Some(2_864));
    assert_eq!(parse_ss_duration("later"), None);
}
