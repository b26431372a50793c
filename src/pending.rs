//! The bytes a short write left behind: a connection's only heap memory.
//!
//! A connection echoes from the shared scratch buffer and owns nothing as
//! long as the kernel takes every echo whole. When the send queue is full
//! and a write falls short, the unsent tail moves here, boxed, and every
//! byte read after it is appended behind it (order is sacred). The buffer
//! is flushed on the next writable edge and freed once empty, so memory
//! follows only the clients that are behind, and never exceeds
//! `max_pending` for one of them.

/// Echo bytes the socket has not taken yet, in order, and what the
/// connection decided while they wait.
#[derive(Debug)]
pub struct Pending {
    /// `bytes[sent..]` is still to be written.
    bytes: Vec<u8>,
    sent: usize,
    /// Reading stopped because `max_pending` bytes were waiting, or because
    /// the memory budget refused more: resume once these are out.
    pub paused: bool,
    /// The client's end of stream was read: once these bytes are out, close.
    pub peer_closed: bool,
}

impl Pending {
    /// A buffer holding `unsent`, sized for it.
    pub fn holding(unsent: &[u8], max_pending: usize) -> Pending {
        let mut pending = Pending {
            bytes: Vec::new(),
            sent: 0,
            paused: false,
            peer_closed: false,
        };
        pending.push(unsent, max_pending);
        pending
    }

    /// The bytes still to be written, oldest first.
    pub fn unsent(&self) -> &[u8] {
        &self.bytes[self.sent..]
    }

    /// Bytes that can be appended without growing the buffer.
    pub fn spare(&self) -> usize {
        self.bytes.capacity() - self.unsent().len()
    }

    /// The memory this buffer holds: its box and its capacity, whatever is
    /// in use (what the [memory budget](crate::budget) charges).
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Pending>() + self.bytes.capacity()
    }

    /// The socket took the first `n` unsent bytes.
    pub fn consume(&mut self, n: usize) {
        self.sent += n;
    }

    /// Appends behind what is already waiting. Capacity never exceeds
    /// `limit` (the per-connection `max_pending`, or less when the memory
    /// budget is short) as long as the caller never appends past it: the
    /// buffer doubles up to that limit, and moves its unsent bytes to the
    /// front rather than grow when that makes room.
    pub fn push(&mut self, data: &[u8], limit: usize) {
        if self.sent > 0 && self.bytes.len() + data.len() > self.bytes.capacity() {
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
        let needed = self.bytes.len() + data.len();
        if needed > self.bytes.capacity() {
            let grown = (self.bytes.capacity() * 2).min(limit).max(needed);
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_keeps_order_across_partial_sends_and_stays_within_the_limit() {
        let limit = 1000;
        let mut pending = Pending::holding(&[], limit);
        let mut expected = Vec::new();
        let mut next_byte = 0u8;
        for round in 0..200 {
            let room = limit - pending.unsent().len();
            let chunk: Vec<u8> = (0..room.min(37 + round % 50))
                .map(|_| {
                    next_byte = next_byte.wrapping_add(1);
                    next_byte
                })
                .collect();
            pending.push(&chunk, limit);
            expected.extend_from_slice(&chunk);
            assert!(pending.bytes.capacity() <= limit);
            // "send" a varying share of what waits
            let send = pending.unsent().len() * (round % 3) / 2;
            let sent: Vec<u8> = pending.unsent()[..send].to_vec();
            assert_eq!(sent, expected[..send]);
            expected.drain(..send);
            pending.consume(send);
            assert_eq!(pending.unsent(), &expected[..]);
        }
    }
}
