//! `keepalive`: run a program with libkeepalive preloaded, print the environment that does the
//! same elsewhere, or show whether a running process's TCP connections have keepalive.

mod attach;
mod exec;
mod foreign;
mod launch;
mod library;
mod options;
mod overview;
mod program;
mod sockets;
mod status;

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use options::Format;

/// Exit status for a mistake in how the command was called, or a missing library.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = options::parse();
    if let Some(pids) = &cli.attach {
        let (settings, problems) = options::effective_settings(&cli.settings());
        for problem in problems {
            eprintln!("keepalive: {problem}");
        }
        return ExitCode::from(attach::run(pids, &settings, cli.follow));
    }
    if let Some(pid) = cli.status {
        let report = match pid {
            Some(pid) => status::report(pid),
            None => overview::report_all(),
        };
        return match report {
            Ok(report) => write_output(&report),
            Err(reason) => {
                eprintln!("keepalive: {reason}");
                ExitCode::FAILURE
            }
        };
    }
    let library = match library::locate() {
        Ok(library) => library,
        Err(reason) => {
            eprintln!("keepalive: {reason}");
            return ExitCode::from(USAGE);
        }
    };
    let settings = cli.settings();
    if cli.print_env {
        return write_output(&launch::environment(&library, &settings, cli.format.unwrap_or(Format::Shell)));
    }
    ExitCode::from(launch::run(&library, &settings, &cli.command))
}

/// Writes `text` on standard output. A reader that stopped reading, as `| head -1` does, is not
/// an error: the command stops quietly with status 0.
fn write_output(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keepalive: cannot write output: {}", launch::without_error_number(&error));
            ExitCode::FAILURE
        }
    }
}
