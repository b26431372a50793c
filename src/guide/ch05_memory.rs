//! Chapter 9: memory. One budget for every client.
//!
//! A connection holds memory only while its client is behind: the
//! [`Pending`](crate::pending::Pending) bytes of a short write, up to
//! [`Config::max_pending`](crate::Config::max_pending). Many clients that
//! never read could still hold connections × `max_pending`, so every such
//! buffer is also charged to one [`MemoryBudget`](crate::budget::MemoryBudget)
//! ([`Config::max_memory`](crate::Config::max_memory), by default a quarter of
//! the cgroup's memory limit: [`budget::default_limit`](crate::budget::default_limit)).
//!
//! When a connection's pending bytes would need more than the budget has
//! left, it stops reading and waits in the budget's queue; the loop resumes
//! the oldest first when memory frees. A connection with nothing pending is
//! never stopped: when the budget cannot hold a read's leftovers, it echoes
//! through the kernel (peek, send what the socket takes, consume that
//! many), so what its client does not read stays in the kernel's queues.
//! The check on the echo path is one flag,
//! [`MemoryBudget::is_tight`](crate::budget::MemoryBudget::is_tight), kept up
//! to date by every charge and release.
