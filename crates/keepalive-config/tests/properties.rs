//! Property tests for the value parsers, the variables and `from_env`: no input makes them panic,
//! nothing outside the kernel's limits is accepted, and every value reads back as itself in each
//! form it may be written in. `FUZZ_CASES` sets the cases per property (`make fuzz`).

mod fuzzing;

use fuzzing::{CORPUS, input, property, within_limits};
use keepalive_config::value::{parse_count, parse_duration_ms, parse_switch};
use keepalive_config::{
    COUNT, IDLE, INTERVAL, NAMES, Problem, Rules, Settings, Side, USER_TIMEOUT, VARIABLES, Variable, from_env, rules,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use std::ffi::CStr;

#[test]
fn corpus_gives_what_it_says() {
    assert!(CORPUS.len() > 100, "the corpus lost its entries");
    for entry in CORPUS.iter() {
        let parsed = entry.variable.parse(&entry.value);
        assert_eq!(parsed, entry.expected, "corpus line {}: {:?}", entry.line, entry.value.escape_ascii().to_string());
        check_any_input(&entry.value);
    }
}

/// What holds for any bytes: every parser returns, and every accepted value is within limits.
fn check_any_input(text: &[u8]) {
    parse_switch(text);
    parse_count(text);
    Side::parse(text);
    assert_eq!(parse_duration_ms(text), reference_duration_ms(text), "{:?}", text.escape_ascii().to_string());
    for variable in VARIABLES {
        if let Some(value) = variable.parse(text) {
            assert!(
                within_limits(variable, value),
                "{:?} accepted {:?} as {value}",
                variable.name,
                text.escape_ascii().to_string()
            );
        }
    }
}

/// Durations as libkeepalive(7) defines them, written independently: whitespace-separated chunks,
/// each one or more terms of digits and a unit; or a lone whole number of seconds.
fn reference_duration_ms(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?.trim_matches(|c: char| c.is_ascii_whitespace());
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text.parse::<u64>().ok()?.checked_mul(1000);
    }
    let mut total = 0u64;
    let mut terms = 0;
    for chunk in text.split_ascii_whitespace() {
        let mut rest = chunk;
        while !rest.is_empty() {
            let number_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            let unit_end =
                rest[number_end..].find(|c: char| !c.is_ascii_alphabetic()).map_or(rest.len(), |end| number_end + end);
            let (number, unit) = (&rest[..number_end], &rest[number_end..unit_end]);
            if number.is_empty() {
                return None;
            }
            let scale = match unit.to_ascii_lowercase().as_str() {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => return None,
            };
            total = total.checked_add(number.parse::<u64>().ok()?.checked_mul(scale)?)?;
            terms += 1;
            rest = &rest[unit_end..];
        }
    }
    (terms > 0).then_some(total)
}

/// Surrounding whitespace the parsers must ignore.
fn padding() -> impl Strategy<Value = String> {
    vec(select(&[" ", "\t", "\n", "\r"][..]), 0..3).prop_map(|pieces| pieces.concat())
}

/// `text` with each letter's case chosen by `mask`.
fn recase(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(index, c)| if mask >> (index % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
        .collect()
}

#[test]
fn any_input_to_every_parser() {
    property("any input to every parser", file!(), input(), |text| {
        check_any_input(&text);
        Ok(())
    });
}

/// A duration split into hours, minutes, seconds and milliseconds, written as units in any case
/// and with or without spaces, as milliseconds alone, and (whole seconds) as seconds.
#[test]
fn durations_written_every_way() {
    let milliseconds = prop_oneof![0..40_000_000u64, any::<u64>()];
    let strategy = (milliseconds, any::<u64>(), any::<[bool; 4]>(), 0..3usize, padding(), padding());
    property("durations written every way", file!(), strategy, |(ms, mask, spaced, zeros, before, after)| {
        let parts = [(ms / 3_600_000, "h"), (ms / 60_000 % 60, "m"), (ms / 1000 % 60, "s"), (ms % 1000, "ms")];
        let mut units = String::new();
        for ((number, unit), spaced) in parts.into_iter().zip(spaced) {
            units += &format!("{}{number}{}{}", "0".repeat(zeros), recase(unit, mask), if spaced { " " } else { "" });
        }
        let mut forms = vec![units, format!("{ms}ms"), format!("{ms}{}", recase("ms", mask >> 8))];
        if ms % 1000 == 0 {
            forms.extend([format!("{}", ms / 1000), format!("{}s", ms / 1000)]);
        }
        let seconds = (ms % 1000 == 0).then_some(ms / 1000).filter(|s| (1..=32767).contains(s));
        let millis = Some(ms).filter(|&ms| ms <= i32::MAX as u64);
        for form in forms {
            let text = format!("{before}{form}{after}");
            prop_assert_eq!(parse_duration_ms(text.as_bytes()), Some(ms), "{:?}", text);
            prop_assert_eq!(IDLE.parse(text.as_bytes()).map(u64::from), seconds, "{:?}", text);
            prop_assert_eq!(INTERVAL.parse(text.as_bytes()).map(u64::from), seconds, "{:?}", text);
            prop_assert_eq!(USER_TIMEOUT.parse(text.as_bytes()).map(u64::from), millis, "{:?}", text);
        }
        Ok(())
    });
}

/// Terms that may overflow: the sum when it fits in a u64, otherwise rejected.
#[test]
fn durations_that_may_overflow() {
    let unit = select(&[("ms", 1u64), ("s", 1000), ("m", 60_000), ("h", 3_600_000)][..]);
    property("durations that may overflow", file!(), vec((any::<u64>(), unit), 1..4), |terms| {
        let text: String = terms.iter().map(|(number, (unit, _))| format!("{number}{unit}")).collect();
        let sum = terms.iter().try_fold(0u64, |sum, &(number, (_, scale))| sum.checked_add(number.checked_mul(scale)?));
        prop_assert_eq!(parse_duration_ms(text.as_bytes()), sum, "{:?}", text);
        Ok(())
    });
}

#[test]
fn counts_written_every_way() {
    let strategy = (any::<u64>(), 0..3usize, padding(), padding());
    property("counts written every way", file!(), strategy, |(count, zeros, before, after)| {
        let text = format!("{before}{}{count}{after}", "0".repeat(zeros));
        prop_assert_eq!(parse_count(text.as_bytes()), Some(count));
        let accepted = Some(count).filter(|count| (1..=127).contains(count)).map(|count| count as u32);
        prop_assert_eq!(COUNT.parse(text.as_bytes()), accepted, "{:?}", text);
        Ok(())
    });
}

#[test]
fn switches_and_sides_in_any_case() {
    let words = ["on", "1", "yes", "true", "off", "0", "no", "false", "both", "client", "server"];
    let strategy = (select(words.to_vec()), any::<u64>(), padding(), padding());
    property("switches and sides in any case", file!(), strategy, |(word, mask, before, after)| {
        let text = format!("{before}{}{after}", recase(word, mask));
        let side = [Side::Both, Side::Client, Side::Server].into_iter().find(|side| side.name() == word);
        let switch = side.is_none().then(|| ["on", "1", "yes", "true"].contains(&word));
        prop_assert_eq!(parse_switch(text.as_bytes()), switch, "{:?}", text);
        prop_assert_eq!(Side::parse(text.as_bytes()), side, "{:?}", text);
        Ok(())
    });
}

/// Any names (ours, aliases, legacy ones, others) set to anything: `from_env` gives what each
/// variable's own parser gives, by the documented precedence, and reports each problem once.
#[test]
fn arbitrary_environments() {
    let name = prop_oneof![4 => select(&NAMES[..]), 1 => Just(c"KEEPALIVE_OTHER")];
    property("arbitrary environments", file!(), vec((name, input()), 0..12), |env| {
        let lookup = |name: &CStr| env.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_slice());
        let mut problems = Vec::new();
        let settings = from_env(lookup, |problem| problems.push(problem));
        let (expected, expected_problems) = expected_settings(&lookup);
        prop_assert_eq!(settings, expected);
        prop_assert_eq!(problems, expected_problems);
        for (value, limit) in [(settings.idle, 32767), (settings.interval, 32767), (settings.count, 127)] {
            prop_assert!(value.is_none_or(|value| (1..=limit).contains(&value)));
        }
        prop_assert!(settings.user_timeout_ms.is_none_or(|ms| i32::try_from(ms).is_ok()));
        Ok(())
    });
}

/// The settings and problems an environment should give, from each variable's own parser.
fn expected_settings<'a>(lookup: &impl Fn(&CStr) -> Option<&'a [u8]>) -> (Settings, Vec<Problem<'a>>) {
    let mut problems = Vec::new();
    let mut value = |variable: &Variable| {
        let mut read = |name: &'static CStr, legacy: bool| {
            let text = lookup(name)?;
            let (parsed, expected) = match (legacy, variable.kind) {
                // msantos/libkeepalive's TCP_USER_TIMEOUT: a bare number counts milliseconds.
                (true, keepalive_config::Kind::Millis { min, max }) => {
                    let digits = std::str::from_utf8(text)
                        .ok()
                        .map(|text| text.trim_matches(|c: char| c.is_ascii_whitespace()))
                        .filter(|digits| digits.bytes().all(|byte| byte.is_ascii_digit()));
                    let parsed = match digits {
                        Some(digits) => digits
                            .parse::<u64>()
                            .ok()
                            .filter(|ms| (u64::from(min)..=u64::from(max)).contains(ms))
                            .map(|ms| ms as u32),
                        None => variable.parse(text),
                    };
                    (parsed, variable.legacy_expected())
                }
                _ => (variable.parse(text), variable.expected),
            };
            if parsed.is_none() {
                problems.push(Problem::Invalid { name, value: text, expected });
            }
            Some((name, text, parsed))
        };
        let main = read(variable.name, false);
        let alias = variable.alias.and_then(|alias| read(alias, false));
        match (main, alias) {
            (None, None) => {
                variable.legacy.iter().find(|&&name| lookup(name).is_some()).and_then(|&name| read(name, true)?.2)
            }
            (Some((used, used_value, Some(kept))), Some((ignored, ignored_value, Some(other)))) => {
                if kept != other {
                    problems.push(Problem::Conflict { used, used_value, ignored, ignored_value });
                }
                Some(kept)
            }
            (main, alias) => main.and_then(|main| main.2).or(alias.and_then(|alias| alias.2)),
        }
    };
    let [enabled, idle, interval, count, user_timeout_ms, debug, force, side, ..] = VARIABLES
        .map(|variable| if matches!(variable.kind, keepalive_config::Kind::Rules) { None } else { value(variable) });
    let mut list = |variable: &Variable| match lookup(variable.name) {
        None => Rules::NONE,
        Some(text) if rules::parse_rules(text, |_| {}).rules().is_empty() => {
            problems.push(Problem::Invalid { name: variable.name, value: text, expected: variable.expected });
            Rules::NONE
        }
        Some(text) => rules::parse_rules(text, |error| {
            problems.push(match error {
                rules::RuleError::Entry(entry) => {
                    Problem::InvalidEntry { name: variable.name, entry, expected: variable.expected }
                }
                rules::RuleError::TooMany(first_ignored) => {
                    Problem::TooManyEntries { name: variable.name, first_ignored }
                }
            })
        }),
    };
    let (only, skip) = (list(&keepalive_config::ONLY), list(&keepalive_config::SKIP));
    let side = [Side::Both, Side::Client, Side::Server]
        .into_iter()
        .find(|&known| Some(known as u32) == side)
        .unwrap_or(Side::Both);
    let settings = Settings {
        enabled: enabled != Some(0),
        debug: debug == Some(1),
        idle,
        interval,
        count,
        user_timeout_ms,
        force: force == Some(1),
        side,
        only,
        skip,
    };
    (settings, problems)
}
