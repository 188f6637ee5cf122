//! The settings of this process: read from the environment once, then never changed.
//!
//! The constructor reads them before `main`, while the process is single-threaded. A hook that
//! runs earlier (another library's constructor making a socket) reads them itself. Reading is
//! pure, so a thread that loses the race to publish simply uses its own identical copy: no thread
//! ever waits for another, and only the one that publishes prints the warnings.

use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::sync::atomic::{AtomicU8, Ordering};
use keepalive_config::{Problem, Settings};

use crate::log::Line;

const UNREAD: u8 = 0;
const PUBLISHING: u8 = 1;
const PUBLISHED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNREAD);

struct Published(UnsafeCell<Settings>);
// SAFETY: written once, by the thread that moved STATE from UNREAD to PUBLISHING, before it
// stores PUBLISHED with Release; read only after an Acquire load sees PUBLISHED.
unsafe impl Sync for Published {}
static SETTINGS: Published = Published(UnsafeCell::new(Settings::DEFAULT));

/// This process's settings. `caller` names the hook, for the debug line if it comes first.
#[inline]
pub fn settings(caller: &'static str) -> Settings {
    if STATE.load(Ordering::Acquire) == PUBLISHED {
        // SAFETY: see `Published`.
        unsafe { *SETTINGS.0.get() }
    } else {
        read_and_publish(caller)
    }
}

#[cold]
fn read_and_publish(caller: &'static str) -> Settings {
    if STATE
        .compare_exchange(UNREAD, PUBLISHING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return keepalive_config::from_env(getenv, |_| {});
    }
    crate::log::remember_stderr();
    let settings = keepalive_config::from_env(getenv, warn);
    // SAFETY: we won the race above; nobody reads SETTINGS until PUBLISHED is stored.
    unsafe { *SETTINGS.0.get() = settings };
    STATE.store(PUBLISHED, Ordering::Release);
    if settings.debug {
        describe_loaded(&settings, caller);
    }
    settings
}

fn getenv<'a>(name: &CStr) -> Option<&'a [u8]> {
    // SAFETY: getenv with a NUL-terminated name; the value is only read while from_env runs.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    // SAFETY: a non-null getenv result is a NUL-terminated string.
    (!value.is_null()).then(|| unsafe { CStr::from_ptr(value) }.to_bytes())
}

fn warn(problem: Problem) {
    let mut line = Line::warning();
    match problem {
        Problem::Invalid { name, value, expected } => {
            line.text("ignoring ").name(name).text("=").quoted(value).text(": ").text(expected);
        }
        Problem::Conflict { used, used_value, ignored, ignored_value } => {
            line.name(used).text("=").quoted(used_value).text(" and ");
            line.name(ignored).text("=").quoted(ignored_value).text(" differ; using ");
            line.name(used).text("=").quoted(used_value);
        }
    }
    line.send();
}

fn describe_loaded(settings: &Settings, caller: &'static str) {
    let mut line = Line::debug();
    if caller.is_empty() {
        line.text("loaded: ");
    } else {
        line.text("settings read in ").text(caller).text(", before our constructor ran: ");
    }
    if !settings.enabled {
        line.text("keepalive off (KEEPALIVE), every call forwarded untouched");
    } else {
        line.text("keepalive on");
        describe_timer(&mut line, "idle", settings.idle, "s", "system");
        describe_timer(&mut line, "intvl", settings.interval, "s", "system");
        describe_timer(&mut line, "cnt", settings.count, "", "system");
        describe_timer(&mut line, "user timeout", settings.user_timeout_ms, "ms", "untouched");
    }
    line.send_to_original_stderr();
}

/// `, idle 20s` for a configured value, `, idle system` otherwise.
pub fn describe_timer(line: &mut Line, label: &str, value: Option<u32>, unit: &str, unset: &str) {
    line.text(", ").text(label).text(" ");
    match value {
        Some(value) => line.number(u64::from(value)).text(unit),
        None => line.text(unset),
    };
}
