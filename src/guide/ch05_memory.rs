//! Chapter 5: memory. One budget for every client.
//!
//! A connection holds memory only while its client is behind: the
//! [`Pending`](crate::pending::Pending) bytes of a short write, up to
//! [`Config::max_pending`](crate::config::Config::max_pending) (chapter 4).
//! That bounds one client, not a crowd: 20,000 clients that write and
//! never read could still hold connections × `max_pending`, 1.3 GB at the
//! default, and in a container with a memory limit one such crowd gets
//! the whole server killed, well-behaved clients with it. redis answers
//! the same threat with one limit for all clients' buffers
//! (`maxmemory-clients`) and evicts clients; this server answers it
//! without dropping a byte or a client.
//!
//! # The budget
//!
//! Every buffer held for a client is charged to one
//! [`MemoryBudget`](crate::budget::MemoryBudget)
//! ([`MemoryBudget::charge`](crate::budget::MemoryBudget::charge) when it
//! is allocated or grows, [`MemoryBudget::release`](crate::budget::MemoryBudget::release)
//! when it shrinks or is freed): what is allocated, not what is used (a
//! pending buffer's box and its capacity). Its size is
//! [`Config::max_memory`](crate::config::Config::max_memory), by default
//! a quarter of the memory limit of the server's cgroup
//! ([`budget::default_limit`](crate::budget::default_limit), read from
//! `/sys/fs/cgroup/memory.max`, cgroup v2), leaving the rest for the
//! server itself and for the kernel's socket buffers, which cgroup v2
//! charges to the same limit; without a limit, 1 GiB. The log says which,
//! at start-up:
//!
//! ```text
//! [INFO  echo_reactor::server::setup] memory budget for client buffers: 1073741824 B (default: no cgroup memory limit in /sys/fs/cgroup/memory.max)
//! ```
//!
//! With several reactors (chapter 10) each gets `1/N` of the budget:
//! nothing is shared between reactor threads, and together they stay
//! within the whole (a busy reactor cannot borrow an idle one's share).
//!
//! # Growing is refused, not echoing
//!
//! When a connection's pending bytes would need more than the budget has
//! left, it stops reading, exactly as under backpressure
//! ([`Connection::stop_reading`](crate::connection::Connection::stop_reading)):
//! it keeps what it has, flushes it as its client reads, and is *parked*
//! in the budget's queue
//! ([`MemoryBudget::park`](crate::budget::MemoryBudget::park)):
//!
//! ```text
//! [TRACE echo_reactor::connection::memory] token 3: 25872 bytes pending, memory budget spent: reads parked until memory frees
//! ```
//!
//! Freeing memory raises no event, so after each turn's events the loop
//! resumes parked connections, oldest first, while memory is free
//! (`Reactor::resume_parked`,
//! [`Connection::unpark`](crate::connection::Connection::unpark)), looking
//! at each at most once per turn and never scanning the connections that
//! are not parked. One that still finds no room parks again, at the back.
//!
//! ```text
//! [TRACE echo_reactor::server] token 3: memory freed, resuming reads
//! ```
//!
//! # Echoing needs no memory
//!
//! A connection with nothing pending is never stopped for the budget.
//! When the budget cannot hold a whole read's leftovers
//! ([`MemoryBudget::is_tight`](crate::budget::MemoryBudget::is_tight)), it
//! echoes *through the kernel* instead
//! ([`Connection::echo_through_kernel`](crate::connection::Connection::echo_through_kernel)):
//! it peeks at the received bytes, sends what the socket takes, and only
//! then consumes exactly that many from the receive queue. Whatever its
//! client does not read stays in the kernel's queues, not in the server:
//!
//! ```text
//! [TRACE echo_reactor::connection::memory] token 5: memory budget spent: echoed 6 of 6 queued bytes through the kernel
//! ```
//!
//! So well-behaved clients keep getting their echoes (at one more system
//! call per echo) while hostile ones are parked, and nobody is
//! disconnected. The check on the plain echo path is one flag, kept up to
//! date by every charge and release; the rest is out of line, in
//! `src/connection/memory.rs`.
//!
//! # TLS under the budget
//!
//! A TLS connection cannot echo through the kernel: its bytes must be
//! decrypted and encrypted again. Instead, the records its session may
//! hold for a client shrink to what the budget has left, never below one
//! record (16 KiB of plaintext,
//! [`ECHO_CHUNK`](crate::tls::ECHO_CHUNK)): a client that reads still gets
//! every echo, a record at a time, and one that does not holds one record
//! beyond its session's state. 12 TLS clients that write and never read,
//! against a 1 MiB budget and `--max-pending 1MiB`, peak at 1.39 MB
//! charged instead of 12.9 MB without this
//! (`memory_budget::hostile_tls_clients_...` in the tests asserts the
//! bound).
//!
//! # What the server holds, and what bounds it
//!
//! Measured on a 2-core machine, release build:
//!
//! | what | bound | measured |
//! |---|---|---|
//! | an idle connection | a 16-byte slab slot, no heap | 16-23 B of RSS each (chapter 12) |
//! | one client's unsent echoes | `--max-pending` (64 KiB) | at most that, boxed, freed when drained |
//! | all clients' unsent echoes | `--max-memory` | 40 clients that write and never read (`--max-pending 1MiB`): RSS grew 4.14 MiB with `--max-memory 4MiB`, 40.3 MiB with `1GiB` |
//! | the kernel's share, per socket | not the server's: `net.ipv4.tcp_rmem` / `tcp_wmem` autotuning, capped by `tcp_mem` | about 9 MiB per client that never reads, on loopback, mostly in its own and the server's queues; ~1 KiB per idle socket (its slab objects: chapter 12) |
//!
//! The counters show where it stands: `memory: ... B held, ... B peak,
//! ... parks` in the stats line, and `/metrics`.
