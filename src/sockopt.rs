//! Reading and setting socket options through the C library's real functions, never through our
//! own exported symbols.

use core::ffi::c_int;
use keepalive_config::Settings;
use libc::{IPPROTO_TCP, SOL_SOCKET, socklen_t};

use crate::config::describe_timer;
use crate::errno;
use crate::log::Line;
use crate::policy;
use crate::real;

/// `setsockopt` with a typed value; `Err(errno)` on failure.
pub fn set<T>(fd: c_int, level: c_int, name: c_int, value: T) -> Result<(), c_int> {
    let setsockopt = real::SETSOCKOPT.get().ok_or(libc::ENOSYS)?;
    let length = size_of::<T>() as socklen_t;
    // SAFETY: the pointer and length describe `value`, which lives across the call.
    match unsafe { setsockopt(fd, level, name, (&raw const value).cast(), length) } {
        0 => Ok(()),
        _ => Err(errno::get()),
    }
}

/// `getsockopt` into a typed value; `Err(errno)` on failure.
pub fn get<T: Default>(fd: c_int, level: c_int, name: c_int) -> Result<T, c_int> {
    let getsockopt = real::GETSOCKOPT.get().ok_or(libc::ENOSYS)?;
    let mut value = T::default();
    let mut length = size_of::<T>() as socklen_t;
    // SAFETY: the pointer and length describe `value`, which lives across the call.
    match unsafe { getsockopt(fd, level, name, (&raw mut value).cast(), &mut length) } {
        0 => Ok(value),
        _ => Err(errno::get()),
    }
}

/// The moment a socket is looked at, named in debug lines.
#[derive(Clone, Copy)]
pub enum Moment {
    Socket,
    Connect,
    Accept,
    Accept4,
}

impl Moment {
    pub fn name(self) -> &'static str {
        match self {
            Moment::Socket => "socket()",
            Moment::Connect => "connect()",
            Moment::Accept => "accept()",
            Moment::Accept4 => "accept4()",
        }
    }
}

/// One option the settings may ask for: (its name, level, option, configured value, unit).
type Wanted = (&'static str, c_int, c_int, Option<u32>, &'static str);

fn wanted(settings: &Settings) -> [Wanted; 4] {
    [
        ("idle", IPPROTO_TCP, libc::TCP_KEEPIDLE, settings.idle, "s"),
        ("intvl", IPPROTO_TCP, libc::TCP_KEEPINTVL, settings.interval, "s"),
        ("cnt", IPPROTO_TCP, libc::TCP_KEEPCNT, settings.count, ""),
        ("user timeout", IPPROTO_TCP, libc::TCP_USER_TIMEOUT, settings.user_timeout_ms, "ms"),
    ]
}

/// Turns keepalive on with the configured timers: one `setsockopt` for each configured timer,
/// then `SO_KEEPALIVE`, so that the timer starts with its final values. Failures are ignored (a
/// debug line shows them); `errno` is left as it was.
pub fn configure(fd: c_int, settings: &Settings, moment: Moment, domain: c_int, protocol: c_int) {
    let saved = errno::Saved::now();
    let mut failures: [Option<(&'static str, c_int)>; 5] = [None; 5];
    for ((label, level, name, value, _), failure) in wanted(settings).into_iter().zip(&mut failures) {
        if let Some(value) = value {
            *failure = set(fd, level, name, value as c_int).err().map(|code| (label, code));
        }
    }
    failures[4] = set(fd, SOL_SOCKET, libc::SO_KEEPALIVE, 1 as c_int)
        .err()
        .map(|code| ("SO_KEEPALIVE", code));
    if settings.debug {
        let mut line = describe(fd, moment, domain, protocol);
        line.text(if failures[4].is_none() { "keepalive on" } else { "keepalive not set" });
        for (label, _, _, value, unit) in wanted(settings) {
            if value.is_some() {
                describe_timer(&mut line, label, value, unit, "");
            }
        }
        for (label, code) in failures.into_iter().flatten() {
            line.text("; ").text(label).text(" failed: ").errno(code);
        }
        line.send_to_original_stderr();
    }
    saved.restore();
}

/// Configures a socket that reached `connect()` or `accept()` without keepalive, if it is TCP.
/// A socket with keepalive already on (from `socket()`, its listener, or the program itself) is
/// left as it is, at the cost of one `getsockopt`.
pub fn configure_if_off(fd: c_int, settings: &Settings, moment: Moment) {
    let saved = errno::Saved::now();
    match get::<c_int>(fd, SOL_SOCKET, libc::SO_KEEPALIVE) {
        Ok(0) => match get::<c_int>(fd, SOL_SOCKET, libc::SO_PROTOCOL) {
            Ok(protocol) if policy::is_tcp_protocol(protocol) => {
                configure(fd, settings, moment, UNKNOWN_DOMAIN, protocol);
            }
            _ => {}
        },
        Ok(_) if settings.debug => {
            let protocol = get::<c_int>(fd, SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(0);
            if policy::is_tcp_protocol(protocol) {
                describe(fd, moment, UNKNOWN_DOMAIN, protocol)
                    .text("keepalive already on, left as it is")
                    .send_to_original_stderr();
            }
        }
        _ => {}
    }
    saved.restore();
}

/// A debug line for a socket that is not TCP and is left alone.
pub fn describe_untouched(fd: c_int, moment: Moment) {
    let mut line = Line::debug();
    line.text("fd ").number(fd as u64).text(" ").text(moment.name());
    line.text(": not TCP, untouched").send_to_original_stderr();
}

/// For `configure` when the caller does not know the family; only debug lines need it.
pub const UNKNOWN_DOMAIN: c_int = -1;

fn describe(fd: c_int, moment: Moment, domain: c_int, protocol: c_int) -> Line {
    let domain = match domain {
        UNKNOWN_DOMAIN => get::<c_int>(fd, SOL_SOCKET, libc::SO_DOMAIN).unwrap_or(libc::AF_INET),
        known => known,
    };
    let mut line = Line::debug();
    line.text("fd ").number(fd as u64).text(" ").text(policy::label(domain, protocol));
    line.text(" ").text(moment.name()).text(": ");
    line
}
