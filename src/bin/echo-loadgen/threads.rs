//! Mode threads: the most common client there is, a blocking thread per
//! connection doing ping-pong. Each of the `--connections` threads sends a
//! `--size`-byte message on its own connection, waits for the whole echo
//! and checks it, then sends the next, from the end of the warm-up to the
//! end of the measured time (see "Threads" in the crate doc). With
//! `--tls` each connection's handshake is done when it is opened.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::blocking::{read_buffer, BlockingConn, Failure, Ledger, Stream};
use crate::connect::CONNECT_TIMEOUT;
use crate::counters::{Pool, Shared};
use crate::job::{Job, ThreadReport};
use crate::model::{Messages, Plan};
use crate::pattern::Pattern;
use crate::timer::{nanos, now_ns};
use crate::tls::TlsClient;

/// How long one blocking wait lasts before the thread looks at the clock
/// again: the sockets' send and receive timeouts. A thread waiting for an
/// echo past the end of the run notices within this; a thread that gets
/// its echoes never sees the timeout.
const WAIT_TICK: Duration = Duration::from_millis(100);

/// A blocking connection to `target`, with `TCP_NODELAY` and the wait
/// timeouts of [`WAIT_TICK`]; with `tls`, its handshake done within
/// [`CONNECT_TIMEOUT`].
pub fn open(target: SocketAddr, tls: Option<&TlsClient>) -> io::Result<Stream> {
    let stream = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(WAIT_TICK))?;
    stream.set_write_timeout(Some(WAIT_TICK))?;
    let Some(tls) = tls else {
        return Ok(Stream::Plain(stream));
    };
    let deadline = now_ns() + nanos(CONNECT_TIMEOUT);
    Stream::over_tls(tls, stream, deadline).map_err(|failure| failure.into_io("the TLS handshake"))
}

/// One thread per connection of `connections` (each numbered in the run),
/// sending `messages`, their latencies all in `pool`.
pub fn jobs(
    plan: &Plan,
    messages: Messages,
    connections: Vec<(usize, Stream)>,
    pattern: &Arc<Pattern>,
    shared: &Arc<Shared>,
    pool: &Pool,
) -> Vec<Job> {
    connections
        .into_iter()
        .map(|(id, stream)| {
            let pinger = Pinger {
                conn: BlockingConn::new(stream, id),
                plan: *plan,
                size: messages.size,
                pattern: pattern.clone(),
                buf: read_buffer(messages.size),
                ledger: Ledger::new(shared, pool),
            };
            Box::new(move |start_line: &Barrier| pinger.run(start_line)) as Job
        })
        .collect()
}

/// One connection's thread.
struct Pinger {
    conn: BlockingConn,
    plan: Plan,
    /// Bytes per message.
    size: u64,
    pattern: Arc<Pattern>,
    /// Where echoes are read into.
    buf: Vec<u8>,
    ledger: Ledger,
}

impl Pinger {
    /// Waits at `start_line` with the other threads, then sends a message
    /// whenever the last one's echo came back, until the measured time is
    /// over; the last echo has until the run gives up to come back.
    fn run(mut self, start_line: &Barrier) -> ThreadReport {
        let timeline = self.ledger.start(&self.plan.load, start_line);
        loop {
            let sent_at = now_ns();
            if sent_at >= timeline.stop_sending {
                break;
            }
            let tally = &mut self.ledger.recorder.tally;
            let echoed = self.conn.echo(
                self.size,
                &self.pattern,
                &mut self.buf,
                tally,
                timeline.give_up,
            );
            let errors = &mut tally.errors;
            match echoed {
                Ok(()) => self.ledger.recorder.echoed(sent_at, now_ns()),
                // As in the other modes: a closed connection is one error,
                // a connection still waiting at the end another.
                Err(Failure::Eof) => {
                    errors.eofs += 1;
                    break;
                }
                Err(Failure::TimedOut) => {
                    errors.lost_connections += 1;
                    errors.lost_bytes += self.conn.missing_echo();
                    break;
                }
                Err(Failure::Io(e)) => {
                    self.ledger.io_error(e);
                    break;
                }
            }
            self.ledger.publish();
        }
        self.ledger.finish(timeline)
    }
}
