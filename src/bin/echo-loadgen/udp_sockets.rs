//! A thread's UDP sockets together: the one buffer their datagrams are
//! built in, and the loss deadline of every datagram they sent.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use mio::Token;

use crate::channel::{Channel, Step, Turn};
use crate::counters::Tally;
use crate::timer::{nanos, now_ns};
use crate::udp::Dgram;

/// A datagram's loss deadline, in the thread's queue of them.
#[derive(Debug, Clone, Copy)]
struct Expiry {
    /// The socket's index in the thread.
    socket: usize,
    seq: u64,
    at: u64,
}

/// A thread's UDP sockets, and what they share.
pub struct UdpSockets {
    sockets: Vec<Dgram>,
    /// Bytes per datagram.
    size: usize,
    /// The loss deadline of every datagram sent and not yet due, in send
    /// order, which is deadline order (every datagram gets the same
    /// timeout). One whose datagram was echoed meanwhile is dropped when
    /// it comes up.
    expiries: VecDeque<Expiry>,
    timeout_ns: u64,
    /// Deadlines are rounded up to a multiple of this, a sixteenth of the
    /// timeout: then the entries of the datagrams echoed in time, which
    /// stay queued until their deadline, wake the thread at most 16 times
    /// per timeout, not once per datagram.
    deadline_step_ns: u64,
    /// The datagram being sent.
    out: Vec<u8>,
    /// The first I/O error, for the report.
    first_error: Option<io::Error>,
}

impl UdpSockets {
    /// `sockets` sending `size`-byte datagrams, each lost `timeout` after
    /// it was sent if no echo came.
    pub fn new(sockets: Vec<Dgram>, size: usize, timeout: Duration) -> UdpSockets {
        UdpSockets {
            sockets,
            size,
            expiries: VecDeque::new(),
            timeout_ns: nanos(timeout),
            deadline_step_ns: (nanos(timeout) / 16).max(1),
            out: vec![0; size],
            first_error: None,
        }
    }

    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn socket(&mut self, i: usize) -> &mut Dgram {
        &mut self.sockets[i]
    }

    pub fn waiting_for_echoes(&self) -> bool {
        self.sockets.iter().any(Dgram::waiting_for_echoes)
    }

    /// Handles readiness of socket `i`: receive and check datagrams until
    /// there are none (or the turn's budget is spent), queue new ones
    /// (closed loop), send.
    pub fn serve(&mut self, i: usize, turn: &mut Turn, readable: bool) -> Step {
        let socket = &mut self.sockets[i];
        if !socket.alive() {
            return Step::Wait;
        }
        let mut step = Step::Wait;
        if readable {
            match socket.receive_echoes(turn.buf, self.size, turn.pattern, turn.recorder) {
                Ok(received) => step = received,
                Err(e) => {
                    self.first_error.get_or_insert(e);
                    return Step::Closed;
                }
            }
            let now = now_ns();
            if let Some(depth) = turn.refill_depth(now) {
                socket.top_up(depth, now);
            }
        }
        step.and(self.flush(i, turn))
    }

    /// Sends socket `i`'s queued datagrams, and queues their deadlines.
    pub fn flush(&mut self, i: usize, turn: &mut Turn) -> Step {
        let step = self.deadline_step_ns;
        let deadline = (now_ns() + self.timeout_ns).div_ceil(step) * step;
        let expiries = &mut self.expiries;
        let sent = self.sockets[i].send_queued(
            &mut self.out,
            turn.pattern,
            turn.registry,
            Token(i),
            &mut turn.recorder.tally,
            |seq| {
                expiries.push_back(Expiry {
                    socket: i,
                    seq,
                    at: deadline,
                })
            },
        );
        sent.unwrap_or_else(|e| {
            self.first_error.get_or_insert(e);
            Step::Closed
        })
    }

    /// The earliest loss deadline queued.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expiries.front().map(|expiry| expiry.at)
    }

    /// The next datagram whose deadline has passed by `now` without an
    /// echo: counted lost, and its socket's index returned. `None` once no
    /// deadline up to `now` is left.
    pub fn next_loss(&mut self, now: u64, tally: &mut Tally) -> Option<usize> {
        while let Some(&Expiry { socket, seq, at }) = self.expiries.front() {
            if at > now {
                return None;
            }
            self.expiries.pop_front();
            if self.sockets[socket].lose(seq) {
                tally.errors.lost_datagrams += 1;
                return Some(socket);
            }
            // Echoed in time.
        }
        None
    }

    /// At the end of the run: the datagrams the kernel never took are the
    /// only ones that can still be in flight, and count as lost. Returns
    /// the first I/O error of a socket.
    pub fn finish(self, tally: &mut Tally) -> Option<io::Error> {
        for socket in self.sockets.iter().filter(|s| s.waiting_for_echoes()) {
            tally.errors.lost_datagrams += socket.in_flight() as u64;
        }
        self.first_error
    }
}
