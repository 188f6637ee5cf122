//! Reading another process's socket options, for `--status`: through `foreign::Target`.

use crate::foreign::{OpenError, Snapshot, Target};
use keepalive_policy::Timer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepaliveOptions {
    pub keepalive: bool,
    pub idle: i32,
    pub interval: i32,
    pub count: i32,
    pub user_timeout_ms: i32,
}

/// A handle on a process whose descriptors may be duplicated.
pub struct Reader {
    target: Target,
}

impl Reader {
    /// Fails with a short reason when the kernel or the permissions do not allow it.
    pub fn open(pid: u32) -> Result<Reader, String> {
        Target::open(pid).map(|target| Reader { target }).map_err(|error| match error {
            OpenError::Gone => "no such process".to_owned(),
            OpenError::Denied(reason) | OpenError::Unsupported(reason) | OpenError::Unreachable(reason) => reason,
        })
    }

    pub fn options(&mut self, fd: i32) -> Option<KeepaliveOptions> {
        let socket = self.target.duplicate(fd).ok()?;
        let snapshot = Snapshot::read(std::os::fd::AsRawFd::as_raw_fd(&socket));
        let timer = |timer| snapshot.timers.get(timer);
        Some(KeepaliveOptions {
            keepalive: snapshot.keepalive?,
            idle: timer(Timer::Idle)?,
            interval: timer(Timer::Interval)?,
            count: timer(Timer::Count)?,
            user_timeout_ms: timer(Timer::UserTimeout)?,
        })
    }
}
