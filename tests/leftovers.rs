//! What a test run killed before it could clean up leaves behind (a lab's network namespaces, a
//! test cgroup) neither stops a later run nor stays, even when the later run has the killed one's
//! PID, as in a container whose PID numbering starts again. Both runs here are this test binary
//! as PID 1 of a PID namespace of its own.

mod common;
use common::cgroup::TestCgroup;
use common::netns::Lab;
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

/// This binary running `makes_a_lab_and_a_cgroup` alone, as PID 1 of a new PID namespace. /proc
/// stays this machine's: with a /proc of its own, a run would see no process of another test
/// run, and take their namespaces and cgroups for abandoned ones.
fn as_pid_1() -> Command {
    let mut command = clean_command("unshare");
    command.args(["--kill-child", "--pid", "--fork"]).arg(std::env::current_exe().unwrap());
    command.args(["--exact", "makes_a_lab_and_a_cgroup", "--ignored", "--nocapture", "--test-threads", "1"]);
    command
}

/// `made NAMESPACE CGROUP` in what a run printed, if it got that far; CGROUP is `none` where
/// test cgroups cannot be made.
fn made(output: &str) -> Option<(String, String)> {
    // The harness may have written the test's name on the same line before.
    let line = output.lines().find_map(|line| line.split_once("made ").map(|(_, made)| made))?;
    let (namespace, cgroup) = line.split_once(' ')?;
    Some((namespace.to_owned(), cgroup.to_owned()))
}

#[test]
#[ignore = "run by a_killed_runs_leftovers_neither_stop_a_run_with_its_pid_nor_stay"]
fn makes_a_lab_and_a_cgroup() {
    let mut lab = Lab::new("leftovers").expect("a lab");
    let host = lab.host("h");
    let cgroup = TestCgroup::new("leftovers");
    let cgroup_path = cgroup.as_ref().map_or("none".into(), |cgroup| cgroup.path.display().to_string());
    println!("made {} {cgroup_path}", host.0);
    // Holds both until its input ends, or until it is killed.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

#[test]
fn a_killed_runs_leftovers_neither_stop_a_run_with_its_pid_nor_stay() {
    if let Some(capability) = netns::missing_capability() {
        report(&format!("SKIPPED leftovers: this process lacks {capability}"));
        return;
    }
    let mut killed = as_pid_1();
    let mut killed = killed.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut seen = String::new();
    let mut lines = BufReader::new(killed.stdout.take().unwrap());
    while made(&seen).is_none() && lines.read_line(&mut seen).unwrap() > 0 {}
    killed.kill().unwrap();
    killed.wait().unwrap();
    let (namespace, cgroup) = made(&seen).unwrap_or_else(|| panic!("the first run made nothing: {seen}"));
    let has_cgroups = cgroup != "none";
    assert!(Path::new("/run/netns").join(&namespace).exists(), "{namespace} is not there: {seen}");
    assert!(!has_cgroups || Path::new(&cgroup).exists(), "{cgroup} is not there: {seen}");

    let later = as_pid_1().stdin(Stdio::null()).output().unwrap();
    assert!(later.status.success(), "a run with the killed run's PID: {}", describe(&later));
    let (later_namespace, later_cgroup) = made(&text(&later.stdout)).expect("the later run made its own");
    assert!(!Path::new("/run/netns").join(&namespace).exists(), "{namespace} is left");
    assert!(!Path::new(&cgroup).exists(), "{cgroup} is left");
    assert!(!Path::new("/run/netns").join(&later_namespace).exists(), "{later_namespace} is left");
    assert!(!Path::new(&later_cgroup).exists(), "{later_cgroup} is left");
}
