//! Chapter 7: the edges, where the outside meets the loop.
//!
//! - [`Config`](crate::Config): everything a user can tune, with the
//!   defaults in one place; [`Config::validate`](crate::Config::validate)
//!   refuses values with no meaning at start-up.
//! - [`Error`](crate::Error): only what stops the whole server; a client's
//!   reset or broken pipe closes that client and is logged, never returned.
//! - [`Stats`](crate::Stats): the counters, plain integers owned by the
//!   reactor thread (no atomics on the hot path), read through a
//!   [`Handle`](crate::Handle) and logged with
//!   [`StatsLog`](crate::stats::StatsLog) on a schedule.
//! - [`fd_limit`](crate::fd_limit) raises the open-files limit at start-up
//!   and sizes the connection limit by it; [`units`](crate::units) parses
//!   sizes and durations as people type them.
//! - The binary, `src/main.rs`, only parses flags, sets up logging and runs
//!   a [`Server`](crate::Server) or a [`Cluster`](crate::Cluster).
//! - The load tools, `echo-loadgen` and `echo-idle-swarm` (`src/bin/`),
//!   drive any echo server with plain non-blocking clients and verify every
//!   byte; what they share with the comparison and the tests is the
//!   `tools` module (feature `tools`): their JSON reports and one `/proc`
//!   reader.
