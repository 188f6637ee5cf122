//! Faults around the library (c-tests/faults.c): setsockopt or getsockopt denied by seccomp, no
//! descriptor left, the library preloaded after another library that makes sockets in its
//! constructor, and the library loaded late with dlopen().

mod common;
use common::*;
use std::process::{Command, Output};

/// Settings that make the library call setsockopt and getsockopt at socket(), connect() and
/// accept(), in every path it has.
/// Runs `command` with KEEPALIVE_IDLE=44, which its C checks expect, and requires success.
fn succeeds(mut command: Command, what: &str) -> Output {
    let output = command.env("KEEPALIVE_IDLE", "44").env("EXPECT_IDLE", "44").output().unwrap();
    assert!(output.status.success(), "{what}: {}", describe(&output));
    output
}

const CONFIGURATIONS: &[&[(&str, &str)]] = &[
    &[("KEEPALIVE_IDLE", "20"), ("KEEPALIVE_INTVL", "5"), ("KEEPALIVE_CNT", "3"), ("KEEPALIVE_USER_TIMEOUT", "30")],
    &[("KEEPALIVE_IDLE", "20"), ("KEEPALIVE_FORCE", "1")],
    &[("KEEPALIVE_ONLY", "127.0.0.0/8"), ("KEEPALIVE_USER_TIMEOUT", "5s")],
];

/// The transcript of `faults transcript MODE` without the library must equal the one with it,
/// byte for byte: every call's result and errno, the descriptors, the data.
fn same_transcript(mode: &str) -> usize {
    let mut compared = 0;
    for libc in LIBCS {
        let program = c_program(libc, "faults");
        let plain = clean_command(&program).args(["transcript", mode]).output().unwrap();
        assert!(plain.status.success(), "{libc} {mode} without the library: {}", describe(&plain));
        for configuration in CONFIGURATIONS {
            let output =
                preloaded(&program).args(["transcript", mode]).envs(configuration.iter().copied()).output().unwrap();
            assert!(output.status.success(), "{libc} {mode} {configuration:?}: {}", describe(&output));
            assert_eq!(
                text(&output.stdout),
                text(&plain.stdout),
                "{libc} {mode} {configuration:?}: the program noticed us"
            );
            assert_eq!(text(&output.stderr), "", "{libc} {mode} {configuration:?}");
            compared += text(&output.stdout).lines().filter(|line| line.contains(" = ")).count();
        }
    }
    compared
}

#[test]
fn setsockopt_denied_by_seccomp() {
    let calls = same_transcript("deny-setsockopt");
    report(&format!("setsockopt denied: {calls} calls compared, all identical"));
}

#[test]
fn getsockopt_denied_by_seccomp() {
    let calls = same_transcript("deny-getsockopt");
    report(&format!("getsockopt denied: {calls} calls compared, all identical"));
}

#[test]
fn both_denied_by_seccomp() {
    let calls = same_transcript("deny-both");
    report(&format!("setsockopt and getsockopt denied: {calls} calls compared, all identical"));
}

/// With setsockopt denied, the debug line says keepalive is not set and names each option that
/// failed, with its errno.
#[test]
fn denied_options_are_named_in_debug_lines() {
    for libc in LIBCS {
        let mut command = preloaded(c_program(libc, "faults"));
        command.args(["transcript", "deny-setsockopt"]).env("KEEPALIVE_IDLE", "20").env("KEEPALIVE_DEBUG", "1");
        let output = command.output().unwrap();
        assert!(output.status.success(), "{libc}: {}", describe(&output));
        let failed =
            "tcp socket(): keepalive not set, idle 20s; TCP_KEEPIDLE failed: EPERM; SO_KEEPALIVE failed: EPERM\n";
        assert!(text(&output.stderr).contains(failed), "{libc}: {}", describe(&output));
    }
}

#[test]
fn the_filter_really_denies() {
    let output = clean_command(c_program("glibc", "faults")).args(["transcript", "deny-both"]).output().unwrap();
    let transcript = text(&output.stdout);
    let denied = transcript.lines().filter(|line| line.ends_with("errno 1 (Operation not permitted)")).count();
    assert_eq!(denied, 4, "the program's two setsockopt and two getsockopt must fail:\n{transcript}");
    assert!(transcript.contains("received pingpong"), "{transcript}");
}

#[test]
fn descriptors_exhausted() {
    let calls = same_transcript("no-descriptors");
    let output = clean_command(c_program("glibc", "faults")).args(["transcript", "no-descriptors"]).output().unwrap();
    let emfile = text(&output.stdout).lines().filter(|line| line.contains("errno 24 ")).count();
    assert_eq!(emfile, 5, "socket() twice, accept(), accept4() and socket() again hit EMFILE:\n{}", describe(&output));
    report(&format!("RLIMIT_NOFILE reached: {calls} calls compared, all identical"));
}

/// Preloaded after a library whose constructor makes sockets: that constructor runs first (glibc
/// initialises the last preloaded library first) and its sockets are configured all the same.
#[test]
fn preloaded_after_a_library_that_makes_sockets_early() {
    for libc in LIBCS {
        let early = c_program(libc, "early");
        let libearly = early.with_file_name("libearly.so");
        let mut command = clean_command(&early);
        command.env("LD_PRELOAD", format!("{} {}", library().display(), libearly.display()));
        command.env("KEEPALIVE_DEBUG", "1");
        let output = succeeds(command, libc);
        if libc == "glibc" {
            let stderr = text(&output.stderr);
            let first = stderr.lines().next().unwrap_or_default();
            assert!(first.contains("settings read in socket(), before our constructor ran"), "{stderr}");
        }
    }
}

/// The library loaded with dlopen() after the program made sockets: nothing breaks. The
/// program's own calls stay bound to the C library, so only calls through the library's own
/// symbols are hooked (on musl those find no C library function behind them, and make the
/// system calls themselves).
#[test]
fn loaded_late_with_dlopen() {
    for libc in LIBCS {
        let mut command = clean_command(c_program(libc, "faults"));
        command.arg("dlopen_late").env("KEEPALIVE_LIBRARY", library());
        let output = succeeds(command, libc);
        assert_eq!(text(&output.stderr), "", "{libc}");
    }
}

/// Peer rules read the address through `process_vm_readv()` before `connect()`, or, where a
/// seccomp filter forbids that call, once the kernel has read it: either way the selected
/// connections are configured and an invalid address gets the kernel's EFAULT.
#[test]
fn peer_rules_with_and_without_process_vm_readv() {
    for libc in LIBCS {
        for filter in ["allow", "deny"] {
            let mut command = preloaded(c_program(libc, "faults"));
            command.args(["peer_rules", filter]).env("KEEPALIVE_ONLY", "127.0.0.0/8,::1");
            let output = succeeds(command, &format!("{libc} {filter}"));
            assert_eq!(text(&output.stderr), "", "{libc} {filter}");
        }
    }
}
