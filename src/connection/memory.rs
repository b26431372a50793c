//! A connection under memory pressure: what it may read, why it stops,
//! and how it echoes when the memory budget is spent.
//!
//! Two limits bound what a connection holds: its own `max_pending`
//! (backpressure) and the server's [memory budget](crate::budget), shared
//! by all. This is where a connection meets them; the plain echo path only
//! asks [`MemoryBudget::is_tight`](crate::budget::MemoryBudget::is_tight)
//! before each read.

use std::io::{self, Read, Write};

use log::trace;

use super::{Connection, WRITE_BLOCKED};
use crate::pending::Pending;
use crate::serve::{CloseReason, Context, Next, Ready, READ_BUDGET_PER_TURN};

impl Connection {
    /// How many more bytes a connection with pending bytes may read: what
    /// `max_pending` leaves, and no more than the memory budget can hold
    /// beside what the buffer already has room for.
    #[inline]
    pub(super) fn room(&self, pending: &Pending, cx: &Context) -> usize {
        let unsent = pending.unsent().len();
        (cx.max_pending - unsent).min(pending.spare() + cx.budget.available())
    }

    /// No room to read into: pause until the client catches up, because it
    /// has `max_pending` bytes waiting (backpressure), or because the memory
    /// budget is spent (parked, and resumed when memory frees).
    #[cold]
    #[inline(never)]
    pub(super) fn stop_reading(&mut self, cx: &mut Context) -> Next {
        let Some(pending) = &mut self.pending else {
            return Next::Wait;
        };
        if pending.unsent().len() >= cx.max_pending {
            if !pending.paused {
                pending.paused = true;
                cx.stats.backpressure_pauses += 1;
                trace!(
                    "token {}: {} bytes pending, reads paused until the client catches up",
                    cx.key,
                    pending.unsent().len()
                );
            }
        } else {
            pending.paused = true;
            if !self.parked {
                self.parked = true;
                cx.budget.park(cx.key);
                cx.stats.memory_parks += 1;
                trace!(
                    "token {}: {} bytes pending, memory budget spent: reads parked until memory frees",
                    cx.key,
                    pending.unsent().len()
                );
            }
        }
        Next::Wait
    }

    /// A parked connection's turn has come: memory was freed. It reads again
    /// if its budget allows (otherwise it parks again, at the back).
    pub fn unpark(&mut self, cx: &mut Context) -> Next {
        self.parked = false;
        if let Some(pending) = &mut self.pending {
            if pending.unsent().len() < cx.max_pending {
                pending.paused = false;
            }
        }
        self.serve(Ready::CONTINUE_READING, cx)
    }

    /// Echo with no memory of our own: the budget cannot hold a read's
    /// leftovers, so peek at the received bytes, send what the socket takes,
    /// and only then consume exactly that many from the receive queue. What
    /// the send queue would not take stays in the kernel; a client that
    /// reads its echoes is served at once, one that does not stalls itself.
    #[cold]
    #[inline(never)]
    pub(super) fn echo_through_kernel(&mut self, read_to_end: bool, cx: &mut Context) -> Next {
        let mut budget = READ_BUDGET_PER_TURN;
        loop {
            let peeked = match self.stream.peek(&mut cx.scratch[..]) {
                Ok(0) => return self.on_end_of_stream(cx),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Next::Close(CloseReason::Error(e)),
            };
            let written = match self.stream.write(&cx.scratch[..peeked]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Next::Close(CloseReason::Error(e)),
            };
            if written > 0 {
                // The bytes are queued, so this read returns all of them.
                if let Err(e) = self.stream.read_exact(&mut cx.scratch[..written]) {
                    return Next::Close(CloseReason::Error(e));
                }
                cx.stats.bytes_in += written as u64;
                cx.stats.bytes_out += written as u64;
            }
            trace!(
                "token {}: memory budget spent: echoed {written} of {peeked} queued bytes \
                 through the kernel",
                cx.key
            );
            if written < peeked {
                self.flags |= WRITE_BLOCKED;
                return Next::Wait;
            }
            if peeked < cx.scratch.len() && !read_to_end {
                return Next::Wait;
            }
            budget = budget.saturating_sub(written);
            if budget == 0 {
                return Next::ServeAgain;
            }
        }
    }
}
