//! The debug lines, one per decision carried out: what was set, kept or left alone, and why.

use core::ffi::c_int;
use keepalive_policy::linux;
use keepalive_policy::{Kept, Reason, SocketOption, Timers};
use libc::{IPPROTO_TCP, SOL_SOCKET};

use crate::log::Line;
use crate::plan::Plan;
use crate::sys;

/// After every option was set: `errors` holds each option's error, 0 for none.
#[cold]
#[inline(never)]
pub fn configured(fd: c_int, call: &str, plan: &Plan, errors: &[c_int; 5]) {
    Line::debug(|line| {
        describe(line, fd, call);
        // SO_KEEPALIVE is the plan's last option.
        let keepalive_error = errors.get(plan.options().len().wrapping_sub(1)).copied().unwrap_or(0);
        line.text(if keepalive_error == 0 { "keepalive on" } else { "keepalive not set" });
        for option in plan.options().iter().filter(|option| option.level == IPPROTO_TCP) {
            timer(line, option);
        }
        for (option, &code) in plan.options().iter().zip(errors).filter(|(_, code)| **code != 0) {
            line.text("; ").text(option.name()).text(" failed: ").errno(code);
        }
    });
}

/// After the options nobody chose were set; `current` has the values the socket had.
#[cold]
#[inline(never)]
pub fn configured_unchosen(fd: c_int, call: &str, plan: &Plan, kept: Kept, current: Timers) {
    Line::debug(|line| {
        describe(line, fd, call);
        line.text("keepalive on");
        for option in plan.options() {
            let Some(which) = option.timer() else { continue };
            // A kept value equal to ours was set at socket(): only keepalive had been turned off.
            if kept.contains(which) && current.get(which) != Some(option.value) {
                let (label, _) = which.label();
                line.text(", ").text(label).text(" kept as the program set it");
            } else {
                timer(line, option);
            }
        }
    });
}

/// A socket left as it is. Not TCP and unreadable ones are silent except at `socket()`, and
/// so are the program's own `setsockopt` calls that force mode lets stand.
#[cold]
#[inline(never)]
pub fn left_alone(fd: c_int, call: &str, reason: Reason, setsockopt: bool) {
    match reason {
        Reason::NotTcp if call == "socket()" => Line::debug(|line| {
            line.text("fd ").number(fd as u64).text(" socket(): not TCP, untouched");
        }),
        Reason::NotTcp | Reason::Unreadable | Reason::Disabled => {}
        _ if setsockopt => {}
        Reason::KeepaliveOn => {
            if crate::gather::is_tcp(fd) {
                Line::debug(|line| {
                    describe(line, fd, call);
                    line.text(reason.text());
                });
            }
        }
        _ => Line::debug(|line| {
            describe(line, fd, call);
            line.text("untouched, ").text(reason.text());
        }),
    }
}

/// Force mode put an option back after the program's `setsockopt`. `restored`: the result of
/// putting the operator's value back, `None` when the program set that very value.
#[cold]
#[inline(never)]
pub fn put_back(fd: c_int, option: &SocketOption, restored: Option<sys::Result<()>>) {
    Line::debug(|line| {
        describe(line, fd, "setsockopt()");
        line.text(option.name());
        match restored {
            None => line.text(" set to the value KEEPALIVE_FORCE keeps, "),
            Some(Ok(())) => line.text(" changed back, KEEPALIVE_FORCE keeps "),
            Some(Err(code)) => line.text(" could not be changed back (").errno(code).text("), KEEPALIVE_FORCE wanted "),
        };
        match option.timer() {
            Some(which) => {
                let (label, unit) = which.label();
                line.text(label).text(" ").number(option.value as u64).text(unit);
            }
            None => {
                line.text("keepalive on");
            }
        }
    });
}

fn timer(line: &mut Line, option: &SocketOption) {
    if let Some(which) = option.timer() {
        let (label, unit) = which.label();
        line.timer(label, Some(option.value as u32), unit, "");
    }
}

/// `fd 5 tcp6 connect(): `, with the family and protocol asked of the kernel: debug lines are
/// rare, and the hooks stay lean by not carrying them around.
fn describe(line: &mut Line, fd: c_int, call: &str) {
    let domain = sys::getsockopt(fd, SOL_SOCKET, libc::SO_DOMAIN).unwrap_or(libc::AF_INET);
    let protocol = sys::getsockopt(fd, SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(IPPROTO_TCP);
    line.text("fd ").number(fd as u64).text(" ").text(linux::label(domain, protocol));
    line.text(" ").text(call).text(": ");
}
