//! Finding libkeepalive.so: where `--library` or `KEEPALIVE_LIBRARY` says, or next to the
//! installed command; and reading its version from the file, without loading it.

use std::env;
use std::fs::File;
use std::io::ErrorKind;
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

/// The text the library carries before its version, which a comma ends (src/config.rs writes it
/// in its load line); it also tells it from another project's libkeepalive.so, such as Debian's
/// libkeepalive0.
const VERSION_MARKER: &[u8] = b"libkeepalive version ";

/// The library given with `--library`: for `--print-env` the absolute path as the target system
/// has it, used as given; to run a program, a file this user can read, made absolute.
pub fn given(path: &Path, to_run: bool) -> Result<PathBuf, String> {
    if to_run {
        match look_at(path) {
            Found::Usable | Found::Foreign => {}
            Found::Absent => return Err(format!("--library {}: no such file", path.display())),
            Found::Denied => return Err(format!("--library {}: {DENIED}", path.display())),
        }
        let path = path.canonicalize().map_err(|error| format!("{}: {error}", path.display()))?;
        preloadable(&path)?;
        return Ok(path);
    }
    // The dynamic loader would look for a relative path from each process's working directory,
    // and for a bare name in its search path, where Debian's unrelated libkeepalive0 may be.
    if !path.is_absolute() {
        return Err(format!(
            "--library {}: with --print-env, give the path from / as the target system has it",
            path.display()
        ));
    }
    preloadable(path)?;
    Ok(path.to_path_buf())
}

/// The library's version, read from the file: `None` if it carries none (not ours).
pub fn version(path: &Path) -> Option<String> {
    let contents = std::fs::read(path).ok()?;
    let start = contents.windows(VERSION_MARKER.len()).position(|window| window == VERSION_MARKER)?;
    let rest = &contents[start + VERSION_MARKER.len()..];
    let version = &rest[..rest.iter().take(64).position(|&byte| byte == b',')?];
    let plausible =
        !version.is_empty() && version.iter().all(|byte| byte.is_ascii_alphanumeric() || b".+-".contains(byte));
    plausible.then(|| String::from_utf8_lossy(version).into_owned())
}

/// The library's absolute path, or a line saying where it was looked for.
pub fn locate() -> Result<PathBuf, String> {
    let path = match env::var_os("KEEPALIVE_LIBRARY") {
        Some(path) => {
            let path = PathBuf::from(path);
            match look_at(&path) {
                Found::Usable | Found::Foreign => path,
                Found::Absent => return Err(format!("KEEPALIVE_LIBRARY={}: no such file", path.display())),
                Found::Denied => return Err(format!("KEEPALIVE_LIBRARY={}: {DENIED}", path.display())),
            }
        }
        None => {
            let candidates = candidates()?;
            let found: Vec<Found> = candidates.iter().map(|path| look_at(path)).collect();
            match found.iter().position(|found| *found == Found::Usable) {
                Some(usable) => candidates[usable].clone(),
                None => return Err(not_found(&candidates, &found)),
            }
        }
    };
    let path = path.canonicalize().map_err(|error| format!("{}: {error}", path.display()))?;
    preloadable(&path)?;
    Ok(path)
}

const DENIED: &str = "permission denied (this user cannot read the file or enter a directory above it)";

/// What is at a path where the library may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    Usable,
    /// A readable file of that name without our version: another project's library.
    Foreign,
    Absent,
    /// There may be a file, but this user cannot read it, as the dynamic loader would have to.
    Denied,
}

fn look_at(path: &Path) -> Found {
    let denied = |error: std::io::Error| match error.kind() {
        ErrorKind::PermissionDenied => Found::Denied,
        _ => Found::Absent,
    };
    match std::fs::metadata(path) {
        // Opened only once known to be a regular file: opening a FIFO would wait for a writer.
        Ok(metadata) if metadata.is_file() => match File::open(path) {
            Ok(_) if version(path).is_some() => Found::Usable,
            Ok(_) => Found::Foreign,
            Err(error) => denied(error),
        },
        Ok(_) => Found::Absent,
        Err(error) => denied(error),
    }
}

/// The line for a library found nowhere: permission denied comes first, as the likely reason.
fn not_found(candidates: &[PathBuf], found: &[Found]) -> String {
    let denied: Vec<_> = candidates
        .iter()
        .zip(found)
        .filter(|(_, found)| **found == Found::Denied)
        .map(|(path, _)| path.display().to_string())
        .collect();
    if !denied.is_empty() {
        return format!(
            "cannot find {FILE_NAME}: permission denied for {} (this user cannot read the file or enter a \
             directory above it); set KEEPALIVE_LIBRARY to a copy it can read",
            denied.join(", ")
        );
    }
    let tried: Vec<_> = candidates
        .iter()
        .zip(found)
        .map(|(path, found)| match found {
            Found::Foreign => format!("{} (another project's library)", path.display()),
            _ => path.display().to_string(),
        })
        .collect();
    format!("cannot find {FILE_NAME} (looked for {}); set KEEPALIVE_LIBRARY to its path", tried.join(", "))
}

/// Beside an installed command (`bin/../lib/`, the Debian package's private
/// `lib/<arch>/libkeepalive/`), or in the same directory, as in a build tree's `target/release/`.
fn candidates() -> Result<Vec<PathBuf>, String> {
    let command = env::current_exe().map_err(|error| format!("cannot tell where this command is: {error}"))?;
    let bin = command.parent().unwrap_or(Path::new("/"));
    let lib = bin.parent().unwrap_or(bin).join("lib");
    let mut candidates = vec![lib.join(FILE_NAME)];
    if !MULTIARCH.is_empty() {
        candidates.push(lib.join(MULTIARCH).join("libkeepalive").join(FILE_NAME));
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
