//! Opens many idle connections to an echo server and measures what they cost.
//!
//! ```sh
//! cargo run --release &                       # the server under test
//! cargo run --release --example idle_swarm -- --connections 19000 \
//!     --hold 10 --server-pid "$(pgrep -n echo-reactor)"
//! ```
//!
//! Phases, each bounded in time:
//!
//! 1. **Connect** N connections as fast as the machine allows: non-blocking
//!    `connect`s, up to `--in-flight` at once, completed through a mio poll.
//!    Each socket binds to a source address 127.0.0.1 ... 127.0.0.K first,
//!    with `IP_BIND_ADDRESS_NO_PORT` so the kernel picks the port at
//!    `connect` time per (source, destination) pair: one source address has
//!    only ~28k ephemeral ports, and `bind` without that option would
//!    reserve a port per socket and slow every bind down.
//! 2. **Settle**: one more connection, the probe, echoes a message. The
//!    listen queue is first in, first out and the server accepts until it is
//!    empty, so once the probe's echo is back every idle connection has been
//!    accepted. With `--server-pid`, the server's RSS before and after gives
//!    the memory each idle connection costs.
//! 3. **Hold** for `--hold` seconds: the idle connections do nothing while
//!    the probe measures echo latency every `--probe-ms` (100 ms); with `--server-pid`, the
//!    server's CPU time over the hold is reported (an idle server should use
//!    next to none: the probe's 10 echoes a second are all it has to do).
//! 4. **Check** a random sample of the idle connections: each must still
//!    echo a message of its own, byte for byte.
//!
//! The exit status is 0 when every connection opened and every sampled echo
//! came back intact, 1 otherwise.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Opens many idle connections to an echo server, holds them, and reports
/// what they cost the server.
#[derive(Parser, Debug)]
pub struct Args {
    /// The echo server (loopback only).
    #[arg(long, default_value = "127.0.0.1:65432")]
    target: SocketAddr,
    /// Idle connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Source addresses to spread them over: 127.0.0.1 ... 127.0.0.K.
    #[arg(long, default_value_t = 16)]
    sources: u8,
    /// Connects in progress at once.
    #[arg(long, default_value_t = 1024)]
    in_flight: usize,
    /// Seconds to hold the connections idle.
    #[arg(long, default_value_t = 10.0)]
    hold: f64,
    /// Idle connections to check for an intact echo at the end.
    #[arg(long, default_value_t = 200)]
    sample: usize,
    /// The server's process id, to report its memory and CPU use.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Milliseconds between the probe's echoes during the hold; 0 turns the
    /// probe off, so the server has nothing at all to do (for counting its
    /// system calls while idle: `strace -c -p PID`).
    #[arg(long, default_value_t = 100)]
    probe_ms: u64,
    /// Seconds the connect phase may take before it gives up.
    #[arg(long, default_value_t = 120.0)]
    connect_timeout: f64,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            eprintln!(
                "idle_swarm: {}",
                text.lines().next().unwrap_or("bad arguments")
            );
            return ExitCode::from(2);
        }
    };
    if !args.target.ip().is_loopback() || !args.target.is_ipv4() {
        eprintln!("idle_swarm: the target must be an IPv4 loopback address (127.0.0.0/8)");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("idle_swarm: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Server memory and CPU, read from /proc.
#[derive(Clone, Copy)]
struct ServerUsage {
    rss_bytes: u64,
    cpu: Duration,
}

fn server_usage(pid: u32) -> io::Result<ServerUsage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
    let cpu = Duration::from_millis((ticks(11) + ticks(12)) * 10);
    Ok(ServerUsage {
        rss_bytes: rss_kib * 1024,
        cpu,
    })
}

/// Runs every phase; `Ok(true)` when all connections opened and every
/// sampled echo came back intact.
pub fn run(args: &Args) -> io::Result<bool> {
    match echo_reactor::fd_limit::raise_nofile_limit() {
        Ok((_, limit)) if (limit as usize) < args.connections + 64 => eprintln!(
            "idle_swarm: the open-files limit is {limit}; expect to stop short of {} connections",
            args.connections
        ),
        Ok(_) => {}
        Err(e) => eprintln!("idle_swarm: cannot raise the open-files limit: {e}"),
    }
    let before = args.server_pid.map(server_usage).transpose()?;

    let started = Instant::now();
    let idle = connect_all(args)?;
    let connect_time = started.elapsed();
    println!(
        "connected {} of {} in {:.2} s ({:.0} connections/s)",
        idle.len(),
        args.connections,
        connect_time.as_secs_f64(),
        idle.len() as f64 / connect_time.as_secs_f64().max(1e-9)
    );

    let mut probe = TcpStream::connect(args.target)?;
    probe.set_nodelay(true)?;
    probe.set_read_timeout(Some(Duration::from_secs(10)))?;
    echo_once(&mut probe, b"settle")?;
    // Let freed pages and lazily touched ones settle before reading RSS.
    std::thread::sleep(Duration::from_millis(500));
    let settled = args.server_pid.map(server_usage).transpose()?;

    let hold = Duration::from_secs_f64(args.hold.max(0.0));
    let mut latencies = Vec::new();
    let hold_start = Instant::now();
    let mut next_probe = hold_start;
    let message = [0x5a_u8; 64];
    while hold_start.elapsed() < hold {
        if args.probe_ms == 0 {
            std::thread::sleep(hold);
            break;
        }
        let now = Instant::now();
        if now < next_probe {
            std::thread::sleep(next_probe - now);
        }
        next_probe += Duration::from_millis(args.probe_ms);
        let sent = Instant::now();
        echo_once(&mut probe, &message)?;
        latencies.push(sent.elapsed());
    }
    let held = args.server_pid.map(server_usage).transpose()?;

    let (checked, failed) = check_sample(args, &idle);

    if let (Some(before), Some(settled), Some(held)) = (before, settled, held) {
        let growth = settled.rss_bytes.saturating_sub(before.rss_bytes);
        println!(
            "server RSS: {:.1} MiB before, {:.1} MiB with {} idle connections: {:.1} bytes per connection",
            before.rss_bytes as f64 / 1048576.0,
            settled.rss_bytes as f64 / 1048576.0,
            idle.len(),
            growth as f64 / idle.len().max(1) as f64
        );
        println!(
            "server CPU over the {:.1} s hold: {} ms (the probe's {} echoes included)",
            hold.as_secs_f64(),
            held.cpu.saturating_sub(settled.cpu).as_millis(),
            latencies.len()
        );
    }
    if !latencies.is_empty() {
        latencies.sort();
        let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        println!(
            "probe echo latency over the hold: p50 {} µs, p99 {} µs, max {} µs ({} echoes)",
            pick(0.5).as_micros(),
            pick(0.99).as_micros(),
            latencies[latencies.len() - 1].as_micros(),
            latencies.len()
        );
    }
    println!("sampled idle connections: {checked} checked, {failed} failed");
    Ok(idle.len() == args.connections && failed == 0)
}

/// Opens `args.connections` connections with non-blocking connects.
fn connect_all(args: &Args) -> io::Result<Vec<TcpStream>> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut connecting: Vec<Option<MioStream>> = Vec::new();
    let mut free_slots: Vec<usize> = Vec::new();
    let mut in_flight = 0;
    let mut done = Vec::with_capacity(args.connections);
    let mut started = 0;
    let mut failures = 0;
    let deadline = Instant::now() + Duration::from_secs_f64(args.connect_timeout);
    let mut next_report = Instant::now() + Duration::from_secs(1);

    while done.len() + failures < args.connections {
        if Instant::now() >= deadline {
            eprintln!("idle_swarm: connect phase timed out");
            break;
        }
        while in_flight < args.in_flight && started < args.connections {
            let source = Ipv4Addr::new(
                127,
                0,
                0,
                1 + (started % args.sources.max(1) as usize) as u8,
            );
            let mut stream = match start_connect(source, args.target) {
                Ok(stream) => stream,
                Err(e) => {
                    eprintln!("idle_swarm: connection {started}: {e}");
                    failures += 1;
                    started += 1;
                    continue;
                }
            };
            let slot = free_slots.pop().unwrap_or_else(|| {
                connecting.push(None);
                connecting.len() - 1
            });
            poll.registry()
                .register(&mut stream, Token(slot), Interest::WRITABLE)?;
            connecting[slot] = Some(stream);
            in_flight += 1;
            started += 1;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in events.iter() {
            let slot = event.token().0;
            let Some(mut stream) = connecting[slot].take() else {
                continue;
            };
            poll.registry().deregister(&mut stream)?;
            free_slots.push(slot);
            in_flight -= 1;
            match stream.take_error()? {
                None => {
                    let std_stream = TcpStream::from(std::os::fd::OwnedFd::from(stream));
                    std_stream.set_nonblocking(false)?;
                    done.push(std_stream);
                }
                Some(e) => {
                    failures += 1;
                    if failures <= 5 {
                        eprintln!("idle_swarm: a connect failed: {e}");
                    }
                }
            }
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(1);
            eprintln!(
                "idle_swarm: {} connected, {} connecting, {} failed",
                done.len(),
                in_flight,
                failures
            );
        }
    }
    Ok(done)
}

/// Starts a non-blocking connect from `source` (port chosen at connect).
fn start_connect(source: Ipv4Addr, target: SocketAddr) -> io::Result<MioStream> {
    let socket = Socket::new(
        Domain::IPV4,
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    let enable: libc::c_int = 1;
    // SAFETY: the fd is a valid socket for the whole call, and the option
    // value points to a c_int that outlives it, with its size passed along.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&enable as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    socket.bind(&SockAddr::from(SocketAddr::new(IpAddr::V4(source), 0)))?;
    match socket.connect(&SockAddr::from(target)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(MioStream::from_std(TcpStream::from(socket)))
}

fn echo_once(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    stream.write_all(message)?;
    let mut echo = vec![0; message.len()];
    stream.read_exact(&mut echo)?;
    if echo != message {
        return Err(io::Error::other("the echo differs from what was sent"));
    }
    Ok(())
}

/// Sends a message of its own on each of a random sample of the idle
/// connections and checks the echo; returns (checked, failed).
fn check_sample(args: &Args, idle: &[TcpStream]) -> (usize, usize) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut failed = 0;
    let count = args.sample.min(idle.len());
    for i in 0..count {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = (state % idle.len() as u64) as usize;
        let mut stream = &idle[index];
        let message = format!("idle connection {index}, check {i}");
        let result = stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .and_then(|()| stream.write_all(message.as_bytes()))
            .and_then(|()| {
                let mut echo = vec![0; message.len()];
                stream.read_exact(&mut echo).map(|()| echo)
            });
        match result {
            Ok(echo) if echo == message.as_bytes() => {}
            Ok(_) => {
                failed += 1;
                eprintln!("idle_swarm: connection {index} echoed different bytes");
            }
            Err(e) => {
                failed += 1;
                eprintln!("idle_swarm: connection {index}: {e}");
            }
        }
    }
    (count, failed)
}
