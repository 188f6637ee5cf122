//! A process's directory in /proc, found through a pidfd rather than by the process's ID.
//!
//! /proc names processes as the PID namespace it was mounted for, which need not be this
//! process's: the supervisor as PID 1 of `unshare --pid --fork` without `--mount-proc` has the
//! outer namespace's /proc, where its program's IDs are other processes' (PID 2 is `kthreadd`).
//! The `Pid:` line of a pidfd's `fdinfo` is the process's ID in the namespace of the /proc it is
//! read through: 0 when the process is not in it, -1 once the process has been reaped.

use std::fs;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// What `from` answers from the /proc directory of the process or thread `pidfd` names, if the
/// process still had that directory afterwards: its ID was not given to another meanwhile.
pub fn read<T>(pidfd: BorrowedFd<'_>, from: impl FnOnce(&Path) -> Option<T>) -> Option<T> {
    let before = directory(pidfd)?;
    let answer = from(&before)?;
    (directory(pidfd).as_ref() == Some(&before)).then_some(answer)
}

/// The /proc directory of the process or thread `pidfd` names, as /proc numbers it now.
fn directory(pidfd: BorrowedFd<'_>) -> Option<PathBuf> {
    let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).ok()?;
    let pid: i64 = info.lines().find_map(|line| line.strip_prefix("Pid:"))?.trim().parse().ok()?;
    (pid > 0).then(|| PathBuf::from(format!("/proc/{pid}")))
}

/// Runs the ignored unit test `test` of this binary as PID 1 of a PID namespace of its own, whose
/// /proc is the one outside, and checks that it passed; skipped unless root.
#[cfg(test)]
pub fn run_in_a_pid_namespace_without_its_own_proc(test: &str) {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: a PID namespace needs root");
        return;
    }
    let output = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--ignored", "--test-threads", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foreign::owned;
    use std::os::fd::{AsFd, OwnedFd};

    fn pidfd_of(pid: u32) -> OwnedFd {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        owned(unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) }).unwrap()
    }

    #[test]
    fn a_process_is_found_under_its_id_until_it_is_reaped() {
        let pidfd = pidfd_of(std::process::id());
        assert_eq!(directory(pidfd.as_fd()), Some(PathBuf::from(format!("/proc/{}", std::process::id()))));
        let comm = read(pidfd.as_fd(), |directory| fs::read_to_string(directory.join("comm")).ok());
        assert_eq!(comm, fs::read_to_string("/proc/self/comm").ok());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pidfd = pidfd_of(child.id());
        child.wait().unwrap();
        assert_eq!(directory(pidfd.as_fd()), None, "reaped");
    }

    /// Run by the next test in a PID namespace of its own whose /proc is the one outside.
    #[test]
    #[ignore = "run in a PID namespace by a_process_is_found_where_proc_is_another_namespaces"]
    fn in_a_pid_namespace_without_its_own_proc() {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() } as u32;
        let pidfd = pidfd_of(pid);
        let found = directory(pidfd.as_fd()).expect("this process, as the outer /proc numbers it");
        assert_ne!(found, PathBuf::from(format!("/proc/{pid}")), "{pid} is another process's ID in /proc");
        let ours = fs::read_link("/proc/self").unwrap();
        assert_eq!(found, Path::new("/proc").join(ours));
    }

    #[test]
    fn a_process_is_found_where_proc_is_another_namespaces() {
        run_in_a_pid_namespace_without_its_own_proc("procfs::tests::in_a_pid_namespace_without_its_own_proc");
    }
}
