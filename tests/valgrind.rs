//! Under `valgrind --tool=memcheck`, C test programs and curl run with the library and memcheck
//! must find no error at all: no invalid read or write, no use of uninitialised memory, no leak.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

/// Memcheck's report, in a file of its own so that it never mixes with the program's stderr.
struct Report(PathBuf);

impl Report {
    fn new(name: &str) -> Report {
        Report(std::env::temp_dir().join(format!("libkeepalive-valgrind-{}-{name}.log", std::process::id())))
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `program` preloaded under memcheck; panics on any error. Returns the program's stderr.
fn memcheck(
    name: &str,
    program: impl AsRef<std::ffi::OsStr>,
    arguments: &[&str],
    environment: &[(&str, &str)],
) -> String {
    let log_file = Report::new(name);
    let mut command: Command = preloaded("valgrind");
    command
        .args(["--tool=memcheck", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite"])
        .arg(format!("--log-file={}", log_file.0.display()))
        .arg(program)
        .args(arguments)
        .envs(environment.iter().copied());
    let output = command.output().expect("valgrind is needed for this test");
    let log = std::fs::read_to_string(&log_file.0).unwrap_or_default();
    let summary = log.lines().find(|line| line.contains("ERROR SUMMARY:")).unwrap_or("no summary");
    report(&format!("{name}: {}", summary.split("== ").last().unwrap_or(summary)));
    assert!(output.status.success(), "{name}: {}\n--- memcheck\n{log}", describe(&output));
    assert!(summary.contains("ERROR SUMMARY: 0 errors from 0 contexts"), "{name}:\n{log}");
    text(&output.stderr)
}

#[test]
fn c_programs() {
    let program = c_program("glibc", "scenarios");
    // Not failing_calls: it hands connect() an invalid pointer on purpose, which memcheck reports
    // with or without the library.
    for scenario in
        ["ipv4", "ipv6", "raw_socket_connect", "accept_raw_listener", "errno_kept", "program_choice", "untouched"]
    {
        memcheck(&format!("scenarios {scenario}"), &program, &[scenario], &EVERY_TIMER);
    }
    // The scenario leaves KEEPALIVE_INTVL to the program.
    let forced = [("KEEPALIVE_IDLE", "20"), ("EXPECT_IDLE", "20"), ("KEEPALIVE_FORCE", "1"), ("EXPECT_FORCED", "1")];
    memcheck("scenarios force, KEEPALIVE_FORCE=1", &program, &["force"], &forced);
    let mut debug = EVERY_TIMER.to_vec();
    debug.extend([("KEEPALIVE_DEBUG", "1"), ("KEEPALIVE_ONLY", "127.0.0.0/8,[::1]")]);
    let stderr =
        memcheck("scenarios raw_socket_connect, debug and peer rules", &program, &["raw_socket_connect"], &debug);
    assert!(stderr.contains("tcp connect(): keepalive on"), "{stderr}");
    memcheck("stress, 4 threads x 250 connections", c_program("glibc", "stress"), &["4", "250"], &EVERY_TIMER);
    memcheck("storm signal_connect", c_program("glibc", "storm"), &["signal_connect"], &EVERY_TIMER);
}

#[test]
fn curl() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").unwrap();
    });
    let url = format!("http://127.0.0.1:{port}/");
    let environment = [("KEEPALIVE_IDLE", "20"), ("KEEPALIVE_DEBUG", "1")];
    let stderr = memcheck("curl", "curl", &["--silent", "--no-keepalive", "--max-time", "20", &url], &environment);
    server.join().unwrap();
    assert!(stderr.contains("tcp socket(): keepalive on, idle 20s"), "the library did not act in curl:\n{stderr}");
}
