//! The library's own lines (a warning at load, debug lines) on a stderr that is a pipe whose
//! reader is gone: no SIGPIPE for the program, none left pending, its mask and handler intact.

mod common;
use common::*;
use std::os::unix::process::ExitStatusExt;

#[test]
fn a_warning_on_a_broken_pipe_is_no_signal() {
    let output = preloaded("/bin/true").env("KEEPALIVE_IDLE", "abc").stderr(pipe_without_reader()).output().unwrap();
    assert_eq!(output.status.signal(), None, "killed: {}", describe(&output));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn lines_on_a_broken_pipe_leave_the_programs_signals_alone() {
    let cases: [(&str, &[(&str, &str)]); 4] = [
        ("default", &[("KEEPALIVE_IDLE", "abc")]),
        ("default", &[("KEEPALIVE_DEBUG", "1")]),
        ("blocked", &[("KEEPALIVE_DEBUG", "1"), ("KEEPALIVE_CNT", "lots")]),
        ("handler", &[("KEEPALIVE_DEBUG", "1")]),
    ];
    for libc in LIBCS {
        for (mode, environment) in cases {
            let output = preloaded(c_program(libc, "sigpipe"))
                .arg(mode)
                .envs(environment.iter().copied())
                .stderr(pipe_without_reader())
                .output()
                .unwrap();
            assert_eq!(output.status.signal(), None, "{libc} {mode} {environment:?} killed: {}", describe(&output));
            assert!(output.status.success(), "{libc} {mode} {environment:?}: {}", describe(&output));
        }
    }
}
