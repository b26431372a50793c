//! Mode churn: short-lived connections. Each of the `--connections`
//! threads runs one lifecycle after another on a blocking socket (see
//! "Churn" in the crate doc): connect, send one message and check its
//! echo, half-close, wait for the server's end of stream, close; with
//! `--tls`, a handshake after the connect and a `close_notify` before the
//! half-close. The lifecycle is what is measured: one a message, timed
//! from the connect (with `--rate`, from its scheduled start) to the end
//! of stream.

use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use echo_reactor::tools::source::{loopback_source, socket_from};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::blocking::{read_buffer, BlockingConn, Failure, Ledger, Stream, WsStream};
use crate::counters::{Pool, Shared};
use crate::job::{Job, ThreadReport};
use crate::model::{Lifecycles, Pace, Plan};
use crate::pattern::Pattern;
use crate::timer::{nanos, now_ns, Schedule};
use crate::tls::TlsClient;

/// One thread of the run per connection of the plan, each running `churn`,
/// their latencies all in `pool`.
pub fn jobs(
    plan: &Plan,
    churn: Lifecycles,
    tls: Option<&TlsClient>,
    pattern: &Arc<Pattern>,
    shared: &Arc<Shared>,
    pool: &Pool,
) -> Vec<Job> {
    (0..plan.threads)
        .map(|index| {
            let churner = Churner {
                index,
                plan: *plan,
                churn,
                tls: tls.cloned(),
                pattern: pattern.clone(),
                buf: read_buffer(churn.messages.size),
                ledger: Ledger::new(shared, pool),
            };
            Box::new(move |start_line: &Barrier| churner.run(start_line)) as Job
        })
        .collect()
}

/// One churning thread.
struct Churner {
    /// This thread's number: it runs lifecycles `index`, `index + threads`,
    /// `index + 2 * threads`...
    index: usize,
    plan: Plan,
    churn: Lifecycles,
    /// Speak TLS (`--tls`).
    tls: Option<TlsClient>,
    pattern: Arc<Pattern>,
    /// Where echoes are read into.
    buf: Vec<u8>,
    ledger: Ledger,
}

impl Churner {
    /// Waits at `start_line` with the other threads, then runs lifecycles
    /// until the measured time is over; the last one started finishes.
    fn run(mut self, start_line: &Barrier) -> ThreadReport {
        let timeline = self.ledger.start(&self.plan.load, start_line);
        let threads = self.plan.threads;
        let mut schedule = match self.churn.messages.pace {
            Pace::Rate(rate) => {
                let mut schedule = Schedule::new(rate, 1, threads, self.index, threads);
                schedule.start(timeline.start);
                Some(schedule)
            }
            Pace::ClosedLoop { .. } => None,
        };
        let mut number = self.index;
        loop {
            let due = match &mut schedule {
                Some(schedule) => {
                    let due = schedule.next_due;
                    schedule.advance(1);
                    due
                }
                None => now_ns(),
            };
            if due >= timeline.stop_sending {
                break;
            }
            sleep_until(due);
            match self.lifecycle(number) {
                Ok(()) => self.ledger.recorder.echoed(due, now_ns()),
                Err(failure) => self.count(failure),
            }
            number += threads;
            self.ledger.publish();
        }
        self.ledger.finish(timeline)
    }

    /// Lifecycle `number` of the run: connect (and the TLS handshake, and
    /// the WebSocket upgrade), one echo, half-close (after a close frame),
    /// end of stream; dropping the connection closes it.
    fn lifecycle(&mut self, number: usize) -> Result<(), Failure> {
        let deadline = now_ns() + nanos(self.churn.timeout);
        let socket = self.connect(number).inspect_err(|failure| {
            if let Failure::TimedOut = failure {
                self.ledger.recorder.tally.errors.seen.connect_timeouts += 1;
            }
        })?;
        let mut stream = match &self.tls {
            Some(tls) => Stream::over_tls(tls, socket, deadline)?,
            None => Stream::Plain(socket),
        };
        if self.plan.websocket {
            stream = Stream::Ws(Box::new(WsStream::upgrade(stream, deadline)?));
        }
        let mut conn = BlockingConn::new(stream, number);
        let tally = &mut self.ledger.recorder.tally;
        let size = self.churn.messages.size;
        conn.echo(size, &self.pattern, &mut self.buf, tally, deadline)?;
        conn.finish(&mut self.buf, tally, deadline)
    }

    /// A blocking connection to the target for lifecycle `number`, from
    /// its source address; each of its waits, the connect's too, times
    /// out after the lifecycle timeout.
    fn connect(&self, number: usize) -> Result<TcpStream, Failure> {
        let target = self.plan.target;
        let socket = match self.churn.sources {
            Some(sources) => socket_from(loopback_source(number, sources), false),
            None => Socket::new(
                Domain::for_address(target),
                Type::STREAM,
                Some(Protocol::TCP),
            ),
        }
        .map_err(Failure::Io)?;
        let timeout = Some(self.churn.timeout);
        socket.set_read_timeout(timeout).map_err(Failure::Io)?;
        socket.set_write_timeout(timeout).map_err(Failure::Io)?;
        // A message larger than a segment must not wait for an ACK.
        socket.set_tcp_nodelay(true).map_err(Failure::Io)?;
        match socket.connect(&SockAddr::from(target)) {
            Ok(()) => Ok(socket.into()),
            // The send timeout ran out with the handshake unfinished.
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Err(Failure::TimedOut),
            Err(e) => Err(Failure::Io(e)),
        }
    }

    /// Counts a lifecycle that failed; the first I/O error is kept for the
    /// report.
    fn count(&mut self, failure: Failure) {
        let errors = &mut self.ledger.recorder.tally.errors;
        match failure {
            Failure::Eof => errors.eofs += 1,
            Failure::TimedOut => errors.timeouts += 1,
            Failure::Io(e) => self.ledger.io_error(e),
        }
    }
}

/// Sleeps until `at` on the monotonic clock, if that is still ahead.
fn sleep_until(at: u64) {
    let now = now_ns();
    if at > now {
        thread::sleep(Duration::from_nanos(at - now));
    }
}
