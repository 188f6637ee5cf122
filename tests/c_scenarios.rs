//! The C scenario programs (c-tests/scenarios.c, c-tests/early.c), built against glibc and musl,
//! run under the library with many configurations. Each program reads the options back from the
//! kernel and compares them with the EXPECT_* variables given here.

mod common;
use common::*;

struct Configuration {
    name: &'static str,
    environment: &'static [(&'static str, &'static str)],
    /// What the kernel must then report; unset timers expect the system default.
    expect: &'static [(&'static str, &'static str)],
    /// The exact stderr of the library: empty for every valid configuration.
    stderr: &'static str,
}

const CONFIGURATIONS: &[Configuration] = &[
    Configuration { name: "nothing set", environment: &[], expect: &[], stderr: "" },
    Configuration {
        name: "every timer",
        environment: &[
            ("KEEPALIVE_IDLE", "20"),
            ("KEEPALIVE_INTVL", "5"),
            ("KEEPALIVE_CNT", "3"),
            ("KEEPALIVE_USER_TIMEOUT", "30"),
        ],
        expect: &[("EXPECT_IDLE", "20"), ("EXPECT_INTVL", "5"), ("EXPECT_CNT", "3"), ("EXPECT_USER_TIMEOUT", "30000")],
        stderr: "",
    },
    Configuration {
        name: "durations with units and the long spellings",
        environment: &[
            ("KEEPALIVE_IDLE", "1m30s"),
            ("KEEPALIVE_INTERVAL", "2000ms"),
            ("KEEPALIVE_COUNT", "9"),
            ("KEEPALIVE_USER_TIMEOUT", "1500ms"),
            ("KEEPALIVE", "YES"),
        ],
        expect: &[("EXPECT_IDLE", "90"), ("EXPECT_INTVL", "2"), ("EXPECT_CNT", "9"), ("EXPECT_USER_TIMEOUT", "1500")],
        stderr: "",
    },
    Configuration {
        name: "KEEPALIVE=off",
        environment: &[("KEEPALIVE", "off"), ("KEEPALIVE_IDLE", "20"), ("KEEPALIVE_USER_TIMEOUT", "5")],
        expect: &[("EXPECT_KEEPALIVE", "0")],
        stderr: "",
    },
    Configuration {
        name: "one invalid value among valid ones",
        environment: &[("KEEPALIVE_IDLE", "abc"), ("KEEPALIVE_CNT", "4")],
        expect: &[("EXPECT_CNT", "4")],
        stderr: "libkeepalive: ignoring KEEPALIVE_IDLE=\"abc\": expected seconds (20) or a duration (20s, 5m, 1h) from 1s to 32767s\n",
    },
];

/// Exit status of a scenario whose kernel feature is missing; it prints why.
const SKIPPED: i32 = 77;

fn run_everywhere(program: &str, arguments: &[&str]) {
    let mut failures = Vec::new();
    for libc in LIBCS {
        for configuration in CONFIGURATIONS {
            let output = preloaded(c_program(libc, program))
                .args(arguments)
                .envs(configuration.environment.iter().copied())
                .envs(configuration.expect.iter().copied())
                .output()
                .unwrap();
            let stdout = text(&output.stdout);
            if output.status.code() == Some(SKIPPED) {
                assert!(stdout.starts_with("SKIP "), "a skip must say why: {stdout}");
                print!("{libc}, {}: {stdout}", configuration.name);
                continue;
            }
            if !output.status.success() || text(&output.stderr) != configuration.stderr {
                failures.push(format!("{libc}, {}:\n{}", configuration.name, describe(&output)));
            }
        }
    }
    assert!(failures.is_empty(), "{program} {arguments:?} failed:\n{}", failures.join("\n"));
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            run_everywhere("scenarios", &[stringify!($name)]);
        }
    )*};
}

scenarios!(
    ipv4,
    ipv6,
    ipproto_tcp,
    mptcp,
    untouched,
    raw_socket_connect,
    accept_raw_listener,
    listener_passes_options,
    program_choice,
    errno_kept,
    failing_calls,
    refusals,
);

#[test]
fn sockets_made_in_another_librarys_constructor() {
    run_everywhere("early", &[]);
}

/// glibc runs libearly.so's constructor before ours, so the hooks really ran first: the debug
/// line says the settings were read inside socket(), before the constructor.
#[test]
fn hooks_before_our_constructor_read_the_settings_themselves() {
    let output = preloaded(c_program("glibc", "early"))
        .env("KEEPALIVE_DEBUG", "1")
        .env("KEEPALIVE_IDLE", "33")
        .env("EXPECT_IDLE", "33")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.ends_with(concat!(
            "settings read in socket(), before our constructor ran: libkeepalive version ",
            env!("CARGO_PKG_VERSION"),
            ", keepalive on, idle 33s, intvl system, cnt system, user timeout untouched"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("loaded:"), "the constructor must not read the settings again:\n{stderr}");
}

#[test]
fn every_scenario_is_run() {
    let output = clean_command(c_program("glibc", "scenarios")).output().unwrap();
    let usage = text(&output.stderr);
    let listed: Vec<&str> = usage.lines().nth(1).unwrap().trim_start_matches("scenarios:").split_whitespace().collect();
    let (here, policy) = (include_str!("c_scenarios.rs"), include_str!("policy.rs"));
    for name in listed {
        let tested = here.contains(&format!("    {name},\n")) || policy.contains(&format!(".arg(\"{name}\")"));
        assert!(tested, "scenario {name} has no test");
    }
}

/// `make c-tests` builds every C program once for each C library the README supports; each of
/// those builds is run here and by the other tests that loop over `LIBCS`, not just built.
#[test]
fn every_c_library_built_for_is_tested() {
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    let built: Vec<&str> = makefile
        .lines()
        .find_map(|line| line.strip_prefix("c-tests: $(foreach libc,"))
        .and_then(|rest| rest.split(',').next())
        .expect("the c-tests rule names the C libraries it builds for")
        .split_whitespace()
        .collect();
    assert_eq!(LIBCS.to_vec(), built, "a C library the C tests are built for is never run");
}
