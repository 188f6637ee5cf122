//! System calls made directly, for the library's own work.
//!
//! They never touch `errno` (a failure comes back as `Err(code)`), so hooks need not save and
//! restore it; they cannot re-enter any function that we or another preloaded library export; and
//! they cost no call into the C library. Other architectures go through libc's `syscall()`.

use core::ffi::{c_int, c_long};
use libc::socklen_t;

pub type Result<T> = core::result::Result<T, c_int>;

/// A system call with up to six arguments.
#[inline(always)]
unsafe fn raw<const N: usize>(number: c_long, arguments: [usize; N]) -> c_long {
    const { assert!(N <= 6, "system calls take at most six arguments") };
    let mut all = [0; 6];
    for (slot, argument) in all.iter_mut().zip(arguments) {
        *slot = argument;
    }
    #[cfg(target_arch = "x86_64")]
    if N <= 5 {
        // SAFETY: as below, without the sixth argument, which the call does not read.
        return unsafe { raw5(number, all) };
    }
    // SAFETY: the caller's arguments, padded with zeros the call does not read.
    unsafe { raw6(number, all) }
}

/// `syscall` with the arguments in the registers named, `rax` the number and the result.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_64_syscall {
    ($number:expr, $arguments:expr, $($register:tt => $index:literal),*) => {{
        let result: c_long;
        // SAFETY: the caller passes a valid system call number and arguments for it.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") $number => result,
                $(in($register) $arguments[$index],)*
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        result
    }};
}

/// `raw6` leaving `r9` alone: the hooks' `setsockopt` and `getsockopt` take five arguments.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn raw5(number: c_long, arguments: [usize; 6]) -> c_long {
    x86_64_syscall!(number, arguments, "rdi" => 0, "rsi" => 1, "rdx" => 2, "r10" => 3, "r8" => 4)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn raw6(number: c_long, arguments: [usize; 6]) -> c_long {
    x86_64_syscall!(number, arguments, "rdi" => 0, "rsi" => 1, "rdx" => 2, "r10" => 3, "r8" => 4, "r9" => 5)
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
unsafe fn raw6(number: c_long, arguments: [usize; 6]) -> c_long {
    let result: c_long;
    // SAFETY: the caller passes a valid system call number and arguments for it.
    unsafe {
        core::arch::asm!(
            "svc 0",
            inlateout("x0") arguments[0] => result,
            in("x1") arguments[1],
            in("x2") arguments[2],
            in("x3") arguments[3],
            in("x4") arguments[4],
            in("x5") arguments[5],
            in("x8") number,
            options(nostack),
        );
    }
    result
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn raw6(number: c_long, arguments: [usize; 6]) -> c_long {
    let saved = crate::errno::get();
    let [a, b, c, d, e, f] = arguments;
    // SAFETY: the caller passes a valid system call number and arguments for it.
    let result = unsafe { libc::syscall(number, a, b, c, d, e, f) };
    let result = if result == -1 { -c_long::from(crate::errno::get()) } else { result };
    crate::errno::set(saved);
    result
}

/// A system call whose failure comes back as `Err(code)`.
///
/// # Safety
/// The arguments are valid for the call: pointers to memory alive across it, of the sizes given.
pub unsafe fn syscall<const N: usize>(number: c_long, arguments: [usize; N]) -> Result<c_long> {
    // SAFETY: the caller's arguments.
    check(unsafe { raw(number, arguments) })
}

pub fn check(result: c_long) -> Result<c_long> {
    // The kernel returns -4095..-1 for errors.
    if (-4095..0).contains(&result) { Err(-result as c_int) } else { Ok(result) }
}

/// `setsockopt` of an `int` option, one copy for the cold paths.
#[inline(never)]
pub fn setsockopt(fd: c_int, level: c_int, name: c_int, value: c_int) -> Result<()> {
    setsockopt_inline(fd, level, name, value)
}

/// `setsockopt` of an `int` option, inlined into the hook that makes it on its hot path.
#[inline(always)]
pub fn setsockopt_inline(fd: c_int, level: c_int, name: c_int, value: c_int) -> Result<()> {
    let value_address = &raw const value as usize;
    let length = size_of::<c_int>();
    // SAFETY: the value pointer and length describe `value`, alive across the call.
    let result =
        unsafe { raw(libc::SYS_setsockopt, [fd as usize, level as usize, name as usize, value_address, length]) };
    check(result).map(drop)
}

/// `getsockopt` of an `int` option, one copy for the cold paths.
#[inline(never)]
pub fn getsockopt(fd: c_int, level: c_int, name: c_int) -> Result<c_int> {
    getsockopt_inline(fd, level, name)
}

/// `getsockopt` of an `int` option, inlined into the hook that asks it on its hot path.
#[inline(always)]
pub fn getsockopt_inline(fd: c_int, level: c_int, name: c_int) -> Result<c_int> {
    getsockopt_as::<c_int>(fd, level, name)
}

/// Plain data for which any bytes are a valid value, as the kernel may write any.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes is a valid `Self`.
unsafe trait AnyBytes: Copy + Default {}
// SAFETY: integers have no invalid bit patterns.
unsafe impl AnyBytes for c_int {}
// SAFETY: as above.
unsafe impl AnyBytes for u64 {}
// SAFETY: as above.
unsafe impl AnyBytes for u8 {}

/// An option of type `T`. Options longer than `T`, such as `TCP_INFO`, are cut to its size by
/// the kernel.
#[inline(always)]
fn getsockopt_as<T: AnyBytes>(fd: c_int, level: c_int, name: c_int) -> Result<T> {
    let mut value = T::default();
    let mut length = size_of::<T>() as socklen_t;
    let addresses = (&raw mut value as usize, &raw mut length as usize);
    // SAFETY: the pointers describe `value` and `length`, alive across the call; whatever bytes
    // the kernel writes into `value` are a valid `T` (`AnyBytes`).
    let result =
        unsafe { raw(libc::SYS_getsockopt, [fd as usize, level as usize, name as usize, addresses.0, addresses.1]) };
    check(result).map(|_| value)
}

/// The kernel's identity for a socket, unique for the system's lifetime (Linux 4.12 and later),
/// unlike a descriptor number, which a closed socket leaves to the next one.
pub fn cookie(fd: c_int) -> Result<u64> {
    getsockopt_as::<u64>(fd, libc::SOL_SOCKET, libc::SO_COOKIE)
}

/// A TCP socket's state (`TCP_CLOSE`, `TCP_SYN_SENT`, ...): the first byte of `TCP_INFO`.
pub fn tcp_state(fd: c_int) -> Result<u8> {
    getsockopt_as::<u8>(fd, libc::IPPROTO_TCP, libc::TCP_INFO)
}

/// Copies `into.len()` bytes at `address` in this process's memory, or fails with `EFAULT` where
/// reading them directly would crash: the kernel checks the range, as `connect()` itself does.
pub fn read_own_memory(address: *const u8, into: &mut [u8]) -> Result<()> {
    let local = libc::iovec { iov_base: into.as_mut_ptr().cast(), iov_len: into.len() };
    let remote = libc::iovec { iov_base: address.cast_mut().cast(), iov_len: into.len() };
    // By thread id: a process id names the main thread, which may have exited before the others.
    let arguments = [gettid() as usize, &raw const local as usize, 1, &raw const remote as usize, 1, 0];
    // SAFETY: `local` describes `into`; the kernel checks `remote`, which is only read.
    let copied = check(unsafe { raw(libc::SYS_process_vm_readv, arguments) })?;
    // A range that runs into an unmapped page is copied only up to it.
    if copied as usize == into.len() { Ok(()) } else { Err(libc::EFAULT) }
}

/// The peer of a connected socket, as the kernel checked and wrote it.
pub fn getpeername(fd: c_int) -> Result<(libc::sockaddr_storage, socklen_t)> {
    let mut address = core::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut length = size_of::<libc::sockaddr_storage>() as socklen_t;
    let arguments = [fd as usize, address.as_mut_ptr() as usize, &raw mut length as usize, 0, 0];
    // SAFETY: the pointers describe `address` and `length`, alive across the call.
    check(unsafe { raw(libc::SYS_getpeername, arguments) })?;
    // SAFETY: zero-initialised plain data, partly filled in by the kernel.
    Ok((unsafe { address.assume_init() }, length))
}

pub fn write(fd: c_int, bytes: &[u8]) -> Result<usize> {
    // SAFETY: the pointer and length describe `bytes`.
    let result = unsafe { raw(libc::SYS_write, [fd as usize, bytes.as_ptr() as usize, bytes.len(), 0, 0]) };
    check(result).map(|written| written as usize)
}

/// The kernel's signal set, one bit per signal (`sigset_t` in the C library is larger).
type KernelSignals = u64;
const PIPE_SIGNAL: KernelSignals = 1 << (libc::SIGPIPE - 1);

/// `write` that never raises SIGPIPE in the program, for a stderr that may be a pipe or socket
/// whose reader is gone. There is no MSG_NOSIGNAL for write(2): SIGPIPE is blocked in this thread
/// around the call (the kernel sends it to the writing thread), and one the write caused is
/// taken back before the mask is restored, unless one was pending already, which the program
/// caused itself and keeps. No lock and no allocation: async-signal-safe. If the signal cannot
/// be blocked (a seccomp filter), nothing is written.
pub fn write_without_signal(fd: c_int, bytes: &[u8]) -> Result<usize> {
    let size = size_of::<KernelSignals>();
    let (pipe, mut saved, mut pending) = (PIPE_SIGNAL, 0 as KernelSignals, 0 as KernelSignals);
    let block = [libc::SIG_BLOCK as usize, &raw const pipe as usize, &raw mut saved as usize, size];
    // SAFETY: the sets are alive across the calls and `size` bytes long, as the kernel expects.
    check(unsafe { raw(libc::SYS_rt_sigprocmask, block) })?;
    // SAFETY: as above.
    let pending_before = check(unsafe { raw(libc::SYS_rt_sigpending, [&raw mut pending as usize, size]) });
    let result = write(fd, bytes);
    if result == Err(libc::EPIPE) && pending_before.is_ok() && pending & PIPE_SIGNAL == 0 {
        let now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        let take = [&raw const pipe as usize, 0, &raw const now as usize, size];
        // SAFETY: as above; no siginfo is asked for, and a zero timeout never waits.
        unsafe { raw(libc::SYS_rt_sigtimedwait, take) };
    }
    let restore = [libc::SIG_SETMASK as usize, &raw const saved as usize, 0, size];
    // SAFETY: as above.
    unsafe { raw(libc::SYS_rt_sigprocmask, restore) };
    result
}

/// Whether the kernel started this program in secure-execution mode (`AT_SECURE`): read from the
/// auxiliary vector the kernel keeps (`PR_GET_AUXV`, Linux 6.4), which costs one system call
/// and, unlike the C library's `getauxval`, no symbol for the loader to look up in every process.
/// Before Linux 6.4, whether the real and effective user or group differ: a set-user-ID or
/// set-group-ID program, not one given file capabilities.
pub fn secure_execution() -> bool {
    const PR_GET_AUXV: usize = 0x4155_5856;
    // (type, value) pairs, ending with AT_NULL; AT_SECURE comes among the first twenty. Zeroed
    // first: valgrind does not know that PR_GET_AUXV writes it.
    let mut vector = [[0u64; 2]; 64];
    let arguments = [PR_GET_AUXV, vector.as_mut_ptr() as usize, size_of_val(&vector), 0, 0];
    // SAFETY: the kernel writes at most `size_of_val(&vector)` bytes into `vector`.
    match check(unsafe { raw(libc::SYS_prctl, arguments) }) {
        Ok(_) => vector
            .iter()
            .take_while(|&&[kind, _]| kind != libc::AT_NULL)
            .any(|&[kind, value]| kind == libc::AT_SECURE && value != 0),
        Err(_) => ids_differ(libc::SYS_getresuid) || ids_differ(libc::SYS_getresgid),
    }
}

/// Whether the real and effective ids differ, by `getresuid` or `getresgid`.
fn ids_differ(call: c_long) -> bool {
    let mut ids = [0u32; 3];
    let arguments = [ids.as_mut_ptr() as usize, ids[1..].as_mut_ptr() as usize, ids[2..].as_mut_ptr() as usize];
    // SAFETY: three ids, each written into its own element of `ids`.
    check(unsafe { raw(call, arguments) }).is_ok() && ids[0] != ids[1]
}

/// `length` bytes of fresh zeroed memory, never given back: the kernel's, not an allocator's, so
/// that a hook may ask for it.
pub fn map_zeroed(length: usize) -> Result<*mut u8> {
    let protection = (libc::PROT_READ | libc::PROT_WRITE) as usize;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE) as usize;
    // SAFETY: a new anonymous mapping at an address the kernel chooses touches no existing memory.
    let address = check(unsafe { raw(libc::SYS_mmap, [0, length, protection, flags, usize::MAX, 0]) })?;
    Ok(address as *mut u8)
}

fn gettid() -> c_int {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { raw(libc::SYS_gettid, [0; 5]) as c_int }
}

pub fn getpid() -> c_int {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { raw(libc::SYS_getpid, [0; 5]) as c_int }
}

/// Device and inode of a descriptor. On x86_64 and aarch64, libc's `struct stat` is the kernel's.
pub fn file_identity(fd: c_int) -> Result<(u64, u64)> {
    let mut status = core::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: the kernel fills `status`, which is large enough.
    let result = unsafe { raw(libc::SYS_fstat, [fd as usize, status.as_mut_ptr() as usize, 0, 0, 0]) };
    check(result)?;
    // SAFETY: zero-initialised plain data, filled in by a successful fstat.
    let status = unsafe { status.assume_init() };
    Ok((status.st_dev, status.st_ino))
}

/// The calls behind our hooks, made directly: used only when the C library's own functions
/// cannot be looked up at all (glibc before 2.34 keeps `dlsym` in libdl, which a program may
/// not load). Like the C library, they set `errno` and return -1 on failure.
pub mod fallback {
    use super::*;
    use libc::sockaddr;

    fn as_libc(result: c_long) -> c_int {
        match check(result) {
            Ok(value) => value as c_int,
            Err(code) => {
                crate::errno::set(code);
                -1
            }
        }
    }

    pub unsafe extern "C" fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int {
        // SAFETY: plain integers.
        as_libc(unsafe { raw(libc::SYS_socket, [domain as usize, kind as usize, protocol as usize, 0, 0]) })
    }

    pub unsafe extern "C" fn connect(fd: c_int, address: *const sockaddr, length: socklen_t) -> c_int {
        // SAFETY: the kernel checks the caller's pointer and reports EFAULT.
        as_libc(unsafe { raw(libc::SYS_connect, [fd as usize, address as usize, length as usize, 0, 0]) })
    }

    pub unsafe extern "C" fn setsockopt(
        fd: c_int,
        level: c_int,
        name: c_int,
        value: *const core::ffi::c_void,
        length: socklen_t,
    ) -> c_int {
        let arguments = [fd as usize, level as usize, name as usize, value as usize, length as usize];
        // SAFETY: the kernel checks the caller's pointer and reports EFAULT.
        as_libc(unsafe { raw(libc::SYS_setsockopt, arguments) })
    }

    pub unsafe extern "C" fn accept(fd: c_int, address: *mut sockaddr, length: *mut socklen_t) -> c_int {
        // SAFETY: as for `accept4`.
        unsafe { accept4(fd, address, length, 0) }
    }

    pub unsafe extern "C" fn accept4(fd: c_int, address: *mut sockaddr, length: *mut socklen_t, flags: c_int) -> c_int {
        let arguments = [fd as usize, address as usize, length as usize, flags as usize, 0];
        // SAFETY: the kernel checks the caller's pointers and reports EFAULT.
        as_libc(unsafe { raw(libc::SYS_accept4, arguments) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_options_round_trip_without_touching_errno() {
        // SAFETY: socket(2) with plain integers.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        assert!(fd >= 0);
        crate::errno::set(4242);
        assert_eq!(setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 33), Ok(()));
        assert_eq!(getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), Ok(33));
        assert_eq!(setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 0), Err(libc::EINVAL));
        assert_eq!(getsockopt(-1, libc::SOL_SOCKET, libc::SO_KEEPALIVE), Err(libc::EBADF));
        assert_eq!(crate::errno::get(), 4242);
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(fd) };
    }

    #[test]
    fn not_secure_here() {
        assert!(!secure_execution());
        assert!(!ids_differ(libc::SYS_getresuid) && !ids_differ(libc::SYS_getresgid));
    }

    #[test]
    fn pid_and_identity() {
        assert_eq!(getpid(), std::process::id() as c_int);
        assert!(file_identity(2).is_ok());
        assert_eq!(file_identity(-1), Err(libc::EBADF));
        assert_eq!(write(-1, b"x"), Err(libc::EBADF));
    }

    #[test]
    fn fallbacks_behave_like_the_c_library() {
        // SAFETY: the fallbacks take plain integers, and the null pointers are refused by the kernel.
        unsafe {
            crate::errno::set(0);
            assert_eq!(fallback::socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_UDP), -1);
            assert_eq!(crate::errno::get(), libc::EPROTONOSUPPORT);
            let fd = fallback::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0);
            assert_eq!(fallback::connect(fd, core::ptr::null(), 16), -1);
            assert_eq!(crate::errno::get(), libc::EFAULT);
            assert_eq!(fallback::accept(fd, core::ptr::null_mut(), core::ptr::null_mut()), -1);
            assert_eq!(crate::errno::get(), libc::EINVAL);
            libc::close(fd);
        }
    }
}
