//! What libkeepalive's environment variables mean.
//!
//! This crate is the single definition of every variable's name, accepted values and range, used
//! by the preloaded library and by the `keepalive` command alike. It is `no_std`, allocates
//! nothing and never panics, because the library calls it inside other people's processes.

#![no_std]

pub mod value;

use core::ffi::CStr;

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
}

/// One setting: its name, the older spelling still accepted, and what it takes.
#[derive(Debug)]
pub struct Variable {
    pub name: &'static CStr,
    pub alias: Option<&'static CStr>,
    pub kind: Kind,
    /// The end of a warning line: what would have been accepted.
    pub expected: &'static str,
}

impl Variable {
    /// The value as the kernel takes it (seconds, milliseconds, a count, or 1/0 for a switch),
    /// or `None` when `text` is malformed or out of range.
    pub fn parse(&self, text: &[u8]) -> Option<u32> {
        let (value, min, max) = match self.kind {
            Kind::Switch => return value::parse_switch(text).map(u32::from),
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
        (u64::from(min)..=u64::from(max))
            .contains(&value)
            .then(|| value as u32)
    }
}

const SWITCH_EXPECTED: &str = "expected on or off (also 1/0, yes/no, true/false)";

pub const ENABLED: Variable = Variable {
    name: c"KEEPALIVE",
    alias: None,
    kind: Kind::Switch,
    expected: SWITCH_EXPECTED,
};
pub const IDLE: Variable = Variable {
    name: c"KEEPALIVE_IDLE",
    alias: None,
    kind: Kind::Seconds { min: 1, max: 32767 },
    expected: "expected seconds (20) or a duration (20s, 5m, 1h) from 1s to 32767s",
};
pub const INTERVAL: Variable = Variable {
    name: c"KEEPALIVE_INTVL",
    alias: Some(c"KEEPALIVE_INTERVAL"),
    kind: Kind::Seconds { min: 1, max: 32767 },
    expected: "expected seconds (5) or a duration (5s, 1m) from 1s to 32767s",
};
pub const COUNT: Variable = Variable {
    name: c"KEEPALIVE_CNT",
    alias: Some(c"KEEPALIVE_COUNT"),
    kind: Kind::Count { min: 1, max: 127 },
    expected: "expected a whole number of probes from 1 to 127",
};
pub const USER_TIMEOUT: Variable = Variable {
    name: c"KEEPALIVE_USER_TIMEOUT",
    alias: None,
    kind: Kind::Millis { min: 0, max: i32::MAX as u32 },
    expected: "expected seconds (30) or a duration (30s, 1500ms, 2m) from 0 to 2147483647ms",
};
pub const DEBUG: Variable = Variable {
    name: c"KEEPALIVE_DEBUG",
    alias: None,
    kind: Kind::Switch,
    expected: SWITCH_EXPECTED,
};

/// Every variable, in the order they are read and reported.
pub const VARIABLES: [&Variable; 6] = [&ENABLED, &IDLE, &INTERVAL, &COUNT, &USER_TIMEOUT, &DEBUG];

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
    };
}

impl Default for Settings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Something wrong with the environment, reported once and otherwise ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem<'a> {
    /// The variable is set to something it does not accept; it stays at its default.
    Invalid {
        name: &'static CStr,
        value: &'a [u8],
        expected: &'static str,
    },
    /// Both spellings are set to different values; `used` wins.
    Conflict {
        used: &'static CStr,
        used_value: &'a [u8],
        ignored: &'static CStr,
        ignored_value: &'a [u8],
    },
}

/// Reads every variable through `lookup`, calls `report` once for each problem, and returns
/// the settings that hold: every valid variable applies, every invalid one keeps its default.
pub fn from_env<'a>(
    mut lookup: impl FnMut(&'static CStr) -> Option<&'a [u8]>,
    mut report: impl FnMut(Problem<'a>),
) -> Settings {
    let mut read = |variable: &Variable| -> Option<u32> {
        let mut parse = |name: &'static CStr| {
            let text = lookup(name)?;
            let parsed = variable.parse(text);
            if parsed.is_none() {
                report(Problem::Invalid {
                    name,
                    value: text,
                    expected: variable.expected,
                });
            }
            Some((name, text, parsed))
        };
        let main = parse(variable.name);
        let alias = variable.alias.and_then(&mut parse);
        match (main, alias) {
            (Some((used, used_text, Some(used_value))), Some((ignored, ignored_text, Some(other))))
                if other != used_value =>
            {
                report(Problem::Conflict {
                    used,
                    used_value: used_text,
                    ignored,
                    ignored_value: ignored_text,
                });
                Some(used_value)
            }
            (main, alias) => main.and_then(|m| m.2).or_else(|| alias.and_then(|a| a.2)),
        }
    };
    let defaults = Settings::DEFAULT;
    Settings {
        enabled: read(&ENABLED).map_or(defaults.enabled, |on| on == 1),
        idle: read(&IDLE),
        interval: read(&INTERVAL),
        count: read(&COUNT),
        user_timeout_ms: read(&USER_TIMEOUT),
        debug: read(&DEBUG).map_or(defaults.debug, |on| on == 1),
    }
}

#[cfg(test)]
mod tests;
