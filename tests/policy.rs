//! Policy: force mode, which connections (KEEPALIVE_ONLY, KEEPALIVE_SKIP, KEEPALIVE_SIDE), and
//! the variable names of libkeepalive and libdontdie, through the real library.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;

/// Variables set for one run.
type Environment<'a> = &'a [(&'a str, &'a str)];

/// Runs c-tests `filters` with `environment`, `{PORT}`/`{PORT2}` replaced by free ports, and
/// returns what it printed: `label.socket|client|server` -> keepalive on.
fn filters(libc: &str, environment: &[(&str, &str)]) -> (BTreeMap<String, bool>, String) {
    let output = on_free_ports(|[port, port2]| {
        let fill = |value: &str| value.replace("{PORT}", &port.to_string()).replace("{PORT2}", &port2.to_string());
        let mut command = preloaded(c_program(libc, "scenarios"));
        command.arg("filters").env("PORT", port.to_string()).env("PORT2", port2.to_string());
        for (name, value) in environment {
            command.env(name, fill(value));
        }
        let output = command.output().unwrap();
        match text(&output.stdout).contains("Address already in use") {
            true => Err(PortTaken(describe(&output))),
            false => Ok(output),
        }
    });
    assert!(output.status.success(), "{environment:?}: {}", describe(&output));
    let seen = text(&output.stdout)
        .split_whitespace()
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap();
            (key.to_string(), value == "1")
        })
        .collect();
    (seen, text(&output.stderr))
}

/// Peers a to e (see c-tests/scenarios.c): a 127.0.0.1:PORT, b 127.0.0.2:PORT, c [::1]:PORT,
/// d ::ffff:127.0.0.1:PORT from an IPv6 socket, e 127.0.0.1:PORT2. The accepted side sees the
/// client's address (127.0.0.1 for a, b, d and e: loopback's source address) and a random port.
fn expect(socket: bool, clients: &str, servers: &str) -> BTreeMap<String, bool> {
    let mut expected = BTreeMap::new();
    for label in ["a", "b", "c", "d", "e"] {
        expected.insert(format!("{label}.socket"), socket);
        expected.insert(format!("{label}.client"), clients.contains(label));
        expected.insert(format!("{label}.server"), servers.contains(label));
    }
    expected
}

#[test]
fn peer_rules_and_sides() {
    let cases: [(Environment, BTreeMap<String, bool>); 8] = [
        (&[], expect(true, "abcde", "abcde")),
        (&[("KEEPALIVE_ONLY", "127.0.0.2, [::1], :{PORT2}")], expect(false, "bce", "c")),
        (&[("KEEPALIVE_ONLY", "127.0.0.1")], expect(false, "ade", "abde")),
        (&[("KEEPALIVE_ONLY", "127.0.0.0/8"), ("KEEPALIVE_SKIP", ":{PORT2}")], expect(false, "abd", "abde")),
        (&[("KEEPALIVE_SKIP", "127.0.0.0/8")], expect(false, "c", "c")),
        (&[("KEEPALIVE_ONLY", "::1/128,[::ffff:127.0.0.2]")], expect(false, "bc", "c")),
        (&[("KEEPALIVE_SIDE", "client")], expect(false, "abcde", "")),
        (&[("KEEPALIVE_SIDE", "server"), ("KEEPALIVE_SKIP", "::1")], expect(false, "", "abde")),
    ];
    for libc in LIBCS {
        for (environment, expected) in &cases {
            let (seen, stderr) = filters(libc, environment);
            assert_eq!(&seen, expected, "{libc} {environment:?}");
            assert!(stderr.is_empty(), "{libc} {environment:?}: {stderr}");
        }
    }
}

#[test]
fn a_bad_rule_is_named_and_the_others_apply() {
    let (seen, stderr) = filters("glibc", &[("KEEPALIVE_ONLY", "127.0.0.1, 10.0.0.0/33, [::1")]);
    assert_eq!(seen, expect(false, "ade", "abde"));
    assert_eq!(
        stderr,
        "libkeepalive: ignoring \"10.0.0.0/33\" in KEEPALIVE_ONLY: expected an address, a CIDR prefix or a port, like 10.0.0.0/8, 192.168.1.5:5432, [2001:db8::/32]:443, :6379\n\
         libkeepalive: ignoring \"[::1\" in KEEPALIVE_ONLY: expected an address, a CIDR prefix or a port, like 10.0.0.0/8, 192.168.1.5:5432, [2001:db8::/32]:443, :6379\n"
    );
}

#[test]
fn too_many_rules_is_an_error_not_a_silent_cut() {
    let many: Vec<String> = (1..=17).map(|port| format!(":{port}")).collect();
    let (_, stderr) = filters("glibc", &[("KEEPALIVE_SKIP", &many.join(","))]);
    assert_eq!(stderr, "libkeepalive: KEEPALIVE_SKIP has more than 16 entries; ignoring \":17\" and the rest\n");
}

#[test]
fn a_bad_side_is_named() {
    let (seen, stderr) = filters("glibc", &[("KEEPALIVE_SIDE", "upstream")]);
    assert_eq!(seen, expect(true, "abcde", "abcde"));
    assert_eq!(stderr, "libkeepalive: ignoring KEEPALIVE_SIDE=\"upstream\": expected both, client or server\n");
}

#[test]
fn force_keeps_the_operators_values() {
    for libc in LIBCS {
        for (force, expect) in [(None, "0"), (Some("1"), "1"), (Some("off"), "0")] {
            let mut command = preloaded(c_program(libc, "scenarios"));
            command.arg("force").env("KEEPALIVE_IDLE", "20").env("EXPECT_IDLE", "20").env("EXPECT_FORCED", expect);
            if let Some(force) = force {
                command.env("KEEPALIVE_FORCE", force);
            }
            let output = command.output().unwrap();
            assert!(output.status.success(), "{libc} KEEPALIVE_FORCE={force:?}: {}", describe(&output));
            assert!(output.stderr.is_empty(), "{}", describe(&output));
        }
    }
}

/// Refused calls under every mode that reads the program's arguments or answers `setsockopt`: the
/// kernel's -1 and errno each time, no crash on an invalid pointer, no change on EISCONN.
#[test]
fn refused_calls_are_the_kernels_in_every_mode() {
    let modes: [&[(&str, &str)]; 6] = [
        &[("KEEPALIVE_FORCE", "1"), ("KEEPALIVE_IDLE", "20")],
        &[("KEEPALIVE_SIDE", "client")],
        &[("KEEPALIVE_SIDE", "server")],
        &[("KEEPALIVE_ONLY", "127.0.0.0/8")],
        &[("KEEPALIVE_SKIP", ":1")],
        &[("KEEPALIVE_FORCE", "1"), ("KEEPALIVE_ONLY", "127.0.0.1"), ("KEEPALIVE_IDLE", "20")],
    ];
    for libc in LIBCS {
        for mode in modes {
            let output =
                preloaded(c_program(libc, "scenarios")).arg("refusals").envs(mode.iter().copied()).output().unwrap();
            assert!(output.status.success(), "{libc} {mode:?}: {}", describe(&output));
            assert!(output.stderr.is_empty(), "{libc} {mode:?}: {}", describe(&output));
        }
    }
}

/// A socket that got a closed socket's descriptor number without passing through the library
/// (dup2 here; recvmsg or a raw system call alike), with its own idle time, is not taken for the
/// one the library configured: force mode puts the operator's value on it at connect() and on
/// the sockets a listener on such a number accepts.
#[test]
fn force_tells_a_new_socket_on_an_old_number_apart() {
    for libc in LIBCS {
        for (force, expect) in [(None, "0"), (Some("1"), "1")] {
            let mut command = preloaded(c_program(libc, "scenarios"));
            command.arg("stale_numbers").envs([
                ("KEEPALIVE_IDLE", "20"),
                ("EXPECT_IDLE", "20"),
                ("EXPECT_FORCED", expect),
            ]);
            if let Some(force) = force {
                command.env("KEEPALIVE_FORCE", force);
            }
            let output = command.output().unwrap();
            assert!(output.status.success(), "{libc} KEEPALIVE_FORCE={force:?}: {}", describe(&output));
        }
    }
}

/// The options go on before the SYN, in every mode, so that a user timeout bounds a blocking
/// connect() to a peer that never answers; measured against a listener whose queue is full.
#[test]
fn user_timeout_bounds_the_handshake_in_every_mode() {
    let modes: [&[(&str, &str)]; 5] = [
        &[],
        &[("RAW", "1")],
        &[("KEEPALIVE_ONLY", "127.0.0.1")],
        &[("KEEPALIVE_SIDE", "client"), ("RAW", "1")],
        &[("KEEPALIVE_FORCE", "1")],
    ];
    for mode in modes {
        let output = preloaded(c_program("glibc", "scenarios"))
            .arg("syn_timeout")
            .envs([("KEEPALIVE_USER_TIMEOUT", "1s"), ("EXPECT_USER_TIMEOUT", "1000")])
            .envs(mode.iter().copied())
            .output()
            .unwrap();
        assert!(output.status.success(), "{mode:?}: {}", describe(&output));
        report(&format!("{mode:?}: {}", text(&output.stdout).lines().next().unwrap_or_default()));
    }
}

/// The same with peer rules from a thread, after the main thread exited: the library reads the
/// address by thread id, since the process id then names a thread that is gone.
#[test]
fn user_timeout_bounds_the_handshake_after_the_main_thread_exits() {
    let output = preloaded(c_program("glibc", "scenarios"))
        .arg("syn_timeout_after_main_exits")
        .envs([("KEEPALIVE_USER_TIMEOUT", "1s"), ("EXPECT_USER_TIMEOUT", "1000"), ("KEEPALIVE_ONLY", "127.0.0.1")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
}

#[test]
fn force_says_what_it_kept() {
    let output = preloaded(c_program("glibc", "scenarios"))
        .arg("force")
        .envs([("KEEPALIVE_IDLE", "20"), ("EXPECT_IDLE", "20"), ("EXPECT_FORCED", "1")])
        .envs([("KEEPALIVE_FORCE", "1"), ("KEEPALIVE_DEBUG", "1")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("setsockopt(): SO_KEEPALIVE changed back, KEEPALIVE_FORCE keeps keepalive on"), "{stderr}");
    // Turned off twice, then on: the last call set the value force mode keeps.
    assert_eq!(stderr.matches("SO_KEEPALIVE changed back").count(), 2, "{stderr}");
    assert!(
        stderr.contains("setsockopt(): SO_KEEPALIVE set to the value KEEPALIVE_FORCE keeps, keepalive on"),
        "{stderr}"
    );
    assert!(stderr.contains("setsockopt(): TCP_KEEPIDLE changed back, KEEPALIVE_FORCE keeps idle 20s"), "{stderr}");
    assert!(!stderr.contains("TCP_KEEPINTVL changed back"), "not configured, so not held: {stderr}");
}

#[test]
fn without_force_the_program_turning_keepalive_off_keeps_its_timers() {
    let output = preloaded(c_program("glibc", "scenarios"))
        .arg("force")
        .envs([("KEEPALIVE_IDLE", "20"), ("KEEPALIVE_DEBUG", "1")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("tcp connect(): keepalive on, idle kept as the program set it"), "{stderr}");
}

/// The old libraries' names, read with the same rules as ours, when ours are unset.
#[test]
fn legacy_variables() {
    let cases: [(Environment, Environment); 9] = [
        (
            &[("KEEPIDLE", "30"), ("KEEPINTVL", "6"), ("KEEPCNT", "4")],
            &[("EXPECT_IDLE", "30"), ("EXPECT_INTVL", "6"), ("EXPECT_CNT", "4")],
        ),
        (
            &[("DD_TCP_KEEPALIVE_TIME", "60"), ("DD_TCP_KEEPALIVE_INTVL", "30"), ("DD_TCP_KEEPALIVE_PROBES", "45")],
            &[("EXPECT_IDLE", "60"), ("EXPECT_INTVL", "30"), ("EXPECT_CNT", "45")],
        ),
        (&[("KEEPALIVE", "off"), ("KEEPIDLE", "30")], &[("EXPECT_KEEPALIVE", "0")]),
        (&[("DD_USE_KEEPALIVE", "0"), ("DD_TCP_KEEPALIVE_TIME", "60")], &[("EXPECT_KEEPALIVE", "0")]),
        (
            &[
                ("KEEPALIVE_IDLE", "20"),
                ("KEEPIDLE", "30"),
                ("DD_TCP_KEEPALIVE_TIME", "60"),
                ("KEEPALIVE_COUNT", "5"),
                ("KEEPCNT", "7"),
            ],
            &[("EXPECT_IDLE", "20"), ("EXPECT_CNT", "5")],
        ),
        (&[("KEEPIDLE", "30"), ("DD_TCP_KEEPALIVE_TIME", "60")], &[("EXPECT_IDLE", "30")]),
        // msantos/libkeepalive's names; its TCP_USER_TIMEOUT counts milliseconds.
        (
            &[("TCP_KEEPIDLE", "15"), ("TCP_KEEPINTVL", "7"), ("TCP_KEEPCNT", "9"), ("TCP_USER_TIMEOUT", "150000")],
            &[("EXPECT_IDLE", "15"), ("EXPECT_INTVL", "7"), ("EXPECT_CNT", "9"), ("EXPECT_USER_TIMEOUT", "150000")],
        ),
        (
            &[
                ("KEEPALIVE_USER_TIMEOUT", "2"),
                ("TCP_USER_TIMEOUT", "5000"),
                ("KEEPIDLE", "40"),
                ("TCP_KEEPIDLE", "15"),
            ],
            &[("EXPECT_USER_TIMEOUT", "2000"), ("EXPECT_IDLE", "40")],
        ),
        (&[("KEEPALIVE", "off"), ("TCP_KEEPIDLE", "15")], &[("EXPECT_KEEPALIVE", "0")]),
    ];
    for libc in LIBCS {
        for (environment, expect) in cases {
            let output = preloaded(c_program(libc, "scenarios"))
                .arg("ipv4")
                .envs(environment.iter().copied())
                .envs(expect.iter().copied())
                .output()
                .unwrap();
            assert!(output.status.success(), "{libc} {environment:?}: {}", describe(&output));
            assert!(output.stderr.is_empty(), "{libc} {environment:?}: {}", describe(&output));
        }
    }
}

#[test]
fn legacy_debug_names_turn_debug_lines_on() {
    for name in ["DD_DEBUG", "LIBKEEPALIVE_DEBUG"] {
        let output = preloaded(c_program("glibc", "scenarios")).arg("ipv4").env(name, "1").output().unwrap();
        assert!(output.status.success(), "{name}: {}", describe(&output));
        assert!(text(&output.stderr).contains("]: loaded: libkeepalive version "), "{name}: {}", describe(&output));
    }
}

/// msantos/libkeepalive's -1 ("derive the user timeout") is not ours: named, ignored, the rest applies.
#[test]
fn a_bad_msantos_user_timeout_is_named_in_milliseconds() {
    let output = preloaded(c_program("glibc", "scenarios"))
        .arg("ipv4")
        .envs([("TCP_USER_TIMEOUT", "-1"), ("TCP_KEEPIDLE", "15"), ("EXPECT_IDLE", "15")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        "libkeepalive: ignoring TCP_USER_TIMEOUT=\"-1\": \
         expected milliseconds (30000) or a duration (30s, 2m) up to 2147483647ms\n"
    );
}

#[test]
fn a_bad_legacy_value_is_named_by_its_own_name() {
    let output = preloaded(c_program("glibc", "scenarios")).arg("ipv4").env("KEEPCNT", "lots").output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        "libkeepalive: ignoring KEEPCNT=\"lots\": expected a whole number of probes from 1 to 127\n"
    );
}

/// A raw socket with protocol IPPROTO_TCP is not TCP: SO_PROTOCOL says 6, SO_TYPE says SOCK_RAW.
/// Keepalive stays off through connect() in every mode, and no debug line calls it tcp.
#[test]
fn raw_tcp_sockets_are_not_tcp_in_any_mode() {
    let modes: [&[(&str, &str)]; 7] = [
        &[],
        &[("KEEPALIVE_IDLE", "20")],
        &[("KEEPALIVE_FORCE", "1"), ("KEEPALIVE_IDLE", "20")],
        &[("KEEPALIVE_ONLY", "127.0.0.0/8,::1")],
        &[("KEEPALIVE_SKIP", "10.0.0.0/8")],
        &[("KEEPALIVE_SIDE", "client")],
        &[("KEEPALIVE_FORCE", "1"), ("KEEPALIVE_ONLY", "127.0.0.1")],
    ];
    for libc in LIBCS {
        for mode in modes {
            let output = preloaded(c_program(libc, "scenarios"))
                .arg("raw_tcp")
                .env("KEEPALIVE_DEBUG", "1")
                .envs(mode.iter().copied())
                .output()
                .unwrap();
            if output.status.code() == Some(77) {
                println!("SKIPPED: {}", text(&output.stdout));
                return;
            }
            assert!(output.status.success(), "{libc} {mode:?}: {}", describe(&output));
            let stderr = text(&output.stderr);
            assert!(!stderr.contains(" connect(): "), "{libc} {mode:?}: a raw socket described as TCP:\n{stderr}");
        }
    }
}

/// `KEEPALIVE_ONLY` or `_SKIP` without one valid rule counts as unset: every connection gets
/// keepalive, and one line names the variable. The command refuses the same values as options.
#[test]
fn rules_without_one_valid_rule_count_as_unset() {
    const RULES_EXPECTED: &str =
        "expected an address, a CIDR prefix or a port, like 10.0.0.0/8, 192.168.1.5:5432, [2001:db8::/32]:443, :6379";
    for name in ["KEEPALIVE_ONLY", "KEEPALIVE_SKIP"] {
        for value in ["", " ", ",", "garbage", "10.0.0.0/33", "127.0.0.1:99999"] {
            let (seen, stderr) = filters("glibc", &[(name, value)]);
            assert_eq!(seen, expect(true, "abcde", "abcde"), "{name}={value:?}");
            assert_eq!(stderr, format!("libkeepalive: ignoring {name}=\"{value}\": {RULES_EXPECTED}\n"));
            let option = if name == "KEEPALIVE_ONLY" { "--only" } else { "--skip" };
            let command = Command::new(command_path()).args([option, value, "--print-env"]).output().unwrap();
            assert_eq!(command.status.code(), Some(2), "keepalive {option} {value:?}: {}", describe(&command));
        }
    }
    let (seen, stderr) = filters("glibc", &[("KEEPALIVE_ONLY", "garbage, 127.0.0.2")]);
    assert_eq!(seen, expect(false, "b", ""), "the valid rule applies");
    assert_eq!(stderr, format!("libkeepalive: ignoring \"garbage\" in KEEPALIVE_ONLY: {RULES_EXPECTED}\n"));
}
