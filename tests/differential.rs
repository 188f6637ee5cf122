//! Differential test: each program runs twice under `strace -ff`, without and with the library,
//! with the same environment otherwise. After normalisation (below), the run with the library
//! must show every system call of the run without it, in the same order, with the same arguments,
//! results and errno. The only calls it may add:
//!
//! - the dynamic loader mapping libkeepalive.so: `openat`, `read`, `newfstatat`, `mmap`, `close`
//!   naming the file or its descriptor. That is the loader's work, done before the program runs;
//! - `setsockopt` on TCP sockets, which is what the library is for;
//! - `getsockopt`: reading an option changes nothing. Besides TCP sockets, the library reads
//!   `SO_KEEPALIVE` (and `SO_PROTOCOL`) of whatever descriptor reaches `connect()` or `accept()`:
//!   UNIX and UDP sockets, to learn that they are not TCP, and bad descriptors, which fail;
//! - `getpeername` on a TCP socket `accept()` returned, when peer rules or a side are set: reading
//!   the peer changes nothing;
//! - `gettid` then `process_vm_readv` of the process's own memory, before a `connect()` with peer
//!   rules set: the library reads the address through the kernel, which reports a bad pointer
//!   instead of crashing on it; reading changes nothing;
//! - `prctl(PR_GET_AUXV)` once per process at load, when our variables are set: whether the
//!   program runs in secure-execution mode, where they are ignored; reading changes nothing;
//! - the library's probe: once per process, the first time a socket without keepalive reaches
//!   `connect()` or `accept()`, it reads the timers fresh sockets get in a child that shares its
//!   memory but not its descriptors (`rt_sigprocmask` blocking every signal, `clone` with
//!   `CLONE_VM|CLONE_VFORK` and no exit signal, `wait4` with `__WCLONE`, `rt_sigprocmask`
//!   restoring the mask). The child's own trace (`socket`, `getsockopt`s, `exit`) is checked to
//!   be that and set aside; it takes no place among the program's children. Counted and printed
//!   separately.
//!
//! Calls that manage anonymous memory (`brk`, anonymous `mmap`, `munmap`, `mprotect`, `madvise`,
//! `mremap`) are left out of both runs: see `manages_memory`. File mappings are compared. Also left
//! out: `poll()` calls that timed out (`timed_out`) and changes of SIGPIPE's action
//! (`guards_a_wait`), whose number depends on how soon the peer answers.
//!
//! Normalisation, applied to both runs alike, removes only what differs between any two runs of
//! the same program: addresses (ASLR), process and thread ids (where calls take or return
//! them), ports (also where the program
//! writes them as text), the time left in a `poll()` timeout, socket and pipe inodes,
//! the bytes `getrandom` returned, what `sysinfo` says of the machine, the CPU time in a SIGCHLD, the count of environment variables in `execve`, and the
//! padding strace puts before results.

mod common;
use common::*;
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Settings given to both runs; only LD_PRELOAD differs.
const SETTINGS: [(&str, &str); 4] =
    [("KEEPALIVE_IDLE", "20"), ("KEEPALIVE_INTVL", "5"), ("KEEPALIVE_CNT", "3"), ("KEEPALIVE_USER_TIMEOUT", "30")];

/// A directory for the traces, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("libkeepalive-differential-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One traced process or thread: its place in the process tree and its normalised calls.
type Trace = BTreeMap<String, Vec<String>>;

/// What `strace -ff` wrote for one run: each process's calls by process id, and the process ids
/// and ports seen, which normalisation replaces.
struct Raw {
    calls: BTreeMap<u32, String>,
    ids: HashSet<String>,
    ports: HashSet<String>,
}

/// Runs `program` under `strace -ff`.
fn trace(program: &Path, arguments: &[&str], environment: &[(&str, &str)], preload: bool, scratch: &Path) -> Raw {
    let prefix = scratch.join(if preload { "with" } else { "without" });
    let mut command = clean_command("strace");
    command.args(["-ff", "-qq", "-yy", "-s", "256", "-o"]).arg(&prefix);
    if preload {
        // Set for the traced program only, not for strace.
        command.arg("-E").arg(format!("LD_PRELOAD={}", library().display()));
    }
    command.arg(program).args(arguments).envs(SETTINGS).envs(environment.iter().copied());
    let output = command.output().expect("strace is needed for this test");
    assert!(output.status.success(), "{} {arguments:?} (preload {preload}): {}", program.display(), describe(&output));
    assert!(output.stderr.is_empty(), "{}", describe(&output));

    let mut raw: BTreeMap<u32, String> = BTreeMap::new();
    for entry in std::fs::read_dir(scratch).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(&format!("{}.", prefix.file_name().unwrap().to_string_lossy())) {
            raw.insert(pid.parse().unwrap(), std::fs::read_to_string(&path).unwrap());
            std::fs::remove_file(&path).unwrap();
        }
    }
    let mut ids: HashSet<String> = raw.keys().map(u32::to_string).collect();
    for probe in probe_children(&raw) {
        let calls = raw.remove(&probe).unwrap_or_default();
        let expected = ["socket(", "getsockopt(", "exit(", "+++ exited with 0 +++"];
        for line in calls.lines() {
            assert!(expected.iter().any(|start| line.starts_with(start)), "probe child {probe}: {line}");
        }
    }
    // The root's parent is strace, a different process in each run.
    ids.insert(text(&Command::new("sh").arg("-c").arg("echo $PPID").output().unwrap().stdout).trim().to_string());
    // Ports the program used, also where they appear as text (a child's argument).
    let mut ports = HashSet::new();
    for content in raw.values() {
        for piece in content.split("htons(").skip(1) {
            ports.insert(piece.split(')').next().unwrap().to_string());
        }
    }
    ports.remove("0");
    Raw { calls: raw, ids, ports }
}

/// Each process's normalised calls, keyed by its place in the tree ("0", "0.1" for its first
/// child, ...), and the number of loader lines dropped. The ids and ports are those of both runs:
/// a number one run used as a port may be a length in the other, and must read the same in both.
fn normalised(run: &Raw, ids: &HashSet<String>, ports: &HashSet<String>) -> (Trace, usize) {
    let names = tree_names(&run.calls);
    let mut dropped = 0;
    let mut traces = Trace::new();
    for (pid, content) in &run.calls {
        let (lines, loader) = without_our_loading(content);
        dropped += loader;
        let calls = lines.iter().map(|line| normalise(line, ids, ports)).collect();
        traces.insert(names[pid].clone(), calls);
    }
    (traces, dropped)
}

/// `clone()` of the library's probe child: shared memory, no exit signal.
const PROBE_CLONE: &str = "clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK)";

/// The process ids of the library's probe children.
fn probe_children(raw: &BTreeMap<u32, String>) -> Vec<u32> {
    let clones = raw.values().flat_map(|content| content.lines()).filter(|line| line.starts_with(PROBE_CLONE));
    clones.filter_map(|line| line.rsplit_once(" = ")?.1.trim().parse().ok()).collect()
}

/// Names each process by its place in the tree: its parent's name and the order of its creation.
fn tree_names(raw: &BTreeMap<u32, String>) -> BTreeMap<u32, String> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (pid, content) in raw {
        for line in content.lines() {
            let creates = ["clone(", "clone3(", "fork(", "vfork("].iter().any(|call| line.starts_with(call))
                && !line.starts_with(PROBE_CLONE);
            if let (true, Some((_, result))) = (creates, line.rsplit_once(" = ")) {
                if let Ok(child) = result.trim().parse::<u32>() {
                    children.entry(*pid).or_default().push(child);
                }
            }
        }
    }
    let created: HashSet<u32> = children.values().flatten().copied().collect();
    let mut names = BTreeMap::new();
    let mut pending: Vec<(u32, String)> =
        raw.keys().filter(|pid| !created.contains(pid)).map(|pid| (*pid, "0".to_string())).collect();
    assert_eq!(pending.len(), 1, "one root process expected: {:?}", raw.keys());
    while let Some((pid, name)) = pending.pop() {
        for (index, child) in children.get(&pid).into_iter().flatten().enumerate() {
            pending.push((*child, format!("{name}.{}", index + 1)));
        }
        names.insert(pid, name);
    }
    names
}

/// Drops the dynamic loader's mapping of libkeepalive.so (lines naming the file, or its descriptor,
/// which `-yy` annotates with the path), and calls that manage anonymous memory.
fn without_our_loading(content: &str) -> (Vec<&str>, usize) {
    let mut kept = Vec::new();
    let mut dropped = 0;
    for line in content.lines() {
        if line.contains("libkeepalive.so") {
            dropped += 1;
        } else if !manages_memory(line) && !timed_out(line) && !guards_a_wait(line) {
            kept.push(line);
        }
    }
    (kept, dropped)
}

/// A `poll()` that ran out of time only says "not yet": how often a program waits for its peer
/// depends on how fast the peer is.
fn timed_out(line: &str) -> bool {
    line.starts_with("poll(") && line.ends_with("= 0 (Timeout)")
}

/// curl sets SIGPIPE's action around each wait for its peer, so how many of these calls it makes
/// depends, as for `timed_out` polls, on how fast the peer is.
fn guards_a_wait(line: &str) -> bool {
    line.starts_with("rt_sigaction(SIGPIPE,")
}

/// With one library more mapped, the kernel places every later mapping elsewhere, and
/// allocators (the loader's, malloc's heaps, Python's arenas) trim and extend their memory
/// according to those addresses, so when and how much they ask for differs.
fn manages_memory(line: &str) -> bool {
    ["brk(", "munmap(", "mprotect(", "madvise(", "mremap("].iter().any(|call| line.starts_with(call))
        || (line.starts_with("mmap(") && line.contains("MAP_ANONYMOUS"))
}

/// Removes from one line what differs between any two runs (see the module's comment).
fn normalise(line: &str, ids: &HashSet<String>, ports: &HashSet<String>) -> String {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &line[i..];
        // `3<TCP:[127.0.0.1:41822->127.0.0.1:8080]>`, `1<pipe:[4242]>`: keep the kind only.
        if let Some(kind_end) = annotation_kind(rest) {
            let end = rest.find("]>").map_or(rest.len(), |end| end + 2);
            out.push_str(&rest[..kind_end]);
            out.push('>');
            i += end;
        } else if let Some(port) = rest.strip_prefix("htons(") {
            let digits = port.bytes().take_while(u8::is_ascii_digit).count();
            out.push_str("htons(PORT");
            i += 6 + digits;
        } else if rest.starts_with("0x") && rest[2..].bytes().take_while(u8::is_ascii_hexdigit).count() >= 5 {
            out.push_str("ADDR");
            i += 2 + rest[2..].bytes().take_while(u8::is_ascii_hexdigit).count();
        } else if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let number = &rest[..digits];
            out.push_str(if ids.contains(number) && names_a_process(line, i, digits) {
                "PID"
            } else if ports.contains(number) {
                "PORT"
            } else {
                number
            });
            i += digits;
        } else if let Some(comment) = rest.strip_prefix("/* ").filter(|comment| comment.contains(" vars */")) {
            let end = comment.find(" */").unwrap() + 3 + 3;
            out.push_str("/* vars */");
            i += end;
        } else {
            let character = rest.chars().next().unwrap();
            out.push(character);
            i += character.len_utf8();
        }
    }
    // strace pads results to a column; the padding depends on what was removed above.
    let mut out = out.split(' ').filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ");
    // The machine's uptime, load and free memory.
    if out.starts_with("sysinfo(") {
        out = "sysinfo(MACHINE STATE) = 0".to_string();
    }
    // How long poll() may wait: what is left of the program's own timeout, measured by the clock.
    if let (true, Some((arguments, result))) = (out.starts_with("poll("), out.rsplit_once(") = ")) {
        let (arguments, _) = arguments.rsplit_once(", ").unwrap();
        out = format!("{arguments}, TIMEOUT) = {result}");
    }
    // A signal's CPU times.
    if let (true, Some(start)) = (out.starts_with("--- SIG"), out.find(", si_utime=")) {
        out.replace_range(start..out.len() - 5, "");
    }
    if out.starts_with("getrandom(\"") {
        let end = out[11..].find('"').map_or(out.len(), |end| end + 11);
        out.replace_range(11..end, "RANDOM");
    }
    out
}

/// Whether the number at `line[at..at + length]` stands where a process id does: a result of a
/// call that returns one, the first argument of a call that takes one (the second of `tgkill`),
/// `si_pid=`, or in a file name (`name-1234.sock`). Elsewhere a number that happens to equal a
/// process id (a size, or `311` in `cpython-311`) is left alone.
fn names_a_process(line: &str, at: usize, length: usize) -> bool {
    const RETURNS: [&str; 9] =
        ["set_tid_address", "getpid", "gettid", "getppid", "clone", "clone3", "fork", "vfork", "wait4"];
    const TAKES: [&str; 6] = ["wait4", "kill", "tgkill", "tkill", "pidfd_open", "prlimit64"];
    let call = line.split('(').next().unwrap_or("");
    let before = &line[..at];
    let after = &line[at + length..];
    (before.ends_with(" = ") && RETURNS.contains(&call))
        || (before == format!("{call}(") && TAKES.contains(&call))
        || (call == "tgkill" && before.matches(", ").count() == 1 && !before.contains(')'))
        || before.ends_with("si_pid=")
        || (before.ends_with('-') && after.starts_with('.'))
}

/// At `<KIND:[`, the length of `<KIND`; `None` elsewhere.
fn annotation_kind(text: &str) -> Option<usize> {
    let inner = text.strip_prefix('<')?;
    let kind = inner.bytes().take_while(|byte| byte.is_ascii_alphanumeric() || *byte == b'-').count();
    (kind > 0 && inner[kind..].starts_with(":[")).then_some(kind + 1)
}

#[derive(Default)]
struct Figures {
    processes: usize,
    calls: usize,
    getsockopt: usize,
    setsockopt: usize,
    getpeername: usize,
    address_reads: usize,
    probes: usize,
    auxv_reads: usize,
    loader: usize,
}

fn call_name(line: &str) -> &str {
    line.split('(').next().unwrap_or("")
}

/// The descriptor annotation of the first argument: `TCP` in `setsockopt(4<TCP>, ...`.
fn first_argument_kind(line: &str) -> &str {
    line.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map_or("", |(kind, _)| kind)
}

/// Length of the library's probe starting at `calls[0]`: every signal blocked, the `clone()` of
/// its child, the wait for it (none if the clone failed), and the mask restored; 0 if `calls`
/// does not start with one.
fn probe_length(calls: &[String]) -> usize {
    let starts = |at: usize, text: &str| calls.get(at).is_some_and(|line| line.starts_with(text));
    if !starts(0, "rt_sigprocmask(SIG_SETMASK, ~[") || !starts(1, PROBE_CLONE) {
        return 0;
    }
    let waited = usize::from(starts(2, "wait4("));
    if starts(2 + waited, "rt_sigprocmask(SIG_SETMASK, ") { 3 + waited } else { 0 }
}

/// With peer rules, the library copies the address `connect()` is given through the kernel
/// (`gettid`, then `process_vm_readv` of the process's own memory): the length of that pair at
/// the start of `calls`, or 0.
fn address_read_length(calls: &[String]) -> usize {
    let pair = calls.first().is_some_and(|line| line.starts_with("gettid() = "))
        && calls.get(1).is_some_and(|line| line.starts_with("process_vm_readv("));
    if pair { 2 } else { 0 }
}

/// Compares the two runs process by process; returns the figures or the first difference.
fn compare(without: &Trace, with: &Trace, figures: &mut Figures) -> Result<(), String> {
    let names = |trace: &Trace| trace.keys().cloned().collect::<Vec<_>>();
    if names(without) != names(with) {
        return Err(format!("different processes: {:?} and {:?}", names(without), names(with)));
    }
    for (name, plain) in without {
        let preloaded = &with[name];
        let mut probes = 0;
        let (mut i, mut j) = (0, 0);
        while i < plain.len() || j < preloaded.len() {
            if i < plain.len() && j < preloaded.len() && plain[i] == preloaded[j] {
                i += 1;
                j += 1;
                continue;
            }
            let Some(extra) = preloaded.get(j) else {
                return Err(format!("process {name}: call {i} missing with the library: {}", plain[i]));
            };
            let kind = first_argument_kind(extra);
            match call_name(extra) {
                "setsockopt" if kind == "TCP" || kind == "TCPv6" => figures.setsockopt += 1,
                "getsockopt" => figures.getsockopt += 1,
                "getpeername" if kind == "TCP" || kind == "TCPv6" => figures.getpeername += 1,
                // PR_GET_AUXV into 1 KiB (strace 6.1 does not name it, and its number normalises
                // as an address).
                "prctl" if extra.contains("PR_GET_AUXV, ") || extra.contains("/* PR_??? */, ADDR, 0x400, 0, 0)") => {
                    figures.auxv_reads += 1
                }
                "gettid" if address_read_length(&preloaded[j..]) > 0 => {
                    figures.address_reads += 1;
                    j += address_read_length(&preloaded[j..]);
                    continue;
                }
                _ if probe_length(&preloaded[j..]) > 0 && probes == 0 => {
                    probes += 1;
                    figures.probes += 1;
                    j += probe_length(&preloaded[j..]);
                    continue;
                }
                _ => {
                    let context = |calls: &[String], at: usize| {
                        calls[at.saturating_sub(3)..(at + 3).min(calls.len())].join("\n  ")
                    };
                    return Err(format!(
                        "process {name}: with the library, call {j} differs:\n  {extra}\nwithout it, call {i}:\n  {}\ncontext without:\n  {}\ncontext with:\n  {}",
                        plain.get(i).map_or("(none)", String::as_str),
                        context(plain, i),
                        context(preloaded, j),
                    ));
                }
            }
            j += 1;
        }
        figures.processes += 1;
        figures.calls += plain.len();
    }
    Ok(())
}

/// Traces `program` without and with the library and compares; prints the figures.
fn same_calls(label: &str, program: &Path, arguments: &[&str], environment: &[(&str, &str)]) -> Figures {
    let scratch = Scratch::new(&label.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    let runs = [false, true].map(|preload| trace(program, arguments, environment, preload, &scratch.0));
    let ids: HashSet<String> = runs.iter().flat_map(|run| run.ids.iter().cloned()).collect();
    let ports: HashSet<String> = runs.iter().flat_map(|run| run.ports.iter().cloned()).collect();
    let (without, none) = normalised(&runs[0], &ids, &ports);
    let (with, loader) = normalised(&runs[1], &ids, &ports);
    assert_eq!(none, 0);
    let mut figures = Figures { loader, ..Figures::default() };
    if let Err(difference) = compare(&without, &with, &mut figures) {
        panic!("{label}: the program could notice the library.\n{difference}");
    }
    assert!(figures.loader > 0, "{label}: the library was not loaded");
    assert_eq!(figures.auxv_reads, figures.processes, "{label}: one PR_GET_AUXV per process, at load");
    report(&format!(
        "{label}: {} processes, {} calls identical; added: {} setsockopt on TCP sockets, {} getsockopt, {} address reads, {} probe, {} loader calls mapping the library",
        figures.processes,
        figures.calls,
        figures.setsockopt,
        figures.getsockopt,
        figures.address_reads,
        figures.probes,
        figures.loader
    ));
    figures
}

#[test]
fn loading_the_library_adds_no_call() {
    for program in ["/bin/true", "/bin/ls"] {
        let figures = same_calls(program, Path::new(program), &[], &[]);
        assert_eq!((figures.setsockopt, figures.getsockopt, figures.probes), (0, 0, 0), "{program}");
    }
}

/// C programs on glibc and musl, chosen among those that never read back the options the
/// library sets: a program that asks for its keepalive setting is told the new one, which is
/// the point of the library, not a difference this test is about.
#[test]
fn c_programs() {
    let runs: [(&str, &[&str]); 6] = [
        ("scenarios", &["errno_kept"]),
        ("scenarios", &["untouched"]),
        ("scenarios", &["program_choice"]),
        ("faults", &["transcript", "deny-setsockopt"]),
        ("faults", &["transcript", "deny-getsockopt"]),
        ("faults", &["transcript", "no-descriptors"]),
    ];
    let mut total = Figures::default();
    for libc in LIBCS {
        for (program, arguments) in runs {
            let figures = same_calls(
                &format!("{libc} {program} {}", arguments.join(" ")),
                &c_program(libc, program),
                arguments,
                &[],
            );
            total.calls += figures.calls;
            total.setsockopt += figures.setsockopt;
        }
    }
    assert!(total.setsockopt > 0, "the library configured nothing");
    report(&format!("C programs: {} calls compared, {} setsockopt added", total.calls, total.setsockopt));
}

/// python3 as a server and a client of itself, with a child python3 that connects too.
const PYTHON_PROGRAM: &str = "import socket, subprocess, sys\n\
    listener = socket.socket()\n\
    listener.bind(('127.0.0.1', 0))\n\
    listener.listen()\n\
    port = listener.getsockname()[1]\n\
    client = socket.create_connection(('127.0.0.1', port))\n\
    server, _ = listener.accept()\n\
    client.sendall(b'ping')\n\
    assert server.recv(4) == b'ping'\n\
    child = \"import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1]))).sendall(b'pong')\"\n\
    subprocess.run([sys.executable, '-c', child, str(port)], check=True)\n\
    other, _ = listener.accept()\n\
    assert other.recv(4) == b'pong'\n\
    print('done')";

#[test]
fn python3() {
    // A fixed hash seed: Python's set and dict order, and so some of its calls, depend on it.
    let environment = [("PYTHONHASHSEED", "0"), ("PYTHONDONTWRITEBYTECODE", "1")];
    let figures = same_calls("python3", &common::python3(), &["-c", PYTHON_PROGRAM], &environment);
    assert!(figures.processes >= 2 && figures.setsockopt > 0, "python3 and its child must both run, configured");
}

/// The process holding the other end of `stream`, a connection within this machine: the owner of
/// the socket that /proc/net/tcp lists for that end.
fn process_at_the_other_end(stream: &TcpStream) -> Option<u32> {
    let hex = |address: std::net::SocketAddr| match address {
        std::net::SocketAddr::V4(v4) => format!("{:08X}:{:04X}", u32::from_ne_bytes(v4.ip().octets()), v4.port()),
        std::net::SocketAddr::V6(_) => unreachable!("an IPv4 connection"),
    };
    let (local, remote) = (hex(stream.peer_addr().ok()?), hex(stream.local_addr().ok()?));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let row = table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.len() > 9 && fields[1] == local && fields[2] == remote)?;
    let socket = Path::new(&format!("socket:[{}]", row[9])).to_owned();
    let processes = std::fs::read_dir("/proc").ok()?.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok());
    processes.into_iter().find(|pid: &u32| {
        let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().filter_map(Result::ok);
        descriptors.into_iter().any(|entry| std::fs::read_link(entry.path()).is_ok_and(|link| link == socket))
    })
}

/// Whether a thread of process `pid` sleeps in poll() on two descriptors, as curl does while it
/// waits for its peer (its socket and a wake-up pipe).
fn sleeps_in_a_poll_of_two(pid: u32) -> bool {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().filter_map(Result::ok);
    threads.into_iter().any(|thread| {
        let read = |name: &str| std::fs::read_to_string(thread.path().join(name)).unwrap_or_default();
        let sleeping = read("stat").rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('S'));
        let call: Vec<String> = read("syscall").split_whitespace().map(str::to_owned).collect();
        sleeping && call.len() > 2 && call[0] == libc::SYS_poll.to_string() && call[2] == "0x2"
    })
}

/// curl fetching from a server that answers at once and closes.
#[test]
fn curl() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            // The answer comes well after the request, and while curl sleeps in a poll waiting
            // for it, so that in both runs curl has looked for it (polls that time out are not
            // compared) and gets it from the same blocking poll. An answer racing curl's first
            // look, or coming between two of its polls (strace and load can stretch that gap),
            // would make the runs differ by timing.
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            std::thread::sleep(std::time::Duration::from_millis(300));
            let curl = process_at_the_other_end(&stream).expect("curl's end of the connection");
            let waiting = wait_for(std::time::Duration::from_secs(5), || sleeps_in_a_poll_of_two(curl).then_some(()));
            assert!(waiting.is_some(), "curl ({curl}) does not wait in poll() for the answer");
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").unwrap();
        }
    });
    let url = format!("http://127.0.0.1:{port}/");
    let figures = same_calls("curl", Path::new("curl"), &["--silent", "--no-keepalive", "--max-time", "10", &url], &[]);
    server.join().unwrap();
    assert!(figures.setsockopt > 0, "curl's connection was not configured");
}

/// With peer rules, options wait for `connect()`, which needs the timers a fresh socket gets; the
/// library reads them from the first socket the program makes, so it makes no socket of its own.
#[test]
fn peer_rules_need_no_probe() {
    let environment = [("PYTHONHASHSEED", "0"), ("PYTHONDONTWRITEBYTECODE", "1"), ("KEEPALIVE_ONLY", "127.0.0.0/8")];
    let figures = same_calls("python3, KEEPALIVE_ONLY", &common::python3(), &["-c", PYTHON_PROGRAM], &environment);
    assert!(figures.setsockopt > 0 && figures.getpeername > 0, "the connections were not configured");
    assert_eq!(figures.address_reads, 2, "one address read per connect()");
    assert_eq!(figures.probes, 0, "a probe socket in a process that made its own sockets");
}

/// What force mode costs over the default while the program leaves keepalive alone: the kernel's
/// cookie for each socket it configures (3 made by socket(), 2 accepted), and one for the socket
/// or listener at each connect() and accept(), which proves it is still the one configured. The
/// default mode reads SO_KEEPALIVE there instead. The options are the same (SETTINGS configures
/// four timers, and SO_KEEPALIVE follows): the python3 program makes three TCP sockets, and
/// connects and accepts twice.
#[test]
fn force_mode_costs_a_cookie_per_socket() {
    let base = [("PYTHONHASHSEED", "0"), ("PYTHONDONTWRITEBYTECODE", "1")];
    let forced = [base[0], base[1], ("KEEPALIVE_FORCE", "1")];
    let default = same_calls("python3", &common::python3(), &["-c", PYTHON_PROGRAM], &base);
    let force = same_calls("python3, KEEPALIVE_FORCE", &common::python3(), &["-c", PYTHON_PROGRAM], &forced);
    assert_eq!((default.setsockopt, default.getsockopt, default.probes), (3 * 5, 2 + 2, 0));
    assert_eq!((force.setsockopt, force.getsockopt, force.probes), (3 * 5, (3 + 2) + (2 + 2), 0));
}

/// What the library asks of sockets it leaves alone: a UDP or UNIX `connect()` or `accept()` costs
/// two `getsockopt` (keepalive off, then not TCP). The `untouched` scenario connects two UDP
/// sockets, and connects and accepts one UNIX socket.
#[test]
fn sockets_left_alone_cost_little() {
    for libc in LIBCS {
        let figures = same_calls(&format!("{libc} untouched"), &c_program(libc, "scenarios"), &["untouched"], &[]);
        assert_eq!((figures.setsockopt, figures.getsockopt, figures.probes), (0, 2 * 2 + 2 + 2, 0), "{libc}");
    }
}

/// `KEEPALIVE_SIDE` alone selects every peer on its side: no address is read, not even through
/// the kernel, so a seccomp filter that forbids `process_vm_readv()` never meets the library.
#[test]
fn a_side_alone_reads_no_address() {
    let environment = [("PYTHONHASHSEED", "0"), ("PYTHONDONTWRITEBYTECODE", "1"), ("KEEPALIVE_SIDE", "client")];
    let figures =
        same_calls("python3, KEEPALIVE_SIDE=client", &common::python3(), &["-c", PYTHON_PROGRAM], &environment);
    assert!(figures.setsockopt > 0, "the client connections were not configured");
    assert_eq!((figures.address_reads, figures.getpeername), (0, 0));
}
