//! What a thread's loop and its connections (TCP) or sockets (UDP) say to
//! each other: the [`Channel`] every one of them is, the [`Turn`] of the
//! thread's state a connection works with while it is served, and the
//! [`Step`] it reports back.

use mio::Registry;

use crate::counters::Recorder;
use crate::pattern::Pattern;

/// What a connection's reading or writing left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing more until the next readiness event.
    Wait,
    /// The turn's budget ran out with more to do: serve it again soon.
    Again,
    /// The connection ended (an error or end of stream, already counted).
    Closed,
}

impl Step {
    /// What is left after this step and then `next`: closed if either
    /// closed, else more to do if either had more.
    pub fn and(self, next: Step) -> Step {
        match (self, next) {
            (Step::Closed, _) | (_, Step::Closed) => Step::Closed,
            (Step::Again, _) | (_, Step::Again) => Step::Again,
            (Step::Wait, Step::Wait) => Step::Wait,
        }
    }
}

/// Which of the thread's lists a connection (or UDP socket) is on already,
/// so that none is listed twice.
#[derive(Debug, Default, Clone, Copy)]
pub struct Listed {
    /// The serve-again list.
    pub again: bool,
    /// The to-write list (new messages due with `--rate`, or a datagram
    /// lost in a closed loop).
    pub dirty: bool,
}

/// One TCP connection or UDP socket, as the thread's loop sees it: messages
/// go in, some are in flight.
pub trait Channel {
    /// Not ended by an error or an end of stream.
    fn alive(&self) -> bool;

    /// Messages sent (or queued) whose echo has not come back.
    fn in_flight(&self) -> usize;

    /// Queues one message, sent (or scheduled) at `at`; the next flush
    /// writes it.
    fn queue(&mut self, at: u64);

    fn listed(&mut self) -> &mut Listed;

    /// Alive, with echoes still to come back.
    fn waiting_for_echoes(&self) -> bool;

    /// Closed loop: queues messages sent `now` until `depth` are in flight.
    fn top_up(&mut self, depth: usize, now: u64) {
        while self.in_flight() < depth {
            self.queue(now);
        }
    }
}

/// The thread's state that serving one connection works with.
pub struct Turn<'a> {
    pub pattern: &'a Pattern,
    /// Where reads land, reused by every connection.
    pub buf: &'a mut [u8],
    pub recorder: &'a mut Recorder,
    pub registry: &'a Registry,
    /// Closed loop: each echo that comes back makes room for a new message.
    pub refill: Option<Refill>,
}

/// A closed loop's rule for new messages.
#[derive(Debug, Clone, Copy)]
pub struct Refill {
    /// Messages to keep in flight per connection.
    pub depth: usize,
    /// No message is sent from here on.
    pub until: u64,
}

impl Turn<'_> {
    /// How many messages to keep in flight after echoes came back at
    /// `now`, if new ones are to be sent at all.
    pub fn refill_depth(&self, now: u64) -> Option<usize> {
        self.refill
            .filter(|refill| now < refill.until)
            .map(|refill| refill.depth)
    }
}
