//! Running a program under the library, or printing the environment that does.

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::exec::{self, Failure};
use crate::options::{Format, Setting};
use crate::program;
use crate::streams::stderr_line;

/// Exit statuses a shell uses for a program it cannot find, and one it cannot run.
pub const NOT_FOUND: u8 = 127;
pub const CANNOT_RUN: u8 = 126;

/// `library` first, then whatever was preloaded already, unless it is there already.
pub fn preload_list(library: &Path, existing: Option<&OsStr>) -> OsString {
    let mut list = OsString::from(library);
    let existing = existing.unwrap_or_default();
    let others: Vec<&[u8]> = existing
        .as_bytes()
        .split(|&byte| byte == b':' || byte == b' ')
        .filter(|entry| !entry.is_empty() && *entry != library.as_os_str().as_bytes())
        .collect();
    for entry in others {
        list.push(":");
        list.push(OsStr::from_bytes(entry));
    }
    list
}

/// The rivals of every setting (see `Setting::rivals`), removed from the program's environment.
fn rivals(settings: &[Setting]) -> Vec<&'static str> {
    settings.iter().flat_map(Setting::rivals).filter_map(|name| name.to_str().ok()).collect()
}

/// Replaces this process with `command` under the library; returns only on failure, with the
/// exit status a shell would give.
pub fn run(library: &Path, settings: &[Setting], path: &Path, name: &OsStr, arguments: &[OsString]) -> u8 {
    for warning in program::warnings(path) {
        stderr_line!("keepalive: warning: {warning}");
    }
    let environment = program_environment(library, settings);
    exec_failure(path, exec::replace_process(path, name, arguments, &environment))
}

/// The program's path, found as a shell finds it, or the exit status a shell gives when it
/// cannot, after one line saying why.
pub fn locate(name: &OsStr) -> Result<PathBuf, u8> {
    let Some(path) = program::find(name) else {
        let reason = if name.as_bytes().contains(&b'/') { "No such file or directory" } else { "command not found" };
        stderr_line!("keepalive: {}: {reason}", name.to_string_lossy());
        return Err(NOT_FOUND);
    };
    if path.is_dir() {
        stderr_line!("keepalive: {}: Is a directory", path.display());
        return Err(CANNOT_RUN);
    }
    Ok(path)
}

/// One line for a program that could not replace this process, and the exit status a shell gives.
pub fn exec_failure(path: &Path, failure: Failure) -> u8 {
    match failure {
        Failure::BinaryFile => {
            stderr_line!("keepalive: {}: cannot execute binary file: Exec format error", path.display());
            CANNOT_RUN
        }
        Failure::System(error) if error.kind() == ErrorKind::NotFound => {
            // The file exists, so what is missing is its `#!` interpreter or its dynamic loader.
            stderr_line!("keepalive: {}: cannot run it: its interpreter or loader was not found", path.display());
            NOT_FOUND
        }
        Failure::System(error) => {
            stderr_line!("keepalive: {}: {}", path.display(), without_error_number(&error));
            CANNOT_RUN
        }
    }
}

/// This process's environment as `NAME=value` entries, with the library preloaded, each
/// setting's variable set and the names competing with it removed.
fn program_environment(library: &Path, settings: &[Setting]) -> Vec<OsString> {
    let preload = preload_list(library, std::env::var_os("LD_PRELOAD").as_deref());
    let mut assigned = vec![(OsString::from("LD_PRELOAD"), preload)];
    assigned.extend(settings.iter().map(|setting| (setting.name().into(), setting.value.clone().into())));
    let removed = rivals(settings);
    let replaced = |name: &OsStr| {
        assigned.iter().any(|(assigned, _)| assigned == name) || removed.iter().any(|rival| name == *rival)
    };
    let kept: Vec<(OsString, OsString)> = std::env::vars_os().filter(|(name, _)| !replaced(name)).collect();
    kept.into_iter()
        .chain(assigned)
        .map(|(name, value)| {
            let mut entry = name;
            entry.push("=");
            entry.push(value);
            entry
        })
        .collect()
}

/// An error's text without Rust's " (os error N)", as a shell shows it.
pub fn without_error_number(error: &std::io::Error) -> String {
    let text = error.to_string();
    text.split(" (os error").next().unwrap_or_default().to_owned()
}

/// The lines that give a program started elsewhere the same environment as `run` does.
pub fn environment(library: &Path, settings: &[Setting], format: Format) -> String {
    let library = library.to_string_lossy();
    let pairs: Vec<(&str, &str)> = settings.iter().map(|setting| (setting.name(), setting.value.as_str())).collect();
    let rivals = rivals(settings);
    match format {
        Format::Shell => shell_lines(&library, &pairs, &rivals),
        Format::Dockerfile => dockerfile_lines(&library, &pairs),
        Format::Systemd => systemd_lines(&library, &pairs, &rivals),
    }
}

fn shell_lines(library: &str, pairs: &[(&str, &str)], rivals: &[&str]) -> String {
    let mut text = format!("export LD_PRELOAD={}\"${{LD_PRELOAD:+:$LD_PRELOAD}}\"\n", shell_quote(library));
    if !rivals.is_empty() {
        text += &format!("unset {}\n", rivals.join(" "));
    }
    for (name, value) in pairs {
        text += &format!("export {name}={}\n", shell_quote(value));
    }
    text
}

/// One `ENV` instruction. It cannot unset a variable, so the competing names stay as they are.
fn dockerfile_lines(library: &str, pairs: &[(&str, &str)]) -> String {
    let mut text = format!("ENV LD_PRELOAD=\"{}${{LD_PRELOAD:+:$LD_PRELOAD}}\"", escape(library, DOCKERFILE_SPECIAL));
    for (name, value) in pairs {
        text += &format!(" \\\n    {name}={}", dockerfile_quote(value));
    }
    text + "\n"
}

/// A drop-in cannot add to a variable the unit sets, so `LD_PRELOAD` names the library alone.
fn systemd_lines(library: &str, pairs: &[(&str, &str)], rivals: &[&str]) -> String {
    let mut text = format!("[Service]\nEnvironment={}\n", systemd_quote(&format!("LD_PRELOAD={library}")));
    if !rivals.is_empty() {
        text += &format!("UnsetEnvironment={}\n", rivals.join(" "));
    }
    for (name, value) in pairs {
        text += &format!("Environment={}\n", systemd_quote(&format!("{name}={value}")));
    }
    text
}

fn plain(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"_./:,=@%+-".contains(&byte))
}

fn shell_quote(text: &str) -> String {
    if plain(text) { text.to_owned() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

/// What a backslash must precede between double quotes in a Dockerfile, where BuildKit expands `$`.
const DOCKERFILE_SPECIAL: &[char] = &['\\', '"', '$'];

fn dockerfile_quote(text: &str) -> String {
    if plain(text) { text.to_owned() } else { format!("\"{}\"", escape(text, DOCKERFILE_SPECIAL)) }
}

/// systemd expands `%` specifiers in `Environment=`, between quotes too; `$` it leaves alone.
fn systemd_quote(text: &str) -> String {
    let quoted = if plain(text) { text.to_owned() } else { format!("\"{}\"", escape(text, &['\\', '"'])) };
    quoted.replace('%', "%%")
}

/// `text` with a backslash before each of `special`.
fn escape(text: &str, special: &[char]) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if special.contains(&character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_goes_first_and_only_once() {
        let library = Path::new("/opt/lib/libkeepalive.so");
        assert_eq!(preload_list(library, None), "/opt/lib/libkeepalive.so");
        assert_eq!(preload_list(library, Some(OsStr::new(""))), "/opt/lib/libkeepalive.so");
        assert_eq!(
            preload_list(library, Some(OsStr::new("libm.so.6 /x/a.so"))),
            "/opt/lib/libkeepalive.so:libm.so.6:/x/a.so"
        );
        assert_eq!(
            preload_list(library, Some(OsStr::new("/a.so:/opt/lib/libkeepalive.so"))),
            "/opt/lib/libkeepalive.so:/a.so"
        );
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("20s"), "20s");
        assert_eq!(shell_quote("[::1],:6379"), "'[::1],:6379'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(dockerfile_quote("1h 5m"), "\"1h 5m\"");
        assert_eq!(dockerfile_quote(r#"a$b"c\d"#), r#""a\$b\"c\\d""#);
        assert_eq!(systemd_quote("a%b"), "a%%b");
        assert_eq!(systemd_quote(r#"a%$"\"#), r#""a%%$\"\\""#);
    }
}
