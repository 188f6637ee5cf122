//! When the hooks take a lock: the C library's functions are looked up with `dlsym()`, which
//! takes the dynamic loader's lock, for `socket` and `connect` at load (and `setsockopt` with
//! `KEEPALIVE_FORCE`), and for `accept`, `accept4` and `setsockopt` at their first call, as the
//! README says (BEHAVIOUR, LIMITATIONS). Seen through glibc's `LD_DEBUG=symbols`: a lookup that
//! starts in the C library is one of ours (the program's own calls bind to the library first).

mod common;
use common::*;

/// The hooked functions looked up in the C library, and the program's markers, in order.
fn lookups(environment: &[(&str, &str)]) -> Vec<String> {
    let output = preloaded(c_program("glibc", "lookups"))
        .env("LD_DEBUG", "symbols")
        .envs(environment.iter().copied())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let hooked = ["socket", "connect", "accept", "accept4", "setsockopt"];
    text(&output.stderr)
        .lines()
        .filter_map(|line| {
            if let Some(mark) = line.strip_prefix("MARK ") {
                return Some(format!("-- {mark}"));
            }
            let (_, rest) = line.split_once("symbol=")?;
            let (name, file) = rest.split_once(";  lookup in file=")?;
            (hooked.contains(&name) && file.contains("/libc.so")).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn the_c_librarys_functions_are_looked_up_at_load_or_at_their_first_call() {
    let later = ["setsockopt", "-- setsockopt", "accept4", "-- accept4", "accept", "-- accept"];
    let mut expected = vec!["socket", "connect", "-- main"];
    expected.extend(later);
    assert_eq!(lookups(&[]), expected);

    let expected =
        ["socket", "connect", "setsockopt", "-- main", "-- setsockopt", "accept4", "-- accept4", "accept", "-- accept"];
    assert_eq!(lookups(&[("KEEPALIVE_FORCE", "1")]), expected, "force mode looks setsockopt up at load");
}
