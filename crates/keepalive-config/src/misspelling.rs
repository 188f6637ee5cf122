//! Which of our names a variable that is not ours was probably meant to be. Only the `keepalive`
//! command asks, once, before it starts or configures anything: the library, loaded into every
//! process of a tree, would say it once per process, and in programs someone else started a
//! `KEEPALIVE_*` variable that is not ours is most likely that program's own.

use core::ffi::CStr;

use crate::{NAMES, is_name};

/// Our name that `name` differs from by one character (left out, added, replaced, or two
/// swapped) or by case alone: `KEEPALIVE_IDEL` was meant to be `KEEPALIVE_IDLE`. Only names with
/// `KEEPALIVE_` in them are offered, not `KEEPALIVE` alone (`KEEP_ALIVE` may well be another
/// program's) nor the older libraries' names. `None` for our names themselves.
pub fn meant(name: &[u8]) -> Option<&'static CStr> {
    if is_name(name) {
        return None;
    }
    let mut ours = NAMES.into_iter().filter(|known| known.to_bytes().starts_with(b"KEEPALIVE_"));
    ours.find(|known| one_edit_apart(name, known.to_bytes()))
}

/// Whether `a` and `b`, compared without case, are equal or one edit apart.
fn one_edit_apart(a: &[u8], b: &[u8]) -> bool {
    let same = |a: &[u8], b: &[u8]| a.eq_ignore_ascii_case(b);
    let common = a.iter().zip(b).take_while(|(x, y)| x.eq_ignore_ascii_case(y)).count();
    match (&a[common..], &b[common..]) {
        ([], []) => true,
        ([x, y, a_rest @ ..], [p, q, b_rest @ ..])
            if x.eq_ignore_ascii_case(q) && y.eq_ignore_ascii_case(p) && same(a_rest, b_rest) =>
        {
            true
        }
        ([_, a_rest @ ..], [_, b_rest @ ..]) if same(a_rest, b_rest) => true,
        ([_, a_rest @ ..], b_rest) if same(a_rest, b_rest) => true,
        (a_rest, [_, b_rest @ ..]) => same(a_rest, b_rest),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slip_of_the_finger_names_ours() {
        for (typed, ours) in [
            ("KEEPALIVE_IDEL", c"KEEPALIVE_IDLE"),
            ("KEEPALIVE_IDL", c"KEEPALIVE_IDLE"),
            ("KEEPALIVE_IDLEE", c"KEEPALIVE_IDLE"),
            ("KEEPALIVE_INTVAL", c"KEEPALIVE_INTVL"),
            ("KEEPALIVE_CONT", c"KEEPALIVE_CNT"),
            ("KEEPALIVE_USERTIMEOUT", c"KEEPALIVE_USER_TIMEOUT"),
            ("KEEP_ALIVE_IDLE", c"KEEPALIVE_IDLE"),
            ("keepalive_idle", c"KEEPALIVE_IDLE"),
            ("KEEPALIVE_FORCED", c"KEEPALIVE_FORCE"),
            ("KEEPALIVE_SKIPS", c"KEEPALIVE_SKIP"),
        ] {
            assert_eq!(meant(typed.as_bytes()), Some(ours), "{typed}");
        }
    }

    #[test]
    fn other_programs_names_and_ours_are_left_alone() {
        for name in [
            "KEEPALIVE_IDLE",
            "KEEPALIVE_COUNT",
            "KEEPALIVE",
            "KEEPALIVE_TIMEOUT",
            "KEEPALIVE_TIME",
            "KEEPALIVE_INTERVAL_MS",
            "KEEPALIVE_ENABLED",
            "KEEP_ALIVE",
            "KEEPALIVES",
            "TCP_KEEPIDLE",
            "KEEPIDL",
            "KEEPALIVE_LIBRARY",
            "KEEPALIVE_SUPERVISOR",
            "",
        ] {
            assert_eq!(meant(name.as_bytes()), None, "{name}");
        }
    }
}
