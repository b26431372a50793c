//! The connect phase: many non-blocking connects at once, spread over
//! several loopback source addresses, completed through a mio poll.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use echo_reactor::tools::source::{loopback_source, socket_from};
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use socket2::SockAddr;

use crate::PROGRAM;

/// How the connect phase goes.
pub struct Connects {
    pub target: SocketAddr,
    /// Connections to open.
    pub count: usize,
    /// Source addresses to spread them over: 127.0.0.1 ... 127.0.0.K.
    pub sources: u8,
    /// Connects in progress at once.
    pub in_flight: usize,
    /// When to give up on the ones not connected yet.
    pub timeout: Duration,
}

/// Opens up to `plan.count` connections with non-blocking connects, and
/// returns the ones that opened (blocking again). Failures are reported on
/// stderr (the first five) and counted in the progress line.
pub fn connect_all(plan: &Connects) -> io::Result<Vec<TcpStream>> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut connecting: Vec<Option<MioStream>> = Vec::new();
    let mut free_slots: Vec<usize> = Vec::new();
    let mut in_flight = 0;
    let mut done = Vec::with_capacity(plan.count);
    let mut started = 0;
    let mut failures = 0;
    let deadline = Instant::now() + plan.timeout;
    let mut next_report = Instant::now() + Duration::from_secs(1);

    while done.len() + failures < plan.count {
        if Instant::now() >= deadline {
            eprintln!("{PROGRAM}: connect phase timed out");
            break;
        }
        while in_flight < plan.in_flight && started < plan.count {
            let source = loopback_source(started, plan.sources);
            let mut stream = match start_connect(source, plan.target) {
                Ok(stream) => stream,
                Err(e) => {
                    eprintln!("{PROGRAM}: connection {started}: {e}");
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
                    let std_stream = TcpStream::from(OwnedFd::from(stream));
                    std_stream.set_nonblocking(false)?;
                    done.push(std_stream);
                }
                Some(e) => {
                    failures += 1;
                    if failures <= 5 {
                        eprintln!("{PROGRAM}: a connect failed: {e}");
                    }
                }
            }
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(1);
            eprintln!(
                "{PROGRAM}: {} connected, {in_flight} connecting, {failures} failed",
                done.len()
            );
        }
    }
    Ok(done)
}

/// Starts a non-blocking connect from `source` (port chosen at connect:
/// `IP_BIND_ADDRESS_NO_PORT`, see `echo_reactor::tools::source`).
fn start_connect(source: Ipv4Addr, target: SocketAddr) -> io::Result<MioStream> {
    let socket = socket_from(source, true)?;
    match socket.connect(&SockAddr::from(target)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(MioStream::from_std(TcpStream::from(socket)))
}
