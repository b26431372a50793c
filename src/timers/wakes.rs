//! Wake-ups that fall due in no particular order: a binary heap.
//!
//! A fault's deadlines are not first in, first out: a latency with jitter
//! gives each echo its own delay, and each connection paced to a rate
//! writes again after its own pause. So they cannot share the
//! [`DeadlineQueue`](super::DeadlineQueue) of deadlines of one length. A
//! binary heap and a hashed timing wheel were both measured for them
//! (guide chapter 14 has the figures and the reasons); the heap won here:
//! its `O(log n)` costs fewer instructions than the wheel's constant work
//! at the sizes a server keeps, it needs no tick (so an idle server still
//! wakes only for a real deadline), and it is exact to the nanosecond.
//!
//! An entry names a slab key, not a stage: the stage may be gone, or the
//! key reused, by the time it falls due; it is then served once for
//! nothing, which costs a `recv` that says `WouldBlock`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Keys to serve again, each at its time, nearest on top.
#[derive(Debug, Default)]
pub struct Wakes(BinaryHeap<Reverse<(Instant, usize)>>);

impl Wakes {
    /// `key` is to be served at `at`.
    pub fn push(&mut self, at: Instant, key: usize) {
        self.0.push(Reverse((at, key)));
    }

    /// The nearest time.
    pub fn next(&self) -> Option<Instant> {
        self.0.peek().map(|Reverse((at, _))| *at)
    }

    /// The nearest key, if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<usize> {
        match self.0.peek() {
            Some(Reverse((at, _))) if *at <= now => self.0.pop().map(|Reverse((_, key))| key),
            _ => None,
        }
    }

    /// No wake-up is waiting.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wakes_fall_due_by_time_not_by_arrival() {
        let now = Instant::now();
        let mut wakes = Wakes::default();
        wakes.push(now + Duration::from_millis(30), 1);
        wakes.push(now + Duration::from_millis(10), 2);
        wakes.push(now + Duration::from_millis(20), 3);
        assert_eq!(wakes.next(), Some(now + Duration::from_millis(10)));
        assert_eq!(wakes.pop_due(now), None);
        let later = now + Duration::from_millis(25);
        assert_eq!(wakes.pop_due(later), Some(2));
        assert_eq!(wakes.pop_due(later), Some(3));
        assert_eq!(wakes.pop_due(later), None);
        assert!(!wakes.is_empty());
    }
}
