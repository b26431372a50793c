//! Child processes that cannot outlive the comparison.
//!
//! Every server and load tool the comparison starts is killed if the
//! comparison fails, panics or is itself killed, and every wait for one is
//! bounded in time. The few system calls that guarantee it live here, so
//! the servers and the tools share them.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitCode, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// Makes the kernel kill the child if this program dies without cleaning
/// up (SIGKILL, say), so no child is left behind even then.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec and makes
    // one system call, which is async-signal-safe; it allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Hidden first argument: `compare --exec-dying-with-parent PROGRAM ARGS...`
/// asks for SIGKILL when its parent dies, then becomes PROGRAM. A program
/// run by another (strace forks the server) does not inherit the
/// parent-death signal, so this program, run as a shim, sets it again.
pub const EXEC_SHIM: &str = "--exec-dying-with-parent";

/// The shim's whole life: returns only if PROGRAM cannot be run.
pub fn exec_shim(program_and_args: &[OsString]) -> ExitCode {
    let Some((program, args)) = program_and_args.split_first() else {
        return ExitCode::from(2);
    };
    // SAFETY: prctl with these arguments only sets a flag on this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let e = Command::new(program).args(args).exec();
    eprintln!("compare: cannot run {}: {e}", Path::new(program).display());
    ExitCode::from(127)
}

/// Sends `signal` to `pid`, which must be a child of ours (or of strace's).
pub fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory effects; `pid` is a child of ours (or
        // strace's), not yet reaped, so it cannot name another process.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Waits for `child` to exit, until `deadline` at the latest: `Ok(None)`
/// if it is still running then.
pub fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Kills `child` and reaps it; for a child that is not wanted any more.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
