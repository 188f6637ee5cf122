//! The command line, and turning its options into the library's environment variables.
//!
//! Every value goes through `keepalive_config`, the parser the library itself uses, so the
//! command accepts exactly what the library accepts and nothing else.

use std::ffi::{CStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::streams::stderr_line;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, ValueEnum};
use keepalive_config::rules::{RuleError, parse_rules};
use keepalive_config::value::parse_duration_ms;
use keepalive_config::{
    COUNT, DEBUG, FORCE, IDLE, INTERVAL, Kind, MAX_RULES, ONLY, Problem, SIDE, SKIP, USER_TIMEOUT, Variable,
};

const EXAMPLES: &str = "\
Examples:
  keepalive --idle 60 --interval 10 --count 3 -- ./legacy-daemon --port 8080
  keepalive --idle 4m --only 10.0.0.0/8 --print-env --format dockerfile
  keepalive --status $(pidof legacy-daemon)
  keepalive --idle 60 --interval 10 --count 3 --attach $(pidof legacy-daemon) --follow

A dead peer is noticed about IDLE + INTERVAL x COUNT after the connection fell silent.
Variables already in the environment (KEEPALIVE_*) still apply; options override them.";

#[derive(Parser, Debug)]
#[command(
    name = "keepalive",
    // Our own --version, which also reports the library.
    disable_version_flag = true,
    // So that `--user-timeout -1` reaches the validator and is refused with the reason.
    allow_negative_numbers = true,
    about = "Run a program with TCP keepalive on every connection it makes or accepts",
    after_help = EXAMPLES,
    override_usage = "keepalive [OPTIONS] [--] PROGRAM [ARGS]...\n       \
                      keepalive [OPTIONS] --print-env [--format FORMAT]\n       \
                      keepalive --status [PID]\n       \
                      keepalive [OPTIONS] --attach PID... [--follow [INTERVAL]]\n       \
                      keepalive [OPTIONS] --cgroup DIR\n       \
                      keepalive --cgroup DIR --detach\n       \
                      keepalive --status DIR\n       \
                      keepalive --version [--library PATH]"
)]
pub struct Cli {
    /// Silence before the first probe (20, 20s, 5m; 1s to 32767s) [KEEPALIVE_IDLE]
    #[arg(long, value_name = "DURATION", value_parser = |text: &str| Setting::new(&IDLE, text))]
    pub idle: Option<Setting>,

    /// Time between unanswered probes (5, 5s, 1m) [KEEPALIVE_INTVL]
    #[arg(long, value_name = "DURATION", value_parser = |text: &str| Setting::new(&INTERVAL, text))]
    pub interval: Option<Setting>,

    /// Unanswered probes before the connection is dropped (1 to 127) [KEEPALIVE_CNT]
    #[arg(long, value_name = "N", value_parser = |text: &str| Setting::new(&COUNT, text))]
    pub count: Option<Setting>,

    /// How long sent data may stay unacknowledged (30s, 1500ms; 0 keeps the kernel's) [KEEPALIVE_USER_TIMEOUT]
    #[arg(long, value_name = "DURATION", value_parser = |text: &str| Setting::new(&USER_TIMEOUT, text))]
    pub user_timeout: Option<Setting>,

    /// Keep the program from turning keepalive off or changing these timers [KEEPALIVE_FORCE]
    #[arg(long)]
    pub force: bool,

    /// Configure only connections to or from these peers (10.0.0.0/8,[::1],:6379) [KEEPALIVE_ONLY]
    #[arg(long, value_name = "RULES", value_parser = |text: &str| Setting::new(&ONLY, text))]
    pub only: Option<Setting>,

    /// Never configure connections to or from these peers [KEEPALIVE_SKIP]
    #[arg(long, value_name = "RULES", value_parser = |text: &str| Setting::new(&SKIP, text))]
    pub skip: Option<Setting>,

    /// Which connections: both, client (connect) or server (accept) [KEEPALIVE_SIDE]
    #[arg(long, value_name = "SIDE", value_parser = |text: &str| Setting::new(&SIDE, text))]
    pub side: Option<Setting>,

    /// One line on stderr for every decision the library makes [KEEPALIVE_DEBUG]
    #[arg(short, long)]
    pub verbose: bool,

    /// How to reach the program: the preload, the seccomp supervisor, or auto: the supervisor for
    /// static and Go programs, the preload for the others
    #[arg(long, value_enum, value_name = "HOW", default_value = "auto")]
    pub via: Via,

    /// Under the supervisor, run a set-user-ID or file-capabilities program without its privileges
    #[arg(long)]
    pub allow_privilege_drop: bool,

    /// Print the environment that does the same, for a script, Dockerfile or systemd unit
    #[arg(long, conflicts_with_all = ["command", "status", "attach"])]
    pub print_env: bool,

    /// How --print-env writes it [default: shell]
    // An Option, so that `parse` can tell it was given. clap's `requires = "print_env"` would not
    // do: it is waived when PROGRAM or --status, which conflict with --print-env, are present.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Show a process's TCP connections and whether keepalive runs on them, or what --cgroup
    /// attached to DIR; alone, every process with TCP sockets and what protects it
    #[arg(long, value_name = "PID|DIR", num_args = 0..=1, value_parser = StatusOf::parse, conflicts_with_all = [
        "command", "idle", "interval", "count", "user_timeout", "force", "only", "skip", "side", "verbose", "attach",
        "cgroup",
        "allow_privilege_drop",
    ])]
    pub status: Option<Option<StatusOf>>,

    /// Configure the TCP sockets running processes hold now, under the same rules
    #[arg(long, value_name = "PID", num_args = 1.., conflicts_with_all = ["command", "cgroup"])]
    pub attach: Option<Vec<u32>>,

    /// With --attach: rescan every INTERVAL (default 2s) until the processes exit
    #[arg(
        long,
        value_name = "INTERVAL",
        num_args = 0..=1,
        default_missing_value = "2",
        requires = "attach",
        value_parser = parse_interval
    )]
    pub follow: Option<Duration>,

    /// Have the kernel apply the options to every connection in this cgroup v2 (eBPF; CAP_BPF, CAP_NET_ADMIN)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["command", "print_env", "verbose"])]
    pub cgroup: Option<PathBuf>,

    /// With --cgroup: remove ours from the cgroup
    #[arg(long, requires = "cgroup", conflicts_with_all = [
        "idle", "interval", "count", "user_timeout", "force", "only", "skip", "side",
    ])]
    pub detach: bool,

    /// Use this libkeepalive.so; with --print-env, the path as the target system has it
    #[arg(long, value_name = "PATH", conflicts_with = "status")]
    pub library: Option<PathBuf>,

    /// Print the version, and the version and path of the library it would preload
    #[arg(short = 'V', long)]
    pub version: bool,

    /// The program to run, and its arguments
    // Not required with --format alone either, so that `parse` says what --format needs.
    #[arg(
        value_name = "PROGRAM",
        trailing_var_arg = true,
        required_unless_present_any = ["print_env", "status", "format", "attach", "cgroup", "version"]
    )]
    pub command: Vec<OsString>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// the supervisor for static and Go programs, the preload for the others
    Auto,
    /// LD_PRELOAD of libkeepalive.so
    Preload,
    /// a seccomp user-notification supervisor (Linux 5.8 or later)
    Seccomp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `export NAME=value` lines for sh
    Shell,
    /// one `ENV` instruction
    Dockerfile,
    /// a `[Service]` drop-in with `Environment=` lines
    Systemd,
}

/// What `--status` reports on: a process by PID, or a cgroup by its directory.
#[derive(Clone, Debug)]
pub enum StatusOf {
    Process(u32),
    Cgroup(PathBuf),
}

impl StatusOf {
    fn parse(text: &str) -> Result<StatusOf, String> {
        if text.bytes().all(|byte| byte.is_ascii_digit()) {
            text.parse().map(StatusOf::Process).map_err(|_| "not a process ID".to_owned())
        } else if text.contains('/') {
            Ok(StatusOf::Cgroup(PathBuf::from(text)))
        } else {
            Err("expected a process ID, or a cgroup directory (with a /)".to_owned())
        }
    }
}

/// A validated value for one of the library's variables, kept as the user wrote it.
#[derive(Clone, Debug)]
pub struct Setting {
    pub variable: &'static Variable,
    pub value: String,
}

impl Setting {
    fn new(variable: &'static Variable, text: &str) -> Result<Setting, String> {
        let value = single_spaced(text);
        if value.contains(char::is_control) {
            return Err("control characters are not accepted".to_owned());
        }
        if let Kind::Rules = variable.kind {
            check_rules(variable, &value)?;
        } else if variable.parse(value.as_bytes()).is_none() {
            return Err(match variable.kind {
                Kind::Seconds { .. } if has_fraction_of_a_second(&value) => {
                    format!("only whole seconds are accepted, {}", variable.expected)
                }
                _ => variable.expected.to_owned(),
            });
        }
        Ok(Setting { variable, value })
    }

    pub fn name(&self) -> &'static str {
        self.variable.name.to_str().unwrap_or_default()
    }

    /// The names that compete with this setting's variable: its alias and the older libraries'
    /// names. The option replaces their values, so that the library never has to settle a
    /// conflict the user did not make.
    pub fn rivals(&self) -> impl Iterator<Item = &'static CStr> {
        self.variable.alias.into_iter().chain(self.variable.legacy.iter().copied())
    }
}

/// A duration as the variables take it (`2`, `500ms`, `1m`), from 100ms to an hour.
fn parse_interval(text: &str) -> Result<Duration, String> {
    match parse_duration_ms(text.as_bytes()) {
        Some(ms @ 100..=3_600_000) => Ok(Duration::from_millis(ms)),
        _ => Err("expected seconds (2) or a duration (500ms, 1m) from 100ms to 1h".to_owned()),
    }
}

/// The parser takes any run of ASCII whitespace inside a value as one separator, so a single
/// space means the same and keeps newlines out of the lines `--print-env` writes.
fn single_spaced(text: &str) -> String {
    text.trim().split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// A well-formed duration such as `1500ms` that a variable taking whole seconds refuses.
fn has_fraction_of_a_second(text: &str) -> bool {
    parse_duration_ms(text.as_bytes()).is_some_and(|ms| ms % 1000 != 0)
}

/// The library ignores one bad entry and applies the rest; given on the command line, a bad
/// entry is a mistake to fix before anything runs, so the whole option is refused. So is an
/// empty list, which for --only would select no connection at all.
fn check_rules(variable: &Variable, text: &str) -> Result<(), String> {
    let mut problem = None;
    let rules = parse_rules(text.as_bytes(), |error| {
        problem.get_or_insert(match error {
            RuleError::Entry(entry) => {
                format!("{:?} is not a rule: {}", String::from_utf8_lossy(entry), variable.expected)
            }
            RuleError::TooMany(_) => format!("more than {MAX_RULES} rules"),
        });
    });
    if problem.is_none() && rules.rules().is_empty() {
        problem = Some(format!("the list is empty; {}", variable.expected));
    }
    problem.map_or(Ok(()), Err)
}

impl Cli {
    /// The variables to set for the program, in the order libkeepalive(7) lists them.
    pub fn settings(&self) -> Vec<Setting> {
        let switch = |on: bool, variable: &'static Variable| on.then(|| Setting { variable, value: "1".to_owned() });
        [
            self.idle.clone(),
            self.interval.clone(),
            self.count.clone(),
            self.user_timeout.clone(),
            switch(self.verbose, &DEBUG),
            switch(self.force, &FORCE),
            self.side.clone(),
            self.only.clone(),
            self.skip.clone(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Parses the command line; a mistake is one line on stderr and exit status 2.
pub fn parse() -> Cli {
    let cli = Cli::try_parse().unwrap_or_else(|error| match error.kind() {
        ErrorKind::DisplayHelp => error.exit(),
        _ => refuse(&one_line(&error)),
    });
    if cli.format.is_some() && !cli.print_env {
        refuse("--format is only for --print-env (see keepalive --help)");
    }
    cli
}

fn refuse(line: &str) -> ! {
    stderr_line!("keepalive: {line}");
    std::process::exit(2)
}

fn one_line(error: &clap::Error) -> String {
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.as_str()),
        _ => None,
    };
    if let (ErrorKind::ValueValidation, Some(option), Some(value)) =
        (error.kind(), context(ContextKind::InvalidArg), context(ContextKind::InvalidValue))
    {
        let option = option.split_whitespace().next().unwrap_or(option);
        let reason = std::error::Error::source(error).map(ToString::to_string).unwrap_or_default();
        return format!("invalid {option} {value:?}: {reason}");
    }
    if let (ErrorKind::InvalidValue, Some(option), Some(value), Some(ContextValue::Strings(valid))) = (
        error.kind(),
        context(ContextKind::InvalidArg),
        context(ContextKind::InvalidValue),
        error.get(ContextKind::ValidValue),
    ) {
        let option = option.split_whitespace().next().unwrap_or(option);
        return format!("invalid {option} {value:?}: expected one of {}", valid.join(", "));
    }
    if error.kind() == ErrorKind::MissingRequiredArgument {
        return "nothing to do: give a PROGRAM to run, --print-env, --attach PID, --cgroup DIR or --status \
                (see keepalive --help)"
            .to_owned();
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    format!("{} (see keepalive --help)", first.trim_start_matches("error: "))
}

/// The settings the options and this command's own `KEEPALIVE_*` variables make together, read
/// by the library's parser as the library would read them; the options win. For the ways in that
/// apply them from here: `--attach`, the supervisor and `--cgroup`.
pub struct Effective {
    pub settings: keepalive_config::Settings,
    /// One line per problem with a variable.
    pub problems: Vec<String>,
    /// `NAME=value` for each name the parser read a value from, options and environment alike.
    pub read: Vec<String>,
}

pub fn effective_settings(given: &[Setting]) -> Effective {
    // Left out, as the program's environment leaves them out (`launch`): the rivals of each option.
    let replaced = |name: &CStr| given.iter().flat_map(Setting::rivals).any(|rival| rival == name);
    let environment: Vec<(&CStr, Vec<u8>)> = keepalive_config::NAMES
        .iter()
        .filter(|name| !replaced(name))
        .filter_map(|name| Some((*name, std::env::var_os(name.to_str().ok()?)?.into_vec())))
        .collect();
    let mut read = Vec::new();
    let lookup = |name: &'static CStr| {
        let option = given.iter().find(|setting| setting.variable.name == name).map(|setting| setting.value.as_bytes());
        let value =
            option.or_else(|| environment.iter().find(|(known, _)| *known == name).map(|(_, value)| value.as_slice()));
        if let Some(value) = value {
            let line = format!("{}={}", name.to_string_lossy(), String::from_utf8_lossy(value));
            if !read.contains(&line) {
                read.push(line);
            }
        }
        value
    };
    let mut problems = Vec::new();
    let settings = keepalive_config::from_env(lookup, |problem| problems.push(describe_problem(&problem)));
    Effective { settings, problems, read }
}

/// The line the library writes for `problem` (src/config.rs), after its `libkeepalive: `.
fn describe_problem(problem: &Problem) -> String {
    match *problem {
        Problem::Invalid { name, value, expected } => {
            format!("ignoring {}={}: {expected}", name.to_string_lossy(), quoted(value))
        }
        Problem::InvalidEntry { name, entry, expected } => {
            format!("ignoring {} in {}: {expected}", quoted(entry), name.to_string_lossy())
        }
        Problem::TooManyEntries { name, first_ignored } => format!(
            "{} has more than {MAX_RULES} entries; ignoring {} and the rest",
            name.to_string_lossy(),
            quoted(first_ignored)
        ),
        Problem::Conflict { used, used_value, ignored, ignored_value } => {
            let used = format!("{}={}", used.to_string_lossy(), quoted(used_value));
            format!("{used} and {}={} differ; using {used}", ignored.to_string_lossy(), quoted(ignored_value))
        }
    }
}

/// A value as the library quotes it (src/log.rs): between double quotes, `"` and `\` escaped and
/// any other byte outside printable ASCII as `\xNN` (a newline too, so that a problem stays one
/// line), and past 64 bytes cut short with its length.
fn quoted(value: &[u8]) -> String {
    const SHOWN: usize = 64;
    let mut text = String::from("\"");
    for &byte in value.iter().take(SHOWN) {
        match byte {
            b'"' | b'\\' => text.extend(['\\', char::from(byte)]),
            0x20..=0x7e => text.push(char::from(byte)),
            _ => text += &format!("\\x{byte:02x}"),
        }
    }
    if value.len() > SHOWN {
        text += &format!("...\" ({} bytes)", value.len());
    } else {
        text.push('"');
    }
    text
}
