//! Reading another process's socket options: `pidfd_getfd` (Linux 5.6) duplicates its
//! descriptor into this process, and `getsockopt` on the duplicate reads the shared socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
    pidfd: OwnedFd,
}

impl Reader {
    /// Fails with a short reason when the kernel or the permissions do not allow it.
    pub fn open(pid: u32) -> Result<Reader, String> {
        let pid = libc::pid_t::try_from(pid).map_err(|_| "no such process".to_owned())?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let pidfd = owned(pidfd).map_err(|error| format!("pidfd_open: {error}"))?;
        let reader = Reader { pidfd };
        // Try descriptor 0 so that a lack of permission is known before any row is drawn.
        match reader.duplicate(0) {
            Err(error) if error.raw_os_error() == Some(libc::EPERM) => {
                Err("pidfd_getfd: permission denied, needs root or ptrace rights over the process".to_owned())
            }
            Err(error) if error.raw_os_error() == Some(libc::ENOSYS) => Err("pidfd_getfd needs Linux 5.6".to_owned()),
            _ => Ok(reader),
        }
    }

    pub fn options(&mut self, fd: i32) -> Option<KeepaliveOptions> {
        let socket = self.duplicate(fd).ok()?;
        Some(KeepaliveOptions {
            keepalive: getsockopt::<libc::c_int>(&socket, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0,
            idle: getsockopt(&socket, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)?,
            interval: getsockopt(&socket, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL)?,
            count: getsockopt(&socket, libc::IPPROTO_TCP, libc::TCP_KEEPCNT)?,
            user_timeout_ms: getsockopt(&socket, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT)?,
        })
    }

    fn duplicate(&self, fd: i32) -> io::Result<OwnedFd> {
        // SAFETY: pidfd_getfd takes a pidfd, a descriptor number and flags, and returns a new
        // descriptor or -1.
        owned(unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.pidfd.as_raw_fd(), fd, 0) })
    }
}

fn owned(result: libc::c_long) -> io::Result<OwnedFd> {
    let fd = i32::try_from(result).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An option of type `T`, `None` when the kernel refuses it.
fn getsockopt<T: Copy + Default>(socket: &OwnedFd, level: i32, name: i32) -> Option<T> {
    let mut value = T::default();
    let mut length = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: value and length describe a writable buffer of exactly size_of::<T>() bytes.
    let result = unsafe { libc::getsockopt(socket.as_raw_fd(), level, name, (&raw mut value).cast(), &mut length) };
    (result == 0 && length as usize == std::mem::size_of::<T>()).then_some(value)
}
