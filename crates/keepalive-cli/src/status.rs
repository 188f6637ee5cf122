//! `keepalive --status PID`: a process's TCP sockets, and whether keepalive runs on them.
//!
//! The kernel is asked, not the library: `/proc/PID/fd` gives the process's sockets,
//! `/proc/PID/net/tcp` and `tcp6` (seen from the process's own network namespace) their
//! addresses, state and running timer, and a duplicate of each descriptor taken with
//! `pidfd_getfd` their socket options, when this process may trace the other. Once a process's
//! main thread has exited while others run, one of those threads' `/proc` entries and pidfd
//! stand for it.

use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::sockets::{self, KeepaliveOptions};

/// One TCP socket of the process, as `/proc/net/tcp*` shows it.
#[derive(Debug, PartialEq, Eq)]
pub struct Connection {
    pub local: SocketAddr,
    remote: SocketAddr,
    pub state: &'static str,
    /// The timer the kernel runs for it and when it fires, in clock ticks.
    timer: Timer,
    pub inode: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    None,
    Retransmit(u64),
    Keepalive(u64),
    Other,
}

/// The report, or a line saying why there is none. `id` may also be one of a process's threads,
/// which share its descriptors; the report is then on the process.
pub fn report(id: u32) -> Result<String, String> {
    let pid = process_of(id);
    let mut out = String::new();
    if pid != id {
        let _ = writeln!(out, "thread {id} is in process {pid}; showing the process");
    }
    out += &process_report(pid)?;
    Ok(out)
}

/// The process a thread belongs to (its thread-group ID), or `id` itself when that cannot be read.
pub fn process_of(id: u32) -> u32 {
    let status = fs::read_to_string(format!("/proc/{id}/status")).unwrap_or_default();
    let tgid = status.lines().find_map(|line| line.strip_prefix("Tgid:")).and_then(|tgid| tgid.trim().parse().ok());
    tgid.unwrap_or(id)
}

/// Where `/proc` shows process `pid`'s descriptors, network namespace, maps and environment:
/// `/proc/PID`, or, once its main thread has exited while other threads run (a zombie that
/// leads live threads, whose own entries are then empty or gone), the directory of one of those
/// threads, which shares them.
pub fn entries(pid: u32) -> PathBuf {
    let own = PathBuf::from(format!("/proc/{pid}"));
    if !is_zombie(&own) {
        return own;
    }
    let mut threads = fs::read_dir(own.join("task")).into_iter().flatten().flatten().map(|thread| thread.path());
    threads.find(|thread| !is_zombie(thread)).unwrap_or(own)
}

/// Whether the process or thread `/proc` shows at `directory` has exited.
fn is_zombie(directory: &Path) -> bool {
    // `PID (comm) STATE ...`, where the name may hold spaces and parentheses.
    let stat = fs::read_to_string(directory.join("stat")).unwrap_or_default();
    stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'))
}

fn process_report(pid: u32) -> Result<String, String> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let name =
        fs::read_to_string(proc.join("comm")).map_err(|_| format!("no process with PID {pid}"))?.trim_end().to_owned();
    if is_zombie(&entries(pid)) {
        // Not one thread left: `/proc/PID/fd` lists nothing, which is not "no TCP sockets".
        return Err(format!("process {pid}: {}", crate::foreign::why_unreachable(pid)));
    }
    let descriptors = socket_descriptors(pid)?;
    let connections = connections(pid);
    let ticks_per_second = clock_ticks();
    let mut reader = sockets::Reader::open(pid);

    let mut out = format!("process {pid} ({name}): {}\n", library_state(pid));
    if let Some(line) = crate::supervisor::status_line(pid) {
        out += &line;
        out.push('\n');
    }
    if let Some(variables) = keepalive_environment(pid) {
        let _ = writeln!(out, "environment: {variables}");
    }
    let mut rows = Vec::new();
    let mut with_keepalive = 0;
    for &(fd, inode) in &descriptors {
        let Some(connection) = connections.iter().find(|connection| connection.inode == inode) else {
            continue;
        };
        let options = reader.as_mut().ok().and_then(|reader| reader.options(fd));
        let keepalive = describe(connection, options.as_ref(), ticks_per_second);
        if keepalive.starts_with("on") {
            with_keepalive += 1;
        }
        rows.push([
            fd.to_string(),
            connection.state.to_owned(),
            connection.local.to_string(),
            peer(connection),
            keepalive,
        ]);
    }
    if rows.is_empty() {
        out += "no TCP sockets\n";
        return Ok(out);
    }
    out += &table(["FD", "STATE", "LOCAL", "PEER", "KEEPALIVE"], &rows);
    let noun = if rows.len() == 1 { "socket" } else { "sockets" };
    let _ = writeln!(out, "{} TCP {noun}, {with_keepalive} with keepalive on", rows.len());
    if let Err(reason) = reader {
        let _ = writeln!(out, "socket options not read ({reason}); keepalive shown from the kernel's timers");
    }
    Ok(out)
}

/// Every TCP socket in `pid`'s network namespace, as `/proc/PID/net/tcp` and `tcp6` show them.
pub fn connections(pid: u32) -> Vec<Connection> {
    let mut connections = Vec::new();
    let net = entries(pid).join("net");
    for table in ["tcp", "tcp6"] {
        let text = fs::read_to_string(net.join(table)).unwrap_or_default();
        connections.extend(text.lines().skip(1).filter_map(parse_line));
    }
    connections
}

/// `(descriptor, socket inode)` for every socket the process holds, in descriptor order.
pub fn socket_descriptors(pid: u32) -> Result<Vec<(i32, u64)>, String> {
    let listed = fs::read_dir(entries(pid).join("fd")).map_err(|error| match error.kind() {
        ErrorKind::PermissionDenied => {
            format!("cannot read the descriptors of process {pid}: permission denied (run as its user or as root)")
        }
        ErrorKind::NotFound => format!("no process with PID {pid}"),
        _ => format!("cannot read the descriptors of process {pid}: {error}"),
    })?;
    let mut sockets: Vec<(i32, u64)> = listed
        .flatten()
        .filter_map(|entry| {
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(entry.path()).ok()?;
            let inode = target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()?;
            Some((fd, inode))
        })
        .collect();
    sockets.sort_unstable();
    Ok(sockets)
}

/// One line of `/proc/net/tcp` or `tcp6`:
/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`.
fn parse_line(line: &str) -> Option<Connection> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [_, local, remote, state, _, timer, _, _, _, inode, ..] = fields.as_slice() else {
        return None;
    };
    let (kind, when) = timer.split_once(':')?;
    let when = u64::from_str_radix(when, 16).ok()?;
    let timer = match kind {
        "00" => Timer::None,
        "01" => Timer::Retransmit(when),
        "02" => Timer::Keepalive(when),
        _ => Timer::Other,
    };
    Some(Connection {
        local: parse_address(local)?,
        remote: parse_address(remote)?,
        state: state_name(u8::from_str_radix(state, 16).ok()?),
        timer,
        inode: inode.parse().ok()?,
    })
}

/// `0100007F:1F90` or 32 hex digits and a port: the kernel prints each 32-bit word of the
/// address in this machine's byte order, and the port as a number.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = [0u8; 16];
    let words = address.len() / 8;
    if address.len() % 8 != 0 || !(words == 1 || words == 4) {
        return None;
    }
    for index in 0..words {
        let word = u32::from_str_radix(address.get(index * 8..index * 8 + 8)?, 16).ok()?;
        bytes.get_mut(index * 4..index * 4 + 4)?.copy_from_slice(&word.to_ne_bytes());
    }
    let ip = if words == 1 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(bytes))
    };
    Some(SocketAddr::new(ip, port))
}

fn state_name(state: u8) -> &'static str {
    const NAMES: [&str; 12] = [
        "?",
        "ESTABLISHED",
        "SYN-SENT",
        "SYN-RECV",
        "FIN-WAIT-1",
        "FIN-WAIT-2",
        "TIME-WAIT",
        "CLOSE",
        "CLOSE-WAIT",
        "LAST-ACK",
        "LISTEN",
        "CLOSING",
    ];
    NAMES.get(usize::from(state)).copied().unwrap_or("?")
}

fn peer(connection: &Connection) -> String {
    if connection.state == "LISTEN" { "*".to_owned() } else { connection.remote.to_string() }
}

/// The KEEPALIVE column: the options if they could be read, and what the kernel's timer says.
fn describe(connection: &Connection, options: Option<&KeepaliveOptions>, ticks_per_second: u64) -> String {
    let seconds = |ticks: u64| format!("{:.1}s", ticks as f64 / ticks_per_second as f64);
    let timer = match connection.timer {
        Timer::Keepalive(when) => Some(format!("next probe in {}", seconds(when))),
        Timer::Retransmit(_) => Some("retransmitting (probes wait for the ACK)".to_owned()),
        _ => None,
    };
    let on = match options {
        Some(options) => options.keepalive,
        None if connection.timer == Timer::None && connection.state == "ESTABLISHED" => false,
        None if matches!(connection.timer, Timer::Keepalive(_)) => true,
        None => return timer.unwrap_or_else(|| "unknown".to_owned()),
    };
    if !on {
        return "off".to_owned();
    }
    let mut text = "on".to_owned();
    if let Some(options) = options {
        let _ = write!(text, ", idle {}s intvl {}s cnt {}", options.idle, options.interval, options.count);
        if options.user_timeout_ms != 0 {
            let _ = write!(text, " user-timeout {}ms", options.user_timeout_ms);
        }
    }
    if let Some(timer) = timer {
        let _ = write!(text, ", {timer}");
    }
    text
}

/// Whether libkeepalive is mapped into the process, and from where.
fn library_state(pid: u32) -> String {
    match library_path(pid) {
        Ok(Some(path)) => format!("libkeepalive loaded from {path}"),
        Err(()) => "cannot tell whether libkeepalive is loaded".to_owned(),
        Ok(None) => "libkeepalive not loaded".to_owned(),
    }
}

/// Where libkeepalive is mapped from in the process; `Err` when its maps cannot be read.
pub fn library_path(pid: u32) -> Result<Option<String>, ()> {
    let maps = fs::read_to_string(entries(pid).join("maps")).unwrap_or_default();
    if maps.is_empty() {
        return Err(());
    }
    let mut paths = maps.lines().filter_map(|line| line.split_whitespace().nth(5));
    Ok(paths.find(|path| path.ends_with("/libkeepalive.so")).map(str::to_owned))
}

/// The process's KEEPALIVE_* variables, as it was started with them.
fn keepalive_environment(pid: u32) -> Option<String> {
    let environ = fs::read(entries(pid).join("environ")).ok()?;
    let names = keepalive_config::NAMES;
    let found: Vec<String> = environ
        .split(|&byte| byte == 0)
        .filter(|entry| {
            names.iter().any(|name| entry.strip_prefix(name.to_bytes()).is_some_and(|rest| rest.starts_with(b"=")))
        })
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect();
    (!found.is_empty()).then(|| found.join(" "))
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&ticks| ticks > 0).unwrap_or(100)
}

/// Left-aligned columns two spaces apart.
pub fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(widths) {
            let _ = write!(text, "{cell:width$}  ");
        }
        out += text.trim_end();
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_proc_net_tcp() {
        let v4 = "   0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 02:000007CF 00000000     0        0 \
                  48211 1 0000000000000000 20 4 30 10 -1";
        let connection = parse_line(v4).unwrap();
        assert_eq!(connection.local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(connection.remote, "127.0.0.1:50000".parse().unwrap());
        assert_eq!(connection.state, "ESTABLISHED");
        assert_eq!(connection.timer, Timer::Keepalive(0x7cf));
        assert_eq!(connection.inode, 48211);

        let v6 = "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A \
                  00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0";
        let listener = parse_line(v6).unwrap();
        assert_eq!(listener.local, "[::1]:8080".parse().unwrap());
        assert_eq!(listener.state, "LISTEN");
        assert_eq!(listener.timer, Timer::None);
        assert_eq!(parse_line("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when"), None);
    }

    #[test]
    fn keepalive_column() {
        let mut connection = parse_line(
            "0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 02:000007CF 00000000 0 0 1 1 0 20 4 30 10 -1",
        )
        .unwrap();
        let options = KeepaliveOptions { keepalive: true, idle: 20, interval: 5, count: 3, user_timeout_ms: 0 };
        assert_eq!(describe(&connection, Some(&options), 100), "on, idle 20s intvl 5s cnt 3, next probe in 20.0s");
        assert_eq!(describe(&connection, None, 100), "on, next probe in 20.0s");
        connection.timer = Timer::None;
        assert_eq!(describe(&connection, None, 100), "off");
    }
}
