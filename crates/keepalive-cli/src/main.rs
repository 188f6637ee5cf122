//! `keepalive`: run a program with libkeepalive preloaded, print the environment that does the
//! same elsewhere, or show whether a running process's TCP connections have keepalive.

// Each line goes through `streams`: the print macros abort the command on a broken stream.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

mod attach;
mod cgroup;
mod exec;
mod foreign;
mod inherited;
mod launch;
mod library;
mod options;
mod overview;
mod procfs;
mod program;
mod reach;
mod sockets;
mod status;
mod streams;
mod supervisor;

use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use options::{Format, StatusOf, Via};
use program::Kind;
use streams::stderr_line;

/// Exit status for a mistake in how the command was called, or a missing library.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = options::parse();
    if cli.version {
        return write_output(&version_report(cli.library.as_deref()));
    }
    if let Some(pids) = &cli.attach {
        let effective = effective_settings(&cli.settings());
        return ExitCode::from(attach::run(pids, &effective.settings, cli.follow));
    }
    let report = match (&cli.status, &cli.cgroup) {
        (Some(Some(StatusOf::Process(pid))), _) => Some(status::report(*pid)),
        (Some(Some(StatusOf::Cgroup(directory))), _) => Some(cgroup::status(directory)),
        (Some(None), _) => Some(overview::report_all()),
        (None, Some(directory)) if cli.detach => Some(cgroup::detach(directory)),
        (None, Some(directory)) => Some(cgroup::attach(directory, &effective_settings(&cli.settings()))),
        (None, None) => None,
    };
    if let Some(report) = report {
        return match report {
            Ok(report) => write_output(&report),
            Err(reason) => {
                stderr_line!("keepalive: {reason}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = cli.settings();
    let path = match cli.command.first().filter(|_| !cli.print_env).map(|name| launch::locate(name)) {
        Some(Ok(path)) => Some(path),
        Some(Err(status)) => return ExitCode::from(status),
        None => None,
    };
    if let Some(path) = path.as_deref().filter(|path| supervised(cli.via, path)) {
        if let Some(reason) = supervisor::refusal(path, cli.allow_privilege_drop) {
            stderr_line!("keepalive: {reason}");
            return ExitCode::from(launch::CANNOT_RUN);
        }
        let (name, arguments) = (&cli.command[0], &cli.command[1..]);
        let effective = effective_settings(&settings);
        return ExitCode::from(supervisor::run(path, name, arguments, effective.settings, cli.verbose));
    }
    let chosen = match &cli.library {
        Some(path) => library::given(path, !cli.print_env),
        None => library::locate(),
    };
    let library = match chosen {
        Ok(library) => library,
        Err(reason) => {
            stderr_line!("keepalive: {reason}");
            return ExitCode::from(USAGE);
        }
    };
    match path {
        Some(path) => {
            warn_about_misspelled_variables();
            ExitCode::from(launch::run(&library, &settings, &path, &cli.command[0], &cli.command[1..]))
        }
        None => write_output(&launch::environment(&library, &settings, cli.format.unwrap_or(Format::Shell))),
    }
}

/// Whether the program runs under the seccomp supervisor rather than with the library preloaded.
fn supervised(via: Via, path: &std::path::Path) -> bool {
    match via {
        Via::Preload => false,
        Via::Seccomp => true,
        Via::Auto => matches!(program::kind(path), Kind::Static | Kind::Go),
    }
}

/// The settings for the ways in that apply them from here, each problem with a variable said in
/// one line on stderr, as the library would say it.
fn effective_settings(given: &[options::Setting]) -> options::Effective {
    warn_about_misspelled_variables();
    let effective = options::effective_settings(given);
    for problem in &effective.problems {
        stderr_line!("keepalive: {problem}");
    }
    effective
}

/// One line for each variable set here that seems meant to be one of ours (`KEEPALIVE_IDEL`),
/// which the library, the supervisor, `--attach` and `--cgroup` would ignore in silence. Said by
/// the command alone: see `keepalive_config::misspelling`.
fn warn_about_misspelled_variables() {
    for (name, _) in std::env::vars_os() {
        if let Some(meant) = keepalive_config::misspelling::meant(name.as_bytes()) {
            let (name, meant) = (name.to_string_lossy(), meant.to_string_lossy());
            stderr_line!("keepalive: ignoring {name}: no such variable; did you mean {meant}?");
        }
    }
}

/// This command's version, and the version and path of the library it would preload.
fn version_report(given: Option<&Path>) -> String {
    let command = format!("keepalive {}\n", env!("CARGO_PKG_VERSION"));
    let found = match given {
        Some(path) => library::given(path, true),
        None => library::locate(),
    };
    let library = match found {
        Ok(path) => match library::version(&path) {
            Some(version) => format!("libkeepalive {version} ({})", path.display()),
            None => format!("libkeepalive of unknown version ({}): not built from this project", path.display()),
        },
        Err(reason) => format!("libkeepalive not found: {reason}"),
    };
    command + &library + "\n"
}

/// Writes `text` on standard output. A reader that stopped reading, as `| head -1` does, is not
/// an error: the command stops quietly with status 0.
fn write_output(text: &str) -> ExitCode {
    match streams::write_stdout(text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            stderr_line!("keepalive: cannot write output: {}", launch::without_error_number(&error));
            ExitCode::FAILURE
        }
    }
}
