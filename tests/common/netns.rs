//! Test hosts made of network namespaces joined by veth pairs. A `Lab` owns its namespaces and
//! every process started in them: dropping it, even while a failed test unwinds, kills the
//! processes and deletes the namespaces.

use super::{report, text};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

static LABS: AtomicU32 = AtomicU32::new(0);

/// Capabilities a lab needs: CAP_NET_ADMIN for links and rules, CAP_SYS_ADMIN to enter a namespace.
const NEEDED_CAPABILITIES: [(u32, &str); 2] = [(12, "CAP_NET_ADMIN"), (21, "CAP_SYS_ADMIN")];

/// The capability this process lacks for building a lab, if any.
pub fn missing_capability() -> Option<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let effective = status.lines().find_map(|line| line.strip_prefix("CapEff:")).unwrap();
    let effective = u64::from_str_radix(effective.trim(), 16).unwrap();
    NEEDED_CAPABILITIES.iter().find(|(bit, _)| effective & (1 << bit) == 0).map(|(_, name)| *name)
}

pub struct Lab {
    prefix: String,
    hosts: Vec<String>,
    children: Vec<Child>,
}

/// A namespace of a lab, by name.
#[derive(Clone)]
pub struct Host(pub String);

impl Lab {
    /// A new, empty lab; `None`, after saying why, when this machine does not let us build one.
    pub fn new(test: &str) -> Option<Lab> {
        if let Some(capability) = missing_capability() {
            report(&format!("SKIPPED {test}: this process lacks {capability}, needed for network namespaces"));
            return None;
        }
        remove_abandoned_labs();
        let number = LABS.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("ka{}x{number}", super::owner::mark());
        Some(Lab { prefix, hosts: Vec::new(), children: Vec::new() })
    }

    /// A new namespace with its loopback up.
    pub fn host(&mut self, role: &str) -> Host {
        let name = format!("{}{role}", self.prefix);
        run(Command::new("ip").args(["netns", "add", &name]));
        self.hosts.push(name.clone());
        let host = Host(name);
        self.ip(&host, "link set lo up");
        host
    }

    /// `ip -n HOST ARGS...`, which must succeed.
    pub fn ip(&self, host: &Host, args: &str) {
        run(Command::new("ip").args(["-n", &host.0]).args(args.split_whitespace()));
    }

    /// A veth pair from `a` to `b`, each end named and addressed (`10.0.0.1/24`) and up.
    pub fn link(&self, a: &Host, a_end: &str, a_address: &str, b: &Host, b_end: &str, b_address: &str) {
        self.ip(a, &format!("link add {a_end} type veth peer name {b_end} netns {}", b.0));
        for (host, end, address) in [(a, a_end, a_address), (b, b_end, b_address)] {
            self.ip(host, &format!("address add {address} dev {end}"));
            self.ip(host, &format!("link set {end} up"));
        }
    }

    /// Sets a sysctl inside `host` (most of net.* is per namespace).
    pub fn sysctl(&self, host: &Host, key: &str, value: &str) {
        run(self.command(host, "sysctl").args(["-qw", &format!("{key}={value}")]));
    }

    /// Loads an nftables ruleset (`nft -f -`) into `host`.
    pub fn nft(&self, host: &Host, rules: &str) {
        let mut nft = self.command(host, "nft");
        let child = nft.args(["-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = child.spawn().expect("nft (nftables) is needed for these tests");
        child.stdin.take().unwrap().write_all(rules.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "nft failed on\n{rules}\n{}", text(&output.stderr));
    }

    /// From now on `host` neither receives nor sends anything, as if it lost power.
    pub fn vanish(&self, host: &Host) {
        self.nft(
            host,
            "table inet vanish {
            chain input { type filter hook input priority -500; policy drop; }
            chain output { type filter hook output priority -500; policy drop; }
        }",
        );
    }

    /// Undoes `vanish`.
    pub fn reappear(&self, host: &Host) {
        run(self.command(host, "nft").args(["delete", "table", "inet", "vanish"]));
    }

    /// `program` to run inside `host`, with nothing of the caller's LD_PRELOAD or KEEPALIVE_*.
    pub fn command(&self, host: &Host, program: impl AsRef<std::ffi::OsStr>) -> Command {
        inside(host, super::clean_command(program))
    }

    /// The same, under the library.
    pub fn preloaded(&self, host: &Host, program: impl AsRef<std::ffi::OsStr>) -> Command {
        inside(host, super::preloaded(program))
    }

    /// Starts a command made by `command` or `preloaded`; the lab kills it when it ends.
    pub fn start(&mut self, command: &mut Command) -> Process {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let mut child = command.spawn().unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
        let (sender, lines) = channel();
        forward_lines(child.stdout.take().unwrap(), "", sender.clone());
        forward_lines(child.stderr.take().unwrap(), "stderr: ", sender);
        let process = Process { stdin: child.stdin.take(), lines, seen: Vec::new() };
        self.children.push(child);
        process
    }
}

/// The server behind `behind_forgetful_nat`'s router.
pub const NAT_SERVER: &str = "10.2.0.2";

/// A router that masquerades the client and forgets a flow after `forget` seconds of silence.
pub fn behind_forgetful_nat(test: &str, forget: u32) -> Option<(Lab, Host, Host)> {
    let mut lab = Lab::new(test)?;
    let client = lab.host("c");
    let router = lab.host("r");
    let server = lab.host("s");
    lab.link(&client, "eth0", "10.1.0.2/24", &router, "lan", "10.1.0.1/24");
    lab.link(&router, "wan", "10.2.0.1/24", &server, "eth0", &format!("{NAT_SERVER}/24"));
    lab.ip(&client, "route add default via 10.1.0.1");
    lab.sysctl(&router, "net.ipv4.ip_forward", "1");
    lab.nft(
        &router,
        "table ip nat {
            chain post { type nat hook postrouting priority srcnat; oifname \"wan\" masquerade; }
        }
        table inet filter {
            chain forward { type filter hook forward priority 0; ct state invalid drop; }
        }",
    );
    lab.sysctl(&router, "net.netfilter.nf_conntrack_tcp_timeout_established", &forget.to_string());
    lab.sysctl(&router, "net.netfilter.nf_conntrack_tcp_loose", "0");
    Some((lab, client, server))
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            // Each process leads its own group: this also ends whatever it started.
            // SAFETY: kill takes plain integers; the group is the child's own.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
        for host in &self.hosts {
            remove_namespace(host);
        }
    }
}

/// Deletes the namespaces of labs whose test process is gone (killed before it could clean up).
fn remove_abandoned_labs() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for name in entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok()) {
        let owner = name.strip_prefix("ka").and_then(|rest| rest.split_once('x')).map(|(mark, _)| mark);
        if owner.is_some_and(super::owner::gone) {
            remove_namespace(&name);
        }
    }
}

/// Kills what still runs in the namespace, then deletes it.
fn remove_namespace(name: &str) {
    let pids = Command::new("ip").args(["netns", "pids", name]).output();
    for pid in pids.map(|output| text(&output.stdout)).unwrap_or_default().split_whitespace() {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(pid.parse().unwrap_or(0), libc::SIGKILL) };
    }
    let _ = Command::new("ip").args(["netns", "delete", name]).status();
}

/// Runs the command in `host`'s network namespace, in a process group of its own.
fn inside(host: &Host, mut command: Command) -> Command {
    let namespace = File::open(format!("/run/netns/{}", host.0)).expect("the namespace exists");
    // SAFETY: pre_exec's closure only makes system calls (prctl, setns), which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            // Killed with the test, should the test itself be killed before its Drop runs.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
                || libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(output.status.success(), "{command:?} failed: {}", text(&output.stderr));
}

fn forward_lines(stream: impl Read + Send + 'static, label: &'static str, sender: Sender<(Instant, String)>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send((Instant::now(), format!("{label}{line}"))).is_err() {
                break;
            }
        }
    });
}

/// A process started by a lab: its input, and its output lines with the time each arrived.
pub struct Process {
    stdin: Option<ChildStdin>,
    lines: Receiver<(Instant, String)>,
    seen: Vec<String>,
}

impl Process {
    /// The next line that starts with `start`, within `limit`; other lines are kept for `output`.
    pub fn line(&mut self, start: &str, limit: Duration) -> Option<(Instant, String)> {
        let deadline = Instant::now() + limit;
        while let Ok((when, line)) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(line.clone());
            if line.starts_with(start) {
                return Some((when, line));
            }
        }
        None
    }

    /// Whether a line `wanted` accepts came: among those seen so far, or within `limit`. For a
    /// line written before the one the test waited for but on the other stream, which its own
    /// thread may pass on later.
    pub fn saw(&mut self, wanted: impl Fn(&str) -> bool, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.seen.iter().any(|line| wanted(line)) {
                return true;
            }
            if self.line("", deadline.saturating_duration_since(Instant::now())).is_none() {
                return false;
            }
        }
    }

    /// Like `line`, but the line must come.
    pub fn expect(&mut self, start: &str, limit: Duration) -> (Instant, String) {
        self.line(start, limit).unwrap_or_else(|| panic!("no line {start:?} within {limit:?}; got {:?}", self.seen))
    }

    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin.as_ref().unwrap(), "{line}").unwrap();
    }

    /// Closes the process's stdin.
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Every line seen so far, after waiting `limit` for more.
    pub fn output(&mut self, limit: Duration) -> &[String] {
        let deadline = Instant::now() + limit;
        while let Ok((_, line)) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(line);
        }
        &self.seen
    }
}
