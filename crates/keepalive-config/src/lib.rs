//! What libkeepalive's environment variables mean.
//!
//! This crate is the single definition of every variable's name, accepted values and range, used
//! by the preloaded library and by the `keepalive` command alike. It is `no_std`, allocates
//! nothing and never panics, because the library calls it inside other people's processes.

#![no_std]

mod address;
pub mod misspelling;
mod packed;
pub mod rules;
pub mod value;

use core::ffi::CStr;
use packed::{PACKED, Packed};
pub use rules::{MAX_RULES, Peer, RuleError, Rules};

/// How a variable's value is read, with its inclusive range.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `on`/`off` and their synonyms; parses to 1 or 0.
    Switch,
    /// A duration in whole seconds (a bare number, or units adding up to whole seconds).
    Seconds { min: u32, max: u32 },
    /// A duration in milliseconds (a bare number still means seconds).
    Millis { min: u32, max: u32 },
    /// A plain whole number.
    Count { min: u32, max: u32 },
    /// `both`, `client` or `server`; parses to the `Side` as a number.
    Side,
    /// A comma-separated list of peer rules; see `rules`.
    Rules,
}

/// One setting: its name, the older spelling still accepted, and what it takes.
#[derive(Debug)]
pub struct Variable {
    pub name: &'static CStr,
    /// A second spelling of ours: if both are set and differ, `name` wins with a warning.
    pub alias: Option<&'static CStr>,
    /// Names from libkeepalive, libdontdie and msantos/libkeepalive, read only when none of
    /// ours is set; the first one set counts.
    pub legacy: &'static [&'static CStr],
    pub kind: Kind,
    /// The end of a warning line: what would have been accepted.
    pub expected: &'static str,
}

impl Variable {
    /// The value as the kernel takes it (seconds, milliseconds, a count, or 1/0 for a switch; a
    /// `Side` as a number; for rules, how many), or `None` when `text` is malformed or out of
    /// range.
    pub fn parse(&self, text: &[u8]) -> Option<u32> {
        self.kind.parse(text)
    }

    /// A legacy name's value: as `parse`, except that a bare number given to a millisecond
    /// variable counts milliseconds, as msantos/libkeepalive's `TCP_USER_TIMEOUT` does.
    pub fn parse_legacy(&self, text: &[u8]) -> Option<u32> {
        match self.kind {
            Kind::Rules => self.parse(text),
            kind => kind.parse_legacy(text),
        }
    }

    /// What a legacy name accepts, for its warning line.
    pub const fn legacy_expected(&self) -> &'static str {
        match self.kind {
            Kind::Millis { .. } => "expected milliseconds (30000) or a duration (30s, 2m) up to 2147483647ms",
            _ => self.expected,
        }
    }
}

impl Kind {
    /// See `Variable::parse`.
    fn parse(self, text: &[u8]) -> Option<u32> {
        match self {
            Kind::Rules => {
                let mut valid = true;
                let rules = rules::parse_rules(text, |_| valid = false);
                (valid && !rules.rules().is_empty()).then(|| rules.rules().len() as u32)
            }
            _ => self.parse_one(text),
        }
    }

    /// A value of any kind but `Rules` (read apart, by `from_env`): `None` for those.
    fn parse_one(self, text: &[u8]) -> Option<u32> {
        let (value, min, max) = match self {
            Kind::Switch => return value::parse_switch(text).map(u32::from),
            Kind::Side => return Side::parse(text).map(|side| side as u32),
            Kind::Rules => return None,
            Kind::Seconds { min, max } => {
                let ms = value::parse_duration_ms(text)?;
                if ms % 1000 != 0 {
                    return None;
                }
                (ms / 1000, min, max)
            }
            Kind::Millis { min, max } => (value::parse_duration_ms(text)?, min, max),
            Kind::Count { min, max } => (value::parse_count(text)?, min, max),
        };
        within(value, min, max)
    }

    /// See `Variable::parse_legacy`; `None` for `Rules`, as `parse_one`.
    fn parse_legacy(self, text: &[u8]) -> Option<u32> {
        match self {
            Kind::Millis { min, max } if text.trim_ascii().iter().all(u8::is_ascii_digit) => {
                within(value::parse_count(text)?, min, max)
            }
            _ => self.parse_one(text),
        }
    }
}

/// `value` if it lies in `min..=max`.
fn within(value: u64, min: u32, max: u32) -> Option<u32> {
    (u64::from(min)..=u64::from(max)).contains(&value).then_some(value as u32)
}

const SWITCH_EXPECTED: &str = "expected on or off (also 1/0, yes/no, true/false)";

pub const ENABLED: Variable = Variable {
    name: c"KEEPALIVE",
    alias: None,
    legacy: &[c"DD_USE_KEEPALIVE"],
    kind: Kind::Switch,
    expected: SWITCH_EXPECTED,
};
pub const IDLE: Variable = Variable {
    name: c"KEEPALIVE_IDLE",
    alias: None,
    legacy: &[c"KEEPIDLE", c"DD_TCP_KEEPALIVE_TIME", c"TCP_KEEPIDLE"],
    kind: Kind::Seconds { min: 1, max: 32767 },
    expected: "expected seconds (20) or a duration (20s, 5m, 1h) from 1s to 32767s",
};
pub const INTERVAL: Variable = Variable {
    name: c"KEEPALIVE_INTVL",
    alias: Some(c"KEEPALIVE_INTERVAL"),
    legacy: &[c"KEEPINTVL", c"DD_TCP_KEEPALIVE_INTVL", c"TCP_KEEPINTVL"],
    kind: Kind::Seconds { min: 1, max: 32767 },
    expected: "expected seconds (5) or a duration (5s, 1m) from 1s to 32767s",
};
pub const COUNT: Variable = Variable {
    name: c"KEEPALIVE_CNT",
    alias: Some(c"KEEPALIVE_COUNT"),
    legacy: &[c"KEEPCNT", c"DD_TCP_KEEPALIVE_PROBES", c"TCP_KEEPCNT"],
    kind: Kind::Count { min: 1, max: 127 },
    expected: "expected a whole number of probes from 1 to 127",
};
pub const USER_TIMEOUT: Variable = Variable {
    name: c"KEEPALIVE_USER_TIMEOUT",
    alias: None,
    legacy: &[c"TCP_USER_TIMEOUT"],
    kind: Kind::Millis { min: 0, max: i32::MAX as u32 },
    expected: "expected seconds (30) or a duration (30s, 1500ms, 2m) from 0 to 2147483647ms",
};
pub const DEBUG: Variable = Variable {
    name: c"KEEPALIVE_DEBUG",
    alias: None,
    legacy: &[c"DD_DEBUG", c"LIBKEEPALIVE_DEBUG"],
    kind: Kind::Switch,
    expected: SWITCH_EXPECTED,
};
pub const FORCE: Variable =
    Variable { name: c"KEEPALIVE_FORCE", alias: None, legacy: &[], kind: Kind::Switch, expected: SWITCH_EXPECTED };
const RULES_EXPECTED: &str =
    "expected an address, a CIDR prefix or a port, like 10.0.0.0/8, 192.168.1.5:5432, [2001:db8::/32]:443, :6379";
pub const ONLY: Variable =
    Variable { name: c"KEEPALIVE_ONLY", alias: None, legacy: &[], kind: Kind::Rules, expected: RULES_EXPECTED };
pub const SKIP: Variable =
    Variable { name: c"KEEPALIVE_SKIP", alias: None, legacy: &[], kind: Kind::Rules, expected: RULES_EXPECTED };
pub const SIDE: Variable = Variable {
    name: c"KEEPALIVE_SIDE",
    alias: None,
    legacy: &[],
    kind: Kind::Side,
    expected: "expected both, client or server",
};

/// Every variable, in the order they are read and reported.
pub const VARIABLES: [&Variable; 10] =
    [&ENABLED, &IDLE, &INTERVAL, &COUNT, &USER_TIMEOUT, &DEBUG, &FORCE, &SIDE, &ONLY, &SKIP];

/// Every name the environment is searched for: each variable's own, its alias, its legacy
/// names. Computed at compile time from `VARIABLES`.
pub const NAMES: [&CStr; 25] = {
    let mut names = [c""; 25];
    let (mut next, mut index) = (0, 0);
    while index < VARIABLES.len() {
        let variable = VARIABLES[index];
        names[next] = variable.name;
        next += 1;
        if let Some(alias) = variable.alias {
            names[next] = alias;
            next += 1;
        }
        let mut legacy = 0;
        while legacy < variable.legacy.len() {
            names[next] = variable.legacy[legacy];
            next += 1;
            legacy += 1;
        }
        index += 1;
    }
    assert!(next == names.len(), "NAMES must list every name exactly");
    names
};

/// Whether `name` is one of `NAMES`.
pub fn is_name(name: &[u8]) -> bool {
    name_index(name).is_some()
}

/// Where `name` is in `NAMES`, if it is one of them.
pub fn name_index(name: &[u8]) -> Option<usize> {
    packed::names().position(|known| known.to_bytes() == name)
}

/// Which connections get keepalive: those the program connects, accepts, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Both = 0,
    Client = 1,
    Server = 2,
}

impl Side {
    pub fn parse(text: &[u8]) -> Option<Side> {
        match value::lowercase(text.trim_ascii(), &mut [0; 6])? {
            b"both" => Some(Side::Both),
            b"client" => Some(Side::Client),
            b"server" => Some(Side::Server),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::Both => "both",
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// The effective configuration. `None` leaves the kernel's value (the sysctl default) alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub debug: bool,
    /// `TCP_KEEPIDLE`, seconds.
    pub idle: Option<u32>,
    /// `TCP_KEEPINTVL`, seconds.
    pub interval: Option<u32>,
    /// `TCP_KEEPCNT`, probes.
    pub count: Option<u32>,
    /// `TCP_USER_TIMEOUT`, milliseconds.
    pub user_timeout_ms: Option<u32>,
    /// Keep the program from changing what the operator configured.
    pub force: bool,
    pub side: Side,
    /// Peers to configure (all when not configured) and peers never to configure.
    pub only: Rules,
    pub skip: Rules,
}

impl Settings {
    /// What preloading the library with nothing set means: keepalive on, the system's timers.
    pub const DEFAULT: Settings = Settings {
        enabled: true,
        debug: false,
        idle: None,
        interval: None,
        count: None,
        user_timeout_ms: None,
        force: false,
        side: Side::Both,
        only: Rules::NONE,
        skip: Rules::NONE,
    };

    /// Whether the peer or the side decides, so that options wait for `connect()`/`accept()`.
    pub fn selective(&self) -> bool {
        self.side != Side::Both || self.only.configured || self.skip.configured
    }

    /// Whether a connection to or from `peer` gets keepalive, by `KEEPALIVE_ONLY` and `_SKIP`.
    pub fn selects(&self, peer: &Peer) -> bool {
        (!self.only.configured || self.only.matches(peer)) && !self.skip.matches(peer)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Something wrong with the environment, reported once and otherwise ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem<'a> {
    /// The variable is set to something it does not accept; it stays at its default. A list of
    /// rules without one valid rule is such a value, and counts as unset.
    Invalid { name: &'static CStr, value: &'a [u8], expected: &'static str },
    /// One entry of a list of rules is malformed; it is ignored, the others apply.
    InvalidEntry { name: &'static CStr, entry: &'a [u8], expected: &'static str },
    /// A list of rules is longer than `MAX_RULES`; `first_ignored` and what follows are ignored.
    TooManyEntries { name: &'static CStr, first_ignored: &'a [u8] },
    /// Both spellings are set to different values; `used` wins.
    Conflict { used: &'static CStr, used_value: &'a [u8], ignored: &'static CStr, ignored_value: &'a [u8] },
}

/// Reads every variable through `lookup`, calls `report` once for each problem, and returns
/// the settings that hold: every valid variable applies, every invalid one keeps its default.
/// Legacy names (libkeepalive's, libdontdie's, msantos/libkeepalive's) count only when none of
/// ours is set.
pub fn from_env<'a>(
    mut lookup: impl FnMut(&'static CStr) -> Option<&'a [u8]>,
    report: impl FnMut(Problem<'a>),
) -> Settings {
    let mut values = [None; NAMES.len()];
    for (value, name) in values.iter_mut().zip(NAMES) {
        *value = lookup(name);
    }
    from_values(&values, report)
}

/// The value of each of `NAMES`, at its place, if it is set.
pub type Values<'a> = [Option<&'a [u8]>; NAMES.len()];

/// `from_env` for a caller that has looked every name up already.
pub fn from_values<'a>(values: &Values<'a>, mut report: impl FnMut(Problem<'a>)) -> Settings {
    read_all(values, &mut report)
}

/// The `report` closure for `read_all`, through a trait of one method: a `dyn FnMut` would also
/// carry the closure's `call_once`, a second copy of it in the library.
trait Report<'a> {
    fn report(&mut self, problem: Problem<'a>);
}

impl<'a, F: FnMut(Problem<'a>)> Report<'a> for F {
    fn report(&mut self, problem: Problem<'a>) {
        self(problem)
    }
}

/// `from_values` compiled once, here, as this crate is (small: see the workspace's profiles),
/// rather than once for each caller's closure in the caller's crate, and not inlined into it, so
/// that its loop stays a loop.
#[inline(never)]
fn read_all<'a>(values: &Values<'a>, report: &mut dyn Report<'a>) -> Settings {
    let [single @ .., only, skip] = &PACKED;
    let mut read = [None; 8];
    for (value, variable) in read.iter_mut().zip(single) {
        *value = read_one(variable, values, report);
    }
    let [enabled, idle, interval, count, user_timeout_ms, debug, force, side] = read;
    let defaults = Settings::DEFAULT;
    let enabled = enabled.map_or(defaults.enabled, |on| on == 1);
    let debug = debug.map_or(defaults.debug, |on| on == 1);
    let force = force.map_or(defaults.force, |on| on == 1);
    let side = match side {
        Some(1) => Side::Client,
        Some(2) => Side::Server,
        _ => Side::Both,
    };
    let mut read_rules = |variable: &Packed| match value_of(values, variable.name()) {
        None => Rules::NONE,
        // A list without one valid rule (empty, or every entry wrong) would select no connection
        // at all: the variable counts as unset, like any other invalid value.
        Some(text) if parse_rules(text, variable, None).rules().is_empty() => {
            let name = packed::name(variable.name());
            report.report(Problem::Invalid { name, value: text, expected: variable.expected() });
            Rules::NONE
        }
        Some(text) => parse_rules(text, variable, Some(&mut *report)),
    };
    let only = read_rules(only);
    let skip = read_rules(skip);
    Settings { enabled, debug, idle, interval, count, user_timeout_ms, force, side, only, skip }
}

/// One variable that takes a single value: read through its own name, its alias or else its
/// legacy names. A function of its own, called in a loop: inlined, it would be copied once for
/// each variable.
#[inline(never)]
fn read_one<'a>(variable: &Packed, values: &Values<'a>, report: &mut dyn Report<'a>) -> Option<u32> {
    let mut parse = |index: u8, legacy: bool| {
        let text = value_of(values, index)?;
        let name = packed::name(index);
        let (parsed, expected) = match legacy {
            false => (variable.kind.parse_one(text), variable.expected()),
            true => (variable.kind.parse_legacy(text), variable.legacy_expected()),
        };
        if parsed.is_none() {
            report.report(Problem::Invalid { name, value: text, expected });
        }
        Some((name, text, parsed))
    };
    let main = parse(variable.name(), false);
    let alias = variable.alias().and_then(|alias| parse(alias, false));
    match (main, alias) {
        (Some((used, used_text, Some(used_value))), Some((ignored, ignored_text, Some(other))))
            if other != used_value =>
        {
            report.report(Problem::Conflict { used, used_value: used_text, ignored, ignored_value: ignored_text });
            Some(used_value)
        }
        (None, None) => variable.legacy().find_map(|index| parse(index, true)).and_then(|(_, _, value)| value),
        (main, alias) => main.and_then(|m| m.2).or_else(|| alias.and_then(|a| a.2)),
    }
}

/// `variable`'s rules in `text`, reporting each entry ignored if there is a `report`: one copy of
/// the parser for both of `read_all`'s passes.
#[inline(never)]
fn parse_rules<'a>(text: &'a [u8], variable: &Packed, mut report: Option<&mut dyn Report<'a>>) -> Rules {
    rules::parse_rules(text, |error| {
        let Some(report) = report.as_mut() else { return };
        let name = packed::name(variable.name());
        report.report(match error {
            RuleError::Entry(entry) => Problem::InvalidEntry { name, entry, expected: variable.expected() },
            RuleError::TooMany(first_ignored) => Problem::TooManyEntries { name, first_ignored },
        })
    })
}

/// The value of `NAMES[index]`, if it is set.
fn value_of<'a>(values: &Values<'a>, index: u8) -> Option<&'a [u8]> {
    values.get(usize::from(index)).copied().flatten()
}

#[cfg(test)]
mod tests;
