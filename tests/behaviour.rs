//! What README's BEHAVIOUR says a program sees, checked with a python3 program: options it reads
//! back are ours, timers it set itself are kept while ours fill in the rest, and a listener
//! whose keepalive it turned off still hands keepalive to what it accepts.

mod common;
use common::*;

/// Prints, for a socket that set nothing, one that set idle and interval (as libcurl does), and
/// one accepted from a listener with keepalive turned off: SO_KEEPALIVE, idle, interval, count.
const PROGRAM: &str = "import socket\n\
    T = socket.IPPROTO_TCP\n\
    def show(name, s):\n    \
        print(name, s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), s.getsockopt(T, socket.TCP_KEEPIDLE), \
              s.getsockopt(T, socket.TCP_KEEPINTVL), s.getsockopt(T, socket.TCP_KEEPCNT))\n\
    listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()\n\
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)\n\
    plain = socket.socket(); plain.connect(listener.getsockname()); show('plain', plain)\n\
    curl = socket.socket(); curl.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)\n\
    curl.setsockopt(T, socket.TCP_KEEPIDLE, 60); curl.setsockopt(T, socket.TCP_KEEPINTVL, 60)\n\
    curl.connect(listener.getsockname()); show('curl', curl)\n\
    accepted, _ = listener.accept(); show('accepted', accepted)\n\
    show('listener', listener)";

#[test]
fn what_a_program_reads_back() {
    let timers = [("KEEPALIVE_IDLE", "20"), ("KEEPALIVE_INTVL", "5"), ("KEEPALIVE_CNT", "3")];
    for mode in [&[][..], &[("KEEPALIVE_SIDE", "both"), ("KEEPALIVE_ONLY", "127.0.0.1")][..]] {
        let output =
            preloaded(python3()).args(["-c", PROGRAM]).envs(timers).envs(mode.iter().copied()).output().unwrap();
        assert!(output.status.success(), "{mode:?}: {}", describe(&output));
        let lines: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
        // Keepalive a program reads back is ours: what Postgres' SHOW tcp_keepalives_idle and
        // Java's getKeepAlive() report.
        assert_eq!(lines[0], "plain 1 20 5 3", "{mode:?}");
        // Timers the program chose after socket() are kept, ours stay for the rest (libcurl: idle
        // and interval 60). With peer rules or a side, keepalive the program turned on itself
        // before connect() is left as it is, with the system's count.
        let count = if mode.is_empty() {
            3
        } else {
            std::fs::read_to_string("/proc/sys/net/ipv4/tcp_keepalive_probes").unwrap().trim().parse().unwrap()
        };
        assert_eq!(lines[1], format!("curl 1 60 60 {count}"), "{mode:?}");
        // The listener's keepalive is off as the program left it; what it accepts gets ours.
        assert_eq!(lines[2], "accepted 1 20 5 3", "{mode:?}");
        assert!(lines[3].starts_with("listener 0 "), "{mode:?}: {}", lines[3]);
    }
}
