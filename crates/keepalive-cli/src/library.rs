//! Finding libkeepalive.so: where `KEEPALIVE_LIBRARY` says, or next to the installed command.

use std::env;
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "libkeepalive.so";

/// Debian's directory for this architecture's libraries, under `lib/`.
const MULTIARCH: &str = if cfg!(target_arch = "x86_64") {
    "x86_64-linux-gnu"
} else if cfg!(target_arch = "aarch64") {
    "aarch64-linux-gnu"
} else {
    ""
};

/// The library's absolute path, or a line saying where it was looked for.
pub fn locate() -> Result<PathBuf, String> {
    let path = match env::var_os("KEEPALIVE_LIBRARY") {
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(format!("KEEPALIVE_LIBRARY={}: no such file", path.display()));
            }
            path
        }
        None => {
            let candidates = candidates()?;
            candidates.iter().find(|path| path.is_file()).cloned().ok_or_else(|| {
                let tried: Vec<_> = candidates.iter().map(|path| path.display().to_string()).collect();
                format!("cannot find {FILE_NAME} (looked for {}); set KEEPALIVE_LIBRARY to its path", tried.join(", "))
            })?
        }
    };
    let path = path.canonicalize().map_err(|error| format!("{}: {error}", path.display()))?;
    preloadable(&path)?;
    Ok(path)
}

/// Beside an installed command (`bin/../lib/`, Debian's `lib/<arch>/`), or in the same
/// directory, as in a build tree's `target/release/`.
fn candidates() -> Result<Vec<PathBuf>, String> {
    let command = env::current_exe().map_err(|error| format!("cannot tell where this command is: {error}"))?;
    let bin = command.parent().unwrap_or(Path::new("/"));
    let lib = bin.join("../lib");
    let mut candidates = vec![lib.join(FILE_NAME)];
    if !MULTIARCH.is_empty() {
        candidates.push(lib.join(MULTIARCH).join(FILE_NAME));
    }
    candidates.push(bin.join(FILE_NAME));
    Ok(candidates)
}

/// The dynamic loader splits `LD_PRELOAD` at colons and spaces, so such a path cannot work.
fn preloadable(path: &Path) -> Result<(), String> {
    let text = path.to_str().ok_or_else(|| format!("{}: not a UTF-8 path", path.display()))?;
    if text.contains([':', ' ', '\t', '\n']) {
        return Err(format!("{text}: LD_PRELOAD cannot name a path with a colon or a space; move the library"));
    }
    Ok(())
}
