//! A process's CPU time, memory and open descriptors, read from `/proc`.
//!
//! The load tools report what a load cost the server (RSS per idle
//! connection, CPU per echo), the comparison measures every server the
//! same way, and the tests check that the server stays within bounds: all
//! of them read these few files, so they read them here, once. Linux only.

use std::io;
use std::path::Path;
use std::time::Duration;

/// What the kernel has charged a process so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Resident memory (`VmRSS` of `/proc/PID/status`).
    pub rss_bytes: u64,
    /// User plus system CPU time of every thread, from `utime` and `stime`
    /// of `/proc/PID/stat`: clock ticks, so 10 ms steps.
    pub cpu: Duration,
}

/// Reads [`Usage`] of `pid`.
pub fn usage(pid: u32) -> io::Result<Usage> {
    Ok(Usage {
        rss_bytes: rss_bytes(pid)?,
        cpu: cpu_time(pid)?,
    })
}

/// Resident memory of `pid`, from `VmRSS` in `/proc/PID/status`.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = read(&path)?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| malformed(&path, "no VmRSS line"))
}

/// User plus system CPU time of `pid`, all threads, from `utime` and
/// `stime` in `/proc/PID/stat`. Counted in clock ticks (10 ms on Linux),
/// too coarse for a window of a second: see [`run_time`].
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = read(&path)?;
    let fields = stat_fields(&stat);
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(STAT_UTIME), ticks(STAT_STIME)) else {
        return Err(malformed(&path, "no utime and stime"));
    };
    let per_second = clock_ticks_per_second();
    Ok(Duration::from_nanos(
        (utime + stime).saturating_mul(1_000_000_000) / per_second,
    ))
}

/// CPU time of `pid`, all threads, from the scheduler's nanosecond run
/// time in `/proc/PID/task/*/schedstat`. The same quantity as
/// [`cpu_time`] (the kernel splits run time into `utime` and `stime`), at
/// nanosecond resolution. Threads that have exited are not counted.
pub fn run_time(pid: u32) -> io::Result<Duration> {
    let dir = format!("/proc/{pid}/task");
    let mut nanos = 0u64;
    for task in std::fs::read_dir(&dir).map_err(|e| context(&dir, e))? {
        let path = task.map_err(|e| context(&dir, e))?.path().join("schedstat");
        let path = path.to_string_lossy();
        let text = match read(&path) {
            Ok(text) => text,
            // The thread exited since the directory was listed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let run: u64 = text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| malformed(&path, "no run time"))?;
        nanos += run;
    }
    Ok(Duration::from_nanos(nanos))
}

/// Number of open file descriptors of `pid` (entries of `/proc/PID/fd`).
pub fn open_fds(pid: u32) -> io::Result<usize> {
    let dir = format!("/proc/{pid}/fd");
    Ok(std::fs::read_dir(&dir)
        .map_err(|e| context(&dir, e))?
        .count())
}

/// A child process of `parent`, if it has one (the first found).
pub fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: u32 = stat_fields(&stat).get(STAT_PPID)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// Indexes into [`stat_fields`]: the fields after the command name, so
/// the state is 0 (field 3 of proc(5)).
const STAT_PPID: usize = 1;
const STAT_UTIME: usize = 11;
const STAT_STIME: usize = 12;

/// The fields of `/proc/PID/stat` after the command name, which is in
/// parentheses and may itself hold spaces and parentheses.
fn stat_fields(stat: &str) -> Vec<&str> {
    let after_name = stat.rfind(')').map_or(stat, |i| &stat[i + 1..]);
    after_name.split_whitespace().collect()
}

/// `USER_HZ`, the unit of `utime` and `stime` (100 on every Linux port).
fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(Path::new(path)).map_err(|e| context(path, e))
}

fn context(path: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot read {path}: {e}"))
}

fn malformed(path: &str, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_skip_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 7 42 42 0 -1 0 0 0 0 0 150 25 0 0 20 0 1";
        let fields = stat_fields(stat);
        assert_eq!(fields[0], "S");
        assert_eq!(fields[STAT_PPID], "7");
        assert_eq!((fields[STAT_UTIME], fields[STAT_STIME]), ("150", "25"));
    }

    #[test]
    fn this_process_has_memory_cpu_and_descriptors() {
        let me = std::process::id();
        let usage = usage(me).unwrap();
        assert!(usage.rss_bytes > 0);
        assert!(run_time(me).unwrap() > Duration::ZERO);
        assert!(open_fds(me).unwrap() >= 3);
        let missing = rss_bytes(u32::MAX).unwrap_err();
        assert!(missing.to_string().contains("/proc/"), "{missing}");
    }
}
