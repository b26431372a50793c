//! Side-by-side benchmark: echo-reactor against the servers it should be
//! measured by, on this machine, in one run.
//!
//! ```sh
//! cargo run --release --example compare                   # echo-reactor vs tokio
//! cargo run --release --example compare -- --epoll-echo PATH/epoll-echo.c
//! cargo run --release --example compare -- --quick --repeats 1   # a smoke test
//! ```
//!
//! It builds what it runs (`cargo build --release` of the server, the load
//! generator and the peers; `cc -O2` of `epoll-echo.c` when given), so it
//! works on a fresh clone. All traffic stays on 127.0.0.1, servers run one at
//! a time, every child process is bounded in time and killed if this program
//! fails or panics.
//!
//! # The servers
//!
//! - **echo-reactor**, the release binary (`RUST_LOG` keeps only warnings,
//!   plus the `listening on` start-up line, so no logging is measured);
//! - **echo-reactor-x2**, the same binary with `--reactors 2`: two reactor
//!   threads sharing the port through `SO_REUSEPORT`. On a 2-core machine
//!   the load generator needs a core too, so this shows the cost of the
//!   second thread more than its benefit;
//! - **epoll-echo**, the C level-triggered epoll server, when its source is
//!   given: the floor a hand-written reactor should reach;
//! - **tokio-current**, `examples/tokio_echo.rs` on a `current_thread`
//!   runtime: what most Rust users would write instead, also on one thread;
//! - **tokio-multi**, the same on the multi-thread runtime, as an extra column.
//!
//! # What is measured, and why
//!
//! 1. **Closed-loop throughput** (`loadgen`, repeated): ping-pong with 1 and
//!    50 connections, 16-deep pipelining, 4 KiB messages, and one 1 GiB bulk
//!    stream. Each repeat runs every scenario against every server, started
//!    fresh each time, *interleaved* (for repeat, for scenario, for server),
//!    so a slow minute on the machine hits all servers alike; the table shows
//!    medians. Beware: on a 2-core machine the load generator and the server
//!    share the cores, and a good server is waiting for the load generator
//!    most of the time, so these figures mostly measure the load generator
//!    and the kernel. They tell a bad server from a good one, not two good
//!    ones apart.
//! 2. **Server CPU per echo at a fixed rate** (repeated): an open-loop
//!    ping-pong at `--rate` messages/s (50 connections, 64 B), with the
//!    server's CPU time (user + system, all threads) read just inside the
//!    measured window: the scheduler's nanosecond run time from
//!    `/proc/PID/task/*/schedstat`, and utime + stime from `/proc/PID/stat`
//!    (10 ms ticks, too coarse for `--quick`; in `raw.csv`). Every server
//!    does the same work in the same time, so the CPU it spends per echo is
//!    the fairest speed figure there is; p99 latency at that rate comes with
//!    it. (A server that falls behind reads several messages per wake-up and
//!    so spends less per echo: check the p99.)
//! 3. **Noise-free figures** (once per server; they do not move with load on
//!    the machine): under `strace -c -f`, *system calls per echo* and
//!    `epoll_wait` calls per echo; under `valgrind --tool=callgrind`,
//!    *user-space instructions per echo* (the instructions of a short
//!    baseline run, start-up and 50 connects, are subtracted). Each runs a
//!    fixed-rate ping-pong, 50 connections, 64 B, with no warm-up, so the
//!    load generator's `messages` is every echo the server made: 100,000 at
//!    5,000/s for 20 s. The rate is low because tracing makes every system
//!    call (strace) or instruction (callgrind) many times slower, and a
//!    server that falls behind batches messages, which changes what is
//!    counted; a strace run with fewer successful writes than echoes is
//!    flagged.
//! 4. **Idle memory**: `idle_swarm` holds 19,000 idle connections and reports
//!    the server's RSS growth per connection.
//!
//! # Output
//!
//! The table on stdout (progress on stderr); in the out dir (default
//! `target/compare/`): `raw.csv` with every number measured, `summary.txt`
//! with the table, `compare.svg` with each server's throughput normalized to
//! epoll-echo (to tokio-current without it), and the strace and callgrind
//! files.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use clap::Parser;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

// ------------------------------------------------------------ command line

/// Benchmarks echo-reactor side by side with tokio (and epoll-echo.c when
/// given): closed-loop throughput, CPU per echo at a fixed rate, syscalls
/// and instructions per echo, idle memory per connection.
#[derive(Parser, Debug)]
#[command(name = "compare")]
struct Args {
    /// Source of the C epoll-echo reference server, compiled with cc -O2
    /// into the out dir [default: not compared]
    #[arg(long, value_name = "SRC.c")]
    epoll_echo: Option<PathBuf>,

    /// How many times the whole set of scenarios runs (interleaved); the
    /// table shows medians
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeats: u32,

    /// Smoke test: 0.3 s warm-up + 1 s measured, 64 MiB bulk, shorter
    /// noise-free and idle runs
    #[arg(long)]
    quick: bool,

    /// Where the results, the chart and the epoll-echo binary go
    /// [default: target/compare]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Offered load of the fixed-rate scenario, messages/s over 50
    /// connections
    #[arg(long, value_name = "R", default_value_t = 50_000.0)]
    rate: f64,

    /// Skip the strace and callgrind runs
    #[arg(long)]
    skip_tools: bool,

    /// Skip the idle-connections memory run
    #[arg(long)]
    skip_idle: bool,
}

/// How long each kind of run lasts; `--quick` shrinks them all.
#[derive(Clone, Copy, Debug)]
struct Timing {
    warmup: f64,
    duration: f64,
    bulk_bytes: &'static str,
    /// (rate, seconds) of the strace run.
    strace: (u32, f64),
    /// (rate, seconds) of the callgrind run.
    callgrind: (u32, f64),
    /// (connections, hold seconds) of the idle run.
    idle: (u32, f64),
}

impl Timing {
    fn new(quick: bool) -> Timing {
        if quick {
            Timing {
                warmup: 0.3,
                duration: 1.0,
                bulk_bytes: "64MiB",
                strace: (5_000, 2.0),
                callgrind: (5_000, 2.0),
                idle: (2_000, 0.5),
            }
        } else {
            Timing {
                warmup: 1.0,
                duration: 5.0,
                bulk_bytes: "1GiB",
                strace: (5_000, 20.0),
                callgrind: (5_000, 20.0),
                idle: (19_000, 2.0),
            }
        }
    }
}

// ------------------------------------------------------------ the servers

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Server {
    EchoReactor,
    /// `--reactors 2`: two reactor threads sharing the port.
    EchoReactorTwo,
    EpollEcho,
    TokioCurrent,
    TokioMulti,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::EchoReactor => "echo-reactor",
            Server::EchoReactorTwo => "echo-reactor-x2",
            Server::EpollEcho => "epoll-echo",
            Server::TokioCurrent => "tokio-current",
            Server::TokioMulti => "tokio-multi",
        }
    }

    fn color(self) -> RGBColor {
        match self {
            Server::EchoReactor => RGBColor(214, 39, 40),
            Server::EchoReactorTwo => RGBColor(244, 150, 140),
            Server::EpollEcho => RGBColor(110, 110, 110),
            Server::TokioCurrent => RGBColor(31, 119, 180),
            Server::TokioMulti => RGBColor(140, 190, 230),
        }
    }
}

/// Paths of everything that gets run.
struct Binaries {
    echo_reactor: PathBuf,
    tokio_echo: PathBuf,
    loadgen: PathBuf,
    idle_swarm: PathBuf,
    epoll_echo: Option<PathBuf>,
}

/// What a server is run under.
#[derive(Clone, Copy)]
enum Wrapper<'a> {
    Plain,
    /// `strace -c -f -o FILE`: a count of every system call, all threads.
    Strace(&'a Path),
    /// `valgrind --tool=callgrind`: every user-space instruction.
    Callgrind(&'a Path),
}

/// How long a server may take to start listening (valgrind is slow).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGINT.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of a server's stderr kept for error reports.
const LOG_TAIL: usize = 20;

/// A running server. Dropping it kills it (and strace or valgrind around
/// it), so no server outlives an error or a panic; `stop` ends it gently.
struct Running {
    server: Server,
    /// The process spawned: the server, or strace / valgrind running it.
    child: Child,
    /// The server's own process id: strace's child under strace; valgrind
    /// runs its guest in its own process.
    pid: u32,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    stopped: bool,
}

impl Running {
    fn start(server: Server, bins: &Binaries, wrapper: Wrapper) -> Result<Running, String> {
        // epoll-echo takes a concrete port: take a free one from the kernel
        // and release it just before the server binds it.
        let fixed_port = match server {
            Server::EpollEcho => Some(free_port().map_err(|e| format!("no free port: {e}"))?),
            _ => None,
        };
        let mut command = server_command(server, bins, wrapper, fixed_port)?;
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.name()))?;
        let spawned_pid = child.id();

        // Read stderr on a thread, for the address and for error reports.
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr is piped");
        let tail = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_address(&line) {
                    let _ = addr_tx.send(addr);
                }
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == LOG_TAIL {
                    tail.remove(0);
                }
                tail.push(line);
            }
        });

        let mut running = Running {
            server,
            child,
            pid: spawned_pid,
            addr: SocketAddr::from(([127, 0, 0, 1], fixed_port.unwrap_or(0))),
            log,
            stopped: false,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        if fixed_port.is_none() {
            running.addr = loop {
                match addr_rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(addr) => break addr,
                    Err(_) => running.check_alive(deadline, "print 'listening on ADDR'")?,
                }
            };
        }
        if let Wrapper::Strace(_) = wrapper {
            running.pid = loop {
                match child_of(spawned_pid) {
                    Some(pid) => break pid,
                    None => running.check_alive(deadline, "start under strace")?,
                }
                thread::sleep(Duration::from_millis(10));
            };
        }
        // Ready when the port accepts a connection (the server sees the
        // probe as a client that connects and closes).
        while TcpStream::connect_timeout(&running.addr, Duration::from_millis(200)).is_err() {
            running.check_alive(deadline, "accept a connection")?;
            thread::sleep(Duration::from_millis(20));
        }
        Ok(running)
    }

    /// An error if the server exited or `deadline` passed before it did
    /// `what`.
    fn check_alive(&mut self, deadline: Instant, what: &str) -> Result<(), String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.stopped = true;
            return Err(format!(
                "{} exited ({status}) before it could {what}{}",
                self.server.name(),
                self.log_tail()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} did not {what} within {:?}{}",
                self.server.name(),
                START_TIMEOUT,
                self.log_tail()
            ));
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let tail = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if tail.is_empty() {
            String::new()
        } else {
            format!("; its stderr ended with:\n    {}", tail.join("\n    "))
        }
    }

    /// The server's CPU time so far, all threads, user + system, in
    /// seconds: (from the scheduler's nanosecond run time in
    /// `/proc/PID/task/*/schedstat`, from utime + stime in `/proc/PID/stat`).
    /// The two measure the same thing (the kernel splits the run time into
    /// utime and stime), but the second counts in clock ticks of 10 ms, too
    /// coarse for a one-second window.
    fn cpu_seconds(&self) -> Result<(Option<f64>, f64), String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .map_err(|e| format!("cannot read /proc/{}/stat: {e}", self.pid))?;
        let fields = stat_fields(&stat);
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
            return Err(format!("no utime/stime in /proc/{}/stat", self.pid));
        };
        let from_ticks = (utime + stime) as f64 / clock_ticks_per_second();
        let run_time = || -> Option<f64> {
            let mut nanos = 0u64;
            for task in std::fs::read_dir(format!("/proc/{}/task", self.pid)).ok()? {
                let path = task.ok()?.path().join("schedstat");
                let text = std::fs::read_to_string(path).ok()?;
                nanos += text.split_whitespace().next()?.parse::<u64>().ok()?;
            }
            Some(nanos as f64 / 1e9)
        };
        Ok((run_time(), from_ticks))
    }

    /// SIGINT, then waits (bounded) for the server, and strace or valgrind
    /// around it, to exit and write their files.
    fn stop(mut self) -> Result<(), String> {
        signal(self.pid, libc::SIGINT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => {
                    self.stopped = true;
                    return Ok(());
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    return Err(format!(
                        "{} did not exit within {STOP_TIMEOUT:?} of SIGINT; killed it{}",
                        self.server.name(),
                        self.log_tail()
                    ))
                }
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.stopped {
            if self.pid != self.child.id() {
                signal(self.pid, libc::SIGKILL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The command line that runs `server` (under `wrapper`), its stderr piped.
fn server_command(
    server: Server,
    bins: &Binaries,
    wrapper: Wrapper,
    fixed_port: Option<u16>,
) -> Result<Command, String> {
    let (program, args): (&Path, Vec<String>) = match server {
        Server::EchoReactor => (&bins.echo_reactor, strings(&["--listen", "127.0.0.1:0"])),
        Server::EchoReactorTwo => (
            &bins.echo_reactor,
            strings(&["--listen", "127.0.0.1:0", "--reactors", "2"]),
        ),
        Server::TokioCurrent | Server::TokioMulti => (
            &bins.tokio_echo,
            strings(&[
                "--listen",
                "127.0.0.1:0",
                "--flavor",
                if server == Server::TokioCurrent {
                    "current"
                } else {
                    "multi"
                },
            ]),
        ),
        Server::EpollEcho => (
            bins.epoll_echo
                .as_deref()
                .ok_or("epoll-echo was not built")?,
            vec!["127.0.0.1".into(), fixed_port.unwrap_or(0).to_string()],
        ),
    };
    let mut command = match wrapper {
        Wrapper::Plain => Command::new(program),
        Wrapper::Strace(file) => {
            // strace forks the server, and a fork does not inherit the
            // parent-death signal: this program, run as a shim, sets it
            // again in the server's process before it execs the server.
            let me = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
            let mut c = Command::new("strace");
            c.args(["-c", "-f", "-o"])
                .arg(file)
                .arg(me)
                .arg(EXEC_SHIM)
                .arg(program);
            c
        }
        Wrapper::Callgrind(file) => {
            let mut c = Command::new("valgrind");
            c.arg("--tool=callgrind")
                .arg(format!("--callgrind-out-file={}", file.display()))
                .arg(program);
            c
        }
    };
    // The `listening on` line is logged at info by the server module;
    // everything on the per-message path is debug or trace, filtered out.
    command
        .args(args)
        .env("RUST_LOG", "warn,echo_reactor::server=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Ok(command)
}

/// The address in a `listening on ADDR` line.
fn listening_address(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// A port that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The fields of `/proc/PID/stat` after the command name (state is 0,
/// ppid 1, utime 11, stime 12).
fn stat_fields(stat: &str) -> Vec<&str> {
    let after_name = stat.rfind(')').map_or(stat, |i| &stat[i + 1..]);
    after_name.split_whitespace().collect()
}

/// A process whose parent is `parent`, if any.
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let ppid: u32 = stat_fields(&stat).get(1)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory effects; `pid` is a child of ours (or
        // strace's), not yet reaped, so it cannot name another process.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Makes the kernel kill the child if this program dies without cleaning
/// up (SIGKILL, say), so no server is left behind even then.
fn die_with_parent(command: &mut Command) {
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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ------------------------------------------------------------ other tools

/// A tool (loadgen, idle_swarm) running with its output captured; killed if
/// dropped before it finished.
struct Tool {
    name: &'static str,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    done: bool,
}

struct ToolOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Tool {
    fn spawn(name: &'static str, program: &Path, args: &[String]) -> Result<Tool, String> {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let collect = |mut pipe: Box<dyn Read + Send>| {
            thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = collect(Box::new(child.stdout.take().expect("piped")));
        let stderr = collect(Box::new(child.stderr.take().expect("piped")));
        Ok(Tool {
            name,
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
            done: false,
        })
    }

    /// Waits for the tool to exit, at most `timeout`, then kills it.
    fn finish(mut self, timeout: Duration) -> Result<ToolOutput, String> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => return Err(format!("{} did not finish within {timeout:?}", self.name)),
                Err(e) => return Err(format!("cannot wait for {}: {e}", self.name)),
            }
        };
        self.done = true;
        let join = |handle: Option<JoinHandle<String>>| {
            handle.and_then(|h| h.join().ok()).unwrap_or_default()
        };
        Ok(ToolOutput {
            status,
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        })
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `n` lines of `text`, indented, for error messages.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n    ")
}

/// Whether `program --version` runs.
fn exists(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ------------------------------------------------------------ loadgen's JSON

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Number(f64),
    Text(String),
    Bool(bool),
    Null,
}

/// Parses one flat JSON object (no nesting: loadgen's `--json` line).
fn parse_flat_json(text: &str) -> Result<HashMap<String, Json>, String> {
    let mut chars = text.trim().chars().peekable();
    let mut fields = HashMap::new();
    let skip_space = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
    };
    let string = |chars: &mut std::iter::Peekable<std::str::Chars>| -> Result<String, String> {
        if chars.next() != Some('"') {
            return Err("expected a string".into());
        }
        let mut out = String::new();
        loop {
            match chars.next().ok_or("unterminated string")? {
                '"' => return Ok(out),
                '\\' => match chars.next().ok_or("unterminated escape")? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|_| "bad \\u escape")?;
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other), // \" \\ \/
                },
                c => out.push(c),
            }
        }
    };
    if chars.next() != Some('{') {
        return Err("not a JSON object".into());
    }
    loop {
        skip_space(&mut chars);
        if chars.next_if_eq(&'}').is_some() {
            return Ok(fields);
        }
        let key = string(&mut chars)?;
        skip_space(&mut chars);
        if chars.next() != Some(':') {
            return Err(format!("expected ':' after \"{key}\""));
        }
        skip_space(&mut chars);
        let value = if chars.peek() == Some(&'"') {
            Json::Text(string(&mut chars)?)
        } else {
            let mut raw = String::new();
            while let Some(c) = chars.next_if(|c| *c != ',' && *c != '}') {
                raw.push(c);
            }
            match raw.trim() {
                "null" => Json::Null,
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                number => Json::Number(
                    number
                        .parse()
                        .map_err(|_| format!("bad value for \"{key}\": '{number}'"))?,
                ),
            }
        };
        fields.insert(key, value);
        skip_space(&mut chars);
        match chars.next() {
            Some(',') => {}
            Some('}') => return Ok(fields),
            _ => return Err("expected ',' or '}'".into()),
        }
    }
}

/// One loadgen report.
struct Report(HashMap<String, Json>);

impl Report {
    fn number(&self, key: &str) -> Option<f64> {
        match self.0.get(key) {
            Some(Json::Number(n)) => Some(*n),
            _ => None,
        }
    }

    fn require(&self, key: &str) -> Result<f64, String> {
        self.number(key)
            .ok_or_else(|| format!("loadgen's report has no number '{key}'"))
    }

    fn errors(&self) -> u64 {
        self.number("errors").unwrap_or(0.0) as u64
    }
}

/// Starts loadgen against `addr` with `args` (plus `--target` and `--json`).
fn loadgen_start(bins: &Binaries, addr: SocketAddr, args: &[String]) -> Result<Tool, String> {
    let mut all = strings(&["--json", "--target"]);
    all.push(addr.to_string());
    all.extend_from_slice(args);
    Tool::spawn("loadgen", &bins.loadgen, &all)
}

/// Waits (bounded) for loadgen and reads its report. A report with errors
/// is returned too (loadgen exits 1 then): the caller counts them.
fn loadgen_finish(tool: Tool, timeout: Duration) -> Result<Report, String> {
    let out = tool.finish(timeout)?;
    let line = out
        .stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| {
            format!(
                "loadgen printed no report ({}):\n    {}",
                out.status,
                last_lines(&out.stderr, 5)
            )
        })?;
    parse_flat_json(line)
        .map(Report)
        .map_err(|e| format!("cannot read loadgen's report: {e}: {line}"))
}

// ------------------------------------------------------------ scenarios

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Closed loop: (mode, connections, size, depth).
    Closed(&'static str, u32, u32, Option<u32>),
    Bulk,
    /// Open loop at `--rate`, with the server's CPU read over the window.
    FixedRate,
}

struct Scenario {
    key: &'static str,
    label: String,
    /// A short name for the chart.
    short: String,
    kind: Kind,
}

fn scenarios(timing: &Timing, rate: f64) -> Vec<Scenario> {
    let closed = |key, label: &str, short: &str, kind| Scenario {
        key,
        label: label.into(),
        short: short.into(),
        kind,
    };
    vec![
        closed(
            "pingpong-c1",
            "ping-pong C=1 64 B",
            "ping-pong C=1",
            Kind::Closed("pingpong", 1, 64, None),
        ),
        closed(
            "pingpong-c50",
            "ping-pong C=50 64 B",
            "ping-pong C=50",
            Kind::Closed("pingpong", 50, 64, None),
        ),
        closed(
            "pipeline-c50-d16",
            "pipeline C=50 D=16 64 B",
            "pipeline D=16",
            Kind::Closed("pipeline", 50, 64, Some(16)),
        ),
        closed(
            "pingpong-c50-4k",
            "ping-pong C=50 4 KiB",
            "ping-pong 4 KiB",
            Kind::Closed("pingpong", 50, 4096, None),
        ),
        Scenario {
            key: "bulk",
            label: format!("bulk {} C=1", timing.bulk_bytes),
            short: format!("bulk {}", timing.bulk_bytes),
            kind: Kind::Bulk,
        },
        Scenario {
            key: "fixed-rate",
            label: format!("fixed {rate}/s C=50 64 B"),
            short: format!("echoes per CPU-s @{}k/s", rate / 1000.0),
            kind: Kind::FixedRate,
        },
    ]
}

/// One number measured: `repeat` 0 for the once-per-server runs.
#[derive(Clone, Debug)]
struct Sample {
    repeat: u32,
    scenario: &'static str,
    server: Server,
    metric: &'static str,
    value: f64,
}

/// What one scenario run measured.
struct Measured {
    /// (metric, value); the first is the headline.
    numbers: Vec<(&'static str, f64)>,
    /// What loadgen counted as errors (wrong bytes, lost echoes...).
    errors: u64,
}

/// Runs one scenario against a freshly started server.
fn run_scenario(
    scenario: &Scenario,
    server: Server,
    bins: &Binaries,
    timing: &Timing,
    rate: f64,
) -> Result<Measured, String> {
    let running = Running::start(server, bins, Wrapper::Plain)?;
    let window =
        |w: f64, d: f64| strings(&["--warmup", &w.to_string(), "--duration", &d.to_string()]);
    let closed_timeout =
        Duration::from_secs_f64(timing.warmup + timing.duration) + Duration::from_secs(30);
    let numbers = match scenario.kind {
        Kind::Closed(mode, connections, size, depth) => {
            let mut args = strings(&["--mode", mode]);
            args.extend(strings(&["--connections", &connections.to_string()]));
            args.extend(strings(&["--size", &size.to_string()]));
            if let Some(depth) = depth {
                args.extend(strings(&["--depth", &depth.to_string()]));
            }
            args.extend(window(timing.warmup, timing.duration));
            let report = loadgen_finish(loadgen_start(bins, running.addr, &args)?, closed_timeout)?;
            let numbers = vec![
                ("msg/s", report.require("messages_per_s")?),
                (
                    "p99 µs",
                    report.number("latency_p99_us").unwrap_or(f64::NAN),
                ),
            ];
            Measured {
                numbers,
                errors: report.errors(),
            }
        }
        Kind::Bulk => {
            // loadgen's bulk timeout is duration x 10 + 30 s.
            let mut args = strings(&["--mode", "bulk", "--bytes", timing.bulk_bytes]);
            args.extend(strings(&["--duration", "10"]));
            let report = loadgen_finish(
                loadgen_start(bins, running.addr, &args)?,
                Duration::from_secs(160),
            )?;
            let numbers = vec![
                ("GB/s", report.require("gb_per_s")?),
                ("seconds", report.require("duration_s")?),
            ];
            Measured {
                numbers,
                errors: report.errors(),
            }
        }
        Kind::FixedRate => {
            let mut args = strings(&["--mode", "pingpong", "--connections", "50", "--size", "64"]);
            args.extend(strings(&["--rate", &rate.to_string()]));
            args.extend(window(timing.warmup, timing.duration));
            let started = Instant::now();
            let tool = loadgen_start(bins, running.addr, &args)?;
            // The CPU window: just inside loadgen's measured time (its
            // connects take milliseconds), so warm-up and drain stay out.
            sleep_until(started + Duration::from_secs_f64(timing.warmup + 0.2));
            let (t0, (run0, ticks0)) = (Instant::now(), running.cpu_seconds()?);
            sleep_until(started + Duration::from_secs_f64(timing.warmup + timing.duration - 0.1));
            let (t1, (run1, ticks1)) = (Instant::now(), running.cpu_seconds()?);
            let report = loadgen_finish(tool, closed_timeout)?;
            let achieved = report.require("messages_per_s")?;
            let window_s = (t1 - t0).as_secs_f64();
            // The rate is fixed: the echoes in the window are the rate
            // loadgen achieved times the window.
            let echoes = (achieved * window_s).max(1.0);
            let cpu_ticks = ticks1 - ticks0;
            let cpu = match (run0, run1) {
                (Some(a), Some(b)) => b - a,
                _ => cpu_ticks,
            };
            let numbers = vec![
                ("CPU µs/echo", cpu * 1e6 / echoes),
                (
                    "p99 µs",
                    report.number("latency_p99_us").unwrap_or(f64::NAN),
                ),
                ("achieved msg/s", achieved),
                ("CPU µs/echo (utime+stime ticks)", cpu_ticks * 1e6 / echoes),
                ("CPU s in window", cpu),
                ("window s", window_s),
            ];
            Measured {
                numbers,
                errors: report.errors(),
            }
        }
    };
    running.stop()?;
    Ok(numbers)
}

fn sleep_until(when: Instant) {
    let now = Instant::now();
    if when > now {
        thread::sleep(when - now);
    }
}

// ------------------------------------------------------------ noise-free

/// Ping-pong C=50 64 B at `rate` for `seconds`, no warm-up: loadgen's
/// `messages` is then every echo. Returns (messages, p99 µs, errors).
fn fixed_count_load(
    bins: &Binaries,
    addr: SocketAddr,
    rate: u32,
    seconds: f64,
) -> Result<(f64, f64, u64), String> {
    let args = strings(&[
        "--mode",
        "pingpong",
        "--connections",
        "50",
        "--size",
        "64",
        "--rate",
        &rate.to_string(),
        "--warmup",
        "0",
        "--duration",
        &seconds.to_string(),
    ]);
    let timeout = Duration::from_secs_f64(seconds) + Duration::from_secs(60);
    let report = loadgen_finish(loadgen_start(bins, addr, &args)?, timeout)?;
    Ok((
        report.require("messages")?,
        report.number("latency_p99_us").unwrap_or(f64::NAN),
        report.errors(),
    ))
}

/// What `strace -c` counted.
struct StraceSummary {
    total: f64,
    /// `epoll_wait` and `epoll_pwait` calls.
    epoll_waits: f64,
    /// Writes that did not fail (write, send, sendto, sendmsg, writev).
    writes: f64,
    /// Calls per system call name.
    each: Vec<(String, f64)>,
}

fn parse_strace(text: &str) -> Result<StraceSummary, String> {
    let mut total = None;
    let mut epoll_waits = 0.0;
    let mut writes = 0.0;
    let mut each = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors,] name
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
            continue;
        }
        let (Ok(calls), Some(name)) = (fields[3].parse::<f64>(), fields.last()) else {
            continue;
        };
        let failed = match fields.len() {
            6 => fields[4].parse::<f64>().unwrap_or(0.0),
            _ => 0.0,
        };
        if *name == "total" {
            total = Some(calls);
        } else {
            if name.starts_with("epoll_wait") || name.starts_with("epoll_pwait") {
                epoll_waits += calls;
            }
            if ["write", "send", "sendto", "sendmsg", "writev"].contains(name) {
                writes += calls - failed;
            }
            each.push((name.to_string(), calls));
        }
    }
    Ok(StraceSummary {
        total: total.ok_or("no 'total' line in strace's summary")?,
        epoll_waits,
        writes,
        each,
    })
}

/// Total instructions (Ir) in a callgrind output file.
fn parse_callgrind(text: &str) -> Result<f64, String> {
    text.lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| "no 'totals:' or 'summary:' line in callgrind's output".into())
}

/// System calls and `epoll_wait` calls per echo under strace. Meaningful
/// only while the traced server keeps up with the load: one that falls
/// behind finds several messages per read and per wake-up, and so makes
/// fewer calls per echo. Each echo takes one successful write unless that
/// happens, so fewer writes than echoes is flagged.
fn strace_run(
    server: Server,
    bins: &Binaries,
    timing: &Timing,
    out: &Path,
    results: &mut Results,
) -> Result<(), String> {
    let file = out.join(format!("strace-{}.txt", server.name()));
    let running = Running::start(server, bins, Wrapper::Strace(&file))?;
    let (rate, seconds) = timing.strace;
    let (messages, p99, errors) = fixed_count_load(bins, running.addr, rate, seconds)?;
    running.stop()?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let StraceSummary {
        total,
        epoll_waits,
        writes,
        each,
    } = parse_strace(&text)?;
    let writes_per_echo = writes / messages.max(1.0);
    if writes_per_echo < 0.95 {
        results.notes.push(format!(
            "{} fell behind under strace ({writes_per_echo:.2} writes per echo, p99 {p99:.0} µs): \
             its syscalls per echo are too low; run again on a quieter machine",
            server.name()
        ));
    }
    let mut push = |metric, value| {
        results.samples.push(Sample {
            repeat: 0,
            scenario: "strace",
            server,
            metric,
            value,
        })
    };
    push("writes/echo", writes_per_echo);
    push("syscalls/echo", total / messages.max(1.0));
    push("epoll_wait/echo", epoll_waits / messages.max(1.0));
    push("messages", messages);
    push("syscalls", total);
    push("epoll_wait calls", epoll_waits);
    push("p99 µs", p99);
    push("loadgen errors", errors as f64);
    let futex = each
        .iter()
        .filter(|(name, _)| name == "futex")
        .map(|(_, n)| n)
        .sum::<f64>();
    push("futex/echo", futex / messages.max(1.0));
    eprintln!(
        "compare:   strace     {:<14} {:>7.3} syscalls/echo, {:.3} epoll_wait/echo, {writes_per_echo:.3} writes/echo ({messages} echoes, p99 {p99:.0} µs{})",
        server.name(),
        total / messages.max(1.0),
        epoll_waits / messages.max(1.0),
        error_note(errors)
    );
    Ok(())
}

/// User-space instructions per echo under callgrind: a full run minus a
/// baseline run (start-up, 50 connects, 100 echoes, shutdown).
fn callgrind_run(
    server: Server,
    bins: &Binaries,
    timing: &Timing,
    out: &Path,
    samples: &mut Vec<Sample>,
) -> Result<(), String> {
    let run = |label: &str, rate: u32, seconds: f64| -> Result<(f64, f64, f64, u64), String> {
        let file = out.join(format!("callgrind-{}-{label}.out", server.name()));
        let running = Running::start(server, bins, Wrapper::Callgrind(&file))?;
        let (messages, p99, errors) = fixed_count_load(bins, running.addr, rate, seconds)?;
        running.stop()?;
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        Ok((parse_callgrind(&text)?, messages, p99, errors))
    };
    let (base_ir, base_messages, _, base_errors) = run("baseline", 100, 1.0)?;
    let (rate, seconds) = timing.callgrind;
    let (ir, messages, p99, errors) = run("full", rate, seconds)?;
    let per_echo = (ir - base_ir) / (messages - base_messages).max(1.0);
    let mut push = |metric, value| {
        samples.push(Sample {
            repeat: 0,
            scenario: "callgrind",
            server,
            metric,
            value,
        })
    };
    push("instructions/echo", per_echo);
    push(
        "instructions/echo (no baseline subtracted)",
        ir / messages.max(1.0),
    );
    push("Ir", ir);
    push("messages", messages);
    push("baseline Ir", base_ir);
    push("baseline messages", base_messages);
    push("p99 µs", p99);
    push("loadgen errors", (errors + base_errors) as f64);
    eprintln!(
        "compare:   callgrind  {:<14} {per_echo:>7.0} instructions/echo ({messages} echoes, p99 {p99:.0} µs{})",
        server.name(),
        error_note(errors + base_errors)
    );
    Ok(())
}

/// Server RSS growth per idle connection, from idle_swarm.
fn idle_run(
    server: Server,
    bins: &Binaries,
    timing: &Timing,
    samples: &mut Vec<Sample>,
) -> Result<(), String> {
    let running = Running::start(server, bins, Wrapper::Plain)?;
    let (connections, hold) = timing.idle;
    let args = vec![
        "--target".into(),
        running.addr.to_string(),
        "--connections".into(),
        connections.to_string(),
        "--hold".into(),
        hold.to_string(),
        "--server-pid".into(),
        running.pid.to_string(),
    ];
    let tool = Tool::spawn("idle_swarm", &bins.idle_swarm, &args)?;
    let out = tool.finish(Duration::from_secs(300))?;
    running.stop()?;
    // "connected 19000 of 19000 in ..." and "server RSS: ...: 22.6 bytes per connection"
    let connected = out.stdout.lines().find_map(|l| {
        l.strip_prefix("connected ")?
            .split_whitespace()
            .next()?
            .parse::<f64>()
            .ok()
    });
    let per_connection = out.stdout.lines().find_map(|l| {
        let before = l.strip_suffix(" bytes per connection")?;
        before.rsplit(' ').next()?.parse::<f64>().ok()
    });
    let (Some(connected), Some(per_connection)) = (connected, per_connection) else {
        return Err(format!(
            "idle_swarm printed no figure ({}):\n    {}\n    {}",
            out.status,
            last_lines(&out.stdout, 5),
            last_lines(&out.stderr, 5)
        ));
    };
    for (metric, value) in [
        ("idle RSS B/conn", per_connection),
        ("idle connections", connected),
        // A connection that failed to open or echo: idle_swarm exits 1.
        (
            "idle_swarm errors",
            f64::from(u8::from(!out.status.success())),
        ),
    ] {
        samples.push(Sample {
            repeat: 0,
            scenario: "idle",
            server,
            metric,
            value,
        });
    }
    eprintln!(
        "compare:   idle       {:<14} {per_connection:>7.1} B RSS per idle connection ({connected} held{})",
        server.name(),
        if out.status.success() {
            ""
        } else {
            ", idle_swarm reported a failure"
        }
    );
    Ok(())
}

fn error_note(errors: u64) -> String {
    if errors > 0 {
        format!(", {errors} LOADGEN ERRORS")
    } else {
        String::new()
    }
}

// ------------------------------------------------------------ the report

/// One row of the table: a metric of a scenario, the median over repeats.
struct Row {
    label: String,
    scenario: &'static str,
    metric: &'static str,
    higher_is_better: bool,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn median_of(samples: &[Sample], scenario: &str, metric: &str, server: Server) -> Option<f64> {
    median(
        samples
            .iter()
            .filter(|s| s.scenario == scenario && s.metric == metric && s.server == server)
            .map(|s| s.value)
            .collect(),
    )
}

/// A figure with about 4 significant digits, thousands as `k`, millions as `M`.
fn human(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        "-".into()
    } else if magnitude >= 1e6 {
        format!("{:.3}M", value / 1e6)
    } else if magnitude >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// A ratio with two significant digits at least.
fn ratio(r: f64) -> String {
    if r >= 0.1 {
        format!("{r:.2}")
    } else if r >= 0.001 {
        format!("{r:.4}")
    } else {
        format!("{r:.1e}")
    }
}

fn render_table(rows: &[Row], servers: &[Server], samples: &[Sample]) -> String {
    let peers: Vec<Server> = servers
        .iter()
        .copied()
        .filter(|s| *s != Server::EchoReactor)
        .collect();
    let mut header = vec!["scenario".to_string()];
    header.extend(servers.iter().map(|s| s.name().to_string()));
    header.extend(peers.iter().map(|p| format!("ER/{}", p.name())));
    let mut lines = vec![header];
    for row in rows {
        let medians: Vec<Option<f64>> = servers
            .iter()
            .map(|s| median_of(samples, row.scenario, row.metric, *s))
            .collect();
        if medians.iter().all(Option::is_none) {
            continue;
        }
        let ours = median_of(samples, row.scenario, row.metric, Server::EchoReactor);
        let mut line = vec![format!(
            "{}{}",
            row.label,
            if row.higher_is_better { "" } else { " ↓" }
        )];
        line.extend(medians.iter().map(|m| m.map_or("n/a".into(), human)));
        line.extend(peers.iter().map(|p| {
            match (ours, median_of(samples, row.scenario, row.metric, *p)) {
                (Some(a), Some(b)) if b != 0.0 => ratio(a / b),
                _ => "n/a".into(),
            }
        }));
        lines.push(line);
    }
    if lines.len() == 1 {
        return String::new(); // no row has a figure
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for (n, line) in lines.iter().enumerate() {
        for (i, cell) in line.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                let _ = write!(text, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(text, "  {}{cell}", " ".repeat(pad));
            }
        }
        text.push('\n');
        if n == 0 {
            text.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            text.push('\n');
        }
    }
    text
}

/// Every sample, one a line; repeat 0 marks the once-per-server runs
/// (strace, callgrind, idle). Failed runs are listed in summary.txt.
fn write_csv(path: &Path, samples: &[Sample]) -> Result<(), String> {
    let quote = |field: &str| {
        if field.contains([',', '"']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_string()
        }
    };
    let mut text = String::from("repeat,scenario,server,metric,value\n");
    for s in samples {
        let _ = writeln!(
            text,
            "{},{},{},{},{}",
            s.repeat,
            s.scenario,
            s.server.name(),
            quote(s.metric),
            s.value
        );
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The chart's x axis: group `i` spans `i..i + 1`, its one tick (and
/// label) at `i + 0.5`.
struct GroupAxis(usize);

impl Ranged for GroupAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (from, to): (i32, i32)) -> i32 {
        let share = value / self.0.max(1) as f64;
        from + (share * (to - from) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.0).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.0 as f64
    }
}

/// Grouped bars, one group per scenario: each server's median throughput
/// divided by the baseline server's (epoll-echo, or tokio-current without
/// it). The fixed-rate group shows echoes per CPU-second, so higher is
/// better everywhere.
fn draw_chart(
    path: &Path,
    args: &Args,
    servers: &[Server],
    scenarios: &[Scenario],
    samples: &[Sample],
) -> Result<(), Box<dyn std::error::Error>> {
    let measured = |server| samples.iter().any(|s| s.server == server && s.repeat > 0);
    let baseline = if measured(Server::EpollEcho) {
        Server::EpollEcho
    } else {
        Server::TokioCurrent
    };
    let groups: Vec<(String, Vec<(Server, f64)>)> = scenarios
        .iter()
        .filter_map(|s| {
            let (metric, invert) = match s.kind {
                Kind::Closed(..) => ("msg/s", false),
                Kind::Bulk => ("GB/s", false),
                Kind::FixedRate => ("CPU µs/echo", true),
            };
            let value = |server| {
                median_of(samples, s.key, metric, server).map(|v| if invert { 1.0 / v } else { v })
            };
            let base = value(baseline).filter(|b| *b > 0.0)?;
            let bars = servers
                .iter()
                .filter_map(|&server| value(server).map(|v| (server, v / base)))
                .collect();
            Some((s.short.clone(), bars))
        })
        .collect();
    let subtitle = format!(
        "medians of {} interleaved repeat(s){}; last group: echoes per server CPU-second \
         at a fixed {} msg/s",
        args.repeats,
        if args.quick { ", --quick" } else { "" },
        args.rate
    );
    let per_group = servers.len() as f64;
    let bar = 0.8 / per_group;
    let top = groups
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|(_, v)| *v))
        .fold(1.0f64, f64::max)
        * 1.3;
    let root = SVGBackend::new(path, (1100, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title_area, plot_area) = root.split_vertically(50);
    title_area.titled(
        &format!(
            "Throughput relative to {} (1.0 = {}; higher is better)",
            baseline.name(),
            baseline.name()
        ),
        ("sans-serif", 20),
    )?;
    title_area.draw(&Text::new(
        subtitle.to_string(),
        (10, 32),
        ("sans-serif", 12).into_font().color(&RGBColor(90, 90, 90)),
    ))?;
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(GroupAxis(groups.len()), 0.0..top)?;
    let names: Vec<String> = groups.iter().map(|(name, _)| name.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|x| names.get(*x as usize).cloned().unwrap_or_default())
        .x_label_style(("sans-serif", 13))
        .y_desc(format!("median / {} median", baseline.name()))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 1.0), (groups.len() as f64, 1.0)],
        BLACK.stroke_width(1),
    )))?;
    for (j, server) in servers.iter().enumerate() {
        let color = server.color();
        let x0 = |i: usize| i as f64 + 0.1 + j as f64 * bar;
        let bars: Vec<(f64, f64)> = groups
            .iter()
            .enumerate()
            .filter_map(|(i, (_, values))| {
                values
                    .iter()
                    .find(|(s, _)| s == server)
                    .map(|(_, v)| (x0(i), *v))
            })
            .collect();
        chart
            .draw_series(bars.iter().map(|&(x, v)| {
                Rectangle::new([(x + 0.01, 0.0), (x + bar - 0.01, v)], color.filled())
            }))?
            .label(server.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled()));
        let value_style = ("sans-serif", 11)
            .into_font()
            .into_text_style(&plot_area)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(bars.iter().map(|&(x, v)| {
            Text::new(format!("{v:.2}"), (x + bar / 2.0, v), value_style.clone())
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()?;
    Ok(())
}

// ------------------------------------------------------------ main

/// Hidden first argument: `compare --exec-dying-with-parent PROGRAM ARGS...`
/// asks for SIGKILL when its parent (strace) dies, then becomes PROGRAM.
const EXEC_SHIM: &str = "--exec-dying-with-parent";

fn exec_shim(program_and_args: &[OsString]) -> ExitCode {
    let Some((program, args)) = program_and_args.split_first() else {
        return ExitCode::from(2);
    };
    // SAFETY: prctl with these arguments only sets a flag on this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let e = Command::new(program).args(args).exec();
    eprintln!("compare: cannot run {}: {e}", Path::new(program).display());
    ExitCode::from(127)
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == EXEC_SHIM) {
        return exec_shim(&argv[2..]);
    }
    let args = Args::parse_from(argv);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Cargo's target directory, whatever CARGO_TARGET_DIR says: this program
/// is TARGET/release/examples/compare (or TARGET/debug/...).
fn target_dir() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    me.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("cannot find the target directory from {}", me.display()))
}

/// Builds the binaries (release) and returns where they are.
fn build(args: &Args, out: &Path) -> Result<Binaries, String> {
    let release = target_dir()?.join("release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--release", "--bin", "echo-reactor"])
        .args(["--example", "loadgen", "--example", "tokio_echo"]);
    if !args.skip_idle {
        command.args(["--example", "idle_swarm"]);
    }
    eprintln!("compare: building the servers and the load generator (cargo build --release)");
    let status = command
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }

    let epoll_echo = match &args.epoll_echo {
        None => None,
        Some(source) => {
            let Some(compiler) = ["cc", "gcc"].into_iter().find(|c| exists(c)) else {
                return Err(format!(
                    "--epoll-echo {} given, but neither cc nor gcc is installed",
                    source.display()
                ));
            };
            let binary = out.join("epoll-echo");
            eprintln!(
                "compare: {compiler} -O2 -o {} {}",
                binary.display(),
                source.display()
            );
            let status = Command::new(compiler)
                .arg("-O2")
                .arg("-o")
                .arg(&binary)
                .arg(source)
                .status()
                .map_err(|e| format!("cannot run {compiler}: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "{compiler} failed on {} ({status})",
                    source.display()
                ));
            }
            Some(binary)
        }
    };
    let bins = Binaries {
        echo_reactor: release.join("echo-reactor"),
        tokio_echo: release.join("examples/tokio_echo"),
        loadgen: release.join("examples/loadgen"),
        idle_swarm: release.join("examples/idle_swarm"),
        epoll_echo,
    };
    for path in [&bins.echo_reactor, &bins.tokio_echo, &bins.loadgen] {
        if !path.exists() {
            return Err(format!("built, but {} is not there", path.display()));
        }
    }
    Ok(bins)
}

fn run(args: Args) -> Result<(), String> {
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 1e7) {
        return Err(format!("--rate {} is not between 0 and 1e7", args.rate));
    }
    let timing = Timing::new(args.quick);
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => target_dir()?.join("compare"),
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let out = out.canonicalize().unwrap_or(out);
    // idle_swarm's 19,000 connections need descriptors in the server too;
    // children inherit the raised limit.
    let _ = echo_reactor::fd_limit::raise_nofile_limit();

    let bins = build(&args, &out)?;
    let mut servers = vec![Server::EchoReactor];
    if bins.epoll_echo.is_some() {
        servers.push(Server::EpollEcho);
    }
    servers.extend([
        Server::EchoReactorTwo,
        Server::TokioCurrent,
        Server::TokioMulti,
    ]);
    let scenarios = scenarios(&timing, args.rate);

    let mut results = Results::default();
    repeated_runs(&args, &bins, &servers, &scenarios, &timing, &mut results);
    if args.skip_tools {
        results
            .notes
            .push("strace and callgrind runs skipped (--skip-tools)".into());
    } else {
        noise_free_runs(&bins, &servers, &timing, &out, &mut results);
    }
    if args.skip_idle {
        results
            .notes
            .push("idle memory run skipped (--skip-idle)".into());
    } else {
        for &server in &servers {
            let result = idle_run(server, &bins, &timing, &mut results.samples);
            results.check(&format!("idle {}", server.name()), result);
        }
    }

    let svg = out.join("compare.svg");
    let result = draw_chart(&svg, &args, &servers, &scenarios, &results.samples);
    results.check("chart", result.map_err(|e| e.to_string()));
    let report = render_report(&args, &timing, &servers, &scenarios, &mut results);
    let csv = out.join("raw.csv");
    write_csv(&csv, &results.samples)?;
    let summary = out.join("summary.txt");
    std::fs::write(&summary, &report)
        .map_err(|e| format!("cannot write {}: {e}", summary.display()))?;

    println!("{report}");
    println!("raw numbers: {}", csv.display());
    println!("this table:  {}", summary.display());
    if svg.exists() {
        println!("chart:       {}", svg.display());
    }
    if !args.skip_tools {
        println!("strace and callgrind outputs: {}", out.display());
    }
    match results.failures.len() {
        0 => Ok(()),
        n => Err(format!("{n} run(s) failed (listed above)")),
    }
}

/// Everything measured, and what went wrong.
#[derive(Default)]
struct Results {
    samples: Vec<Sample>,
    /// Runs that failed: one line each.
    failures: Vec<String>,
    /// What was skipped, and why.
    notes: Vec<String>,
}

impl Results {
    /// Records a failed run (and says so on stderr); a failure does not stop
    /// the others.
    fn check(&mut self, what: &str, result: Result<(), String>) {
        if let Err(e) = result {
            eprintln!("compare: {what} FAILED: {e}");
            let what = what.split_whitespace().collect::<Vec<_>>().join(" ");
            let why = e.lines().next().unwrap_or_default();
            self.failures.push(format!("{what}: {why}"));
        }
    }
}

/// 1 and 2: every scenario against every server, `--repeats` times,
/// interleaved.
fn repeated_runs(
    args: &Args,
    bins: &Binaries,
    servers: &[Server],
    scenarios: &[Scenario],
    timing: &Timing,
    results: &mut Results,
) {
    let per_run = timing.warmup + timing.duration + 0.5;
    eprintln!(
        "compare: {} servers x {} scenarios x {} repeats, about {:.0} s per repeat{}",
        servers.len(),
        scenarios.len(),
        args.repeats,
        servers.len() as f64 * (per_run * (scenarios.len() - 1) as f64 + 3.0),
        if args.quick { " (--quick)" } else { "" }
    );
    for repeat in 1..=args.repeats {
        for scenario in scenarios {
            for &server in servers {
                let what = format!(
                    "[repeat {repeat}/{}] {:<26} {:<14}",
                    args.repeats,
                    scenario.label,
                    server.name()
                );
                let result = run_scenario(scenario, server, bins, timing, args.rate).map(
                    |Measured { numbers, errors }| {
                        let (metric, value) = numbers[0];
                        let extra = match scenario.kind {
                            Kind::FixedRate => format!(
                                ", p99 {:.0} µs, {:.0} msg/s achieved",
                                numbers[1].1, numbers[2].1
                            ),
                            _ => String::new(),
                        };
                        eprintln!(
                            "compare: {what} {} {metric}{extra}{}",
                            human(value),
                            error_note(errors)
                        );
                        let errors = ("loadgen errors", errors as f64);
                        for (metric, value) in numbers.into_iter().chain([errors]) {
                            results.samples.push(Sample {
                                repeat,
                                scenario: scenario.key,
                                server,
                                metric,
                                value,
                            });
                        }
                    },
                );
                results.check(&what, result);
            }
        }
    }
}

/// 3: syscalls and instructions per echo, once per server.
fn noise_free_runs(
    bins: &Binaries,
    servers: &[Server],
    timing: &Timing,
    out: &Path,
    results: &mut Results,
) {
    let have_strace = exists("strace");
    let have_valgrind = exists("valgrind");
    if !have_strace {
        results
            .notes
            .push("strace is not installed: no syscalls per echo".into());
    }
    if !have_valgrind {
        results
            .notes
            .push("valgrind is not installed: no instructions per echo".into());
    }
    for &server in servers {
        if have_strace {
            let result = strace_run(server, bins, timing, out, results);
            results.check(&format!("strace {}", server.name()), result);
        }
        if have_valgrind {
            let result = callgrind_run(server, bins, timing, out, &mut results.samples);
            results.check(&format!("callgrind {}", server.name()), result);
        }
    }
}

/// The two tables, then notes and failures.
fn render_report(
    args: &Args,
    timing: &Timing,
    servers: &[Server],
    scenarios: &[Scenario],
    results: &mut Results,
) -> String {
    let mut rows: Vec<Row> = scenarios
        .iter()
        .map(|s| {
            let (metric, higher_is_better, unit) = match s.kind {
                Kind::Closed(..) => ("msg/s", true, "msg/s"),
                Kind::Bulk => ("GB/s", true, "GB/s"),
                Kind::FixedRate => ("CPU µs/echo", false, "server CPU µs/echo"),
            };
            Row {
                label: format!("{}, {unit}", s.label),
                scenario: s.key,
                metric,
                higher_is_better,
            }
        })
        .collect();
    rows.push(Row {
        label: format!("fixed {}/s C=50 64 B, p99 µs", args.rate),
        scenario: "fixed-rate",
        metric: "p99 µs",
        higher_is_better: false,
    });
    let once = [
        ("strace", "syscalls/echo", "syscalls per echo (strace)"),
        (
            "strace",
            "epoll_wait/echo",
            "epoll_wait calls per echo (strace)",
        ),
        (
            "callgrind",
            "instructions/echo",
            "user-space instructions per echo (callgrind)",
        ),
        ("idle", "idle RSS B/conn", "RSS bytes per idle connection"),
    ];
    let once_rows: Vec<Row> = once
        .iter()
        .map(|&(scenario, metric, label)| Row {
            label: label.into(),
            scenario,
            metric,
            higher_is_better: false,
        })
        .collect();

    let mut report = format!(
        "Medians of {} interleaved repeat(s){}.\n\
         ER/x = echo-reactor's figure / x's; ↓ = lower is better.\n\n",
        args.repeats,
        if args.quick {
            " (--quick: 0.3 s warm-up + 1 s measured, 64 MiB bulk)"
        } else {
            " (1 s warm-up + 5 s measured)"
        }
    );
    report.push_str(&render_table(&rows, servers, &results.samples));
    let once_table = render_table(&once_rows, servers, &results.samples);
    if !once_table.is_empty() {
        let _ = writeln!(
            report,
            "\nOnce per server, noise-free (strace: {} msg/s x {} s; callgrind: {} msg/s x {} s; \
             idle: {} connections)\n",
            timing.strace.0, timing.strace.1, timing.callgrind.0, timing.callgrind.1, timing.idle.0
        );
        report.push_str(&once_table);
    }

    // Every run's error count is a sample; list the ones that were not zero.
    for s in results
        .samples
        .iter()
        .filter(|s| s.metric.ends_with("errors") && s.value > 0.0)
    {
        let run = match s.repeat {
            0 => String::new(),
            r => format!(", repeat {r}"),
        };
        results.notes.push(format!(
            "{} = {} in {} / {}{run}: its figures are suspect",
            s.metric,
            s.value,
            s.scenario,
            s.server.name(),
        ));
    }
    if !(results.notes.is_empty() && results.failures.is_empty()) {
        report.push('\n');
    }
    for note in &results.notes {
        let _ = writeln!(report, "note: {note}");
    }
    for failure in &results.failures {
        let _ = writeln!(report, "failed: {failure}");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_loadgen_json() {
        let fields = parse_flat_json(
            r#"{"mode":"pingpong","target":"127.0.0.1:1","rate":null,"messages":100,"messages_per_s":20000.500,"errors":0,"x":"a\"b"}"#,
        )
        .unwrap();
        assert_eq!(fields["mode"], Json::Text("pingpong".into()));
        assert_eq!(fields["rate"], Json::Null);
        assert_eq!(fields["messages_per_s"], Json::Number(20000.5));
        assert_eq!(fields["x"], Json::Text("a\"b".into()));
    }

    #[test]
    fn reads_strace_summary() {
        let text = "% time     seconds  usecs/call     calls    errors syscall\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                    \x2050.00    0.100000           1    100000           write\n\
                    \x2040.00    0.080000           1    100000       10 read\n\
                    \x2010.00    0.020000           1     20000           epoll_wait\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                    100.00    0.200000           1    220000       10 total\n";
        let summary = parse_strace(text).unwrap();
        assert_eq!(summary.total, 220000.0);
        assert_eq!(summary.writes, 100000.0);
        assert_eq!(summary.epoll_waits, 20000.0);
        assert_eq!(summary.each.len(), 3);
    }

    #[test]
    fn finds_the_listening_address() {
        assert_eq!(
            listening_address("[2024 INFO  echo_reactor::server] listening on 127.0.0.1:4242"),
            Some("127.0.0.1:4242".parse().unwrap())
        );
        assert_eq!(listening_address("nothing here"), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, f64::NAN, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
