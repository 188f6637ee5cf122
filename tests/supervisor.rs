//! `keepalive --via seccomp` and `--via auto`: programs the preload cannot reach (static C,
//! busybox, Go static and dynamic, PHP's sockets extension) get the options from the supervisor,
//! read back from the kernel through `keepalive --status` (getsockopt on a pidfd_getfd duplicate)
//! and seen on the wire; the program keeps its PID, exit status, signals and descriptors; each
//! failure is one line and an exit status.

mod common;
use common::netns::{Host, Lab, Process};
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn command_path() -> PathBuf {
    let path = root().join("target/release/keepalive");
    assert!(path.exists(), "{} is missing: run the tests with `make test`", path.display());
    path
}

fn keepalive(arguments: &[&str]) -> Command {
    let mut command = clean_command(command_path());
    command.args(arguments);
    command
}

fn run(arguments: &[&str]) -> Output {
    keepalive(arguments).output().unwrap()
}

/// `wire` linked statically against `libc` (glibc or musl).
fn static_wire(libc: &str) -> PathBuf {
    let path = root().join(format!("target/c-tests/static-{libc}/wire"));
    assert!(path.exists(), "{} is missing: run the tests with `make test`", path.display());
    path
}

/// tests/go/peer.go built `static` (CGO_ENABLED=0) or `dynamic`, offline, with caches under target/.
fn go_peer(linking: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let directory = BUILT.get_or_init(|| {
        let directory = root().join("target/go-tests");
        for (name, cgo) in [("static", "0"), ("dynamic", "1")] {
            let output = Command::new("go")
                .args(["build", "-o"])
                .arg(directory.join(name))
                .arg(root().join("tests/go/peer.go"))
                .env("CGO_ENABLED", cgo)
                .env("GOCACHE", root().join("target/go-cache"))
                .env("GOPATH", root().join("target/go-path"))
                .env("GOFLAGS", "-mod=mod")
                .env("GOPROXY", "off")
                .env("GOTOOLCHAIN", "local")
                .output()
                .expect("go (Debian's golang-go) is needed for these tests");
            assert!(output.status.success(), "go build {name}: {}", describe(&output));
        }
        directory
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
            let seen = process.output(Duration::from_millis(100)).to_vec();
            let line = format!("fd 3 tcp {call}: keepalive on, idle 20s, intvl 5s, cnt 3, user timeout 30000ms");
            assert!(seen.iter().any(|seen| seen.ends_with(&line)), "{libc} {call}: {seen:?}");
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
