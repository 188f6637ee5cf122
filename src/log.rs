//! One-line messages on stderr, built in a stack buffer and written with a single `write(2)`.
//!
//! No allocation, no stdio, no locks: this runs inside hooks, which may run in signal handlers.
//! A daemon may close stderr and get a socket as descriptor 2 later; debug lines are dropped
//! once descriptor 2 is no longer the file it was when the library loaded, so that they never
//! land in the program's own connections.

use core::ffi::{CStr, c_int};
use core::sync::atomic::{AtomicU64, Ordering};

const CAPACITY: usize = 480;
/// Longest part of a configuration value quoted in a warning.
const QUOTED_MAX: usize = 64;

pub struct Line {
    buffer: [u8; CAPACITY],
    length: usize,
}

impl Line {
    /// A warning: `libkeepalive: …`.
    pub fn warning() -> Self {
        let mut line = Self::empty();
        line.text("libkeepalive: ");
        line
    }

    /// A debug line: `libkeepalive[pid]: …`.
    pub fn debug() -> Self {
        let mut line = Self::empty();
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        line.text("libkeepalive[").number(pid as u64).text("]: ");
        line
    }

    fn empty() -> Self {
        Self { buffer: [0; CAPACITY], length: 0 }
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        // One byte stays free for the newline.
        let room = (CAPACITY - 1).saturating_sub(self.length);
        let taken = bytes.len().min(room);
        if let (Some(target), Some(source)) =
            (self.buffer.get_mut(self.length..self.length + taken), bytes.get(..taken))
        {
            target.copy_from_slice(source);
            self.length += taken;
        }
        self
    }

    pub fn number(&mut self, mut value: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 || start == 0 {
                break;
            }
        }
        self.bytes(&digits[start..])
    }

    pub fn name(&mut self, name: &CStr) -> &mut Self {
        self.bytes(name.to_bytes())
    }

    /// `"value"` as the user typed it, with anything unprintable escaped as `\xNN` and a long
    /// value cut short with its length, so that one warning stays one short line.
    pub fn quoted(&mut self, value: &[u8]) -> &mut Self {
        self.text("\"");
        for &byte in value.iter().take(QUOTED_MAX) {
            match byte {
                b'"' | b'\\' => self.bytes(&[b'\\', byte]),
                0x20..=0x7e => self.bytes(&[byte]),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.bytes(&[b'\\', b'x', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]])
                }
            };
        }
        if value.len() > QUOTED_MAX {
            self.text("...\" (").number(value.len() as u64).text(" bytes)")
        } else {
            self.text("\"")
        }
    }

    /// An errno value by its usual name.
    pub fn errno(&mut self, code: c_int) -> &mut Self {
        let name = match code {
            libc::EPERM => "EPERM",
            libc::EACCES => "EACCES",
            libc::EBADF => "EBADF",
            libc::EINVAL => "EINVAL",
            libc::ENOSYS => "ENOSYS",
            libc::ENOTSOCK => "ENOTSOCK",
            libc::ENOPROTOOPT => "ENOPROTOOPT",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            _ => return self.text("errno ").number(code as u64),
        };
        self.text(name)
    }

    #[cfg(test)]
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.get(..self.length).unwrap_or_default()
    }

    /// Writes the line, whatever descriptor 2 is now (warnings at load time).
    pub fn send(&mut self) {
        let Some(newline) = self.buffer.get_mut(self.length) else { return };
        *newline = b'\n';
        let saved = crate::errno::Saved::now();
        // SAFETY: writes initialised bytes of our own buffer; a failure is deliberately ignored.
        unsafe { libc::write(2, self.buffer.as_ptr().cast(), self.length + 1) };
        saved.restore();
    }

    /// Writes the line only if descriptor 2 is still the stderr the library found at load.
    pub fn send_to_original_stderr(&mut self) {
        let original = STDERR_IDENTITY.load(Ordering::Relaxed);
        if original != UNKNOWN && original == stderr_identity() {
            self.send();
        }
    }
}

const UNKNOWN: u64 = 0;
static STDERR_IDENTITY: AtomicU64 = AtomicU64::new(UNKNOWN);

/// Notes which file descriptor 2 is, for `send_to_original_stderr`.
pub fn remember_stderr() {
    let _ = STDERR_IDENTITY.compare_exchange(UNKNOWN, stderr_identity(), Ordering::Relaxed, Ordering::Relaxed);
}

/// Device and inode of descriptor 2 folded into one number, `UNKNOWN` if it is closed. The raw
/// system call keeps us off glibc's `fstat` symbol, which only exists from glibc 2.33 on.
fn stderr_identity() -> u64 {
    let saved = crate::errno::Saved::now();
    // SAFETY: `stat` is plain data the kernel fills in; on x86_64 and aarch64 libc's struct stat
    // is the kernel's layout.
    let identity = unsafe {
        let mut status: libc::stat = core::mem::zeroed();
        if libc::syscall(libc::SYS_fstat, 2 as c_int, &raw mut status) == 0 {
            (status.st_dev.rotate_left(32) ^ status.st_ino).max(1)
        } else {
            UNKNOWN
        }
    };
    saved.restore();
    identity
}

/// Warns, once per function, that libc's `name` could not be found.
#[cold]
pub fn missing_function(name: &CStr) {
    Line::warning()
        .text("cannot find the C library's ")
        .name(name)
        .text("(); calls to it fail with ENOSYS")
        .send();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> &str {
        core::str::from_utf8(line.as_bytes()).unwrap()
    }

    #[test]
    fn builds_a_line() {
        let mut line = Line::warning();
        line.text("fd ").number(5).text(" ").number(0).text(" ").number(u64::MAX);
        assert_eq!(text(&line), "libkeepalive: fd 5 0 18446744073709551615");
    }

    #[test]
    fn quotes_and_escapes() {
        let mut line = Line::empty();
        line.quoted(b"a\"b\\c\xff\n\x00z");
        assert_eq!(text(&line), r#""a\"b\\c\xff\x0a\x00z""#);
    }

    #[test]
    fn long_values_are_cut_short() {
        let mut line = Line::empty();
        line.quoted(&[b'7'; 100_000]);
        assert_eq!(text(&line), format!("\"{}...\" (100000 bytes)", "7".repeat(QUOTED_MAX)));
    }

    #[test]
    fn never_overflows() {
        let mut line = Line::warning();
        for _ in 0..100 {
            line.text("0123456789").quoted(&[0xff; 70]).number(12345);
        }
        assert_eq!(line.as_bytes().len(), CAPACITY - 1);
        line.send_to_original_stderr();
    }

    #[test]
    fn errno_names() {
        let mut line = Line::empty();
        line.errno(libc::EPERM).text(" ").errno(9999);
        assert_eq!(text(&line), "EPERM errno 9999");
    }
}
