//! What the kernel does with the options we set, shown with real packets between test hosts made
//! of network namespaces. Each scenario runs the same unmodified programs (`c-tests/wire.c`) with
//! and without the library, and prints what it measured.

mod common;
use common::capture::{self, TCPDUMP_ARGS};
use common::netns::{Host, Lab, NAT_SERVER, Process, behind_forgetful_nat};
use common::{c_program, library, report};
use std::time::{Duration, Instant};

const CLIENT: &str = "10.0.0.1";
const SERVER: &str = "10.0.0.2";
const FAST: [(&str, &str); 3] = [("KEEPALIVE_IDLE", "2"), ("KEEPALIVE_INTVL", "1"), ("KEEPALIVE_CNT", "3")];
/// idle + intvl x cnt with FAST.
const FAST_DETECTION: f64 = 5.0;
/// How long a connection without the library must outlive FAST_DETECTION.
const STILL_BLOCKED: Duration = Duration::from_secs(9);

fn wire() -> std::path::PathBuf {
    c_program("glibc", "wire")
}

/// A client host and a server host on one link.
fn two_hosts(test: &str) -> Option<(Lab, Host, Host)> {
    let mut lab = Lab::new(test)?;
    let client = lab.host("c");
    let server = lab.host("s");
    lab.link(&client, "eth0", &format!("{CLIENT}/24"), &server, "eth0", &format!("{SERVER}/24"));
    Some((lab, client, server))
}

/// `wire serve PORT` in `host`, without the library, started and listening.
fn echo_server(lab: &mut Lab, host: &Host, port: u16) -> Process {
    let server = lab.start(lab.command(host, wire()).args(["serve", &port.to_string()]));
    wait_listening(lab, host, port);
    server
}

fn wait_listening(lab: &Lab, host: &Host, port: u16) {
    let listening = common::wait_for(Duration::from_secs(5), || {
        let output = lab.command(host, "ss").args(["-tlnH", &format!("sport = :{port}")]).output().unwrap();
        (!output.stdout.is_empty()).then_some(())
    });
    listening.unwrap_or_else(|| panic!("nothing listens on port {port}"));
}

type Settings<'a> = Option<&'a [(&'a str, &'a str)]>;

/// `wire connect` from `host` to `address:port`, connected; `env` decides library and settings.
fn client(lab: &mut Lab, host: &Host, address: &str, port: u16, env: Settings) -> (Process, Instant) {
    client_on("glibc", lab, host, address, port, env)
}

/// The same with `wire` built against `libc`.
fn client_on(libc: &str, lab: &mut Lab, host: &Host, address: &str, port: u16, env: Settings) -> (Process, Instant) {
    let wire = c_program(libc, "wire");
    let mut command = if env.is_some() { lab.preloaded(host, wire) } else { lab.command(host, wire) };
    command.args(["connect", address, &port.to_string()]).envs(env.unwrap_or_default().iter().copied());
    let mut client = lab.start(&mut command);
    let (connected, _) = client.expect("connected", Duration::from_secs(5));
    (client, connected)
}

/// The result and seconds of `read: RESULT after S s`.
fn read_result(line: &str) -> (String, f64) {
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(fields.len() == 5 && fields[0] == "read:", "unexpected line {line:?}");
    (fields[1].to_string(), fields[3].parse().unwrap())
}

/// The process's final read fails with `errno` within `low..=high` seconds (its own measure).
fn assert_read_fails(process: &mut Process, errno: &str, low: f64, high: f64, what: &str) {
    let (_, line) = process.expect("read:", Duration::from_secs_f64(high + 3.0));
    let (result, seconds) = read_result(&line);
    report(&format!("{what}: read failed with {result} after {seconds:.3} s (expected {errno} in {low}..{high} s)"));
    assert_eq!(result, errno, "{what}");
    assert!((low..=high).contains(&seconds), "{what}: {seconds} s, expected {low}..{high} s");
}

/// The process's read is still blocked `limit` after `since`.
fn assert_still_blocked(process: &mut Process, since: Instant, limit: Duration, what: &str) {
    let remaining = limit.saturating_sub(since.elapsed());
    if let Some((_, line)) = process.line("read:", remaining) {
        panic!("{what}: the connection ended after {:.3} s: {line}", since.elapsed().as_secs_f64());
    }
    report(&format!("{what}: still blocked after {:.3} s", since.elapsed().as_secs_f64()));
}

#[test]
fn dead_peer_is_detected_after_idle_plus_intvl_times_cnt() {
    let Some((mut lab, client_host, server_host)) = two_hosts("dead peer") else { return };
    let mut servers = [7001, 7002, 7003].map(|port| echo_server(&mut lab, &server_host, port));
    let mut with = [("glibc", 7001), ("musl", 7002)]
        .map(|(libc, port)| client_on(libc, &mut lab, &client_host, SERVER, port, Some(&FAST)).0);
    let (mut without, connected) = client(&mut lab, &client_host, SERVER, 7003, None);
    for server in &mut servers {
        server.expect("accepted", Duration::from_secs(5));
    }
    for client in with.iter_mut().chain([&mut without]) {
        client.close_input();
    }
    lab.vanish(&server_host);

    for (libc, client) in ["glibc", "musl"].iter().zip(&mut with) {
        let what = format!("dead peer, {libc} client, KEEPALIVE_IDLE=2 KEEPALIVE_INTVL=1 KEEPALIVE_CNT=3");
        assert_read_fails(client, "ETIMEDOUT", FAST_DETECTION - 1.0, FAST_DETECTION + 1.0, &what);
    }
    assert_still_blocked(&mut without, connected, STILL_BLOCKED, "dead peer, without the library");
}

#[test]
fn probes_on_the_wire_at_idle_then_intvl_answered() {
    let Some((mut lab, client_host, server_host)) = two_hosts("probes on the wire") else { return };
    let mut tcpdump = lab.command(&server_host, "tcpdump");
    let mut tcpdump = lab.start(tcpdump.args(["-i", "eth0"]).args(TCPDUMP_ARGS));
    tcpdump.expect("stderr: listening on", Duration::from_secs(5));
    let mut servers = [7000, 7001].map(|port| echo_server(&mut lab, &server_host, port));
    let settings = [("KEEPALIVE_IDLE", "2"), ("KEEPALIVE_INTVL", "1"), ("KEEPALIVE_CNT", "5")];
    let (mut with, connected) = client(&mut lab, &client_host, SERVER, 7000, Some(&settings));
    let (mut plain, _) = client(&mut lab, &client_host, SERVER, 7001, None);
    for server in &mut servers {
        server.expect("accepted", Duration::from_secs(5));
    }

    // Unanswered, the probes come `intvl` apart; once answered, the next waits `idle` again.
    lab.vanish(&server_host);
    std::thread::sleep(Duration::from_millis(3500).saturating_sub(connected.elapsed()));
    lab.reappear(&server_host);
    std::thread::sleep(Duration::from_millis(6500).saturating_sub(connected.elapsed()));
    with.send("still there?");
    let (_, reply) = with.expect("reply", Duration::from_secs(2));
    plain.send("still there?");
    plain.expect("reply", Duration::from_secs(2));

    let segments = capture::segments(tcpdump.output(Duration::from_millis(300)));
    let [syn, plain_syn] = [7000, 7001]
        .map(|port| capture::first_syn(&segments, &format!("{SERVER}.{port}")).expect("tcpdump saw the connection"));
    let plain_probes = capture::probes(&segments, &plain_syn.from).len();
    let seconds = segments.last().unwrap().time - plain_syn.time;
    report(&format!("probes on the wire, without the library: {plain_probes} probes in {seconds:.3} s"));
    assert_eq!(plain_probes, 0, "keepalive probes without the library");
    let server_address = format!("{SERVER}.7000");
    let start = syn.time;
    let probes = capture::probes(&segments, &syn.from);
    let times: Vec<f64> = probes.iter().map(|probe| probe.time - start).collect();
    let answered = |probe: &&capture::Segment| capture::answered(&segments, probe, &server_address, 0.5);
    let answered: Vec<bool> = probes.iter().map(answered).collect();
    report(&format!("probes (s after the SYN): {times:.3?}, answered: {answered:?}; then a round trip: {reply}"));
    assert_eq!(answered, [false, false, true, true], "probes at {times:.3?}");
    let gaps = [times[0], times[1] - times[0], times[2] - times[1], times[3] - times[2]];
    let [first, intvl, intvl_again, idle_again] = gaps;
    report(&format!("first probe after {first:.3} s idle, unanswered {intvl:.3} s, {intvl_again:.3} s apart (intvl)"));
    report(&format!("after an answer, the next probe {idle_again:.3} s later (idle)"));
    for (gap, expected) in gaps.into_iter().zip([2.0, 1.0, 1.0, 2.0]) {
        assert!((gap - expected).abs() < 0.3, "probe gaps {gaps:.3?}, expected 2, 1, 1, 2 s");
    }
}

#[test]
fn idle_connection_survives_a_nat_that_forgets_idle_flows() {
    let forget = 3;
    let Some((mut lab, client_host, server_host)) = behind_forgetful_nat("forgetful NAT", forget) else { return };
    let _servers = [7001, 7002].map(|port| echo_server(&mut lab, &server_host, port));
    let settings = [("KEEPALIVE_IDLE", "1"), ("KEEPALIVE_INTVL", "1"), ("KEEPALIVE_CNT", "3")];
    let mut clients = [(7001, Some(&settings[..])), (7002, None)]
        .map(|(port, env)| client(&mut lab, &client_host, NAT_SERVER, port, env).0);
    for client in &mut clients {
        client.send("hello");
        client.expect("reply", Duration::from_secs(2));
    }
    let silence = Duration::from_secs(2 * u64::from(forget));
    std::thread::sleep(silence);
    for client in &mut clients {
        client.send("are you there?");
    }
    let [with, without] = &mut clients;
    let (_, reply) = with.expect("reply", Duration::from_secs(2));
    let what = format!("NAT forgetting flows after {forget} s, {silence:?} idle");
    report(&format!("{what}, KEEPALIVE_IDLE=1 KEEPALIVE_INTVL=1: {reply}"));
    let lost = without.line("reply", Duration::from_secs(3));
    assert!(lost.is_none(), "without the library the flow survived the NAT: {lost:?}");
    report(&format!("{what}, without the library: no reply within 3 s, the router dropped the forgotten flow"));
}

#[test]
fn user_timeout_bounds_unacknowledged_data_keepalive_does_not() {
    let Some((mut lab, client_host, server_host)) = two_hosts("unacknowledged data") else { return };
    let with_timeout = [FAST.as_slice(), &[("KEEPALIVE_USER_TIMEOUT", "3s")]].concat();
    let runs: [(&str, Settings); 3] = [
        ("KEEPALIVE_USER_TIMEOUT=3s and fast keepalive", Some(&with_timeout)),
        ("fast keepalive only (would fire at 5 s if idle)", Some(&FAST)),
        ("without the library", None),
    ];
    let mut clients = Vec::new();
    for (port, (what, env)) in (7001..).zip(runs) {
        let mut server = echo_server(&mut lab, &server_host, port);
        let (client, _) = client(&mut lab, &client_host, SERVER, port, env);
        server.expect("accepted", Duration::from_secs(5));
        clients.push((what, client));
    }
    lab.vanish(&server_host);
    let sent = Instant::now();
    for (_, client) in &mut clients {
        client.send("this will never be acknowledged");
    }
    let (what, timed) = &mut clients[0];
    assert_read_fails(timed, "ETIMEDOUT", 2.9, 4.0, &format!("unacknowledged data, {what}"));
    for (what, client) in &mut clients[1..] {
        assert_still_blocked(client, sent, STILL_BLOCKED, &format!("unacknowledged data, {what}"));
    }
}

#[test]
fn server_finds_a_vanished_client_with_its_own_or_an_inherited_listener() {
    let Some((mut lab, client_host, server_host)) = two_hosts("server side") else { return };
    let library = library();
    let preload = format!("LD_PRELOAD={}", library.display());
    let wire = wire().display().to_string();
    // (description, port, under the library, listener inherited from a launcher)
    let runs = [
        ("own listener, under the library", 7001, true, false),
        ("inherited listener, under the library", 7002, true, true),
        ("own listener, without the library", 7003, false, false),
        ("inherited listener, without the library", 7004, false, true),
    ];
    let mut servers = Vec::new();
    for (what, port, preload_server, inherited) in runs {
        let mut command = match preload_server && !inherited {
            true => lab.preloaded(&server_host, &wire),
            false => lab.command(&server_host, &wire),
        };
        if inherited {
            // Like systemd or inetd: the launcher, without the library, makes the listener.
            let service = if preload_server { vec!["env", &preload, &wire] } else { vec![&wire[..]] };
            command.args(["activate", &port.to_string()]).args(service).args(["serve-fd", "3"]);
        } else {
            command.args(["serve", &port.to_string()]);
        }
        let server = lab.start(command.envs(FAST));
        wait_listening(&lab, &server_host, port);
        servers.push((what, server));
    }
    let mut clients = Vec::new();
    for (port, (_, server)) in (7001..).zip(&mut servers) {
        clients.push(client(&mut lab, &client_host, SERVER, port, None).0);
        server.expect("accepted", Duration::from_secs(5));
    }
    lab.vanish(&client_host);
    let start = Instant::now();
    for (what, server) in &mut servers[..2] {
        let what = format!("server, vanished client, {what}");
        assert_read_fails(server, "ETIMEDOUT", FAST_DETECTION - 1.0, FAST_DETECTION + 1.0, &what);
    }
    for (what, server) in &mut servers[2..] {
        assert_still_blocked(server, start, STILL_BLOCKED, &format!("server, vanished client, {what}"));
    }
}

#[test]
fn capture_finds_probes_in_tcpdump_text() {
    // A SYN with sequence number 100, the handshake's ACK (101), a probe (100) and its answer.
    let ip = "0x0000:  4500 0034 0000 4000 4006 0000 0a00 0001 0a00 0002";
    let lines = [
        "1.000000 IP 10.0.0.1.5000 > 10.0.0.2.7000: Flags [S], seq 100, win 1, length 0",
        ip,
        "0x0010:  1388 1b58 0000 0064",
        "1.000100 IP 10.0.0.1.5000 > 10.0.0.2.7000: Flags [.], ack 1, win 1, length 0",
        ip,
        "0x0010:  1388 1b58 0000 0065",
        "3.000000 IP 10.0.0.1.5000 > 10.0.0.2.7000: Flags [.], ack 1, win 1, length 0",
        ip,
        "0x0010:  1388 1b58 0000 0064",
        "3.000100 IP 10.0.0.2.7000 > 10.0.0.1.5000: Flags [.], ack 101, win 1, length 0",
    ];
    let segments = capture::segments(&lines.map(String::from));
    assert_eq!(segments.iter().map(|segment| segment.seq).collect::<Vec<_>>(), [100, 101, 100, 0]);
    let syn = capture::first_syn(&segments, "10.0.0.2.7000").unwrap();
    let probes = capture::probes(&segments, &syn.from);
    assert_eq!(probes.iter().map(|probe| probe.time).collect::<Vec<_>>(), [3.0]);
    assert!(capture::answered(&segments, probes[0], "10.0.0.2.7000", 0.5));
}
