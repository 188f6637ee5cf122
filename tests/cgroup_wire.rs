//! `keepalive --cgroup` on the wire: connections of a test cgroup, between network namespaces,
//! notice a dead peer and keep a NAT's memory of them, as under the library (tests/wire.rs);
//! the same program outside the cgroup does neither.

mod common;
use common::cgroup::{TestCgroup, static_c_program};
use common::netns::{Host, Lab, NAT_SERVER, Process, behind_forgetful_nat};
use common::report;
use std::time::{Duration, Instant};

const SERVER: &str = "10.0.0.2";

fn echo_server(lab: &mut Lab, host: &Host, port: u16) -> Process {
    let wire = static_c_program("wire");
    let server = lab.start(lab.command(host, &wire).args(["serve", &port.to_string()]));
    let listening = common::wait_for(Duration::from_secs(5), || {
        let output = lab.command(host, "ss").args(["-tlnH", &format!("sport = :{port}")]).output().unwrap();
        (!output.stdout.is_empty()).then_some(())
    });
    listening.unwrap_or_else(|| panic!("nothing listens on port {port}"));
    server
}

/// `wire connect` from `host`, inside `cgroup` or not, connected.
fn client(lab: &mut Lab, host: &Host, cgroup: Option<&TestCgroup>, address: &str, port: u16) -> (Process, Instant) {
    let wire = static_c_program("wire");
    let mut command = match cgroup {
        Some(cgroup) => {
            let mut command = lab.command(host, "sh");
            command.args(cgroup.shell_entry()).arg(&wire);
            command
        }
        None => lab.command(host, &wire),
    };
    let mut client = lab.start(command.args(["connect", address, &port.to_string()]));
    let (connected, _) = client.expect("connected", Duration::from_secs(5));
    (client, connected)
}

#[test]
fn dead_peer_is_detected_in_the_cgroup_only() {
    let Some(cgroup) = TestCgroup::new("cgroup dead peer") else { return };
    let Some(mut lab) = Lab::new("cgroup dead peer") else { return };
    let client_host = lab.host("c");
    let server_host = lab.host("s");
    lab.link(&client_host, "eth0", "10.0.0.1/24", &server_host, "eth0", &format!("{SERVER}/24"));
    cgroup.attach(&["--idle", "2", "--interval", "1", "--count", "3"]);
    let mut servers = [7001, 7002].map(|port| echo_server(&mut lab, &server_host, port));
    let (mut inside, _) = client(&mut lab, &client_host, Some(&cgroup), SERVER, 7001);
    let (mut outside, connected) = client(&mut lab, &client_host, None, SERVER, 7002);
    for server in &mut servers {
        server.expect("accepted", Duration::from_secs(5));
    }
    inside.close_input();
    outside.close_input();
    lab.vanish(&server_host);

    let (_, line) = inside.expect("read:", Duration::from_secs(9));
    let fields: Vec<&str> = line.split_whitespace().collect();
    let seconds: f64 = fields[3].parse().unwrap();
    report(&format!("dead peer, in the cgroup (idle 2, interval 1, count 3): {line}"));
    assert_eq!(fields[1], "ETIMEDOUT", "{line}");
    assert!((4.0..=6.0).contains(&seconds), "noticed after {seconds} s, expected 5");
    let remaining = Duration::from_secs(9).saturating_sub(connected.elapsed());
    let ended = outside.line("read:", remaining);
    assert!(ended.is_none(), "outside the cgroup the connection ended: {ended:?}");
    report("dead peer, outside the cgroup: still blocked after 9 s");
}

#[test]
fn idle_connection_in_the_cgroup_survives_a_nat_that_forgets_idle_flows() {
    let forget: u32 = 3;
    let Some(cgroup) = TestCgroup::new("cgroup NAT") else { return };
    let Some((mut lab, client_host, server_host)) = behind_forgetful_nat("cgroup NAT", forget) else { return };
    cgroup.attach(&["--idle", "1", "--interval", "1", "--count", "3"]);
    let _servers = [7001, 7002].map(|port| echo_server(&mut lab, &server_host, port));
    let mut clients = [(7001, Some(&cgroup)), (7002, None)]
        .map(|(port, cgroup)| client(&mut lab, &client_host, cgroup, NAT_SERVER, port).0);
    for client in &mut clients {
        client.send("hello");
        client.expect("reply", Duration::from_secs(2));
    }
    std::thread::sleep(Duration::from_secs(2 * u64::from(forget)));
    for client in &mut clients {
        client.send("are you there?");
    }
    let [inside, outside] = &mut clients;
    let (_, reply) = inside.expect("reply", Duration::from_secs(2));
    report(&format!("NAT forgetting flows after {forget} s, in the cgroup (idle 1, interval 1): {reply}"));
    let lost = outside.line("reply", Duration::from_secs(3));
    assert!(lost.is_none(), "outside the cgroup the flow survived the NAT: {lost:?}");
}
