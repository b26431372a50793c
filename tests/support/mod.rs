//! Shared by the integration tests: start the server (as the binary or in
//! this process), connect plain blocking clients, make test data, and read
//! what the kernel says about the server process.
//!
//! Every wait here is bounded, so a broken server fails a test instead of
//! hanging it.

#![allow(dead_code)] // each test file uses its own share of these helpers

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use echo_reactor::{Config, Handle, Server, Stats};

/// Longest any single wait in a test may take before it counts as a failure.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The path cargo built the binary at.
pub const BINARY: &str = env!("CARGO_BIN_EXE_echo-reactor");

// ---------------------------------------------------------------- in process

/// The reactor running on a thread of the test process.
pub struct InProcess {
    pub addr: SocketAddr,
    pub handle: Handle,
    thread: Option<JoinHandle<Stats>>,
}

impl InProcess {
    /// Binds `config` (its listen address replaced by an ephemeral loopback
    /// port unless it already names port 0) and runs it on a new thread.
    pub fn start(mut config: Config) -> InProcess {
        if config.listen.iter().all(|a| a.port() != 0) {
            config.listen = vec!["127.0.0.1:0".parse().unwrap()];
        }
        InProcess::start_as_given(config)
    }

    /// Defaults, on an ephemeral port.
    pub fn start_default() -> InProcess {
        InProcess::start(Config::default())
    }

    pub fn stats(&self) -> Stats {
        self.handle.stats().expect("server answers stats")
    }

    /// Polls the counters until `done` holds; panics after [`PATIENCE`].
    pub fn wait_for_stats(&self, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let stats = self.stats();
            if done(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; stats: {stats:?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the server and returns its final counters.
    pub fn stop(mut self) -> Stats {
        self.handle.stop();
        join_within(self.thread.take().unwrap(), PATIENCE)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.stop();
            self.handle.stop(); // second request: skip the drain
                                // Bounded: a server that never stops fails its test (the thread
                                // is left behind) instead of hanging the whole run.
            let deadline = Instant::now() + PATIENCE;
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                eprintln!("the server thread did not stop within {PATIENCE:?}");
            }
        }
    }
}

fn join_within<T: Send + 'static>(thread: JoinHandle<T>, limit: Duration) -> T {
    let deadline = Instant::now() + limit;
    while !thread.is_finished() {
        assert!(
            Instant::now() < deadline,
            "server thread did not stop within {limit:?}"
        );
        thread::sleep(Duration::from_millis(5));
    }
    thread.join().expect("server thread panicked")
}

// ---------------------------------------------------------------- the binary

/// The `echo-reactor` binary, started with its stderr captured. Killed when
/// dropped.
pub struct Binary {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    lines: mpsc::Receiver<String>,
    /// Every address it logged as `listening on ADDR` (TCP; the
    /// `listening on ADDR (udp)` lines of `--udp` are only in the log).
    pub addrs: Vec<SocketAddr>,
}

impl Binary {
    /// Starts the binary with `args` (include `--listen 127.0.0.1:0`) and
    /// waits until it logged each listening address.
    pub fn start(args: &[&str]) -> Binary {
        Binary::start_command(Command::new(BINARY).args(args))
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
                .args(args),
        )
    }

    fn start_command(command: &mut Command) -> Binary {
        let mut child = command
            .env("RUST_LOG", "debug")
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
                sink.lock().unwrap().push(line.clone());
                let _ = sender.send(line);
            }
        });
        let mut binary = Binary {
            child,
            log,
            lines,
            addrs: Vec::new(),
        };
        let first = binary.wait_for_log("listening on ");
        binary.addrs.push(parse_listening(&first));
        // Further addresses are logged right after the first one.
        while let Ok(line) = binary.lines.recv_timeout(Duration::from_millis(200)) {
            if line.contains("listening on ") && !line.ends_with(" (udp)") {
                binary.addrs.push(parse_listening(&line));
            }
            if line.contains("serving:") {
                break;
            }
        }
        binary
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a log line containing `needle` that was not consumed by an
    /// earlier wait, and returns it.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no log line with {needle:?} within {PATIENCE:?}; log so far:\n{}",
                    self.log_text()
                ),
            }
        }
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Sends a signal by name (`TERM`, `INT`, `USR1`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
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
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("read /proc/PID/fd")
            .count()
    }

    /// User + system CPU time the server has used.
    pub fn cpu_time(&self) -> Duration {
        cpu_time_of(self.pid())
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        rss_bytes_of(self.pid())
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
    text.parse()
        .unwrap_or_else(|_| panic!("cannot parse an address in {line:?}"))
}

/// utime + stime from /proc/PID/stat.
pub fn cpu_time_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Clock ticks; USER_HZ is 100 on every architecture Linux ships for.
    Duration::from_millis(ticks * 10)
}

/// VmRSS from /proc/PID/status.
pub fn rss_bytes_of(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

// ---------------------------------------------------------------- clients

/// A blocking client with read and write timeouts, so no test can hang.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads exactly `len` bytes.
pub fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    stream
        .read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("reading {len} echoed bytes: {e}"));
    buf
}

/// Asserts the server closed its side: the next read returns 0 bytes.
pub fn assert_eof(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => {}
        Ok(_) => panic!("expected end of stream, got a byte: {:?}", byte[0]),
        Err(e) => panic!("expected end of stream, got an error: {e}"),
    }
}

/// Sends `data` from a second thread while this one reads the echo, then
/// half-closes and checks that exactly `data` came back, followed by EOF.
pub fn echo_all(addr: SocketAddr, data: &[u8]) {
    let mut stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let outgoing = data.to_vec();
    let sender = thread::spawn(move || {
        for chunk in outgoing.chunks(61_440) {
            writer.write_all(chunk).expect("send");
        }
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    let echoed = read_exactly(&mut stream, data.len());
    sender.join().unwrap();
    assert_same_bytes(&echoed, data);
    assert_eof(&mut stream);
}

/// Compares two byte strings and reports the first difference, not a
/// megabyte-long dump.
pub fn assert_same_bytes(got: &[u8], expected: &[u8]) {
    if let Some(at) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!(
            "echo differs at byte {at}: got {:#04x}, expected {:#04x}",
            got[at], expected[at]
        );
    }
    assert_eq!(got.len(), expected.len(), "echo has the wrong length");
}

/// `len` pseudo-random bytes from `seed` (xorshift64*), the same every run.
/// Any 256+ bytes of it hold most byte values; `all_byte_values` holds each.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// Every byte value 0..=255, then `pattern` up to `len`.
pub fn all_byte_values(len: usize, seed: u64) -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend(pattern(len.saturating_sub(256), seed));
    data.truncate(len);
    data
}

/// Writes until the kernel will not take more without the peer reading
/// (the socket's send and the server's receive queues are full, and so is
/// everything between), and returns what was written.
pub fn write_until_blocked(stream: &mut TcpStream, seed: u64) -> Vec<u8> {
    stream.set_nonblocking(true).unwrap();
    let chunk = pattern(64 * 1024, seed);
    let mut sent = Vec::new();
    let mut quiet_since = Instant::now();
    let deadline = Instant::now() + PATIENCE;
    // Blocked means: nothing accepted for 200 ms in a row.
    while quiet_since.elapsed() < Duration::from_millis(200) {
        assert!(Instant::now() < deadline, "writes never blocked");
        match stream.write(&chunk) {
            Ok(n) => {
                sent.extend_from_slice(&chunk[..n]);
                quiet_since = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    sent
}

// ---------------------------------------------------------------- more helpers

impl Binary {
    /// Whether the process is still running (has not exited).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("check the binary").is_none()
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

    /// How many lines logged so far contain `needle`.
    pub fn count_log_lines(&self, needle: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.iter().filter(|line| line.contains(needle)).count()
    }

    /// Asks for the counters (SIGUSR1) and returns the line logged with them.
    pub fn stats_line(&mut self) -> String {
        self.signal("USR1");
        self.wait_for_log("connections:")
    }
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

/// Polls `done` until it holds; panics after [`PATIENCE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `work` on another thread and returns its result; panics if it takes
/// longer than [`PATIENCE`] (for code with no timeouts of its own).
pub fn within_patience<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(work());
    });
    match result.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} took longer than {PATIENCE:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Runs `command` to its end with stdin closed and stdout and stderr
/// captured; kills it and panics if it runs longer than [`PATIENCE`].
pub fn run_within_patience(command: &mut Command) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not exit within {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    std::process::Output {
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

// ---------------------------------------------------------------- udp

impl InProcess {
    /// Binds `config` exactly as given (no ephemeral port swapped in, so
    /// a second server can take a port the first one got) and runs it on a
    /// new thread.
    pub fn start_as_given(config: Config) -> InProcess {
        let server = Server::bind(config).expect("bind the server");
        let addr = server.local_addrs()[0];
        let handle = server.handle();
        let thread = thread::spawn(move || server.run().expect("server run"));
        InProcess {
            addr,
            handle,
            thread: Some(thread),
        }
    }
}

// ---------------------------------------------------------------- echoes

/// Sends `message` and checks that exactly it comes back.
pub fn echo_once(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).expect("send");
    assert_same_bytes(&read_exactly(stream, message.len()), message);
}

/// Asserts that for `quiet` nothing arrives on `stream`: no byte, no end of
/// stream, no error. (A time window, so only ever an extra check beside a
/// counter that proves the point.)
pub fn assert_silent_for(stream: &mut TcpStream, quiet: Duration) {
    stream.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        Ok(0) => panic!("the server closed the connection during {quiet:?} of silence"),
        Ok(n) => panic!("unexpected bytes from the server: {:?}", &buf[..n]),
        Err(e) => panic!("the connection failed during {quiet:?} of silence: {e}"),
    }
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
}
