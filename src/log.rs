//! One-line messages on stderr, built in a stack buffer and written with a single `write(2)`.
//!
//! No allocation, no stdio, no locks: this runs inside hooks, which may run in signal handlers.
//! A daemon may close stderr and get a socket as descriptor 2 later; debug lines are dropped
//! once descriptor 2 is no longer the file it was when the library loaded, so that they never
//! land in the program's own connections.

use core::ffi::{CStr, c_int};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, Ordering};

const CAPACITY: usize = 480;
/// Longest part of a configuration value quoted in a warning.
const QUOTED_MAX: usize = 64;

// Lines are built in an uninitialised buffer; the copies call the library's own hidden memcpy
// (`mem`), never the C library's.
pub struct Line<'a> {
    buffer: &'a mut MaybeUninit<[u8; CAPACITY]>,
    length: usize,
}

impl Line<'_> {
    /// Writes a warning, `libkeepalive: …`, whatever descriptor 2 is now (they come at load).
    pub fn warning(build: impl FnOnce(&mut Line)) {
        let mut buffer = MaybeUninit::uninit();
        let mut line = Line::empty(&mut buffer);
        line.text("libkeepalive: ");
        build(&mut line);
        line.send();
    }

    /// Writes a debug line, `libkeepalive[pid]: …`, if descriptor 2 is still the stderr the
    /// library found at load.
    pub fn debug(build: impl FnOnce(&mut Line)) {
        let mut buffer = MaybeUninit::uninit();
        if let Some(mut line) = Line::debug_start(&mut buffer) {
            build(&mut line);
            line.send();
        }
    }

    /// The start of a debug line, or `None` when descriptor 2 is no longer our stderr.
    #[inline(never)]
    fn debug_start(buffer: &mut MaybeUninit<[u8; CAPACITY]>) -> Option<Line<'_>> {
        let original = STDERR_IDENTITY.load(Ordering::Relaxed);
        if original == UNKNOWN || original != stderr_identity() {
            return None;
        }
        let mut line = Line::empty(buffer);
        line.text("libkeepalive[").number(crate::sys::getpid() as u64).text("]: ");
        Some(line)
    }

    fn empty(buffer: &mut MaybeUninit<[u8; CAPACITY]>) -> Line<'_> {
        Line { buffer, length: 0 }
    }

    /// Inlined: a call to `bytes` costs the same, and spares a function of its own.
    #[inline(always)]
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    #[inline(never)]
    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        // One byte stays free for the newline.
        let room = (CAPACITY - 1).saturating_sub(self.length);
        let taken = bytes.len().min(room);
        // SAFETY: `length + taken <= CAPACITY - 1`, so the bytes land inside the buffer, which
        // `bytes` (a shared borrow) cannot overlap.
        unsafe {
            let start = self.buffer.as_mut_ptr().cast::<u8>().add(self.length);
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), start, taken);
        }
        self.length += taken;
        self
    }

    #[inline(never)]
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

    /// `, idle 20s` for a configured value, `, idle system` (`unset`) otherwise; `label` is
    /// `, idle `, whole, which saves two writes at each of the calls.
    #[inline(never)]
    pub fn timer(&mut self, label: &str, value: Option<u32>, unit: &str, unset: &str) -> &mut Self {
        self.text(label);
        match value {
            Some(value) => self.number(u64::from(value)).text(unit),
            None => self.text(unset),
        }
    }

    pub fn name(&mut self, name: &CStr) -> &mut Self {
        self.bytes(name.to_bytes())
    }

    /// `"value"` as the user typed it, with anything unprintable escaped as `\xNN` and a long
    /// value cut short with its length, so that one warning stays one short line.
    #[inline(never)]
    pub fn quoted(&mut self, value: &[u8]) -> &mut Self {
        self.text("\"");
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &byte in value.iter().take(QUOTED_MAX) {
            let (escaped, length) = match byte {
                b'"' | b'\\' => ([b'\\', byte, 0, 0], 2),
                0x20..=0x7e => ([byte, 0, 0, 0], 1),
                _ => ([b'\\', b'x', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]], 4),
            };
            self.bytes(escaped.get(..length).unwrap_or_default());
        }
        if value.len() > QUOTED_MAX {
            self.text("...\" (").number(value.len() as u64).text(" bytes)")
        } else {
            self.text("\"")
        }
    }

    /// An errno value by its usual name, found by its position in `CODES`: a `match` costs a
    /// jump table, and a table of `&str` a relocation for each name. `black_box` keeps the
    /// compiler from turning the search back into a `match`.
    #[inline(never)]
    pub fn errno(&mut self, code: c_int) -> &mut Self {
        const CODES: [c_int; 8] = [
            libc::EPERM,
            libc::EACCES,
            libc::EBADF,
            libc::EINVAL,
            libc::ENOSYS,
            libc::ENOTSOCK,
            libc::ENOPROTOOPT,
            libc::EOPNOTSUPP,
        ];
        const NAMES: [[u8; 11]; 8] = [
            padded("EPERM"),
            padded("EACCES"),
            padded("EBADF"),
            padded("EINVAL"),
            padded("ENOSYS"),
            padded("ENOTSOCK"),
            padded("ENOPROTOOPT"),
            padded("EOPNOTSUPP"),
        ];
        match core::hint::black_box(&CODES[..])
            .iter()
            .position(|&known| known == code)
            .and_then(|index| NAMES.get(index))
        {
            Some(name) => self.bytes(name.split(|&byte| byte == 0).next().unwrap_or_default()),
            None => self.text("errno ").number(code as u64),
        }
    }

    #[cfg(test)]
    pub fn as_bytes(&self) -> &[u8] {
        self.written(self.length)
    }

    /// The first `length` bytes, all written by `bytes`.
    fn written(&self, length: usize) -> &[u8] {
        let length = length.min(CAPACITY);
        // SAFETY: bytes up to `self.length` (and the newline after them, in `send`) were written.
        unsafe { core::slice::from_raw_parts(self.buffer.as_ptr().cast::<u8>(), length) }
    }

    /// The line with its newline, ready to write.
    fn terminated(&mut self) -> Option<&[u8]> {
        if self.length >= CAPACITY {
            return None;
        }
        // SAFETY: inside the buffer, checked above.
        unsafe { self.buffer.as_mut_ptr().cast::<u8>().add(self.length).write(b'\n') };
        Some(self.written(self.length + 1))
    }

    fn send(&mut self) {
        if let Some(bytes) = self.terminated() {
            // A failure (stderr closed, or a pipe without reader) is deliberately ignored; errno
            // is not touched, and no SIGPIPE reaches the program.
            let _ = crate::sys::write_without_signal(2, bytes);
        }
    }
}

/// `name` followed by zeros, for `Line::errno`.
const fn padded<const N: usize>(name: &str) -> [u8; N] {
    let mut bytes = [0; N];
    let mut index = 0;
    while index < name.len() {
        bytes[index] = name.as_bytes()[index];
        index += 1;
    }
    bytes
}

const UNKNOWN: u64 = 0;
static STDERR_IDENTITY: AtomicU64 = AtomicU64::new(UNKNOWN);

/// Notes which file descriptor 2 is, for `Line::debug`.
pub fn remember_stderr() {
    let _ = STDERR_IDENTITY.compare_exchange(UNKNOWN, stderr_identity(), Ordering::Relaxed, Ordering::Relaxed);
}

/// Device and inode of descriptor 2 folded into one number, `UNKNOWN` if it is closed.
fn stderr_identity() -> u64 {
    match crate::sys::file_identity(2) {
        Ok((device, inode)) => (device.rotate_left(32) ^ inode).max(1),
        Err(_) => UNKNOWN,
    }
}

/// Says, once per function, that libc's `name` could not be found, so its hook makes the
/// system call itself.
#[cold]
pub fn calling_the_kernel(name: &CStr) {
    Line::debug(|line| {
        line.text("the C library's ").name(name).text("() was not found; its calls go to the kernel directly");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(line: &'a Line) -> &'a str {
        core::str::from_utf8(line.as_bytes()).unwrap()
    }

    #[test]
    fn builds_a_line() {
        let mut buffer = MaybeUninit::uninit();
        let mut line = Line::empty(&mut buffer);
        line.text("fd ").number(5).text(" ").number(0).text(" ").number(u64::MAX);
        assert_eq!(text(&line), "fd 5 0 18446744073709551615");
    }

    #[test]
    fn quotes_and_escapes() {
        let mut buffer = MaybeUninit::uninit();
        let mut line = Line::empty(&mut buffer);
        line.quoted(b"a\"b\\c\xff\n\x00z");
        assert_eq!(text(&line), r#""a\"b\\c\xff\x0a\x00z""#);
    }

    #[test]
    fn long_values_are_cut_short() {
        let mut buffer = MaybeUninit::uninit();
        let mut line = Line::empty(&mut buffer);
        line.quoted(&[b'7'; 100_000]);
        assert_eq!(text(&line), format!("\"{}...\" (100000 bytes)", "7".repeat(QUOTED_MAX)));
    }

    #[test]
    fn never_overflows() {
        let mut buffer = MaybeUninit::uninit();
        let mut line = Line::empty(&mut buffer);
        for _ in 0..100 {
            line.text("0123456789").quoted(&[0xff; 70]).number(12345);
        }
        assert_eq!(line.as_bytes().len(), CAPACITY - 1);
        let bytes = line.terminated().expect("room for the newline");
        assert_eq!((bytes.len(), bytes.last()), (CAPACITY, Some(&b'\n')));
    }

    #[test]
    fn errno_names() {
        let mut buffer = MaybeUninit::uninit();
        let mut line = Line::empty(&mut buffer);
        line.errno(libc::EPERM).text(" ").errno(libc::ENOPROTOOPT).text(" ").errno(libc::EOPNOTSUPP);
        line.text(" ").errno(9999);
        assert_eq!(text(&line), "EPERM ENOPROTOOPT EOPNOTSUPP errno 9999");
    }
}
