//! The settings of this process: read from the environment once, then never changed.
//!
//! The constructor reads them before `main`, while the process is single-threaded. A hook that
//! runs earlier (another library's constructor making a socket) reads them itself. Reading is
//! pure, so a thread that loses the race to publish simply uses its own identical copy: no thread
//! ever waits for another, and only the one that publishes prints the warnings.

use core::cell::UnsafeCell;
use core::ffi::{CStr, c_char};
use core::sync::atomic::{AtomicU8, Ordering};
use keepalive_config::{Problem, Settings, VARIABLES};

use crate::log::Line;
use crate::sockopt::Plan;

// STATE holds the progress of the first read and, once published, the two switches the hooks
// test on every call, so that a socket the library leaves alone costs one load.
const UNREAD: u8 = 0;
const PUBLISHING: u8 = 1;
const PUBLISHED: u8 = 2;
const ENABLED: u8 = 4;
const DEBUG: u8 = 8;

static STATE: AtomicU8 = AtomicU8::new(UNREAD);

struct Published(UnsafeCell<Plan>);
// SAFETY: written once, by the thread that moved STATE from UNREAD to PUBLISHING, before it
// stores PUBLISHED with Release; read only after an Acquire load sees PUBLISHED.
unsafe impl Sync for Published {}
static PLAN: Published = Published(UnsafeCell::new(Plan::OFF));

/// Runs `work` with this process's plan if keepalive is enabled (`KEEPALIVE` is not off).
/// `caller` names the hook, for the debug line if it is the first to need the settings.
#[inline(always)]
pub fn when_enabled(caller: &'static str, work: impl FnOnce(&Plan)) {
    let state = STATE.load(Ordering::Acquire);
    if state & PUBLISHED == 0 {
        first_use(caller, work);
    } else if state & ENABLED != 0 {
        // SAFETY: see `Published`.
        work(unsafe { &*PLAN.0.get() });
    }
}

/// Whether `KEEPALIVE_DEBUG` lines are wanted (and keepalive is enabled).
#[inline(always)]
pub fn debugging(caller: &'static str) -> bool {
    let state = STATE.load(Ordering::Acquire);
    if state & PUBLISHED == 0 {
        let mut debug = false;
        first_use(caller, |plan| debug = plan.debug);
        debug
    } else {
        state & (ENABLED | DEBUG) == ENABLED | DEBUG
    }
}

#[cold]
#[inline(never)]
fn first_use(caller: &'static str, work: impl FnOnce(&Plan)) {
    let plan = read_and_publish(caller);
    if plan.enabled {
        work(&plan);
    }
}

/// Reads the settings in the constructor, unless a hook already has.
pub fn load() {
    if STATE.load(Ordering::Acquire) & PUBLISHED == 0 {
        read_and_publish("");
    }
}

#[cold]
#[inline(never)]
fn read_and_publish(caller: &'static str) -> Plan {
    let mut environment = Environment { values: [None; 2 * VARIABLES.len()] };
    environment.read();
    if STATE
        .compare_exchange(UNREAD, PUBLISHING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Plan::new(&keepalive_config::from_env(|name| environment.get(name), |_| {}));
    }
    crate::log::remember_stderr();
    let settings = keepalive_config::from_env(|name| environment.get(name), warn);
    let plan = Plan::new(&settings);
    // SAFETY: we won the race above; nobody reads PLAN until PUBLISHED is stored.
    unsafe { *PLAN.0.get() = plan };
    let switches = if plan.enabled { ENABLED } else { 0 } | if plan.debug { DEBUG } else { 0 };
    STATE.store(PUBLISHED | switches, Ordering::Release);
    if settings.debug {
        describe_loaded(&settings, caller);
    }
    plan
}

/// Every name we read: each variable's own, then its alias, in `VARIABLES` order.
fn names() -> impl Iterator<Item = Option<&'static CStr>> {
    VARIABLES.iter().flat_map(|variable| [Some(variable.name), variable.alias])
}

/// Our variables' values, found in one pass over the environment rather than one `getenv` each.
struct Environment {
    values: [Option<&'static [u8]>; 2 * VARIABLES.len()],
}

impl Environment {
    #[inline(always)]
    fn read(&mut self) {
        unsafe extern "C" {
            static environ: *const *const c_char;
        }
        // SAFETY: environ is a null-terminated array of NUL-terminated strings; it is only read.
        let mut entry = unsafe { environ };
        // SAFETY: as above; the array ends with a null pointer, never passed.
        while let Some(text) = unsafe { entry.as_ref() }.copied().filter(|text| !text.is_null()) {
            // SAFETY: a NUL-terminated string from environ.
            if let Some((name, value)) = unsafe { our_variable(text) } {
                let known = names().position(|known| known.is_some_and(|known| same(known.to_bytes(), name)));
                // The first definition wins, as with getenv.
                if let Some(slot @ None) = known.and_then(|index| self.values.get_mut(index)) {
                    *slot = Some(value);
                }
            }
            // SAFETY: not past the terminating null pointer, checked above.
            entry = unsafe { entry.add(1) };
        }
    }

    fn get(&self, name: &CStr) -> Option<&'static [u8]> {
        let index = names().position(|known| known.is_some_and(|known| same(known.to_bytes(), name.to_bytes())))?;
        *self.values.get(index)?
    }
}

/// Splits `NAME=value` if NAME starts with `KEEPALIVE`, in one pass over the string.
///
/// # Safety
/// `text` is a NUL-terminated string that outlives the program's use of it.
unsafe fn our_variable(text: *const c_char) -> Option<(&'static [u8], &'static [u8])> {
    const PREFIX: &[u8] = b"KEEPALIVE";
    let byte = |index: usize| {
        // SAFETY: only reached for indices up to and including the terminating NUL.
        unsafe { *text.add(index) as u8 }
    };
    if (0..PREFIX.len()).any(|index| PREFIX.get(index) != Some(&byte(index))) {
        return None;
    }
    let (mut equals, mut end) = (None, PREFIX.len());
    while byte(end) != 0 {
        if equals.is_none() && byte(end) == b'=' {
            equals = Some(end);
        }
        end += 1;
    }
    let equals = equals?;
    // SAFETY: `end` bytes before the NUL are readable and stay alive.
    let entry = unsafe { core::slice::from_raw_parts(text.cast::<u8>(), end) };
    let (name, value) = entry.split_at_checked(equals)?;
    Some((name, value.get(1..).unwrap_or_default()))
}

/// Byte-string equality, written out so that it compiles to a loop rather than a call to the C
/// library's `bcmp`: every C library function we import costs a symbol lookup in every process.
fn same(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).all(|(a, b)| a == b)
}

fn warn(problem: Problem) {
    Line::warning(|line| match problem {
        Problem::Invalid { name, value, expected } => {
            line.text("ignoring ").name(name).text("=").quoted(value).text(": ").text(expected);
        }
        Problem::Conflict { used, used_value, ignored, ignored_value } => {
            line.name(used).text("=").quoted(used_value).text(" and ");
            line.name(ignored).text("=").quoted(ignored_value).text(" differ; using ");
            line.name(used).text("=").quoted(used_value);
        }
    });
}

fn describe_loaded(settings: &Settings, caller: &'static str) {
    Line::debug(|line| describe_settings(line, settings, caller));
}

fn describe_settings(line: &mut Line, settings: &Settings, caller: &'static str) {
    if caller.is_empty() {
        line.text("loaded: ");
    } else {
        line.text("settings read in ").text(caller).text(", before our constructor ran: ");
    }
    if !settings.enabled {
        line.text("keepalive off (KEEPALIVE), every call forwarded untouched");
    } else {
        line.text("keepalive on");
        line.timer("idle", settings.idle, "s", "system");
        line.timer("intvl", settings.interval, "s", "system");
        line.timer("cnt", settings.count, "", "system");
        line.timer("user timeout", settings.user_timeout_ms, "ms", "untouched");
    }
}
