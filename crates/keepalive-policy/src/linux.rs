//! The kernel's numbers this crate needs, as `<linux/...>` headers define them for the
//! architectures whose values are the generic ones (x86, ARM, RISC-V, PowerPC, s390, LoongArch); the tests
//! compare them with libc's. No libc here: the crate depends on nothing but the configuration.

use core::ffi::c_int;

pub const AF_INET: c_int = 2;
pub const AF_INET6: c_int = 10;
pub const SOCK_STREAM: c_int = 1;
pub const SOCK_NONBLOCK: c_int = 0o4000;
pub const SOCK_CLOEXEC: c_int = 0o2000000;
pub const IPPROTO_TCP: c_int = 6;
pub const IPPROTO_MPTCP: c_int = 262;
pub const SOL_SOCKET: c_int = 1;
pub const SO_KEEPALIVE: c_int = 9;
pub const TCP_KEEPIDLE: c_int = 4;
pub const TCP_KEEPINTVL: c_int = 5;
pub const TCP_KEEPCNT: c_int = 6;
pub const TCP_USER_TIMEOUT: c_int = 18;

#[cfg(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6",
    target_arch = "sparc",
    target_arch = "sparc64"
))]
compile_error!("SOL_SOCKET, SO_KEEPALIVE and SOCK_NONBLOCK have other values on this architecture");

/// Whether `socket(domain, kind, protocol)` asks for a TCP (or MPTCP) socket: a stream socket
/// of an Internet family, with protocol 0 (the family's stream protocol, TCP), TCP or MPTCP.
/// `kind` may carry `SOCK_NONBLOCK` and `SOCK_CLOEXEC`; any other flag makes the call fail.
pub fn is_tcp_request(domain: c_int, kind: c_int, protocol: c_int) -> bool {
    matches!(domain, AF_INET | AF_INET6)
        && kind & !(SOCK_NONBLOCK | SOCK_CLOEXEC) == SOCK_STREAM
        && matches!(protocol, 0 | IPPROTO_TCP | IPPROTO_MPTCP)
}

/// Whether an existing socket is TCP (or MPTCP), from its `SO_DOMAIN`, `SO_TYPE` and
/// `SO_PROTOCOL`. The protocol alone does not say it: a `SOCK_RAW` socket made with protocol 6
/// reports `SO_PROTOCOL` 6 too, and has no TCP state, timers or keepalive.
pub fn is_tcp(domain: c_int, kind: c_int, protocol: c_int) -> bool {
    matches!(domain, AF_INET | AF_INET6) && kind == SOCK_STREAM && matches!(protocol, IPPROTO_TCP | IPPROTO_MPTCP)
}

/// The label debug and report lines give a TCP socket: `tcp`, `tcp6`, `mptcp` or `mptcp6`.
pub fn label(domain: c_int, protocol: c_int) -> &'static str {
    match (domain == AF_INET6, protocol == IPPROTO_MPTCP) {
        (false, false) => "tcp",
        (true, false) => "tcp6",
        (false, true) => "mptcp",
        (true, true) => "mptcp6",
    }
}

/// A TCP socket's state, as `TCP_INFO`'s first byte and `/proc/net/tcp` give it
/// (`include/net/tcp_states.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpState(pub u8);

impl TcpState {
    pub const ESTABLISHED: TcpState = TcpState(1);
    pub const SYN_SENT: TcpState = TcpState(2);
    pub const SYN_RECV: TcpState = TcpState(3);
    pub const FIN_WAIT1: TcpState = TcpState(4);
    pub const FIN_WAIT2: TcpState = TcpState(5);
    pub const TIME_WAIT: TcpState = TcpState(6);
    /// Before `connect()` or `listen()`, and after a connection failed.
    pub const CLOSE: TcpState = TcpState(7);
    pub const CLOSE_WAIT: TcpState = TcpState(8);
    pub const LAST_ACK: TcpState = TcpState(9);
    pub const LISTEN: TcpState = TcpState(10);
    pub const CLOSING: TcpState = TcpState(11);

    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "established",
            2 => "syn-sent",
            3 => "syn-recv",
            4 => "fin-wait-1",
            5 => "fin-wait-2",
            6 => "time-wait",
            7 => "unconnected",
            8 => "close-wait",
            9 => "last-ack",
            10 => "listening",
            11 => "closing",
            _ => "unknown state",
        }
    }

    /// Connected, or on the way to it: the states whose keepalive matters.
    pub fn is_connection(self) -> bool {
        matches!(self, TcpState::ESTABLISHED | TcpState::SYN_SENT | TcpState::SYN_RECV)
    }
}
