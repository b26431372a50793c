//! A fault listener's UDP socket (with `--udp`): datagrams lost,
//! duplicated, delayed or reordered on purpose, each fault drawn for each
//! datagram with its toxicity.
//!
//! UDP has no connection to draw faults for once, so the `udp_` toxics
//! are drawn per datagram: `udp_loss,toxicity=0.1` loses one datagram in
//! ten. The socket is otherwise the plain UDP echo ([`crate::udp`]): the
//! same guard against reflection loops, the same budget of datagrams per
//! turn.
//!
//! Delayed datagrams wait in a list ordered by due time (with jitter they
//! may overtake each other, which is the point), and the socket asks the
//! loop for a wake-up at the earliest ([`Next::Sleep`]). What they hold is
//! charged to the memory budget and bounded by `--max-pending` for the
//! socket: past that, a datagram is echoed at once rather than held, so a
//! flood cannot grow the server. A reordered datagram is held until the
//! next datagram has been echoed, or for its `delay` at most.

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{debug, trace};
use mio::net::UdpSocket;

use super::counts::count;
use super::draw::SplitMix64;
use super::model::{Toxic, ToxicKind};
use crate::serve::{Context, Next, Ready, Role, Stage};
use crate::stats::{FaultApplied, Stats};
use crate::udp::{guarded, DATAGRAMS_PER_TURN};

/// A datagram held back, with where it goes and when.
struct Held {
    due: Instant,
    peer: SocketAddr,
    bytes: Vec<u8>,
    copies: u8,
}

impl Held {
    fn footprint(&self) -> usize {
        size_of::<Held>() + self.bytes.capacity()
    }
}

/// What the draws decided for one datagram.
struct Fate {
    copies: u8,
    delay: Option<Duration>,
    reorder: Option<Duration>,
}

/// A fault listener's UDP socket.
pub(crate) struct FaultyUdp {
    socket: UdpSocket,
    /// The fault listener it belongs to: its place in the table.
    listener: usize,
    /// Its listener's `udp_` toxics.
    toxics: Vec<Toxic>,
    rng: SplitMix64,
    queued: bool,
    /// Delayed datagrams, earliest first.
    held: Vec<Held>,
    /// A datagram waiting for the next to go ahead of it.
    reordered: Option<Held>,
    /// Bytes of datagrams held, and what they cost the memory budget.
    held_bytes: usize,
    charged: usize,
    /// The wake-up asked for last, if it has not passed.
    asked: Option<Instant>,
}

impl FaultyUdp {
    /// Echoes on `socket` (registered for `READABLE`) for fault listener
    /// `listener`, with its `toxics` (only the `udp_` ones are kept).
    pub(crate) fn new(
        socket: UdpSocket,
        listener: usize,
        toxics: &[Toxic],
        seed: u64,
    ) -> FaultyUdp {
        let mut udp = FaultyUdp {
            socket,
            listener,
            toxics: Vec::new(),
            rng: SplitMix64::new(seed),
            queued: false,
            held: Vec::new(),
            reordered: None,
            held_bytes: 0,
            charged: 0,
            asked: None,
        };
        udp.set_toxics(toxics);
        udp
    }

    /// The fault listener it belongs to: its place in the table.
    pub(crate) fn listener(&self) -> usize {
        self.listener
    }

    /// Its listener moved in the table (one before it was removed).
    pub(crate) fn set_listener(&mut self, listener: usize) {
        self.listener = listener;
    }

    /// The listener's toxics changed: keeps its `udp_` ones.
    pub(crate) fn set_toxics(&mut self, toxics: &[Toxic]) {
        self.toxics = toxics
            .iter()
            .filter(|toxic| toxic.kind.is_per_datagram())
            .cloned()
            .collect();
    }

    fn serve_at(&mut self, now: Instant, cx: &mut Context) -> Next {
        if self.asked.is_some_and(|at| at <= now) {
            self.asked = None;
        }
        let mut next = Next::ServeAgain;
        for _ in 0..DATAGRAMS_PER_TURN {
            let (n, peer) = match self.socket.recv_from(&mut cx.scratch[..]) {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    next = Next::Wait;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!("token {}: udp receive failed: {e}", cx.key);
                    next = Next::Wait;
                    break;
                }
            };
            cx.stats.datagrams_in += 1;
            if n >= cx.scratch.len() {
                cx.stats.udp_dropped_errors += 1;
                continue;
            }
            if let Some(why) = guarded(peer.port(), &cx.udp_ports) {
                cx.stats.udp_dropped_guarded += 1;
                trace!("token {}: no echo for {n} bytes from {peer}: {why}", cx.key);
                continue;
            }
            self.take(n, peer, now, cx);
        }
        self.send_due(now, cx);
        match next {
            Next::Wait => self.sleep_until(self.next_due()),
            other => other,
        }
    }

    /// Draws the fate of `scratch[..n]` from `peer`, and carries it out.
    fn take(&mut self, n: usize, peer: SocketAddr, now: Instant, cx: &mut Context) {
        let Some(fate) = self.draw(cx) else {
            trace!("token {}: lost {n} bytes from {peer} on purpose", cx.key);
            return;
        };
        let room = cx.max_pending.saturating_sub(self.held_bytes);
        let fits = n <= room && n + size_of::<Held>() <= cx.budget.available();
        let wait = match (fate.reorder, fate.delay) {
            (Some(most), _) if fits && self.reordered.is_none() => Some((most, true)),
            (_, Some(delay)) if fits => Some((delay, false)),
            _ => None,
        };
        if let Some((wait, reorder)) = wait {
            let held = Held {
                due: now + wait,
                peer,
                bytes: cx.scratch[..n].to_vec(),
                copies: fate.copies,
            };
            self.charge(&held, cx);
            if reorder {
                self.reordered = Some(held);
            } else {
                // After every datagram due no later: order among equals kept.
                let at = self.held.partition_point(|other| other.due <= held.due);
                self.held.insert(at, held);
            }
            return;
        }
        for _ in 0..fate.copies {
            send(&self.socket, &cx.scratch[..n], peer, cx.key, &mut cx.stats);
        }
        // The datagram waiting for the next one: this was it.
        if let Some(held) = self.reordered.take() {
            self.release(&held, cx);
            self.send_held(&held, cx);
        }
    }

    /// Draws each toxic for one datagram: `None` if it is lost.
    fn draw(&mut self, cx: &mut Context) -> Option<Fate> {
        let mut fate = Fate {
            copies: 1,
            delay: None,
            reorder: None,
        };
        for toxic in &self.toxics {
            if self.rng.next_f64() >= toxic.toxicity.share() {
                continue;
            }
            match toxic.kind {
                ToxicKind::UdpLoss => {
                    count(cx, self.listener, FaultApplied::UdpLoss);
                    return None;
                }
                ToxicKind::UdpDuplicate => {
                    count(cx, self.listener, FaultApplied::UdpDuplicate);
                    fate.copies = 2;
                }
                ToxicKind::UdpDelay { latency, jitter } => {
                    count(cx, self.listener, FaultApplied::UdpDelay);
                    let jitter = u64::try_from(jitter.as_micros()).unwrap_or(u64::MAX);
                    let micros = latency.as_micros() as i64 + self.rng.spread(jitter);
                    fate.delay = Some(Duration::from_micros(micros.max(0) as u64));
                }
                ToxicKind::UdpReorder { delay } if self.reordered.is_none() => {
                    count(cx, self.listener, FaultApplied::UdpReorder);
                    fate.reorder = Some(delay);
                }
                _ => {}
            }
        }
        Some(fate)
    }

    /// Sends the delayed datagrams that are due, and a reordered one whose
    /// wait is over.
    fn send_due(&mut self, now: Instant, cx: &mut Context) {
        let due = self.held.partition_point(|held| held.due <= now);
        for held in self.held.drain(..due).collect::<Vec<_>>() {
            self.release(&held, cx);
            self.send_held(&held, cx);
        }
        if self.reordered.as_ref().is_some_and(|held| held.due <= now) {
            let held = self.reordered.take().expect("checked above");
            self.release(&held, cx);
            self.send_held(&held, cx);
        }
    }

    fn next_due(&self) -> Option<Instant> {
        let delayed = self.held.first().map(|held| held.due);
        let reordered = self.reordered.as_ref().map(|held| held.due);
        delayed.into_iter().chain(reordered).min()
    }

    fn sleep_until(&mut self, at: Option<Instant>) -> Next {
        match at {
            Some(at) if self.asked.is_none_or(|asked| at < asked) => {
                self.asked = Some(at);
                Next::Sleep
            }
            _ => Next::Wait,
        }
    }

    fn charge(&mut self, held: &Held, cx: &mut Context) {
        cx.budget.charge(held.footprint());
        self.charged += held.footprint();
        self.held_bytes += held.bytes.len();
    }

    fn release(&mut self, held: &Held, cx: &mut Context) {
        cx.budget.release(held.footprint());
        self.charged -= held.footprint();
        self.held_bytes -= held.bytes.len();
    }

    fn send_held(&mut self, held: &Held, cx: &mut Context) {
        for _ in 0..held.copies {
            send(&self.socket, &held.bytes, held.peer, cx.key, &mut cx.stats);
        }
    }
}

/// Sends `bytes` to `peer`, or drops them as the plain echo does when the
/// send buffer is full or the send fails.
fn send(socket: &UdpSocket, bytes: &[u8], peer: SocketAddr, key: usize, stats: &mut Stats) {
    loop {
        match socket.send_to(bytes, peer) {
            Ok(_) => stats.datagrams_out += 1,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => stats.udp_dropped_would_block += 1,
            Err(e) => {
                trace!("token {key}: cannot echo to {peer}: {e}");
                stats.udp_dropped_errors += 1;
            }
        }
        return;
    }
}

impl Stage for FaultyUdp {
    fn serve(&mut self, _ready: Ready, cx: &mut Context) -> Next {
        self.serve_at(Instant::now(), cx)
    }

    fn role(&self) -> Role {
        Role::Socket
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        &mut self.socket
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
}
