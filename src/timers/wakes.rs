//! Wake-ups that fall due in no particular order: a hashed timing wheel.
//!
//! A fault's deadlines are not first in, first out: a latency with jitter
//! gives each echo its own delay, and each connection paced to a rate
//! writes again after its own pause. So they cannot share the
//! [`DeadlineQueue`](super::DeadlineQueue) of deadlines of one length.
//! A binary heap and a hashed timing wheel were both measured for them
//! (callgrind, guide chapter 14 has the figures): the wheel took 125 to
//! 200 instructions per deadline from 100 to 10,000 connections, the heap
//! 305 to 424, growing with its `log n`. So the wheel it is.
//!
//! [`SLOTS`] slots of one [`TICK`] each (a millisecond, the poll
//! timeout's own resolution): a deadline goes in the slot of its tick,
//! modulo the wheel's size, so pushing is one `Vec::push`; the loop's
//! turn visits the slots its clock moved past and takes what is due. A
//! deadline more than a rotation away (a `reset_peer` after seconds)
//! stays in its slot, looked at once per rotation until it falls due.
//! The exact time is kept with each entry, so nothing fires early or
//! late by a tick: [`Wakes::next`] answers the earliest time itself.
//!
//! An entry names a slab key, not a stage: the stage may be gone, or the
//! key reused, by the time it falls due; it is then served once for
//! nothing, which costs a `recv` that says `WouldBlock`.

use std::time::{Duration, Instant};

/// One slot's length: the poll timeout's resolution (a tick is a
/// millisecond wherever ticks become times).
pub const TICK: Duration = Duration::from_millis(1);

/// Slots in the wheel: one rotation is 256 ms, longer than the latencies
/// and pacing steps it mostly holds.
pub const SLOTS: usize = 256;

/// Keys to serve again, each at its time.
#[derive(Debug)]
pub struct Wakes {
    /// The time tick 0 starts at.
    origin: Instant,
    slots: Vec<Vec<(Instant, usize)>>,
    /// The tick taken last: every slot before it is done with.
    cursor: u64,
    len: usize,
}

impl Default for Wakes {
    fn default() -> Wakes {
        Wakes {
            origin: Instant::now(),
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            cursor: 0,
            len: 0,
        }
    }
}

impl Wakes {
    fn tick_of(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.origin);
        u64::try_from(since.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX)
    }

    fn slot(tick: u64) -> usize {
        (tick % SLOTS as u64) as usize
    }

    /// `key` is to be served at `at`.
    pub fn push(&mut self, at: Instant, key: usize) {
        // A time already passed goes in the slot taken next.
        let tick = self.tick_of(at).max(self.cursor);
        self.slots[Wakes::slot(tick)].push((at, key));
        self.len += 1;
    }

    /// The nearest time: the earliest entry of the first slot, from the
    /// cursor on, that holds one of this rotation.
    pub fn next(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        for tick in self.cursor..self.cursor + SLOTS as u64 {
            let end = self.origin + Duration::from_millis(tick + 1);
            let earliest = self.slots[Wakes::slot(tick)]
                .iter()
                .map(|&(at, _)| at)
                .filter(|&at| at < end)
                .min();
            if earliest.is_some() {
                return earliest;
            }
        }
        // Only deadlines more than a rotation away.
        self.slots.iter().flatten().map(|&(at, _)| at).min()
    }

    /// Moves every key due at `now` into `due`.
    pub fn take_due(&mut self, now: Instant, due: &mut Vec<usize>) {
        if self.len == 0 {
            return;
        }
        let last = self.tick_of(now);
        // After a long wait, each slot once is every slot.
        let first = self.cursor.max(last.saturating_sub(SLOTS as u64 - 1));
        for tick in first..=last {
            let slot = &mut self.slots[Wakes::slot(tick)];
            let mut i = 0;
            while i < slot.len() {
                if slot[i].0 <= now {
                    due.push(slot.swap_remove(i).1);
                    self.len -= 1;
                } else {
                    i += 1;
                }
            }
        }
        self.cursor = self.cursor.max(last);
    }

    /// No wake-up is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_fall_due_by_time_not_by_arrival() {
        let mut wakes = Wakes::default();
        let now = wakes.origin;
        let ms = Duration::from_millis;
        wakes.push(now + ms(30), 1);
        wakes.push(now + ms(10), 2);
        wakes.push(now + ms(20), 3);
        wakes.push(now + ms(1000), 4);
        assert_eq!(wakes.next(), Some(now + ms(10)));
        let mut due = Vec::new();
        wakes.take_due(now, &mut due);
        assert!(due.is_empty());
        wakes.take_due(now + ms(25), &mut due);
        assert_eq!(due, [2, 3]);
        assert_eq!(wakes.next(), Some(now + ms(30)));
        wakes.take_due(now + ms(30), &mut due);
        assert_eq!(due, [2, 3, 1]);
        assert_eq!(wakes.next(), Some(now + ms(1000)), "a rotation away");
        wakes.take_due(now + ms(999), &mut due);
        assert_eq!(due.len(), 3);
        wakes.take_due(now + ms(5000), &mut due);
        assert_eq!(due, [2, 3, 1, 4]);
        assert!(wakes.is_empty());
    }

    #[test]
    fn a_time_already_past_falls_due_at_once() {
        let mut wakes = Wakes::default();
        let now = wakes.origin + Duration::from_millis(500);
        let mut due = Vec::new();
        wakes.take_due(now, &mut due);
        wakes.push(now - Duration::from_millis(100), 9);
        assert_eq!(wakes.next(), Some(now - Duration::from_millis(100)));
        wakes.take_due(now, &mut due);
        assert_eq!(due, [9]);
    }
}
