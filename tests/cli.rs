//! The `keepalive` command, built and installed: options checked with the library's rules,
//! exit statuses like a shell's, `LD_PRELOAD` prepended, warnings for programs the preload
//! cannot reach, `--print-env`, `--status` against a live process, `make install` and `make deb`.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(arguments: &[&str]) -> Output {
    keepalive(arguments).output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("keepalive-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

fn is_root() -> bool {
    text(&Command::new("id").arg("-u").output().unwrap().stdout).trim() == "0"
}

/// Copies of the command and the library that nobody can run: see `copies_for_other_users`.
/// Returns the command's path; the library is beside it.
fn copies_for_nobody(command: &Path, library: &Path) -> PathBuf {
    let [command, _library] = copies_for_other_users([command, library]);
    command
}

#[test]
fn an_invalid_option_stops_everything_with_one_line() {
    let directory = scratch("invalid");
    let marker = directory.join("ran");
    let touch = format!("touch {}", marker.display());
    let cases: [(&[&str], &str); 11] = [
        (
            &["--only", ""],
            "keepalive: invalid --only \"\": the list is empty; expected an address, a CIDR prefix or a port, \
             like 10.0.0.0/8, 192.168.1.5:5432, [2001:db8::/32]:443, :6379\n",
        ),
        (&["--skip", " , "], "keepalive: invalid --skip \" , \": the list is empty; expected an address"),
        (
            &["--idle", "0"],
            "keepalive: invalid --idle \"0\": expected seconds (20) or a duration (20s, 5m, 1h) from 1s to 32767s",
        ),
        (&["--idle", "1.5s"], "keepalive: invalid --idle \"1.5s\": expected seconds"),
        (
            &["--interval", "1500ms"],
            "keepalive: invalid --interval \"1500ms\": only whole seconds are accepted, \
             expected seconds (5) or a duration (5s, 1m) from 1s to 32767s\n",
        ),
        (&["--interval", "40000"], "keepalive: invalid --interval \"40000\": expected seconds (5)"),
        (&["--count", "128"], "keepalive: invalid --count \"128\": expected a whole number of probes from 1 to 127"),
        (&["--user-timeout", "-1"], "keepalive: invalid --user-timeout \"-1\": expected seconds (30)"),
        (&["--side", "sideways"], "keepalive: invalid --side \"sideways\": expected both, client or server"),
        (
            &["--only", "10.0.0.0/8,10.0.0.0/33"],
            "keepalive: invalid --only \"10.0.0.0/8,10.0.0.0/33\": \"10.0.0.0/33\" is not a rule: expected an address",
        ),
        (&["--skip", ":1,:2,:3,:4,:5,:6,:7,:8,:9,:10,:11,:12,:13,:14,:15,:16,:17"], "more than 16 rules"),
    ];
    for (options, message) in cases {
        let mut arguments = options.to_vec();
        arguments.extend(["sh", "-c", &touch]);
        let output = run(&arguments);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{options:?}: {}", describe(&output));
        assert_eq!(stderr.lines().count(), 1, "{options:?}: one line: {stderr:?}");
        assert!(stderr.starts_with(message) || stderr.contains(message), "{options:?}: {stderr:?}");
        assert!(!marker.exists(), "{options:?}: the program ran");
    }
    let nothing = run(&[]);
    assert_eq!(nothing.status.code(), Some(2));
    assert_eq!(text(&nothing.stderr).lines().count(), 1, "{}", describe(&nothing));
}

/// Values that are not in a list, or not a number, name what would have been accepted.
#[test]
fn a_bad_format_or_process_id_says_what_is_accepted() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--print-env", "--format", "yaml"],
            "keepalive: invalid --format \"yaml\": expected one of shell, dockerfile, systemd\n",
        ),
        (
            &["--status", "abc"],
            "keepalive: invalid --status \"abc\": expected a process ID, or a cgroup directory (with a /)\n",
        ),
        (
            &["--status", "-5"],
            "keepalive: invalid --status \"-5\": expected a process ID, or a cgroup directory (with a /)\n",
        ),
    ];
    for (arguments, message) in cases {
        let output = run(arguments);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {}", describe(&output));
        assert_eq!(text(&output.stderr), message, "{arguments:?}");
    }
}

#[test]
fn format_is_refused_without_print_env() {
    let directory = scratch("format");
    let marker = directory.join("ran");
    let touch = format!("touch {}", marker.display());
    let cases: [&[&str]; 3] =
        [&["--format", "systemd", "sh", "-c", &touch], &["--status", "1", "--format", "shell"], &["--format", "shell"]];
    for arguments in cases {
        let output = run(arguments);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {}", describe(&output));
        assert_eq!(text(&output.stderr), "keepalive: --format is only for --print-env (see keepalive --help)\n");
        assert_eq!(text(&output.stdout), "", "{arguments:?}");
    }
    assert!(!marker.exists(), "the program ran");
}

#[test]
fn programs_that_cannot_run_get_a_shells_status() {
    let directory = scratch("cannot-run");
    let not_executable = directory.join("not-executable");
    std::fs::write(&not_executable, "echo hi\n").unwrap();
    let no_interpreter = executable(&directory, "no-interpreter", b"#!/nonexistent/interpreter\n");
    let (directory, not_executable, no_interpreter) =
        (directory.display(), not_executable.display(), no_interpreter.display());
    let cases = [
        ("no-such-program-on-path".to_owned(), 127, "keepalive: no-such-program-on-path: command not found".to_owned()),
        ("./no/such/file".to_owned(), 127, "keepalive: ./no/such/file: No such file or directory".to_owned()),
        (directory.to_string(), 126, format!("keepalive: {directory}: Is a directory")),
        (not_executable.to_string(), 126, format!("keepalive: {not_executable}: Permission denied")),
        (
            no_interpreter.to_string(),
            127,
            format!("keepalive: {no_interpreter}: cannot run it: its interpreter or loader was not found"),
        ),
    ];
    for (program, status, message) in cases {
        let output = run(&["--idle", "20", &program]);
        assert_eq!(output.status.code(), Some(status), "{program}: {}", describe(&output));
        assert_eq!(text(&output.stderr), format!("{message}\n"), "{program}");
    }
}

/// An executable file in `directory` holding `contents`.
fn executable(directory: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let source = directory.join(format!(".{name}.contents"));
    std::fs::write(&source, contents).unwrap();
    let path = directory.join(name);
    copy_executable(&source, &path);
    std::fs::remove_file(&source).unwrap();
    path
}

/// Copies `from` to `to`, mode 755, in another process. Written here, the file would be open for
/// writing in this process for a moment, and a child that another test forks in that moment
/// would hold it open until its own exec: running the file then fails with ETXTBSY.
fn copy_executable(from: &Path, to: &Path) {
    let status = clean_command("install").arg("-m").arg("755").arg(from).arg(to).status().unwrap();
    assert!(status.success(), "install {} {}", from.display(), to.display());
}

#[test]
fn files_the_kernel_refuses_run_under_sh_only_when_they_are_text() {
    let directory = scratch("enoexec");
    let elf_magic_only = executable(&directory, "elf-magic-only", b"\x7fELF");
    let nul_in_first_line = executable(&directory, "nul-in-first-line", b"echo hi\0\n");
    for program in [elf_magic_only, nul_in_first_line] {
        let output = run(&[program.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(126), "{}", describe(&output));
        assert_eq!(
            text(&output.stderr),
            format!("keepalive: {}: cannot execute binary file: Exec format error\n", program.display())
        );
        assert_eq!(text(&output.stdout), "");
    }

    // A script without `#!` runs under sh, in the same process, with the library preloaded.
    let script = executable(&directory, "no-shebang", b"echo \"$$|$0|$1|$LD_PRELOAD\"\nexit 5\n");
    let child =
        keepalive(&[script.to_str().unwrap(), "argument"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    let library = library().canonicalize().unwrap();
    assert_eq!(text(&output.stdout), format!("{pid}|{}|argument|{}\n", script.display(), library.display()));
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn path_search_skips_files_this_user_may_not_execute() {
    if !is_root() {
        report("skipped: a file only root may execute, searched for as nobody, needs root");
        return;
    }
    let directory = scratch("path-search");
    let (root_only, everyone) = (directory.join("root-only"), directory.join("everyone"));
    for (bin, mode) in [(&root_only, 0o700), (&everyone, 0o755)] {
        std::fs::create_dir(bin).unwrap();
        let script = format!("#!/bin/sh\necho {}\n", bin.file_name().unwrap().to_str().unwrap());
        let program = executable(bin, "program", script.as_bytes());
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let output = clean_command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(copies_for_nobody(&command_path(), &library()))
        .arg("program")
        .env("PATH", format!("{}:{}:/usr/bin:/bin", root_only.display(), everyone.display()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(text(&output.stdout), "everyone\n");
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn the_program_runs_in_place_with_its_own_arguments_and_status() {
    let output = run(&["--idle", "20", "sh", "-c", "echo \"$0|$1|$2|$KEEPALIVE_IDLE\"; exit 7", "sh", "--count", "-v"]);
    assert_eq!(output.status.code(), Some(7), "{}", describe(&output));
    assert_eq!(text(&output.stdout), "sh|--count|-v|20\n");
    assert_eq!(text(&output.stderr), "");

    // The same process: the program's PID is the one the command started with.
    let mut child = keepalive(&["sh", "-c", "echo $$"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(line.trim(), pid.to_string(), "exec, not fork");

    // SIGPIPE at its default, not ignored as the Rust runtime of the command has it.
    let output = run(&["grep", "^SigIgn:", "/proc/self/status"]);
    let ignored = text(&output.stdout);
    let ignored = u64::from_str_radix(ignored.trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(ignored & 1 << (libc::SIGPIPE - 1), 0, "SIGPIPE ignored: {}", describe(&output));
}

#[test]
fn the_program_inherits_an_ignored_sigpipe_and_closed_descriptors_as_the_command_did() {
    let cases: [(bool, &'static [i32]); 4] = [(false, &[]), (true, &[0]), (false, &[1, 2]), (true, &[0, 1, 2])];
    for (ignore_sigpipe, closed) in cases {
        let bare = inherited_by_sh(clean_command("sh"), ignore_sigpipe, closed);
        let open: String = (0..=2).filter(|fd| !closed.contains(fd)).map(|fd| format!(" {fd}")).collect();
        assert!(bare.starts_with(&format!("open:{open} SigIgn:")), "{bare}");
        let ignored = u64::from_str_radix(bare.rsplit(['\t', ' ']).next().unwrap(), 16).unwrap();
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)) != 0, ignore_sigpipe, "{bare}");
        for via in ["preload", "seccomp"] {
            let under = inherited_by_sh(keepalive(&["--via", via, "sh"]), ignore_sigpipe, closed);
            assert_eq!(under, bare, "--via {via}, SIGPIPE ignored: {ignore_sigpipe}, closed: {closed:?}");
        }
    }
}

#[test]
fn ld_preload_is_prepended_not_replaced() {
    let library = library().canonicalize().unwrap();
    let show = ["sh", "-c", "printf %s \"$LD_PRELOAD\""];
    let alone = run(&show);
    assert_eq!(text(&alone.stdout), library.to_str().unwrap());
    let mut command = keepalive(&show);
    let output = command.env("LD_PRELOAD", format!("libm.so.6 {}", library.display())).output().unwrap();
    assert_eq!(text(&output.stdout), format!("{}:libm.so.6", library.display()), "{}", describe(&output));
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn options_reach_the_kernel() {
    for libc in LIBCS {
        let scenario = c_program(libc, "scenarios");
        let scenario = scenario.to_str().unwrap();
        let output = keepalive(&["--idle", "1m30s", "--interval", "2s", "--count", "4", "--user-timeout", "1500ms"])
            .args([scenario, "ipv4"])
            .envs([("EXPECT_IDLE", "90"), ("EXPECT_INTVL", "2"), ("EXPECT_CNT", "4"), ("EXPECT_USER_TIMEOUT", "1500")])
            .output()
            .unwrap();
        assert!(output.status.success(), "{libc}: {}", describe(&output));
        assert_eq!(text(&output.stderr), "");

        // The command's option wins over a variable already set, without a conflict warning.
        let output = keepalive(&["--interval", "3", scenario, "ipv4"])
            .envs([("KEEPALIVE_INTERVAL", "9"), ("KEEPINTVL", "8"), ("EXPECT_INTVL", "3")])
            .output()
            .unwrap();
        assert!(output.status.success(), "{libc}: {}", describe(&output));
        assert_eq!(text(&output.stderr), "");

        let output = keepalive(&["--force", "--idle", "20", scenario, "force"])
            .envs([("EXPECT_IDLE", "20"), ("EXPECT_FORCED", "1")])
            .output()
            .unwrap();
        assert!(output.status.success(), "{libc} --force: {}", describe(&output));

        let output = keepalive(&["--verbose", scenario, "ipv4"]).output().unwrap();
        assert!(output.status.success(), "{libc} --verbose: {}", describe(&output));
        assert!(text(&output.stderr).contains("libkeepalive["), "{libc} --verbose: {}", describe(&output));
    }
}

/// Under the supervisor too, an option replaces the other names of its variable (its alias, the
/// older libraries' names) as it does for the preload: no conflict the user did not make is
/// reported, and the option's value is the one the connection gets.
#[test]
fn options_replace_the_other_names_under_the_supervisor_too() {
    let program = "import socket\n\
        listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()\n\
        client = socket.socket(); client.connect(listener.getsockname())\n\
        print(client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), \
              client.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL))";
    let python = python3();
    for via in ["seccomp", "preload"] {
        let output = keepalive(&["--via", via, "--interval", "3", "--"])
            .arg(&python)
            .args(["-c", program])
            .envs([("KEEPALIVE_INTERVAL", "9"), ("KEEPINTVL", "abc")])
            .output()
            .unwrap();
        assert!(output.status.success(), "--via {via}: {}", describe(&output));
        assert_eq!(text(&output.stdout), "1 3\n", "--via {via}");
        assert_eq!(text(&output.stderr), "", "--via {via}");
    }
}

/// Where the command reads the variables itself (the supervisor, --attach, --cgroup), each bad one
/// gets the library's own line, quoted and escaped, so that a newline in a value cannot split it.
#[test]
fn the_command_names_bad_variables_as_the_library_does() {
    let many: Vec<String> = (1..=17).map(|port| format!(":{port}")).collect();
    let environment = [
        ("KEEPALIVE_IDLE", "abc\nkeepalive: all good".to_owned()),
        ("KEEPALIVE_INTVL", "7".repeat(100)),
        ("KEEPALIVE_CNT", "3".to_owned()),
        ("KEEPALIVE_COUNT", "9".to_owned()),
        ("KEEPALIVE_ONLY", "bogus,127.0.0.1".to_owned()),
        ("KEEPALIVE_SKIP", many.join(",")),
    ];
    let long = format!(
        r#"ignoring KEEPALIVE_INTVL="{}..." (100 bytes): expected seconds (5) or a duration (5s, 1m) from 1s to 32767s"#,
        "7".repeat(64)
    );
    let expected = [
        r#"ignoring KEEPALIVE_IDLE="abc\x0akeepalive: all good": expected seconds (20) or a duration (20s, 5m, 1h) from 1s to 32767s"#,
        &long,
        r#"KEEPALIVE_CNT="3" and KEEPALIVE_COUNT="9" differ; using KEEPALIVE_CNT="3""#,
        r#"ignoring "bogus" in KEEPALIVE_ONLY: expected an address, a CIDR prefix or a port, like 10.0.0.0/8, 192.168.1.5:5432, [2001:db8::/32]:443, :6379"#,
        r#"KEEPALIVE_SKIP has more than 16 entries; ignoring ":17" and the rest"#,
    ];
    let lines = |prefix: &str| expected.iter().map(|line| format!("{prefix}: {line}\n")).collect::<String>();
    let supervised = keepalive(&["--via", "seccomp", "--", "/bin/true"]).envs(environment.clone()).output().unwrap();
    assert!(supervised.status.success(), "{}", describe(&supervised));
    assert_eq!(text(&supervised.stderr), lines("keepalive"));
    let preloaded = preloaded("/bin/true").envs(environment).output().unwrap();
    assert_eq!(text(&preloaded.stderr), lines("libkeepalive"), "the library's own lines");
}

/// A variable one slip away from ours is named, once, by the command, whichever way it applies
/// the settings; the library stays silent, and another program's `KEEPALIVE_*` is left alone.
#[test]
fn a_misspelled_variable_is_named_once_by_the_command() {
    let line = "keepalive: ignoring KEEPALIVE_IDEL: no such variable; did you mean KEEPALIVE_IDLE?\n";
    for via in ["preload", "seccomp"] {
        let output = keepalive(&["--via", via, "sh", "-c", "true; true"]).env("KEEPALIVE_IDEL", "20").output().unwrap();
        assert!(output.status.success(), "--via {via}: {}", describe(&output));
        assert_eq!(text(&output.stderr), line, "--via {via}");
        let output = keepalive(&["--via", via, "true"]).env("KEEPALIVE_TIMEOUT", "5").output().unwrap();
        assert_eq!(text(&output.stderr), "", "--via {via}: not one slip from ours");
    }
    let output = keepalive(&["--attach", "2147483646"]).env("KEEPALIVE_IDEL", "20").output().unwrap();
    assert_eq!(text(&output.stderr), format!("{line}keepalive: process 2147483646: no such process\n"));
    let output = preloaded("/bin/true").env("KEEPALIVE_IDEL", "20").output().unwrap();
    assert_eq!(text(&output.stderr), "", "the library says nothing");
}

#[test]
fn peer_and_side_options_choose_connections() {
    let scenario = c_program("glibc", "scenarios");
    let output = on_free_ports(|[port, port2]| {
        let output = keepalive(&["--only", "127.0.0.2,[::1]", "--skip", "::1", "--side", "client"])
            .arg(&scenario)
            .arg("filters")
            .envs([("PORT", port.to_string()), ("PORT2", port2.to_string())])
            .output()
            .unwrap();
        match text(&output.stdout).contains("Address already in use") {
            true => Err(PortTaken(describe(&output))),
            false => Ok(output),
        }
    });
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = text(&output.stdout);
    let on: Vec<&str> = stdout.split_whitespace().filter_map(|pair| pair.strip_suffix("=1")).collect();
    assert_eq!(on, ["b.client"], "only 127.0.0.2 as a client: {}", describe(&output));
}

/// A C program linked with `-static`, which the dynamic loader never sees.
fn static_program(directory: &Path) -> PathBuf {
    let source = directory.join("static.c");
    std::fs::write(&source, "int main(void) { return 3; }\n").unwrap();
    let program = directory.join("static-program");
    let built = Command::new("cc").arg("-static").arg("-o").arg(&program).arg(&source).output().unwrap();
    assert!(built.status.success(), "cc -static (libc6-dev): {}", describe(&built));
    program
}

#[test]
fn warns_when_the_preload_cannot_reach_the_program() {
    let directory = scratch("static");
    let program = static_program(&directory);
    let output = run(&["--via", "preload", program.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "the program still runs: {}", describe(&output));
    let expected =
        format!("keepalive: warning: {} is statically linked: LD_PRELOAD cannot reach it", program.display());
    assert!(text(&output.stderr).starts_with(&expected), "{}", describe(&output));
    assert_eq!(text(&output.stderr).lines().count(), 1);

    let script = executable(&directory, "script", format!("#!{}\n", program.display()).as_bytes());
    let output = run(&["--via", "preload", script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let expected = format!("{} runs under {}, which is statically linked", script.display(), program.display());
    assert!(text(&output.stderr).contains(&expected), "{}", describe(&output));

    let dynamic = run(&["sh", "-c", "exit 0"]);
    assert_eq!(text(&dynamic.stderr), "", "no warning for a dynamic program");
}

/// Go is named only for Go programs (busybox and other static C programs are merely static); a
/// Go program is told by the build information its linker writes, imitated here in a dynamic one.
#[test]
fn the_preload_warning_names_go_only_for_go_programs() {
    let directory = scratch("static-go");
    let c_program = static_program(&directory);
    let output = run(&["--via", "preload", c_program.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert!(stderr.ends_with("; run it with --via seccomp (or --via auto, the default) instead\n"), "{stderr}");
    assert!(!stderr.contains("Go"), "{stderr}");

    let source = directory.join("go.c");
    let marker = "__attribute__((section(\".go.buildinfo\"), used)) static const char info[] = \"\\xff Go buildinf:\";";
    std::fs::write(&source, format!("{marker}\nint main(void) {{ return 3; }}\n")).unwrap();
    let go_program = directory.join("go-program");
    let built = Command::new("cc").arg("-o").arg(&go_program).arg(&source).output().unwrap();
    assert!(built.status.success(), "{}", describe(&built));
    let output = run(&["--via", "preload", go_program.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert!(stderr.contains(" is a Go program, which makes its own system calls"), "{stderr}");
}

/// The first 64 bytes of an executable ELF file with no program headers.
fn elf_header(class: u8, data: u8, machine: u16) -> Vec<u8> {
    let mut header = vec![0u8; 64];
    header[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', class, data, 1]);
    let (kind, machine) = if data == 2 {
        (2u16.to_be_bytes(), machine.to_be_bytes())
    } else {
        (2u16.to_le_bytes(), machine.to_le_bytes())
    };
    header[16..18].copy_from_slice(&kind);
    header[18..20].copy_from_slice(&machine);
    header
}

#[test]
fn warns_about_programs_for_another_class_or_architecture() {
    let directory = scratch("architecture");
    let (this_machine, other_machine) = if std::env::consts::ARCH == "aarch64" { (183, 62) } else { (62, 183) };
    let mut other = std::fs::read("/bin/true").unwrap();
    other[18..20].copy_from_slice(&u16::to_le_bytes(other_machine));
    let cases = [
        (executable(&directory, "other-architecture", &other), Some("a program for another architecture")),
        (executable(&directory, "32-bit", &elf_header(1, 1, 3)), Some("a 32-bit program")),
        (executable(&directory, "big-endian", &elf_header(2, 2, 22)), Some("a program for another architecture")),
        (executable(&directory, "no-class", &elf_header(0, 1, this_machine)), None),
        (executable(&directory, "no-byte-order", &elf_header(2, 3, this_machine)), None),
    ];
    // qemu-user registered with binfmt_misc would run the other architecture's program.
    let emulator = std::fs::read_dir("/proc/sys/fs/binfmt_misc").into_iter().flatten().count() > 2;
    for (program, kind) in cases {
        let output = run(&[program.to_str().unwrap()]);
        let mut expected = String::new();
        if let Some(kind) = kind {
            expected = format!(
                "keepalive: warning: {} is {kind}; the library cannot be preloaded into it\n",
                program.display()
            );
        }
        if emulator {
            assert!(text(&output.stderr).starts_with(&expected), "{}", describe(&output));
            continue;
        }
        expected += &format!("keepalive: {}: cannot execute binary file: Exec format error\n", program.display());
        assert_eq!(text(&output.stderr), expected, "{}", program.display());
        assert_eq!(output.status.code(), Some(126), "{}", describe(&output));
    }
}

/// Gives `path` to nobody, with the set-user-ID bit: running it as root would switch users.
fn make_set_user_id_of_nobody(path: &Path) {
    assert!(Command::new("chown").arg("nobody").arg(path).status().unwrap().success());
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o4755)).unwrap();
}

#[test]
fn warns_about_set_user_id_programs() {
    if !is_root() {
        report("skipped: making a set-user-ID file owned by another user needs root");
        return;
    }
    let directory = scratch("setuid");
    let program = directory.join("setuid-true");
    copy_executable(Path::new("/bin/true"), &program);
    make_set_user_id_of_nobody(&program);
    let output = run(&[program.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let expected =
        format!("keepalive: warning: {} is set-user-ID: the dynamic loader ignores LD_PRELOAD", program.display());
    assert!(text(&output.stderr).starts_with(&expected), "{}", describe(&output));

    // Linux ignores the bit on a script; on its interpreter it counts.
    let setuid_script = |name: &str, interpreter: &Path| {
        let script = executable(&directory, name, format!("#!{}\nexit 0\n", interpreter.display()).as_bytes());
        make_set_user_id_of_nobody(&script);
        script
    };
    let script = setuid_script("setuid-script", Path::new("/bin/sh"));
    let output = run(&[script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(text(&output.stderr), "", "no warning for a set-user-ID script");

    let script = setuid_script("under-setuid-interpreter", &program);
    let output = run(&[script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stderr = text(&output.stderr);
    let expected = format!(
        "keepalive: warning: {} runs under {}, which is set-user-ID: the dynamic loader ignores LD_PRELOAD",
        script.display(),
        program.display()
    );
    assert!(stderr.starts_with(&expected), "{}", describe(&output));
    assert_eq!(stderr.lines().count(), 1, "{}", describe(&output));
}

#[test]
fn warns_about_file_capabilities_only_where_the_loader_heeds_them() {
    if !is_root() {
        report("skipped: giving a file capabilities, and running it as nobody, needs root");
        return;
    }
    let directory = scratch("capabilities");
    let program = directory.join("capable-true");
    copy_executable(Path::new("/bin/true"), &program);
    let setcap = Command::new("setcap").arg("cap_net_bind_service+ep").arg(&program).output();
    let setcap = setcap.expect("setcap is needed for this test: apt-get install libcap2-bin");
    if !setcap.status.success() {
        report(&format!("skipped: the file system takes no capabilities: {}", text(&setcap.stderr).trim()));
        return;
    }
    // The kernel does not put a process whose real user is root in secure-execution mode for them.
    let output = run(&[program.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(text(&output.stderr), "", "no warning for root");

    let output = clean_command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(copies_for_nobody(&command_path(), &library()))
        .arg(&program)
        .output()
        .unwrap();
    let expected = format!(
        "keepalive: warning: {} is given file capabilities: the dynamic loader ignores LD_PRELOAD",
        program.display()
    );
    assert!(text(&output.stderr).starts_with(&expected), "{}", describe(&output));
}

#[test]
fn print_env_gives_the_same_configuration_elsewhere() {
    let library = library().canonicalize().unwrap();
    let library = library.display();
    let options = ["--idle", "20s", "--count", "3", "--only", "[::1],127.0.0.0/8", "--print-env"];
    let shell = run(&options);
    assert!(shell.status.success(), "{}", describe(&shell));
    // The names run mode removes for --idle and --count, which would compete with ours.
    let rivals =
        "KEEPIDLE DD_TCP_KEEPALIVE_TIME TCP_KEEPIDLE KEEPALIVE_COUNT KEEPCNT DD_TCP_KEEPALIVE_PROBES TCP_KEEPCNT";
    assert_eq!(
        text(&shell.stdout),
        format!(
            "export LD_PRELOAD={library}\"${{LD_PRELOAD:+:$LD_PRELOAD}}\"\nunset {rivals}\n\
             export KEEPALIVE_IDLE=20s\nexport KEEPALIVE_CNT=3\nexport KEEPALIVE_ONLY='[::1],127.0.0.0/8'\n"
        )
    );
    let docker = run(&[&options[..], &["--format", "dockerfile"]].concat());
    assert_eq!(
        text(&docker.stdout),
        format!(
            "ENV LD_PRELOAD=\"{library}${{LD_PRELOAD:+:$LD_PRELOAD}}\" \\\n    KEEPALIVE_IDLE=20s \\\n    \
             KEEPALIVE_CNT=3 \\\n    KEEPALIVE_ONLY=\"[::1],127.0.0.0/8\"\n"
        )
    );
    let systemd = run(&[&options[..], &["--format", "systemd"]].concat());
    assert_eq!(
        text(&systemd.stdout),
        format!(
            "[Service]\nEnvironment=LD_PRELOAD={library}\nUnsetEnvironment={rivals}\n\
             Environment=KEEPALIVE_IDLE=20s\nEnvironment=KEEPALIVE_CNT=3\n\
             Environment=\"KEEPALIVE_ONLY=[::1],127.0.0.0/8\"\n"
        )
    );

    // The shell lines, run by sh, configure a real program's sockets, and a competing name left
    // in the environment draws no conflict warning from the library.
    let shell = run(&["--idle", "20s", "--count", "3", "--print-env"]);
    let script = format!("{}exec \"$0\" ipv4", text(&shell.stdout));
    let output = clean_command("sh")
        .args(["-c", &script])
        .arg(c_program("glibc", "scenarios"))
        .envs([("EXPECT_IDLE", "20"), ("EXPECT_CNT", "3"), ("KEEPALIVE_COUNT", "9")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn print_env_escapes_what_docker_and_systemd_expand() {
    let directory = scratch("escapes").join("50%$HOME");
    std::fs::create_dir_all(&directory).unwrap();
    let library_copy = directory.join("libkeepalive.so");
    std::fs::copy(library(), &library_copy).unwrap();
    let print = |format: &str| {
        let output = keepalive(&["--idle", "20", "--print-env", "--format", format])
            .env("KEEPALIVE_LIBRARY", &library_copy)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        text(&output.stdout)
    };
    let path = library_copy.display().to_string();
    let escaped = |from: &str, to: &str| path.replace(from, to);
    assert!(print("dockerfile").starts_with(&format!("ENV LD_PRELOAD=\"{}", escaped("$", "\\$"))));
    assert_eq!(
        print("systemd"),
        format!(
            "[Service]\nEnvironment=\"LD_PRELOAD={}\"\nUnsetEnvironment=KEEPIDLE DD_TCP_KEEPALIVE_TIME TCP_KEEPIDLE\n\
             Environment=KEEPALIVE_IDLE=20\n",
            escaped("%", "%%")
        )
    );
    assert!(print("shell").starts_with(&format!("export LD_PRELOAD='{path}'")));
}

#[test]
fn whitespace_inside_a_value_becomes_one_space() {
    let library = library().canonicalize().unwrap();
    let options = ["--idle", "1h\n 5m", "--only", "10.0.0.0/8,\r\n:6379", "--print-env", "--format", "dockerfile"];
    let docker = run(&options);
    assert!(docker.status.success(), "{}", describe(&docker));
    assert_eq!(
        text(&docker.stdout),
        format!(
            "ENV LD_PRELOAD=\"{}${{LD_PRELOAD:+:$LD_PRELOAD}}\" \\\n    KEEPALIVE_IDLE=\"1h 5m\" \\\n    \
             KEEPALIVE_ONLY=\"10.0.0.0/8, :6379\"\n",
            library.display()
        )
    );
    let output = run(&["--idle", "1h\t\t5m", "sh", "-c", "printf %s \"$KEEPALIVE_IDLE\""]);
    assert_eq!(text(&output.stdout), "1h 5m", "{}", describe(&output));

    let output = run(&["--only", "10.0.0.0/8,\x0b:6379", "--print-env"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        "keepalive: invalid --only \"10.0.0.0/8,\\u{b}:6379\": control characters are not accepted\n"
    );
}

#[test]
fn output_that_cannot_be_written() {
    let pid = std::process::id().to_string();
    for arguments in [&["--print-env"][..], &["--status", &pid]] {
        let full = std::fs::File::create("/dev/full").unwrap();
        let output = keepalive(arguments).stdout(full).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{arguments:?}: {}", describe(&output));
        assert_eq!(text(&output.stderr), "keepalive: cannot write output: No space left on device\n");

        // A reader that stopped reading, as `| head -1` does, is not an error.
        let output = keepalive(arguments).stdout(pipe_without_reader()).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{arguments:?}: {}", describe(&output));
        assert_eq!(text(&output.stderr), "", "{arguments:?}");
    }
}

/// A standard error nobody reads (`2>&1 | head -1` once head has gone, a log collector that
/// stopped) loses the command's lines, not its status: `eprintln!` panicked there, and the
/// command aborted with 134, without running the program or giving the program's status.
#[test]
fn a_broken_standard_error_changes_no_exit_status() {
    let directory = scratch("broken-stderr");
    let static_program = static_program(&directory);
    let static_program = static_program.to_str().unwrap();
    /// Arguments, a variable set, and the status expected.
    type Case<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, i32);
    let cases: [Case; 7] = [
        (&["--idle", "abc", "true"], None, 2),
        (&["--status", "2147483646"], None, 1),
        (&["--attach", "2147483646"], None, 1),
        (&["/nonexistent/program"], None, 127),
        (&["--library", "/nonexistent/libkeepalive.so", "true"], None, 2),
        // A warning before the program runs; then the program's own status.
        (&["--via", "preload", static_program], None, 3),
        (&["--via", "seccomp", "sh", "-c", "exit 5"], Some(("KEEPALIVE_IDLE", "abc")), 5),
    ];
    for (arguments, variable, status) in cases {
        let output = keepalive(arguments).envs(variable).stderr(pipe_without_reader()).output().unwrap();
        assert_eq!(output.status.code(), Some(status), "{arguments:?} {variable:?}: {}", describe(&output));
    }
}

const IDLE_CONNECTION: &str = "import socket, sys, time\n\
    listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()\n\
    client = socket.create_connection(listener.getsockname())\n\
    server, _ = listener.accept()\n\
    print(listener.getsockname()[1], client.getsockname()[1], flush=True)\n\
    time.sleep(30)";

/// A python process holding a listener and both ends of an idle connection; returns it with
/// the listening port and the client's port once the connection is up.
fn idle_python(command: Command) -> (Running, u16, u16) {
    let mut running = spawn(command);
    let mut line = String::new();
    BufReader::new(running.0.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let ports: Vec<u16> = line.split_whitespace().map(|port| port.parse().unwrap()).collect();
    (running, ports[0], ports[1])
}

#[test]
fn status_shows_what_the_kernel_runs() {
    let python = python3();
    let mut under = keepalive(&["--idle", "20", "--interval", "5", "--count", "3"]);
    under.arg(&python).args(["-c", IDLE_CONNECTION]);
    let (process, port, client_port) = idle_python(under);
    let output = run(&["--status", &process.0.id().to_string()]);
    let report = text(&output.stdout);
    println!("{report}");
    assert!(output.status.success(), "{}", describe(&output));
    let library = library().canonicalize().unwrap();
    assert!(report.starts_with(&format!("process {} (python3", process.0.id())), "{report}");
    assert!(report.contains(&format!("libkeepalive loaded from {}", library.display())), "{report}");
    assert!(report.contains("KEEPALIVE_IDLE=20"), "{report}");
    let row = |local: u16, state: &str| {
        let local = format!("127.0.0.1:{local} ");
        report
            .lines()
            .find(|line| line.contains(state) && line.contains(&local))
            .unwrap_or_else(|| panic!("no {state} row for {local}in\n{report}"))
            .to_owned()
    };
    assert!(row(port, "LISTEN").ends_with("on, idle 20s intvl 5s cnt 3"), "{report}");
    for established in [row(client_port, "ESTABLISHED"), row(port, "ESTABLISHED")] {
        let (_, timer) = established.split_once("on, idle 20s intvl 5s cnt 3, next probe in ").expect(&report);
        let seconds: f64 = timer.trim_end_matches('s').parse().unwrap();
        assert!((15.0..=20.0).contains(&seconds), "next probe in {seconds}s: {report}");
    }
    assert!(report.ends_with("3 TCP sockets, 3 with keepalive on\n"), "{report}");

    let mut without = clean_command(&python);
    without.args(["-c", IDLE_CONNECTION]);
    let (plain, _, client_port) = idle_python(without);
    let output = run(&["--status", &plain.0.id().to_string()]);
    let report = text(&output.stdout);
    assert!(report.contains("libkeepalive not loaded"), "{report}");
    assert!(row_ends(&report, client_port, "off"), "{report}");
    assert!(report.ends_with("3 TCP sockets, 0 with keepalive on\n"), "{report}");
}

#[test]
fn status_of_a_thread_shows_its_process() {
    const LISTENER_AND_THREAD: &str = "import socket, threading, time\n\
        listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()\n\
        started = threading.Event(); ids = []\n\
        def wait():\n    ids.append(threading.get_native_id()); started.set(); time.sleep(30)\n\
        threading.Thread(target=wait, daemon=True).start(); started.wait()\n\
        print(ids[0], flush=True)\n\
        time.sleep(30)";
    let mut under = keepalive(&["--idle", "20"]);
    under.arg(python3()).args(["-c", LISTENER_AND_THREAD]);
    let mut process = spawn(under);
    let mut thread = String::new();
    BufReader::new(process.0.stdout.as_mut().unwrap()).read_line(&mut thread).unwrap();
    let (thread, pid) = (thread.trim(), process.0.id());

    let output = run(&["--status", thread]);
    assert!(output.status.success(), "{}", describe(&output));
    let report = text(&output.stdout);
    let mut lines = report.lines();
    assert_eq!(lines.next(), Some(format!("thread {thread} is in process {pid}; showing the process").as_str()));
    assert!(lines.next().unwrap().starts_with(&format!("process {pid} (python3")), "{report}");
    assert!(lines.any(|line| line.contains("LISTEN") && line.contains("on, idle 20s ")), "{report}");
    assert!(report.ends_with("1 TCP socket, 1 with keepalive on\n"), "options read, not guessed: {report}");
}

fn row_ends(report: &str, local: u16, ending: &str) -> bool {
    report.lines().any(|line| line.contains(&format!("127.0.0.1:{local} ")) && line.ends_with(ending))
}

#[test]
fn status_errors_are_clear() {
    let output = run(&["--status", "2147483646"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stderr), "keepalive: no process with PID 2147483646\n");

    // A zombie has no descriptors left: not a process without sockets, but one that has exited,
    // said by --status as by --attach, with the same status.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id().to_string();
    let zombie = wait_for(std::time::Duration::from_secs(5), || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit_once(") ").filter(|(_, rest)| rest.starts_with('Z')).map(drop)
    });
    assert!(zombie.is_some(), "`true` still runs");
    for option in ["--status", "--attach"] {
        let output = run(&[option, &pid]);
        assert_eq!(output.status.code(), Some(1), "{option}: {}", describe(&output));
        assert_eq!(
            text(&output.stderr),
            format!(
                "keepalive: process {pid}: exited, but its parent has not reaped it yet (a zombie): it holds no sockets\n"
            ),
            "{option}"
        );
    }
    child.wait().unwrap();

    if !is_root() {
        report("skipped: reading another user's process as nobody needs root to switch users");
        return;
    }
    let output = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .arg(copies_for_nobody(&command_path(), &library()))
        .args(["--status", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        "keepalive: cannot read the descriptors of process 1: permission denied (run as its user or as root)\n"
    );
}

#[test]
fn a_missing_library_is_an_error() {
    let output = keepalive(&["true"]).env("KEEPALIVE_LIBRARY", "/nonexistent/libkeepalive.so").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stderr), "keepalive: KEEPALIVE_LIBRARY=/nonexistent/libkeepalive.so: no such file\n");

    let directory = scratch("alone");
    let alone = directory.join("keepalive");
    copy_executable(&command_path(), &alone);
    let output = clean_command(&alone).arg("true").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("keepalive: cannot find libkeepalive.so (looked for "), "{stderr}");
    assert!(stderr.ends_with("; set KEEPALIVE_LIBRARY to its path\n"), "{stderr}");
}

/// `make` in the project with `CARGO=true`: the tests run inside cargo, which already built
/// everything and holds the build directory's lock.
fn make(arguments: &[&str]) -> Output {
    let output = Command::new("make")
        .current_dir(root())
        .args(["--no-print-directory", "CARGO=true"])
        .args(arguments)
        .output()
        .unwrap();
    assert!(output.status.success(), "make {arguments:?}: {}", describe(&output));
    output
}

fn files_under(directory: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![directory.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                files.push(entry.path().strip_prefix(directory).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn make_install_and_uninstall() {
    let destination = scratch("install");
    let destdir = format!("DESTDIR={}", destination.display());
    make(&["install", &destdir, "PREFIX=/opt/ka"]);
    assert_eq!(
        files_under(&destination),
        [
            "opt/ka/bin/keepalive",
            "opt/ka/lib/libkeepalive.so",
            "opt/ka/share/man/man1/keepalive.1",
            "opt/ka/share/man/man7/libkeepalive.7",
        ]
    );
    let installed = destination.join("opt/ka/bin/keepalive");
    let output = clean_command(&installed).args(["--print-env"]).output().unwrap();
    let library = destination.join("opt/ka/lib/libkeepalive.so");
    assert!(
        text(&output.stdout).starts_with(&format!("export LD_PRELOAD={}\"", library.display())),
        "{}",
        describe(&output)
    );
    let output = clean_command(&installed)
        .args(["--idle", "25", c_program("musl", "scenarios").to_str().unwrap(), "ipv6"])
        .env("EXPECT_IDLE", "25")
        .output()
        .unwrap();
    assert!(output.status.success(), "installed command: {}", describe(&output));

    let mut python = clean_command(&installed);
    python.args(["--idle", "25", "--"]).arg(python3()).args(["-c", IDLE_CONNECTION]);
    let (process, _, client_port) = idle_python(python);
    let output = clean_command(&installed).args(["--status", &process.0.id().to_string()]).output().unwrap();
    let report = text(&output.stdout);
    assert!(report.contains(&format!("libkeepalive loaded from {}", library.display())), "{report}");
    let client_row = report.lines().find(|line| {
        line.starts_with(|c: char| c.is_ascii_digit()) && line.contains(&format!("127.0.0.1:{client_port} "))
    });
    assert!(
        client_row.is_some_and(|row| row.contains("ESTABLISHED")
            && row.contains("on, idle 25s")
            && row.contains("next probe in")),
        "{report}"
    );
    drop(process);

    make(&["uninstall", &destdir, "PREFIX=/opt/ka"]);
    assert_eq!(files_under(&destination), Vec::<String>::new());
}

#[test]
fn man_pages_render_and_carry_the_version() {
    let version = text(&run(&["--version"]).stdout);
    let version = version.lines().next().unwrap().strip_prefix("keepalive ").unwrap().to_owned();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    for page in ["man/keepalive.1", "man/libkeepalive.7"] {
        let source = std::fs::read_to_string(root().join(page)).unwrap();
        assert!(source.lines().next().unwrap().contains(&format!("\"libkeepalive {version}\"")), "{page}: .TH version");
        let rendered = Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(root().join(page)).output();
        let Ok(rendered) = rendered else {
            report(&format!("{page}: groff is not installed, rendering not checked"));
            continue;
        };
        assert!(rendered.status.success() && rendered.stderr.is_empty(), "{page}: {}", describe(&rendered));
    }
}

#[test]
fn debian_package_installs_and_removes_cleanly() {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        report("skipped: dpkg-deb is not installed (not a Debian machine)");
        return;
    }
    let output = Command::new("./scripts/deb.sh").current_dir(root()).env("CARGO", "true").output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let package = root().join(text(&output.stdout).trim());
    let multiarch = text(&Command::new("cc").arg("-print-multiarch").output().unwrap().stdout).trim().to_owned();

    let contents = Command::new("dpkg-deb").arg("--contents").arg(&package).output().unwrap();
    let listing = text(&contents.stdout);
    for path in [
        "./usr/bin/keepalive".to_owned(),
        format!("./usr/lib/{multiarch}/libkeepalive/libkeepalive.so"),
        "./usr/share/man/man1/keepalive.1.gz".to_owned(),
        "./usr/share/man/man7/libkeepalive.7.gz".to_owned(),
        "./usr/share/doc/libkeepalive/copyright".to_owned(),
        "./usr/share/doc/libkeepalive/changelog.gz".to_owned(),
    ] {
        assert!(listing.lines().any(|line| line.ends_with(&path)), "{path} not in\n{listing}");
    }
    assert!(listing.lines().all(|line| line.contains(" root/root ")), "owned by root:\n{listing}");
    // Debian's libkeepalive0, another project's library, owns /usr/lib/libkeepalive.so.
    assert!(!listing.lines().any(|line| line.ends_with("./usr/lib/libkeepalive.so")), "{listing}");

    let lintian = Command::new("lintian").arg("--no-tag-display-limit").arg(&package).output();
    let lintian = lintian.expect("lintian is needed for this test: apt-get install lintian");
    let tags = text(&lintian.stdout);
    report(&format!("lintian: {}", if tags.is_empty() { "no tags" } else { tags.trim() }));
    let errors: Vec<&str> = tags.lines().filter(|line| line.starts_with("E:")).collect();
    assert_eq!(errors, Vec::<&str>::new(), "lintian errors: {}", describe(&lintian));
    assert!(lintian.status.success(), "{}", describe(&lintian));

    // Into a scratch root with its own empty dpkg database, so the machine's stays untouched.
    let target = scratch("dpkg-root");
    for directory in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(target.join(directory)).unwrap();
    }
    std::fs::write(target.join("var/lib/dpkg/status"), "").unwrap();
    let dpkg = |arguments: &[&str]| {
        let output = Command::new("dpkg").arg(format!("--root={}", target.display())).args(arguments).output().unwrap();
        assert!(output.status.success(), "dpkg {arguments:?}: {}", describe(&output));
    };
    dpkg(&["--force-depends", "--force-not-root", "--install", package.to_str().unwrap()]);
    // As libkeepalive0 would have it: the command must pass over this one to its own.
    std::fs::create_dir_all(target.join("usr/lib")).unwrap();
    let foreign = target.join("usr/lib/libkeepalive.so");
    copy_executable(&c_program("glibc", "libearly.so"), &foreign);
    let installed = target.join("usr/bin/keepalive");
    let output = clean_command(&installed)
        .args(["--count", "5", c_program("glibc", "scenarios").to_str().unwrap(), "ipv4"])
        .env("EXPECT_CNT", "5")
        .output()
        .unwrap();
    assert!(output.status.success(), "the packaged command and library: {}", describe(&output));
    let version = env!("CARGO_PKG_VERSION");
    let output = clean_command(&installed).arg("--version").output().unwrap();
    assert_eq!(
        text(&output.stdout),
        format!(
            "keepalive {version}\nlibkeepalive {version} ({})\n",
            target.join(format!("usr/lib/{multiarch}/libkeepalive/libkeepalive.so")).display()
        )
    );
    dpkg(&["--remove", "libkeepalive"]);
    std::fs::remove_file(&foreign).unwrap();
    let left: Vec<String> = files_under(&target).into_iter().filter(|path| !path.starts_with("var/lib/dpkg")).collect();
    assert_eq!(left, Vec::<String>::new(), "files left after removal");
}

/// Runs `arguments` as nobody.
fn as_nobody(command: &Path, arguments: &[&str]) -> Output {
    clean_command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(command)
        .args(arguments)
        .output()
        .unwrap()
}

#[test]
fn a_checkout_closed_to_other_users_still_serves_nobody() {
    if !is_root() {
        report("skipped: running the command as nobody needs root");
        return;
    }
    // The checkout, as a clone under /root would be: only its owner may enter.
    let checkout = scratch("closed-checkout");
    copy_executable(&command_path(), &checkout.join("keepalive"));
    copy_executable(&library(), &checkout.join("libkeepalive.so"));
    std::fs::set_permissions(&checkout, std::fs::Permissions::from_mode(0o700)).unwrap();
    // setpriv starts it, but as nobody it cannot look into its own directory for the library.
    let output = as_nobody(&checkout.join("keepalive"), &["true"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("keepalive: cannot find libkeepalive.so: permission denied for "), "{stderr}");
    assert!(stderr.contains(&format!("{}/libkeepalive.so", checkout.display())), "{stderr}");

    let command = copies_for_nobody(&checkout.join("keepalive"), &checkout.join("libkeepalive.so"));
    let output = as_nobody(&command, &["--idle", "20", "sh", "-c", "printf %s \"$LD_PRELOAD\""]);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(text(&output.stdout), command.with_file_name("libkeepalive.so").display().to_string());
}

#[test]
fn a_library_this_user_cannot_read_is_permission_denied() {
    if !is_root() {
        report("skipped: a directory closed to nobody, and running as nobody, need root");
        return;
    }
    // bin/keepalive anyone may run, lib/libkeepalive.so inside a directory only root may enter.
    let tree = scratch("denied");
    for (directory, mode) in [("bin", 0o755), ("lib", 0o700)] {
        std::fs::create_dir(tree.join(directory)).unwrap();
        std::fs::set_permissions(tree.join(directory), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(&tree, std::fs::Permissions::from_mode(0o755)).unwrap();
    let command = tree.join("bin/keepalive");
    copy_executable(&command_path(), &command);
    let closed = tree.join("lib/libkeepalive.so");
    copy_executable(&library(), &closed);

    let output = as_nobody(&command, &["true"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = text(&output.stderr);
    let expected = format!(
        "keepalive: cannot find libkeepalive.so: permission denied for {}",
        tree.join("lib/libkeepalive.so").display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(
        stderr.ends_with(
            " (this user cannot read the file or enter a directory above it); \
             set KEEPALIVE_LIBRARY to a copy it can read\n"
        ),
        "{stderr}"
    );

    let output = clean_command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&command)
        .arg("true")
        .env("KEEPALIVE_LIBRARY", &closed)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        text(&output.stderr)
            .starts_with(&format!("keepalive: KEEPALIVE_LIBRARY={}: permission denied", closed.display()))
    );

    let path = closed.display().to_string();
    let output = as_nobody(&command, &["--library", &path, "true"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(text(&output.stderr).starts_with(&format!("keepalive: --library {path}: permission denied")));
}

#[test]
fn library_option_for_print_env_and_running() {
    // For another system: used as given, whether or not it exists here.
    let image = "/opt/image/lib/libkeepalive.so";
    let print = |format: &str| {
        let output = run(&["--library", image, "--idle", "20", "--print-env", "--format", format]);
        assert!(output.status.success(), "{}", describe(&output));
        text(&output.stdout)
    };
    assert_eq!(
        print("shell"),
        format!(
            "export LD_PRELOAD={image}\"${{LD_PRELOAD:+:$LD_PRELOAD}}\"\nunset KEEPIDLE DD_TCP_KEEPALIVE_TIME TCP_KEEPIDLE\nexport KEEPALIVE_IDLE=20\n"
        )
    );
    assert_eq!(
        print("dockerfile"),
        format!("ENV LD_PRELOAD=\"{image}${{LD_PRELOAD:+:$LD_PRELOAD}}\" \\\n    KEEPALIVE_IDLE=20\n")
    );
    assert!(print("systemd").starts_with(&format!("[Service]\nEnvironment=LD_PRELOAD={image}\n")));
    let output = run(&["--library", "/opt/a b/libkeepalive.so", "--print-env"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert_eq!(
        text(&output.stderr),
        "keepalive: /opt/a b/libkeepalive.so: LD_PRELOAD cannot name a path with a colon or a space; move the library\n"
    );
    // A relative path would be looked for from each program's working directory, a bare name in
    // the loader's search path: neither is a path as the target system has it.
    for relative in ["lib/libkeepalive.so", "./libkeepalive.so", "libkeepalive.so"] {
        let output = run(&["--library", relative, "--idle", "20", "--print-env", "--format", "systemd"]);
        assert_eq!(output.status.code(), Some(2), "{relative}: {}", describe(&output));
        assert_eq!(output.stdout, b"", "{relative}");
        assert_eq!(
            text(&output.stderr),
            format!(
                "keepalive: --library {relative}: with --print-env, give the path from / as the target system has it\n"
            )
        );
    }

    // To run a program: a file that is here, made absolute, ahead of KEEPALIVE_LIBRARY.
    let directory = scratch("library-option");
    copy_executable(&library(), &directory.join("copy.so"));
    let output = keepalive(&["--library", "copy.so", "--idle", "25"])
        .current_dir(&directory)
        .env("KEEPALIVE_LIBRARY", "/nonexistent/libkeepalive.so")
        .args([c_program("glibc", "scenarios").to_str().unwrap(), "ipv4"])
        .env("EXPECT_IDLE", "25")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let output = keepalive(&["--library", "copy.so", "sh", "-c", "printf %s \"$LD_PRELOAD\""])
        .current_dir(&directory)
        .output()
        .unwrap();
    assert_eq!(text(&output.stdout), directory.join("copy.so").display().to_string(), "{}", describe(&output));
    let output = run(&["--library", "/nonexistent/libkeepalive.so", "true"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stderr), "keepalive: --library /nonexistent/libkeepalive.so: no such file\n");
    let output = run(&["--library", image, "--status", "1"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

#[test]
fn version_names_the_library_it_would_preload() {
    let version = env!("CARGO_PKG_VERSION");
    let library = library().canonicalize().unwrap();
    let output = run(&["--version"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(text(&output.stdout), format!("keepalive {version}\nlibkeepalive {version} ({})\n", library.display()));
    assert_eq!(run(&["-V"]).stdout, output.stdout);

    // Another project's libkeepalive.so (Debian's libkeepalive0) beside the command is not taken.
    let directory = scratch("foreign");
    copy_executable(&command_path(), &directory.join("keepalive"));
    copy_executable(Path::new("/bin/true"), &directory.join("libkeepalive.so"));
    let output = clean_command(directory.join("keepalive")).arg("--version").output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let report = text(&output.stdout);
    assert!(
        report.starts_with(&format!("keepalive {version}\nlibkeepalive not found: cannot find libkeepalive.so")),
        "{report}"
    );
    assert!(report.contains("libkeepalive.so (another project's library)"), "{report}");
    let output = clean_command(directory.join("keepalive")).arg("true").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));

    // Given explicitly, it is used as given, and said to be of unknown version.
    let foreign = directory.join("libkeepalive.so");
    let output = run(&["--version", "--library", foreign.to_str().unwrap()]);
    assert_eq!(
        text(&output.stdout),
        format!(
            "keepalive {version}\nlibkeepalive of unknown version ({}): not built from this project\n",
            foreign.display()
        )
    );
}

#[test]
fn make_install_needs_no_cargo_once_built() {
    let (command, library) = (command_path(), library());
    // PATH without cargo, as sudo's secure_path has it; CARGO, which cargo sets for tests, unset.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let without_cargo: Vec<PathBuf> =
        std::env::split_paths(&path).filter(|directory| !directory.join("cargo").exists()).collect();
    let destination = scratch("sudo-install");
    let output = Command::new("make")
        .current_dir(root())
        .args(["--no-print-directory", "install"])
        .arg(format!("DESTDIR={}", destination.display()))
        .env("PATH", std::env::join_paths(without_cargo).unwrap())
        .env_remove("CARGO")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(!text(&output.stdout).contains("cargo"), "{}", describe(&output));
    let installed = destination.join("usr/local");
    assert_eq!(std::fs::read(installed.join("bin/keepalive")).unwrap(), std::fs::read(command).unwrap());
    assert_eq!(std::fs::read(installed.join("lib/libkeepalive.so")).unwrap(), std::fs::read(library).unwrap());
}

#[test]
fn the_command_runs_alone_in_an_empty_root() {
    if !is_root() {
        report("skipped: chroot needs root");
        return;
    }
    let empty = scratch("empty-root");
    copy_executable(&command_path(), &empty.join("keepalive"));
    let size = std::fs::metadata(empty.join("keepalive")).unwrap().len();
    report(&format!("the static command: {size} bytes"));
    let in_root =
        |arguments: &[&str]| clean_command("chroot").arg(&empty).arg("/keepalive").args(arguments).output().unwrap();

    let version = env!("CARGO_PKG_VERSION");
    let output = in_root(&["--version"]);
    assert!(output.status.success(), "is it the static command `make` builds? {}", describe(&output));
    assert!(
        text(&output.stdout).starts_with(&format!("keepalive {version}\nlibkeepalive not found: ")),
        "{}",
        describe(&output)
    );
    let output = in_root(&["--help"]);
    assert!(output.status.success() && text(&output.stdout).contains("--print-env"), "{}", describe(&output));
    let output = in_root(&["--library", "/usr/lib/libkeepalive.so", "--idle", "20", "--print-env"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(text(&output.stdout).starts_with("export LD_PRELOAD=/usr/lib/libkeepalive.so\""), "{}", describe(&output));

    // A static program runs under the supervisor, which needs no library; with the preload
    // insisted on and the library given (without /proc it cannot look beside itself), it runs
    // with a warning that the preload cannot reach it.
    copy_executable(&static_program(&scratch("empty-root-program")), &empty.join("static-program"));
    let output = in_root(&["--idle", "20", "/static-program"]);
    assert_eq!((output.status.code(), text(&output.stderr)), (Some(3), String::new()), "{}", describe(&output));
    copy_executable(&library(), &empty.join("libkeepalive.so"));
    let output = in_root(&["--via", "preload", "--library", "/libkeepalive.so", "--idle", "20", "/static-program"]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert!(
        text(&output.stderr).starts_with("keepalive: warning: /static-program is statically linked"),
        "{}",
        describe(&output)
    );
}

/// The `$ keepalive … --print-env` examples in README.md and docs/ show what the command prints.
#[test]
fn documented_print_env_examples_are_what_the_command_prints() {
    let mut pages = vec![root().join("README.md")];
    pages.extend(std::fs::read_dir(root().join("docs")).unwrap().flatten().map(|entry| entry.path()));
    let mut checked = 0;
    for page in pages {
        let source = std::fs::read_to_string(&page).unwrap();
        let mut lines = source.lines();
        while let Some(line) = lines.next() {
            let Some(command) = line.strip_prefix("$ keepalive ").filter(|command| command.contains("--print-env"))
            else {
                continue;
            };
            let shown: String =
                lines.by_ref().take_while(|line| !line.starts_with("```")).map(|line| format!("{line}\n")).collect();
            let output = run(&command.split_whitespace().collect::<Vec<_>>());
            assert!(output.status.success(), "{}: {line}: {}", page.display(), describe(&output));
            assert_eq!(text(&output.stdout), shown, "{}: {line}", page.display());
            checked += 1;
        }
    }
    assert!(checked > 0, "no example found");
}

/// Only stream sockets are TCP: a raw socket with protocol IPPROTO_TCP is no row of `--status`.
#[test]
fn status_leaves_raw_tcp_sockets_out() {
    const RAW_AND_LISTENER: &str = "import socket, time\n\
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP); raw.connect(('127.0.0.1', 0))\n\
        listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen()\n\
        print(raw.fileno(), listener.fileno(), flush=True)\n\
        time.sleep(30)";
    let mut under = keepalive(&["--idle", "20"]);
    under.arg(python3()).args(["-c", RAW_AND_LISTENER]);
    let mut process = spawn(under);
    let mut line = String::new();
    BufReader::new(process.0.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let fds: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fds.len(), 2, "python: {line}");
    let output = run(&["--status", &process.0.id().to_string()]);
    assert!(output.status.success(), "{}", describe(&output));
    let report = text(&output.stdout);
    assert!(!report.lines().any(|row| row.split_whitespace().next() == Some(fds[0])), "raw socket listed: {report}");
    assert!(report.lines().any(|row| row.split_whitespace().next() == Some(fds[1])), "{report}");
    assert!(report.ends_with("1 TCP socket, 1 with keepalive on\n"), "{report}");
}
