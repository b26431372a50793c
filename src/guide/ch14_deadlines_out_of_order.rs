//! Chapter 14: deadlines out of order. Why a fault's wake-ups need a
//! structure of their own, the two classic ones, what each cost, and which
//! the server keeps.
//!
//! # Why first in, first out is not enough
//!
//! Every deadline the loop kept until the faults came was first in, first
//! out for its kind (chapter 13, [`StageClock`](crate::timers::StageClock)):
//! a PROXY header's allowance is the same length for every connection, so
//! the header that started first is the first to run out, and a
//! `VecDeque` in arrival order is already sorted. Pushing is `push_back`,
//! the next deadline is the front, and nothing is ever compared.
//!
//! A listener that misbehaves on purpose (`--fault-listen`, the
//! [`faults`](crate::faults) module) breaks that. A latency with jitter,
//! `latency=100ms,jitter=10ms`, gives each echo a delay of its own between
//! 90 and 110 ms: a chunk read now may be due before one read 5 ms ago on
//! another connection. A connection paced to a bandwidth writes again
//! after a pause that depends on its own rate and on the size of what it
//! just wrote; a slicer's pause, a `slow_close`'s FIN and a `reset_peer`
//! are each their own length again. Pushed in arrival order, such
//! deadlines come out in the wrong order: a queue would either fire a
//! late deadline early (breaking the fault) or hold an early one behind a
//! late one (the 90 ms echo waiting for the 110 ms one).
//!
//! Within one connection, order is kept by construction: a chunk's due
//! time is never earlier than the chunk's before it (order is sacred,
//! chapter 2), and a connection asks the loop for one wake-up, its
//! nearest ([`Next::Sleep`](crate::serve::Next::Sleep)). Across
//! connections there is no order at all, and that is the structure's job.
//!
//! # Two classic answers
//!
//! - **A binary heap** (`std::collections::BinaryHeap` of `(time, key)`):
//!   push and pop in `O(log n)`, the nearest on top. libevent keeps its
//!   timers in one; so does Go's runtime (a 4-ary heap per P). Exact,
//!   compact, and its cost grows, slowly, with how many deadlines wait.
//! - **A hashed timing wheel** (Varghese and Lauck, 1987; the Linux
//!   kernel's timer wheel, Netty's `HashedWheelTimer`, tokio's
//!   hierarchical wheel): an array of slots, one per tick, a deadline in
//!   the slot of its tick modulo the array's length. Pushing is a
//!   `Vec::push` into a computed slot; as time moves on, the loop visits
//!   the slots it passed and takes what is due. Constant work per
//!   deadline, whatever their number, for a resolution of one tick; a
//!   deadline further away than a rotation waits in its slot and is
//!   looked at once per rotation.
//!
//! The server's tick is a millisecond, `epoll_wait`'s own resolution, so
//! the wheel loses nothing there; and each entry keeps its exact time, so
//! nothing fires before it is due. 256 slots make a rotation of 256 ms,
//! longer than the latencies and pacing steps that fill it.
//!
//! # What they cost
//!
//! Measured with callgrind (user-space instructions, which a busy machine
//! does not change) on a small program that drives each structure the
//! way the loop does: N connections each re-arm a deadline 100 ms ± 10 ms
//! after the last fell due; every turn asks for the nearest deadline (the
//! poll timeout, rounded up to the millisecond as `epoll_wait` rounds it)
//! and takes what is due; 100,000 deadlines in all, the program's
//! start-up subtracted. Instructions per deadline:
//!
//! | connections | heap | wheel | heap, with a 10 s deadline each beside | wheel, with the same |
//! |---:|---:|---:|---:|---:|
//! | 100 | 305 | 200 | 344 | 179 |
//! | 1,000 | 343 | 128 | 412 | 140 |
//! | 10,000 | 424 | 125 | 498 | 143 |
//!
//! The heap grows with `log n`, as it should, and pays for every deadline
//! waiting beside the busy ones (the 10 s columns: a `reset_peer` on every
//! connection). The wheel is cheaper at every size, most at the sizes a
//! faulted listener is there to reach; it pays most with few connections,
//! where finding the nearest deadline walks empty slots, and even there
//! it is cheaper. Both figures are small beside the microseconds an echo
//! spends in the kernel (chapter 12): what decided was that one is two to
//! three times the other, for code of the same size.
//!
//! # What the server keeps
//!
//! The wheel: [`Wakes`](crate::timers::Wakes), inside
//! [`Timers`](crate::timers::Timers) beside the first-in, first-out
//! queues, in `src/timers/wakes.rs`. A stage answers
//! [`Next::Sleep`](crate::serve::Next::Sleep) and gives the time it next
//! has work ([`Stage::wake_at`](crate::serve::Stage::wake_at)): it is not
//! carried in `Next`, which would grow from 16 bytes to 24 and stop being
//! returned in registers on the plain echo path. The loop puts its key in the wheel, and when the time comes
//! serves it as if for an event. The entry names a key, not a stage: the
//! connection may have closed, and its key gone to a new one, by then,
//! and it is served once for nothing (a `recv` says `WouldBlock`). A
//! connection asks again only for a time earlier than the one it asked
//! for last, so a busy one does not fill the wheel with stale entries.
//! With no fault listener, the wheel is empty and costs the loop nothing:
//! the timers are looked at only when some deadline exists.
//!
//! The program measured is small; to measure it again, build two
//! structures with `push(at, key)`, `next()` and `take_due(now)` over a
//! simulated clock (a `u64` of nanoseconds, so no clock is read), drive
//! them as above with `rustc -O`, and run each under `valgrind
//! --tool=callgrind`.
