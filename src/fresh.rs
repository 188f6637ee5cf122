//! What a fresh TCP socket's timers are (the system's defaults). With side or peer rules they
//! are read from the first socket `socket()` makes, which has them still; otherwise they are
//! asked of the kernel by the probe (see `probe`), the first time a socket reaches `connect()` or
//! `accept()` without keepalive. Two threads asking at once store the same values.

use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use keepalive_policy::{Timer, Timers};

use crate::probe::Fresh;
use crate::sys;

// In the order of `Timers`.
const TIMERS: [c_int; 4] = [
    Timer::Idle.option_name(),
    Timer::Interval.option_name(),
    Timer::Count.option_name(),
    Timer::UserTimeout.option_name(),
];
// No c_int: `stored` fails until every value has been read.
const UNKNOWN: i64 = i64::MIN;
static DEFAULTS: [AtomicI64; 4] = [const { AtomicI64::new(UNKNOWN) }; 4];

/// The probe cannot run in this process: it is not tried again at every socket.
static NO_PROBE: AtomicBool = AtomicBool::new(false);

/// The defaults, known already or asked of the probe now; `None` when the probe cannot tell.
pub fn defaults() -> Option<Timers> {
    stored().or_else(|| {
        if NO_PROBE.load(Ordering::Relaxed) {
            return None;
        }
        match crate::probe::fresh_tcp_options(TIMERS) {
            Fresh::Options(values) => {
                store(values);
                Some(timers(values))
            }
            Fresh::NotNow => None,
            Fresh::Never => {
                NO_PROBE.store(true, Ordering::Relaxed);
                None
            }
        }
    })
}

fn store(values: [c_int; 4]) {
    for (value, stored) in values.iter().zip(&DEFAULTS) {
        stored.store(i64::from(*value), Ordering::Relaxed);
    }
}

fn timers(values: [c_int; 4]) -> Timers {
    Timers(values.map(Some))
}

/// Reads the defaults from `fd`, a socket `socket()` just made, unless they are known: four
/// `getsockopt` calls once per process instead of the probe, which costs a child process and
/// could meet a seccomp filter the program installed later.
pub fn learn(fd: c_int) {
    if DEFAULTS[TIMERS.len() - 1].load(Ordering::Relaxed) == UNKNOWN {
        for (timer, stored) in TIMERS.iter().zip(&DEFAULTS) {
            let Ok(value) = sys::getsockopt(fd, libc::IPPROTO_TCP, *timer) else { return };
            stored.store(i64::from(value), Ordering::Relaxed);
        }
    }
}

fn stored() -> Option<Timers> {
    let mut values = [0; 4];
    for (value, stored) in values.iter_mut().zip(&DEFAULTS) {
        *value = c_int::try_from(stored.load(Ordering::Relaxed)).ok()?;
    }
    Some(timers(values))
}
