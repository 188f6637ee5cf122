//! What `--cgroup` needs before it loads anything: the capabilities, a cgroup v2 directory, and
//! the BPF filesystem its links are pinned in.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::BPF_FS;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// (capability number, name): loading sock_ops programs takes CAP_BPF (or CAP_SYS_ADMIN, which
/// the kernel also accepts) and CAP_NET_ADMIN, attaching to a cgroup CAP_NET_ADMIN.
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// The capabilities this process lacks, by name; empty when it has what it needs.
pub fn missing_capabilities() -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    let has = |capability: u32| effective & (1 << capability) != 0;
    let mut missing = Vec::new();
    if !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_NET_ADMIN) {
        missing.push("CAP_NET_ADMIN");
    }
    missing
}

/// A cgroup v2 directory, open, and the kernel's ID for it.
pub struct Cgroup {
    pub path: PathBuf,
    pub directory: OwnedFd,
    pub id: u64,
}

/// Opens `path` as a cgroup v2 directory, or says why it is not one.
pub fn open_cgroup(path: &Path) -> Result<Cgroup, String> {
    let file =
        File::options().read(true).custom_flags(libc::O_DIRECTORY).open(path).map_err(|error| {
            format!("cannot open {}: {}", path.display(), crate::launch::without_error_number(&error))
        })?;
    if filesystem(&file) != Some(CGROUP2_SUPER_MAGIC) {
        return Err(match cgroup2_mount() {
            None => "no cgroup v2 is mounted on this system (mount -t cgroup2 none /sys/fs/cgroup)".to_owned(),
            Some(mount) => {
                format!("{} is not a cgroup v2 directory (cgroup v2 is mounted at {})", path.display(), mount.display())
            }
        });
    }
    // On a 64-bit kernel, a cgroup's inode number is its ID, the one the kernel gives its links.
    let id = file.metadata().map_err(|error| format!("{}: {error}", path.display()))?.ino();
    Ok(Cgroup { path: path.to_owned(), directory: file.into(), id })
}

fn filesystem(file: &File) -> Option<i64> {
    // SAFETY: statfs is plain data, filled by fstatfs on an open descriptor.
    let mut info: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    (unsafe { libc::fstatfs(file.as_raw_fd(), &mut info) } == 0).then_some(info.f_type as i64)
}

/// Where cgroup v2 is mounted, from this process's mount table.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().map(|line| line.split(' ').collect::<Vec<_>>()).find_map(|fields| match fields[..] {
        [_, mount, "cgroup2", ..] => Some(PathBuf::from(mount)),
        _ => None,
    })
}

/// Makes sure the BPF filesystem is mounted where links are pinned, mounting it if it is not;
/// true when it mounted one.
pub fn mount_bpf_filesystem_if_missing() -> Result<bool, String> {
    let root = Path::new(BPF_FS);
    let mounted = File::open(root).ok().and_then(|file| filesystem(&file)) == Some(BPF_FS_MAGIC);
    if mounted {
        return Ok(false);
    }
    let failed = |error: io::Error| {
        format!(
            "no BPF filesystem at {} and cannot mount one ({}): mount -t bpf bpf {}",
            root.display(),
            crate::launch::without_error_number(&error),
            root.display()
        )
    };
    std::fs::create_dir_all(root).map_err(failed)?;
    // SAFETY: every argument is a NUL-terminated string.
    let result = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            c"/sys/fs/bpf".as_ptr(), /* BPF_FS */
            c"bpf".as_ptr(),
            0,
            c"mode=0700".as_ptr().cast(),
        )
    };
    if result != 0 {
        return Err(failed(io::Error::last_os_error()));
    }
    Ok(true)
}

/// Whether the cgroup with this ID is still in the hierarchy mounted at `mount`. A removed cgroup
/// is not, even while it lingers as dying (the kernel answers `ESTALE`).
pub fn cgroup_exists(mount: &Path, id: u64) -> bool {
    /// `struct file_handle` with the 8 bytes of a cgroup's handle (`FILEID_KERNFS`: its ID).
    #[repr(C)]
    struct CgroupHandle {
        bytes: u32,
        kind: i32,
        id: [u8; 8],
    }
    const FILEID_KERNFS: i32 = 0xfe;
    let Ok(mount) = File::open(mount) else { return false };
    let mut handle = CgroupHandle { bytes: 8, kind: FILEID_KERNFS, id: id.to_ne_bytes() };
    // SAFETY: `handle` is a live file_handle whose `bytes` says how many handle bytes follow the
    // header; the kernel only reads it. The descriptor returned, if any, is closed at once.
    let fd = unsafe { libc::open_by_handle_at(mount.as_raw_fd(), (&raw mut handle).cast(), libc::O_RDONLY) };
    if fd >= 0 {
        // SAFETY: `fd` is a new descriptor nothing else owns.
        unsafe { libc::close(fd) };
    }
    fd >= 0
}
