//! Reading another process's socket options, for `--status`: through `reach::Running`.

use crate::foreign::{OpenError, Snapshot};
use crate::reach::Running;
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
    process: Running,
}

impl Reader {
    /// Fails with a short reason when the kernel or the permissions do not allow it.
    pub fn open(pid: u32) -> Result<Reader, String> {
        Running::open(pid).map(|process| Reader { process }).map_err(|error| match error {
            OpenError::Gone => "no such process".to_owned(),
            OpenError::Denied(reason) | OpenError::Unsupported(reason) | OpenError::Unreachable(reason) => reason,
        })
    }

    pub fn options(&mut self, fd: i32) -> Option<KeepaliveOptions> {
        let socket = self.process.duplicate(fd).ok()?;
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
