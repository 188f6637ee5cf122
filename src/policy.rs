//! Which sockets get keepalive. Pure decisions on values; the hooks do the calls.

use core::ffi::c_int;

/// Whether `socket(domain, kind, protocol)` asks for a TCP (or MPTCP) socket.
pub fn is_tcp_request(domain: c_int, kind: c_int, protocol: c_int) -> bool {
    matches!(domain, libc::AF_INET | libc::AF_INET6)
        && kind & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) == libc::SOCK_STREAM
        && matches!(protocol, 0 | libc::IPPROTO_TCP | libc::IPPROTO_MPTCP)
}

/// Whether the kernel's `SO_PROTOCOL` for a socket says TCP. Only TCP and MPTCP sockets have
/// that protocol, and both exist only in `AF_INET` and `AF_INET6`.
pub fn is_tcp_protocol(protocol: c_int) -> bool {
    matches!(protocol, libc::IPPROTO_TCP | libc::IPPROTO_MPTCP)
}

/// Whether a socket is TCP (or MPTCP) by the kernel's `SO_TYPE` and `SO_PROTOCOL`. Only stream
/// sockets are: a raw socket (`SOCK_RAW`, `IPPROTO_TCP`) has TCP's protocol number too.
pub fn is_tcp_socket(kind: c_int, protocol: c_int) -> bool {
    kind == libc::SOCK_STREAM && is_tcp_protocol(protocol)
}

/// The label debug lines give a socket: `tcp`, `tcp6`, `mptcp` or `mptcp6`.
pub fn label(domain: c_int, protocol: c_int) -> &'static str {
    match (domain == libc::AF_INET6, protocol == libc::IPPROTO_MPTCP) {
        (false, false) => "tcp",
        (true, false) => "tcp6",
        (false, true) => "mptcp",
        (true, true) => "mptcp6",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::*;

    #[test]
    fn tcp_requests() {
        for domain in [AF_INET, AF_INET6] {
            for flags in [0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC] {
                for protocol in [0, IPPROTO_TCP, IPPROTO_MPTCP] {
                    assert!(is_tcp_request(domain, SOCK_STREAM | flags, protocol));
                }
            }
        }
    }

    #[test]
    fn everything_else() {
        assert!(!is_tcp_request(AF_INET, SOCK_DGRAM, 0));
        assert!(!is_tcp_request(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP));
        assert!(!is_tcp_request(AF_INET, SOCK_RAW, IPPROTO_TCP));
        assert!(!is_tcp_request(AF_INET, SOCK_SEQPACKET, 0));
        assert!(!is_tcp_request(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
        assert!(!is_tcp_request(AF_UNIX, SOCK_STREAM, 0));
        assert!(!is_tcp_request(AF_PACKET, SOCK_STREAM, 0));
        assert!(!is_tcp_request(AF_INET, SOCK_STREAM | 0x4000_0000, 0), "unknown type flag");
        assert!(!is_tcp_protocol(0));
        assert!(!is_tcp_protocol(IPPROTO_SCTP));
        assert!(is_tcp_protocol(IPPROTO_TCP) && is_tcp_protocol(IPPROTO_MPTCP));
        assert!(is_tcp_socket(SOCK_STREAM, IPPROTO_TCP) && is_tcp_socket(SOCK_STREAM, IPPROTO_MPTCP));
        assert!(!is_tcp_socket(SOCK_RAW, IPPROTO_TCP), "a raw socket has TCP's protocol number");
        assert!(!is_tcp_socket(SOCK_STREAM, IPPROTO_SCTP) && !is_tcp_socket(SOCK_STREAM, 0));
    }
}
