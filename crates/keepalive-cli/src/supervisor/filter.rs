//! The classic-BPF program the supervised program runs on every system call: it sends only the
//! calls that can make a TCP connection to the supervisor (and `io_uring_setup`, which opens a
//! way around it), and lets every other call through without leaving the kernel.

use libc::{sock_filter, sock_fprog};

/// `AUDIT_ARCH_*` of this command's architecture (linux/audit.h): a system call made with another
/// convention (a 32-bit program, or i386 `int 0x80` from a 64-bit one) has other numbers.
#[cfg(target_arch = "x86_64")]
pub const NATIVE_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
pub const NATIVE_ARCH: u32 = 0xC000_00B7;

/// x32 system calls carry this bit in their number, under the x86-64 `arch` value.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets in `struct seccomp_data`: the call's number, its architecture, and its arguments.
const NR: u32 = 0;
const ARCH: u32 = 4;
/// The low 32 bits of argument `index`, which hold an `int` argument.
const fn argument_low(index: u32) -> u32 {
    16 + 8 * index + if cfg!(target_endian = "big") { 4 } else { 0 }
}

/// Where a jump goes.
#[derive(Clone, Copy)]
enum To {
    Next,
    Allow,
    Notify,
    /// The first instruction of a block, by the order of blocks below.
    Block(usize),
}

enum Step {
    Load(u32),
    /// Jump to `equal` if the accumulator equals the value, else to `other`.
    Equal(u32, To, To),
    /// Jump to `set` if the accumulator has any of the bits, else to `other`.
    AnyBit(u32, To, To),
    AtLeast(u32, To, To),
    Jump(To),
}

/// The system calls sent to the supervisor, as `--force` asks or not.
pub fn program(force: bool) -> Vec<sock_filter> {
    const SETSOCKOPT: usize = 1;
    const SOL_SOCKET_NAME: usize = 2;
    const TCP_NAME: usize = 3;
    // The flags are argument 3 of sendto() and sendmmsg() (one word for every message), 2 of sendmsg().
    const FASTOPEN_FLAGS_3: usize = 4;
    const FASTOPEN_FLAGS_2: usize = 5;
    let nr = |number: libc::c_long| number as u32;
    let mut main = vec![Step::Load(ARCH), Step::Equal(NATIVE_ARCH, To::Next, To::Allow), Step::Load(NR)];
    if cfg!(target_arch = "x86_64") {
        main.push(Step::AtLeast(X32_SYSCALL_BIT, To::Allow, To::Next));
    }
    for call in [libc::SYS_connect, libc::SYS_listen, libc::SYS_accept, libc::SYS_accept4] {
        main.push(Step::Equal(nr(call), To::Notify, To::Next));
    }
    // A send with MSG_FASTOPEN connects an unconnected TCP socket without connect().
    main.push(Step::Equal(nr(libc::SYS_sendto), To::Block(FASTOPEN_FLAGS_3), To::Next));
    main.push(Step::Equal(nr(libc::SYS_sendmmsg), To::Block(FASTOPEN_FLAGS_3), To::Next));
    main.push(Step::Equal(nr(libc::SYS_sendmsg), To::Block(FASTOPEN_FLAGS_2), To::Next));
    // io_uring connects without a system call the filter sees: its set-up is reported.
    main.push(Step::Equal(nr(libc::SYS_io_uring_setup), To::Notify, To::Next));
    if force {
        main.push(Step::Equal(nr(libc::SYS_setsockopt), To::Block(SETSOCKOPT), To::Next));
    }
    main.push(Step::Jump(To::Allow));
    let setsockopt = vec![
        Step::Load(argument_low(1)),
        Step::Equal(libc::SOL_SOCKET as u32, To::Block(SOL_SOCKET_NAME), To::Next),
        Step::Equal(libc::IPPROTO_TCP as u32, To::Block(TCP_NAME), To::Allow),
    ];
    let sol_socket_name =
        vec![Step::Load(argument_low(2)), Step::Equal(libc::SO_KEEPALIVE as u32, To::Notify, To::Allow)];
    let mut tcp_name = vec![Step::Load(argument_low(2))];
    for name in [libc::TCP_KEEPIDLE, libc::TCP_KEEPINTVL, libc::TCP_KEEPCNT, libc::TCP_USER_TIMEOUT] {
        tcp_name.push(Step::Equal(name as u32, To::Notify, To::Next));
    }
    tcp_name.push(Step::Jump(To::Allow));
    let fastopen = |flags_argument| {
        vec![Step::Load(argument_low(flags_argument)), Step::AnyBit(libc::MSG_FASTOPEN as u32, To::Notify, To::Allow)]
    };
    assemble(&[main, setsockopt, sol_socket_name, tcp_name, fastopen(3), fastopen(2)])
}

/// The blocks laid end to end, then the two returns, with every jump resolved to an offset.
fn assemble(blocks: &[Vec<Step>]) -> Vec<sock_filter> {
    let starts: Vec<usize> = blocks
        .iter()
        .scan(0, |start, block| {
            let this = *start;
            *start += block.len();
            Some(this)
        })
        .collect();
    let length: usize = blocks.iter().map(Vec::len).sum();
    let (allow, notify) = (length, length + 1);
    let mut program = Vec::with_capacity(length + 2);
    for step in blocks.iter().flatten() {
        let here = program.len();
        let offset = |to: To| -> u8 {
            let target = match to {
                To::Next => here + 1,
                To::Allow => allow,
                To::Notify => notify,
                To::Block(index) => starts[index],
            };
            // Classic BPF jumps only forward, by at most 255: this program is far shorter.
            u8::try_from(target - here - 1).expect("a forward jump within the filter")
        };
        let jump = |code: u32, value: u32, yes: To, no: To| {
            instruction(libc::BPF_JMP | code | libc::BPF_K, value, offset(yes), offset(no))
        };
        program.push(match *step {
            Step::Load(offset) => instruction(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset, 0, 0),
            Step::Equal(value, yes, no) => jump(libc::BPF_JEQ, value, yes, no),
            Step::AnyBit(bits, yes, no) => jump(libc::BPF_JSET, bits, yes, no),
            Step::AtLeast(value, yes, no) => jump(libc::BPF_JGE, value, yes, no),
            Step::Jump(to) => {
                let step = offset(to);
                instruction(libc::BPF_JMP | libc::BPF_JA, u32::from(step), 0, 0)
            }
        });
    }
    program.push(instruction(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW, 0, 0));
    program.push(instruction(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_USER_NOTIF, 0, 0));
    program
}

fn instruction(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code: code as u16, jt, jf, k }
}

/// The form `seccomp()` takes; `program` must outlive its use.
pub fn as_fprog(program: &[sock_filter]) -> sock_fprog {
    sock_fprog { len: program.len() as u16, filter: program.as_ptr().cast_mut() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter as the kernel would, on a `seccomp_data` of `nr`, `arch` and arguments.
    fn run(program: &[sock_filter], nr: i64, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (index, arg) in args.iter().enumerate() {
            data[16 + 8 * index..24 + 8 * index].copy_from_slice(&arg.to_ne_bytes());
        }
        let (mut pc, mut accumulator) = (0usize, 0u32);
        loop {
            let insn = program[pc];
            let code = u32::from(insn.code);
            match code & 0x07 {
                c if c == libc::BPF_LD => {
                    let at = insn.k as usize;
                    accumulator = u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
                    pc += 1;
                }
                c if c == libc::BPF_RET => return insn.k,
                c if c == libc::BPF_JMP => {
                    let taken = match code & 0xf0 {
                        op if op == libc::BPF_JA => {
                            pc += 1 + insn.k as usize;
                            continue;
                        }
                        op if op == libc::BPF_JEQ => accumulator == insn.k,
                        op if op == libc::BPF_JGE => accumulator >= insn.k,
                        op if op == libc::BPF_JSET => accumulator & insn.k != 0,
                        op => panic!("unexpected jump {op:#x}"),
                    };
                    pc += 1 + usize::from(if taken { insn.jt } else { insn.jf });
                }
                other => panic!("unexpected class {other:#x}"),
            }
        }
    }

    const NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;
    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;

    #[test]
    fn only_connection_calls_are_sent_to_the_supervisor() {
        let program = program(false);
        for call in [libc::SYS_connect, libc::SYS_listen, libc::SYS_accept, libc::SYS_accept4] {
            assert_eq!(run(&program, call, NATIVE_ARCH, [3, 0, 0, 0, 0, 0]), NOTIFY, "{call}");
        }
        for call in [libc::SYS_getpid, libc::SYS_read, libc::SYS_socket, libc::SYS_setsockopt, libc::SYS_bind] {
            assert_eq!(run(&program, call, NATIVE_ARCH, [3, 1, 9, 0, 0, 0]), ALLOW, "{call}");
        }
        assert_eq!(run(&program, libc::SYS_io_uring_setup, NATIVE_ARCH, [8, 0, 0, 0, 0, 0]), NOTIFY);
        assert_eq!(run(&program, libc::SYS_connect, 0x4000_0003, [0; 6]), ALLOW, "i386 is another numbering");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(run(&program, 0x4000_0000 | libc::SYS_connect, NATIVE_ARCH, [0; 6]), ALLOW, "x32");
        }
    }

    #[test]
    fn fast_open_sends_are_sent_too() {
        let program = program(false);
        let fastopen = libc::MSG_FASTOPEN as u64;
        assert_eq!(run(&program, libc::SYS_sendto, NATIVE_ARCH, [3, 0, 1, fastopen, 0, 0]), NOTIFY);
        assert_eq!(run(&program, libc::SYS_sendto, NATIVE_ARCH, [3, 0, 1, 0, 0, 0]), ALLOW);
        assert_eq!(run(&program, libc::SYS_sendmsg, NATIVE_ARCH, [3, 0, fastopen, 0, 0, 0]), NOTIFY);
        assert_eq!(run(&program, libc::SYS_sendmsg, NATIVE_ARCH, [3, 0, 0, fastopen, 0, 0]), ALLOW);
        assert_eq!(run(&program, libc::SYS_sendmmsg, NATIVE_ARCH, [3, 0, 1, fastopen, 0, 0]), NOTIFY);
        assert_eq!(run(&program, libc::SYS_sendmmsg, NATIVE_ARCH, [3, 0, fastopen, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn force_adds_only_the_keepalive_options() {
        let program = program(true);
        let setsockopt = |level: i32, name: i32| {
            run(&program, libc::SYS_setsockopt, NATIVE_ARCH, [3, level as u64, name as u64, 0, 4, 0])
        };
        assert_eq!(setsockopt(libc::SOL_SOCKET, libc::SO_KEEPALIVE), NOTIFY);
        for name in [libc::TCP_KEEPIDLE, libc::TCP_KEEPINTVL, libc::TCP_KEEPCNT, libc::TCP_USER_TIMEOUT] {
            assert_eq!(setsockopt(libc::IPPROTO_TCP, name), NOTIFY);
        }
        assert_eq!(setsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR), ALLOW);
        assert_eq!(setsockopt(libc::IPPROTO_TCP, libc::TCP_NODELAY), ALLOW);
        assert_eq!(setsockopt(libc::IPPROTO_IP, libc::TCP_KEEPIDLE), ALLOW);
        assert_eq!(run(&program, libc::SYS_connect, NATIVE_ARCH, [3, 0, 0, 0, 0, 0]), NOTIFY);
    }
}
