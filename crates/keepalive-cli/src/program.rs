//! Finding the program as a shell would, and telling when `LD_PRELOAD` cannot reach it.

use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `name` itself if it has a slash, else the first match on `PATH`, preferring a file this user
/// may execute as `execvp` does. `None` when there is nothing by that name.
pub fn find(name: &OsStr) -> Option<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return Path::new(name).exists().then(|| PathBuf::from(name));
    }
    if name.is_empty() {
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let files: Vec<PathBuf> = std::env::split_paths(&path)
        .map(|dir| if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir }.join(name))
        .filter(|file| file.is_file())
        .collect();
    files.iter().find(|file| may_execute(file)).or(files.first()).cloned()
}

/// Whether this process's effective user and groups may execute `file`, as the kernel will
/// judge it: a file of another user with only the owner's execute bit does not count.
fn may_execute(file: &Path) -> bool {
    let Ok(path) = CString::new(file.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: the path is NUL-terminated; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::X_OK, libc::AT_EACCESS) == 0 }
}

/// One line for each reason the library would not be loaded into `program`.
pub fn warnings(program: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    inspect(program, None, &mut warnings);
    warnings
}

/// What a running program means for the preload; `script` is the script it interprets, if any.
fn inspect(program: &Path, script: Option<&Path>, warnings: &mut Vec<String>) {
    let contents = Contents::read(program);
    if let Some(Contents::Script { interpreter }) = &contents {
        // The kernel ignores set-user-ID and capabilities on a script: its interpreter's count.
        if let (None, Some(interpreter)) = (script, interpreter) {
            inspect(interpreter, Some(program), warnings);
        }
        return;
    }
    let shown = match script {
        Some(script) => format!("{} runs under {}, which", script.display(), program.display()),
        None => program.display().to_string(),
    };
    if let Some(reason) = secure_execution(program) {
        warnings.push(format!(
            "{shown} is {reason}: the dynamic loader ignores LD_PRELOAD for it, so its connections \
             will not get keepalive; run a copy without that, or set keepalive in the program"
        ));
    }
    if let Some(Contents::Elf { dynamic: false }) = contents {
        warnings.push(format!(
            "{shown} is statically linked: LD_PRELOAD cannot reach it, so its connections will not \
             get keepalive; set keepalive in the program (Go: net.Dialer's KeepAlive) instead"
        ));
    }
}

/// Why running `program` would put the loader in secure-execution mode: a set-user-ID or
/// set-group-ID file owned by someone else, or file capabilities, which the kernel does not
/// count when the real user is root (`cap_bprm_creds_from_file`).
fn secure_execution(program: &Path) -> Option<&'static str> {
    let meta = fs::metadata(program).ok()?;
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if meta.mode() & libc::S_ISUID != 0 && meta.uid() != uid {
        return Some("set-user-ID");
    }
    if meta.mode() & libc::S_ISGID != 0 && meta.gid() != gid {
        return Some("set-group-ID");
    }
    (uid != 0 && has_capabilities(program)).then_some("given file capabilities")
}

fn has_capabilities(program: &Path) -> bool {
    let Ok(path) = CString::new(program.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated; a null buffer of size 0 asks only for the size.
    let size = unsafe { libc::getxattr(path.as_ptr(), c"security.capability".as_ptr(), std::ptr::null_mut(), 0) };
    size > 0
}

enum Contents {
    Elf { dynamic: bool },
    Script { interpreter: Option<PathBuf> },
}

impl Contents {
    fn read(program: &Path) -> Option<Contents> {
        let mut file = File::open(program).ok()?;
        let mut start = [0u8; 256];
        let length = file.read(&mut start).ok()?;
        let start = start.get(..length)?;
        if start.starts_with(b"\x7fELF") {
            return Some(Contents::Elf { dynamic: has_interpreter(&mut file, start)? });
        }
        let line = start.strip_prefix(b"#!")?;
        let line = line.split(|&byte| byte == b'\n').next()?;
        Some(Contents::Script { interpreter: interpreter(line) })
    }
}

/// Whether an ELF file names a dynamic loader (a `PT_INTERP` program header). Executables
/// without one, static and static-pie alike, never see `LD_PRELOAD`.
fn has_interpreter(file: &mut File, header: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    let wide = *header.get(4)? == 2;
    let little = *header.get(5)? == 1;
    let number = |bytes: &[u8]| -> Option<u64> {
        let mut value = 0u64;
        for index in 0..bytes.len() {
            let byte = if little { bytes.get(bytes.len() - 1 - index)? } else { bytes.get(index)? };
            value = value << 8 | u64::from(*byte);
        }
        Some(value)
    };
    let field = |offset: usize, size: usize| number(header.get(offset..offset + size)?);
    let (table, entry_size, entries) = if wide {
        (field(0x20, 8)?, field(0x36, 2)?, field(0x38, 2)?)
    } else {
        (field(0x1c, 4)?, field(0x2a, 2)?, field(0x2c, 2)?)
    };
    let mut entry = vec![0u8; usize::try_from(entry_size).ok()?.max(4)];
    for index in 0..entries {
        file.seek(SeekFrom::Start(table.checked_add(index.checked_mul(entry_size)?)?)).ok()?;
        file.read_exact(&mut entry).ok()?;
        if number(entry.get(..4)?)? == u64::from(PT_INTERP) {
            return Some(true);
        }
    }
    Some(false)
}

/// The program a `#!` line runs: the first word, or for `/usr/bin/env [-S] NAME`, NAME on `PATH`.
fn interpreter(line: &[u8]) -> Option<PathBuf> {
    let mut words = line.split(|byte| byte.is_ascii_whitespace()).filter(|word| !word.is_empty());
    let first = Path::new(OsStr::from_bytes(words.next()?)).to_path_buf();
    if first.file_name() != Some(OsStr::new("env")) {
        return Some(first);
    }
    let name = words.find(|word| !word.starts_with(b"-") && !word.contains(&b'='))?;
    find(OsStr::from_bytes(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreters_of_shebang_lines() {
        assert_eq!(interpreter(b"/bin/sh -e"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(interpreter(b" /usr/bin/python3"), Some(PathBuf::from("/usr/bin/python3")));
        assert_eq!(interpreter(b"/usr/bin/env sh"), find(OsStr::new("sh")));
        assert_eq!(interpreter(b"/usr/bin/env -S A=1 sh -x"), find(OsStr::new("sh")));
        assert_eq!(interpreter(b""), None);
    }

    #[test]
    fn dynamic_programs_have_an_interpreter() {
        let shell = find(OsStr::new("sh")).expect("sh on PATH");
        assert!(matches!(Contents::read(&shell.canonicalize().unwrap()), Some(Contents::Elf { dynamic: true })));
    }

    #[test]
    fn not_found_is_none() {
        assert_eq!(find(OsStr::new("no-such-program-anywhere")), None);
        assert_eq!(find(OsStr::new("./no-such-program")), None);
        assert_eq!(find(OsStr::new("")), None);
    }
}
