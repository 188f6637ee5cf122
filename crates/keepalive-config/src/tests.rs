extern crate std;

use super::*;
use std::vec::Vec;

fn settings_and_problems(env: &[(&'static str, &'static [u8])]) -> (Settings, Vec<Problem<'static>>) {
    let mut problems = Vec::new();
    let settings = from_env(
        |name| env.iter().find(|(key, _)| key.as_bytes() == name.to_bytes()).map(|&(_, value)| value),
        |problem| problems.push(problem),
    );
    (settings, problems)
}

fn invalid(name: &'static CStr, value: &'static [u8], variable: &Variable) -> Problem<'static> {
    Problem::Invalid { name, value, expected: variable.expected }
}

#[test]
fn nothing_set_means_keepalive_on_with_system_timers() {
    let (settings, problems) = settings_and_problems(&[]);
    assert_eq!(settings, Settings::DEFAULT);
    assert!(settings.enabled && !settings.debug);
    assert_eq!((settings.idle, settings.interval, settings.count, settings.user_timeout_ms), (None, None, None, None));
    assert!(problems.is_empty());
}

#[test]
fn every_variable_read() {
    let (settings, problems) = settings_and_problems(&[
        ("KEEPALIVE", b"on"),
        ("KEEPALIVE_IDLE", b"20"),
        ("KEEPALIVE_INTVL", b"5s"),
        ("KEEPALIVE_CNT", b"3"),
        ("KEEPALIVE_USER_TIMEOUT", b"1m30s"),
        ("KEEPALIVE_DEBUG", b"1"),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        settings,
        Settings {
            enabled: true,
            debug: true,
            idle: Some(20),
            interval: Some(5),
            count: Some(3),
            user_timeout_ms: Some(90_000),
            ..Settings::DEFAULT
        }
    );
}

#[test]
fn keepalive_off_in_any_spelling() {
    for off in [&b"off"[..], b"0", b"no", b"false", b"OFF", b"False"] {
        let (settings, problems) = settings_and_problems(&[("KEEPALIVE", off)]);
        assert!(!settings.enabled);
        assert!(problems.is_empty());
    }
}

#[test]
fn seconds_boundaries() {
    for variable in [&IDLE, &INTERVAL] {
        assert_eq!(variable.parse(b"1"), Some(1));
        assert_eq!(variable.parse(b"32767"), Some(32767));
        assert_eq!(variable.parse(b"32767s"), Some(32767));
        assert_eq!(variable.parse(b"9h6m7s"), Some(32767));
        assert_eq!(variable.parse(b"1000ms"), Some(1));
        assert_eq!(variable.parse(b"2000ms"), Some(2));
        for bad in [&b"0"[..], b"0s", b"32768", b"9h6m8s", b"500ms", b"1500ms", b"1.5s", b"-1", b"", b"abc", b"20x"] {
            assert_eq!(variable.parse(bad), None, "{}", std::str::from_utf8(bad).unwrap());
        }
    }
}

#[test]
fn count_boundaries() {
    assert_eq!(COUNT.parse(b"1"), Some(1));
    assert_eq!(COUNT.parse(b"127"), Some(127));
    for bad in [&b"0"[..], b"128", b"-1", b"3s", b"", b"1e2", b"4294967297"] {
        assert_eq!(COUNT.parse(bad), None);
    }
}

#[test]
fn user_timeout_boundaries() {
    assert_eq!(USER_TIMEOUT.parse(b"0"), Some(0));
    assert_eq!(USER_TIMEOUT.parse(b"0ms"), Some(0));
    assert_eq!(USER_TIMEOUT.parse(b"1ms"), Some(1));
    assert_eq!(USER_TIMEOUT.parse(b"30"), Some(30_000), "a bare number is seconds");
    assert_eq!(USER_TIMEOUT.parse(b"1500ms"), Some(1500));
    assert_eq!(USER_TIMEOUT.parse(b"2147483647ms"), Some(2_147_483_647));
    assert_eq!(USER_TIMEOUT.parse(b"2147483648ms"), None);
    assert_eq!(USER_TIMEOUT.parse(b"2147483"), Some(2_147_483_000));
    assert_eq!(USER_TIMEOUT.parse(b"2147484"), None);
    assert_eq!(USER_TIMEOUT.parse(b"-1"), None);
}

#[test]
fn each_bad_value_reported_once_and_the_rest_applies() {
    let long = std::vec![b'7'; 100_000].leak();
    let env: [(&str, &'static [u8]); 6] = [
        ("KEEPALIVE", b"maybe"),
        ("KEEPALIVE_IDLE", b"abc"),
        ("KEEPALIVE_INTVL", b"\xff\xfe"),
        ("KEEPALIVE_CNT", b"3"),
        ("KEEPALIVE_USER_TIMEOUT", long),
        ("KEEPALIVE_DEBUG", b"loud"),
    ];
    let (settings, problems) = settings_and_problems(&env);
    assert_eq!(
        problems,
        [
            invalid(c"KEEPALIVE", b"maybe", &ENABLED),
            invalid(c"KEEPALIVE_IDLE", b"abc", &IDLE),
            invalid(c"KEEPALIVE_INTVL", b"\xff\xfe", &INTERVAL),
            invalid(c"KEEPALIVE_USER_TIMEOUT", long, &USER_TIMEOUT),
            invalid(c"KEEPALIVE_DEBUG", b"loud", &DEBUG),
        ]
    );
    assert_eq!(settings, Settings { count: Some(3), ..Settings::DEFAULT });
}

#[test]
fn every_listed_bad_input_is_rejected_for_every_duration() {
    let bad: [&[u8]; 12] = [
        b"",
        b"abc",
        b"0",
        b"-5",
        b"99999999",
        b"123456789012345678901234567890",
        b"1.5s",
        b"500ms",
        b"20s junk",
        b"20junk",
        b"\xc3\x28",
        b"\x80",
    ];
    for value in bad {
        for variable in [&IDLE, &INTERVAL] {
            assert_eq!(variable.parse(value), None, "{:?} {:?}", variable.name, value);
        }
    }
}

#[test]
fn aliases_are_read() {
    let (settings, problems) = settings_and_problems(&[("KEEPALIVE_INTERVAL", b"7"), ("KEEPALIVE_COUNT", b"4")]);
    assert!(problems.is_empty());
    assert_eq!((settings.interval, settings.count), (Some(7), Some(4)));
}

#[test]
fn both_spellings_equal_is_no_conflict() {
    let (settings, problems) = settings_and_problems(&[("KEEPALIVE_INTVL", b"60"), ("KEEPALIVE_INTERVAL", b"1m")]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(settings.interval, Some(60));
}

#[test]
fn both_spellings_differ_short_one_wins_with_a_warning() {
    let (settings, problems) = settings_and_problems(&[("KEEPALIVE_CNT", b"3"), ("KEEPALIVE_COUNT", b"9")]);
    assert_eq!(settings.count, Some(3));
    assert_eq!(
        problems,
        [Problem::Conflict {
            used: c"KEEPALIVE_CNT",
            used_value: b"3",
            ignored: c"KEEPALIVE_COUNT",
            ignored_value: b"9",
        }]
    );
}

#[test]
fn invalid_short_spelling_falls_back_to_a_valid_long_one() {
    let (settings, problems) = settings_and_problems(&[("KEEPALIVE_INTVL", b"fast"), ("KEEPALIVE_INTERVAL", b"2")]);
    assert_eq!(settings.interval, Some(2));
    assert_eq!(problems, [invalid(c"KEEPALIVE_INTVL", b"fast", &INTERVAL)]);
}

#[test]
fn invalid_long_spelling_is_reported_too() {
    let (settings, problems) = settings_and_problems(&[("KEEPALIVE_CNT", b"5"), ("KEEPALIVE_COUNT", b"500")]);
    assert_eq!(settings.count, Some(5));
    assert_eq!(problems, [invalid(c"KEEPALIVE_COUNT", b"500", &COUNT)]);
}

#[test]
fn is_name_knows_every_name_and_nothing_else() {
    for name in NAMES {
        assert!(is_name(name.to_bytes()), "{name:?}");
    }
    for other in
        [&b""[..], b"KEEP", b"KEEPALIVE_", b"KEEPALIVE_IDL", b"KEEPALIVE_IDLE2", b"DD_", b"DD_SERVICE", b"keepalive"]
    {
        assert!(!is_name(other), "{other:?}");
    }
}

#[test]
fn the_packed_table_reads_as_the_variables_read() {
    assert_eq!(packed::PACKED.len(), VARIABLES.len());
    for (packed, variable) in packed::PACKED.iter().zip(VARIABLES) {
        assert_eq!(packed::name(packed.name()), variable.name);
        assert_eq!(packed.alias().map(packed::name), variable.alias);
        assert_eq!(packed.legacy().map(packed::name).collect::<Vec<_>>(), variable.legacy, "{:?}", variable.name);
        assert_eq!(packed.expected(), variable.expected, "{:?}", variable.name);
        assert_eq!(packed.legacy_expected(), variable.legacy_expected(), "{:?}", variable.name);
        assert_eq!(std::format!("{:?}", packed.kind), std::format!("{:?}", variable.kind));
    }
    assert_eq!(packed::names().collect::<Vec<_>>(), NAMES);
}

#[test]
fn every_variable_is_listed_once_with_a_message() {
    let mut all: Vec<&CStr> = NAMES.to_vec();
    assert_eq!(all.len(), 25);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 25, "no name is read for two settings");
    for variable in VARIABLES {
        assert!(variable.expected.starts_with("expected "), "{:?}", variable.name);
    }
}

#[test]
fn legacy_names_apply_when_ours_are_unset() {
    let (settings, problems) =
        settings_and_problems(&[("KEEPIDLE", b"30"), ("KEEPINTVL", b"6"), ("KEEPCNT", b"4"), ("DD_DEBUG", b"1")]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!((settings.idle, settings.interval, settings.count, settings.debug), (Some(30), Some(6), Some(4), true));

    let (settings, problems) = settings_and_problems(&[
        ("DD_TCP_KEEPALIVE_TIME", b"60"),
        ("DD_TCP_KEEPALIVE_INTVL", b"30"),
        ("DD_TCP_KEEPALIVE_PROBES", b"45"),
        ("DD_USE_KEEPALIVE", b"0"),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        (settings.idle, settings.interval, settings.count, settings.enabled),
        (Some(60), Some(30), Some(45), false)
    );
}

#[test]
fn ours_win_over_legacy_names() {
    let (settings, problems) = settings_and_problems(&[
        ("KEEPALIVE_IDLE", b"20"),
        ("KEEPIDLE", b"99"),
        ("DD_TCP_KEEPALIVE_TIME", b"98"),
        ("KEEPALIVE_COUNT", b"5"),
        ("KEEPCNT", b"7"),
        ("KEEPALIVE", b"on"),
        ("DD_USE_KEEPALIVE", b"0"),
    ]);
    assert!(problems.is_empty(), "legacy values are not even read: {problems:?}");
    assert_eq!((settings.idle, settings.count, settings.enabled), (Some(20), Some(5), true));
}

#[test]
fn libkeepalive_takes_precedence_over_libdontdie_and_bad_legacy_values_are_named() {
    let (settings, problems) = settings_and_problems(&[("KEEPIDLE", b"40"), ("DD_TCP_KEEPALIVE_TIME", b"50")]);
    assert_eq!(settings.idle, Some(40));
    assert!(problems.is_empty());
    let (settings, problems) = settings_and_problems(&[("DD_TCP_KEEPALIVE_PROBES", b"lots")]);
    assert_eq!(settings.count, None);
    assert_eq!(problems, [invalid(c"DD_TCP_KEEPALIVE_PROBES", b"lots", &COUNT)]);
}

#[test]
fn force_side_and_rules() {
    let (settings, problems) = settings_and_problems(&[
        ("KEEPALIVE_FORCE", b"1"),
        ("KEEPALIVE_SIDE", b"Client"),
        ("KEEPALIVE_ONLY", b"10.0.0.0/8, :5432"),
        ("KEEPALIVE_SKIP", b"10.9.0.0/16"),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(settings.force && settings.selective());
    assert_eq!(settings.side, Side::Client);
    assert!(settings.selects(&Peer::v4([10, 1, 1, 1], 80)));
    assert!(settings.selects(&Peer::v4([192, 168, 0, 1], 5432)));
    assert!(!settings.selects(&Peer::v4([10, 9, 1, 1], 80)), "skipped");
    assert!(!settings.selects(&Peer::v4([192, 168, 0, 1], 80)), "not in only");
    assert!(Settings::DEFAULT.selects(&Peer::v4([1, 1, 1, 1], 1)) && !Settings::DEFAULT.selective());
}

#[test]
fn bad_rules_and_sides_are_named() {
    let (settings, problems) =
        settings_and_problems(&[("KEEPALIVE_ONLY", b"10.0.0.0/8,nonsense"), ("KEEPALIVE_SIDE", b"left")]);
    assert_eq!(
        problems,
        [
            invalid(c"KEEPALIVE_SIDE", b"left", &SIDE),
            Problem::InvalidEntry { name: c"KEEPALIVE_ONLY", entry: b"nonsense", expected: ONLY.expected },
        ]
    );
    assert_eq!(settings.only.rules().len(), 1);
    assert_eq!(settings.side, Side::Both);
    let many = (1..=17).map(|port| std::format!(":{port}")).collect::<Vec<_>>().join(",").leak();
    let (settings, problems) = settings_and_problems(&[("KEEPALIVE_SKIP", many.as_bytes())]);
    assert_eq!(problems, [Problem::TooManyEntries { name: c"KEEPALIVE_SKIP", first_ignored: b":17" }]);
    assert_eq!(settings.skip.rules().len(), MAX_RULES);
}

#[test]
fn variable_parse_covers_every_kind() {
    assert_eq!(SIDE.parse(b"server"), Some(Side::Server as u32));
    assert_eq!(ONLY.parse(b"10.0.0.0/8,:22"), Some(2));
    assert_eq!(ONLY.parse(b"10.0.0.0/8,x"), None);
    assert_eq!(FORCE.parse(b"yes"), Some(1));
}

#[test]
fn msantos_libkeepalive_names_apply_when_ours_are_unset() {
    let (settings, problems) = settings_and_problems(&[
        ("TCP_KEEPIDLE", b"15"),
        ("TCP_KEEPINTVL", b"7"),
        ("TCP_KEEPCNT", b"9"),
        ("TCP_USER_TIMEOUT", b"150000"),
        ("LIBKEEPALIVE_DEBUG", b"1"),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        (settings.idle, settings.interval, settings.count, settings.user_timeout_ms, settings.debug),
        (Some(15), Some(7), Some(9), Some(150_000), true)
    );
    // A bare TCP_USER_TIMEOUT is milliseconds there; with a unit it means what it says.
    for (text, ms) in [(&b"1500"[..], 1500), (b" 0 ", 0), (b"30s", 30_000), (b"1m 500ms", 60_500)] {
        let (settings, problems) = settings_and_problems(&[("TCP_USER_TIMEOUT", text)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.user_timeout_ms, Some(ms), "{text:?}");
    }
    // Ours win, and the older libraries' names come first.
    let (settings, problems) = settings_and_problems(&[
        ("KEEPALIVE_USER_TIMEOUT", b"2"),
        ("TCP_USER_TIMEOUT", b"5000"),
        ("KEEPIDLE", b"40"),
        ("TCP_KEEPIDLE", b"15"),
    ]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!((settings.user_timeout_ms, settings.idle), (Some(2000), Some(40)));
}

#[test]
fn msantos_libkeepalive_values_get_our_validation() {
    // Its 0 ("the system's default") and -1 ("derived") are outside our ranges: named, ignored.
    let expected_ms = USER_TIMEOUT.legacy_expected();
    assert!(expected_ms.starts_with("expected milliseconds"), "{expected_ms}");
    for (name, value, variable, expected) in [
        (c"TCP_KEEPIDLE", &b"0"[..], &IDLE, IDLE.expected),
        (c"TCP_KEEPCNT", b"128", &COUNT, COUNT.expected),
        (c"TCP_USER_TIMEOUT", b"-1", &USER_TIMEOUT, expected_ms),
        (c"TCP_USER_TIMEOUT", b"2147483648", &USER_TIMEOUT, expected_ms),
        (c"LIBKEEPALIVE_DEBUG", b"sure", &DEBUG, DEBUG.expected),
    ] {
        let key = name.to_str().unwrap();
        let (settings, problems) = settings_and_problems(&[(key, value)]);
        assert_eq!(problems, [Problem::Invalid { name, value, expected }], "{key}");
        let untouched = Settings::DEFAULT;
        let read = |settings: &Settings| match variable.name.to_bytes() {
            b"KEEPALIVE_IDLE" => settings.idle,
            b"KEEPALIVE_CNT" => settings.count,
            b"KEEPALIVE_USER_TIMEOUT" => settings.user_timeout_ms,
            _ => Some(u32::from(settings.debug)),
        };
        assert_eq!(read(&settings), read(&untouched), "{key} keeps the default");
    }
}

#[test]
fn rules_without_one_valid_rule_count_as_unset_with_one_line() {
    for name in [c"KEEPALIVE_ONLY", c"KEEPALIVE_SKIP"] {
        let variable = if name == c"KEEPALIVE_ONLY" { &ONLY } else { &SKIP };
        let key = name.to_str().unwrap();
        for value in [&b""[..], b" ", b",", b" , ,", b"garbage", b"10.0.0.0/33", b"127.0.0.1:99999", b"garbage,[::1"] {
            let (settings, problems) = settings_and_problems(&[(key, value)]);
            assert_eq!(problems, [invalid(name, value, variable)], "{key}={value:?}");
            assert_eq!(settings, Settings::DEFAULT, "{key}={value:?} counts as unset");
            assert_eq!(variable.parse(value), None);
        }
        let (settings, problems) = settings_and_problems(&[(key, b"garbage, 10.0.0.0/8")]);
        assert_eq!(problems, [Problem::InvalidEntry { name, entry: b"garbage", expected: variable.expected }]);
        let rules = if name == c"KEEPALIVE_ONLY" { settings.only } else { settings.skip };
        assert!(rules.configured && rules.rules().len() == 1, "the valid rule applies");
    }
}
