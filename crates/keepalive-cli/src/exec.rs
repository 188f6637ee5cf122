//! Replacing this process with the program, as a shell does: `execve` of the path found, and
//! for a file the kernel does not recognise, `/bin/sh` only if the file looks like a script.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::inherited;

/// Why the program could not replace this process.
pub enum Failure {
    System(io::Error),
    /// The kernel refused the format and the file is not text that sh could read.
    BinaryFile,
}

/// Executes `path` with `arguments` after `arg0`, in `environment` (`NAME=value` entries).
/// Returns only on failure.
pub fn replace_process(path: &Path, arg0: &OsStr, arguments: &[OsString], environment: &[OsString]) -> Failure {
    let arguments: Vec<&OsStr> = arguments.iter().map(OsString::as_os_str).collect();
    let environment: Vec<&OsStr> = environment.iter().map(OsString::as_os_str).collect();
    // What the Rust runtime changed at start (SIGPIPE, closed standard descriptors), put back.
    inherited::restore();
    let error = execve(path.as_os_str(), &[&[arg0], &arguments[..]].concat(), &environment);
    if error.raw_os_error() != Some(libc::ENOEXEC) {
        return Failure::System(error);
    }
    if is_binary(path) {
        return Failure::BinaryFile;
    }
    let shell = OsStr::new("/bin/sh");
    Failure::System(execve(shell, &[&[shell, path.as_os_str()], &arguments[..]].concat(), &environment))
}

/// Returns only on failure, with the reason.
fn execve(path: &OsStr, arguments: &[&OsStr], environment: &[&OsStr]) -> io::Error {
    let c_string = |text: &&OsStr| CString::new(text.as_bytes());
    let c_strings = |strings: &[&OsStr]| strings.iter().map(c_string).collect::<Result<Vec<_>, _>>();
    let (Ok(path), Ok(arguments), Ok(environment)) = (c_string(&path), c_strings(arguments), c_strings(environment))
    else {
        // Command lines and environments cannot hold a NUL byte, so this is not reached.
        return io::Error::from(io::ErrorKind::InvalidInput);
    };
    let null_terminated = |strings: &[CString]| -> Vec<*const libc::c_char> {
        strings.iter().map(|text| text.as_ptr()).chain([std::ptr::null()]).collect()
    };
    let (argv, envp) = (null_terminated(&arguments), null_terminated(&environment));
    // SAFETY: every pointer is to a NUL-terminated string that outlives the call, and both
    // arrays end with a null pointer.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

/// What bash refuses to run as a script: an ELF file, or a NUL byte before the first newline.
/// A file that cannot be read is left for sh to report.
fn is_binary(path: &Path) -> bool {
    let mut start = [0u8; 80];
    let Ok(length) = File::open(path).and_then(|mut file| file.read(&mut start)) else {
        return false;
    };
    let start = start.get(..length).unwrap_or_default();
    let first_line = start.split(|&byte| byte == b'\n').next().unwrap_or_default();
    start.starts_with(b"\x7fELF") || first_line.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_files_are_elf_or_have_a_nul_in_the_first_line() {
        let directory = std::env::temp_dir().join(format!("keepalive-exec-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let cases: [(&[u8], bool); 5] =
            [(b"\x7fELF", true), (b"echo \0\n", true), (b"echo hi\n\0\0", false), (b"", false), (b"echo hi", false)];
        for (contents, binary) in cases {
            let file = directory.join("sample");
            std::fs::write(&file, contents).unwrap();
            assert_eq!(is_binary(&file), binary, "{contents:?}");
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
