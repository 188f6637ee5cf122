//! The supervisor's loop: receive each trapped call, configure the socket it names through a
//! duplicate of the program's descriptor, and let the call continue.
//!
//! The notification carries the calling thread's ID and the call's raw arguments. The socket is
//! reached with `pidfd_open` and `pidfd_getfd`; the notification is checked to be still pending
//! (`SECCOMP_IOCTL_NOTIF_ID_VALID`) after the pidfd is open, so that the pidfd is known to name
//! the process that made the call and not a later one with the same ID.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use keepalive_config::Peer;

use crate::streams::stderr_line;

use super::trapped::{self, Call, Plan};
use crate::foreign::OpenError;

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (linux/seccomp.h, Linux 6.6): the supervisor runs on the
/// caller's CPU as soon as it is notified, and the caller on the supervisor's when answered.
const SYNC_WAKE_UP: u64 = 1;

/// A received notification, laid out as the kernel writes it, with room for fields a newer
/// kernel may add (its size is asked of the kernel).
struct Buffers {
    notification: Vec<u64>,
    response_size: usize,
}

impl Buffers {
    fn new() -> Buffers {
        let mut sizes = libc::seccomp_notif_sizes { seccomp_notif: 0, seccomp_notif_resp: 0, seccomp_data: 0 };
        // SAFETY: SECCOMP_GET_NOTIF_SIZES writes the three sizes into `sizes`.
        unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_NOTIF_SIZES, 0, &raw mut sizes) };
        let notification = usize::from(sizes.seccomp_notif).max(size_of::<libc::seccomp_notif>());
        let response_size = usize::from(sizes.seccomp_notif_resp).max(size_of::<libc::seccomp_notif_resp>());
        Buffers { notification: vec![0; notification.div_ceil(8)], response_size }
    }
}

/// A file as `fstat` names it: device and inode.
pub type FileIdentity = (u64, u64);

/// The identity of the file open at `fd`, if one is.
pub fn identity(fd: RawFd) -> Option<FileIdentity> {
    // SAFETY: all-zero is a valid stat, which fstat fills.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into `stat`.
    (unsafe { libc::fstat(fd, &raw mut stat) } == 0).then_some((stat.st_dev, stat.st_ino))
}

/// Why `Server::serve_until` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every process under the filter has ended.
    HungUp,
    /// The other descriptor given has something to read.
    Readable,
}

/// The listener and what serving it needs.
pub struct Server {
    listener: OwnedFd,
    plan: Plan,
    verbose: bool,
    /// The file the command's standard error was when it started.
    user_stderr: Option<FileIdentity>,
    buffers: Buffers,
}

impl Server {
    pub fn new(listener: OwnedFd, plan: Plan, verbose: bool, user_stderr: Option<FileIdentity>) -> Server {
        // SAFETY: an ioctl with a u64 flag word; an older kernel refuses it and nothing changes.
        unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP) };
        Server { listener, plan, verbose, user_stderr, buffers: Buffers::new() }
    }

    pub fn listener(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Serves notifications until no process uses the filter any more, or until `other`, if
    /// given, has something to read (after the notification that came with it, if any).
    pub fn serve_until(&mut self, other: Option<RawFd>) -> Stop {
        let listener = self.listener.as_raw_fd();
        let mut polled = [
            libc::pollfd { fd: listener, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: other.unwrap_or(-1), events: libc::POLLIN, revents: 0 },
        ];
        loop {
            // SAFETY: two pollfds (a negative descriptor is skipped), waited on without a time limit.
            if unsafe { libc::poll(polled.as_mut_ptr(), 2, -1) } < 0 {
                continue;
            }
            let [notified, readable] = polled.map(|poll| poll.revents);
            if notified & libc::POLLIN != 0 {
                self.serve_one();
            } else if notified & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                return Stop::HungUp;
            }
            if readable & libc::POLLIN != 0 {
                return Stop::Readable;
            }
        }
    }

    /// Receives one notification and answers it.
    fn serve_one(&mut self) {
        let listener = self.listener.as_raw_fd();
        let buffers = &mut self.buffers;
        buffers.notification.fill(0);
        // SAFETY: the buffer is zeroed and at least as large as the kernel's seccomp_notif.
        if unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, buffers.notification.as_mut_ptr()) } < 0 {
            // ENOENT: the caller was interrupted or ended before the notification was read.
            return;
        }
        // SAFETY: the kernel wrote a seccomp_notif at the start of the buffer.
        let notification = unsafe { std::ptr::read(buffers.notification.as_ptr().cast::<libc::seccomp_notif>()) };
        let answer = if libc::c_long::from(notification.data.nr) == libc::SYS_io_uring_setup {
            warn_about_io_uring(notification.pid, &mut self.plan, self.verbose, self.user_stderr);
            Answer::Continue
        } else {
            handle(listener, &notification, &mut self.plan, self.verbose)
        };
        respond(listener, notification.id, answer, buffers.response_size);
    }
}

/// How the trapped call ends.
enum Answer {
    /// The kernel carries out the call as the program made it.
    Continue,
    /// The supervisor carried it out: this value or error (a positive errno) is the result.
    Done(Result<i64, i32>),
}

fn respond(listener: RawFd, id: u64, answer: Answer, size: usize) {
    let mut response = vec![0u64; size.div_ceil(8)];
    let (val, error, flags) = match answer {
        Answer::Continue => (0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
        Answer::Done(Ok(value)) => (value, 0, 0),
        Answer::Done(Err(errno)) => (0, -errno, 0),
    };
    let fields = libc::seccomp_notif_resp { id, val, error, flags };
    // SAFETY: the buffer is at least as large as seccomp_notif_resp and 8-byte aligned.
    unsafe { std::ptr::write(response.as_mut_ptr().cast::<libc::seccomp_notif_resp>(), fields) };
    // SAFETY: the kernel reads the response from the buffer. ENOENT: the caller is gone.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, response.as_mut_ptr()) };
}

fn handle(listener: RawFd, notification: &libc::seccomp_notif, plan: &mut Plan, verbose: bool) -> Answer {
    let data = &notification.data;
    let tid = notification.pid;
    let args = data.args;
    let nr = libc::c_long::from(data.nr);
    let call = match nr {
        libc::SYS_connect => Call::Connect,
        libc::SYS_sendto | libc::SYS_sendmsg | libc::SYS_sendmmsg => Call::FastOpen,
        libc::SYS_listen => Call::Listen,
        libc::SYS_accept | libc::SYS_accept4 => Call::Accept,
        libc::SYS_setsockopt => return setsockopt_for_program(listener, notification, plan, verbose),
        _ => return Answer::Continue,
    };
    let Ok(fd) = i32::try_from(args[0]) else {
        return Answer::Continue;
    };
    let settings = plan.settings;
    let peer = if settings.only.configured || settings.skip.configured {
        match nr {
            libc::SYS_connect => read_peer(tid, args[1], args[2]),
            libc::SYS_sendto => read_peer(tid, args[4], args[5]),
            // A struct mmsghdr starts with its msghdr: the first message connects.
            libc::SYS_sendmsg | libc::SYS_sendmmsg => read_message_peer(tid, args[1]),
            _ => None,
        }
    } else {
        None
    };
    let process = match plan.process_of(tid) {
        Ok(process) => process,
        Err(error) => {
            if let (true, OpenError::Unreachable(why) | OpenError::Denied(why)) = (verbose, error) {
                stderr_line!("keepalive[{tid}]: fd {fd} {}: untouched, {why}", call.name());
            }
            return Answer::Continue;
        }
    };
    let socket = process.duplicate(fd);
    // From here, the process and the memory read are known to be the caller's.
    if !still_pending(listener, notification.id) {
        return Answer::Continue;
    }
    let socket = match socket {
        Ok(socket) => socket,
        Err(error) => {
            if verbose && error.raw_os_error() == Some(libc::EPERM) {
                stderr_line!("keepalive[{tid}]: fd {fd} {}: untouched, {}", call.name(), process.missing_rights());
            }
            return Answer::Continue;
        }
    };
    let line = trapped::configure_trapped(process, fd, socket, call, peer, &settings);
    if verbose {
        stderr_line!("keepalive[{tid}]: fd {fd} {line}");
    }
    Answer::Continue
}

/// In force mode: the program's `setsockopt` of a keepalive option, carried out by the
/// supervisor with the program's value, then ours put back on a socket we configure.
fn setsockopt_for_program(
    listener: RawFd,
    notification: &libc::seccomp_notif,
    plan: &mut Plan,
    verbose: bool,
) -> Answer {
    let tid = notification.pid;
    let args = notification.data.args;
    let (Ok(fd), level, name) = (i32::try_from(args[0]), args[1] as i32, args[2] as i32) else {
        return Answer::Continue;
    };
    // The options the filter traps take an int; a longer value is read as the kernel reads it.
    let length = args[4] as u32;
    let mut value = [0u8; 4];
    let read = if length >= 4 { read_memory(tid, args[3], &mut value) } else { Err(libc::EINVAL) };
    let settings = plan.settings;
    let Ok(process) = plan.process_of(tid) else {
        return Answer::Continue;
    };
    let socket = process.duplicate(fd);
    if !still_pending(listener, notification.id) {
        return Answer::Continue;
    }
    // Not a descriptor of the program, or not one we may take; or a bad pointer or length: the
    // kernel carries the call out and gives the program its answer.
    let (Ok(socket), Ok(())) = (socket, read) else {
        return Answer::Continue;
    };
    // SAFETY: value is 4 readable bytes, the length of an int option.
    let result = unsafe { libc::setsockopt(socket.as_raw_fd(), level, name, value.as_ptr().cast(), 4) };
    if result != 0 {
        return Answer::Done(Err(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL)));
    }
    if let Some(line) = trapped::enforce(process, fd, socket, &settings) {
        if verbose {
            stderr_line!("keepalive[{tid}]: fd {fd} {line}");
        }
    }
    Answer::Done(Ok(0))
}

/// Once per supervisor: connections made through io_uring (`IORING_OP_CONNECT`,
/// `IORING_OP_ACCEPT`) are not seen. Written on the program's descriptor 2 (a duplicate, which
/// shares its offset) only while that is still the user's standard error (`user_stderr`): a
/// program may have put a data file there. Otherwise only `--verbose` shows it, on ours.
fn warn_about_io_uring(tid: u32, plan: &mut Plan, verbose: bool, user_stderr: Option<FileIdentity>) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let process = plan.process_of(tid).ok();
    let program_stderr = process.and_then(|process| process.duplicate(2).ok());
    let users = program_stderr.filter(|stderr| user_stderr.is_some() && identity(stderr.as_raw_fd()) == user_stderr);
    if (users.is_none() && !verbose) || WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let name = process.and_then(|process| {
        crate::procfs::read(process.pidfd(), |directory| std::fs::read_to_string(directory.join("comm")).ok())
    });
    let name = name.unwrap_or_default();
    let line = format!(
        "keepalive: warning: {}[{tid}] set up io_uring: connections it makes or accepts through io_uring \
         bypass the supervisor and get no keepalive\n",
        name.trim_end()
    );
    let target = users.as_ref().map_or(2, AsRawFd::as_raw_fd);
    // SAFETY: writes the bytes of `line` to the program's standard error or to ours.
    unsafe { libc::write(target, line.as_ptr().cast(), line.len()) };
}

fn still_pending(listener: RawFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: the ioctl reads a u64.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &raw mut id) == 0 }
}

/// Copies `into.len()` bytes at `address` in thread `tid`'s memory. Another thread of the program
/// may change them after they are read and before the kernel reads them for the call.
fn read_memory(tid: u32, address: u64, into: &mut [u8]) -> Result<(), i32> {
    let local = libc::iovec { iov_base: into.as_mut_ptr().cast(), iov_len: into.len() };
    let remote = libc::iovec { iov_base: address as usize as *mut libc::c_void, iov_len: into.len() };
    // SAFETY: `local` describes `into`; the kernel checks `remote`, which is only read.
    let copied = unsafe { libc::process_vm_readv(tid as libc::pid_t, &raw const local, 1, &raw const remote, 1, 0) };
    if copied == into.len() as isize {
        Ok(())
    } else {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EFAULT))
    }
}

/// The peer in the `sockaddr` of `length` bytes at `address` in the program.
fn read_peer(tid: u32, address: u64, length: u64) -> Option<Peer> {
    let mut storage = [0u8; size_of::<libc::sockaddr_storage>()];
    let length = usize::try_from(length).ok()?.min(storage.len());
    if address == 0 {
        return None;
    }
    read_memory(tid, address, &mut storage[..length]).ok()?;
    peer_of(&storage[..length])
}

/// The peer in a `msghdr`'s `msg_name`.
fn read_message_peer(tid: u32, message: u64) -> Option<Peer> {
    let mut header = [0u8; 16];
    read_memory(tid, message, &mut header).ok()?;
    let name = u64::from_ne_bytes(header[..8].try_into().ok()?);
    let length = u32::from_ne_bytes(header[8..12].try_into().ok()?);
    read_peer(tid, name, u64::from(length))
}

/// An IPv4 or IPv6 peer in the bytes of a `sockaddr`.
pub fn peer_of(bytes: &[u8]) -> Option<Peer> {
    let family = i32::from(u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?));
    let port = u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?);
    match family {
        libc::AF_INET if bytes.len() >= size_of::<libc::sockaddr_in>() => {
            Some(Peer::v4(bytes.get(4..8)?.try_into().ok()?, port))
        }
        // The older IPv6 address without its scope id (RFC 2133) is 24 bytes.
        libc::AF_INET6 if bytes.len() >= 24 => Some(Peer::v6(bytes.get(8..24)?.try_into().ok()?, port)),
        _ => None,
    }
}
