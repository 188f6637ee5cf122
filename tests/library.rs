//! The built `.so` itself: what it exports, what it needs from the C library, and what it would
//! take to load it elsewhere (musl, older glibc).

mod common;
use common::*;
use std::process::Command;

fn tool(program: &str, arguments: &[&str]) -> String {
    let output = Command::new(program)
        .args(arguments)
        .arg(library())
        .output()
        .unwrap_or_else(|error| panic!("{program} (binutils) is needed: {error}"));
    assert!(output.status.success(), "{program}: {}", describe(&output));
    text(&output.stdout)
}

/// `(name, version, strong)` for each undefined dynamic symbol.
fn imports() -> Vec<(String, String, bool)> {
    tool("nm", &["-D", "--undefined-only"])
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let kind = fields.next()?;
            let (name, version) = fields.next()?.split_once('@').unwrap_or((line.trim(), ""));
            Some((name.to_string(), version.to_string(), kind == "U"))
        })
        .collect()
}

#[test]
fn exports_the_hooks_and_nothing_else() {
    let mut exported: Vec<String> = tool("nm", &["-D", "--defined-only"])
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2).map(str::to_string))
        .collect();
    exported.sort();
    assert_eq!(exported, ["accept", "accept4", "connect", "setsockopt", "socket"]);
}

#[test]
fn has_no_panic_path() {
    // The panic handler calls abort(); nothing else does. A panic that the optimiser could not
    // remove would show up as an import of abort.
    let imports = imports();
    assert!(!imports.iter().any(|(name, _, _)| name == "abort"), "a panic path exists: {imports:?}");
}

#[test]
fn needs_only_what_every_c_library_has() {
    // Each import is a symbol the dynamic loader looks up in every process we enter, and must
    // exist in musl as in glibc. dlsym is weak: glibc before 2.34 keeps it in libdl.
    let strong: Vec<String> = imports().into_iter().filter(|(_, _, strong)| *strong).map(|(name, _, _)| name).collect();
    assert_eq!(strong, ["__errno_location", "environ"], "new imports cost load time everywhere");
    // Weak ones cost a lookup too, a failed one the dearest (every object is searched): the C
    // compiler's start files would bring four (build.rs leaves them out).
    let weak: Vec<String> = imports().into_iter().filter(|(_, _, strong)| !strong).map(|(name, _, _)| name).collect();
    assert_eq!(weak, ["dlsym"], "new imports cost load time everywhere");
}

#[test]
fn depends_on_the_c_library_alone() {
    let needed: Vec<String> = tool("readelf", &["-d"])
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .map(|line| line.rsplit('[').next().unwrap().trim_end_matches(']').to_string())
        .collect();
    assert_eq!(needed, ["libc.so.6"]);
}

#[test]
fn loads_on_glibc_2_17_and_later() {
    // CentOS/RHEL 7 and Amazon Linux 2 are the oldest glibc (2.17) still seen in containers. No
    // symbol may require a newer version, whatever glibc the library was built against.
    for (name, version, _) in imports() {
        let Some(number) = version.strip_prefix("GLIBC_") else { continue };
        let parts: Vec<u32> = number.split('.').map(|part| part.parse().unwrap()).collect();
        assert!(parts <= vec![2, 17], "{name}@{version} is newer than glibc 2.17");
    }
}

/// The tests refuse a built file older than its sources, as plain `cargo test` after an edit
/// would leave it, instead of testing it.
#[test]
fn a_build_older_than_its_sources_is_refused() {
    let directory = std::env::temp_dir().join(format!("keepalive-stale-{}", std::process::id()));
    std::fs::create_dir_all(directory.join("src/deeper")).unwrap();
    let (built, source) = (directory.join("built.so"), directory.join("src/deeper/hooks.rs"));
    let at = |path: &std::path::Path, seconds: u64| {
        let file = std::fs::File::create(path).unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)).unwrap();
    };
    let sources = [directory.join("src"), directory.join("not-there")];
    assert_eq!(check_built(&built, &sources), Err(format!("{} is missing", built.display())));
    at(&source, 2_000_000_000);
    at(&built, 1_000_000_000);
    assert_eq!(check_built(&built, &sources), Err(format!("{} is older than {}", built.display(), source.display())));
    at(&built, 2_000_000_001);
    assert_eq!(check_built(&built, &sources), Ok(()));
    std::fs::remove_dir_all(&directory).unwrap();
}

/// What the library is checked against is what cargo says it was built from.
#[test]
fn the_sources_of_a_build_are_cargos_own_list() {
    let text = "/a b/target/release/libkeepalive.so: /a\\ b/src/lib.rs /a\\ b/src/hooks.rs\n\n/a b/x.rs:\n";
    assert_eq!(dep_info_sources(text), ["/a b/src/lib.rs", "/a b/src/hooks.rs"].map(std::path::PathBuf::from));
    let listed = std::fs::read_to_string(root().join("target/release/libkeepalive.d")).unwrap();
    assert!(dep_info_sources(&listed).contains(&root().join("src/hooks.rs")), "{listed}");
}
