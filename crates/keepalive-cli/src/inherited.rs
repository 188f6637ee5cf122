//! What this process inherited that the Rust runtime changes before `main`, recorded before it
//! does and given back to the program: the runtime ignores SIGPIPE, and opens `/dev/null` on
//! each of the standard descriptors 0, 1 and 2 that is closed. A program started by
//! `keepalive` must start as it would have without it: with SIGPIPE ignored when the command's
//! parent ignored it (systemd's `IgnoreSIGPIPE=yes`, its default; `trap '' PIPE` in a shell),
//! and with a standard descriptor closed when it was (`<&-`, `>&-`).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Whether SIGPIPE was ignored when this process started.
static SIGPIPE_IGNORED: AtomicBool = AtomicBool::new(false);

/// Bit `n` set: descriptor `n` (0, 1 or 2) was closed when this process started.
static CLOSED_STANDARD: AtomicU8 = AtomicU8::new(0);

ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn record() {
        // SAFETY: all-zero is a valid sigaction, which sigaction fills with the current action.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: reads SIGPIPE's action into `action`; a null new action changes nothing.
        let read = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &raw mut action) };
        SIGPIPE_IGNORED.store(read == 0 && action.sa_sigaction == libc::SIG_IGN, Ordering::Relaxed);
        let closed = (0..=2).filter(|&fd| {
            // SAFETY: F_GETFD only reads the descriptor's flags; it fails only for one not open.
            unsafe { libc::fcntl(fd, libc::F_GETFD) == -1 }
        });
        CLOSED_STANDARD.store(closed.fold(0, |bits, fd| bits | (1 << fd)), Ordering::Relaxed);
    }
}

/// Puts back what this process inherited, just before it replaces itself with the program:
/// SIGPIPE's disposition, and the standard descriptors that were closed closed again. Nothing in
/// this process opens a file on 0, 1 or 2 itself, so what is there is the runtime's `/dev/null`.
pub fn restore() {
    let disposition = if SIGPIPE_IGNORED.load(Ordering::Relaxed) { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: setting a signal's disposition to the default or to ignored has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, disposition) };
    let closed = CLOSED_STANDARD.load(Ordering::Relaxed);
    for fd in (0..=2).filter(|fd| closed & (1 << fd) != 0) {
        // SAFETY: closes a descriptor of this process that nothing here uses any more.
        unsafe { libc::close(fd) };
    }
}
