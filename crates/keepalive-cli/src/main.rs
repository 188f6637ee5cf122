//! `keepalive`: run a program with libkeepalive preloaded, print the environment that does the
//! same elsewhere, or show whether a running process's TCP connections have keepalive.

mod exec;
mod launch;
mod library;
mod options;
mod program;
mod sockets;
mod status;

use std::process::ExitCode;

use options::Format;

/// Exit status for a mistake in how the command was called, or a missing library.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = options::parse();
    if let Some(pid) = cli.status {
        return match status::report(pid) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
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
        print!("{}", launch::environment(&library, &settings, cli.format.unwrap_or(Format::Shell)));
        return ExitCode::SUCCESS;
    }
    ExitCode::from(launch::run(&library, &settings, &cli.command))
}
