//! The servers compared, and how one is started, found ready, read and
//! stopped: plain, under `strace` or under `valgrind`.

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::tools::process;

use crate::binaries::Binaries;
use crate::children::{self, EXEC_SHIM};
use crate::tls::TlsFiles;
use crate::tools::strings;

/// One column of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Server {
    EchoReactor,
    /// An earlier build of echo-reactor (`--baseline`), run exactly like
    /// [`Server::EchoReactor`].
    EchoReactorBaseline,
    /// `--reactors 2`: two reactor threads sharing the port.
    EchoReactorTwo,
    EpollEcho,
    TokioCurrent,
    TokioMulti,
    /// `examples/tokio_ws_echo.rs`: WebSocket only, measured in the
    /// WebSocket rows alone.
    TokioTungstenite,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::EchoReactor => "echo-reactor",
            Server::EchoReactorBaseline => "echo-reactor-baseline",
            Server::EchoReactorTwo => "echo-reactor-x2",
            Server::EpollEcho => "epoll-echo",
            Server::TokioCurrent => "tokio-current",
            Server::TokioMulti => "tokio-multi",
            Server::TokioTungstenite => "tokio-tungstenite",
        }
    }

    /// Whether the TLS scenarios run against it: echo-reactor, and the
    /// tokio-rustls peer on tokio's single-threaded runtime, like it.
    pub fn serves_tls(self) -> bool {
        matches!(self, Server::EchoReactor | Server::TokioCurrent)
    }

    /// Whether it serves on one thread, so that pinned to one CPU it runs
    /// as it was built to (not echo-reactor-x2 or tokio-multi).
    pub fn single_threaded(self) -> bool {
        !matches!(self, Server::EchoReactorTwo | Server::TokioMulti)
    }
}

/// Which of a server's listeners the comparison talks to.
#[derive(Clone, Copy)]
pub enum Listener<'a> {
    /// The plain echo listener.
    Plain,
    /// The TLS listener, serving these files.
    Tls(&'a TlsFiles),
    /// The WebSocket listener (echo-reactor's `--ws-listen`).
    WebSocket,
}

impl Listener<'_> {
    /// How the server's `listening on ADDR` line marks it.
    fn mark(self) -> &'static str {
        match self {
            Listener::Plain => "",
            Listener::Tls(_) => "tls",
            Listener::WebSocket => "ws",
        }
    }
}

/// What a server is run under.
#[derive(Clone, Copy)]
pub enum Wrapper<'a> {
    Plain,
    /// `strace -c -f -o FILE`: a count of every system call, all threads.
    Strace(&'a Path),
    /// `valgrind --tool=callgrind`: every user-space instruction.
    Callgrind(&'a Path),
    /// `taskset -c CPU`: every thread of the server on this one CPU.
    /// taskset sets the affinity and execs the server, so the process is
    /// the server's own (and keeps its parent-death signal).
    Pinned(u32),
}

/// How long a server may take to start listening (valgrind is slow).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGINT.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of a server's stderr kept for error reports.
const LOG_TAIL: usize = 20;

/// A server's CPU time so far, all threads, user + system, read two ways.
/// Both measure the same thing (the kernel splits the run time into utime
/// and stime), but utime + stime counts in clock ticks of 10 ms, too coarse
/// for a one-second window.
#[derive(Clone, Copy, Debug)]
pub struct CpuTime {
    /// The scheduler's nanosecond run time (`None` if it could not be read,
    /// say because a thread exited while it was).
    pub run_time: Option<Duration>,
    /// utime + stime, in clock ticks.
    pub ticks: Duration,
}

/// A running server. Dropping it kills it (and strace or valgrind around
/// it), so no server outlives an error or a panic; `stop` ends it gently.
pub struct Running {
    server: Server,
    /// The process spawned: the server, or strace / valgrind running it.
    child: Child,
    /// The server's own process id: strace's child under strace; valgrind
    /// runs its guest in its own process.
    pub pid: u32,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    stopped: bool,
}

impl Running {
    /// Starts `server` under `wrapper` and waits (bounded) until it accepts
    /// connections.
    pub fn start(server: Server, bins: &Binaries, wrapper: Wrapper) -> Result<Running, String> {
        Running::start_with(server, bins, wrapper, Listener::Plain)
    }

    /// Starts `server` serving TLS with `files` (see
    /// [`Server::serves_tls`]); its address is the TLS listener's.
    pub fn start_tls(server: Server, bins: &Binaries, files: &TlsFiles) -> Result<Running, String> {
        Running::start_with(server, bins, Wrapper::Plain, Listener::Tls(files))
    }

    /// Starts `server` with a WebSocket listener (echo-reactor's
    /// `--ws-listen`; the tokio-tungstenite peer has only that one); its
    /// address is that listener's.
    pub fn start_websocket(server: Server, bins: &Binaries) -> Result<Running, String> {
        Running::start_with(server, bins, Wrapper::Plain, Listener::WebSocket)
    }

    /// Starts `server` under `wrapper` with `listener` (its address is
    /// that listener's), and waits (bounded) until it accepts connections.
    pub fn start_with(
        server: Server,
        bins: &Binaries,
        wrapper: Wrapper,
        listener: Listener,
    ) -> Result<Running, String> {
        // epoll-echo takes a concrete port: take a free one from the kernel
        // and release it just before the server binds it.
        let fixed_port = match server {
            Server::EpollEcho => Some(free_port().map_err(|e| format!("no free port: {e}"))?),
            _ => None,
        };
        let mut command = server_command(server, bins, wrapper, fixed_port, listener)?;
        children::die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.name()))?;
        let spawned_pid = child.id();

        // Read stderr on a thread, for the address and for error reports.
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr is piped");
        let tail = log.clone();
        let wanted = listener.mark();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match listening_address(&line) {
                    Some((addr, mark)) if mark == wanted => {
                        let _ = addr_tx.send(addr);
                    }
                    _ => {}
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
                match process::child_of(spawned_pid) {
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

    /// The server's CPU time so far (see [`CpuTime`]).
    pub fn cpu_time(&self) -> Result<CpuTime, String> {
        Ok(CpuTime {
            run_time: process::run_time(self.pid).ok(),
            ticks: process::cpu_time(self.pid).map_err(|e| e.to_string())?,
        })
    }

    /// SIGINT, then waits (bounded) for the server, and strace or valgrind
    /// around it, to exit and write their files.
    pub fn stop(mut self) -> Result<(), String> {
        children::signal(self.pid, libc::SIGINT);
        match children::wait_until(&mut self.child, Instant::now() + STOP_TIMEOUT) {
            Ok(Some(_)) => {
                self.stopped = true;
                Ok(())
            }
            // Dropping `self` kills it.
            _ => Err(format!(
                "{} did not exit within {STOP_TIMEOUT:?} of SIGINT; killed it{}",
                self.server.name(),
                self.log_tail()
            )),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.stopped {
            if self.pid != self.child.id() {
                children::signal(self.pid, libc::SIGKILL);
            }
            children::kill(&mut self.child);
        }
    }
}

/// The command line that runs `server` (under `wrapper`; with `listener`
/// beside the plain one), its stderr piped.
fn server_command(
    server: Server,
    bins: &Binaries,
    wrapper: Wrapper,
    fixed_port: Option<u16>,
    listener: Listener,
) -> Result<Command, String> {
    const LISTEN: [&str; 2] = ["--listen", "127.0.0.1:0"];
    let tokio_flavor = |flavor| strings(&[LISTEN[0], LISTEN[1], "--flavor", flavor]);
    let (program, args): (&Path, Vec<String>) = match server {
        Server::EchoReactor => (&bins.echo_reactor, strings(&LISTEN)),
        Server::EchoReactorBaseline => (
            bins.baseline.as_deref().ok_or("no --baseline was given")?,
            strings(&LISTEN),
        ),
        Server::EchoReactorTwo => (
            &bins.echo_reactor,
            strings(&[LISTEN[0], LISTEN[1], "--reactors", "2"]),
        ),
        Server::TokioCurrent => (&bins.tokio_echo, tokio_flavor("current")),
        Server::TokioMulti => (&bins.tokio_echo, tokio_flavor("multi")),
        Server::TokioTungstenite => (&bins.tokio_ws_echo, strings(&LISTEN)),
        Server::EpollEcho => (
            bins.epoll_echo
                .as_deref()
                .ok_or("epoll-echo was not built")?,
            vec!["127.0.0.1".into(), fixed_port.unwrap_or(0).to_string()],
        ),
    };
    let mut args = args;
    if let Listener::Tls(files) = listener {
        if !server.serves_tls() {
            return Err(format!("{} has no TLS listener", server.name()));
        }
        // echo-reactor keeps its plain listener beside the TLS one; the
        // tokio peer's one listener speaks TLS.
        if server == Server::EchoReactor {
            args.extend(strings(&["--tls-listen", "127.0.0.1:0"]));
        }
        args.extend(strings(&["--tls-cert", &files.cert.display().to_string()]));
        args.extend(strings(&["--tls-key", &files.key.display().to_string()]));
    }
    // echo-reactor's WebSocket listener sits beside its plain one; the
    // tokio-tungstenite peer has only a WebSocket listener, the others none.
    match (listener, server) {
        (Listener::WebSocket, Server::EchoReactor | Server::EchoReactorBaseline) => {
            args.extend(strings(&["--ws-listen", "127.0.0.1:0"]));
        }
        (Listener::WebSocket, Server::TokioTungstenite) => {}
        (Listener::WebSocket, _) => {
            return Err(format!("{} has no WebSocket listener", server.name()));
        }
        (_, Server::TokioTungstenite) => {
            return Err("tokio-tungstenite has only a WebSocket listener".into());
        }
        _ => {}
    }
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
        Wrapper::Pinned(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(program);
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

/// The address in a `listening on ADDR` line, and its listener's mark
/// (see [`Listener::mark`]): `""` for a line with none, `"tls"` for one
/// ending in `(tls)`, `"ws"` for `(ws)`; `None` for other lines and for
/// other marks (`(udp)`...).
fn listening_address(line: &str) -> Option<(SocketAddr, &'static str)> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let mut words = rest.split_whitespace();
    let addr = words.next()?.parse().ok()?;
    match words.next() {
        None => Some((addr, "")),
        Some("(tls)") => Some((addr, "tls")),
        Some("(ws)") => Some((addr, "ws")),
        Some(_) => None,
    }
}

/// A port that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_address() {
        assert_eq!(
            listening_address("[2024 INFO  echo_reactor::server] listening on 127.0.0.1:4242"),
            Some(("127.0.0.1:4242".parse().unwrap(), ""))
        );
        assert_eq!(
            listening_address("listening on 127.0.0.1:4243 (tls)"),
            Some(("127.0.0.1:4243".parse().unwrap(), "tls"))
        );
        assert_eq!(
            listening_address("listening on 127.0.0.1:4245 (ws)"),
            Some(("127.0.0.1:4245".parse().unwrap(), "ws"))
        );
        assert_eq!(listening_address("listening on 127.0.0.1:4244 (udp)"), None);
        assert_eq!(listening_address("nothing here"), None);
    }
}
