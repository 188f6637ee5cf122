//! `make demo` must keep working: it checks the kernel's view itself and fails otherwise.

mod common;
use common::*;

#[test]
fn the_demo_proves_keepalive_from_the_kernel() {
    library();
    c_program("glibc", "peek");
    let output = clean_command(root().join("scripts/demo.sh")).current_dir(root()).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("SO_KEEPALIVE=1 TCP_KEEPIDLE=3 TCP_KEEPINTVL=1 TCP_KEEPCNT=3"), "{stdout}");
    assert!(stdout.contains("Summary: the unmodified client got TCP keepalive"), "{stdout}");
}
