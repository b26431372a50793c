//! The open-files limit: raise it, read it, and size the server by it.
//!
//! Every connection is a file descriptor, so `RLIMIT_NOFILE` is the real
//! connection limit. Its soft value is often 1024 while the hard value allows
//! far more; like redis (`adjustOpenFilesLimit`), the binary raises the soft
//! limit to the hard one at start-up and says what it got.

use std::io;

/// File descriptors kept back from connections: stdio, the poller, the waker,
/// the signal pipe, listening sockets, and headroom for log files or a
/// debugger.
pub const RESERVED_FDS: u64 = 32;

/// The current soft and hard `RLIMIT_NOFILE`.
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct we pass, which lives for
    // the whole call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // rlim_t is u64 on Linux.
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns
/// `(old soft limit, new soft limit)`. Does nothing when they are equal.
pub fn raise_nofile_limit() -> io::Result<(u64, u64)> {
    let (soft, hard) = nofile_limit()?;
    if soft >= hard {
        return Ok((soft, soft));
    }
    let limit = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct we pass, which lives for the
    // whole call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((soft, hard))
}

/// How many connections fit in `nofile` descriptors once [`RESERVED_FDS`]
/// are kept back (at least one).
pub fn connections_for(nofile: u64) -> usize {
    let usable = nofile.saturating_sub(RESERVED_FDS).max(1);
    usize::try_from(usable).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_descriptors_back_but_always_allows_one_connection() {
        assert_eq!(connections_for(20_000), 20_000 - RESERVED_FDS as usize);
        assert_eq!(connections_for(64), 32);
        assert_eq!(connections_for(8), 1);
    }

    #[test]
    fn reads_a_soft_limit_no_greater_than_the_hard_one() {
        let (soft, hard) = nofile_limit().expect("getrlimit");
        assert!(soft >= 1 && soft <= hard, "soft {soft}, hard {hard}");
    }
}
