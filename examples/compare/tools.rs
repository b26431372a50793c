//! Running the load tools, `echo-loadgen` and `echo-idle-swarm`: output
//! captured, bounded in time, killed if the comparison gives up on them,
//! and their JSON reports read back.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use echo_reactor::tools::report::{IdleReport, LoadReport, SearchReport};
use serde::de::DeserializeOwned;

use crate::binaries::Binaries;
use crate::children;
use crate::parse;

/// A tool running with its output captured; killed if dropped before it
/// finished.
pub struct Tool {
    name: &'static str,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    done: bool,
}

/// What a tool printed, and how it exited.
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
        children::die_with_parent(&mut command);
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
        let status = match children::wait_until(&mut self.child, Instant::now() + timeout) {
            Ok(Some(status)) => status,
            Ok(None) => return Err(format!("{} did not finish within {timeout:?}", self.name)),
            Err(e) => return Err(format!("cannot wait for {}: {e}", self.name)),
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

    /// Waits (bounded) for the tool and reads its report. A report with
    /// errors is returned too (the tool exits 1 then): the caller counts
    /// them.
    fn report<T: DeserializeOwned>(self, timeout: Duration) -> Result<T, String> {
        let name = self.name;
        let out = self.finish(timeout)?;
        match parse::json_report(name, &out.stdout)? {
            Some(report) => Ok(report),
            None => Err(format!(
                "{name} printed no report ({}):\n    {}\n    {}",
                out.status,
                last_lines(&out.stdout, 5),
                last_lines(&out.stderr, 5)
            )),
        }
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        if !self.done {
            children::kill(&mut self.child);
        }
    }
}

/// Starts echo-loadgen against `addr` with `args` (plus `--target` and
/// `--json`); [`loadgen_finish`] waits for it.
pub fn loadgen_start(bins: &Binaries, addr: SocketAddr, args: &[String]) -> Result<Tool, String> {
    let mut all = strings(&["--json", "--target"]);
    all.push(addr.to_string());
    all.extend_from_slice(args);
    Tool::spawn("echo-loadgen", &bins.loadgen, &all)
}

/// Waits (bounded) for echo-loadgen and reads its report.
pub fn loadgen_finish(tool: Tool, timeout: Duration) -> Result<LoadReport, String> {
    tool.report(timeout)
}

/// Runs echo-loadgen against `addr` with `args` to the end (bounded).
pub fn loadgen(
    bins: &Binaries,
    addr: SocketAddr,
    args: &[String],
    timeout: Duration,
) -> Result<LoadReport, String> {
    loadgen_finish(loadgen_start(bins, addr, args)?, timeout)
}

/// Runs echo-loadgen's rate search (`args` holds `--objective`) against
/// `addr` to the end (bounded), on CPU `pin` alone when given (`taskset
/// -c`, which execs it), and reads its report: the one it prints when no
/// rate met the objective (exit status 1) too.
pub fn loadgen_search(
    bins: &Binaries,
    addr: SocketAddr,
    args: &[String],
    pin: Option<u32>,
    timeout: Duration,
) -> Result<SearchReport, String> {
    let mut all = strings(&["--json", "--target"]);
    all.push(addr.to_string());
    all.extend_from_slice(args);
    let tool = match pin {
        Some(cpu) => {
            let mut pinned = strings(&["-c", &cpu.to_string()]);
            pinned.push(bins.loadgen.display().to_string());
            pinned.extend(all);
            Tool::spawn("echo-loadgen", Path::new("taskset"), &pinned)?
        }
        None => Tool::spawn("echo-loadgen", &bins.loadgen, &all)?,
    };
    tool.report(timeout)
}

/// Runs echo-idle-swarm: `connections` idle connections to `addr` held
/// `hold` seconds, measured in the server process `pid`.
pub fn idle_swarm(
    bins: &Binaries,
    addr: SocketAddr,
    pid: u32,
    connections: u32,
    hold: f64,
) -> Result<IdleReport, String> {
    let args = strings(&[
        "--json",
        "--target",
        &addr.to_string(),
        "--connections",
        &connections.to_string(),
        "--hold",
        &hold.to_string(),
        "--server-pid",
        &pid.to_string(),
    ]);
    let tool = Tool::spawn("echo-idle-swarm", &bins.idle_swarm, &args)?;
    tool.report(Duration::from_secs(300))
}

/// The last `n` lines of `text`, indented, for error messages.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n    ")
}

/// Owned command-line arguments.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
