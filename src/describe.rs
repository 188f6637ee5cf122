//! The debug lines, one per decision carried out: what was set, kept or left alone, and why.
//! All of them are written by `line`, whose one copy of the prefix and of the option names
//! serves every kind.

use core::ffi::c_int;
use keepalive_policy::linux;
use keepalive_policy::{Kept, Reason, SocketOption, Timers};
use libc::{IPPROTO_TCP, SOL_SOCKET};

use crate::log::Line;
use crate::plan::Plan;
use crate::sys;

/// After the options were set: `errors` holds each option's error, 0 for none. The timers in
/// `kept` were left as someone chose them (`Kept::NONE` after `SetAll`); `current` has the
/// values the socket had. These three wrappers are inlined into their one caller each: `line`
/// does the work.
#[inline(always)]
pub fn configured(fd: c_int, call: &str, plan: &Plan, errors: &[c_int; 5], kept: Kept, current: &Timers) {
    line(fd, call, Outcome::Configured { options: plan.options(), errors, kept, current });
}

/// A socket left as it is. Not TCP and unreadable ones are silent except at `socket()`, and
/// so are the program's own `setsockopt` calls that force mode lets stand.
#[inline(always)]
pub fn left_alone(fd: c_int, call: &str, reason: Reason, setsockopt: bool) {
    match reason {
        Reason::NotTcp if call == "socket()" => {}
        Reason::NotTcp | Reason::Unreadable | Reason::Disabled => return,
        _ if setsockopt => return,
        Reason::KeepaliveOn if !crate::gather::is_tcp(fd) => return,
        _ => {}
    }
    line(fd, call, Outcome::LeftAlone(reason));
}

/// Force mode put an option back after the program's `setsockopt`. `restored`: the result of
/// putting the operator's value back, `None` when the program set that very value.
#[inline(always)]
pub fn put_back(fd: c_int, option: &SocketOption, restored: Option<sys::Result<()>>) {
    line(fd, "setsockopt()", Outcome::PutBack { option, restored });
}

enum Outcome<'a> {
    Configured { options: &'a [SocketOption], errors: &'a [c_int; 5], kept: Kept, current: &'a Timers },
    LeftAlone(Reason),
    PutBack { option: &'a SocketOption, restored: Option<sys::Result<()>> },
}

/// `fd 5 tcp6 connect(): ` and what was done, with the family and protocol asked of the
/// kernel: debug lines are rare, and the hooks stay lean by not carrying them around.
#[cold]
#[inline(never)]
fn line(fd: c_int, call: &str, outcome: Outcome) {
    Line::debug(|line| {
        line.text("fd ").number(fd as u64);
        if !matches!(outcome, Outcome::LeftAlone(Reason::NotTcp)) {
            let domain = sys::getsockopt(fd, SOL_SOCKET, libc::SO_DOMAIN).unwrap_or(libc::AF_INET);
            let protocol = sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(IPPROTO_TCP);
            line.text(" ").text(linux::label(domain, protocol));
        }
        line.text(" ").text(call).text(": ");
        match outcome {
            Outcome::Configured { options, errors, kept, current } => {
                // SO_KEEPALIVE is the last option.
                let keepalive_error = errors.get(options.len().wrapping_sub(1)).copied().unwrap_or(0);
                line.text(if keepalive_error == 0 { "keepalive on" } else { "keepalive not set" });
                for option in options.iter().filter(|option| option.level == IPPROTO_TCP) {
                    line.text(", ");
                    setting(line, option, kept, current);
                }
                for (option, &code) in options.iter().zip(errors).filter(|(_, code)| **code != 0) {
                    line.text("; ");
                    name(line, option).text(" failed: ").errno(code);
                }
            }
            Outcome::LeftAlone(reason) => {
                match reason {
                    Reason::NotTcp => reason_text(line, reason).text(", untouched"),
                    Reason::KeepaliveOn => reason_text(line, reason),
                    _ => reason_text(line.text("untouched, "), reason),
                };
            }
            Outcome::PutBack { option, restored } => {
                name(line, option);
                match restored {
                    None => line.text(" set to the value KEEPALIVE_FORCE keeps, "),
                    Some(Ok(())) => line.text(" changed back, KEEPALIVE_FORCE keeps "),
                    Some(Err(code)) => {
                        line.text(" could not be changed back (").errno(code).text("), KEEPALIVE_FORCE wanted ")
                    }
                };
                setting(line, option, Kept::NONE, &Timers::default());
            }
        }
    });
}

/// Apart from `line`: there, `Reason::text` became code for each reason rather than a table.
#[inline(never)]
fn reason_text<'a, 'b>(line: &'a mut Line<'b>, reason: Reason) -> &'a mut Line<'b> {
    line.text(reason.text())
}

// `name` and `setting` are the only places that tell the options apart, each a table.

#[inline(never)]
fn name<'a, 'b>(line: &'a mut Line<'b>, option: &SocketOption) -> &'a mut Line<'b> {
    line.text(option.name())
}

/// `idle 20s`, `idle kept as the program set it` for a timer in `kept` whose `current` value
/// is not ours (one equal to ours was set at socket(): only keepalive had been turned off), or
/// `keepalive on` for `SO_KEEPALIVE`.
#[inline(never)]
fn setting(line: &mut Line, option: &SocketOption, kept: Kept, current: &Timers) {
    let Some(which) = option.timer() else {
        line.text("keepalive on");
        return;
    };
    let (label, unit) = which.label();
    line.text(label);
    if kept.contains(which) && current.get(which) != Some(option.value) {
        line.text(" kept as the program set it");
    } else {
        line.text(" ").number(option.value as u64).text(unit);
    }
}
