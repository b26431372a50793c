//! One UDP socket of the load: its window of datagrams in flight, what
//! became of each one that came back (echo, mismatch, duplicate, late),
//! and the sending of what it queued. See "UDP: verification and loss" in
//! the crate doc.

use std::collections::VecDeque;
use std::io;

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};

use crate::channel::{Channel, Listed, Step};
use crate::counters::{Recorder, Tally};
use crate::pattern::{differing_bytes, Pattern};
use crate::timer::now_ns;

/// Bytes of a datagram's sequence number (fewer in a smaller datagram).
const SEQ_LEN: usize = 8;

/// Most datagrams received, and most sent, on one UDP socket per turn of
/// the loop (the server's budget too).
pub const DATAGRAMS_PER_TURN: usize = 64;

/// Sequence numbers of a socket's latest losses kept, to tell a late echo
/// from a duplicated one once its datagram has left the socket's window.
const RECENT_LOSSES: usize = 16;

/// What became of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Queued or sent; no echo yet.
    InFlight,
    /// An echo of it came back (correct or not).
    Echoed,
    /// No echo came within the timeout.
    Lost,
}

/// One datagram in its socket's window.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Send (or scheduled) time: latency counts from here.
    scheduled: u64,
    fate: Fate,
}

/// What one datagram that came back turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    /// The correct echo of a datagram in flight, sent (or scheduled) at
    /// `scheduled`; `reordered` if a later datagram was echoed before it.
    Correct { scheduled: u64, reordered: bool },
    /// Bytes or length differ from the datagram its sequence number names
    /// (`differing` bytes), or it names none sent.
    Mismatched { differing: u64 },
    /// A correct copy of a datagram echoed before.
    Duplicated,
    /// A correct copy of a datagram already counted lost.
    Late,
}

impl Echo {
    /// Counts one datagram that came back, received `now`.
    fn record(self, now: u64, recorder: &mut Recorder) {
        let errors = &mut recorder.tally.errors;
        match self {
            Echo::Correct {
                scheduled,
                reordered,
            } => {
                errors.reordered_datagrams += u64::from(reordered);
                recorder.echoed(scheduled, now);
            }
            Echo::Mismatched { differing } => {
                errors.mismatched_datagrams += 1;
                errors.mismatched_bytes += differing;
            }
            Echo::Duplicated => errors.duplicated_datagrams += 1,
            Echo::Late => errors.late_datagrams += 1,
        }
    }
}

/// One UDP socket, `connect`ed to the target: its datagrams in flight and
/// what became of the recent ones.
pub struct Dgram {
    socket: UdpSocket,
    phase: u64,
    /// Sequence number of `window[0]`.
    base: u64,
    /// Datagrams queued so far (the next one gets this sequence number).
    queued: u64,
    /// Datagrams handed to the kernel: every sequence number below this.
    sent: u64,
    /// Datagrams `base..queued`, oldest first. The front one is always in
    /// flight: settled ones leave from the front.
    window: VecDeque<Slot>,
    /// Datagrams in the window still in flight.
    in_flight: usize,
    /// The highest sequence number echoed so far.
    highest_echoed: Option<u64>,
    /// The latest sequence numbers lost, oldest first: a datagram lost and
    /// already out of the window may still come back late.
    recent_losses: VecDeque<u64>,
    /// Registered for `WRITABLE` too: a send found the kernel full.
    wants_writable: bool,
    alive: bool,
    listed: Listed,
}

/// Bytes of sequence number at the start of a `size`-byte datagram.
fn seq_len(size: usize) -> usize {
    size.min(SEQ_LEN)
}

impl Channel for Dgram {
    fn alive(&self) -> bool {
        self.alive
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn queue(&mut self, at: u64) {
        self.window.push_back(Slot {
            scheduled: at,
            fate: Fate::InFlight,
        });
        self.queued += 1;
        self.in_flight += 1;
    }

    fn listed(&mut self) -> &mut Listed {
        &mut self.listed
    }

    fn waiting_for_echoes(&self) -> bool {
        self.alive && self.in_flight > 0
    }
}

impl Dgram {
    /// Socket `id` of the run, with room for `ring` datagrams in its window
    /// before it grows.
    pub fn new(socket: UdpSocket, id: usize, ring: usize) -> Dgram {
        Dgram {
            socket,
            phase: Pattern::phase(id),
            base: 0,
            queued: 0,
            sent: 0,
            window: VecDeque::with_capacity(ring),
            in_flight: 0,
            highest_echoed: None,
            recent_losses: VecDeque::new(),
            wants_writable: false,
            alive: true,
            listed: Listed::default(),
        }
    }

    /// The socket itself, to register it.
    pub fn socket(&mut self) -> &mut UdpSocket {
        &mut self.socket
    }

    /// Receives and checks `size`-byte datagrams until there are none (or
    /// the turn's budget is spent). An error ends the socket; it is
    /// returned, already counted.
    pub fn receive_echoes(
        &mut self,
        buf: &mut [u8],
        size: usize,
        pattern: &Pattern,
        recorder: &mut Recorder,
    ) -> Result<Step, io::Error> {
        for _ in 0..DATAGRAMS_PER_TURN {
            match self.socket.recv(buf) {
                Ok(n) => {
                    recorder.tally.received += n as u64;
                    let echo = self.check(&buf[..n], size, pattern);
                    echo.record(now_ns(), recorder);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Step::Wait),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e, &mut recorder.tally)),
            }
        }
        Ok(Step::Again)
    }

    /// Sends the queued datagrams, built in `out` (as long as a datagram),
    /// until they are all out, the kernel is full (then the socket asks for
    /// `WRITABLE` as `token` until they are out), or the turn's budget is
    /// spent. A datagram goes whole or not at all; `on_sent` hears of each.
    /// An error ends the socket; it is returned, already counted.
    pub fn send_queued(
        &mut self,
        out: &mut [u8],
        pattern: &Pattern,
        registry: &Registry,
        token: Token,
        tally: &mut Tally,
        mut on_sent: impl FnMut(u64),
    ) -> Result<Step, io::Error> {
        if !self.alive {
            return Ok(Step::Wait);
        }
        for _ in 0..DATAGRAMS_PER_TURN {
            if self.sent == self.queued {
                return self.want_writable(false, registry, token, tally);
            }
            let seq = self.sent;
            self.build(seq, pattern, out);
            match self.socket.send(out) {
                Ok(_) => {
                    self.sent += 1;
                    tally.datagrams_sent += 1;
                    on_sent(seq);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.want_writable(true, registry, token, tally);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e, tally)),
            }
        }
        if self.sent == self.queued {
            return self.want_writable(false, registry, token, tally);
        }
        Ok(Step::Again)
    }

    /// Registers for `WRITABLE` too while a send waits for room, and for
    /// `READABLE` only otherwise: the kernel signals a UDP socket writable
    /// after every datagram it sends, which would wake the poll once more
    /// per datagram.
    fn want_writable(
        &mut self,
        wanted: bool,
        registry: &Registry,
        token: Token,
        tally: &mut Tally,
    ) -> Result<Step, io::Error> {
        if self.wants_writable != wanted {
            self.wants_writable = wanted;
            let interest = if wanted {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if let Err(e) = registry.reregister(&mut self.socket, token, interest) {
                return Err(self.fail(e, tally));
            }
        }
        Ok(Step::Wait)
    }

    /// Counts an I/O error and ends this socket.
    fn fail(&mut self, error: io::Error, tally: &mut Tally) -> io::Error {
        self.alive = false;
        tally.errors.io_errors += 1;
        error
    }

    /// The pattern bytes of datagram `seq`, after its sequence number: the
    /// socket's stream where datagram `seq` would sit in it, so that no two
    /// datagrams of a socket (or of two sockets) are alike.
    fn body<'p>(&self, pattern: &'p Pattern, seq: u64, size: usize) -> &'p [u8] {
        let header = seq_len(size);
        pattern.slice(self.phase, seq * size as u64 + header as u64, size - header)
    }

    /// Writes datagram `seq` into `out`, which is as long as a datagram.
    fn build(&self, seq: u64, pattern: &Pattern, out: &mut [u8]) {
        let size = out.len();
        let header = seq_len(size);
        out[..header].copy_from_slice(&seq.to_le_bytes()[..header]);
        out[header..].copy_from_slice(self.body(pattern, seq, size));
    }

    /// The sent datagram whose sequence number `datagram` starts with, if
    /// any: with fewer than 8 bytes of it, the most recent one sent with
    /// those low bytes.
    fn claimed_seq(&self, datagram: &[u8], size: usize) -> Option<u64> {
        let header = seq_len(size);
        if datagram.len() < header || self.sent == 0 {
            return None;
        }
        let mut bytes = [0u8; SEQ_LEN];
        bytes[..header].copy_from_slice(&datagram[..header]);
        let tag = u64::from_le_bytes(bytes);
        let seq = if header == SEQ_LEN {
            tag
        } else {
            let mask = (1u64 << (8 * header)) - 1;
            let last = self.sent - 1;
            last.checked_sub(last.wrapping_sub(tag) & mask)?
        };
        (seq < self.sent).then_some(seq)
    }

    /// The window's slot of datagram `seq`, if it is still there.
    fn slot(&mut self, seq: u64) -> Option<&mut Slot> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.window.get_mut(index)
    }

    /// Gives datagram `seq` its `fate` if it is in flight, and returns its
    /// send (or scheduled) time then.
    fn settle(&mut self, seq: u64, fate: Fate) -> Option<u64> {
        let slot = self.slot(seq).filter(|slot| slot.fate == Fate::InFlight)?;
        slot.fate = fate;
        let scheduled = slot.scheduled;
        self.in_flight -= 1;
        while self
            .window
            .front()
            .is_some_and(|slot| slot.fate != Fate::InFlight)
        {
            self.window.pop_front();
            self.base += 1;
        }
        Some(scheduled)
    }

    /// Its deadline passed: datagram `seq`, if still in flight, is lost.
    /// Returns whether it was.
    pub fn lose(&mut self, seq: u64) -> bool {
        if !self.alive || self.settle(seq, Fate::Lost).is_none() {
            return false;
        }
        if self.recent_losses.len() == RECENT_LOSSES {
            self.recent_losses.pop_front();
        }
        self.recent_losses.push_back(seq);
        true
    }

    /// Checks a datagram that came back against the one it names, and
    /// settles that one if it was in flight.
    fn check(&mut self, datagram: &[u8], size: usize, pattern: &Pattern) -> Echo {
        let Some(seq) = self.claimed_seq(datagram, size) else {
            return Echo::Mismatched {
                differing: datagram.len().max(1) as u64,
            };
        };
        let got = &datagram[seq_len(size)..];
        let differing = differing_bytes(got, self.body(pattern, seq, size));
        if differing > 0 {
            // A corrupt echo is still an echo: its datagram is not lost too.
            self.settle(seq, Fate::Echoed);
            return Echo::Mismatched { differing };
        }
        match self.slot(seq).map(|slot| slot.fate) {
            Some(Fate::InFlight) => {
                let scheduled = self.settle(seq, Fate::Echoed).unwrap_or_default();
                let reordered = self.highest_echoed.is_some_and(|highest| seq < highest);
                self.highest_echoed = Some(self.highest_echoed.map_or(seq, |h| h.max(seq)));
                Echo::Correct {
                    scheduled,
                    reordered,
                }
            }
            Some(Fate::Echoed) => Echo::Duplicated,
            Some(Fate::Lost) => Echo::Late,
            None if self.recent_losses.contains(&seq) => Echo::Late,
            None => Echo::Duplicated,
        }
    }
}
