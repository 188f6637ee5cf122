//! `keepalive --status` without a PID: every process with TCP sockets, how many have keepalive
//! on, and whether the library or the supervisor protects it, so that what is unprotected shows.

use std::collections::HashMap;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::sockets::Reader;
use crate::status;

pub fn report_all() -> Result<String, String> {
    let entries = fs::read_dir("/proc").map_err(|error| format!("cannot read /proc: {error}"))?;
    let mut pids: Vec<u32> = entries.flatten().filter_map(|entry| entry.file_name().to_str()?.parse().ok()).collect();
    pids.sort_unstable();
    let own = std::process::id();
    // Socket inodes of TCP sockets, per network namespace (by the inode of /proc/PID/ns/net).
    let mut tcp_by_namespace: HashMap<u64, HashSet<u64>> = HashMap::new();
    let (mut rows, mut unreadable, mut unprotected, mut exposed) = (Vec::new(), 0, 0, 0);
    for pid in pids.into_iter().filter(|pid| *pid != own) {
        let Ok(descriptors) = status::socket_descriptors(pid) else {
            unreadable += usize::from(fs::metadata(format!("/proc/{pid}")).is_ok());
            continue;
        };
        let Ok(namespace) = fs::metadata(status::entries(pid).join("ns/net")).map(|meta| meta.ino()) else { continue };
        let tcp = tcp_by_namespace
            .entry(namespace)
            .or_insert_with(|| status::connections(pid).into_iter().map(|connection| connection.inode).collect());
        let fds: Vec<i32> = descriptors.iter().filter(|(_, inode)| tcp.contains(inode)).map(|(fd, _)| *fd).collect();
        if fds.is_empty() {
            continue;
        }
        let on = Reader::open(pid).ok().map(|mut reader| {
            fds.iter().filter(|fd| reader.options(**fd).is_some_and(|options| options.keepalive)).count()
        });
        let protection = match (status::library_path(pid), supervisor_of(pid)) {
            (Ok(Some(_)), _) => "library".to_owned(),
            (_, Some(supervisor)) => format!("supervisor (pid {supervisor})"),
            _ => {
                unprotected += 1;
                exposed += on.map_or(0, |on| fds.len() - on);
                "none".to_owned()
            }
        };
        let name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim_end().to_owned();
        let on = on.map_or("?".to_owned(), |on| on.to_string());
        rows.push([pid.to_string(), name, fds.len().to_string(), on, protection]);
    }
    if rows.is_empty() {
        return Ok("no process with TCP sockets\n".to_owned());
    }
    let mut out = status::table(["PID", "COMMAND", "TCP", "KEEPALIVE ON", "PROTECTED BY"], &rows);
    let _ = writeln!(
        out,
        "{} processes with TCP sockets; {unprotected} with neither the library nor the supervisor, \
         {exposed} of their sockets without keepalive",
        rows.len()
    );
    if unreadable > 0 {
        let _ = writeln!(out, "{unreadable} processes not readable (run as root to see them)");
    }
    if rows.iter().any(|row| row[3] == "?") {
        let _ = writeln!(out, "KEEPALIVE ON is ? where the options cannot be read (run as root)");
    }
    Ok(out)
}

/// The running supervisor (`keepalive --via seccomp`) over `pid`, if any: named in the
/// environment it was started with, and checked to be alive.
pub fn supervisor_of(pid: u32) -> Option<u32> {
    crate::supervisor::supervision(pid).filter(|&(_, alive)| alive).map(|(supervisor, _)| supervisor)
}
