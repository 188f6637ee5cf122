//! Carrying a decision out: the options set, the force table kept, and the one debug line.

use core::ffi::c_int;
use keepalive_policy::{Decision, Fact, Facts, Kept, Moment, Reason, SocketOption};

use crate::describe;
use crate::gather::Socket;
use crate::plan::Plan;
use crate::{fresh, held, sys};

/// Does what `decision` says to `socket`; `call` names the hook in debug lines.
#[inline(always)]
pub fn carry_out(decision: Decision, socket: &Socket, plan: &Plan, facts: &Facts, call: &'static str) {
    let fd = socket.fd;
    if plan.force && facts.held == Fact::Known(false) {
        // Found stale while gathering: another socket has the number now.
        held::release(socket.holder);
    }
    match decision {
        Decision::SetAll => set_all(fd, plan, call),
        Decision::LeaveAlone(reason) => {
            if plan.force || plan.debug || reason == Reason::WaitingForPeer {
                leave_alone(socket, plan, facts, reason, call);
            }
        }
        Decision::SetUnchosen(kept) => set_unchosen(fd, plan, facts, kept, call),
        Decision::PutBack(option) => put_back(fd, plan, &option),
        // `settle` gathers every fact asked for.
        Decision::Need(_) => {}
    }
}

/// Sets every option of the plan. A failure changes nothing for the program; with
/// `KEEPALIVE_DEBUG` on, a line shows it. In force mode the socket is held from now on.
#[inline(always)]
fn set_all(fd: c_int, plan: &Plan, call: &'static str) {
    if plan.force {
        held::hold(fd);
    }
    if plan.debug {
        return set_all_and_describe(fd, plan, call);
    }
    set_options_except(fd, plan, Kept::NONE);
}

/// The `setsockopt` calls of `SetAll`, with nothing else, inlined into `socket()`'s hot path.
#[inline(always)]
pub fn set_options(fd: c_int, plan: &Plan) {
    // Unused slots have level 0, which no option of ours has: no length to bound-check.
    for option in plan.options.slots().iter().take_while(|option| option.level != 0) {
        let _ = sys::setsockopt_inline(fd, option.level, option.name, option.value);
    }
}

/// The `setsockopt` calls of `SetAll` (`Kept::NONE`) or `SetUnchosen`, one copy for the cold paths.
#[inline(never)]
fn set_options_except(fd: c_int, plan: &Plan, kept: Kept) {
    for option in plan.options.except(kept) {
        let _ = sys::setsockopt(fd, option.level, option.name, option.value);
    }
}

fn set_all_and_describe(fd: c_int, plan: &Plan, call: &'static str) {
    let mut errors = [0; 5];
    for (option, error) in plan.options().iter().zip(&mut errors) {
        *error = sys::setsockopt(fd, option.level, option.name, option.value).err().unwrap_or(0);
    }
    describe::configured(fd, call, plan, &errors, Kept::NONE, &Default::default());
}

/// Keepalive on, and each configured timer that still has the value a fresh socket gets: a
/// timer that differs was chosen by someone (the program, or whoever made the listener).
fn set_unchosen(fd: c_int, plan: &Plan, facts: &Facts, kept: Kept, call: &'static str) {
    set_options_except(fd, plan, kept);
    if plan.debug {
        let current = match facts.timers {
            Fact::Known(current) => current,
            _ => Default::default(),
        };
        describe::configured(fd, call, plan, &[0; 5], kept, &current);
    }
}

/// With side or peer rules, a fresh socket waits for `connect()` or `accept()`, which will need
/// the timers it has now. In force mode a socket left alone is forgotten (its number may have
/// been a socket the library held), except one held already, whose accepted socket is held too.
fn leave_alone(socket: &Socket, plan: &Plan, facts: &Facts, reason: Reason, call: &'static str) {
    let fd = socket.fd;
    if reason == Reason::WaitingForPeer {
        fresh::learn(fd);
    }
    let setsockopt = matches!(facts.moment, Moment::Setsockopt { .. });
    if plan.force {
        match reason {
            Reason::Held if socket.holder != fd => held::hold(fd),
            Reason::Held => {}
            _ if !setsockopt => held::release(fd),
            _ => {}
        }
    }
    if plan.debug {
        describe::left_alone(fd, call, reason, setsockopt);
    }
}

/// Force mode, after the program's `setsockopt`: the operator's value goes back. With debug
/// lines, the value the program set is read first: the line says whether it was changed back,
/// or was the operator's already.
fn put_back(fd: c_int, plan: &Plan, option: &SocketOption) {
    if !plan.debug {
        let _ = sys::setsockopt(fd, option.level, option.name, option.value);
        return;
    }
    if sys::getsockopt(fd, option.level, option.name) == Ok(option.value) {
        return describe::put_back(fd, option, None);
    }
    describe::put_back(fd, option, Some(sys::setsockopt(fd, option.level, option.name, option.value)));
}
