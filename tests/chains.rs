//! Chains of processes: a shell entrypoint (tests/chain/entrypoint.sh) preloads the library and
//! starts python3 and curl clients as children and grandchildren. The kernel must show the
//! configured keepalive timer on every one of their connections.

mod common;
use common::*;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::time::Duration;

/// The entrypoint's whole process group, killed when the test ends, whether it passes or not.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

const CLIENTS: usize = 5;

/// `(command, pid)` of each process with a connection to `port`, sorted, from `ss -p`.
fn client_processes(port: u16) -> Vec<(String, u32)> {
    let filter = format!("( dport = :{port} )");
    let output = std::process::Command::new("ss").args(["-tnpH", "state", "established", &filter]).output().unwrap();
    let mut owners: Vec<(String, u32)> = text(&output.stdout)
        .lines()
        .filter_map(|line| {
            let users = line.split("users:((\"").nth(1)?;
            let (name, rest) = users.split_once('"')?;
            let pid = rest.split("pid=").nth(1)?.split(',').next()?.parse().ok()?;
            Some((name.to_string(), pid))
        })
        .collect();
    owners.sort();
    owners.dedup();
    owners
}

#[test]
fn entrypoint_children_and_grandchildren() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = root().join("tests/chain/entrypoint.sh");
    let mut command = clean_command("sh");
    command.arg(script).arg(port.to_string()).arg(python3()).env("KEEPALIVE_LIBRARY", library());
    command.stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0);
    let mut group = Group(command.spawn().expect("sh runs"));

    listener.set_nonblocking(true).unwrap();
    let mut accepted: Vec<(TcpStream, u16)> = Vec::new();
    while accepted.len() < CLIENTS {
        let next = wait_for(Duration::from_secs(15), || listener.accept().ok());
        let (stream, peer) = next.unwrap_or_else(|| panic!("only {} of {CLIENTS} clients connected", accepted.len()));
        accepted.push((stream, peer.port()));
    }
    for (_, client_port) in &accepted {
        let timer = wait_for(Duration::from_secs(3), || keepalive_timer_ms(*client_port, port));
        let timer = timer.unwrap_or_else(|| panic!("no keepalive timer on the client {client_port} -> {port}"));
        assert!((20_000..=25_000).contains(&timer), "client {client_port}: timer {timer} ms, expected 20..25 s");
    }
    let owners = client_processes(port);
    assert_eq!(owners.len(), CLIENTS, "five client processes: {owners:?}");
    let names: Vec<&str> = owners.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["curl", "curl", "python3", "python3", "python3"], "{owners:?}");
    report(&format!(
        "entrypoint: {CLIENTS} connections from children and grandchildren, each with a keepalive timer of 20..25 s"
    ));

    // Closing makes every client finish; the entrypoint then exits by itself.
    drop(accepted);
    let status = wait_for(Duration::from_secs(15), || group.0.try_wait().unwrap()).expect("the entrypoint exits");
    let mut stderr = String::new();
    std::io::Read::read_to_string(group.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "entrypoint: {status}\n{stderr}");
    assert_eq!(stderr, "", "a valid configuration prints nothing");
}
