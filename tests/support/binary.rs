//! The `echo-reactor` binary as a child process: started with its log
//! captured line by line, waited on with bounds, signalled, measured
//! through `/proc` (by `echo_reactor::tools::process`), killed when
//! dropped; and any command run to its end within [`PATIENCE`].

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use echo_reactor::tools::process;

use super::wait::PATIENCE;

/// The path cargo built the binary at.
pub const BINARY: &str = env!("CARGO_BIN_EXE_echo-reactor");

/// The `echo-reactor` binary, started with its stderr captured. Killed when
/// dropped.
pub struct Binary {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// Each line as it arrives, with when it was read, for the waits.
    lines: mpsc::Receiver<(Instant, String)>,
    /// Every address it logged as `listening on ADDR` (TCP; the
    /// `listening on ADDR (udp)` lines of `--udp` are only in the log).
    pub addrs: Vec<SocketAddr>,
}

impl Binary {
    /// Starts the binary with `args` (include `--listen 127.0.0.1:0`) and
    /// waits until it logged each listening address.
    pub fn start(args: &[&str]) -> Binary {
        Binary::start_command(Command::new(BINARY).args(args).env("RUST_LOG", "debug"))
    }

    /// Like [`Binary::start`], with `RUST_LOG` at `level` instead of `debug`.
    pub fn start_logging(level: &str, args: &[&str]) -> Binary {
        Binary::start_command(Command::new(BINARY).args(args).env("RUST_LOG", level))
    }

    /// Starts the binary through `sh -c`, after `shell_prefix` (for example
    /// `ulimit -n 64;`), so a limit applies to the server alone.
    pub fn start_in_shell(shell_prefix: &str, args: &[&str]) -> Binary {
        let script = format!("{shell_prefix} exec \"$0\" \"$@\"");
        Binary::start_command(
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .arg(BINARY)
                .args(args)
                .env("RUST_LOG", "debug"),
        )
    }

    fn start_command(command: &mut Command) -> Binary {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the echo-reactor binary");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (sender, lines) = mpsc::channel();
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let arrived = Instant::now();
                sink.lock().unwrap().push(line.clone());
                let _ = sender.send((arrived, line));
            }
        });
        let mut binary = Binary {
            child,
            log,
            lines,
            addrs: Vec::new(),
        };
        // Every listening address is logged before the `serving:` line
        // that starts the loop (at `info`, the quietest level the tests
        // start it with).
        let mut addrs = Vec::new();
        binary.wait_for_log_where("the `serving:` line", |line| {
            if line.contains("listening on ") && !line.ends_with(" (udp)") {
                addrs.push(parse_listening(line));
            }
            line.contains("serving:")
        });
        assert!(
            !addrs.is_empty(),
            "no listening address logged before `serving:`; log:\n{}",
            binary.log_text()
        );
        binary.addrs = addrs;
        binary
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The address of the metrics endpoint (`--metrics`), from the
    /// `metrics on http://ADDR/metrics` line; waits for that line.
    pub fn metrics_addr(&self) -> SocketAddr {
        const LOGGED: &str = "metrics on http://";
        self.wait_until_logged(LOGGED);
        let log = self.log_text();
        let line = log.lines().find(|line| line.contains(LOGGED)).unwrap();
        line.split(LOGGED)
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no metrics address in {line:?}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a log line containing `needle` that was not consumed by an
    /// earlier wait, and returns it.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let what = format!("a log line with {needle:?}");
        self.wait_for_log_where(&what, |line| line.contains(needle))
            .1
    }

    /// Waits for a log line for which `wanted` holds, not consumed by an
    /// earlier wait, and returns it with the moment it was read. Panics
    /// after [`PATIENCE`], naming `what` it waited for.
    pub fn wait_for_log_where(
        &mut self,
        what: &str,
        mut wanted: impl FnMut(&str) -> bool,
    ) -> (Instant, String) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if wanted(&line) => return (at, line),
                Ok(_) => {}
                Err(_) => panic!(
                    "waited {PATIENCE:?} for {what} in vain; log so far:\n{}",
                    self.log_text()
                ),
            }
        }
    }

    /// Waits until the log so far holds a line containing `needle`, whether
    /// or not an earlier [`wait_for_log`](Binary::wait_for_log) consumed it.
    pub fn wait_until_logged(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.log_text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?} within {PATIENCE:?}; log so far:\n{}",
                self.log_text()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// How many lines logged so far contain `needle`.
    pub fn count_log_lines(&self, needle: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.iter().filter(|line| line.contains(needle)).count()
    }

    /// Asks for the counters (SIGUSR1) and returns the line logged with them
    /// (not a `--stats-interval` line, which carries rates).
    pub fn stats_line(&mut self) -> String {
        self.signal("USR1");
        self.wait_for_log_where("the counters line SIGUSR1 asks for", |line| {
            line.contains("connections:") && !line.contains("connections/s")
        })
        .1
    }

    /// Sends a signal by name (`TERM`, `INT`, `USR1`).
    pub fn signal(&self, name: &str) {
        let signal = match name {
            "TERM" => libc::SIGTERM,
            "INT" => libc::SIGINT,
            "USR1" => libc::SIGUSR1,
            other => panic!("no signal named {other:?} in the tests"),
        };
        let pid = libc::pid_t::try_from(self.pid()).expect("a pid fits pid_t");
        // SAFETY: kill(2) only reads its two integer arguments; the pid is
        // our own child's, which `Drop` reaps only after the test is done.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            sent,
            0,
            "kill -{name} {pid}: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Whether the process is still running (has not exited).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("check the binary").is_none()
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the binary") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "binary did not exit within {PATIENCE:?}; log:\n{}",
                self.log_text()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Open file descriptors of the server process.
    pub fn fd_count(&self) -> usize {
        process::open_fds(self.pid()).expect("count the server's descriptors")
    }

    /// User + system CPU time the server has used.
    pub fn cpu_time(&self) -> Duration {
        process::cpu_time(self.pid()).expect("read the server's CPU time")
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        process::rss_bytes(self.pid()).expect("read the server's memory")
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_listening(line: &str) -> SocketAddr {
    let text = line.rsplit("listening on ").next().unwrap().trim();
    // Listeners other than plain echo say their kind after the address:
    // `listening on ADDR (tls)`, `(whoami)`, `(whoami, tls)`, `(ws)`, ...
    let text = match text.split_once(" (") {
        Some((addr, _kind)) => addr,
        None => text,
    };
    text.parse()
        .unwrap_or_else(|_| panic!("cannot parse an address in {line:?}"))
}

/// The number written just before `label` in a logged counters line, as in
/// `logged_count("connections: 3 active, ...", "active") == 3`.
pub fn logged_count(line: &str, label: &str) -> u64 {
    for (at, _) in line.match_indices(label) {
        let after = line[at + label.len()..].chars().next();
        if after.is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let Some(before) = line[..at].strip_suffix(' ') else {
            continue;
        };
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            return before[before.len() - digits..].parse().unwrap();
        }
    }
    panic!("no count for {label:?} in {line:?}")
}

/// The number written just after `label` in a logged counters line, as in
/// `logged_value("backpressure pauses: 20, ...", "backpressure pauses:") == 20`.
pub fn logged_value(line: &str, label: &str) -> u64 {
    let (_, after) = line
        .split_once(label)
        .unwrap_or_else(|| panic!("no {label:?} in {line:?}"));
    let after = after.trim_start();
    let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    after[..digits]
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {line:?}"))
}

/// Runs `command` to its end with stdin closed and stdout and stderr
/// captured; kills it and panics if it runs longer than [`PATIENCE`].
pub fn run_within_patience(command: &mut Command) -> Output {
    run_within(command, PATIENCE)
}

/// Runs `command` to its end with stdin closed and stdout and stderr
/// captured; kills it and panics if it runs longer than `limit` (for a
/// command known to take longer than [`PATIENCE`], such as a build).
pub fn run_within(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Reads `pipe` to its end on a new thread, so a full pipe cannot block the
/// process writing into it.
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}
