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
    match contents {
        Some(Contents::Elf { dynamic: false }) => {
            let how = if is_go_program(program) { " (Go: net.Dialer's KeepAlive)" } else { "" };
            warnings.push(format!(
                "{shown} is statically linked: LD_PRELOAD cannot reach it, so its connections will \
                 not get keepalive; set keepalive in the program{how} instead"
            ))
        }
        Some(Contents::ForeignElf(description)) => {
            warnings.push(format!("{shown} is {description}; the library cannot be preloaded into it"))
        }
        _ => {}
    }
}

/// Whether `program` was built by Go, whose linker writes its build information after this
/// marker (in the `.go.buildinfo` section) since Go 1.13.
fn is_go_program(program: &Path) -> bool {
    const MARKER: &[u8] = b"\xff Go buildinf:";
    let contents = fs::read(program).unwrap_or_default();
    contents.windows(MARKER.len()).any(|window| window == MARKER)
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
    /// An ELF program for this machine; `dynamic` when it names a dynamic loader.
    Elf {
        dynamic: bool,
    },
    /// An ELF program the library cannot be loaded into, described: "a 32-bit program".
    ForeignElf(&'static str),
    Script {
        interpreter: Option<PathBuf>,
    },
}

impl Contents {
    fn read(program: &Path) -> Option<Contents> {
        let mut file = File::open(program).ok()?;
        let mut start = [0u8; 256];
        let length = file.read(&mut start).ok()?;
        let start = start.get(..length)?;
        if let Some(header) = ElfHeader::parse(start) {
            if let Some(description) = header.foreign() {
                return Some(Contents::ForeignElf(description));
            }
            return Some(Contents::Elf { dynamic: header.has_interpreter(&mut file)? });
        }
        let line = start.strip_prefix(b"#!")?;
        let line = line.split(|&byte| byte == b'\n').next()?;
        Some(Contents::Script { interpreter: interpreter(line) })
    }
}

/// Whether this command, and so the library built with it, is 64-bit.
const WIDE: bool = cfg!(target_pointer_width = "64");

/// ELF's number for this command's architecture, where known.
const MACHINE: Option<u16> = if cfg!(target_arch = "x86_64") {
    Some(62)
} else if cfg!(target_arch = "aarch64") {
    Some(183)
} else {
    None
};

/// The start of an ELF file, read in the file's own class (32- or 64-bit) and byte order.
struct ElfHeader<'a> {
    bytes: &'a [u8],
    wide: bool,
    little_endian: bool,
}

impl<'a> ElfHeader<'a> {
    /// `None` unless `bytes` start with ELF's magic number, a valid class and a valid byte order.
    fn parse(bytes: &'a [u8]) -> Option<ElfHeader<'a>> {
        let [0x7f, b'E', b'L', b'F', class @ (1 | 2), data @ (1 | 2), ..] = *bytes else {
            return None;
        };
        Some(ElfHeader { bytes, wide: class == 2, little_endian: data == 1 })
    }

    /// What the program is, when it is not for the machine and class the library is built for.
    fn foreign(&self) -> Option<&'static str> {
        if self.wide != WIDE {
            return Some(if self.wide { "a 64-bit program" } else { "a 32-bit program" });
        }
        let other_machine = MACHINE.zip(self.field(0x12, 2)).is_some_and(|(ours, its)| u64::from(ours) != its);
        other_machine.then_some("a program for another architecture")
    }

    /// Whether the program names a dynamic loader (a `PT_INTERP` program header). Executables
    /// without one, static and static-pie alike, never see `LD_PRELOAD`.
    fn has_interpreter(&self, file: &mut File) -> Option<bool> {
        const PT_INTERP: u64 = 3;
        let (table, entry_size, entries) = if self.wide {
            (self.field(0x20, 8)?, self.field(0x36, 2)?, self.field(0x38, 2)?)
        } else {
            (self.field(0x1c, 4)?, self.field(0x2a, 2)?, self.field(0x2c, 2)?)
        };
        let mut entry = vec![0u8; usize::try_from(entry_size).ok()?.max(4)];
        for index in 0..entries {
            file.seek(SeekFrom::Start(table.checked_add(index.checked_mul(entry_size)?)?)).ok()?;
            file.read_exact(&mut entry).ok()?;
            if self.number(entry.get(..4)?) == PT_INTERP {
                return Some(true);
            }
        }
        Some(false)
    }

    fn field(&self, offset: usize, size: usize) -> Option<u64> {
        Some(self.number(self.bytes.get(offset..offset.checked_add(size)?)?))
    }

    /// `bytes` as an unsigned number in the file's byte order.
    fn number(&self, bytes: &[u8]) -> u64 {
        let value = |value: u64, byte: &u8| value << 8 | u64::from(*byte);
        if self.little_endian { bytes.iter().rev().fold(0, value) } else { bytes.iter().fold(0, value) }
    }
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
