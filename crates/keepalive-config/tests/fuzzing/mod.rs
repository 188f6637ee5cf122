//! What the property tests share: how many cases to run, the inputs they are made from (arbitrary
//! bytes, text over the characters values are written with, and mutations of the corpus), and the
//! kernel's limits, written down here independently of the crate's own.

#![allow(dead_code)] // each test binary uses part of this module

use keepalive_config::{MAX_RULES, VARIABLES, Variable};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{FileFailurePersistence, TestCaseResult, TestRunner};
use std::cell::Cell;
use std::io::Write;
use std::sync::LazyLock;

/// Cases per property in `make test`; `make fuzz` raises it with `FUZZ_CASES`.
const SHORT_RUN_CASES: u32 = 20_000;

/// Runs `test` on cases from `strategy`, as many as `FUZZ_CASES` says, and prints how many ran.
/// A failure is shrunk, and its seed saved next to `source_file` to be tried first from then on.
pub fn property<S: Strategy>(
    name: &str,
    source_file: &'static str,
    strategy: S,
    test: impl Fn(S::Value) -> TestCaseResult,
) {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(SHORT_RUN_CASES);
    let persistence = Box::new(FileFailurePersistence::WithSource("proptest-regressions"));
    let config = ProptestConfig {
        cases,
        source_file: Some(source_file),
        failure_persistence: Some(persistence),
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let tried = Cell::new(0u64);
    let result = runner.run(&strategy, |value| {
        tried.set(tried.get() + 1);
        test(value)
    });
    // Straight to stderr, so that `make test` shows it: the test harness captures `println!`.
    let _ = writeln!(std::io::stderr(), "    {name}: {} cases tried", tried.get());
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
}

/// One line of `tests/corpus.txt`: a variable, a value, and what parsing it must give.
pub struct CorpusEntry {
    pub line: usize,
    pub variable: &'static Variable,
    pub value: Vec<u8>,
    pub expected: Option<u32>,
}

pub static CORPUS: LazyLock<Vec<CorpusEntry>> = LazyLock::new(|| {
    let text = include_str!("../corpus.txt");
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, value, expected] = fields[..] else {
            panic!("corpus line {}: expected NAME<TAB>VALUE<TAB>RESULT: {line:?}", index + 1)
        };
        let variable = variable(name).unwrap_or_else(|| panic!("corpus line {}: no variable {name}", index + 1));
        let expected = match expected {
            "-" => None,
            number => Some(number.parse().unwrap_or_else(|_| panic!("corpus line {}: result {number:?}", index + 1))),
        };
        entries.push(CorpusEntry { line: index + 1, variable, value: unescape(value), expected });
    }
    entries
});

pub fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.into_iter().find(|variable| variable.name.to_bytes() == name.as_bytes())
}

/// `\t`, `\n`, `\\` and `\xNN` escapes, so that the corpus can hold any byte.
fn unescape(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&first, after)) = rest.split_first() {
        rest = after;
        if first != b'\\' {
            bytes.push(first);
            continue;
        }
        let (escaped, after) = rest.split_first().expect("a corpus value ends in a lone backslash");
        rest = after;
        bytes.push(match escaped {
            b't' => b'\t',
            b'n' => b'\n',
            b'\\' => b'\\',
            b'x' => {
                let (hex, after) = rest.split_at(2);
                rest = after;
                u8::from_str_radix(std::str::from_utf8(hex).unwrap(), 16).expect("\\x takes two hex digits")
            }
            other => panic!("unknown corpus escape \\{}", *other as char),
        });
    }
    bytes
}

/// Characters durations, switches, counts, addresses and rule lists are written with, a few
/// that are close to them, and bytes that are not text.
const ALPHABET: &[u8] = b"0123456789 \t\n:./[],-+abcdefABCDEFhHmMsSoOnNxXyYtTrRuUlL\0\x80\xff";

/// Inputs that are mostly almost right: text over `ALPHABET`, arbitrary bytes, and corpus values
/// with a few bytes inserted, removed or replaced.
pub fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(select(ALPHABET), 0..40),
        1 => vec(any::<u8>(), 0..40),
        4 => mutated_corpus_value(),
    ]
}

fn mutated_corpus_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![select(ALPHABET), any::<u8>()];
    let edit = (any::<usize>(), 0..3u8, byte);
    (0..CORPUS.len(), vec(edit, 0..4)).prop_map(|(entry, edits)| {
        let mut value = CORPUS[entry].value.clone();
        for (at, kind, byte) in edits {
            let at = at % (value.len() + 1);
            match kind {
                0 => value.insert(at, byte),
                1 if at < value.len() => {
                    value.remove(at);
                }
                _ if at < value.len() => value[at] = byte,
                _ => value.push(byte),
            }
        }
        value
    })
}

/// Whether `value`, as `variable.parse` returns it, is something the kernel (or the library, for
/// the switches and lists) takes. The limits are the kernel's: `MAX_TCP_KEEPIDLE` and
/// `MAX_TCP_KEEPINTVL` 32767 s, `MAX_TCP_KEEPCNT` 127, each at least 1; `TCP_USER_TIMEOUT` a
/// non-negative `int` of milliseconds.
pub fn within_limits(variable: &Variable, value: u32) -> bool {
    match variable.name.to_bytes() {
        b"KEEPALIVE_IDLE" | b"KEEPALIVE_INTVL" => (1..=32767).contains(&value),
        b"KEEPALIVE_CNT" => (1..=127).contains(&value),
        b"KEEPALIVE_USER_TIMEOUT" => i32::try_from(value).is_ok(),
        b"KEEPALIVE" | b"KEEPALIVE_DEBUG" | b"KEEPALIVE_FORCE" => value <= 1,
        b"KEEPALIVE_SIDE" => value <= 2,
        b"KEEPALIVE_ONLY" | b"KEEPALIVE_SKIP" => value as usize <= MAX_RULES,
        name => panic!("no limit known for {}", String::from_utf8_lossy(name)),
    }
}
