//! Idle timeouts in O(1) per event, and free when they are off.
//!
//! Every connection has the same timeout, so the connection idle longest is
//! always the one touched least recently. Keeping connections in a list
//! ordered by last activity (most recent at the tail) therefore makes the
//! next deadline the head's, and expiry a pop from the head: no timer per
//! connection, no heap, no scan. A touch unlinks a connection and appends
//! it at the tail (libev's "be smart about timeouts", its fourth method).
//!
//! The links live in a side table indexed by token, not in the connection,
//! so a server without `--idle-timeout` pays nothing for them: the reactor
//! holds an `Option<IdleList>` (in [`crate::timers::Timers`]) and it is
//! `None`.

use std::time::{Duration, Instant};

/// Marks "no neighbour" in the links.
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
    /// Milliseconds since the list's epoch at the last touch.
    last_active_ms: u64,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
    last_active_ms: 0,
};

/// Connections ordered by last activity, oldest first.
pub struct IdleList {
    timeout: Duration,
    timeout_ms: u64,
    epoch: Instant,
    links: Vec<Link>,
    head: u32,
    tail: u32,
}

impl IdleList {
    /// An empty list for connections closed after `timeout` without
    /// activity; times are kept as milliseconds since `epoch`.
    pub fn new(timeout: Duration, epoch: Instant) -> Self {
        IdleList {
            timeout,
            // Rounded up, so nothing is closed before its full timeout.
            timeout_ms: timeout.as_nanos().div_ceil(1_000_000) as u64,
            epoch,
            links: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// The timeout every connection has.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Starts tracking a new connection as active now.
    pub fn insert(&mut self, token: usize, now: Instant) {
        let index = token as u32;
        if token >= self.links.len() {
            self.links.resize(token + 1, UNLINKED);
        }
        self.links[token].last_active_ms = self.millis(now);
        self.push_back(index);
    }

    /// Records activity on a tracked connection.
    pub fn touch(&mut self, token: usize, now: Instant) {
        let now_ms = self.millis(now);
        let Some(link) = self.links.get_mut(token) else {
            return;
        };
        // Touched in this same millisecond: every entry after it was touched
        // in this millisecond too, so the order already holds.
        if link.last_active_ms == now_ms {
            return;
        }
        link.last_active_ms = now_ms;
        self.unlink(token as u32);
        self.push_back(token as u32);
    }

    /// Stops tracking a connection (it is closing).
    pub fn remove(&mut self, token: usize) {
        if token < self.links.len() {
            self.unlink(token as u32);
            self.links[token] = UNLINKED;
        }
    }

    /// The connection idle longest, if its timeout has run out at `now`.
    pub fn expired(&self, now: Instant) -> Option<usize> {
        let head = self.links.get(self.head as usize)?;
        (self.millis(now) >= head.last_active_ms + self.timeout_ms).then_some(self.head as usize)
    }

    /// When the connection idle longest will time out.
    pub fn next_deadline(&self) -> Option<Instant> {
        let head = self.links.get(self.head as usize)?;
        Some(self.epoch + Duration::from_millis(head.last_active_ms + self.timeout_ms))
    }

    fn push_back(&mut self, index: u32) {
        self.links[index as usize].prev = self.tail;
        self.links[index as usize].next = NIL;
        match self.tail {
            NIL => self.head = index,
            tail => self.links[tail as usize].next = index,
        }
        self.tail = index;
    }

    fn unlink(&mut self, index: u32) {
        let Link { prev, next, .. } = self.links[index as usize];
        let is_linked = prev != NIL || next != NIL || self.head == index;
        if !is_linked {
            return;
        }
        match prev {
            NIL => self.head = next,
            prev => self.links[prev as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.links[next as usize].prev = prev,
        }
        self.links[index as usize].prev = NIL;
        self.links[index as usize].next = NIL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn expires_the_least_recently_touched_connection_first() {
        let t0 = Instant::now();
        let mut idle = IdleList::new(ms(100), t0);
        idle.insert(3, t0);
        idle.insert(7, t0 + ms(10));
        idle.insert(5, t0 + ms(20));
        idle.touch(3, t0 + ms(30));

        assert_eq!(idle.expired(t0 + ms(109)), None);
        assert_eq!(idle.next_deadline(), Some(t0 + ms(110)));
        assert_eq!(idle.expired(t0 + ms(110)), Some(7));
        idle.remove(7);
        assert_eq!(idle.expired(t0 + ms(125)), Some(5));
        idle.remove(5);
        assert_eq!(idle.expired(t0 + ms(125)), None);
        assert_eq!(idle.expired(t0 + ms(130)), Some(3));
        idle.remove(3);
        assert_eq!(idle.next_deadline(), None);
    }

    #[test]
    fn removing_the_only_entry_and_reusing_its_token_works() {
        let t0 = Instant::now();
        let mut idle = IdleList::new(ms(50), t0);
        for round in 0..1000u64 {
            let now = t0 + ms(round);
            idle.insert(1, now);
            idle.touch(1, now + ms(1));
            assert_eq!(idle.next_deadline(), Some(now + ms(51)));
            idle.remove(1);
            assert_eq!(idle.next_deadline(), None);
        }
    }

    #[test]
    fn a_touch_in_the_same_millisecond_keeps_the_order() {
        let t0 = Instant::now();
        let mut idle = IdleList::new(ms(10), t0);
        idle.insert(0, t0);
        idle.insert(1, t0);
        idle.touch(0, t0);
        assert_eq!(idle.expired(t0 + ms(10)), Some(0));
    }
}
