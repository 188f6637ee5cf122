//! Shared by the integration tests: where things are built, and running programs under the library
//! with a clean environment.
#![allow(dead_code)]

pub mod capture;
pub mod cgroup;
pub mod netns;
pub mod owner;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The release library that `make` builds; `make test` builds it before running these tests.
pub fn library() -> PathBuf {
    built_by_cargo("target/release/libkeepalive.so")
}

/// The release command that `make` builds.
pub fn command_path() -> PathBuf {
    built_by_cargo("target/release/keepalive")
}

/// A file cargo built, checked against the sources its dep-info file (`NAME.d` beside it) lists.
fn built_by_cargo(relative: &str) -> PathBuf {
    let dep_info = root().join(relative).with_extension("d");
    let sources = std::fs::read_to_string(&dep_info).map(|text| dep_info_sources(&text)).unwrap_or_default();
    let sources: Vec<String> = sources.iter().map(|source| source.to_string_lossy().into_owned()).collect();
    built(relative, &sources.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The prerequisites in a Makefile-style dependency line, `target: a.rs b\ c.rs`, where a
/// backslash escapes a space in a path.
pub fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let line = text.lines().next().unwrap_or_default();
    let Some((_, prerequisites)) = line.split_once(": ") else { return Vec::new() };
    let mut sources = vec![String::new()];
    let mut characters = prerequisites.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => sources.last_mut().unwrap().extend(characters.next()),
            ' ' => sources.push(String::new()),
            other => sources.last_mut().unwrap().push(other),
        }
    }
    sources.into_iter().filter(|source| !source.is_empty()).map(PathBuf::from).collect()
}

/// A file `make` builds, checked to be newer than every source file under `sources` (relative to the
/// checkout, or absolute; one that does not exist is skipped). Plain `cargo test` builds neither the library nor
/// the C programs, so without this check it would quietly test what an older `make` left behind.
pub fn built(relative: &str, sources: &[&str]) -> PathBuf {
    let path = root().join(relative);
    let sources: Vec<PathBuf> = sources.iter().map(|source| root().join(source)).collect();
    if let Err(problem) = check_built(&path, &sources) {
        panic!("{problem}: run the tests with `make test`, which builds it first");
    }
    path
}

/// Whether `path` exists and is newer than every file under `sources`; if not, says why.
pub fn check_built(path: &Path, sources: &[PathBuf]) -> Result<(), String> {
    let Ok(built) = path.metadata().and_then(|metadata| metadata.modified()) else {
        return Err(format!("{} is missing", path.display()));
    };
    match sources.iter().filter_map(|source| newest_file(source)).find(|(_, time)| *time > built) {
        Some((newer, _)) => Err(format!("{} is older than {}", path.display(), newer.display())),
        None => Ok(()),
    }
}

/// The most recently modified file under `path` (itself, if it is a file), with its time.
fn newest_file(path: &Path) -> Option<(PathBuf, std::time::SystemTime)> {
    let metadata = path.metadata().ok()?;
    if !metadata.is_dir() {
        return Some((path.to_path_buf(), metadata.modified().ok()?));
    }
    let entries = std::fs::read_dir(path).ok()?;
    entries.filter_map(|entry| newest_file(&entry.ok()?.path())).max_by_key(|(_, time)| *time)
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

/// A C test program built by `make c-tests` against `libc`, from `c-tests/NAME.c` and the headers.
pub fn c_program(libc: &str, name: &str) -> PathBuf {
    let source = format!("c-tests/{}.c", name.trim_end_matches(".so"));
    built(&format!("target/c-tests/{libc}/{name}"), &[&source, "c-tests/check.h"])
}

/// `tests/go/SOURCE` built as `target/go-tests/NAME` with Debian's golang-go, offline, its caches
/// under target/; without cgo it is linked statically. Each caller builds a program once.
pub fn go_build(source: &str, name: &str, cgo: bool) -> PathBuf {
    let program = root().join("target/go-tests").join(name);
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&program)
        .arg(root().join("tests/go").join(source))
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .env("GOCACHE", root().join("target/go-cache"))
        .env("GOPATH", root().join("target/go-path"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("go (Debian's golang-go) is needed for these tests");
    assert!(output.status.success(), "go build {source}: {}", describe(&output));
    program
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

/// The built command with `arguments`, in a clean environment, finding the built library beside
/// itself.
pub fn keepalive(arguments: &[&str]) -> Command {
    let mut command = clean_command(command_path());
    command.args(arguments);
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

/// Whether the running kernel's version is below `version` (major, minor).
pub fn kernel_older_than(version: (u32, u32)) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut numbers = release.split(|c: char| !c.is_ascii_digit()).map(|number| number.parse().unwrap_or(0));
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) < version
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

/// A port free on IPv4 and IPv6 alike when asked (a dual-stack bind takes it on both at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("[::]:0").unwrap().local_addr().unwrap().port()
}

/// Why an attempt on free ports must be made again: another process took a port between
/// `free_port` and the program's own bind. Holds what the attempt saw, for the last failure.
pub struct PortTaken(pub String);

/// Runs `attempt` on `N` ports that were free a moment ago, and again on fresh ones while it
/// reports that one was taken meanwhile, five attempts at most.
pub fn on_free_ports<const N: usize, T>(mut attempt: impl FnMut([u16; N]) -> Result<T, PortTaken>) -> T {
    let mut last = String::new();
    for _ in 0..5 {
        match attempt(std::array::from_fn(|_| free_port())) {
            Ok(value) => return value,
            Err(PortTaken(seen)) => last = seen,
        }
    }
    panic!("a port was taken by another process five times in a row; last attempt: {last}");
}

/// A shell script that writes what it inherited into the file its `$0` names: which of its
/// standard descriptors are open (looked at first, before the shell opens anything on them),
/// and the signals it ignores.
const INHERITED_REPORT: &str = "open=; for fd in 0 1 2; do [ -e /proc/$$/fd/$fd ] && open=\"$open $fd\"; done; \
                                echo \"open:$open $(grep ^SigIgn: /proc/$$/status)\" > \"$0\"";

/// What a shell reports it inherited, started by `command` (whose last argument is the shell)
/// from a process that ignores SIGPIPE or not, and has the descriptors `closed` closed:
/// `open: 0 1 2 SigIgn:\t0000000000001000`.
pub fn inherited_by_sh(mut command: Command, ignore_sigpipe: bool, closed: &'static [i32]) -> String {
    use std::os::unix::process::CommandExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static REPORTS: AtomicUsize = AtomicUsize::new(0);
    let report = std::env::temp_dir().join(format!(
        "keepalive-inherited-{}-{}",
        std::process::id(),
        REPORTS.fetch_add(1, Ordering::Relaxed)
    ));
    command.args(["-c", INHERITED_REPORT]).arg(&report);
    // SAFETY: the closure runs in the child between fork and exec, and makes only
    // async-signal-safe calls on the child's own state.
    unsafe {
        command.pre_exec(move || {
            if ignore_sigpipe {
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            }
            for &fd in closed {
                libc::close(fd);
            }
            Ok(())
        })
    };
    let output = command.output().unwrap();
    let reported = std::fs::read_to_string(&report).unwrap_or_else(|_| panic!("no report: {}", describe(&output)));
    std::fs::remove_file(&report).unwrap();
    reported.trim_end().to_owned()
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

/// Copies of `files` in a new directory every user may enter, each under its own name, for tests
/// that run them as another user (nobody): the checkout may lie under a directory only its owner
/// can enter, as a clone in /root does.
pub fn copies_for_other_users<const N: usize>(files: [&Path; N]) -> [PathBuf; N] {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    let directory = std::env::temp_dir().join(format!("keepalive-for-others-{}-{number}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o755)).unwrap();
    files.map(|file| {
        let copy = directory.join(file.file_name().unwrap());
        let status = clean_command("install").arg("-m").arg("755").arg(file).arg(&copy).status().unwrap();
        assert!(status.success(), "install {} {}", file.display(), copy.display());
        copy
    })
}
