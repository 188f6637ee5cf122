//! The environment as operators write it, read by the real library in a real process: one clear
//! line per bad variable, nothing at all for a valid configuration, and the program unharmed.

mod common;
use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Output;

fn run_ipv4(environment: &[(&str, &OsStr)], expect: &[(&str, &str)]) -> Output {
    preloaded(c_program("glibc", "scenarios"))
        .arg("ipv4")
        .envs(environment.iter().copied())
        .envs(expect.iter().copied())
        .output()
        .unwrap()
}

const IDLE_EXPECTED: &str = "expected seconds (20) or a duration (20s, 5m, 1h) from 1s to 32767s";

#[test]
fn every_kind_of_bad_value_gets_one_line_and_changes_nothing() {
    let long = "7".repeat(100_000);
    let bad: [(&str, &[u8], &str); 13] = [
        ("empty", b"", r#""""#),
        ("words", b"twenty", r#""twenty""#),
        ("zero", b"0", r#""0""#),
        ("negative", b"-20", r#""-20""#),
        ("out of range", b"32768", r#""32768""#),
        ("30 digits", b"123456789012345678901234567890", r#""123456789012345678901234567890""#),
        ("a fraction", b"1.5s", r#""1.5s""#),
        ("milliseconds for a whole-seconds option", b"500ms", r#""500ms""#),
        ("trailing junk", b"20s;rm", r#""20s;rm""#),
        ("an unknown unit", b"20d", r#""20d""#),
        ("non-UTF-8 bytes", b"2\xff0", r#""2\xff0""#),
        ("a control character inside", b"2\x010", r#""2\x010""#),
        ("100000 characters", long.as_bytes(), ""),
    ];
    for (what, value, shown) in bad {
        let output = run_ipv4(
            &[("KEEPALIVE_IDLE", OsStr::from_bytes(value)), ("KEEPALIVE_CNT", OsStr::new("4"))],
            &[("EXPECT_CNT", "4")],
        );
        assert!(output.status.success(), "{what}: {}", describe(&output));
        let stderr = text(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{what}: exactly one line\n{stderr}");
        let line = stderr.lines().next().unwrap();
        assert!(line.starts_with("libkeepalive: ignoring KEEPALIVE_IDLE="), "{what}: {line}");
        assert!(line.ends_with(&format!(": {IDLE_EXPECTED}")), "{what}: {line}");
        if !shown.is_empty() {
            assert_eq!(line, format!("libkeepalive: ignoring KEEPALIVE_IDLE={shown}: {IDLE_EXPECTED}"));
        }
        assert!(line.len() < 250, "{what}: one short line, {} bytes", line.len());
    }
}

#[test]
fn the_long_value_is_quoted_short_with_its_length() {
    let long = "7".repeat(100_000);
    let output = run_ipv4(&[("KEEPALIVE_IDLE", OsStr::new(&long))], &[]);
    let expected =
        format!("libkeepalive: ignoring KEEPALIVE_IDLE=\"{}...\" (100000 bytes): {IDLE_EXPECTED}\n", "7".repeat(64));
    assert_eq!(text(&output.stderr), expected);
}

#[test]
fn each_variable_names_what_it_accepts() {
    let cases = [
        ("KEEPALIVE", "maybe", "expected on or off (also 1/0, yes/no, true/false)"),
        ("KEEPALIVE_INTVL", "0", "expected seconds (5) or a duration (5s, 1m) from 1s to 32767s"),
        ("KEEPALIVE_INTERVAL", "soon", "expected seconds (5) or a duration (5s, 1m) from 1s to 32767s"),
        ("KEEPALIVE_CNT", "128", "expected a whole number of probes from 1 to 127"),
        ("KEEPALIVE_COUNT", "3s", "expected a whole number of probes from 1 to 127"),
        (
            "KEEPALIVE_USER_TIMEOUT",
            "2147484s",
            "expected seconds (30) or a duration (30s, 1500ms, 2m) from 0 to 2147483647ms",
        ),
        ("KEEPALIVE_DEBUG", "verbose", "expected on or off (also 1/0, yes/no, true/false)"),
    ];
    for (name, value, expected) in cases {
        let output = run_ipv4(&[(name, OsStr::new(value))], &[]);
        assert!(output.status.success(), "{name}: {}", describe(&output));
        assert_eq!(text(&output.stderr), format!("libkeepalive: ignoring {name}=\"{value}\": {expected}\n"));
    }
}

#[test]
fn several_bad_variables_one_line_each_and_the_valid_ones_apply() {
    let output = run_ipv4(
        &[
            ("KEEPALIVE_IDLE", OsStr::new("x")),
            ("KEEPALIVE_INTVL", OsStr::new("7")),
            ("KEEPALIVE_CNT", OsStr::new("0")),
            ("KEEPALIVE_USER_TIMEOUT", OsStr::new("2500ms")),
        ],
        &[("EXPECT_INTVL", "7"), ("EXPECT_USER_TIMEOUT", "2500")],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("libkeepalive: ignoring KEEPALIVE_IDLE=\"x\""));
    assert!(lines[1].starts_with("libkeepalive: ignoring KEEPALIVE_CNT=\"0\""));
}

#[test]
fn differing_spellings_warn_and_the_short_one_wins() {
    let output =
        run_ipv4(&[("KEEPALIVE_CNT", OsStr::new("3")), ("KEEPALIVE_COUNT", OsStr::new("9"))], &[("EXPECT_CNT", "3")]);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        "libkeepalive: KEEPALIVE_CNT=\"3\" and KEEPALIVE_COUNT=\"9\" differ; using KEEPALIVE_CNT=\"3\"\n"
    );
}

#[test]
fn a_valid_configuration_prints_nothing() {
    for libc in LIBCS {
        let output = preloaded(c_program(libc, "scenarios"))
            .arg("ipv6")
            .envs([("KEEPALIVE", "on"), ("KEEPALIVE_IDLE", "5m"), ("KEEPALIVE_INTERVAL", "10s")])
            .envs([("KEEPALIVE_COUNT", "5"), ("KEEPALIVE_USER_TIMEOUT", "1m"), ("KEEPALIVE_DEBUG", "off")])
            .envs([
                ("EXPECT_IDLE", "300"),
                ("EXPECT_INTVL", "10"),
                ("EXPECT_CNT", "5"),
                ("EXPECT_USER_TIMEOUT", "60000"),
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{libc}: {}", describe(&output));
        assert!(output.stderr.is_empty(), "{libc}: {}", describe(&output));
    }
}

#[test]
fn debug_lines_show_load_and_each_decision() {
    let output = run_ipv4(
        &[
            ("KEEPALIVE_DEBUG", OsStr::new("1")),
            ("KEEPALIVE_IDLE", OsStr::new("20")),
            ("KEEPALIVE_INTVL", OsStr::new("5")),
            ("KEEPALIVE_CNT", OsStr::new("3")),
        ],
        &[("EXPECT_IDLE", "20"), ("EXPECT_INTVL", "5"), ("EXPECT_CNT", "3")],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let prefix = format!("libkeepalive[{}]: ", pid_in(lines[0]));
    assert!(lines.iter().all(|line| line.starts_with(&prefix)), "{stderr}");
    let bodies: Vec<&str> = lines.iter().map(|line| &line[prefix.len()..]).collect();
    assert_eq!(
        bodies[0],
        concat!(
            "loaded: libkeepalive version ",
            env!("CARGO_PKG_VERSION"),
            ", keepalive on, idle 20s, intvl 5s, cnt 3, user timeout untouched"
        )
    );
    assert!(bodies.contains(&"fd 4 tcp socket(): keepalive on, idle 20s, intvl 5s, cnt 3"), "{stderr}");
    assert!(bodies.contains(&"fd 4 tcp connect(): keepalive already on, left as it is"), "{stderr}");
    assert!(bodies.iter().all(|body| !body.contains("failed")), "{stderr}");
}

#[test]
fn debug_names_sockets_left_alone_and_keepalive_off() {
    let output =
        preloaded(c_program("glibc", "scenarios")).arg("untouched").env("KEEPALIVE_DEBUG", "yes").output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(text(&output.stderr).contains("socket(): not TCP, untouched"), "{}", describe(&output));

    let output = run_ipv4(
        &[("KEEPALIVE_DEBUG", OsStr::new("on")), ("KEEPALIVE", OsStr::new("off"))],
        &[("EXPECT_KEEPALIVE", "0")],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "only the load line: {stderr}");
    assert!(stderr.ends_with(", keepalive off (KEEPALIVE), every call forwarded untouched\n"), "{stderr}");
    assert!(stderr.contains("]: loaded: libkeepalive version "), "{stderr}");
}

#[test]
fn debug_lines_stay_out_of_a_reused_descriptor_2() {
    // A daemon closes stderr, then its next socket gets descriptor 2. Debug lines about that
    // socket's connect() and accept() must not be sent to the peer.
    let script = r#"
import os, socket
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
os.close(2)
client = socket.socket()
assert client.fileno() == 2, client.fileno()
client.connect(listener.getsockname())
accepted, _ = listener.accept()
accepted.settimeout(0.5)
try:
    received = accepted.recv(1000)
except socket.timeout:
    received = b""
print(repr(received))
"#;
    let output = preloaded(python3()).args(["-c", script]).env("KEEPALIVE_DEBUG", "1").output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(text(&output.stdout), "b''\n", "the peer received our debug lines");
    assert!(text(&output.stderr).contains("loaded:"), "lines still go to stderr while it is open");
}

fn pid_in(line: &str) -> u32 {
    line.trim_start_matches("libkeepalive[").split(']').next().unwrap().parse().unwrap()
}

/// Every name the library reads, all set at once (20, more than any other table of ours): none is
/// dropped, whatever its place in the environment, and the last in sorted order still applies.
#[test]
fn every_name_set_at_once_is_read() {
    let output = preloaded(c_program("glibc", "scenarios"))
        .arg("raw_socket_connect")
        .envs([("DD_DEBUG", "0"), ("DD_TCP_KEEPALIVE_INTVL", "6"), ("DD_TCP_KEEPALIVE_PROBES", "6")])
        .envs([("DD_TCP_KEEPALIVE_TIME", "66"), ("DD_USE_KEEPALIVE", "1"), ("KEEPALIVE", "on")])
        .envs([
            ("KEEPALIVE_CNT", "4"),
            ("KEEPALIVE_COUNT", "4"),
            ("KEEPALIVE_DEBUG", "off"),
            ("KEEPALIVE_FORCE", "off"),
        ])
        .envs([("KEEPALIVE_IDLE", "40"), ("KEEPALIVE_INTERVAL", "8"), ("KEEPALIVE_INTVL", "8")])
        .envs([("KEEPALIVE_ONLY", "127.0.0.1,::1"), ("KEEPALIVE_SIDE", "both"), ("KEEPALIVE_SKIP", ":1")])
        .envs([("KEEPALIVE_USER_TIMEOUT", "7"), ("KEEPCNT", "5"), ("KEEPIDLE", "55"), ("KEEPINTVL", "5")])
        .envs([("EXPECT_IDLE", "40"), ("EXPECT_INTVL", "8"), ("EXPECT_CNT", "4"), ("EXPECT_USER_TIMEOUT", "7000")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(output.stderr.is_empty(), "{}", describe(&output));
}

/// scripts/container-entrypoint.sh sets its three defaults only where no name of the variable is
/// set: a value given under the alias or an older library's name (`docker run -e`) is the one the
/// connection gets, as under our own name, with no conflict line in every process.
#[test]
fn the_entrypoint_scripts_defaults_yield_to_every_name_of_a_variable() {
    let defaults = [("EXPECT_IDLE", "240"), ("EXPECT_INTVL", "15"), ("EXPECT_CNT", "4")];
    let cases: [(&str, &str, (&str, &str)); 5] = [
        ("", "", ("EXPECT_IDLE", "240")),
        ("KEEPALIVE_INTVL", "30", ("EXPECT_INTVL", "30")),
        ("KEEPALIVE_INTERVAL", "30", ("EXPECT_INTVL", "30")),
        ("KEEPALIVE_COUNT", "6", ("EXPECT_CNT", "6")),
        ("KEEPIDLE", "60", ("EXPECT_IDLE", "60")),
    ];
    for (name, value, expected) in cases {
        let mut command = clean_command(root().join("scripts/container-entrypoint.sh"));
        command.env("KEEPALIVE_LIBRARY", library()).envs(defaults).env(expected.0, expected.1);
        if !name.is_empty() {
            command.env(name, value);
        }
        let output = command.arg(c_program("glibc", "scenarios")).arg("ipv4").output().unwrap();
        assert!(output.status.success(), "{name}={value}: {}", describe(&output));
        assert_eq!(text(&output.stderr), "", "{name}={value}");
    }
}
