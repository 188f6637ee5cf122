//! The timers a fresh TCP socket gets (the system's defaults), asked of the kernel without ever
//! holding a descriptor in the program's descriptor table.
//!
//! A throwaway socket opened here would sit in the table the program's threads share, where a
//! `fork()` by another thread at that moment copies it into the child. So the socket is made by
//! a short-lived child that shares our memory but has a copy of the descriptor table of its own
//! (`clone` with `CLONE_VM | CLONE_VFORK`, without `CLONE_FILES`): it opens the socket, writes
//! the four values into our memory, and exits, which closes the socket in its table alone. This
//! thread waits for it (`CLONE_VFORK`) and reaps it. Its exit signal is none, so the program
//! gets no `SIGCHLD` and its `wait()` never sees it (only `__WCLONE` or `__WALL` waits do). The
//! child runs a few instructions of assembly on no stack at all, with every signal blocked.

use core::ffi::{c_int, c_long};

use crate::sys;

/// What the child reads and writes, in our memory.
#[repr(C)]
struct Report {
    /// The options to read, `IPPROTO_TCP` level.
    names: [c_int; 4],
    values: [c_int; 4],
    /// `socklen_t` for each getsockopt.
    length: u32,
    /// How many values the child read.
    read: u32,
    /// Set by the child first thing: still 0 when it could not write into our memory (valgrind
    /// runs such a clone as a fork).
    started: u32,
}

const NAMES: usize = 0;
const VALUES: usize = 16;
const LENGTH: usize = 32;
const READ: usize = 36;
const STARTED: usize = 40;
const _: () = {
    assert!(core::mem::offset_of!(Report, names) == NAMES && core::mem::offset_of!(Report, values) == VALUES);
    assert!(core::mem::offset_of!(Report, length) == LENGTH && core::mem::offset_of!(Report, read) == READ);
    assert!(core::mem::offset_of!(Report, started) == STARTED);
};

/// What the probe learned.
pub enum Fresh {
    /// The values of the options asked for.
    Options([c_int; 4]),
    /// Not this time: the child could not read them (no descriptor left), or could not be made
    /// for now (the process limit).
    NotNow,
    /// Never in this process: the child cannot be made (a seccomp filter, an architecture
    /// without the probe) or does not share our memory.
    Never,
}

/// The values of the `IPPROTO_TCP` options `names` on a fresh `AF_INET` TCP socket.
pub fn fresh_tcp_options(names: [c_int; 4]) -> Fresh {
    let mut report = Report { names, values: [0; 4], length: 0, read: 0, started: 0 };
    let every_signal: u64 = !0;
    let mut saved: u64 = 0;
    let size = size_of::<u64>();
    let block = [libc::SIG_SETMASK as usize, &raw const every_signal as usize, &raw mut saved as usize, size];
    // SAFETY: both sets are alive across the call and `size` bytes long.
    if unsafe { sys::syscall(libc::SYS_rt_sigprocmask, block) }.is_err() {
        return Fresh::Never;
    }
    // SAFETY: `report` stays alive and unmoved until the child has exited: CLONE_VFORK holds this
    // thread until then.
    let child = unsafe { clone_and_read(&raw mut report) };
    if let Ok(child) = child {
        let reap = [child as usize, 0, libc::__WCLONE as usize, 0];
        // SAFETY: no status or usage is asked for.
        while unsafe { sys::syscall(libc::SYS_wait4, reap) } == Err(libc::EINTR) {}
    }
    let restore = [libc::SIG_SETMASK as usize, &raw const saved as usize, 0, size];
    // SAFETY: as above.
    let _ = unsafe { sys::syscall(libc::SYS_rt_sigprocmask, restore) };
    // SAFETY: plain data the child wrote before it exited, which the wait above ordered.
    let (started, read) = unsafe {
        (core::ptr::read_volatile(&raw const report.started), core::ptr::read_volatile(&raw const report.read))
    };
    match child {
        Err(libc::EAGAIN) => Fresh::NotNow,
        Err(_) => Fresh::Never,
        Ok(_) if started == 0 => Fresh::Never,
        Ok(_) if read != 4 => Fresh::NotNow,
        // SAFETY: as above.
        Ok(_) => Fresh::Options(unsafe { core::ptr::read_volatile(&raw const report.values) }),
    }
}

/// `clone` without `CLONE_FILES`: the child opens a TCP socket, reads the options named in
/// `report` into it, and exits; the parent returns the child's process id once it has exited.
///
/// # Safety
/// `report` points to a `Report` that stays valid until this returns.
#[cfg(target_arch = "x86_64")]
unsafe fn clone_and_read(report: *mut Report) -> sys::Result<c_long> {
    let result: c_long;
    // SAFETY: the parent only gets the result in rax (rcx and r11 are clobbered by syscall);
    // the child uses registers alone (no stack: every signal is blocked), writes only into
    // `report`, and leaves through exit, never returning here.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 3f",
            "mov dword ptr [r13 + {started}], 1",
            // The child: socket(AF_INET, SOCK_STREAM, 0).
            "mov eax, {socket}",
            "mov edi, {inet}",
            "mov esi, {stream}",
            "xor edx, edx",
            "syscall",
            "test rax, rax",
            "js 2f",
            "mov r12, rax",
            "xor r14d, r14d",
            // getsockopt(fd, IPPROTO_TCP, names[i], &values[i], &length) for i in 0..4.
            "4:",
            "mov dword ptr [r13 + {length}], 4",
            "mov eax, {getsockopt}",
            "mov edi, r12d",
            "mov esi, {tcp}",
            "mov edx, dword ptr [r13 + r14 * 4 + {names}]",
            "lea r10, [r13 + r14 * 4 + {values}]",
            "lea r8, [r13 + {length}]",
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "inc r14d",
            "mov dword ptr [r13 + {read}], r14d",
            "cmp r14d, 4",
            "jb 4b",
            // exit(0), which closes the child's copy of the descriptor table and the socket.
            "2:",
            "mov eax, {exit}",
            "xor edi, edi",
            "syscall",
            "ud2",
            "3:",
            socket = const libc::SYS_socket,
            getsockopt = const libc::SYS_getsockopt,
            exit = const libc::SYS_exit,
            inet = const libc::AF_INET,
            stream = const libc::SOCK_STREAM,
            tcp = const libc::IPPROTO_TCP,
            names = const NAMES,
            values = const VALUES,
            length = const LENGTH,
            read = const READ,
            started = const STARTED,
            inlateout("rax") libc::SYS_clone => result,
            in("rdi") (libc::CLONE_VM | libc::CLONE_VFORK) as u64,
            in("rsi") 0u64,
            in("rdx") 0u64,
            in("r10") 0u64,
            in("r8") 0u64,
            in("r13") report,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    sys::check(result)
}

/// As on x86_64.
///
/// # Safety
/// `report` points to a `Report` that stays valid until this returns.
#[cfg(target_arch = "aarch64")]
unsafe fn clone_and_read(report: *mut Report) -> sys::Result<c_long> {
    let result: c_long;
    // SAFETY: as on x86_64: the parent only gets the result in x0; the child uses x0-x15 and no
    // stack, writes only into `report`, and exits.
    unsafe {
        core::arch::asm!(
            "svc 0",
            "cbnz x0, 3f",
            "mov w12, 1",
            "str w12, [x10, {started}]",
            "mov x8, {socket}",
            "mov x0, {inet}",
            "mov x1, {stream}",
            "mov x2, 0",
            "svc 0",
            "tbnz x0, #63, 2f",
            "mov x9, x0",
            "mov x11, 0",
            "4:",
            "mov w12, 4",
            "str w12, [x10, {length}]",
            "mov x8, {getsockopt}",
            "mov x0, x9",
            "mov x1, {tcp}",
            "add x13, x10, {names}",
            "ldr w2, [x13, x11, lsl 2]",
            "add x3, x10, {values}",
            "add x3, x3, x11, lsl 2",
            "add x4, x10, {length}",
            "svc 0",
            "cbnz x0, 2f",
            "add x11, x11, 1",
            "str w11, [x10, {read}]",
            "cmp x11, 4",
            "b.lo 4b",
            "2:",
            "mov x8, {exit}",
            "mov x0, 0",
            "svc 0",
            "brk 0",
            "3:",
            socket = const libc::SYS_socket,
            getsockopt = const libc::SYS_getsockopt,
            exit = const libc::SYS_exit,
            inet = const libc::AF_INET,
            stream = const libc::SOCK_STREAM,
            tcp = const libc::IPPROTO_TCP,
            names = const NAMES,
            values = const VALUES,
            length = const LENGTH,
            read = const READ,
            started = const STARTED,
            inlateout("x0") (libc::CLONE_VM | libc::CLONE_VFORK) as u64 => result,
            in("x1") 0u64,
            in("x2") 0u64,
            in("x3") 0u64,
            in("x4") 0u64,
            in("x8") libc::SYS_clone,
            in("x10") report,
            lateout("x9") _,
            lateout("x11") _,
            lateout("x12") _,
            lateout("x13") _,
        );
    }
    sys::check(result)
}

/// Elsewhere the library opens no probe: without the defaults, the configured timers are set.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn clone_and_read(_: *mut Report) -> sys::Result<c_long> {
    Err(libc::ENOSYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exit codes of the child that runs the probe: which check failed.
    const WRONG_VALUES: c_int = 2;
    const DESCRIPTOR_LEFT: c_int = 3;
    const CHILD_LEFT: c_int = 4;

    /// The open descriptors among the first 1024, with system calls only (safe after `fork`).
    fn open_descriptors() -> [bool; 1024] {
        // SAFETY: F_GETFD only asks whether the number is open.
        core::array::from_fn(|fd| unsafe { libc::fcntl(fd as c_int, libc::F_GETFD) } >= 0)
    }

    /// Other tests of this binary open descriptors on other threads, so the probe runs in a forked
    /// child, where this thread is the only one: what it finds there is the probe's doing alone.
    #[test]
    fn reads_a_fresh_sockets_timers_without_a_descriptor_or_a_child_left() {
        let names = [libc::TCP_KEEPIDLE, libc::TCP_KEEPINTVL, libc::TCP_KEEPCNT, libc::TCP_USER_TIMEOUT];
        let sysctl = |name: &str| -> c_int {
            std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}")).unwrap().trim().parse().unwrap()
        };
        let expected = [sysctl("tcp_keepalive_time"), sysctl("tcp_keepalive_intvl"), sysctl("tcp_keepalive_probes"), 0];
        // SAFETY: the child calls only system calls and `_exit`, no allocation or lock.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            let before = open_descriptors();
            let code = match fresh_tcp_options(names) {
                Fresh::Options(values) if values == expected => {
                    let mut status = 0;
                    // SAFETY: WNOHANG only asks; `status` is a valid int.
                    let child_left = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::WNOHANG) } != -1;
                    if open_descriptors() != before {
                        DESCRIPTOR_LEFT
                    } else if child_left {
                        CHILD_LEFT
                    } else {
                        0
                    }
                }
                _ => WRONG_VALUES,
            };
            // SAFETY: ends the forked child without running anything of the parent's.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above; `status` is a valid int.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "the child ended by signal {}", libc::WTERMSIG(status));
        let failed = match libc::WEXITSTATUS(status) {
            0 => None,
            WRONG_VALUES => Some(format!("not the system's defaults {expected:?}")),
            DESCRIPTOR_LEFT => Some("a descriptor was left open".into()),
            CHILD_LEFT => Some("the probe's child was not reaped".into()),
            other => Some(format!("exit {other}")),
        };
        assert_eq!(failed, None);
    }
}
