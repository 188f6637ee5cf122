//! The command's standard output and error, either of which may be a pipe whose reader has gone
//! (`| head -1`, a log collector that stopped) or a file that cannot take more. `println!` and
//! `eprintln!` panic then, which aborts the command (status 134) before it has done its work, run
//! the program, or given the program's status. Every line of the command goes through here: a
//! line that cannot be written is lost, and the command goes on.

use std::fmt;
use std::io::{self, Write};

/// `eprintln!`, except that a standard error that cannot take the line loses it.
macro_rules! stderr_line {
    ($($arguments:tt)*) => {
        $crate::streams::write_stderr_line(format_args!($($arguments)*))
    };
}
pub(crate) use stderr_line;

/// See `stderr_line!`. One write, so that the line does not mix with what other processes
/// sharing the stream (the supervised program) write meanwhile.
pub fn write_stderr_line(line: fmt::Arguments) {
    let _ = io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Writes `text` on standard output at once; the caller decides what a failure means.
pub fn write_stdout(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush())
}
