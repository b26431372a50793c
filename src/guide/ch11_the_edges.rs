//! Chapter 11: the edges, where the outside meets the loop.
//!
//! The loop is the middle of the program; around it sit the parts that
//! talk to people and to the operating system. Each has one job.
//!
//! - [`Config`](crate::config::Config): everything a user can tune, with the
//!   defaults in one place; [`Config::validate`](crate::config::Config::validate)
//!   refuses values with no meaning at start-up.
//! - [`Error`](crate::error::Error): only what stops the whole server; a client's
//!   reset or broken pipe closes that client and is logged, never returned.
//! - [`Stats`](crate::stats::Stats): the counters, plain integers owned by the
//!   reactor thread (no atomics on the hot path), read through a
//!   [`Handle`](crate::handle::Handle) and logged with
//!   [`StatsLog`](crate::stats::StatsLog) on a schedule
//!   (`--stats-interval`), on SIGUSR1, and once at the end:
//!
//!   ```text
//!   [INFO  echo_reactor::server] shut down; connections: 0 active, 1 peak, 2 accepted, closed 1 by peer / 1 by error / 0 idle / 0 at shutdown; bytes: 7 in, 7 out; backpressure pauses: 0, peak pending: 0 B; accept pauses: 0 at limit, 0 out of fds; memory: 0 B held, 0 B peak, 0 parks
//!   ```
//! - [`fd_limit`](crate::fd_limit) raises the open-files limit at start-up
//!   and sizes the connection limit by it; [`units`](crate::units) parses
//!   sizes and durations as people type them.
//! - The binary, `src/main.rs`, only parses flags, sets up logging and runs
//!   a [`Server`](crate::server::Server) or a [`Cluster`](crate::cluster::Cluster).
//! - The load tools, `echo-loadgen` and `echo-idle-swarm` (`src/bin/`),
//!   drive any echo server with plain non-blocking clients and verify every
//!   byte; what they share with the comparison and the tests is the
//!   `tools` module (feature `tools`): their JSON reports, HdrHistogram
//!   interval logs, loopback source addresses and one `/proc` reader.
//!
//! Errors at the edges are one line on stderr and an exit status, never a
//! panic backtrace: 2 for a bad command line, 1 when the server cannot
//! start (the address is in use, a TLS key does not belong to its
//! certificate) or fails, 0 after a shutdown. Each [`Error`](crate::error::Error)
//! carries what it was doing and for which address, so the line says what
//! to fix:
//!
//! ```text
//! echo-reactor: cannot listen on 127.0.0.1:65432: Address already in use (os error 98) (is another server running on it?)
//! ```
