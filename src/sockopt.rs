//! Applying the settings to a socket: which options, in what order, and how a socket that reached
//! `connect()` or `accept()` is checked first.

use core::ffi::c_int;
use keepalive_config::Settings;
use libc::{IPPROTO_TCP, SOL_SOCKET};

use crate::log::Line;
use crate::policy;
use crate::sys;

#[derive(Clone, Copy)]
struct SocketOption {
    level: c_int,
    name: c_int,
    value: c_int,
}

/// The settings turned into the `setsockopt` calls they need, computed once at load.
#[derive(Clone, Copy)]
pub struct Plan {
    pub enabled: bool,
    pub debug: bool,
    length: usize,
    options: [SocketOption; 5],
}

impl Plan {
    pub const OFF: Plan = Plan {
        enabled: false,
        debug: false,
        length: 0,
        options: [SocketOption { level: 0, name: 0, value: 0 }; 5],
    };

    /// One option for each configured timer, then `SO_KEEPALIVE`, so that the keepalive timer
    /// starts with its final values.
    pub fn new(settings: &Settings) -> Plan {
        let mut plan = Plan { enabled: settings.enabled, debug: settings.debug, ..Plan::OFF };
        let timers = [
            (libc::TCP_KEEPIDLE, settings.idle),
            (libc::TCP_KEEPINTVL, settings.interval),
            (libc::TCP_KEEPCNT, settings.count),
            (libc::TCP_USER_TIMEOUT, settings.user_timeout_ms),
        ];
        let wanted = timers.into_iter().filter_map(|(name, value)| Some((IPPROTO_TCP, name, value?)));
        for (level, name, value) in wanted.chain([(SOL_SOCKET, libc::SO_KEEPALIVE, 1)]) {
            if let Some(slot) = plan.options.get_mut(plan.length) {
                *slot = SocketOption { level, name, value: value as c_int };
                plan.length += 1;
            }
        }
        plan
    }

    #[inline(always)]
    fn options(&self) -> &[SocketOption] {
        self.options.get(..self.length).unwrap_or_default()
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

/// Sets every option of the plan. A failure changes nothing for the program; with
/// `KEEPALIVE_DEBUG` on, a line shows it.
#[inline(always)]
pub fn configure(fd: c_int, plan: &Plan, moment: Moment) {
    if plan.debug {
        return configure_and_describe(fd, plan, moment);
    }
    for option in plan.options() {
        let _ = sys::setsockopt(fd, option.level, option.name, option.value);
    }
}

/// Configures a socket that reached `connect()` or `accept()` without keepalive, if it is TCP.
/// A socket with keepalive already on (from `socket()`, its listener, or the program itself) is
/// left as it is, at the cost of one `getsockopt`.
#[inline(always)]
pub fn configure_if_off(fd: c_int, plan: &Plan, moment: Moment) {
    match sys::getsockopt(fd, SOL_SOCKET, libc::SO_KEEPALIVE) {
        Ok(0) => match sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL) {
            Ok(protocol) if policy::is_tcp_protocol(protocol) => configure(fd, plan, moment),
            _ => {}
        },
        Ok(_) if plan.debug => describe_left_alone(fd, moment),
        _ => {}
    }
}

#[cold]
#[inline(never)]
fn configure_and_describe(fd: c_int, plan: &Plan, moment: Moment) {
    let mut errors = [0; 5];
    for (option, error) in plan.options().iter().zip(&mut errors) {
        *error = sys::setsockopt(fd, option.level, option.name, option.value).err().unwrap_or(0);
    }
    Line::debug(|line| {
        describe(line, fd, moment);
        // SO_KEEPALIVE is the plan's last option.
        let keepalive_error = errors.get(plan.length.wrapping_sub(1)).copied().unwrap_or(0);
        line.text(if keepalive_error == 0 { "keepalive on" } else { "keepalive not set" });
        for option in plan.options().iter().filter(|option| option.level == IPPROTO_TCP) {
            let (label, unit) = label(option.name);
            line.timer(label, Some(option.value as u32), unit, "");
        }
        for (option, &code) in plan.options().iter().zip(&errors).filter(|(_, code)| **code != 0) {
            line.text("; ").text(option_name(option.name, option.level)).text(" failed: ").errno(code);
        }
    });
}

#[cold]
#[inline(never)]
fn describe_left_alone(fd: c_int, moment: Moment) {
    let protocol = sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(0);
    if policy::is_tcp_protocol(protocol) {
        Line::debug(|line| {
            describe(line, fd, moment);
            line.text("keepalive already on, left as it is");
        });
    }
}

/// A debug line for a socket that is not TCP and is left alone.
#[cold]
#[inline(never)]
pub fn describe_untouched(fd: c_int, moment: Moment) {
    Line::debug(|line| {
        line.text("fd ").number(fd as u64).text(" ").text(moment.name()).text(": not TCP, untouched");
    });
}

/// `fd 5 tcp6 connect(): `, with the family and protocol asked of the kernel: debug lines are
/// rare, and the hooks stay lean by not carrying them around.
fn describe(line: &mut Line, fd: c_int, moment: Moment) {
    let domain = sys::getsockopt(fd, SOL_SOCKET, libc::SO_DOMAIN).unwrap_or(libc::AF_INET);
    let protocol = sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(IPPROTO_TCP);
    line.text("fd ").number(fd as u64).text(" ").text(policy::label(domain, protocol));
    line.text(" ").text(moment.name()).text(": ");
}

fn label(name: c_int) -> (&'static str, &'static str) {
    match name {
        libc::TCP_KEEPIDLE => ("idle", "s"),
        libc::TCP_KEEPINTVL => ("intvl", "s"),
        libc::TCP_KEEPCNT => ("cnt", ""),
        _ => ("user timeout", "ms"),
    }
}

fn option_name(name: c_int, level: c_int) -> &'static str {
    match (level, name) {
        (SOL_SOCKET, _) => "SO_KEEPALIVE",
        (_, libc::TCP_KEEPIDLE) => "TCP_KEEPIDLE",
        (_, libc::TCP_KEEPINTVL) => "TCP_KEEPINTVL",
        (_, libc::TCP_KEEPCNT) => "TCP_KEEPCNT",
        _ => "TCP_USER_TIMEOUT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_configured_sets_only_so_keepalive() {
        let plan = Plan::new(&Settings::DEFAULT);
        let options: Vec<_> = plan.options().iter().map(|o| (o.level, o.name, o.value)).collect();
        assert_eq!(options, [(SOL_SOCKET, libc::SO_KEEPALIVE, 1)]);
        assert!(plan.enabled && !plan.debug);
    }

    #[test]
    fn timers_first_then_so_keepalive() {
        let settings = Settings {
            idle: Some(20),
            count: Some(3),
            user_timeout_ms: Some(0),
            ..Settings::DEFAULT
        };
        let options: Vec<_> = Plan::new(&settings).options().iter().map(|o| (o.name, o.value)).collect();
        assert_eq!(
            options,
            [(libc::TCP_KEEPIDLE, 20), (libc::TCP_KEEPCNT, 3), (libc::TCP_USER_TIMEOUT, 0), (libc::SO_KEEPALIVE, 1)]
        );
    }

    #[test]
    fn the_largest_user_timeout_fits_a_c_int() {
        let settings = Settings { user_timeout_ms: Some(i32::MAX as u32), ..Settings::DEFAULT };
        assert_eq!(Plan::new(&settings).options()[0].value, i32::MAX);
    }
}
