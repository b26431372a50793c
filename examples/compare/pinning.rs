//! Where the capacity searches run: each server on one CPU and the load
//! generator on another (`taskset -c`), so that they do not take each
//! other's core and a server's capacity is one core's; or, with
//! `--no-pin` or on a machine with a single CPU, wherever the scheduler
//! puts them. The CPUs are the ones this program may use
//! (`Cpus_allowed_list`), so a run inside a cpuset pins inside it.

/// Where the servers and the load generator run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pinning {
    /// Each on a CPU of its own.
    Pinned { server: u32, generator: u32 },
    /// Wherever the scheduler puts them, and why.
    Unpinned(String),
}

impl Pinning {
    /// Pinned, unless `--no-pin` or fewer than two CPUs are allowed to
    /// this process: the server on the last allowed CPU, the load
    /// generator on the first.
    pub fn choose(no_pin: bool) -> Pinning {
        if no_pin {
            return Pinning::Unpinned("--no-pin".into());
        }
        let allowed = std::fs::read_to_string("/proc/self/status")
            .map_err(|e| format!("cannot read /proc/self/status: {e}"))
            .and_then(|status| allowed_cpus(&status));
        match allowed.as_deref() {
            Ok([generator, .., server]) => Pinning::Pinned {
                server: *server,
                generator: *generator,
            },
            Ok(cpus) => Pinning::Unpinned(format!("only {} CPU allowed", cpus.len())),
            Err(e) => Pinning::Unpinned(e.clone()),
        }
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        match self {
            Pinning::Pinned { server, generator } => format!(
                "Capacity searches pinned (taskset -c): each server on CPU {server}, \
                 echo-loadgen on CPU {generator}."
            ),
            Pinning::Unpinned(why) => {
                format!("Capacity searches not pinned ({why}): the scheduler places them.")
            }
        }
    }

    pub fn server(&self) -> Option<u32> {
        match self {
            Pinning::Pinned { server, .. } => Some(*server),
            Pinning::Unpinned(_) => None,
        }
    }

    pub fn generator(&self) -> Option<u32> {
        match self {
            Pinning::Pinned { generator, .. } => Some(*generator),
            Pinning::Unpinned(_) => None,
        }
    }
}

/// The CPUs of `Cpus_allowed_list` in a `/proc/PID/status` text (`0-1,4`:
/// 0, 1 and 4).
fn allowed_cpus(status: &str) -> Result<Vec<u32>, String> {
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .ok_or("no Cpus_allowed_list in /proc/self/status")?;
    let bad = || format!("cannot read the CPU list '{}'", list.trim());
    let mut cpus = Vec::new();
    for range in list.trim().split(',').filter(|r| !r.is_empty()) {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let first: u32 = first.parse().map_err(|_| bad())?;
        let last: u32 = last.parse().map_err(|_| bad())?;
        cpus.extend(first..=last);
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpus_a_process_may_run_on() {
        let status = "Name:\tcompare\nCpus_allowed:\t13\nCpus_allowed_list:\t0-1,4\n";
        assert_eq!(allowed_cpus(status), Ok(vec![0, 1, 4]));
        assert_eq!(allowed_cpus("Cpus_allowed_list:\t3\n"), Ok(vec![3]));
        assert!(allowed_cpus("Cpus_allowed_list:\tx-1\n").is_err());
        assert!(allowed_cpus("Name:\tcompare\n").is_err());
    }
}
