//! Load: many threads making connections at once, fork storms, vfork+exec from threads, connect()
//! from a signal handler, threads cancelled inside the hooks (c-tests/stress.c, c-tests/storm.c,
//! c-tests/cancel.c), on glibc and musl. The programs check every socket with getsockopt and
//! print their figures, shown in `make test`'s output.

mod common;
use common::*;
use std::process::Output;

fn run(libc: &str, program: &str, arguments: &[&str]) -> Output {
    let output = preloaded(c_program(libc, program)).args(arguments).envs(EVERY_TIMER).output().unwrap();
    for line in text(&output.stdout).lines() {
        report(&format!("{libc}: {line}"));
    }
    assert!(output.status.success(), "{libc} {program} {arguments:?}: {}", describe(&output));
    assert_eq!(text(&output.stderr), "", "a valid configuration prints nothing");
    output
}

/// 16 threads x 5000 connections: 160000 TCP sockets (clients and accepted), each checked.
#[test]
fn threads_making_connections() {
    for libc in LIBCS {
        let output = run(libc, "stress", &["16", "5000"]);
        assert!(text(&output.stdout).contains(" 160000 TCP sockets checked (of 160000), 0 with wrong options"));
    }
}

/// Without the library the same program must fail: its check is real.
#[test]
fn threads_check_fails_without_the_library() {
    let output = clean_command(c_program("glibc", "stress")).args(["2", "10"]).envs(EVERY_TIMER).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        text(&output.stdout).contains("40 TCP sockets checked (of 40), 40 with wrong options"),
        "{}",
        describe(&output)
    );
}

#[test]
fn fork_storm() {
    for libc in LIBCS {
        run(libc, "storm", &["fork_storm"]);
    }
}

#[test]
fn vfork_and_exec_from_threads() {
    for libc in LIBCS {
        run(libc, "storm", &["vfork_exec"]);
    }
}

#[test]
fn connect_from_a_signal_handler() {
    for libc in LIBCS {
        run(libc, "storm", &["signal_connect"]);
    }
}

/// pthread_cancel() of threads blocked in accept() and accept4(): glibc unwinds through the
/// hooks' frames, which needs the library's unwind tables (they stay although it never panics),
/// for the program's cleanup handlers to run (c-tests/cancel.c).
#[test]
fn threads_cancelled_in_the_hooks_run_their_cleanup_handlers() {
    for libc in LIBCS {
        run(libc, "cancel", &[]);
    }
}
