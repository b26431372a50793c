//! What the load tools share with each other, the comparison and the tests.
//!
//! Not part of the server: this module exists only with the `tools` cargo
//! feature (on by default), so a program that embeds the reactor with
//! `default-features = false` compiles neither it nor its dependencies
//! (serde, serde_json, hdrhistogram, base64). The tools themselves are
//! binaries of this package, `echo-loadgen` and `echo-idle-swarm`
//! (`src/bin/`). It is the tools' API, not the server's: it changes with
//! them, and a program that embeds the server needs none of it.
//!
//! - [`report`]: the JSON reports the tools write, one serde type each, so
//!   whoever reads a report (the comparison, a test, a user's script) reads
//!   the same type the tool wrote.
//! - [`process`]: a process's CPU time, memory and descriptors from
//!   `/proc`, for reporting what a load cost the server.
//! - [`histogram_log`]: a run's latencies and report as an HdrHistogram
//!   interval log, written by one load generator and read back to merge
//!   the runs of several.
//! - [`source`]: client sockets spread over loopback source addresses, so
//!   that many connections (or many short-lived ones) do not run out of
//!   ports.

pub mod histogram_log;
pub mod process;
pub mod report;
pub mod source;
