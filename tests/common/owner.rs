//! Who made a network namespace or cgroup that a test left behind. Their names carry the maker's
//! PID and start time: a PID alone is not enough, since in a container whose PID numbering starts
//! again a later run gets the PID of a killed one, whose leftovers would then collide with its
//! own names ("File exists") and never look abandoned.

/// This test process's mark, `PIDsSTART`.
pub fn mark() -> String {
    let start = start_time("self").expect("this process's /proc/self/stat");
    format!("{}s{start}", std::process::id())
}

/// Whether the process that made `mark` has ended: no process has its PID, or the one that has
/// it started at another time. A mark without a start time (`PID`, as names had before) only
/// asks for the PID. Not a mark: `false`.
pub fn gone(mark: &str) -> bool {
    let (pid, start) = mark.split_once('s').unwrap_or((mark, ""));
    if pid.parse::<u32>().is_err() || start.parse::<u64>().is_err() && !start.is_empty() {
        return false;
    }
    match start_time(pid) {
        None => true,
        Some(now) => !start.is_empty() && now != start,
    }
}

/// When process `pid` (or `self`) started, in clock ticks since boot (field 22 of /proc/PID/stat).
fn start_time(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(19).map(str::to_owned)
}
