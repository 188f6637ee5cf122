//! The settings turned into the `setsockopt` calls they need.

use core::ffi::c_int;
use keepalive_config::Settings;

use crate::linux::{IPPROTO_TCP, SO_KEEPALIVE, SOL_SOCKET, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_USER_TIMEOUT};

/// One timer a socket has, in the order `Timers` and `Options` keep them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    Idle,
    Interval,
    Count,
    UserTimeout,
}

impl Timer {
    pub const ALL: [Timer; 4] = [Timer::Idle, Timer::Interval, Timer::Count, Timer::UserTimeout];

    /// The option's name at level `IPPROTO_TCP`.
    pub const fn option_name(self) -> c_int {
        match self {
            Timer::Idle => TCP_KEEPIDLE,
            Timer::Interval => TCP_KEEPINTVL,
            Timer::Count => TCP_KEEPCNT,
            Timer::UserTimeout => TCP_USER_TIMEOUT,
        }
    }

    /// The short name and unit lines show it with: `idle 20s`, `cnt 3`, `user timeout 30000ms`.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Timer::Idle => ("idle", "s"),
            Timer::Interval => ("intvl", "s"),
            Timer::Count => ("cnt", ""),
            Timer::UserTimeout => ("user timeout", "ms"),
        }
    }

    fn of(level: c_int, name: c_int) -> Option<Timer> {
        (level == IPPROTO_TCP).then(|| Timer::ALL.into_iter().find(|timer| timer.option_name() == name)).flatten()
    }
}

/// A socket's four timers, each `None` where it is not known (not read, or the kernel refused).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timers(pub [Option<c_int>; 4]);

impl Timers {
    pub fn get(&self, timer: Timer) -> Option<c_int> {
        self.0[timer as usize]
    }

    pub fn set(&mut self, timer: Timer, value: Option<c_int>) {
        self.0[timer as usize] = value;
    }
}

/// Which of a socket's timers the decision keeps as someone chose them, as a set of `Timer`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kept(u8);

impl Kept {
    pub const NONE: Kept = Kept(0);

    pub fn with(self, timer: Timer) -> Kept {
        Kept(self.0 | 1 << timer as u8)
    }

    pub fn contains(self, timer: Timer) -> bool {
        self.0 & 1 << timer as u8 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One `setsockopt(fd, level, name, &value, sizeof(int))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketOption {
    pub level: c_int,
    pub name: c_int,
    pub value: c_int,
}

impl SocketOption {
    /// The timer this option sets, or `None` for `SO_KEEPALIVE`.
    pub fn timer(&self) -> Option<Timer> {
        Timer::of(self.level, self.name)
    }

    pub fn name(&self) -> &'static str {
        match self.timer() {
            None => "SO_KEEPALIVE",
            Some(Timer::Idle) => "TCP_KEEPIDLE",
            Some(Timer::Interval) => "TCP_KEEPINTVL",
            Some(Timer::Count) => "TCP_KEEPCNT",
            Some(Timer::UserTimeout) => "TCP_USER_TIMEOUT",
        }
    }
}

const KEEPALIVE_ON: SocketOption = SocketOption { level: SOL_SOCKET, name: SO_KEEPALIVE, value: 1 };
const UNUSED: SocketOption = SocketOption { level: 0, name: 0, value: 0 };

/// The options a `Settings` asks for: one for each configured timer, then `SO_KEEPALIVE`, so
/// that the keepalive timer starts with its final values. Unused slots have level 0, which no
/// option has, so a loop may stop at the first of them without a length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    length: usize,
    options: [SocketOption; 5],
}

impl Options {
    pub const NONE: Options = Options { length: 0, options: [UNUSED; 5] };

    pub fn of(settings: &Settings) -> Options {
        const { assert!(SOL_SOCKET != 0 && IPPROTO_TCP != 0, "level 0 marks an unused option") };
        let mut options = Options::NONE;
        for timer in Timer::ALL {
            if let Some(value) = configured(settings, timer) {
                options.push(SocketOption { level: IPPROTO_TCP, name: timer.option_name(), value });
            }
        }
        options.push(KEEPALIVE_ON);
        options
    }

    fn push(&mut self, option: SocketOption) {
        if let Some(slot) = self.options.get_mut(self.length) {
            *slot = option;
            self.length += 1;
        }
    }

    pub fn as_slice(&self) -> &[SocketOption] {
        self.options.get(..self.length).unwrap_or_default()
    }

    /// All five slots, unused ones with level 0: for a hot loop without a bound check.
    pub fn slots(&self) -> &[SocketOption; 5] {
        &self.options
    }

    /// The option of ours at `level` and `name`, if `settings` configure it: the one
    /// `Options::of(settings)` holds, found without building them all.
    pub fn find(settings: &Settings, level: c_int, name: c_int) -> Option<SocketOption> {
        if (level, name) == (KEEPALIVE_ON.level, KEEPALIVE_ON.name) {
            return Some(KEEPALIVE_ON);
        }
        let value = configured(settings, Timer::of(level, name)?)?;
        Some(SocketOption { level, name, value })
    }

    /// The options to set when the timers in `kept` are kept: all others, in order.
    pub fn except(&self, kept: Kept) -> impl Iterator<Item = SocketOption> + '_ {
        self.as_slice().iter().copied().filter(move |option| option.timer().is_none_or(|timer| !kept.contains(timer)))
    }
}

/// The value `settings` gives `timer`, as the kernel takes it; `None` when not configured.
pub fn configured(settings: &Settings, timer: Timer) -> Option<c_int> {
    let value = match timer {
        Timer::Idle => settings.idle,
        Timer::Interval => settings.interval,
        Timer::Count => settings.count,
        Timer::UserTimeout => settings.user_timeout_ms,
    }?;
    // Every variable's range ends at or below i32::MAX (keepalive-config).
    Some(value.min(c_int::MAX as u32) as c_int)
}
