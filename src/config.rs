//! The settings of this process: read from the environment once, then never changed.
//!
//! The constructor reads them before `main`, while the process is single-threaded. A hook that
//! runs earlier (another library's constructor making a socket) reads them itself. Reading is
//! pure, so a thread that loses the race to publish simply uses its own identical copy: no thread
//! ever waits for another, and only the one that publishes prints the warnings.

use core::cell::UnsafeCell;
use core::ffi::c_char;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, Ordering};
use keepalive_config::{MAX_RULES, Problem, Settings, Values};

use crate::log::Line;
use crate::plan::Plan;

// STATE holds the progress of the first read and, once published, the two switches the hooks
// test on every call, so that a socket the library leaves alone costs one load.
const UNREAD: u8 = 0;
const PUBLISHING: u8 = 1;
const PUBLISHED: u8 = 2;
const ENABLED: u8 = 4;
// Set only together with ENABLED.
const DEBUG: u8 = 8;
const FORCING: u8 = 16;

static STATE: AtomicU8 = AtomicU8::new(UNREAD);

/// The hooks' shortcuts (see `Plan`), stored with Release once the plan is published, so that a
/// hook tests its bit in memory with one instruction: `socket()` sets the options and nothing
/// else; `connect()` and `accept()` leave a socket with keepalive on alone, silently.
static SHORTCUTS: AtomicU8 = AtomicU8::new(0);
pub const PLAIN_AT_SOCKET: u8 = 1;
pub const QUIET_IF_ON_AT_CONNECT: u8 = 2;
pub const QUIET_IF_ON_AT_ACCEPT: u8 = 4;

struct Published(UnsafeCell<Plan>);
// SAFETY: written once, by the thread that moved STATE from UNREAD to PUBLISHING, before it
// stores PUBLISHED with Release; read only after an Acquire load sees PUBLISHED.
unsafe impl Sync for Published {}
static PLAN: Published = Published(UnsafeCell::new(Plan::OFF));

/// What a hook's work needs of the plan, as switches of STATE (any one of them): keepalive on;
/// force mode or debug lines, the only ones to look at a socket the library leaves alone; force
/// mode; debug lines.
pub const WHEN_ENABLED: u8 = ENABLED;
pub const WHEN_NOTED: u8 = FORCING | DEBUG;
pub const WHEN_FORCING: u8 = FORCING;
pub const WHEN_DEBUG: u8 = DEBUG;

/// Whether work that needs one of the `wanted` switches may have to run: they are on, or the
/// settings are not published yet. One test of the state byte, for the hooks' hot paths.
#[inline(always)]
pub fn may_want(wanted: u8) -> bool {
    STATE.load(Ordering::Acquire) & (PUBLISHED | wanted) != PUBLISHED
}

/// The published plan, for work that needs one of the `wanted` switches.
pub enum Wanted {
    Yes(&'static Plan),
    /// The plan has none of them.
    No,
    /// Not published yet: see `first_plan`.
    NotRead,
}

/// The published plan if it has one of the `wanted` switches: one load of the state byte.
#[inline(always)]
pub fn published_plan(wanted: u8) -> Wanted {
    let state = STATE.load(Ordering::Acquire);
    if state & PUBLISHED == 0 {
        Wanted::NotRead
    } else if state & wanted != 0 {
        // SAFETY: see `Published`.
        Wanted::Yes(unsafe { &*PLAN.0.get() })
    } else {
        Wanted::No
    }
}

/// The published plan, if `shortcut` (one of the shortcuts above) applies to it.
#[inline(always)]
pub fn with_shortcut(shortcut: u8) -> Option<&'static Plan> {
    if SHORTCUTS.load(Ordering::Acquire) & shortcut != 0 {
        // SAFETY: see `Published`.
        return Some(unsafe { &*PLAN.0.get() });
    }
    None
}

/// Whether force mode is on; read by the constructor.
pub fn force() -> bool {
    STATE.load(Ordering::Acquire) & FORCING != 0
}

/// Whether the plan has one of the `wanted` switches, reading the settings if no hook or
/// constructor has yet.
#[cold]
#[inline(never)]
pub fn wants(wanted: u8, caller: &'static str) -> bool {
    match published_plan(wanted) {
        Wanted::Yes(_) => true,
        Wanted::No => false,
        Wanted::NotRead => first_plan(wanted, caller, &mut MaybeUninit::uninit()).is_some(),
    }
}

/// The plan for the first hook call of a process, if it has one of the `wanted` switches: read
/// and published now, or, when another thread is publishing at this moment, an identical copy
/// of our own built in `own`. `caller` names the hook, for the debug line. The copy is too large
/// for a hook's frame: `own` belongs to a cold one.
#[inline(never)]
pub fn first_plan<'a>(wanted: u8, caller: &'static str, own: &'a mut MaybeUninit<Plan>) -> Option<&'a Plan> {
    let plan = match read_and_publish(caller) {
        Some(published) => published,
        None => {
            let own = own.write(Plan::OFF);
            read_settings(&mut own.settings, false);
            own.prepare();
            own
        }
    };
    (switches(plan) & wanted != 0).then_some(plan)
}

/// The switches STATE holds for `plan` once it is published.
fn switches(plan: &Plan) -> u8 {
    match plan.enabled {
        true => ENABLED | if plan.debug { DEBUG } else { 0 } | if plan.force { FORCING } else { 0 },
        false => 0,
    }
}

/// Reads the settings in the constructor, unless a hook already has.
pub fn load() {
    if STATE.load(Ordering::Acquire) & PUBLISHED == 0 {
        read_and_publish("");
    }
}

/// Reads the settings into PLAN and publishes them, or returns `None` if another thread is
/// doing so. The plan is built in place: it holds two rule tables, too large to copy around.
#[cold]
#[inline(never)]
fn read_and_publish(caller: &'static str) -> Option<&'static Plan> {
    if STATE.compare_exchange(UNREAD, PUBLISHING, Ordering::Acquire, Ordering::Relaxed).is_err() {
        return None;
    }
    // SAFETY: we won the race above; nobody reads PLAN until PUBLISHED is stored, and this
    // exclusive reference ends before that.
    let plan = unsafe { &mut *PLAN.0.get() };
    read_settings(&mut plan.settings, true);
    // Only debug lines need to know which file descriptor 2 is: without them, loading the library
    // makes no system call but one when our variables are set (secure-execution mode or not).
    if plan.settings.debug {
        crate::log::remember_stderr();
    }
    plan.prepare();
    if plan.force {
        crate::held::prepare();
    }
    // From here on other threads may read the plan: only a shared reference is left.
    let plan: &'static Plan = plan;
    STATE.store(PUBLISHED | switches(plan), Ordering::Release);
    let shortcuts = [
        (plan.plain_at_socket, PLAIN_AT_SOCKET),
        (plan.quiet_if_on_at_connect, QUIET_IF_ON_AT_CONNECT),
        (plan.quiet_if_on_at_accept, QUIET_IF_ON_AT_ACCEPT),
    ];
    let shortcuts = shortcuts.iter().fold(0, |all, (on, bit)| if *on && plan.enabled { all | bit } else { all });
    SHORTCUTS.store(shortcuts, Ordering::Release);
    if plan.settings.debug {
        describe_loaded(&plan.settings, caller);
    }
    Some(plan)
}

/// Reads the settings from the environment into `settings`, warning of problems if `warn_now`
/// (the thread that publishes them). One copy of the parser serves both callers.
#[inline(never)]
fn read_settings(settings: &mut Settings, warn_now: bool) {
    let environment = Environment::read();
    *settings = keepalive_config::from_values(&environment.values, |problem| {
        if warn_now {
            warn(problem)
        }
    });
}

/// Our variables found in the environment, in one pass over it rather than one `getenv` each.
struct Environment {
    values: Values<'static>,
}

impl Environment {
    /// No values, each `None`: all zeros, copied with one `memset`, where a literal costs an
    /// instruction for each entry. A constant, so that the compiler checks that all zeros is one.
    // SAFETY: all zeros is a valid Environment: `None` in each entry.
    const EMPTY: Environment = unsafe { MaybeUninit::<Environment>::zeroed().assume_init() };

    /// Our variables, or none at all in secure-execution mode (a set-user-ID or set-group-ID
    /// program, or one gaining capabilities): they come from the user who runs it, who must not
    /// choose the timers of its sockets or read its connections in debug lines, just as the
    /// loader ignores `LD_*` then. Keepalive stays on with the system's timers.
    fn read() -> Environment {
        unsafe extern "C" {
            // Mutable: setenv() and putenv() replace the array. Read once, by value.
            static mut environ: *const *const c_char;
        }
        let mut environment = Environment::EMPTY;
        let mut found = false;
        // SAFETY: a copy of the pointer, no reference to the static; environ is a null-terminated
        // array of NUL-terminated strings, only read here.
        let mut entry = unsafe { environ };
        // SAFETY: as above; the array ends with a null pointer, never passed.
        while let Some(text) = unsafe { entry.as_ref() }.copied().filter(|text| !text.is_null()) {
            // SAFETY: a NUL-terminated string from environ.
            if let Some(variable) = unsafe { our_variable(text) } {
                found |= environment.remember(variable);
            }
            // SAFETY: not past the terminating null pointer, checked above.
            entry = unsafe { entry.add(1) };
        }
        // Asked of the kernel only when there is something to ignore.
        if found && crate::sys::secure_execution() {
            return Environment::EMPTY;
        }
        environment
    }

    /// Keeps `value` if `name` is one of ours, seen for the first time (the first definition
    /// wins, as with getenv); whether it is ours.
    fn remember(&mut self, (name, value): (&'static [u8], &'static [u8])) -> bool {
        let Some(slot) = keepalive_config::name_index(name).and_then(|index| self.values.get_mut(index)) else {
            return false;
        };
        slot.get_or_insert(value);
        true
    }
}

/// Splits `NAME=value` if NAME may be ours (`KEEPALIVE…`, or libkeepalive's `KEEP…`,
/// libdontdie's `DD_…` and msantos/libkeepalive's `TCP_…` and `LIBKEEPALIVE_…`), in one pass
/// over the string.
///
/// # Safety
/// `text` is a NUL-terminated string that outlives the program's use of it.
unsafe fn our_variable(text: *const c_char) -> Option<(&'static [u8], &'static [u8])> {
    let byte = |index: usize| {
        // SAFETY: only reached for indices up to and including the terminating NUL.
        unsafe { *text.add(index) as u8 }
    };
    let prefix: &[u8] = match byte(0) {
        b'D' => b"DD_",
        b'T' => b"TCP_",
        b'L' => b"LIBKEEPALIVE_",
        _ => b"KEEP",
    };
    if (0..prefix.len()).any(|index| prefix.get(index) != Some(&byte(index))) {
        return None;
    }
    let (mut equals, mut end) = (None, prefix.len());
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

fn warn(problem: Problem) {
    Line::warning(|line| match problem {
        Problem::Invalid { name, value, expected } => {
            line.text("ignoring ").name(name).text("=").quoted(value).text(": ").text(expected);
        }
        Problem::InvalidEntry { name, entry, expected } => {
            line.text("ignoring ").quoted(entry).text(" in ").name(name).text(": ").text(expected);
        }
        Problem::TooManyEntries { name, first_ignored } => {
            line.name(name).text(" has more than ").number(MAX_RULES as u64).text(" entries; ignoring ");
            line.quoted(first_ignored).text(" and the rest");
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

/// The library's version, in the load line. The `keepalive` command finds it in the file, so the
/// text must be there whole: `black_box` keeps the compiler from building it out of immediates.
/// The comma ends the version for that reader.
const VERSION: &str = concat!("libkeepalive version ", env!("CARGO_PKG_VERSION"), ", ");

fn describe_settings(line: &mut Line, settings: &Settings, caller: &'static str) {
    if caller.is_empty() {
        line.text("loaded: ");
    } else {
        line.text("settings read in ").text(caller).text(", before our constructor ran: ");
    }
    line.text(core::hint::black_box(VERSION));
    if !settings.enabled {
        line.text("keepalive off (KEEPALIVE), every call forwarded untouched");
    } else {
        line.text("keepalive on");
        line.timer(", idle ", settings.idle, "s", "system");
        line.timer(", intvl ", settings.interval, "s", "system");
        line.timer(", cnt ", settings.count, "", "system");
        line.timer(", user timeout ", settings.user_timeout_ms, "ms", "untouched");
        if settings.force {
            line.text(", forced");
        }
        if settings.side != keepalive_config::Side::Both {
            line.text(", ").text(settings.side.name()).text(" side only");
        }
        for (label, rules) in [(", only ", &settings.only), (", skip ", &settings.skip)] {
            if rules.configured {
                line.text(label).number(rules.rules().len() as u64).text(" rules");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ffi::CStr;

    fn leaked(text: String) -> &'static [u8] {
        text.leak().as_bytes()
    }

    fn value(environment: &Environment, name: &CStr) -> Option<&'static [u8]> {
        environment.values[keepalive_config::name_index(name.to_bytes()).unwrap()]
    }

    #[test]
    fn other_programs_variables_never_crowd_ours_out() {
        let mut environment = Environment::EMPTY;
        assert!(environment.remember((b"DD_DEBUG", b"1")));
        for index in 0..100 {
            assert!(!environment.remember((leaked(format!("DD_OTHER_{index}")), b"x")));
            if index == 50 {
                environment.remember((b"KEEPALIVE_IDLE", b"20"));
                environment.remember((b"DD_DEBUG", b"0"));
            }
        }
        environment.remember((b"KEEPALIVE_IDLE", b"30"));
        environment.remember((b"KEEPALIVE_CNT", b"4"));
        assert_eq!(value(&environment, c"DD_DEBUG"), Some(&b"1"[..]), "the first definition wins");
        assert_eq!(value(&environment, c"KEEPALIVE_IDLE"), Some(&b"20"[..]));
        assert_eq!(value(&environment, c"KEEPALIVE_CNT"), Some(&b"4"[..]));
        assert_eq!(value(&environment, c"KEEPALIVE_INTVL"), None);
    }

    #[test]
    fn a_table_full_of_our_names_still_answers_for_each() {
        let mut environment = Environment::EMPTY;
        for name in keepalive_config::NAMES {
            environment.remember((name.to_bytes(), b"first"));
        }
        environment.remember((b"DD_OTHER", b"x"));
        for name in keepalive_config::NAMES {
            environment.remember((name.to_bytes(), b"second"));
            assert_eq!(value(&environment, name), Some(&b"first"[..]), "{name:?}");
        }
    }
}
