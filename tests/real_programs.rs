//! Real, unmodified programs under the library, checked from the kernel's side: `ss -tno` must
//! show a keepalive timer near the configured idle time on their connections.

mod common;
use common::*;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
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
    println!("{what}: keepalive timer {timer} ms");
    assert!((low * 1000..=high * 1000).contains(&timer), "{what}: timer {timer} ms, expected {low}..{high} s");
}

fn assert_no_timer(local: u16, remote: u16, what: &str) {
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(keepalive_timer_ms(local, remote), None, "{what}: a keepalive timer without the library");
}

const PYTHON_CLIENT: &str = "import socket, sys, time\n\
    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
    time.sleep(20)";

#[test]
fn python_client() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let mut command = preloaded(python3());
    command.args(["-c", PYTHON_CLIENT, &port.to_string()]).env("KEEPALIVE_IDLE", "20");
    let _client = spawn(command);
    let (_stream, client_port) = accept_client(&listener);
    assert_timer(client_port, port, 15, 20, "python3 client, KEEPALIVE_IDLE=20");

    let mut command = clean_command(python3());
    command.args(["-c", PYTHON_CLIENT, &port.to_string()]);
    let _plain = spawn(command);
    let (_stream, plain_port) = accept_client(&listener);
    assert_no_timer(plain_port, port, "python3 client");
}

#[test]
fn python_server_accepted_connections() {
    // The server makes its listener through socket(); the kernel passes keepalive on to every
    // connection it accepts.
    let server = "import socket, sys, time\n\
        l = socket.socket()\n\
        l.bind(('127.0.0.1', 0))\n\
        l.listen()\n\
        print(l.getsockname()[1], flush=True)\n\
        c, _ = l.accept()\n\
        time.sleep(20)";
    for preload in [true, false] {
        let mut command = if preload { preloaded(python3()) } else { clean_command(python3()) };
        command.args(["-c", server]).env("KEEPALIVE_IDLE", "1m30s");
        let mut running = spawn(command);
        let mut port = String::new();
        let mut stdout = running.0.stdout.take().unwrap();
        let mut byte = [0u8];
        while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            port.push(byte[0] as char);
        }
        let port: u16 = port.parse().expect("the server prints its port");
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let client_port = client.local_addr().unwrap().port();
        if preload {
            assert_timer(port, client_port, 85, 90, "python3 server, KEEPALIVE_IDLE=1m30s");
        } else {
            assert_no_timer(port, client_port, "python3 server");
        }
    }
}

/// curl connects and sends a request; the test server never answers, so the connection stays
/// idle while we look at it.
fn curl_idle_connection(extra: &[&str], preload: bool) -> (Running, TcpStream, u16, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut command = if preload { preloaded("curl") } else { clean_command("curl") };
    command.args(["--silent", "--max-time", "15"]).args(extra).arg(format!("http://127.0.0.1:{port}/"));
    command.env("KEEPALIVE_IDLE", "20");
    let curl = spawn(command);
    let (stream, client_port) = accept_client(&listener);
    (curl, stream, client_port, port)
}

#[test]
fn curl_without_its_own_keepalive() {
    let (_curl, _stream, local, remote) = curl_idle_connection(&["--no-keepalive"], true);
    assert_timer(local, remote, 15, 20, "curl --no-keepalive, KEEPALIVE_IDLE=20");
    let (_curl, _stream, local, remote) = curl_idle_connection(&["--no-keepalive"], false);
    assert_no_timer(local, remote, "curl --no-keepalive");
}

#[test]
fn curl_keeps_its_own_keepalive_settings() {
    // Without --no-keepalive, curl turns keepalive on itself with a 60 s idle time, after
    // socket(): the program's own choice wins over KEEPALIVE_IDLE.
    let (_curl, _stream, local, remote) = curl_idle_connection(&[], true);
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
