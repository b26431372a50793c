//! Who gets the metrics endpoint's slots when clients hold them all.
//!
//! The endpoint serves at most [`MAX_HTTP_CONNECTIONS`] connections at
//! once, and it is a port anyone in the network may reach. If a connection
//! kept its slot until it sent a request or its request timeout passed, a
//! neighbour that opens idle connections (or sends a byte a second) and
//! reopens each as it is cut would hold every slot for ever, and the
//! health check a load balancer or Kubernetes' prober depends on would be
//! refused: the pod leaves its Service while its echo service is fine.
//!
//! The rule, nginx's for connections waiting for a request (when it runs
//! out of connections, it closes the oldest of those it marked reusable,
//! `ngx_drain_connections`), with two guards of its own:
//!
//! - Every connection is served the moment it is accepted: a probe or a
//!   scrape sends its whole request at once, and one that waited in the
//!   accept queue has it there already, so it is answered before the next
//!   connection is accepted, and never needs a slot.
//! - Only a connection whose request is not whole yet takes a slot. When
//!   every slot is held, it takes the slot of the connection that has
//!   waited longest without being answered, which is evicted: only a
//!   connection that sends nothing, or too slowly, can wait long enough to
//!   be the oldest.
//! - The one about to be evicted is first served once more: if its request
//!   has arrived since its last event, it is answered, not cut.
//! - Connections accepted in the same listener event are never evicted for
//!   each other: each had no turn of the loop yet for its request to come.
//!   When every slot is held by such a connection, the newcomer is refused.
//!
//! HAProxy at its `maxconn` does the other thing: it stops accepting, and
//! new clients wait in the kernel's queue behind the ones that hold the
//! slots, which is what lets idle clients starve a health check.
//!
//! A listener event accepts at most [`ACCEPTS_PER_EVENT`] connections, and
//! the listener is served again after the next poll if more wait: a flood
//! of reconnecting clients is bounded work per turn, and the echo
//! service's connections keep their turns. The accept queue itself is long
//! ([`BACKLOG`]): when it overflows, the kernel drops new SYNs, a probe's
//! among them, and a dropped SYN is sent again only a second later, past a
//! probe's timeout; a flood must fill 4,096 places before that can happen.
//! Memory in the server is the slots and nothing else: no queue grows with
//! the number of clients. That holds for the
//! request deadlines too: every connection has the same time for its
//! request, so the slots in the order they were taken are also in the
//! order their deadlines fall, and the oldest slot's deadline is the next
//! one; a connection cut early leaves nothing behind in a timer queue.

use std::collections::VecDeque;
use std::time::Instant;

use super::MAX_HTTP_CONNECTIONS;
pub use crate::stats::RequestCut;

/// The metrics listener's accept queue (`listen(2)` backlog, capped by
/// `net.core.somaxconn`): long, so that a flood cannot overflow it and
/// make the kernel drop a probe's SYN. What waits there costs the server
/// nothing.
pub const BACKLOG: u32 = 4096;

/// Most connections accepted per listener event, so that a flood of
/// reconnecting clients is bounded work per turn of the loop.
pub const ACCEPTS_PER_EVENT: usize = 64;

/// The endpoint's open connections, oldest first, each with the listener
/// event it was accepted in and the deadline of its request.
#[derive(Debug, Default)]
pub struct Admission {
    open: VecDeque<Slot>,
    /// The listener event being served, counted from the first.
    event: u64,
}

/// One open connection.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: usize,
    event: u64,
    deadline: Instant,
}

/// What to do with a connection just accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// A slot is free: it takes it.
    Free,
    /// Every slot is held: serve the connection on this key once more,
    /// and evict it if it is still open; then the new one takes its slot.
    Evict(usize),
    /// Every slot is held by a connection accepted in this listener event:
    /// close the new one.
    Refuse,
}

impl Admission {
    /// A listener event begins: connections accepted from now on may evict
    /// the ones accepted before it.
    pub fn next_event(&mut self) {
        self.event += 1;
    }

    /// What to do with a connection just accepted.
    pub fn admit(&self) -> Admit {
        if self.open.len() < MAX_HTTP_CONNECTIONS {
            return Admit::Free;
        }
        match self.open.front() {
            Some(oldest) if oldest.event < self.event => Admit::Evict(oldest.key),
            _ => Admit::Refuse,
        }
    }

    /// The connection on `key` took a slot; its request must be whole by
    /// `deadline`, which is no earlier than any slot's before it.
    pub fn opened(&mut self, key: usize, deadline: Instant) {
        debug_assert!(self
            .open
            .back()
            .is_none_or(|last| last.deadline <= deadline));
        self.open.push_back(Slot {
            key,
            event: self.event,
            deadline,
        });
    }

    /// The connection on `key` closed, for whatever reason.
    pub fn closed(&mut self, key: usize) {
        if let Some(at) = self.open.iter().position(|slot| slot.key == key) {
            self.open.remove(at);
        }
    }

    /// The next request deadline: the oldest slot's.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.open.front().map(|slot| slot.deadline)
    }

    /// The oldest connection, if its deadline has passed at `now`.
    pub fn timed_out(&self, now: Instant) -> Option<usize> {
        self.open
            .front()
            .filter(|slot| slot.deadline <= now)
            .map(|slot| slot.key)
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_endpoint_evicts_its_oldest_connection_but_never_one_accepted_in_the_same_event() {
        let mut admission = Admission::default();
        let at = Instant::now();
        admission.next_event();
        for key in 0..MAX_HTTP_CONNECTIONS {
            assert_eq!(admission.admit(), Admit::Free);
            admission.opened(key, at);
        }
        // Same event: each of them had no turn to send its request yet.
        assert_eq!(admission.admit(), Admit::Refuse);
        admission.next_event();
        assert_eq!(admission.admit(), Admit::Evict(0));
        admission.closed(0);
        admission.opened(100, at);
        assert_eq!(admission.admit(), Admit::Evict(1));
        // One answered meanwhile frees its slot; the newcomer takes it.
        admission.closed(7);
        assert_eq!(admission.admit(), Admit::Free);
        admission.opened(101, at);
        assert_eq!(admission.open(), MAX_HTTP_CONNECTIONS);
        // The ones accepted in this event are evicted last, and only by a
        // later event.
        for expected in [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15] {
            assert_eq!(admission.admit(), Admit::Evict(expected));
            admission.closed(expected);
            admission.opened(200 + expected, at);
        }
        assert_eq!(admission.admit(), Admit::Refuse);
        admission.next_event();
        assert_eq!(admission.admit(), Admit::Evict(100));
    }

    #[test]
    fn the_oldest_slot_holds_the_next_deadline_and_times_out_first() {
        let mut admission = Admission::default();
        let start = Instant::now();
        let second = std::time::Duration::from_secs(1);
        assert_eq!(admission.next_deadline(), None);
        admission.opened(3, start + second);
        admission.opened(4, start + 2 * second);
        assert_eq!(admission.next_deadline(), Some(start + second));
        assert_eq!(admission.timed_out(start), None);
        assert_eq!(admission.timed_out(start + second), Some(3));
        admission.closed(3);
        assert_eq!(admission.next_deadline(), Some(start + 2 * second));
        admission.closed(4);
        assert_eq!(admission.timed_out(start + 9 * second), None);
    }
}
