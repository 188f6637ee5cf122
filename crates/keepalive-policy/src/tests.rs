extern crate std;

use std::vec::Vec;

use keepalive_config::rules::parse_rules;
use keepalive_config::{Peer, Settings, Side};

use crate::linux::*;
use crate::*;

fn settings() -> Settings {
    Settings::DEFAULT
}

fn idle_20() -> Settings {
    Settings { idle: Some(20), ..Settings::DEFAULT }
}

fn forced() -> Settings {
    Settings { force: true, ..idle_20() }
}

fn side(side: Side) -> Settings {
    Settings { side, ..idle_20() }
}

fn only(text: &str) -> Settings {
    Settings { only: parse_rules(text.as_bytes(), |_| panic!("bad rule {text}")), ..idle_20() }
}

fn skip(text: &str) -> Settings {
    Settings { skip: parse_rules(text.as_bytes(), |_| panic!("bad rule {text}")), ..idle_20() }
}

const FRESH: Timers = Timers([Some(7200), Some(75), Some(9), Some(0)]);
const LAN: Peer = Peer { address: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3], port: 5432 };

/// A TCP socket at `moment` with every fact known: keepalive off, fresh timers, a peer in
/// 10.0.0.0/8, established (unconnected at `Socket`/`Connect`), not held, the client side.
fn tcp(moment: Moment) -> Facts {
    let state =
        if matches!(moment, Moment::Connect | Moment::Socket) { TcpState::CLOSE } else { TcpState::ESTABLISHED };
    Facts {
        tcp: Fact::Known(true),
        state: Fact::Known(state),
        keepalive: Fact::Known(false),
        timers: Fact::Known(FRESH),
        fresh: Fact::Known(FRESH),
        peer: Fact::Known(LAN),
        role: Fact::Known(Role::Client),
        held: Fact::Known(false),
        ..Facts::at(moment)
    }
}

fn with_idle(mut facts: Facts, idle: i32) -> Facts {
    let mut timers = FRESH;
    timers.set(Timer::Idle, Some(idle));
    facts.timers = Fact::Known(timers);
    facts
}

use Decision::{LeaveAlone, Need as Needs, PutBack, SetAll, SetUnchosen};
use Reason::*;

const SETSOCKOPT_IDLE: Moment = Moment::Setsockopt { level: IPPROTO_TCP, name: TCP_KEEPIDLE };
const SETSOCKOPT_KEEPALIVE: Moment = Moment::Setsockopt { level: SOL_SOCKET, name: SO_KEEPALIVE };

#[test]
fn table() {
    let idle_kept = Kept::NONE.with(Timer::Idle);
    let rows: Vec<(&str, Settings, Facts, Decision)> = std::vec![
        // socket()
        ("socket: TCP gets everything", idle_20(), tcp(Moment::Socket), SetAll),
        ("socket: kind asked first", idle_20(), Facts::at(Moment::Socket), Needs(Need::Tcp)),
        ("socket: UDP", idle_20(), Facts { tcp: Fact::Known(false), ..Facts::at(Moment::Socket) }, LeaveAlone(NotTcp)),
        ("socket: disabled", Settings { enabled: false, ..idle_20() }, tcp(Moment::Socket), LeaveAlone(Disabled)),
        ("socket: side waits", side(Side::Client), tcp(Moment::Socket), LeaveAlone(WaitingForPeer)),
        ("socket: peer rules wait", only("10.0.0.0/8"), tcp(Moment::Socket), LeaveAlone(WaitingForPeer)),
        ("socket: force sets all", forced(), tcp(Moment::Socket), SetAll),
        // connect()
        ("connect: keepalive asked first", idle_20(), Facts::at(Moment::Connect), Needs(Need::Keepalive)),
        (
            "connect: keepalive on, one fact",
            idle_20(),
            Facts { keepalive: Fact::Known(true), ..Facts::at(Moment::Connect) },
            LeaveAlone(KeepaliveOn),
        ),
        (
            "connect: SO_KEEPALIVE unreadable",
            idle_20(),
            Facts { keepalive: Fact::Unavailable, ..Facts::at(Moment::Connect) },
            LeaveAlone(Unreadable),
        ),
        (
            "connect: then the kind",
            idle_20(),
            Facts { keepalive: Fact::Known(false), ..Facts::at(Moment::Connect) },
            Needs(Need::Tcp),
        ),
        (
            "connect: raw socket",
            idle_20(),
            Facts { tcp: Fact::Known(false), ..tcp(Moment::Connect) },
            LeaveAlone(NotTcp)
        ),
        (
            "connect: then the state",
            idle_20(),
            Facts { state: Fact::Unknown, ..tcp(Moment::Connect) },
            Needs(Need::State)
        ),
        (
            "connect: already connecting",
            idle_20(),
            Facts { state: Fact::Known(TcpState::SYN_SENT), ..tcp(Moment::Connect) },
            LeaveAlone(ConnectedAlready),
        ),
        (
            "connect: MPTCP without a state counts as unconnected",
            idle_20(),
            Facts { state: Fact::Unavailable, ..tcp(Moment::Connect) },
            SetAll,
        ),
        (
            "connect: then the defaults",
            idle_20(),
            Facts { fresh: Fact::Unknown, ..tcp(Moment::Connect) },
            Needs(Need::Fresh)
        ),
        (
            "connect: then the timers",
            idle_20(),
            Facts { timers: Fact::Unknown, ..tcp(Moment::Connect) },
            Needs(Need::Timers)
        ),
        ("connect: fresh timers, all set", idle_20(), tcp(Moment::Connect), SetAll),
        ("connect: program's idle kept", idle_20(), with_idle(tcp(Moment::Connect), 300), SetUnchosen(idle_kept)),
        (
            "connect: no defaults, all set",
            idle_20(),
            Facts { fresh: Fact::Unavailable, ..with_idle(tcp(Moment::Connect), 300) },
            SetAll,
        ),
        (
            "connect: unreadable timer is set",
            idle_20(),
            Facts { timers: Fact::Known(Timers([None; 4])), ..tcp(Moment::Connect) },
            SetAll,
        ),
        (
            "connect: no timers configured, no defaults asked",
            settings(),
            Facts { fresh: Fact::Unknown, ..tcp(Moment::Connect) },
            SetAll
        ),
        (
            "connect: a kept timer nobody configured is not kept",
            Settings { interval: Some(5), ..settings() },
            with_idle(tcp(Moment::Connect), 300),
            SetAll,
        ),
        ("connect: side server", side(Side::Server), Facts::at(Moment::Connect), LeaveAlone(SideServer)),
        ("connect: side client", side(Side::Client), tcp(Moment::Connect), SetAll),
        (
            "connect: peer asked last",
            only("10.0.0.0/8"),
            Facts { peer: Fact::Unknown, ..tcp(Moment::Connect) },
            Needs(Need::Peer)
        ),
        ("connect: peer selected", only("10.0.0.0/8"), tcp(Moment::Connect), SetAll),
        ("connect: peer not selected", only("192.168.0.0/16"), tcp(Moment::Connect), LeaveAlone(PeerNotSelected)),
        ("connect: peer skipped", skip(":5432"), tcp(Moment::Connect), LeaveAlone(PeerNotSelected)),
        (
            "connect: unix-like peer",
            only("10.0.0.0/8"),
            Facts { peer: Fact::Unavailable, ..tcp(Moment::Connect) },
            LeaveAlone(PeerNotIp)
        ),
        ("connect: force asks held first", forced(), Facts::at(Moment::Connect), Needs(Need::Held)),
        (
            "connect: force, held",
            forced(),
            Facts { held: Fact::Known(true), ..Facts::at(Moment::Connect) },
            LeaveAlone(Held)
        ),
        (
            "connect: force, not held, keepalive on and connecting: set anyway",
            forced(),
            Facts { keepalive: Fact::Known(true), state: Fact::Known(TcpState::SYN_SENT), ..tcp(Moment::Connect) },
            SetAll,
        ),
        (
            "connect: force with side rules never asks held",
            Settings { side: Side::Client, ..forced() },
            Facts { held: Fact::Unknown, ..tcp(Moment::Connect) },
            SetAll,
        ),
        // after a connect() that started, peer read late
        (
            "connected: no state check",
            only("10.0.0.0/8"),
            Facts { state: Fact::Known(TcpState::SYN_SENT), ..tcp(Moment::Connected) },
            SetAll,
        ),
        // accept()
        (
            "accept: keepalive inherited",
            idle_20(),
            Facts { keepalive: Fact::Known(true), ..Facts::at(Moment::Accept) },
            LeaveAlone(KeepaliveOn)
        ),
        ("accept: off, set", idle_20(), tcp(Moment::Accept), SetAll),
        ("accept: listener's idle kept", idle_20(), with_idle(tcp(Moment::Accept), 60), SetUnchosen(idle_kept)),
        ("accept: side client", side(Side::Client), Facts::at(Moment::Accept), LeaveAlone(SideClient)),
        ("accept: peer rule", skip("10.0.0.0/8"), tcp(Moment::Accept), LeaveAlone(PeerNotSelected)),
        (
            "accept: force, held listener",
            forced(),
            Facts { held: Fact::Known(true), ..Facts::at(Moment::Accept) },
            LeaveAlone(Held)
        ),
        ("accept: force, listener not held", forced(), tcp(Moment::Accept), SetAll),
        // listen()
        ("listen: configured", idle_20(), tcp(Moment::Listen), SetAll),
        ("listen: side client", side(Side::Client), tcp(Moment::Listen), LeaveAlone(SideClient)),
        (
            "listen: peer rules wait for accept",
            only("10.0.0.0/8"),
            tcp(Moment::Listen),
            LeaveAlone(ListenerWithPeerRules)
        ),
        // attach
        ("attach: kind asked first", idle_20(), Facts::at(Moment::Attach), Needs(Need::Tcp)),
        (
            "attach: then the state",
            idle_20(),
            Facts { tcp: Fact::Known(true), ..Facts::at(Moment::Attach) },
            Needs(Need::State),
        ),
        (
            "attach: a socket of another kind has no state",
            idle_20(),
            Facts { tcp: Fact::Known(false), ..Facts::at(Moment::Attach) },
            LeaveAlone(NotTcp),
        ),
        ("attach: established", idle_20(), tcp(Moment::Attach), SetAll),
        (
            "attach: syn-sent",
            idle_20(),
            Facts { state: Fact::Known(TcpState::SYN_SENT), ..tcp(Moment::Attach) },
            SetAll,
        ),
        ("attach: program's timer kept", idle_20(), with_idle(tcp(Moment::Attach), 45), SetUnchosen(idle_kept)),
        ("attach: program's timer forced", forced(), with_idle(tcp(Moment::Attach), 45), SetAll),
        (
            "attach: keepalive on already",
            idle_20(),
            Facts { keepalive: Fact::Known(true), ..tcp(Moment::Attach) },
            LeaveAlone(KeepaliveOn),
        ),
        (
            "attach: forced although on, never held",
            forced(),
            Facts { keepalive: Fact::Known(true), held: Fact::Unknown, ..tcp(Moment::Attach) },
            SetAll,
        ),
        (
            "attach: listener",
            idle_20(),
            Facts { state: Fact::Known(TcpState::LISTEN), peer: Fact::Unavailable, ..tcp(Moment::Attach) },
            SetAll,
        ),
        (
            "attach: listener with peer rules",
            only("10.0.0.0/8"),
            Facts { state: Fact::Known(TcpState::LISTEN), ..tcp(Moment::Attach) },
            LeaveAlone(ListenerWithPeerRules),
        ),
        (
            "attach: listener, side client",
            side(Side::Client),
            Facts { state: Fact::Known(TcpState::LISTEN), ..tcp(Moment::Attach) },
            LeaveAlone(SideClient),
        ),
        (
            "attach: closing",
            idle_20(),
            Facts { state: Fact::Known(TcpState::CLOSE_WAIT), ..tcp(Moment::Attach) },
            LeaveAlone(Closing),
        ),
        (
            "attach: unconnected, as at socket()",
            idle_20(),
            Facts { state: Fact::Known(TcpState::CLOSE), ..tcp(Moment::Attach) },
            SetAll,
        ),
        (
            "attach: unconnected with peer rules",
            only("10.0.0.0/8"),
            Facts { state: Fact::Known(TcpState::CLOSE), ..tcp(Moment::Attach) },
            LeaveAlone(NotConnected),
        ),
        (
            "attach: side asks the role",
            side(Side::Server),
            Facts { role: Fact::Unknown, ..tcp(Moment::Attach) },
            Needs(Need::Role)
        ),
        ("attach: client, side server", side(Side::Server), tcp(Moment::Attach), LeaveAlone(SideServer)),
        (
            "attach: accepted, side server",
            side(Side::Server),
            Facts { role: Fact::Known(Role::Server), ..tcp(Moment::Attach) },
            SetAll,
        ),
        (
            "attach: side unknown",
            side(Side::Client),
            Facts { role: Fact::Unavailable, ..tcp(Moment::Attach) },
            LeaveAlone(SideUnknown),
        ),
        ("attach: peer not selected", only("192.168.0.0/16"), tcp(Moment::Attach), LeaveAlone(PeerNotSelected)),
        ("attach: raw socket", idle_20(), Facts { tcp: Fact::Known(false), ..tcp(Moment::Attach) }, LeaveAlone(NotTcp)),
        // setsockopt() in force mode
        ("setsockopt: not forcing", idle_20(), Facts::at(SETSOCKOPT_IDLE), LeaveAlone(NotForcing)),
        ("setsockopt: asks held", forced(), Facts::at(SETSOCKOPT_IDLE), Needs(Need::Held)),
        (
            "setsockopt: idle put back",
            forced(),
            Facts { held: Fact::Known(true), ..Facts::at(SETSOCKOPT_IDLE) },
            PutBack(SocketOption { level: IPPROTO_TCP, name: TCP_KEEPIDLE, value: 20 }),
        ),
        (
            "setsockopt: keepalive put back",
            forced(),
            Facts { held: Fact::Known(true), ..Facts::at(SETSOCKOPT_KEEPALIVE) },
            PutBack(SocketOption { level: SOL_SOCKET, name: SO_KEEPALIVE, value: 1 }),
        ),
        (
            "setsockopt: an option not configured",
            forced(),
            Facts {
                held: Fact::Known(true),
                ..Facts::at(Moment::Setsockopt { level: IPPROTO_TCP, name: TCP_KEEPCNT })
            },
            LeaveAlone(NotOurs),
        ),
        (
            "setsockopt: not held",
            forced(),
            Facts { held: Fact::Known(false), ..Facts::at(SETSOCKOPT_IDLE) },
            LeaveAlone(NotHeld)
        ),
    ];
    assert!(rows.len() >= 30);
    let mut failures = Vec::new();
    for (name, settings, facts, expected) in &rows {
        let decided = decide(settings, facts);
        if decided != *expected {
            failures.push(std::format!("{name}: expected {expected:?}, decided {decided:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

/// Gathers facts from `socket` one `Need` at a time, as the library does, and returns the
/// decision with the facts it took.
fn staged(settings: &Settings, moment: Moment, socket: &Facts) -> (Decision, Vec<Need>) {
    let mut facts = Facts::at(moment);
    let mut asked = Vec::new();
    loop {
        match decide(settings, &facts) {
            Decision::Need(need) => {
                assert!(!asked.contains(&need), "{need:?} asked twice");
                asked.push(need);
                match need {
                    Need::Tcp => facts.tcp = socket.tcp,
                    Need::State => facts.state = socket.state,
                    Need::Keepalive => facts.keepalive = socket.keepalive,
                    Need::Timers => facts.timers = socket.timers,
                    Need::Fresh => facts.fresh = socket.fresh,
                    Need::Peer => facts.peer = socket.peer,
                    Need::Role => facts.role = socket.role,
                    Need::Held => facts.held = socket.held,
                }
            }
            decision => return (decision, asked),
        }
    }
}

#[test]
fn the_hot_path_reads_one_option() {
    for moment in [Moment::Connect, Moment::Accept] {
        let on = Facts { keepalive: Fact::Known(true), ..tcp(moment) };
        assert_eq!(staged(&idle_20(), moment, &on), (LeaveAlone(KeepaliveOn), std::vec![Need::Keepalive]));
        assert_eq!(staged(&only("10.0.0.0/8"), moment, &on), (LeaveAlone(KeepaliveOn), std::vec![Need::Keepalive]));
    }
}

#[test]
fn facts_are_asked_in_the_order_of_their_cost() {
    let (decision, asked) = staged(&only("10.0.0.0/8"), Moment::Connect, &with_idle(tcp(Moment::Connect), 300));
    assert_eq!(decision, SetUnchosen(Kept::NONE.with(Timer::Idle)));
    assert_eq!(asked, [Need::Keepalive, Need::Tcp, Need::State, Need::Peer, Need::Fresh, Need::Timers]);
    let (decision, asked) = staged(&forced(), Moment::Accept, &tcp(Moment::Accept));
    assert_eq!((decision, asked), (SetAll, std::vec![Need::Held, Need::Tcp]));
}

#[test]
fn staged_and_complete_facts_agree() {
    let settings = [idle_20(), forced(), side(Side::Server), side(Side::Client), only("10.0.0.0/8"), skip(":5432")];
    let moments = [Moment::Socket, Moment::Connect, Moment::Connected, Moment::Listen, Moment::Accept, Moment::Attach];
    let states = [TcpState::CLOSE, TcpState::ESTABLISHED, TcpState::LISTEN, TcpState::CLOSE_WAIT];
    for settings in &settings {
        for moment in moments {
            for state in states {
                for keepalive in [false, true] {
                    let socket = Facts { state: Fact::Known(state), keepalive: Fact::Known(keepalive), ..tcp(moment) };
                    assert_eq!(staged(settings, moment, &socket).0, decide(settings, &socket), "{moment:?} {state:?}");
                }
            }
        }
    }
}

#[test]
fn options_of_settings() {
    let options = |settings: &Settings| -> Vec<(i32, i32, i32)> {
        Options::of(settings).as_slice().iter().map(|o| (o.level, o.name, o.value)).collect()
    };
    assert_eq!(options(&settings()), [(SOL_SOCKET, SO_KEEPALIVE, 1)]);
    let all = Settings { idle: Some(20), count: Some(3), user_timeout_ms: Some(0), ..settings() };
    assert_eq!(
        options(&all),
        [
            (IPPROTO_TCP, TCP_KEEPIDLE, 20),
            (IPPROTO_TCP, TCP_KEEPCNT, 3),
            (IPPROTO_TCP, TCP_USER_TIMEOUT, 0),
            (SOL_SOCKET, SO_KEEPALIVE, 1)
        ]
    );
    let largest = Settings { user_timeout_ms: Some(i32::MAX as u32), ..settings() };
    assert_eq!(options(&largest)[0].2, i32::MAX);
    let except: Vec<_> = Options::of(&all).except(Kept::NONE.with(Timer::Count)).map(|o| o.name).collect();
    assert_eq!(except, [TCP_KEEPIDLE, TCP_USER_TIMEOUT, SO_KEEPALIVE]);
    assert_eq!(Options::of(&all).slots()[4].level, 0, "unused slot");
}

#[test]
fn find_answers_as_the_options_of_the_settings() {
    let all = Settings { idle: Some(20), interval: Some(5), count: Some(3), user_timeout_ms: Some(0), ..settings() };
    let some = Settings { count: Some(4), ..settings() };
    // 1: TCP_NODELAY, an option of the program's.
    let names = [SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT, 1, 0];
    for settings in [settings(), all, some] {
        let options = Options::of(&settings);
        for level in [SOL_SOCKET, IPPROTO_TCP, 0] {
            for name in names {
                let held = options.as_slice().iter().find(|o| (o.level, o.name) == (level, name)).copied();
                assert_eq!(Options::find(&settings, level, name), held, "{level} {name}");
            }
        }
    }
    assert_eq!(
        Options::find(&some, IPPROTO_TCP, TCP_KEEPCNT),
        Some(SocketOption { level: IPPROTO_TCP, name: TCP_KEEPCNT, value: 4 })
    );
}

#[test]
fn tcp_is_a_stream_socket_of_tcp_or_mptcp() {
    for domain in [AF_INET, AF_INET6] {
        for flags in [0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC] {
            for protocol in [0, IPPROTO_TCP, IPPROTO_MPTCP] {
                assert!(is_tcp_request(domain, SOCK_STREAM | flags, protocol));
            }
        }
        assert!(is_tcp(domain, SOCK_STREAM, IPPROTO_TCP) && is_tcp(domain, SOCK_STREAM, IPPROTO_MPTCP));
    }
    assert!(!is_tcp(AF_INET, libc::SOCK_RAW, IPPROTO_TCP), "a raw socket with protocol 6");
    assert!(!is_tcp_request(AF_INET, libc::SOCK_RAW, IPPROTO_TCP));
    assert!(!is_tcp_request(AF_INET, libc::SOCK_DGRAM, 0));
    assert!(!is_tcp_request(AF_INET, libc::SOCK_SEQPACKET, 0));
    assert!(!is_tcp_request(AF_INET, SOCK_STREAM, libc::IPPROTO_SCTP));
    assert!(!is_tcp_request(libc::AF_UNIX, SOCK_STREAM, 0));
    assert!(!is_tcp(libc::AF_UNIX, SOCK_STREAM, 0));
    assert!(!is_tcp_request(AF_INET, SOCK_STREAM | 0x4000_0000, 0), "unknown type flag");
    assert!(!is_tcp(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP), "SO_TYPE has no flags");
}

#[test]
fn constants_are_the_kernels() {
    assert_eq!(
        [AF_INET, AF_INET6, SOCK_STREAM, SOCK_NONBLOCK, SOCK_CLOEXEC, IPPROTO_TCP, IPPROTO_MPTCP],
        [
            libc::AF_INET,
            libc::AF_INET6,
            libc::SOCK_STREAM,
            libc::SOCK_NONBLOCK,
            libc::SOCK_CLOEXEC,
            libc::IPPROTO_TCP,
            libc::IPPROTO_MPTCP
        ]
    );
    assert_eq!(
        [SOL_SOCKET, SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT],
        [
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            libc::TCP_KEEPIDLE,
            libc::TCP_KEEPINTVL,
            libc::TCP_KEEPCNT,
            libc::TCP_USER_TIMEOUT
        ]
    );
}

#[test]
fn every_question_has_an_end() {
    let nothing = Facts {
        tcp: Fact::Unavailable,
        state: Fact::Unavailable,
        keepalive: Fact::Unavailable,
        timers: Fact::Unavailable,
        fresh: Fact::Unavailable,
        peer: Fact::Unavailable,
        role: Fact::Unavailable,
        held: Fact::Unavailable,
        ..Facts::at(Moment::Socket)
    };
    let moments = [Moment::Socket, Moment::Connect, Moment::Connected, Moment::Listen, Moment::Accept, Moment::Attach];
    for settings in [idle_20(), forced(), side(Side::Client), only("10.0.0.0/8")] {
        for moment in moments.into_iter().chain([SETSOCKOPT_IDLE]) {
            for tcp in [Fact::Unavailable, Fact::Known(true)] {
                let (decision, _) = staged(&settings, moment, &Facts { tcp, ..nothing });
                assert!(!matches!(decision, Decision::Need(_)), "{moment:?}");
            }
        }
    }
}
