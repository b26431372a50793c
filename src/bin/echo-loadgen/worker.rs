//! One load thread: a small mio reactor like the server's, with its share
//! of the connections (or UDP sockets), its timer and its counters, running
//! the load from the start line until every echo is back or it is time to
//! give up. See "How it drives the load" in the crate doc. With `--tls`,
//! the thread first runs its connections' handshakes, before the start
//! line (see `tls_session.rs`).

use std::io;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use mio::{Events, Poll};

use crate::channel::{Refill, Step, Turn};
use crate::connect::CONNECT_TIMEOUT;
use crate::counters::Tally;
use crate::counters::{Publisher, Recorder, Shared};
use crate::job::ThreadReport;
use crate::model::{Load, Pace, Plan};
use crate::pattern::Pattern;
use crate::sockets::{Group, Sockets};
use crate::tcp::{Conn, Handshake, Transport};
use crate::timer::{nanos, now_ns, Schedule, Timeline, Timer, TIMER};

/// With `--rate`: most messages in flight over all connections, split evenly
/// (8 bytes of timestamp each). Passing it counts as an error.
const IN_FLIGHT_TOTAL: usize = 1 << 22;

/// With `--rate`: no connection's bound is lower than this.
const MIN_IN_FLIGHT_BOUND: usize = 1024;

/// How this thread decides when to send.
enum Sending {
    /// Bulk: the whole stream is queued from the start.
    Bulk,
    /// A new message whenever an echo completes, `depth` in flight.
    ClosedLoop { depth: usize },
    /// `--rate`: the schedule decides; `bound` caps the messages in flight
    /// per connection, for safety.
    Scheduled { schedule: Schedule, bound: usize },
}

/// One thread: its own poll, its share of the connections, its histogram.
pub struct Worker {
    poll: Poll,
    sockets: Sockets,
    pattern: Arc<Pattern>,
    buf: Vec<u8>,
    load: Load,
    sending: Sending,
    timer: Timer,
    timeline: Timeline,
    recorder: Recorder,
    /// Connections not ended by an error or end of stream.
    alive: usize,
    /// Connections to serve again after the next poll (budget spent).
    again: Vec<usize>,
    /// Connections with newly queued messages to write (`--rate`, or a
    /// UDP loss in a closed loop).
    dirty: Vec<usize>,
    publisher: Publisher,
    /// `--response-timeout-ms`, in ns, and when the connections are next
    /// looked at for it (every quarter of it).
    response_timeout: Option<u64>,
    next_silence_check: u64,
}

impl Worker {
    /// Thread `index` of the plan's, with `group` of its connections.
    pub fn new(
        index: usize,
        group: Group,
        plan: &Plan,
        pattern: Arc<Pattern>,
        shared: Arc<Shared>,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let connections = group.len();
        let sending = match plan.load.messages().map(|messages| messages.pace) {
            None => Sending::Bulk,
            Some(Pace::ClosedLoop { depth }) => Sending::ClosedLoop { depth },
            Some(Pace::Rate(rate)) => Sending::Scheduled {
                schedule: Schedule::new(rate, connections, plan.connections, index, plan.threads),
                bound: (IN_FLIGHT_TOTAL / plan.connections).max(MIN_IN_FLIGHT_BOUND),
            },
        };
        // The ring holds every timestamp in flight without growing, in
        // closed loop; with --rate it grows (rarely) only if the server
        // falls behind.
        let ring = match sending {
            Sending::Bulk => 0,
            Sending::ClosedLoop { depth } => depth,
            Sending::Scheduled { .. } => 64,
        };
        let sockets = Sockets::new(group, poll.registry(), &plan.load, ring)?;
        let timer = Timer::new(poll.registry())?;
        let buf_size = if matches!(sending, Sending::Bulk) {
            256 << 10
        } else {
            // Larger than any datagram, so none is ever cut short.
            64 << 10
        };
        Ok(Worker {
            poll,
            sockets,
            pattern,
            buf: vec![0; buf_size],
            load: plan.load,
            sending,
            timer,
            timeline: Timeline::default(),
            recorder: Recorder::new(),
            alive: connections,
            again: Vec::with_capacity(connections),
            dirty: Vec::with_capacity(connections),
            publisher: Publisher::new(shared),
            response_timeout: plan.response_timeout.map(nanos),
            next_silence_check: 0,
        })
    }

    /// Waits at `start_line` with the other threads, then runs the load
    /// until every echo is back or it is time to give up.
    pub fn run(mut self, start_line: &Barrier) -> ThreadReport {
        self.shake_hands();
        start_line.wait();
        let start = now_ns();
        self.timeline = Timeline::new(&self.load, start);
        self.recorder.measure_from = self.timeline.measure_from;
        self.publisher.publish(&mut self.recorder, start, true);
        self.kick_off(start);

        let mut events = Events::with_capacity(1024);
        let finished_at = loop {
            let now = now_ns();
            self.expire(now);
            self.give_up_on_silence(now);
            self.publisher.publish(&mut self.recorder, now, false);
            let sending = now < self.timeline.stop_sending;
            if !sending && !self.sockets.waiting_for_echoes() {
                break now;
            }
            if now >= self.timeline.give_up || self.alive == 0 {
                break now;
            }
            let timeout = if self.again.is_empty() {
                if self.timer.arm(self.next_deadline(sending)).is_err() {
                    self.recorder.tally.errors.io_errors += 1;
                    break now;
                }
                None // the timer wakes us
            } else {
                Some(Duration::ZERO) // connections wait for their turn
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.recorder.tally.errors.io_errors += 1;
                break now_ns();
            }
            let connections = self.sockets.len();
            for event in events.iter() {
                let token = event.token().0;
                if event.token() == TIMER || token >= connections {
                    continue; // the timer only wakes us; send_due does the work
                }
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                self.serve(token, readable, event.is_read_closed());
            }
            self.serve_again();
            self.send_due(now_ns());
        };
        let first_error = self.sockets.finish(&mut self.recorder.tally);
        self.publisher
            .publish(&mut self.recorder, finished_at, true);
        ThreadReport {
            recorder: self.recorder,
            timeline: self.timeline,
            finished_at,
            first_error,
        }
    }

    /// `--tls`, `--websocket`: runs every connection's handshake, all at
    /// once, before the start line, so that none is measured (see
    /// `tls_session.rs`, `ws_session.rs`).
    fn shake_hands(&mut self) {
        let tally = &mut self.recorder.tally;
        let failed = match &mut self.sockets {
            Sockets::Tls(conns) => shake_all(&mut self.poll, conns, "the TLS handshake", tally),
            Sockets::Ws(conns) => shake_all(&mut self.poll, conns, "the WebSocket upgrade", tally),
            Sockets::Wss(conns) => shake_all(
                &mut self.poll,
                conns,
                "the TLS handshake and WebSocket upgrade",
                tally,
            ),
            Sockets::Tcp(_) | Sockets::Udp(_) => 0,
        };
        self.alive -= failed;
    }

    /// When the loop must wake up next even if no socket is ready.
    fn next_deadline(&self, sending: bool) -> u64 {
        let mut deadline = self.publisher.next().min(self.timeline.give_up);
        if sending {
            deadline = deadline.min(self.timeline.stop_sending);
            if let Sending::Scheduled { schedule, .. } = &self.sending {
                deadline = deadline.min(schedule.next_due);
            }
        }
        if let Sockets::Udp(udp) = &self.sockets {
            deadline = udp.next_expiry().map_or(deadline, |at| deadline.min(at));
        }
        if self.response_timeout.is_some() {
            deadline = deadline.min(self.next_silence_check);
        }
        deadline
    }

    /// `--response-timeout-ms`: every quarter of it, gives up on the
    /// connections whose oldest message has waited that long (a scan of
    /// this thread's connections, a few times a timeout).
    fn give_up_on_silence(&mut self, now: u64) {
        let Some(timeout) = self.response_timeout else {
            return;
        };
        if now < self.next_silence_check {
            return;
        }
        let tally = &mut self.recorder.tally;
        self.alive -= self.sockets.time_out_silent(now, timeout, tally);
        self.next_silence_check = now + (timeout / 4).max(1_000_000);
    }

    /// The first writes of the run.
    fn kick_off(&mut self, now: u64) {
        match &mut self.sending {
            Sending::Bulk => {} // queued when the connection was made
            Sending::ClosedLoop { depth } => {
                for i in 0..self.sockets.len() {
                    self.sockets.channel(i).top_up(*depth, now);
                }
            }
            Sending::Scheduled { schedule, .. } => {
                schedule.start(now);
                return self.send_due(now);
            }
        }
        for i in 0..self.sockets.len() {
            self.write(i);
        }
    }

    /// The closed loop's rule for new messages, if this is one.
    fn refill(&self) -> Option<Refill> {
        match self.sending {
            Sending::ClosedLoop { depth } => Some(Refill {
                depth,
                until: self.timeline.stop_sending,
            }),
            _ => None,
        }
    }

    /// Does `work` on connection `i` with the thread's state, then notes
    /// what that left to do.
    fn turn(&mut self, i: usize, work: impl FnOnce(&mut Sockets, &mut Turn) -> Step) {
        let mut turn = Turn {
            refill: self.refill(),
            pattern: &self.pattern,
            buf: &mut self.buf,
            recorder: &mut self.recorder,
            registry: self.poll.registry(),
        };
        match work(&mut self.sockets, &mut turn) {
            Step::Closed => self.alive -= 1,
            Step::Again => self.list_again(i),
            Step::Wait => {}
        }
    }

    /// Handles readiness of connection `i`: read and check the echoes,
    /// retire completed messages, queue new ones (closed loop), write.
    fn serve(&mut self, i: usize, readable: bool, to_eof: bool) {
        self.turn(i, |sockets, turn| sockets.serve(i, turn, readable, to_eof));
    }

    /// Writes connection `i`'s queued bytes (or datagrams).
    fn write(&mut self, i: usize) {
        self.turn(i, |sockets, turn| sockets.flush(i, turn));
    }

    fn list_again(&mut self, i: usize) {
        let listed = self.sockets.channel(i).listed();
        if !listed.again {
            listed.again = true;
            self.again.push(i);
        }
    }

    fn list_dirty(&mut self, i: usize) {
        let listed = self.sockets.channel(i).listed();
        if !listed.dirty {
            listed.dirty = true;
            self.dirty.push(i);
        }
    }

    /// Serves the connections whose budget ran out last turn.
    fn serve_again(&mut self) {
        let listed_now = self.again.len();
        for n in 0..listed_now {
            let i = self.again[n];
            self.sockets.channel(i).listed().again = false;
            self.serve(i, true, false);
        }
        self.again.drain(..listed_now);
    }

    /// Writes every connection on the to-write list.
    fn write_dirty(&mut self) {
        for n in 0..self.dirty.len() {
            let i = self.dirty[n];
            self.sockets.channel(i).listed().dirty = false;
            self.write(i);
        }
        self.dirty.clear();
    }

    /// udp: every datagram whose deadline has passed without an echo is
    /// lost; in a closed loop its socket sends the next one at once.
    fn expire(&mut self, now: u64) {
        let refill = self.refill().filter(|refill| now < refill.until);
        while let Some(i) = self.sockets.next_loss(now, &mut self.recorder.tally) {
            if let Some(Refill { depth, .. }) = refill {
                self.sockets.channel(i).top_up(depth, now);
                self.list_dirty(i);
            }
        }
        self.write_dirty();
    }

    /// `--rate`: queues every message due by `now` and writes them (one
    /// write per connection however many came due).
    fn send_due(&mut self, now: u64) {
        let Sending::Scheduled {
            mut schedule,
            bound,
        } = self.sending
        else {
            return;
        };
        let connections = self.sockets.len();
        let horizon = now.min(self.timeline.stop_sending.saturating_sub(1));
        while schedule.next_due <= horizon {
            self.queue_due(schedule.next_conn, schedule.next_due, bound);
            schedule.advance(connections);
        }
        self.sending = Sending::Scheduled { schedule, bound };
        self.write_dirty();
    }

    /// `--rate`: queues one message due at `due` on connection `i`, unless
    /// that would pass the in-flight `bound`.
    fn queue_due(&mut self, i: usize, due: u64, bound: usize) {
        let channel = self.sockets.channel(i);
        if !channel.alive() {
            return;
        }
        if channel.in_flight() >= bound {
            self.recorder.tally.errors.overflows += 1;
            return;
        }
        channel.queue(due);
        self.list_dirty(i);
    }
}

/// Runs the handshake (`what`, for the errors) of every one of `conns`,
/// all at once from `poll`. Gives up on those still under way once
/// [`CONNECT_TIMEOUT`] has passed with none finishing (each an I/O error).
/// Answers how many failed.
fn shake_all<S: Transport>(
    poll: &mut Poll,
    conns: &mut [Conn<S>],
    what: &str,
    tally: &mut Tally,
) -> usize {
    let mut underway = 0;
    let mut failed = 0;
    for conn in conns.iter_mut() {
        match conn.handshake(tally) {
            Handshake::Done => {}
            Handshake::Underway => underway += 1,
            Handshake::Failed => failed += 1,
        }
    }
    let patience = nanos(CONNECT_TIMEOUT);
    let mut give_up = now_ns() + patience;
    let mut events = Events::with_capacity(1024);
    let mut stopped = None;
    while underway > 0 {
        let now = now_ns();
        if now >= give_up {
            break;
        }
        let timeout = Duration::from_nanos(give_up - now);
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
        for event in events.iter() {
            let Some(conn) = conns.get_mut(event.token().0) else {
                continue; // the timer, not armed yet
            };
            if !conn.handshaking() {
                continue;
            }
            match conn.handshake(tally) {
                Handshake::Underway => continue,
                Handshake::Done => give_up = now_ns() + patience,
                Handshake::Failed => failed += 1,
            }
            underway -= 1;
        }
    }
    for conn in conns.iter_mut().filter(|conn| conn.handshaking()) {
        let why = match &stopped {
            Some(e) => io::Error::new(e.kind(), format!("{what}: poll: {e}")),
            None => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{what}: not done within {} s", CONNECT_TIMEOUT.as_secs()),
            ),
        };
        conn.abandon(why, tally);
        failed += 1;
    }
    failed
}
