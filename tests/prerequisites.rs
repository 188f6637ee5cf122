//! What `make test` needs is listed in one place, scripts/prerequisites.txt (command -> Debian
//! package), and checked before anything is built: every command the tests start is in that
//! list, and a machine that lacks some hears about all of them at once, with their packages.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The commands in scripts/prerequisites.txt.
fn listed() -> BTreeSet<String> {
    let table = std::fs::read_to_string(root().join("scripts/prerequisites.txt")).unwrap();
    table
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 2, "not `command package`: {line:?}");
            fields[0].to_owned()
        })
        .collect()
}

/// Calls that start a program whose name is given as a string literal: `Command::new("ss")`,
/// `clean_command("strace")`, `lab.command(host, "nft")`, `tool("nm", …)`, `run(&["grep", …])`.
const LAUNCHERS: [&str; 7] =
    ["Command::new(", "clean_command(", "preloaded(", "command(", "tool(", "run(&[", "keepalive(&["];

/// The first string literal in `source`, if it comes before the call closes or another opens.
fn first_literal(source: &str) -> Option<&str> {
    let open = source.find('"')?;
    if source[..open].contains([')', ']', '(']) {
        return None;
    }
    let rest = &source[open + 1..];
    Some(&rest[..rest.find('"')?])
}

/// A program name as PATH would find it (not an option, a path, or a sentence).
fn is_command_name(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_lowercase())
        && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._+-".contains(c))
}

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// Every program the Rust tests start by name. In real_programs.rs each `&[…]` array is a
/// command line, so the first word of each counts too.
fn started_by_tests() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("tests"), &mut files);
    let mut started = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let mut starts: Vec<&str> = Vec::new();
        for launcher in LAUNCHERS {
            starts.extend(source.match_indices(launcher).map(|(at, _)| &source[at + launcher.len()..]));
        }
        if file.ends_with("real_programs.rs") {
            starts.extend(source.match_indices("&[").map(|(at, _)| &source[at + 2..]));
        }
        started.extend(
            starts.into_iter().filter_map(first_literal).filter(|word| is_command_name(word)).map(str::to_owned),
        );
    }
    started
}

#[test]
fn every_command_the_tests_start_is_listed() {
    let started = started_by_tests();
    // The scan must see the tests it is meant to see, or it proves nothing.
    for known in ["tcpdump", "nft", "redis-server", "setpriv", "strace", "valgrind", "ss", "ip", "socat", "nm"] {
        assert!(started.contains(known), "the scan missed {known}: {started:?}");
    }
    let listed = listed();
    let missing: Vec<&String> = started.difference(&listed).collect();
    assert!(missing.is_empty(), "started by tests but not in scripts/prerequisites.txt: {missing:?}");
}

/// A directory holding only `bash`, `env` and `make`, to stand for PATH on a bare machine.
fn bare_path(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("keepalive-prerequisites-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    for program in ["bash", "env", "make"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {program}")]).output().unwrap();
        symlink(text(&found.stdout).trim(), directory.join(program)).unwrap();
    }
    directory
}

#[test]
fn make_test_names_every_missing_command_with_its_package_before_building() {
    let path = bare_path("make");
    let started = Instant::now();
    let output = Command::new("make")
        .current_dir(root())
        .args(["--no-print-directory", "test"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    for (command, package) in [
        ("tcpdump", "tcpdump"),
        ("redis-server", "redis-server"),
        ("setpriv", "util-linux"),
        ("musl-gcc", "musl-tools"),
        ("nc.openbsd", "netcat-openbsd"),
        ("cargo 1.85 or later", "rustup"),
    ] {
        let line = stderr.lines().find(|line| line.trim_start().starts_with(&format!("{command} ")));
        assert!(line.is_some_and(|line| line.contains(package)), "{command} ({package}) not named in\n{stderr}");
    }
    assert!(stderr.contains("apt-get install gcc musl-tools "), "{stderr}");
    assert!(!text(&output.stdout).contains("cargo "), "something was built: {}", describe(&output));
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    std::fs::remove_dir_all(path).unwrap();
}

/// Writes an executable shell script `name` in `directory`, from another process: a file this one
/// had open for writing could be inherited by a child another test forks at that moment, and
/// then fail to run with ETXTBSY.
fn fake_program(directory: &Path, name: &str, body: &str) {
    let script = "printf '#!/bin/sh\\n%s\\n' \"$1\" > \"$0\" && chmod 755 \"$0\"";
    let status = Command::new("sh").args(["-c", script]).arg(directory.join(name)).arg(body).status().unwrap();
    assert!(status.success());
}

#[test]
fn an_old_cargo_is_named_with_its_version() {
    let path = bare_path("old-cargo");
    fake_program(&path, "cargo", "echo cargo 1.63.0");
    let output =
        Command::new(root().join("scripts/prerequisites.sh")).arg("--check").env("PATH", &path).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cargo 1.85 or later (this is 1.63)"), "{stderr}");
    std::fs::remove_dir_all(path).unwrap();
}

#[test]
fn a_cargo_without_rustfmt_is_named_with_the_component_to_add() {
    let path = bare_path("no-rustfmt");
    fake_program(
        &path,
        "cargo",
        r#"case "$1" in fmt) exit 1;; clippy) echo clippy 0.1.90;; *) echo cargo 1.90.0;; esac"#,
    );
    let output =
        Command::new(root().join("scripts/prerequisites.sh")).arg("--check").env("PATH", &path).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = text(&output.stderr);
    let line = stderr.lines().find(|line| line.trim_start().starts_with("cargo fmt "));
    assert!(line.is_some_and(|line| line.contains("rustup component add rustfmt")), "{stderr}");
    assert!(!stderr.contains("cargo clippy"), "{stderr}");
    std::fs::remove_dir_all(path).unwrap();
}

#[test]
fn as_root_the_missing_packages_are_installed_with_apt_get() {
    if text(&Command::new("id").arg("-u").output().unwrap().stdout).trim() != "0" {
        report("skipped: installing is for root");
        return;
    }
    // An apt-get that only records how it was called; what it should have installed stays missing.
    let path = bare_path("apt-get");
    let calls = path.join("calls");
    fake_program(&path, "apt-get", &format!("echo \"$*\" >> {}", calls.display()));
    let output = Command::new(root().join("scripts/prerequisites.sh")).env("PATH", &path).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let calls = std::fs::read_to_string(calls).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(lines.len(), 2, "{calls}");
    assert_eq!(lines[0], "update -qq");
    assert!(lines[1].starts_with("install -y -qq --no-install-recommends gcc musl-tools "), "{calls}");
    let packages: Vec<&str> = lines[1].split_whitespace().collect();
    assert!(packages.contains(&"tcpdump") && packages.contains(&"redis-server"), "{calls}");
    assert!(!lines[1].contains("rustup"), "{calls}");
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("make test: installing gcc musl-tools "), "{stderr}");
    assert!(stderr.contains("make test needs these, missing here"), "what is still missing is named: {stderr}");

    // --check never installs.
    let output =
        Command::new(root().join("scripts/prerequisites.sh")).arg("--check").env("PATH", &path).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(path.join("calls")).unwrap().lines().count(), 2, "--check ran apt-get");
    std::fs::remove_dir_all(path).unwrap();
}
