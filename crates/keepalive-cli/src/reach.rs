//! A running process's descriptors reached by its ID, for `--attach` and `--status`: through the
//! process's pidfd, or, once its main thread has exited while other threads run (`pthread_exit()`
//! in `main`, where `pidfd_getfd` on the process's pidfd answers `ESRCH`), through a pidfd of one
//! of those threads (`PIDFD_THREAD`, Linux 6.9), which share the process's descriptors.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::foreign::{self, OpenError, Target};

/// A process, and the pidfd its descriptors are duplicated through.
pub struct Running {
    pub pid: u32,
    pub target: Target,
    /// The process's own pidfd while `target` is one of its threads'.
    process: Option<OwnedFd>,
}

impl Running {
    /// Opens process `pid`, through one of its threads when its main thread has exited. The error
    /// is `Target::open`'s when no thread reaches the descriptors either (a zombie, a kernel
    /// without `PIDFD_THREAD`).
    pub fn open(pid: u32) -> Result<Running, OpenError> {
        match Target::open(pid) {
            Err(OpenError::Unreachable(why)) => {
                let process = process_pidfd(pid).ok_or(OpenError::Gone)?;
                let target = through_a_thread(pid, &process)?.ok_or(OpenError::Unreachable(why))?;
                Ok(Running { pid, target, process: Some(process) })
            }
            opened => opened.map(|target| Running { pid, target, process: None }),
        }
    }

    /// Readable once every thread of the process has exited, whichever thread `target` goes through.
    pub fn exit_pidfd(&self) -> BorrowedFd<'_> {
        self.process.as_ref().map_or(self.target.pidfd(), AsFd::as_fd)
    }

    /// A duplicate of the process's descriptor `fd`. When the thread `target` goes through has
    /// exited (or the main thread, since the process was opened), through another live one;
    /// `ESRCH` once there is none.
    pub fn duplicate(&mut self, fd: i32) -> io::Result<OwnedFd> {
        match self.target.duplicate(fd) {
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) && self.reach_again() => self.target.duplicate(fd),
            duplicated => duplicated,
        }
    }

    /// Goes through another of the process's live threads; false when none is left or reachable.
    fn reach_again(&mut self) -> bool {
        let process = match self.process.take() {
            Some(process) => process,
            None => match self.target.pidfd().try_clone_to_owned() {
                Ok(process) => process,
                Err(_) => return false,
            },
        };
        let reached = through_a_thread(self.pid, &process);
        self.process = Some(process);
        match reached {
            Ok(Some(target)) => {
                self.target = target;
                true
            }
            _ => false,
        }
    }
}

/// Process `pid`'s own pidfd, which `pidfd_open` gives while any of its threads runs.
fn process_pidfd(pid: u32) -> Option<OwnedFd> {
    let raw = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    foreign::owned(unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) }).ok()
}

/// A target through one of process `pid`'s live threads; `None` when none is left, or the kernel
/// has no pidfds of threads. `process` is its pidfd: once every thread has exited, `pid` may
/// name another process, whose threads are not taken for its.
fn through_a_thread(pid: u32, process: &OwnedFd) -> Result<Option<Target>, OpenError> {
    let threads = fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    for tid in threads.filter_map(|thread| thread.file_name().to_str()?.parse().ok()) {
        match Target::open_thread(tid) {
            // The main thread, exited, and any other that has since.
            Err(OpenError::Gone) => continue,
            Err(OpenError::Unsupported(_)) => return Ok(None),
            Err(error) => return Err(error),
            Ok(target) => return Ok((!has_exited(process)).then_some(target)),
        }
    }
    Ok(None)
}

/// Whether the process of `pidfd` has exited, every thread of it.
fn has_exited(pidfd: &OwnedFd) -> bool {
    let mut ready = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, and no wait.
    unsafe { libc::poll(&mut ready, 1, 0) == 1 }
}
