//! A test cgroup v2 with `keepalive --cgroup` attached: programs started in it, and the socket
//! options of any process read back from the kernel. Dropping it, even while a failed test
//! unwinds, detaches ours, kills what runs in it and removes it; when no test is failing, it
//! also checks that no pin of ours is left for the cgroup it removes.

use super::{clean_command, describe, root, text};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static CGROUPS: AtomicU32 = AtomicU32::new(0);

/// The release command that `make` builds.
pub fn keepalive() -> PathBuf {
    super::command_path()
}

/// Where cgroup v2 is mounted, or why these tests cannot run here.
fn cgroup2_mount() -> Result<PathBuf, String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mount = mounts.lines().map(|line| line.split(' ').collect::<Vec<_>>()).find_map(|fields| match fields[..] {
        [_, mount, "cgroup2", ..] => Some(PathBuf::from(mount)),
        _ => None,
    });
    let mount = mount.ok_or("no cgroup v2 is mounted")?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status.lines().find_map(|line| line.strip_prefix("CapEff:")).unwrap_or("0");
    let effective = u64::from_str_radix(effective.trim(), 16).unwrap_or(0);
    // CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN load and attach; CAP_SYS_ADMIN makes cgroups.
    if effective & (1 << 21) == 0 || effective & (1 << 12) == 0 {
        return Err("this process lacks CAP_SYS_ADMIN or CAP_NET_ADMIN".to_owned());
    }
    Ok(mount)
}

pub struct TestCgroup {
    pub path: PathBuf,
}

impl TestCgroup {
    /// A new, empty cgroup; `None`, after saying why, where BPF on cgroups is unavailable.
    pub fn new(test: &str) -> Option<TestCgroup> {
        let mount = match cgroup2_mount() {
            Ok(mount) => mount,
            Err(reason) => {
                super::report(&format!("SKIPPED {test}: {reason}"));
                return None;
            }
        };
        remove_abandoned_cgroups(&mount);
        let number = CGROUPS.fetch_add(1, Ordering::Relaxed);
        let path = mount.join(format!("keepalive-test-{}-{number}", super::owner::mark()));
        std::fs::create_dir(&path).unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        Some(TestCgroup { path })
    }

    /// A cgroup below this one, removed first when dropped before it.
    pub fn child(&self, name: &str) -> TestCgroup {
        let path = self.path.join(name);
        std::fs::create_dir(&path).unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        TestCgroup { path }
    }

    /// `keepalive ARGS --cgroup DIR`.
    pub fn keepalive(&self, arguments: &[&str]) -> Output {
        clean_command(keepalive()).args(arguments).arg("--cgroup").arg(&self.path).output().unwrap()
    }

    /// Kills what runs in the cgroup and removes it without detaching ours, as when a pod or unit
    /// goes away under `keepalive --cgroup`; returns the removed cgroup's pin directory.
    pub fn remove_without_detaching(self) -> PathBuf {
        let pins = pin_directory(&self.path);
        self.kill_and_remove();
        std::mem::forget(self);
        pins
    }

    fn kill_and_remove(&self) {
        let _ = std::fs::write(self.path.join("cgroup.kill"), "1");
        for pid in self.processes() {
            // SAFETY: kill takes a pid and a signal number and touches no memory of ours; a process
            // that has gone already only makes it fail, which is ignored.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        super::wait_for(Duration::from_secs(5), || self.processes().is_empty().then_some(()));
        super::wait_for(Duration::from_secs(5), || std::fs::remove_dir(&self.path).ok());
    }

    /// The same, which must succeed.
    pub fn attach(&self, arguments: &[&str]) {
        let output = self.keepalive(arguments);
        assert!(output.status.success(), "keepalive {arguments:?} --cgroup: {}", describe(&output));
    }

    pub fn status(&self) -> String {
        let output = Command::new(keepalive()).arg("--status").arg(&self.path).output().unwrap();
        assert!(output.status.success(), "keepalive --status: {}", describe(&output));
        text(&output.stdout)
    }

    /// Arguments for `sh` that move the shell into this cgroup, then run the program that follows
    /// them: `sh ENTRY... PROGRAM ARGS...`.
    pub fn shell_entry(&self) -> [String; 3] {
        let procs = self.path.join("cgroup.procs");
        ["-c".to_owned(), format!("echo $$ > '{}' && exec \"$@\"", procs.display()), "sh".to_owned()]
    }

    /// `command` made to start inside this cgroup, with its input and output piped.
    pub fn inside(&self, command: Command) -> Command {
        let mut wrapper = Command::new("sh");
        wrapper.args(self.shell_entry()).arg(command.get_program()).args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapper.env(key, value),
                None => wrapper.env_remove(key),
            };
        }
        wrapper.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        wrapper
    }

    fn processes(&self) -> Vec<i32> {
        let procs = std::fs::read_to_string(self.path.join("cgroup.procs")).unwrap_or_default();
        procs.split_whitespace().filter_map(|pid| pid.parse().ok()).collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let pins = std::fs::metadata(&self.path).is_ok().then(|| pin_directory(&self.path));
        let detached = Command::new(keepalive()).arg("--cgroup").arg(&self.path).arg("--detach").output();
        self.kill_and_remove();
        if std::thread::panicking() {
            return;
        }
        let detached = detached.expect("keepalive runs");
        assert!(detached.status.success(), "--detach of {}: {}", self.path.display(), describe(&detached));
        if let Some(pins) = pins {
            assert!(!pins.exists(), "{} is left after its test cgroup was removed", pins.display());
        }
    }
}

/// Removes the test cgroups of test processes that are gone (killed before they could clean up),
/// with their children, ours detached first.
fn remove_abandoned_cgroups(mount: &Path) {
    let Ok(entries) = std::fs::read_dir(mount) else { return };
    for name in entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok()) {
        let owner = name.strip_prefix("keepalive-test-").and_then(|rest| rest.split_once('-')).map(|(mark, _)| mark);
        if owner.is_some_and(super::owner::gone) {
            let path = mount.join(&name);
            let children = std::fs::read_dir(&path).into_iter().flatten().filter_map(Result::ok);
            let children: Vec<PathBuf> = children.map(|entry| entry.path()).filter(|path| path.is_dir()).collect();
            drop(children.into_iter().map(|path| TestCgroup { path }).collect::<Vec<_>>());
            drop(TestCgroup { path });
        }
    }
}

/// What the kernel says of one TCP socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub keepalive: bool,
    pub idle: i32,
    pub interval: i32,
    pub count: i32,
    pub user_timeout_ms: i32,
}

impl Options {
    pub const fn on(idle: i32, interval: i32, count: i32, user_timeout_ms: i32) -> Options {
        Options { keepalive: true, idle, interval, count, user_timeout_ms }
    }
}

/// The connected TCP sockets of process `pid`, as (peer port, options), read through duplicates
/// of its descriptors taken with `pidfd_getfd`.
pub fn connections(pid: u32) -> Vec<(u16, Options)> {
    // SAFETY: pidfd_open takes a pid and flags, reads no memory of ours, and returns a new
    // descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Vec::new();
    }
    // SAFETY: `pidfd` is a new descriptor from pidfd_open, checked above, that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let is_socket =
            std::fs::read_link(entry.path()).is_ok_and(|link| link.to_string_lossy().starts_with("socket:"));
        let Some(number) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else { continue };
        if !is_socket {
            continue;
        }
        // SAFETY: pidfd_getfd takes `pidfd`, open across the call, a descriptor number of that
        // process and flags; it reads no memory of ours and returns a new descriptor or -1.
        let socket = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), number, 0) };
        if socket < 0 {
            continue;
        }
        // SAFETY: `socket` is a new descriptor from pidfd_getfd, checked above, that nothing else
        // owns.
        let socket = unsafe { OwnedFd::from_raw_fd(socket as i32) };
        if let Some(connection) = tcp_connection(&socket) {
            found.push(connection);
        }
    }
    found
}

fn tcp_connection(socket: &OwnedFd) -> Option<(u16, Options)> {
    let option = |level, name| {
        let mut value: libc::c_int = 0;
        let mut length = 4;
        // SAFETY: `value` and `length` are live locals; `length` says `value` has room for the 4
        // bytes (a c_int) the kernel writes.
        let result = unsafe { libc::getsockopt(socket.as_raw_fd(), level, name, (&raw mut value).cast(), &mut length) };
        (result == 0).then_some(value)
    };
    if option(libc::SOL_SOCKET, libc::SO_PROTOCOL)? != libc::IPPROTO_TCP {
        return None;
    }
    // SAFETY: sockaddr_storage is plain integers, for which all zero bytes are a valid value.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `address` and `length` are live locals, and `length` is the size of `address`, the
    // most the kernel writes into it.
    if unsafe { libc::getpeername(socket.as_raw_fd(), (&raw mut address).cast(), &mut length) } != 0 {
        return None;
    }
    // The port sits at the same place in sockaddr_in and sockaddr_in6.
    // SAFETY: sockaddr_storage is larger than sockaddr_in and at least as aligned, and every byte
    // of `address` is initialised (zeroed, then written by the kernel), so `sin_port` is in bounds.
    let port = u16::from_be(unsafe { (*(&raw const address).cast::<libc::sockaddr_in>()).sin_port });
    Some((
        port,
        Options {
            keepalive: option(libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0,
            idle: option(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)?,
            interval: option(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL)?,
            count: option(libc::IPPROTO_TCP, libc::TCP_KEEPCNT)?,
            user_timeout_ms: option(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT)?,
        },
    ))
}

/// The options of the connection of `pid` to `peer_port`, once it is there (within 5 s).
pub fn options_of(pid: u32, peer_port: u16) -> Options {
    let found = super::wait_for(Duration::from_secs(5), || {
        connections(pid).into_iter().find(|&(port, _)| port == peer_port).map(|(_, options)| options)
    });
    found.unwrap_or_else(|| panic!("process {pid} has no connection to port {peer_port}"))
}

/// A static build of a C test program (`cc -static`), which no dynamic loader ever sees.
pub fn static_c_program(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built_already = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let directory = root().join("target/cgroup-tests");
    std::fs::create_dir_all(&directory).unwrap();
    let program = directory.join(format!("{name}-static"));
    if built_already.iter().any(|done| done == name) {
        return program;
    }
    let source = root().join("c-tests").join(format!("{name}.c"));
    let built = Command::new("cc").args(["-O2", "-static", "-o"]).arg(&program).arg(&source).output().unwrap();
    assert!(built.status.success(), "cc -static (libc6-dev): {}", describe(&built));
    built_already.push(name.to_owned());
    program
}

/// `tests/go/dial.go`, static.
pub fn go_program() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| super::go_build("dial.go", "dial", false)).clone()
}

/// The pinned directory of ours for the cgroup at `path`.
pub fn pin_directory(path: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let id = std::fs::metadata(path).unwrap().ino();
    PathBuf::from(format!("/sys/fs/bpf/keepalive/{id}"))
}

/// Loads a `sock_ops` program of someone else's (`return 1`, nothing more) and attaches it to
/// the cgroup at `path` the older way (`BPF_PROG_ATTACH`, `BPF_F_ALLOW_MULTI`). It stays until
/// the cgroup is removed.
pub fn attach_another_program(path: &Path) {
    const PROG_LOAD: i64 = 5;
    const PROG_ATTACH: i64 = 8;
    // mov r0, 1; exit
    let instructions: [u64; 2] =
        [u64::from_le_bytes([0xb7, 0, 0, 0, 1, 0, 0, 0]), u64::from_le_bytes([0x95, 0, 0, 0, 0, 0, 0, 0])];
    let license = c"GPL";
    let mut attr = [0u8; 144];
    attr[0..4].copy_from_slice(&13u32.to_ne_bytes()); // BPF_PROG_TYPE_SOCK_OPS
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(instructions.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[48..53].copy_from_slice(b"other");
    // SAFETY: `attr` is a live bpf_attr of `attr.len()` bytes for BPF_PROG_LOAD; the pointers in
    // it are to `instructions` (the 2 that insn_cnt says) and the NUL-terminated `license`, both
    // alive across the call, and the kernel only reads them.
    let program = unsafe { libc::syscall(libc::SYS_bpf, PROG_LOAD, attr.as_mut_ptr(), attr.len()) };
    assert!(program >= 0, "loading another program: {}", std::io::Error::last_os_error());
    // SAFETY: `program` is a new descriptor from BPF_PROG_LOAD, checked above, that nothing else
    // owns.
    let program = unsafe { OwnedFd::from_raw_fd(program as i32) };
    let directory = std::fs::File::open(path).unwrap();
    let mut attr = [0u8; 144];
    attr[0..4].copy_from_slice(&(directory.as_raw_fd() as u32).to_ne_bytes()); // target_fd
    attr[4..8].copy_from_slice(&(program.as_raw_fd() as u32).to_ne_bytes()); // attach_bpf_fd
    attr[8..12].copy_from_slice(&3u32.to_ne_bytes()); // BPF_CGROUP_SOCK_OPS
    attr[12..16].copy_from_slice(&2u32.to_ne_bytes()); // BPF_F_ALLOW_MULTI
    // SAFETY: `attr` is a live bpf_attr of `attr.len()` bytes for BPF_PROG_ATTACH, holding only
    // descriptor numbers (open across the call) and flags, no pointers.
    let attached = unsafe { libc::syscall(libc::SYS_bpf, PROG_ATTACH, attr.as_mut_ptr(), attr.len()) };
    assert!(attached == 0, "attaching another program: {}", std::io::Error::last_os_error());
}
