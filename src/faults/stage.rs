//! A connection that drew faults: its echo held back, paced, sliced, cut
//! or reset, as its [`Plan`] says.
//!
//! Bytes read are kept in a queue, each chunk with the time it is due
//! (its latency, give or take its jitter, never earlier than the chunk
//! before it: order is sacred). Whenever the connection is served it
//! writes what is due, as fast as its pacing allows, reads what its room
//! allows, and answers with the time it next has work
//! ([`Next::Sleep`], the time in [`Stage::wake_at`]); the loop keeps that
//! time in its timing wheel of wake-ups and serves it then.
//!
//! What is held is charged to the memory budget and bounded by
//! `--max-pending`: when either is full the connection stops reading, so
//! the client feels a slow network, never a dropped byte. Pacing a read
//! (upstream bandwidth) is the same: bytes not read stay in the kernel,
//! the receive window closes, and the client's `send` blocks.
//!
//! Rates are kept on a virtual clock: each write moves the next allowed
//! time on by its bytes' worth at the rate, from where it was rather than
//! from now, so the loop's own lateness at each wake-up (a millisecond
//! here and there) does not add up into a slower rate.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::mem::size_of;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use log::trace;
use mio::net::TcpStream;

use super::draw::{AtAccept, Plan, SplitMix64};
use crate::serve::{CloseReason, Context, Next, Ready, Stage, READ_BUDGET_PER_TURN};
use crate::stats::FaultApplied;

/// How long a paced stream may fall behind its rate and then catch up in
/// one burst: after a longer pause (the client sent nothing) the clock
/// starts again from now.
const MOST_CATCH_UP: Duration = Duration::from_millis(100);

/// Bytes moved per pacing step: a fiftieth of a second's worth at the
/// rate, so the rate is met within a few percent over any second.
const STEPS_PER_SECOND: u64 = 50;

/// How soon a connection that stopped reading because the memory budget
/// was spent looks again, when nothing of its own will wake it.
const BUDGET_RETRY: Duration = Duration::from_millis(10);

/// A chunk of echo held back, and when it is due.
struct Held {
    due: Instant,
    bytes: Vec<u8>,
    /// Bytes of it already written.
    sent: usize,
}

impl Held {
    fn footprint(&self) -> usize {
        size_of::<Held>() + self.bytes.capacity()
    }
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading and echoing.
    Open,
    /// The client closed its side: echo what is held, then close.
    PeerClosed,
    /// Everything is echoed; the FIN goes at this time (`slow_close`).
    ClosingAt(Instant),
    /// The limit of bytes is echoed and our FIN sent: the rest of the
    /// client's bytes are read and dropped until it closes.
    Limited,
}

/// A connection with faults.
pub(crate) struct FaultedConnection {
    stream: TcpStream,
    plan: Plan,
    rng: SplitMix64,
    /// In the reactor's serve-again queue.
    queued: bool,
    /// The listener it came through: its place in the fault table.
    listener: u8,
    phase: Phase,
    held: VecDeque<Held>,
    /// Unsent bytes held.
    held_bytes: usize,
    /// What `held` costs, as charged to the memory budget.
    charged: usize,
    /// Bytes read, and echoed, so far (`limit_data`).
    read_total: u64,
    written_total: u64,
    /// When reading may go on (upstream bandwidth).
    read_clock: Option<Instant>,
    /// When writing may go on (downstream bandwidth, slicer).
    write_clock: Option<Instant>,
    /// The send queue is full: wait for the writable edge.
    send_blocked: bool,
    /// Stopped reading at the pending limit, counted once per pause.
    paused: bool,
    /// The time of the wake-up asked for last, if it has not passed: a
    /// later one need not be asked for again.
    asked: Option<Instant>,
    /// When it is reset (`reset_peer`), or closed (`timeout`).
    reset_at: Option<Instant>,
    black_hole_until: Option<Option<Instant>>,
}

impl FaultedConnection {
    /// A connection accepted through fault listener `listener` at `now`,
    /// with its `plan` and its own random numbers.
    pub(crate) fn new(
        stream: TcpStream,
        plan: Plan,
        listener: u8,
        seed: u64,
        now: Instant,
    ) -> FaultedConnection {
        FaultedConnection {
            stream,
            reset_at: plan.reset_after.map(|after| now + after),
            black_hole_until: plan.black_hole.map(|t| t.map(|after| now + after)),
            plan,
            rng: SplitMix64::new(seed),
            queued: false,
            listener,
            phase: Phase::Open,
            held: VecDeque::new(),
            held_bytes: 0,
            charged: 0,
            read_total: 0,
            written_total: 0,
            read_clock: None,
            write_clock: None,
            send_blocked: false,
            paused: false,
            asked: None,
        }
    }

    /// The socket (the banner asks it for its local address).
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The fault listener it came through.
    pub(crate) fn listener(&self) -> u8 {
        self.listener
    }

    /// Its listener moved in the table (one before it was removed).
    pub(crate) fn set_listener(&mut self, listener: u8) {
        self.listener = listener;
    }

    /// Its first moment: a connection that is to be closed or reset at
    /// accept is, and one that has `first` bytes to send at the start of
    /// the scratch buffer (the banner, then what followed a PROXY header)
    /// holds them as its first echo.
    pub(crate) fn begin(&mut self, first: usize, cx: &mut Context) -> Next {
        match self.plan.at_accept {
            Some(AtAccept::Close) => {
                return Next::Close(CloseReason::Fault(FaultApplied::AcceptClose))
            }
            Some(AtAccept::Reset) => return self.reset(FaultApplied::AcceptReset),
            None => {}
        }
        let now = Instant::now();
        if first > 0 && self.black_hole_until.is_none() {
            self.hold(first, now, cx);
        }
        self.serve_at(now, Ready::ALL, cx)
    }

    /// Resets the connection: `SO_LINGER` 0, so the close sends an RST.
    fn reset(&mut self, why: FaultApplied) -> Next {
        let socket = socket2::SockRef::from(&self.stream);
        match socket.set_linger(Some(Duration::ZERO)) {
            Ok(()) => Next::Close(CloseReason::Fault(why)),
            Err(e) => Next::Close(CloseReason::Error(e)),
        }
    }

    fn serve_at(&mut self, now: Instant, ready: Ready, cx: &mut Context) -> Next {
        if self.asked.is_some_and(|at| at <= now) {
            self.asked = None;
        }
        if ready.writable {
            self.send_blocked = false;
        }
        if let Some(at) = self.reset_at {
            if now >= at {
                return self.reset(FaultApplied::ResetPeer);
            }
        }
        if let Some(until) = self.black_hole_until {
            return match until {
                Some(at) if now >= at => Next::Close(CloseReason::Fault(FaultApplied::Timeout)),
                until => self.sleep_until([until, self.reset_at].into_iter().flatten().min()),
            };
        }
        match self.phase {
            Phase::Limited => return self.discard_input(cx),
            Phase::ClosingAt(at) if now >= at => return Next::Close(CloseReason::PeerClosed),
            Phase::ClosingAt(at) => return self.sleep_until(Some(at)),
            Phase::Open | Phase::PeerClosed => {}
        }
        let mut budget = READ_BUDGET_PER_TURN;
        loop {
            if let Err(next) = self.write_due(now, cx) {
                return next;
            }
            if self
                .plan
                .limit
                .is_some_and(|limit| self.written_total >= limit)
            {
                return self.end_at_limit(cx);
            }
            match self.read(now, cx) {
                Ok(0) => break,
                Ok(n) => budget = budget.saturating_sub(n),
                Err(next) => return next,
            }
            if budget == 0 {
                return Next::ServeAgain;
            }
        }
        if self.phase == Phase::PeerClosed && self.held.is_empty() {
            return match self.plan.slow_close {
                Some(delay) => {
                    let at = now + delay;
                    self.phase = Phase::ClosingAt(at);
                    self.sleep_until(Some(at))
                }
                None => Next::Close(CloseReason::PeerClosed),
            };
        }
        let next = self.next_work(now, cx);
        self.sleep_until(next)
    }

    /// The next time it has work of its own: a held chunk due (unless the
    /// send queue is full), a pacing step, its reset, or a retry when the
    /// memory budget stopped its reads.
    fn next_work(&self, now: Instant, cx: &Context) -> Option<Instant> {
        let write = match self.held.front() {
            Some(_) if self.send_blocked => None,
            Some(front) => Some(self.write_clock.map_or(front.due, |at| at.max(front.due))),
            None => None,
        };
        let read = match self.read_clock {
            Some(at) if at > now && self.phase == Phase::Open => Some(at),
            _ => None,
        };
        let retry = (self.phase == Phase::Open && self.held.is_empty() && self.room(cx) == 0)
            .then(|| now + BUDGET_RETRY);
        [write, read, self.reset_at, retry]
            .into_iter()
            .flatten()
            .min()
    }

    /// Answers "wake me at `at`", unless a wake-up no later is asked for
    /// already.
    fn sleep_until(&mut self, at: Option<Instant>) -> Next {
        match at {
            Some(at) if self.asked.is_none_or(|asked| at < asked) => {
                self.asked = Some(at);
                Next::Sleep
            }
            _ => Next::Wait,
        }
    }

    /// Bytes it may still read: what the pending limit, the memory budget
    /// and the data limit leave.
    fn room(&self, cx: &Context) -> usize {
        let pending = cx.max_pending.saturating_sub(self.held_bytes);
        let memory = cx.budget.available().saturating_sub(size_of::<Held>());
        let limit = self.plan.limit.map_or(usize::MAX, |limit| {
            usize::try_from(limit.saturating_sub(self.read_total)).unwrap_or(usize::MAX)
        });
        pending.min(memory).min(limit)
    }

    /// Reads what its room and its pacing allow into a held chunk;
    /// answers the bytes read, 0 when it has to stop.
    fn read(&mut self, now: Instant, cx: &mut Context) -> Result<usize, Next> {
        if self.phase != Phase::Open || self.read_clock.is_some_and(|at| at > now) {
            return Ok(0);
        }
        let room = self.room(cx);
        if room == 0 {
            if !self.paused && !self.held.is_empty() {
                self.paused = true;
                cx.stats.backpressure_pauses += 1;
                trace!(
                    "token {}: holding {} bytes, reads stop",
                    cx.key,
                    self.held_bytes
                );
            }
            return Ok(0);
        }
        self.paused = false;
        let mut want = room.min(cx.scratch.len());
        if let Some(rate) = self.plan.read_rate {
            want = want.min(step(rate));
        }
        let n = loop {
            match self.stream.read(&mut cx.scratch[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Next::Close(CloseReason::Error(e))),
            }
        };
        if n == 0 {
            trace!("token {}: read end of stream", cx.key);
            self.phase = Phase::PeerClosed;
            return Ok(0);
        }
        cx.stats.bytes_in += n as u64;
        self.read_total += n as u64;
        if let Some(rate) = self.plan.read_rate {
            self.read_clock = Some(advance(self.read_clock, now, n, rate));
        }
        self.hold(n, now, cx);
        // A short read means the receive queue is empty.
        Ok(if n < want { 0 } else { n })
    }

    /// Keeps `scratch[..n]` with the time it is due.
    fn hold(&mut self, n: usize, now: Instant, cx: &mut Context) {
        let mut due = now;
        if let Some(delay) = self.plan.delay {
            let jitter = u64::try_from(delay.jitter.as_micros()).unwrap_or(u64::MAX);
            let offset = self.rng.spread(jitter);
            let latency = delay.latency.as_micros() as i64 + offset;
            due += Duration::from_micros(latency.max(0) as u64);
        }
        // Order is sacred: never due before the chunk ahead of it.
        if let Some(last) = self.held.back() {
            due = due.max(last.due);
        }
        let chunk = Held {
            due,
            bytes: cx.scratch[..n].to_vec(),
            sent: 0,
        };
        cx.budget.charge(chunk.footprint());
        self.charged += chunk.footprint();
        self.held_bytes += n;
        cx.stats.peak_pending = cx.stats.peak_pending.max(self.held_bytes as u64);
        self.held.push_back(chunk);
    }

    /// Writes the held chunks that are due, as far as pacing, the data
    /// limit and the send queue allow.
    fn write_due(&mut self, now: Instant, cx: &mut Context) -> Result<(), Next> {
        while let Some(front) = self.held.front_mut() {
            if front.due > now || self.send_blocked || self.write_clock.is_some_and(|at| at > now) {
                return Ok(());
            }
            let mut len = front.bytes.len() - front.sent;
            if let Some(slices) = self.plan.slices {
                let size = slices.average_size as i64 + self.rng.spread(slices.size_variation);
                len = len.min(size.max(1) as usize);
            }
            if let Some(rate) = self.plan.write_rate {
                len = len.min(step(rate));
            }
            if let Some(limit) = self.plan.limit {
                let left = usize::try_from(limit - self.written_total).unwrap_or(usize::MAX);
                len = len.min(left);
            }
            if len == 0 {
                return Ok(());
            }
            let written = loop {
                match self
                    .stream
                    .write(&front.bytes[front.sent..front.sent + len])
                {
                    Ok(written) => break written,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 0,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Next::Close(CloseReason::Error(e))),
                }
            };
            front.sent += written;
            self.held_bytes -= written;
            self.written_total += written as u64;
            cx.stats.bytes_out += written as u64;
            if let Some(rate) = self.plan.write_rate {
                self.write_clock = Some(advance(self.write_clock, now, written, rate));
            }
            if let Some(slices) = self.plan.slices {
                let after = now + slices.delay;
                self.write_clock = Some(self.write_clock.map_or(after, |at| at.max(after)));
            }
            if written < len {
                self.send_blocked = true;
                return Ok(());
            }
            if front.sent == front.bytes.len() {
                let done = self.held.pop_front().expect("front exists");
                cx.budget.release(done.footprint());
                self.charged -= done.footprint();
            }
        }
        Ok(())
    }

    /// The data limit is echoed: our FIN, then the client's bytes are
    /// dropped until it closes (closing with unread bytes would send an
    /// RST instead of the FIN).
    fn end_at_limit(&mut self, cx: &mut Context) -> Next {
        trace!("token {}: data limit echoed, FIN sent", cx.key);
        self.phase = Phase::Limited;
        if let Err(e) = self.stream.shutdown(Shutdown::Write) {
            return Next::Close(CloseReason::Error(e));
        }
        self.discard_input(cx)
    }

    /// Reads and drops what the client sends after the limit, until its
    /// end of stream.
    fn discard_input(&mut self, cx: &mut Context) -> Next {
        loop {
            match self.stream.read(&mut cx.scratch[..]) {
                Ok(0) => return Next::Close(CloseReason::Fault(FaultApplied::LimitData)),
                Ok(n) => cx.stats.bytes_in += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Next::Close(CloseReason::Error(e)),
            }
        }
    }
}

/// Bytes moved per pacing step at `rate` bytes a second: at least one.
fn step(rate: u64) -> usize {
    usize::try_from((rate / STEPS_PER_SECOND).max(1)).unwrap_or(usize::MAX)
}

/// The virtual clock after moving `bytes` at `rate`: on from where it
/// was, unless it fell more than [`MOST_CATCH_UP`] behind `now`.
fn advance(clock: Option<Instant>, now: Instant, bytes: usize, rate: u64) -> Instant {
    let from = match clock {
        Some(at) if at + MOST_CATCH_UP >= now => at,
        _ => now,
    };
    let nanos = (bytes as u128 * 1_000_000_000) / u128::from(rate.max(1));
    from + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

impl Stage for FaultedConnection {
    fn serve(&mut self, ready: Ready, cx: &mut Context) -> Next {
        self.serve_at(Instant::now(), ready, cx)
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        &mut self.stream
    }

    fn queued(&mut self) -> Option<&mut bool> {
        Some(&mut self.queued)
    }

    fn memory(&self) -> usize {
        self.charged
    }

    fn wake_at(&self) -> Option<Instant> {
        self.asked
    }

    /// Shutdown: echo what is held as it falls due, within the drain;
    /// with nothing held, close now.
    fn drain(&mut self, cx: &mut Context) -> Next {
        let next = self.serve_at(Instant::now(), Ready::ALL, cx);
        if self.held.is_empty() && matches!(next, Next::Wait | Next::Sleep) {
            return Next::Close(CloseReason::Shutdown);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virtual_clock_keeps_the_rate_whatever_the_lateness() {
        let start = Instant::now();
        let mut clock = None;
        let mut now = start;
        // 100 steps of 1,000 bytes at 100,000 B/s, each wake-up 1 ms late.
        for _ in 0..100 {
            let at = advance(clock, now, 1_000, 100_000);
            clock = Some(at);
            now = at + Duration::from_millis(1);
        }
        let took = clock.unwrap() - start;
        assert_eq!(took, Duration::from_secs(1));
        assert_eq!(step(100_000), 2_000);
        assert_eq!(step(10), 1);
    }
}
