//! `keepalive --cgroup DIR`: the kernel configures every TCP connection made or accepted in a
//! test cgroup, whatever the program (static C, Go); shown by reading the options back from the
//! kernel, never from our own bookkeeping.

mod common;
use common::cgroup::{
    Options, TestCgroup, connections, go_program, keepalive, options_of, pin_directory, static_c_program,
};
use common::{PortTaken, Running, clean_command, describe, on_free_ports, spawn, text};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

const CONFIGURED: Options = Options::on(20, 5, 3, 30000);
const EVERY_TIMER: [&str; 8] = ["--idle", "20", "--interval", "5", "--count", "3", "--user-timeout", "30"];

fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn start(command: Command) -> Running {
    spawn(command)
}

/// Starts the server `serving(port)` makes on a port free a moment ago, and connects to it: again on
/// another port when the server exits because another process took its port meanwhile.
fn connected_to(serving: impl Fn(u16) -> Command) -> (Running, TcpStream) {
    on_free_ports(|[port]| {
        let mut server = start(serving(port));
        let connected = common::wait_for(std::time::Duration::from_secs(5), || match server.0.try_wait() {
            Ok(Some(status)) => Some(Err(PortTaken(format!("the server exited with {status}")))),
            _ => TcpStream::connect(("127.0.0.1", port)).ok().map(Ok),
        });
        Ok((server, connected.expect("the server listens")?))
    })
}

fn wire_client(program: &std::path::Path, port: u16) -> Command {
    let mut command = clean_command(program);
    command.args(["connect", "127.0.0.1", &port.to_string()]);
    command
}

#[test]
fn static_and_go_programs_inside_get_the_options_and_one_outside_does_not() {
    let Some(cgroup) = TestCgroup::new("static_and_go") else { return };
    let (wire, go) = (static_c_program("wire"), go_program());
    let (_listener, port) = listener();
    cgroup.attach(&EVERY_TIMER);
    let static_inside = start(cgroup.inside(wire_client(&wire, port)));
    let go_inside = start(cgroup.inside({
        let mut command = clean_command(&go);
        command.arg(format!("127.0.0.1:{port}"));
        command
    }));
    let outside = start(wire_client(&wire, port));
    assert_eq!(options_of(static_inside.0.id(), port), CONFIGURED, "static C program in the cgroup");
    assert_eq!(options_of(go_inside.0.id(), port), CONFIGURED, "Go program in the cgroup");
    assert!(!options_of(outside.0.id(), port).keepalive, "a program outside the cgroup is left alone");
}

#[test]
fn accepted_connections_inside_get_the_options() {
    let Some(cgroup) = TestCgroup::new("accepted") else { return };
    let wire = static_c_program("wire");
    cgroup.attach(&EVERY_TIMER);
    let (server, client) = connected_to(|port| {
        let mut serve = clean_command(&wire);
        serve.args(["serve", &port.to_string()]);
        cgroup.inside(serve)
    });
    let client_port = client.local_addr().unwrap().port();
    assert_eq!(options_of(server.0.id(), client_port), CONFIGURED);
}

/// Variables in the command's environment apply, as they do for the library and the other ways
/// in, and options win over them.
#[test]
fn variables_in_the_environment_apply_and_options_win() {
    let Some(cgroup) = TestCgroup::new("environment") else { return };
    let wire = static_c_program("wire");
    let (_listener, port) = listener();
    let output = clean_command(keepalive())
        .envs([("KEEPALIVE_IDLE", "25"), ("KEEPALIVE_CNT", "7")])
        .args(["--count", "4", "--cgroup"])
        .arg(&cgroup.path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let status = cgroup.status();
    assert!(status.contains("KEEPALIVE_IDLE=25") && status.contains("KEEPALIVE_CNT=4"), "{status}");
    assert!(!status.contains("KEEPALIVE_CNT=7"), "{status}");
    let inside = start(cgroup.inside(wire_client(&wire, port)));
    let options = options_of(inside.0.id(), port);
    assert_eq!((options.idle, options.count), (25, 4), "from the kernel");
}

#[test]
fn replace_and_detach() {
    let Some(cgroup) = TestCgroup::new("replace_and_detach") else { return };
    let wire = static_c_program("wire");
    let (_listener, port) = listener();
    cgroup.attach(&["--idle", "20"]);
    let first = start(cgroup.inside(wire_client(&wire, port)));
    assert_eq!(options_of(first.0.id(), port).idle, 20);

    let first_program = program_id(&cgroup.status());
    cgroup.attach(&["--idle", "30", "--count", "4"]);
    let status = cgroup.status();
    assert_ne!(program_id(&status), first_program);
    assert_freed(first_program);
    assert!(status.contains("KEEPALIVE_IDLE=30") && status.contains("KEEPALIVE_CNT=4"), "{status}");
    assert!(!status.contains("KEEPALIVE_IDLE=20"), "{status}");
    assert!(status.contains("other sock_ops programs: 0"), "never two of ours: {status}");
    let second = start(cgroup.inside(wire_client(&wire, port)));
    let replaced = options_of(second.0.id(), port);
    assert_eq!((replaced.idle, replaced.count), (30, 4), "the new settings apply to new connections");
    assert_eq!(options_of(first.0.id(), port).idle, 20, "a connection keeps what it was given");

    let second_program = program_id(&cgroup.status());
    let detached = cgroup.keepalive(&["--detach"]);
    assert!(detached.status.success(), "{}", describe(&detached));
    assert!(cgroup.status().contains("keepalive not attached"));
    assert!(!pin_directory(&cgroup.path).exists(), "the pins are removed");
    assert_freed(second_program);
    let again = cgroup.keepalive(&["--detach"]);
    assert!(again.status.success() && text(&again.stdout).contains("was not attached"), "{}", describe(&again));
    let third = start(cgroup.inside(wire_client(&wire, port)));
    assert!(!options_of(third.0.id(), port).keepalive, "nothing applies after --detach");
}

/// The ID of our sock_ops program in `keepalive --status DIR`.
fn program_id(status: &str) -> u32 {
    let line = status.lines().find_map(|line| line.strip_prefix("sock_ops program: "));
    line.and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("no program in {status}"))
}

/// The kernel freed the program (bpftool, a test aid only: the command does not need it).
fn assert_freed(id: u32) {
    let gone = common::wait_for(std::time::Duration::from_secs(5), || {
        let output = Command::new("bpftool").args(["prog", "show", "id", &id.to_string()]).output();
        let output = output.expect("bpftool is needed for these tests");
        (!output.status.success()).then_some(())
    });
    assert!(gone.is_some(), "program {id} is still loaded");
}

#[test]
fn status_shows_force_and_the_settings() {
    let Some(cgroup) = TestCgroup::new("status") else { return };
    assert!(cgroup.status().contains("keepalive not attached"));
    cgroup.attach(&["--force", "--only", "10.0.0.0/8,:6379"]);
    let status = cgroup.status();
    for expected in ["keepalive attached", "force: on", "KEEPALIVE_FORCE=1", "KEEPALIVE_ONLY=10.0.0.0/8,:6379"] {
        assert!(status.contains(expected), "{expected:?} in\n{status}");
    }
    cgroup.attach(&["--idle", "9"]);
    let status = cgroup.status();
    assert!(status.contains("force: off") && !status.contains("KEEPALIVE_ONLY"), "{status}");
    assert!(!pin_directory(&cgroup.path).join("setsockopt").exists(), "the force program is detached");
}

#[test]
fn errors_are_one_line_and_leave_nothing_attached() {
    let Some(cgroup) = TestCgroup::new("errors") else { return };
    let keepalive = common::cgroup::keepalive();
    let refused = |command: &mut Command, expected: &str| {
        let output = command.output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("keepalive: ") && stderr.contains(expected), "{expected:?} in {stderr}");
    };
    refused(
        Command::new(&keepalive).args(["--cgroup", "/tmp"]),
        "/tmp is not a cgroup v2 directory (cgroup v2 is mounted at",
    );
    refused(
        Command::new(&keepalive).args(["--cgroup", "/nonexistent/cgroup"]),
        "cannot open /nonexistent/cgroup: No such file",
    );
    // Without cgroup v2: a mount namespace of its own where it is unmounted.
    let mount = cgroup.path.parent().unwrap().display().to_string();
    refused(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!("umount -l '{mount}' && exec '{}' --cgroup /sys/fs/cgroup", keepalive.display())),
        "no cgroup v2 is mounted on this system (mount -t cgroup2 none /sys/fs/cgroup)",
    );
    let mut without_capabilities = Command::new("setpriv");
    without_capabilities
        .args(["--inh-caps=-all", "--bounding-set=-bpf,-net_admin,-sys_admin", "--"])
        .arg(&keepalive)
        .arg("--cgroup")
        .arg(&cgroup.path);
    refused(
        &mut without_capabilities,
        "--cgroup needs CAP_BPF and CAP_NET_ADMIN; this process lacks CAP_BPF and CAP_NET_ADMIN",
    );
    let [keepalive_copy] = common::copies_for_other_users([keepalive.as_path()]);
    let mut as_nobody = Command::new("setpriv");
    as_nobody
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&keepalive_copy)
        .arg("--cgroup")
        .arg(&cgroup.path);
    refused(&mut as_nobody, "this process lacks CAP_BPF and CAP_NET_ADMIN");
    assert!(cgroup.status().contains("keepalive not attached"));
    assert!(!pin_directory(&cgroup.path).exists());
}

/// Where no BPF filesystem is mounted (a container without the host's), the command mounts one,
/// which goes with the mount namespace, and our pins and links with it: it says so.
#[test]
fn a_bpf_filesystem_mounted_by_the_command_is_said_to_last_as_long_as_its_mount_namespace() {
    let Some(cgroup) = TestCgroup::new("mounted") else { return };
    let keepalive = common::cgroup::keepalive();
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "while umount /sys/fs/bpf 2>/dev/null; do :; done; exec '{}' --idle 30 --cgroup '{}'",
            keepalive.display(),
            cgroup.path.display()
        ))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(text(&output.stdout).starts_with("keepalive attached to "), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        "keepalive: mounted a BPF filesystem at /sys/fs/bpf, where there was none: what is pinned in it, ours \
         included, stays attached only as long as this mount namespace (in a container, mount the host's \
         /sys/fs/bpf there)\n"
    );
    let gone = common::wait_for(std::time::Duration::from_secs(5), || {
        cgroup.status().contains("keepalive not attached").then_some(())
    });
    assert!(gone.is_some(), "still attached once its mount namespace ended: {}", cgroup.status());
}

/// Connects from a process in `cgroup` to each of `targets` and returns whether the kernel
/// turned keepalive on for each, in order.
fn keepalive_per_target(cgroup: &TestCgroup, targets: &[(&str, u16)]) -> Vec<bool> {
    let script = "import socket, sys\n\
        for target in sys.argv[1:]:\n\
        \x20   host, port = target.rsplit(':', 1)\n\
        \x20   family = socket.AF_INET6 if ':' in host else socket.AF_INET\n\
        \x20   s = socket.socket(family, socket.SOCK_STREAM)\n\
        \x20   s.connect((host, int(port)))\n\
        \x20   print(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))\n\
        \x20   s.close()\n";
    let mut python = clean_command(common::python3());
    python.arg("-c").arg(script).args(targets.iter().map(|(host, port)| format!("{host}:{port}")));
    let output = cgroup.inside(python).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    text(&output.stdout).lines().map(|line| line.trim() == "1").collect()
}

#[test]
fn peer_rules_and_side_match_the_library() {
    use keepalive_config::{Peer, Settings, Side, rules::parse_rules};
    let Some(cgroup) = TestCgroup::new("peer_rules") else { return };
    // One listener on 127.0.0.1 only, one on every address (IPv4 as mapped IPv6 too).
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let any = TcpListener::bind("[::]:0").unwrap();
    let [p1, pa] = [&v4, &any].map(|listener| listener.local_addr().unwrap().port());
    let targets = [("127.0.0.1", p1), ("127.0.0.1", pa), ("127.0.0.2", pa), ("::1", pa), ("::ffff:127.0.0.2", pa)];
    let peers = [
        Peer::v4([127, 0, 0, 1], p1),
        Peer::v4([127, 0, 0, 1], pa),
        Peer::v4([127, 0, 0, 2], pa),
        Peer::v6(std::net::Ipv6Addr::LOCALHOST.octets(), pa),
        Peer::v6(std::net::Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped().octets(), pa),
    ];
    let cases: Vec<(Option<String>, Option<String>, &str)> = vec![
        (None, None, "both"),
        (Some("127.0.0.2".into()), None, "both"),
        (Some(format!(":{p1}")), None, "both"),
        (Some(format!("127.0.0.1:{pa}")), None, "both"),
        (None, Some("127.0.0.0/31".into()), "both"),
        (Some("127.0.0.0/8".into()), Some(format!("127.0.0.1:{p1},[::1]")), "both"),
        (Some("::1".into()), None, "both"),
        (Some("::/0".into()), None, "both"),
        (Some(format!("[::ffff:127.0.0.0/120]:{pa}")), None, "both"),
        (Some("0.0.0.0/0".into()), Some(format!(":{pa}")), "both"),
        (None, Some("::/0".into()), "both"),
        (Some("127.0.0.2/32,::1".into()), None, "client"),
        (None, None, "server"),
        (None, None, "client"),
    ];
    for (only, skip, side) in cases {
        let mut arguments = vec!["--side".to_owned(), side.to_owned()];
        let mut settings = Settings::DEFAULT;
        if let Some(only) = &only {
            arguments.extend(["--only".to_owned(), only.clone()]);
            settings.only = parse_rules(only.as_bytes(), |error| panic!("{error:?}"));
        }
        if let Some(skip) = &skip {
            arguments.extend(["--skip".to_owned(), skip.clone()]);
            settings.skip = parse_rules(skip.as_bytes(), |error| panic!("{error:?}"));
        }
        settings.side = Side::parse(side.as_bytes()).unwrap();
        cgroup.attach(&arguments.iter().map(String::as_str).collect::<Vec<_>>());
        let expected: Vec<bool> =
            peers.iter().map(|peer| settings.side != Side::Server && settings.selects(peer)).collect();
        assert_eq!(keepalive_per_target(&cgroup, &targets), expected, "only {only:?} skip {skip:?} side {side}");
    }
}

/// Runs `script` in python3 inside `cgroup` with a connection `s` to `port` made after
/// `before_connect`, and returns its output lines.
fn python_in(cgroup: &TestCgroup, port: u16, before_connect: &str, script: &str) -> Vec<String> {
    let program = format!(
        "import socket, errno\nT=socket.IPPROTO_TCP\ns = socket.socket()\n{before_connect}\n\
         s.connect(('127.0.0.1', {port}))\n\
         def get(level, name): return s.getsockopt(level, name)\n\
         def attempt(level, name, value):\n\
         \x20   try:\n\
         \x20       s.setsockopt(level, name, value); return 'ok'\n\
         \x20   except OSError as error: return errno.errorcode[error.errno]\n\
         {script}"
    );
    let mut python = clean_command(common::python3());
    python.arg("-c").arg(program);
    let output = cgroup.inside(python).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    text(&output.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn without_force_the_program_s_own_choices_win() {
    let Some(cgroup) = TestCgroup::new("own_choices") else { return };
    let (_listener, port) = listener();
    cgroup.attach(&["--idle", "20", "--count", "3"]);
    let later = "print(attempt(T, socket.TCP_KEEPIDLE, 99), get(T, socket.TCP_KEEPIDLE))\n\
                 print(attempt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0), get(socket.SOL_SOCKET, socket.SO_KEEPALIVE))";
    assert_eq!(python_in(&cgroup, port, "", later), ["ok 99", "ok 0"]);
    let before = "s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1); s.setsockopt(T, socket.TCP_KEEPIDLE, 50)";
    let read = "print(get(T, socket.TCP_KEEPIDLE), get(T, socket.TCP_KEEPCNT))";
    let probes = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_keepalive_probes").unwrap();
    assert_eq!(
        python_in(&cgroup, port, before, read),
        [format!("50 {}", probes.trim())],
        "keepalive on before connect(): left alone"
    );
    // A listener with keepalive on: the connections it accepts inherit it, and are left alone.
    let script = "import socket\n\
        l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()\n\
        l.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1); l.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 50)\n\
        c = socket.create_connection(l.getsockname()); a, _ = l.accept()\n\
        print(a.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), c.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))";
    let mut python = clean_command(common::python3());
    python.arg("-c").arg(script);
    let output = cgroup.inside(python).output().unwrap();
    assert_eq!(text(&output.stdout), "50 20\n", "accepted: the listener's; connected: ours. {}", describe(&output));
}

#[test]
fn force_keeps_the_configured_options_and_invalid_values_get_the_kernel_s_error() {
    let Some(cgroup) = TestCgroup::new("force") else { return };
    let (_listener, port) = listener();
    cgroup.attach(&["--force", "--idle", "20", "--count", "3", "--user-timeout", "30"]);
    let script = "print(get(T, socket.TCP_KEEPIDLE))\n\
                  print(attempt(T, socket.TCP_KEEPIDLE, 99), get(T, socket.TCP_KEEPIDLE))\n\
                  print(attempt(T, socket.TCP_KEEPIDLE, 0), get(T, socket.TCP_KEEPIDLE))\n\
                  print(attempt(T, socket.TCP_KEEPIDLE, 40000), get(T, socket.TCP_KEEPIDLE))\n\
                  print(attempt(T, socket.TCP_KEEPCNT, 0), attempt(T, socket.TCP_KEEPCNT, 128), get(T, socket.TCP_KEEPCNT))\n\
                  print(attempt(T, socket.TCP_USER_TIMEOUT, -1), attempt(T, socket.TCP_USER_TIMEOUT, 0), get(T, socket.TCP_USER_TIMEOUT))\n\
                  print(attempt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0), get(socket.SOL_SOCKET, socket.SO_KEEPALIVE))\n\
                  print(attempt(T, socket.TCP_KEEPINTVL, 7), get(T, socket.TCP_KEEPINTVL))\n\
                  print(attempt(T, socket.TCP_KEEPIDLE, b'\\x05\\x00'), get(T, socket.TCP_KEEPIDLE))";
    let before = "s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1); s.setsockopt(T, socket.TCP_KEEPIDLE, 50)";
    assert_eq!(
        python_in(&cgroup, port, before, script),
        ["20", "ok 20", "EINVAL 20", "EINVAL 20", "EINVAL EINVAL 3", "EINVAL ok 30000", "ok 1", "ok 7", "EINVAL 20"],
        "configured options stay, invalid values fail as without us, other options pass"
    );
    // A socket before connect() is not ours yet: the program's calls pass untouched.
    let unconnected =
        "u = socket.socket(); u.setsockopt(T, socket.TCP_KEEPIDLE, 99); print(u.getsockopt(T, socket.TCP_KEEPIDLE))";
    assert_eq!(python_in(&cgroup, port, "", unconnected), ["99"]);

    let go = go_program();
    let mut dial = clean_command(&go);
    dial.args([format!("127.0.0.1:{port}"), "go-keepalive".to_owned()]);
    let go_default = start(cgroup.inside(dial));
    let options = options_of(go_default.0.id(), port);
    assert_eq!((options.keepalive, options.idle, options.count), (true, 20, 3), "Go's own 15 s does not win");
    drop(go_default);
    cgroup.attach(&["--idle", "20", "--count", "3"]);
    let mut dial = clean_command(&go);
    dial.args([format!("127.0.0.1:{port}"), "go-keepalive".to_owned()]);
    let go_default = start(cgroup.inside(dial));
    common::wait_for(std::time::Duration::from_secs(5), || {
        connections(go_default.0.id()).iter().find(|(p, o)| *p == port && (o.idle, o.interval) == (15, 15)).map(|_| ())
    })
    .expect("without --force, Go's own setsockopt after connect() wins: idle and interval 15");
}

#[test]
fn sockets_keep_the_cgroup_they_were_made_in() {
    let Some(cgroup) = TestCgroup::new("sockets_keep_their_cgroup") else { return };
    let wire = static_c_program("wire");
    let (_listener, port) = listener();
    cgroup.attach(&EVERY_TIMER);
    // Like socket activation: a launcher outside the cgroup makes the listener, and the service
    // that accepts on it runs inside.
    let (service, client) = connected_to(|free_port| {
        let mut activate = clean_command(&wire);
        activate.args(["activate", &free_port.to_string(), "sh"]).args(cgroup.shell_entry()).arg(&wire);
        activate.args(["serve-fd", "3"]);
        activate
    });
    let client_port = client.local_addr().unwrap().port();
    let in_cgroup = common::wait_for(std::time::Duration::from_secs(5), || {
        let procs = std::fs::read_to_string(cgroup.path.join("cgroup.procs")).unwrap();
        procs.split_whitespace().any(|pid| pid == service.0.id().to_string()).then_some(())
    });
    assert!(in_cgroup.is_some(), "the service runs in the cgroup");
    assert!(!options_of(service.0.id(), client_port).keepalive, "accepted on a listener made outside: left alone");
    // A process that moves in keeps its old connection as it was, and its new ones are configured.
    let mut python = clean_command(common::python3());
    python.arg("-c").arg(format!(
        "import socket, sys\n\
         old = socket.create_connection(('127.0.0.1', {port}))\n\
         open(sys.argv[1], 'w').write('0')\n\
         new = socket.create_connection(('127.0.0.1', {port}))\n\
         print(old.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), new.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))"
    ));
    python.arg(cgroup.path.join("cgroup.procs"));
    let output = python.output().unwrap();
    assert_eq!(text(&output.stdout), "0 1\n", "{}", describe(&output));
}

#[test]
fn the_largest_program_the_options_allow_is_accepted() {
    let Some(cgroup) = TestCgroup::new("largest") else { return };
    let rules: Vec<String> = (0..16).map(|rule| format!("[2001:db8::{rule:x}/100]:{}", 440 + rule)).collect();
    let rules = rules.join(",");
    cgroup.attach(&["--force", "--idle", "5", "--interval", "5", "--count", "5", "--user-timeout", "5"]);
    cgroup.attach(&["--force", "--idle", "5", "--user-timeout", "5", "--only", &rules, "--skip", &rules]);
    assert!(cgroup.status().contains("force: on"));
}

#[test]
fn a_program_attached_to_a_parent_runs_for_the_cgroups_below() {
    let Some(parent) = TestCgroup::new("parent") else { return };
    let child = parent.child("pods");
    let wire = static_c_program("wire");
    let (_listener, port) = listener();
    parent.attach(&EVERY_TIMER);
    let inside = start(child.inside(wire_client(&wire, port)));
    assert_eq!(options_of(inside.0.id(), port), CONFIGURED);
    assert!(child.status().contains("keepalive not attached"), "ours is on the parent, not on the child");
}

#[test]
fn fast_open_connections_are_configured_too() {
    let Some(cgroup) = TestCgroup::new("fast_open") else { return };
    let (_listener, port) = listener();
    cgroup.attach(&["--idle", "20"]);
    let script = format!(
        "import socket\n\
         s = socket.socket()\n\
         s.sendto(b'hello', socket.MSG_FASTOPEN, ('127.0.0.1', {port}))\n\
         print(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))"
    );
    let mut python = clean_command(common::python3());
    python.arg("-c").arg(script);
    let output = cgroup.inside(python).output().unwrap();
    assert_eq!(text(&output.stdout), "1 20\n", "{}", describe(&output));
}

#[test]
fn the_kubernetes_manifest_is_valid_yaml_with_options_the_command_takes() {
    let manifest = common::root().join("docs/kubernetes-daemonset.yaml");
    let script = "import json, sys, yaml\n\
        documents = list(yaml.safe_load_all(open(sys.argv[1])))\n\
        assert len(documents) == 1, documents\n\
        daemonset = documents[0]\n\
        assert daemonset['kind'] == 'DaemonSet' and daemonset['apiVersion'] == 'apps/v1'\n\
        spec = daemonset['spec']['template']['spec']\n\
        assert daemonset['spec']['selector']['matchLabels'].items() <= daemonset['spec']['template']['metadata']['labels'].items()\n\
        volumes = {volume['name']: volume['hostPath']['path'] for volume in spec['volumes']}\n\
        assert volumes == {'cgroup': '/sys/fs/cgroup', 'bpf': '/sys/fs/bpf'}, volumes\n\
        attach = spec['initContainers'][0]\n\
        assert attach['securityContext']['privileged'] is True\n\
        assert {mount['name'] for mount in attach['volumeMounts']} == set(volumes)\n\
        print(json.dumps(attach['command']))\n";
    // Debian's python3, for which python3-yaml provides the module (another python3 may be first on PATH).
    let output = Command::new("/usr/bin/python3").arg("-c").arg(script).arg(&manifest).output().unwrap();
    assert!(output.status.success(), "{} (python3-yaml is needed): {}", manifest.display(), describe(&output));
    let command: Vec<String> = text(&output.stdout)
        .trim()
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|word| word.trim_matches('"').to_owned())
        .collect();
    assert_eq!(command[0], "/keepalive");
    let cgroup_at = command.iter().position(|word| word == "--cgroup").expect("the manifest names a cgroup");
    assert!(command[cgroup_at + 1].starts_with("/host/sys/fs/cgroup/"), "{command:?}");
    // The options, checked by the command itself: it refuses a bad one with status 2 before it
    // looks at the cgroup, here /proc, which it refuses with status 1 (not a cgroup v2 directory).
    let options = &command[1..cgroup_at];
    let checked =
        clean_command(common::cgroup::keepalive()).args(options).args(["--cgroup", "/proc"]).output().unwrap();
    assert_eq!(checked.status.code(), Some(1), "{options:?}: {}", describe(&checked));
    assert!(!text(&checked.stderr).contains("invalid"), "{}", describe(&checked));
}

#[test]
fn commands_run_at_once_for_one_cgroup_all_succeed_and_leave_one_of_ours() {
    let Some(cgroup) = TestCgroup::new("at_once") else { return };
    let runs: Vec<_> = (1..=16)
        .map(|idle| {
            let mut command = Command::new(common::cgroup::keepalive());
            command.args(["--idle", &idle.to_string(), "--cgroup"]).arg(&cgroup.path);
            command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for run in runs {
        let output = run.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", describe(&output));
    }
    let status = cgroup.status();
    assert!(status.contains("keepalive attached") && status.contains("other sock_ops programs: 0"), "{status}");
}

#[test]
fn misuse_is_refused_with_status_2_before_anything_is_attached() {
    let keepalive = common::cgroup::keepalive();
    for (arguments, expected) in [
        (&["--detach"][..], "--cgroup"),
        (&["--cgroup", "/sys/fs/cgroup", "--verbose"], "--verbose"),
        (&["--cgroup", "/sys/fs/cgroup", "--detach", "--idle", "5"], "--idle"),
        (&["--cgroup", "/sys/fs/cgroup", "--print-env"], "--print-env"),
        (&["--cgroup", "/sys/fs/cgroup", "--", "true"], "PROGRAM"),
        (&["--status", "cgroup-without-slash"], "expected a process ID, or a cgroup directory (with a /)"),
        (&["--status", "/sys/fs/cgroup", "--cgroup", "/sys/fs/cgroup"], "--cgroup"),
    ] {
        let output = Command::new(&keepalive).args(arguments).output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {}", describe(&output));
        assert!(stderr.lines().count() == 1 && stderr.contains(expected), "{arguments:?}: {stderr}");
    }
}

#[test]
fn another_program_on_the_cgroup_is_left_alone() {
    let Some(cgroup) = TestCgroup::new("another_program") else { return };
    let wire = static_c_program("wire");
    let (_listener, port) = listener();
    common::cgroup::attach_another_program(&cgroup.path);
    assert!(cgroup.status().contains("other sock_ops programs: 1"));
    cgroup.attach(&EVERY_TIMER);
    cgroup.attach(&["--force", "--idle", "20", "--interval", "5", "--count", "3", "--user-timeout", "30"]);
    let status = cgroup.status();
    assert!(status.contains("keepalive attached") && status.contains("other sock_ops programs: 1"), "{status}");
    let inside = start(cgroup.inside(wire_client(&wire, port)));
    assert_eq!(options_of(inside.0.id(), port), CONFIGURED, "ours runs beside the other");
    let detached = cgroup.keepalive(&["--detach"]);
    assert!(detached.status.success(), "{}", describe(&detached));
    let status = cgroup.status();
    assert!(status.contains("keepalive not attached") && status.contains("other sock_ops programs: 1"), "{status}");
}

/// The cgroup ID the kernel reports for the link pinned at `pin` (bpftool, a test aid only);
/// `None` once the pin is gone: once the kernel has let go of a removed cgroup, the command run
/// by another test at the same time may prune its pins first.
fn link_cgroup_id(pin: &std::path::Path) -> Option<u64> {
    let output = Command::new("bpftool").args(["-j", "link", "show", "pinned"]).arg(pin).output();
    let output = output.expect("bpftool is needed for these tests");
    if !output.status.success() && !pin.exists() {
        return None;
    }
    assert!(output.status.success(), "bpftool link show pinned {}: {}", pin.display(), describe(&output));
    let json = text(&output.stdout);
    let id = json.split("\"cgroup_id\":").nth(1).and_then(|rest| rest.split([',', '}']).next());
    Some(id.and_then(|id| id.trim().parse().ok()).unwrap_or_else(|| panic!("no cgroup_id in {json}")))
}

/// The ID of our cgroup/setsockopt program in `keepalive --status DIR`, under --force.
fn force_program_id(status: &str) -> u32 {
    let line = status.lines().find_map(|line| line.strip_prefix("force: on, cgroup/setsockopt program "));
    line.and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("no force program in {status}"))
}

#[test]
fn the_pins_of_a_removed_cgroup_go_at_the_next_run_once_the_kernel_lets_go_of_it() {
    let Some(gone) = TestCgroup::new("removed") else { return };
    let Some(other) = TestCgroup::new("removed_other") else { return };
    gone.attach(&["--force", "--idle", "30"]);
    let status = gone.status();
    let programs = [program_id(&status), force_program_id(&status)];
    let pins = gone.remove_without_detaching();
    let id = pins.file_name().unwrap().to_string_lossy().into_owned();
    // The kernel lets go of a removed cgroup's programs a moment later (its links then say
    // cgroup 0); until then the command leaves its pins.
    let released = common::wait_for(std::time::Duration::from_secs(5), || {
        matches!(link_cgroup_id(&pins.join("sock_ops")), None | Some(0)).then_some(())
    });
    assert!(released.is_some(), "the link of removed cgroup {id} still holds it");
    let detached = other.keepalive(&["--detach"]);
    assert!(detached.status.success(), "{}", describe(&detached));
    // Another test's command, run at the same time, may have pruned them first.
    let not_attached = format!("keepalive was not attached to {}\n", other.path.display());
    let said = format!("removed {}: cgroup ID {id} no longer exists\n", pins.display());
    assert!(
        [format!("{said}{not_attached}"), not_attached].contains(&text(&detached.stdout)),
        "{}",
        describe(&detached)
    );
    assert!(!pins.exists(), "{} is left", pins.display());
    for program in programs {
        assert_freed(program);
    }
}

#[test]
fn a_removed_cgroup_s_programs_stay_while_its_sockets_live_and_status_of_any_cgroup_then_prunes() {
    let Some(gone) = TestCgroup::new("removed_with_socket") else { return };
    let Some(other) = TestCgroup::new("removed_with_socket_other") else { return };
    let wire = static_c_program("wire");
    let (_listener, port) = listener();
    gone.attach(&["--idle", "20"]);
    let program = program_id(&gone.status());
    // A process made a connection in the cgroup, then moved out: the removed cgroup lives on
    // (dying) for as long as that socket does, and its programs still run for it.
    let holder = start(gone.inside(wire_client(&wire, port)));
    assert_eq!(options_of(holder.0.id(), port).idle, 20);
    let mount = gone.path.parent().unwrap().to_owned();
    std::fs::write(mount.join("cgroup.procs"), holder.0.id().to_string()).unwrap();
    let pins = gone.remove_without_detaching();
    let id: u64 = pins.file_name().unwrap().to_string_lossy().parse().unwrap();
    other.attach(&["--idle", "9"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    other.attach(&["--idle", "10"]);
    assert!(pins.join("sock_ops").exists(), "the pins of a cgroup whose sockets live are kept");
    assert_eq!(link_cgroup_id(&pins.join("sock_ops")), Some(id), "the link still holds the dying cgroup");
    let held = format!("removed cgroup ID {id}: ours kept at {} while sockets made in it live\n", pins.display());
    assert!(other.status().ends_with(&held), "--status says so: {}", other.status());
    drop(holder);
    let released = common::wait_for(std::time::Duration::from_secs(5), || {
        matches!(link_cgroup_id(&pins.join("sock_ops")), None | Some(0)).then_some(())
    });
    assert!(released.is_some(), "the link of removed cgroup {id} still holds it after its last socket closed");
    let status = Command::new(keepalive()).arg("--status").arg(&mount).output().unwrap();
    assert!(status.status.success(), "{}", describe(&status));
    let said = format!("removed {}: cgroup ID {id} no longer exists\n", pins.display());
    let shown = text(&status.stdout);
    assert!(shown.starts_with(&said) || shown.starts_with("cgroup "), "{}", describe(&status));
    assert!(!pins.exists(), "{} is left", pins.display());
    assert_freed(program);
}

/// A cgroup removed while ours is attached, as when a unit stops before its `ExecStop` detaches:
/// `--detach` of its path finds its pins by the directory they recorded, and takes ours from the
/// sockets made in it that still live; it said `cannot open DIR` with status 1 before.
#[test]
fn detach_of_a_removed_cgroup_removes_its_pins_by_its_path() {
    let Some(gone) = TestCgroup::new("detach_removed") else { return };
    let wire = static_c_program("wire");
    let (_listener, port) = listener();
    gone.attach(&["--idle", "20", "--force"]);
    let status = gone.status();
    let programs = [program_id(&status), force_program_id(&status)];
    let holder = start(gone.inside(wire_client(&wire, port)));
    assert_eq!(options_of(holder.0.id(), port).idle, 20);
    let mount = gone.path.parent().unwrap().to_owned();
    std::fs::write(mount.join("cgroup.procs"), holder.0.id().to_string()).unwrap();
    let path = gone.path.clone();
    let pins = gone.remove_without_detaching();
    let detach = || clean_command(keepalive()).arg("--cgroup").arg(&path).arg("--detach").output().unwrap();

    let detached = detach();
    assert_eq!(detached.status.code(), Some(0), "{}", describe(&detached));
    let said = format!("keepalive detached from {}, a removed cgroup\n", path.display());
    // Another test's command may prune pins of its own just before.
    assert!(text(&detached.stdout).ends_with(&said), "{}", describe(&detached));
    assert!(!pins.exists(), "{} is left", pins.display());
    for program in programs {
        assert_freed(program);
    }
    let again = detach();
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let said = format!("keepalive was not attached to {}, which does not exist\n", path.display());
    assert!(text(&again.stdout).contains(&said), "{}", describe(&again));
    drop(holder);
}

/// Detaching the last of ours leaves nothing under /sys/fs/bpf, in a BPF filesystem of a mount
/// namespace of its own so that other tests' pins do not count.
#[test]
fn the_last_detach_leaves_no_directory_behind() {
    let Some(cgroup) = TestCgroup::new("last_detach") else { return };
    let keepalive = common::cgroup::keepalive().display().to_string();
    let directory = cgroup.path.display().to_string();
    let script = format!(
        "mount -t bpf bpf /sys/fs/bpf && '{keepalive}' --cgroup '{directory}' >/dev/null && \
         '{keepalive}' --cgroup '{directory}' --detach && '{keepalive}' --status '{directory}' >/dev/null && \
         '{keepalive}' --cgroup /sys/fs/cgroup/nonexistent --detach && \
         if [ -e /sys/fs/bpf/keepalive ]; then ls -A /sys/fs/bpf/keepalive; else echo gone; fi"
    );
    let output =
        Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c"]).arg(script).output().unwrap();
    let expected = format!(
        "keepalive detached from {directory}\n\
         keepalive was not attached to /sys/fs/cgroup/nonexistent, which does not exist\n\
         gone\n"
    );
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(text(&output.stdout), expected, "nothing of ours is left under /sys/fs/bpf");
}
