//! The `bpf(2)` system call, for the few commands `--cgroup` needs, through libc alone.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::program::Instruction;

// Commands.
const MAP_CREATE: i32 = 0;
const MAP_LOOKUP_ELEM: i32 = 1;
const MAP_UPDATE_ELEM: i32 = 2;
const PROG_LOAD: i32 = 5;
const OBJ_PIN: i32 = 6;
const OBJ_GET: i32 = 7;
const PROG_GET_FD_BY_ID: i32 = 13;
const MAP_GET_FD_BY_ID: i32 = 14;
const OBJ_GET_INFO_BY_FD: i32 = 15;
const PROG_QUERY: i32 = 16;
const BTF_LOAD: i32 = 18;
const MAP_FREEZE: i32 = 22;
const LINK_CREATE: i32 = 28;
const LINK_UPDATE: i32 = 29;
const LINK_DETACH: i32 = 34;
const PROG_BIND_MAP: i32 = 35;

const PROG_TYPE_SOCK_OPS: u32 = 13;
const PROG_TYPE_CGROUP_SOCKOPT: u32 = 25;
const MAP_TYPE_ARRAY: u32 = 2;
const MAP_TYPE_SK_STORAGE: u32 = 24;
const F_NO_PREALLOC: u32 = 1;

/// Where a program is attached on a cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    SockOps = 3,
    SetSockOpt = 22,
}

/// `union bpf_attr`, as bytes: each command sets the fields it reads at their offsets.
struct Attr([u8; 144]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 144])
    }

    fn u32(mut self, offset: usize, value: u32) -> Attr {
        self.0[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn u64(mut self, offset: usize, value: u64) -> Attr {
        self.0[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn pointer<T: ?Sized>(self, offset: usize, value: *const T) -> Attr {
        self.u64(offset, value.cast::<u8>() as u64)
    }

    fn bytes(mut self, offset: usize, value: &[u8]) -> Attr {
        self.0[offset..offset + value.len()].copy_from_slice(value);
        self
    }

    fn read_u32(&self, offset: usize) -> u32 {
        u32::from_ne_bytes(self.0[offset..offset + 4].try_into().unwrap_or_default())
    }
}

fn bpf(command: i32, attr: &mut Attr) -> io::Result<i64> {
    // SAFETY: attr is a full-size bpf_attr whose pointers, set by the callers, point at live
    // buffers of the sizes given beside them.
    let result = unsafe { libc::syscall(libc::SYS_bpf, command, attr.0.as_mut_ptr(), attr.0.len()) };
    if result < 0 { Err(io::Error::last_os_error()) } else { Ok(result) }
}

fn bpf_fd(command: i32, attr: &mut Attr) -> io::Result<OwnedFd> {
    let fd = bpf(command, attr)?;
    // SAFETY: these commands return a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn raw(fd: BorrowedFd) -> u32 {
    fd.as_raw_fd() as u32
}

/// Why a program was not loaded: the error, and the verifier's last line when it refused.
pub struct LoadError {
    pub error: io::Error,
    pub verifier: Option<String>,
}

/// Loads a program for `hook`; on failure loads it again with the verifier's log on, to say why.
pub fn load_program(hook: Hook, name: &str, instructions: &[Instruction]) -> Result<OwnedFd, LoadError> {
    let (program_type, expected_attach) = match hook {
        Hook::SockOps => (PROG_TYPE_SOCK_OPS, 0),
        Hook::SetSockOpt => (PROG_TYPE_CGROUP_SOCKOPT, Hook::SetSockOpt as u32),
    };
    let license = c"GPL";
    let mut name_bytes = [0u8; 16];
    name_bytes[..name.len().min(15)].copy_from_slice(&name.as_bytes()[..name.len().min(15)]);
    let attr = |log: &mut [u8]| {
        Attr::new()
            .u32(0, program_type)
            .u32(4, instructions.len() as u32)
            .pointer(8, instructions.as_ptr())
            .pointer(16, license.as_ptr())
            .u32(24, u32::from(!log.is_empty()))
            .u32(28, log.len() as u32)
            .u64(32, if log.is_empty() { 0 } else { log.as_ptr() as u64 })
            .bytes(48, &name_bytes)
            .u32(68, expected_attach)
    };
    match bpf_fd(PROG_LOAD, &mut attr(&mut [])) {
        Ok(fd) => Ok(fd),
        Err(error) => {
            let mut log = vec![0u8; 1 << 20];
            let _ = bpf_fd(PROG_LOAD, &mut attr(&mut log));
            let text = String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned();
            Err(LoadError { error, verifier: last_line(&text) })
        }
    }
}

/// The last line of a verifier log that says something (the log ends with statistics).
pub fn last_line(log: &str) -> Option<String> {
    log.lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty() && !line.starts_with("processed ") && !line.starts_with("verification time"))
        .map(str::to_owned)
}

/// A frozen one-entry array holding `text`, which `--status` reads back.
pub fn settings_map(text: &str) -> io::Result<OwnedFd> {
    const SIZE: usize = 4096;
    let mut value = vec![0u8; SIZE];
    let length = text.len().min(SIZE - 1);
    value[..length].copy_from_slice(&text.as_bytes()[..length]);
    let mut attr =
        Attr::new().u32(0, MAP_TYPE_ARRAY).u32(4, 4).u32(8, SIZE as u32).u32(12, 1).bytes(28, b"keepalive_conf");
    let map = bpf_fd(MAP_CREATE, &mut attr)?;
    let key = 0u32;
    bpf(
        MAP_UPDATE_ELEM,
        &mut Attr::new().u32(0, raw(map.as_fd())).pointer(8, &raw const key).pointer(16, value.as_ptr()),
    )?;
    bpf(MAP_FREEZE, &mut Attr::new().u32(0, raw(map.as_fd())))?;
    Ok(map)
}

/// The text of a map made by `settings_map`.
pub fn read_settings(map: BorrowedFd) -> io::Result<String> {
    let mut value = vec![0u8; 4096];
    let key = 0u32;
    bpf(MAP_LOOKUP_ELEM, &mut Attr::new().u32(0, raw(map)).pointer(8, &raw const key).pointer(16, value.as_mut_ptr()))?;
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    Ok(String::from_utf8_lossy(&value[..end]).into_owned())
}

/// Keeps `map` with `program` for as long as the program lives, though the program never reads it.
pub fn bind_map(program: BorrowedFd, map: BorrowedFd) -> io::Result<()> {
    bpf(PROG_BIND_MAP, &mut Attr::new().u32(0, raw(program)).u32(4, raw(map))).map(drop)
}

/// Type information for the socket-storage map, which the kernel requires: one type, a 32-bit
/// `int`, used for the key and the value.
fn int_type_information() -> Vec<u8> {
    let strings = b"\0int\0";
    let mut blob = Vec::new();
    blob.extend_from_slice(&0xeb9f_u16.to_ne_bytes()); // magic
    blob.extend_from_slice(&[1, 0]); // version, flags
    for field in [24u32, 0, 16, 16, strings.len() as u32] {
        // header length; types' offset and length; strings' offset and length
        blob.extend_from_slice(&field.to_ne_bytes());
    }
    // type 1: name "int" (offset 1), kind INT (1), 4 bytes; signed (1 << 24), 32 bits.
    for field in [1u32, 1 << 24, 4, 1 << 24 | 32] {
        blob.extend_from_slice(&field.to_ne_bytes());
    }
    blob.extend_from_slice(strings);
    blob
}

/// A socket-storage map: an entry exists for each socket the `sock_ops` program configured.
pub fn marks_map() -> io::Result<OwnedFd> {
    let types = int_type_information();
    let btf = bpf_fd(BTF_LOAD, &mut Attr::new().pointer(0, types.as_ptr()).u32(16, types.len() as u32))?;
    let mut attr = Attr::new()
        .u32(0, MAP_TYPE_SK_STORAGE)
        .u32(4, 4)
        .u32(8, 4)
        .u32(16, F_NO_PREALLOC)
        .bytes(28, b"keepalive_mark")
        .u32(48, raw(btf.as_fd()))
        .u32(52, 1)
        .u32(56, 1);
    bpf_fd(MAP_CREATE, &mut attr)
}

/// Attaches `program` to the cgroup open as `cgroup` with a link, which other programs on the
/// same hook do not disturb.
pub fn create_link(program: BorrowedFd, cgroup: BorrowedFd, hook: Hook) -> io::Result<OwnedFd> {
    bpf_fd(LINK_CREATE, &mut Attr::new().u32(0, raw(program)).u32(4, raw(cgroup)).u32(8, hook as u32))
}

/// Puts `program` in place of the link's, in one step.
pub fn update_link(link: BorrowedFd, program: BorrowedFd) -> io::Result<()> {
    bpf(LINK_UPDATE, &mut Attr::new().u32(0, raw(link)).u32(4, raw(program))).map(drop)
}

pub fn detach_link(link: BorrowedFd) -> io::Result<()> {
    bpf(LINK_DETACH, &mut Attr::new().u32(0, raw(link))).map(drop)
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

pub fn pin(object: BorrowedFd, path: &Path) -> io::Result<()> {
    let path = c_path(path)?;
    bpf(OBJ_PIN, &mut Attr::new().pointer(0, path.as_ptr()).u32(8, raw(object))).map(drop)
}

pub fn pinned(path: &Path) -> io::Result<OwnedFd> {
    let path = c_path(path)?;
    bpf_fd(OBJ_GET, &mut Attr::new().pointer(0, path.as_ptr()))
}

/// Fills `info` (`bpf_prog_info`, `bpf_link_info` or `bpf_map_info`) for `object`.
fn information(object: BorrowedFd, info: &mut [u8]) -> io::Result<()> {
    bpf(OBJ_GET_INFO_BY_FD, &mut Attr::new().u32(0, raw(object)).u32(4, info.len() as u32).pointer(8, info.as_ptr()))
        .map(drop)
}

fn field(info: &[u8], offset: usize) -> u32 {
    u32::from_ne_bytes(info[offset..offset + 4].try_into().unwrap_or_default())
}

/// What a cgroup link holds.
#[derive(Debug)]
pub struct LinkInfo {
    pub program_id: u32,
    pub cgroup_id: u64,
}

pub fn link_info(link: BorrowedFd) -> io::Result<LinkInfo> {
    let mut info = [0u8; 48];
    information(link, &mut info)?;
    let cgroup_id = u64::from_ne_bytes(info[16..24].try_into().unwrap_or_default());
    Ok(LinkInfo { program_id: field(&info, 8), cgroup_id })
}

pub fn program_by_id(id: u32) -> io::Result<OwnedFd> {
    bpf_fd(PROG_GET_FD_BY_ID, &mut Attr::new().u32(0, id))
}

pub fn map_by_id(id: u32) -> io::Result<OwnedFd> {
    bpf_fd(MAP_GET_FD_BY_ID, &mut Attr::new().u32(0, id))
}

/// The maps a program uses or was bound to.
pub fn program_maps(program: BorrowedFd) -> io::Result<Vec<u32>> {
    let mut ids = [0u32; 8];
    let mut info = [0u8; 232];
    info[52..56].copy_from_slice(&(ids.len() as u32).to_ne_bytes());
    info[56..64].copy_from_slice(&(ids.as_mut_ptr() as u64).to_ne_bytes());
    information(program, &mut info)?;
    Ok(ids[..(field(&info, 52) as usize).min(ids.len())].to_vec())
}

/// Whether `map` is an array, as the settings map is (the marks map is socket storage).
pub fn is_array(map: BorrowedFd) -> io::Result<bool> {
    let mut info = [0u8; 88];
    information(map, &mut info)?;
    Ok(field(&info, 0) == MAP_TYPE_ARRAY)
}

/// The IDs of every program attached to the cgroup at `hook`, ours and others'.
pub fn attached_programs(cgroup: BorrowedFd, hook: Hook) -> io::Result<Vec<u32>> {
    let mut ids = [0u32; 64];
    let mut attr =
        Attr::new().u32(0, raw(cgroup)).u32(4, hook as u32).pointer(16, ids.as_mut_ptr()).u32(24, ids.len() as u32);
    bpf(PROG_QUERY, &mut attr)?;
    Ok(ids[..(attr.read_u32(24) as usize).min(ids.len())].to_vec())
}
