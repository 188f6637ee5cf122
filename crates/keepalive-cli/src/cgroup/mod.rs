//! `keepalive --cgroup DIR`: the kernel applies the options to every TCP connection made or
//! accepted in a cgroup v2, through eBPF programs this module assembles (`program`), loads and
//! attaches with bpf links (`bpf`), and pins under `/sys/fs/bpf/keepalive/ID/` so that they stay
//! after the command exits and can be found again to replace, show or detach.

mod bpf;
mod checks;
mod program;

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::launch::without_error_number;
use crate::options::Effective;
use crate::streams::{self, stderr_line};
use bpf::Hook;
use checks::Cgroup;

/// The BPF filesystem, and our directory in it.
const BPF_FS: &str = "/sys/fs/bpf";
const PIN_ROOT: &str = "/sys/fs/bpf/keepalive";

/// Our pinned objects for one cgroup.
struct Pins {
    directory: PathBuf,
}

impl Pins {
    fn of(cgroup: &Cgroup) -> Pins {
        Pins { directory: Path::new(PIN_ROOT).join(cgroup.id.to_string()) }
    }

    /// The link of the `sock_ops` program.
    fn sock_ops(&self) -> PathBuf {
        self.directory.join("sock_ops")
    }

    /// The link of the `cgroup/setsockopt` program, under `--force`.
    fn setsockopt(&self) -> PathBuf {
        self.directory.join("setsockopt")
    }

    /// The sockets the `sock_ops` program configured, under `--force`.
    fn marks(&self) -> PathBuf {
        self.directory.join("marks")
    }

    /// A symbolic link to the cgroup's directory: a removed cgroup's ID can no longer be learnt
    /// from its path, and `--detach` of that path finds its pins by this.
    fn cgroup(&self) -> PathBuf {
        self.directory.join("cgroup")
    }

    /// The cgroup directory these pins were made for (see `cgroup`), when they say.
    fn recorded_cgroup(&self) -> Option<PathBuf> {
        std::fs::read_link(self.cgroup()).ok()
    }

    /// Records `cgroup` (see `cgroup`). Without it, only `--detach` of the removed cgroup is less
    /// precise, so a failure is not an error.
    fn record_cgroup(&self, cgroup: &Path) {
        if let Some(path) = canonical(cgroup) {
            let _ = std::fs::remove_file(self.cgroup());
            let _ = std::os::unix::fs::symlink(path, self.cgroup());
        }
    }

    /// Whether none of the links pinned here holds a cgroup any more. The kernel lets go of a
    /// removed cgroup's programs only once nothing of the cgroup is left (its last socket has
    /// closed: sockets keep running their cgroup's programs); its links then report cgroup ID 0.
    /// Until then a removed cgroup's links still report its ID, and its pins are kept.
    fn released(&self) -> bool {
        [self.sock_ops(), self.setsockopt()].iter().all(|path| match bpf::pinned(path) {
            Ok(link) => matches!(bpf::link_info(link.as_fd()), Ok(info) if info.cgroup_id == 0),
            Err(error) => error.kind() == io::ErrorKind::NotFound,
        })
    }

    /// Detaches the links pinned here, even while sockets of a removed cgroup still hold them, and
    /// removes the pins, which frees the links, their programs and the marks map.
    fn detach_and_remove(&self) -> Result<(), String> {
        for path in [self.setsockopt(), self.sock_ops()] {
            if let Ok(link) = bpf::pinned(&path) {
                bpf::detach_link(link.as_fd()).map_err(|error| failure("cannot detach", &error))?;
            }
        }
        self.remove();
        Ok(())
    }

    /// Removes the pins, which frees the links, their programs and the marks map.
    fn remove(&self) {
        for path in [self.setsockopt(), self.sock_ops(), self.marks(), self.cgroup()] {
            let _ = std::fs::remove_file(path);
        }
        let _ = std::fs::remove_dir(&self.directory);
    }
}

/// Our pins of each cgroup, in `PIN_ROOT`.
fn every_pins() -> Vec<Pins> {
    let Ok(entries) = std::fs::read_dir(PIN_ROOT) else { return Vec::new() };
    let ours =
        entries.flatten().filter(|entry| entry.file_name().to_str().is_some_and(|name| name.parse::<u64>().is_ok()));
    ours.map(|entry| Pins { directory: entry.path() }).collect()
}

/// `path` as `fs::canonicalize` gives it, also once the directory is gone: from its parent when
/// that is still there.
fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok().or_else(|| {
        let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let parent = std::fs::canonicalize(parent).or_else(|_| std::path::absolute(parent)).ok()?;
        Some(parent.join(path.file_name()?))
    })
}

/// What `prune_released` removed: one line each, and the cgroup directories their pins recorded.
struct Pruned {
    said: String,
    cgroups: Vec<PathBuf>,
}

/// Removes our pins of every cgroup the kernel has let go of (see `Pins::released`), so that
/// removed cgroups do not keep our programs forever. Under the lock.
fn prune_released(_lock: &Lock) -> Pruned {
    let mut pruned = Pruned { said: String::new(), cgroups: Vec::new() };
    for pins in every_pins().into_iter().filter(Pins::released) {
        pruned.cgroups.extend(pins.recorded_cgroup());
        pins.remove();
        let id = pins.directory.file_name().unwrap_or_default().to_string_lossy();
        pruned.said += &format!("removed {}: cgroup ID {id} no longer exists\n", pins.directory.display());
    }
    pruned
}

/// The line for `what` having failed with `error`; a refusal for want of rights names the
/// capabilities `--cgroup` needs.
fn failure(what: &str, error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::EPERM) => format!("{what}: permission denied (needs CAP_BPF and CAP_NET_ADMIN)"),
        _ => format!("{what}: {}", without_error_number(error)),
    }
}

/// Held while ours are attached, replaced or detached, so that two commands run at once for the
/// same cgroup cannot both attach. The lock is on `PIN_ROOT` itself, which is removed when the
/// holder leaves it empty.
struct Lock(#[allow(dead_code)] std::fs::File);

fn lock() -> Result<Lock, String> {
    let cannot = |error: io::Error| format!("cannot lock {PIN_ROOT}: {}", without_error_number(&error));
    loop {
        std::fs::create_dir_all(PIN_ROOT).map_err(cannot)?;
        let directory = std::fs::File::open(PIN_ROOT).map_err(cannot)?;
        // SAFETY: flock on a descriptor we own; the lock goes with the descriptor.
        if unsafe { libc::flock(directory.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(cannot(io::Error::last_os_error()));
        }
        // The holder before may have removed the directory locked; then lock the one there now.
        let locked = directory.metadata().map_err(cannot)?;
        if std::fs::metadata(PIN_ROOT).is_ok_and(|now| (now.dev(), now.ino()) == (locked.dev(), locked.ino())) {
            return Ok(Lock(directory));
        }
    }
}

impl Drop for Lock {
    /// Removes `PIN_ROOT` if nothing of ours is left in it, before the lock is let go of.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(PIN_ROOT);
    }
}

/// Our pin directories of removed cgroups whose links still hold them: the cgroup lingers, dying,
/// while sockets made in it live, and they keep running ours. One line each.
fn held_by_removed_cgroups() -> String {
    let Some(mount) = checks::cgroup2_mount() else {
        return String::new();
    };
    let mut held = String::new();
    for pins in every_pins() {
        let Ok(link) = bpf::pinned(&pins.sock_ops()) else { continue };
        let Ok(info) = bpf::link_info(link.as_fd()) else { continue };
        if info.cgroup_id != 0 && !checks::cgroup_exists(&mount, info.cgroup_id) {
            held += &format!(
                "removed cgroup ID {}: ours kept at {} while sockets made in it live\n",
                info.cgroup_id,
                pins.directory.display()
            );
        }
    }
    held
}

/// Writes `text` now, before the command's report; a closed stdout is not an error here.
fn say(text: &str) {
    let _ = streams::write_stdout(text);
}

/// Capabilities and the BPF filesystem, then the lock, under which the pins of removed cgroups
/// are pruned (said on stdout, so also when a directory given is gone).
fn prepare() -> Result<(Lock, Pruned), String> {
    let missing = checks::missing_capabilities();
    if !missing.is_empty() {
        return Err(format!("--cgroup needs CAP_BPF and CAP_NET_ADMIN; this process lacks {}", missing.join(" and ")));
    }
    if checks::mount_bpf_filesystem_if_missing()? {
        // Each mount is a file system of its own, gone with the last mount namespace that has it,
        // and with it our pins and so our links: in a container, as soon as it ends.
        stderr_line!(
            "keepalive: mounted a BPF filesystem at {BPF_FS}, where there was none: what is pinned in it, ours \
             included, stays attached only as long as this mount namespace (in a container, mount the host's \
             {BPF_FS} there)"
        );
    }
    let lock = lock()?;
    let pruned = prune_released(&lock);
    say(&pruned.said);
    Ok((lock, pruned))
}

/// Our link pinned at `path` for this cgroup, if there is one. A pin whose link no longer holds
/// the cgroup (the cgroup was removed, and another got its ID) is removed.
fn existing_link(path: &Path, cgroup: &Cgroup) -> Result<Option<OwnedFd>, String> {
    let link = match bpf::pinned(path) {
        Ok(link) => link,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(failure(&format!("cannot open {}", path.display()), &error)),
    };
    match bpf::link_info(link.as_fd()) {
        Ok(info) if info.cgroup_id == cgroup.id => Ok(Some(link)),
        _ => {
            let _ = std::fs::remove_file(path);
            Ok(None)
        }
    }
}

fn load(hook: Hook, name: &str, instructions: &[program::Instruction]) -> Result<OwnedFd, String> {
    bpf::load_program(hook, name, instructions).map_err(|refusal| match refusal.verifier {
        Some(line) => {
            format!("the kernel refused the {name} program ({}): {line}", without_error_number(&refusal.error))
        }
        None => failure(&format!("the kernel refused the {name} program"), &refusal.error),
    })
}

/// The programs for `options`, loaded and checked by the verifier, not attached yet.
struct Loaded {
    sock_ops: OwnedFd,
    /// Under `--force`: the `cgroup/setsockopt` program and the marks map both programs use.
    force: Option<(OwnedFd, OwnedFd)>,
}

fn load_programs(effective: &Effective, pins: &Pins) -> Result<Loaded, String> {
    let settings = &effective.settings;
    let marks = if settings.force {
        let marks = bpf::pinned(&pins.marks()).or_else(|_| bpf::marks_map());
        Some(marks.map_err(|error| failure("cannot create the map of configured sockets", &error))?)
    } else {
        None
    };
    let marks_fd = marks.as_ref().map(AsRawFd::as_raw_fd);
    let sock_ops = load(Hook::SockOps, "keepalive", &program::sock_ops(settings, marks_fd))?;
    // What `--status` shows of the settings: one `NAME=value` a line.
    let text = effective.read.iter().map(|line| format!("{line}\n")).collect::<String>();
    let text = bpf::settings_map(&text).map_err(|error| failure("cannot store the settings", &error))?;
    bpf::bind_map(sock_ops.as_fd(), text.as_fd()).map_err(|error| failure("cannot store the settings", &error))?;
    let force = match marks {
        Some(marks) => {
            let setsockopt =
                load(Hook::SetSockOpt, "keepalive_force", &program::setsockopt(settings, marks.as_raw_fd()))?;
            Some((setsockopt, marks))
        }
        None => None,
    };
    Ok(Loaded { sock_ops, force })
}

/// Attaches ours to `directory`, or replaces what is there with the new settings.
pub fn attach(directory: &Path, effective: &Effective) -> Result<String, String> {
    let (_lock, _) = prepare()?;
    let cgroup = checks::open_cgroup(directory)?;
    let pins = Pins::of(&cgroup);
    let loaded = load_programs(effective, &pins)?;
    std::fs::create_dir_all(&pins.directory)
        .map_err(|error| format!("cannot create {}: {}", pins.directory.display(), without_error_number(&error)))?;
    let result = attach_loaded(&cgroup, &pins, loaded);
    match result {
        Ok(_) => pins.record_cgroup(directory),
        // Only removed when empty, that is when nothing of ours was attached before.
        Err(_) => {
            let _ = std::fs::remove_dir(&pins.directory);
        }
    }
    result
}

fn attach_loaded(cgroup: &Cgroup, pins: &Pins, loaded: Loaded) -> Result<String, String> {
    let old_sock_ops = existing_link(&pins.sock_ops(), cgroup)?;
    let old_setsockopt = existing_link(&pins.setsockopt(), cgroup)?;
    let replacing = old_sock_ops.is_some();
    // Links made here are detached when their descriptor closes, until pinned: an error before
    // the pins leaves nothing new attached.
    let mut new_links = Vec::new();
    let attach_failed = |error: io::Error| failure(&format!("cannot attach to {}", cgroup.path.display()), &error);
    match (&loaded.force, &old_setsockopt) {
        (Some((program, _)), Some(link)) => bpf::update_link(link.as_fd(), program.as_fd()).map_err(attach_failed)?,
        (Some((program, _)), None) => new_links.push((
            bpf::create_link(program.as_fd(), cgroup.directory.as_fd(), Hook::SetSockOpt).map_err(attach_failed)?,
            pins.setsockopt(),
        )),
        (None, _) => {}
    }
    match &old_sock_ops {
        Some(link) => bpf::update_link(link.as_fd(), loaded.sock_ops.as_fd()).map_err(attach_failed)?,
        None => new_links.push((
            bpf::create_link(loaded.sock_ops.as_fd(), cgroup.directory.as_fd(), Hook::SockOps)
                .map_err(attach_failed)?,
            pins.sock_ops(),
        )),
    }
    let mut pinned = Vec::new();
    for (link, path) in &new_links {
        if let Err(error) = bpf::pin(link.as_fd(), path) {
            for path in pinned {
                let _ = std::fs::remove_file(path);
            }
            return Err(failure(&format!("cannot pin {}", path.display()), &error));
        }
        pinned.push(path.clone());
    }
    match (&loaded.force, old_setsockopt) {
        (Some((_, marks)), _) => {
            // Already pinned when force mode was on before; kept, so its sockets stay known.
            let _ = bpf::pin(marks.as_fd(), &pins.marks());
        }
        (None, Some(link)) => {
            let _ = bpf::detach_link(link.as_fd());
            let _ = std::fs::remove_file(pins.setsockopt());
            let _ = std::fs::remove_file(pins.marks());
        }
        (None, None) => {}
    }
    let verb = if replacing { "replaced on" } else { "attached to" };
    Ok(format!("keepalive {verb} {}, pinned at {}\n", cgroup.path.display(), pins.directory.display()))
}

/// Removes ours from `directory`; other programs there stay.
pub fn detach(directory: &Path) -> Result<String, String> {
    let (_lock, pruned) = prepare()?;
    if std::fs::metadata(directory).is_err_and(|error| error.kind() == io::ErrorKind::NotFound) {
        return detach_removed(directory, &pruned);
    }
    let cgroup = checks::open_cgroup(directory)?;
    let pins = Pins::of(&cgroup);
    let mut found = false;
    for path in [pins.setsockopt(), pins.sock_ops()] {
        if let Some(link) = existing_link(&path, &cgroup)? {
            bpf::detach_link(link.as_fd()).map_err(|error| failure("cannot detach", &error))?;
            found = true;
        }
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_file(pins.marks());
    let _ = std::fs::remove_file(pins.cgroup());
    let _ = std::fs::remove_dir(&pins.directory);
    Ok(if found {
        format!("keepalive detached from {}\n", directory.display())
    } else {
        format!("keepalive was not attached to {}\n", directory.display())
    })
}

/// `--detach` of a cgroup removed while ours was attached to it (a unit stopped, a pod deleted):
/// its pins, found by the directory they recorded, are removed, and with them ours from the
/// sockets made in it that still live; or `pruned` had removed them already. Nothing can be
/// attached to a directory that does not exist: nothing of ours is left for it either way. Pins
/// that recorded no directory (made by an older command) are shown when removed cgroups hold them.
fn detach_removed(directory: &Path, pruned: &Pruned) -> Result<String, String> {
    let path = canonical(directory);
    let mut found = path.as_ref().is_some_and(|path| pruned.cgroups.contains(path));
    for pins in every_pins() {
        if path.is_some() && pins.recorded_cgroup() == path {
            pins.detach_and_remove()?;
            found = true;
        }
    }
    Ok(if found {
        format!("keepalive detached from {}, a removed cgroup\n", directory.display())
    } else {
        format!("keepalive was not attached to {}, which does not exist\n", directory.display())
            + &held_by_removed_cgroups()
    })
}

/// What is attached to `directory`: ours with its settings, and how many programs of others.
/// First, with the rights to, prunes the pins of removed cgroups as `--cgroup` does: `--status` of
/// any cgroup (`/sys/fs/cgroup`) is how to clean up when every cgroup we were attached to is gone.
pub fn status(directory: &Path) -> Result<String, String> {
    if checks::missing_capabilities().is_empty() && Path::new(PIN_ROOT).is_dir() {
        say(&prune_released(&lock()?).said);
    }
    let cgroup = checks::open_cgroup(directory)?;
    let pins = Pins::of(&cgroup);
    let attached = bpf::attached_programs(cgroup.directory.as_fd(), Hook::SockOps)
        .map_err(|error| failure("cannot list the cgroup's programs", &error))?;
    let mut out = format!("cgroup {} (ID {}): ", directory.display(), cgroup.id);
    let ours = existing_link(&pins.sock_ops(), &cgroup)?;
    let Some(link) = ours else {
        out += "keepalive not attached\n";
        out += &format!("other sock_ops programs: {}\n", attached.len());
        out += &held_by_removed_cgroups();
        return Ok(out);
    };
    let info = bpf::link_info(link.as_fd()).map_err(|error| failure("cannot read our link", &error))?;
    out += &format!("keepalive attached, pinned at {}\n", pins.directory.display());
    out += &format!("sock_ops program: {}\n", info.program_id);
    match existing_link(&pins.setsockopt(), &cgroup)? {
        Some(force) => {
            let force = bpf::link_info(force.as_fd()).map_err(|error| failure("cannot read our link", &error))?;
            out += &format!("force: on, cgroup/setsockopt program {}\n", force.program_id);
        }
        None => out += "force: off\n",
    }
    let settings = program_settings(info.program_id).map_err(|error| failure("cannot read the settings", &error))?;
    if settings.is_empty() {
        out += "settings: none (keepalive on, the system's timers)\n";
    } else {
        out += "settings:\n";
        for line in settings.lines() {
            out += &format!("  {line}\n");
        }
    }
    let others = attached.iter().filter(|&&id| id != info.program_id).count();
    out += &format!("other sock_ops programs: {others}\n");
    out += &held_by_removed_cgroups();
    Ok(out)
}

/// The settings text bound to the program with this ID.
fn program_settings(program_id: u32) -> io::Result<String> {
    let program = bpf::program_by_id(program_id)?;
    for map_id in bpf::program_maps(program.as_fd())? {
        let map = bpf::map_by_id(map_id)?;
        if bpf::is_array(map.as_fd())? {
            return bpf::read_settings(map.as_fd());
        }
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_the_verifier_refuses_is_named_with_the_log_s_last_line() {
        if !checks::missing_capabilities().is_empty() {
            eprintln!("SKIPPED: this process lacks CAP_BPF or CAP_NET_ADMIN");
            return;
        }
        // `exit` with R0 never set.
        let unset_return = [program::Instruction { code: 0x95, registers: 0, offset: 0, immediate: 0 }];
        let refusal = load(Hook::SockOps, "keepalive", &unset_return).map(drop).unwrap_err();
        assert_eq!(refusal, "the kernel refused the keepalive program (Permission denied): R0 !read_ok");
    }

    #[test]
    fn the_last_line_of_a_log_skips_the_statistics() {
        let log = "0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0\n\n";
        assert_eq!(bpf::last_line(log).as_deref(), Some("R0 !read_ok"));
        assert_eq!(bpf::last_line("\n"), None);
    }
}
