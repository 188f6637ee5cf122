//! Secure-execution mode: a set-user-ID program gets its `KEEPALIVE_*` variables from whoever
//! runs it, so the library ignores them all (ours, aliases, the older names), as the loader
//! ignores `LD_*`. Keepalive stays on, with the system's timers, and no debug line is written.
//! The loader preloads nothing from a path in that mode, so c-tests/secure.c loads the library
//! with dlopen(); run as root, its set-user-ID copy owned by nobody has AT_SECURE set.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Everything a user could try to hand a set-user-ID program.
const HOSTILE: [(&str, &str); 7] = [
    ("KEEPALIVE_IDLE", "1"),
    ("KEEPALIVE_USER_TIMEOUT", "1ms"),
    ("KEEPALIVE_COUNT", "1"),
    ("KEEPINTVL", "1"),
    ("DD_TCP_KEEPALIVE_TIME", "2"),
    ("KEEPALIVE_DEBUG", "1"),
    ("KEEPALIVE_FORCE", "1"),
];

/// A copy of the `secure` program for `libc` in a directory of its own, removed at the end.
struct Copy(PathBuf);

impl Copy {
    fn new(libc: &str, set_user_id: bool) -> Copy {
        let directory =
            std::env::temp_dir().join(format!("libkeepalive-secure-{}-{libc}-{set_user_id}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o755)).unwrap();
        let program = directory.join("secure");
        assert!(
            clean_command("install")
                .arg("-m")
                .arg("755")
                .arg(c_program(libc, "secure"))
                .arg(&program)
                .status()
                .unwrap()
                .success()
        );
        // Beside it, readable by the user nobody the set-user-ID copy runs as, wherever the checkout
        // is (a home closed to other users included).
        assert!(
            clean_command("install")
                .arg("-m")
                .arg("644")
                .arg(library())
                .arg(directory.join("libkeepalive.so"))
                .status()
                .unwrap()
                .success()
        );
        if set_user_id {
            assert!(Command::new("chown").arg("nobody").arg(&program).status().unwrap().success());
            std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o4755)).unwrap();
        }
        Copy(program)
    }

    fn run(&self, environment: &[(&str, &str)]) -> std::process::Output {
        let library = self.0.with_file_name("libkeepalive.so");
        clean_command(&self.0).arg(library).envs(environment.iter().copied()).output().unwrap()
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap_or(Path::new("/nonexistent")));
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn set_user_id_programs_ignore_every_variable() {
    if !is_root() {
        println!("SKIPPED: making a set-user-ID copy owned by another user needs root");
        return;
    }
    for libc in LIBCS {
        let secure = Copy::new(libc, true);
        let mut environment = HOSTILE.to_vec();
        environment.push(("KEEPALIVE", "off"));
        let output = secure.run(&environment);
        assert!(text(&output.stdout).starts_with("AT_SECURE=1\n"), "{libc}: not secure: {}", describe(&output));
        assert!(output.status.success(), "{libc}: the variables were read: {}", describe(&output));
        assert_eq!(text(&output.stderr), "", "{libc}: no debug line, no warning");
        let output = secure.run(&[("KEEPALIVE_IDLE", "abc")]);
        assert!(output.status.success() && output.stderr.is_empty(), "{libc}: {}", describe(&output));

        // The same program without the bit reads them: the check above can fail.
        let plain = Copy::new(libc, false);
        let mut environment = HOSTILE.to_vec();
        environment.extend([
            ("EXPECT_IDLE", "1"),
            ("EXPECT_USER_TIMEOUT", "1"),
            ("EXPECT_CNT", "1"),
            ("EXPECT_INTVL", "1"),
        ]);
        let output = plain.run(&environment);
        assert!(text(&output.stdout).starts_with("AT_SECURE=0\n"), "{libc}: {}", describe(&output));
        assert!(output.status.success(), "{libc}: {}", describe(&output));
        assert!(text(&output.stderr).contains(": keepalive on, idle 1s, intvl 1s"), "{libc}: {}", describe(&output));
    }
}
