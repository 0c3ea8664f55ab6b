//! Who holds a connection's lease. The holder's id is tagged with where its process runs
//! (on Linux: the boot, the pid namespace, the pid and the pid's start time), so that a
//! process on the same machine can tell that the holder has died — killed, or crashed — and
//! need not wait for its lease to run out before resuming what it left. A holder that may
//! still live (this process, or one this process cannot see) is waited out.

/// `owner` tagged with this process's place, or `owner` itself where there is none.
pub(crate) fn tagged(owner: &str) -> String {
    match here() {
        Some(place) => format!("{owner}@{place}"),
        None => owner.to_owned(),
    }
}

/// Whether the process that tagged `holder` is gone: it ran on this boot, in this pid
/// namespace, and its pid is now free or another process's. `false` when unsure.
pub(crate) fn holder_gone(holder: &str) -> bool {
    let (Some((_, place)), Some(mine)) = (holder.rsplit_once('@'), here()) else {
        return false;
    };
    let theirs: Vec<&str> = place.split('/').collect();
    let ours: Vec<&str> = mine.split('/').collect();
    let [boot, ns, pid, start] = theirs[..] else {
        return false;
    };
    if [boot, ns] != ours[..2] {
        return false;
    }
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    // Gone only on evidence: no such process, or another one under its pid. A process whose
    // `/proc` entry cannot be read (another user's, under `hidepid`) may live: waited out.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(stat) => parse_start(&stat).is_some_and(|s| s != start),
    }
}

/// This process's place: `boot/pid-namespace/pid/start` — if `/proc` is its own.
fn here() -> Option<String> {
    let pid = std::process::id();
    let own = std::fs::read_link("/proc/self").ok()?;
    if own.to_str()? != pid.to_string() {
        return None;
    }
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let ns = ns.to_str()?;
    let start = start_time(pid)?;
    let boot = boot.trim();
    (!boot.contains(['/', '@']) && !ns.contains(['/', '@']))
        .then(|| format!("{boot}/{ns}/{pid}/{start}"))
}

/// When process `pid` started (clock ticks since boot), if it exists.
fn start_time(pid: u32) -> Option<u64> {
    parse_start(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The start time in a `/proc/<pid>/stat` line.
fn parse_start(stat: &str) -> Option<u64> {
    // The fields after the command name (which may hold anything but ends at the last ')')
    // start with the third; the start time is the 22nd.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{here, holder_gone, tagged};

    #[test]
    fn a_live_holder_is_never_gone_and_a_dead_one_on_this_machine_is() {
        // Linux, where the tests run, gives a process a /proc of its own.
        let mine = here().expect("this process's place");
        assert!(!holder_gone(&tagged("lease_a")), "this process lives");
        assert!(!holder_gone("lease_a"), "an untagged holder is waited out");
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("reaped");
        let parts: Vec<&str> = mine.split('/').collect();
        let dead = format!("lease_b@{}/{}/{pid}/1", parts[0], parts[1]);
        assert!(holder_gone(&dead), "{dead}");
        let elsewhere = format!("lease_c@other-boot/{}/{pid}/1", parts[1]);
        assert!(
            !holder_gone(&elsewhere),
            "a holder on another boot is waited out"
        );
        let own = format!(
            "lease_d@{}/{}/{}/{}",
            parts[0], parts[1], parts[2], parts[3]
        );
        assert!(!holder_gone(&own));
    }
}
