//! Chapter 3: pressure. Slow readers, busy writers, too many clients.
//!
//! **Backpressure.** When [`Config::max_pending`](crate::Config::max_pending)
//! bytes wait for one client, its connection stops reading. The kernel's
//! receive queue fills, TCP's window closes, and the client's writes block:
//! a client that never reads stalls itself, not the server. Memory is bounded
//! by connections × `max_pending`, whatever clients do, and the
//! [`Pending`](crate::pending::Pending) buffer never grows past the limit.
//!
//! **Fairness.** One connection reads at most
//! [`READ_BUDGET_PER_TURN`](crate::serve::READ_BUDGET_PER_TURN) (256 KiB) per
//! turn; one that could read more answers
//! [`Next::ServeAgain`](crate::serve::Next::ServeAgain) and is served after
//! the next poll, which then does not block. Every other ready socket gets
//! its turn in between. UDP sockets have the same kind of budget,
//! [`DATAGRAMS_PER_TURN`](crate::udp::DATAGRAMS_PER_TURN).
//!
//! **Too many clients.** At the connection limit
//! ([`Config::connection_limit`](crate::Config::connection_limit), derived
//! from the open-files limit by [`fd_limit`](crate::fd_limit) when not given)
//! the loop stops calling `accept`; clients wait in the kernel's queue and
//! are taken as soon as a connection closes. When `accept` fails for want of
//! descriptors or memory ([`AcceptFailure::OutOfResources`](crate::accept::AcceptFailure::OutOfResources)),
//! retrying at once would spin on the connection still queued, so
//! [`Acceptor::back_off`](crate::accept::Acceptor::back_off) pauses 50 ms,
//! doubling to 1 s, and the loop retries when the pause ends or a
//! connection closes. Each pause is logged once, and its end once.
//!
//! **Idle clients.** With [`Config::idle_timeout`](crate::Config::idle_timeout),
//! connections are kept in an [`IdleList`](crate::idle::IdleList) ordered by
//! last activity: O(1) per event, and nothing at all when the option is off.
