//! Shared by the integration tests: where things are built, and running programs under the library
//! with a clean environment.
#![allow(dead_code)]

pub mod capture;
pub mod netns;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The release library that `make` builds; `make test` builds it before running these tests.
pub fn library() -> PathBuf {
    let path = root().join("target/release/libkeepalive.so");
    assert!(path.exists(), "{} is missing: run the tests with `make test`", path.display());
    path
}

/// Every timer configured, and the EXPECT_* values the C checks then require.
pub const EVERY_TIMER: [(&str, &str); 8] = [
    ("KEEPALIVE_IDLE", "20"),
    ("KEEPALIVE_INTVL", "5"),
    ("KEEPALIVE_CNT", "3"),
    ("KEEPALIVE_USER_TIMEOUT", "30"),
    ("EXPECT_IDLE", "20"),
    ("EXPECT_INTVL", "5"),
    ("EXPECT_CNT", "3"),
    ("EXPECT_USER_TIMEOUT", "30000"),
];

pub const LIBCS: [&str; 2] = ["glibc", "musl"];

/// A C test program built by `make c-tests` against `libc`.
pub fn c_program(libc: &str, name: &str) -> PathBuf {
    let path = root().join("target/c-tests").join(libc).join(name);
    assert!(path.exists(), "{} is missing: run the tests with `make test`", path.display());
    path
}

/// A command with none of the caller's LD_PRELOAD, KEEPALIVE_* or EXPECT_* variables.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key == "LD_PRELOAD" || key.starts_with("KEEPALIVE") || key.starts_with("EXPECT_") {
            command.env_remove(key.as_ref());
        }
    }
    command.stdin(Stdio::null());
    command
}

/// The same command, with the library preloaded.
pub fn preloaded(program: impl AsRef<OsStr>) -> Command {
    let mut command = clean_command(program);
    command.env("LD_PRELOAD", library());
    command
}

/// Prints a measurement where `make test` shows it: straight to stderr, which the test harness
/// captures only through `println!`/`eprintln!`.
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "    {line}");
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn describe(output: &Output) -> String {
    format!("status {}\n--- stdout\n{}--- stderr\n{}", output.status, text(&output.stdout), text(&output.stderr))
}

/// The real python3 executable (a pyenv shim is a shell script that runs several programs).
pub fn python3() -> PathBuf {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed for these tests");
    PathBuf::from(text(&output.stdout).trim())
}

/// Milliseconds in an `ss` timer: `19sec`, `1min29sec`, `996ms`, `12min`, and `2.864ms`, which
/// iproute2 6.1 prints for 2.864 s.
pub fn parse_ss_duration(text: &str) -> Option<u64> {
    let (minutes, rest) = match text.split_once("min") {
        Some((minutes, rest)) => (minutes.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let rest_ms = if rest.is_empty() {
        0
    } else if let Some(seconds) = rest.strip_suffix("sec") {
        seconds.parse::<u64>().ok()? * 1000
    } else if let Some(ms) = rest.strip_suffix("ms") {
        match ms.split_once('.') {
            Some((seconds, ms)) => seconds.parse::<u64>().ok()? * 1000 + ms.parse::<u64>().ok()?,
            None => ms.parse().ok()?,
        }
    } else {
        return None;
    };
    Some(minutes * 60_000 + rest_ms)
}

/// The kernel's keepalive timer for the established connection from local port `local` to
/// remote port `remote`, in milliseconds, as `ss -tno` shows it; `None` when it has no such
/// timer. Panics if the connection is not there.
pub fn keepalive_timer_ms(local: u16, remote: u16) -> Option<u64> {
    let filter = format!("( sport = :{local} and dport = :{remote} )");
    let output = Command::new("ss")
        .args(["-tnoH", "state", "established", &filter])
        .output()
        .expect("ss (iproute2) is needed for these tests");
    let listing = text(&output.stdout);
    let line = listing.lines().next().unwrap_or_else(|| panic!("no connection {local} -> {remote} in ss"));
    let timer = line.split("timer:(").nth(1)?;
    let mut fields = timer.trim_end_matches(')').split(',');
    (fields.next()? == "keepalive").then(|| {
        let duration = fields.next().unwrap_or("");
        parse_ss_duration(duration).unwrap_or_else(|| panic!("cannot read ss timer {duration:?} in {line:?}"))
    })
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child killed when the test ends, whether it passes or not.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` with its output captured.
pub fn spawn(mut command: Command) -> Running {
    Running(command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("program starts"))
}

/// The writing end of a pipe whose reader is already closed.
pub fn pipe_without_reader() -> std::os::fd::OwnedFd {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut ends = [0; 2];
    // SAFETY: pipe2 fills the two-element array with new descriptors, which are then owned here.
    unsafe {
        assert_eq!(libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC), 0);
        drop(OwnedFd::from_raw_fd(ends[0]));
        OwnedFd::from_raw_fd(ends[1])
    }
}
