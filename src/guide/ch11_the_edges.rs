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
//!
//! # The public face
//!
//! A library's public items are promises, so the crate makes few. An
//! embedder needs a [`Config`](crate::Config), a [`Server`](crate::Server)
//! bound to it or a [`Cluster`](crate::Cluster) of reactors, the
//! [`Handle`](crate::Handle) and [`ClusterHandle`](crate::ClusterHandle)
//! that stop them and read their [`Stats`](crate::Stats) from another
//! thread, the [`Error`](crate::Error) that stops a server (with
//! [`ConfigError`](crate::ConfigError) and [`TlsError`](crate::TlsError)
//! inside it), the TLS identity ([`tls::TlsIdentity`](crate::tls::TlsIdentity)),
//! the unit parsers ([`units`](crate::units)) and
//! [`raise_nofile_limit`](crate::raise_nofile_limit): those are public, at
//! the crate's root or in the `stats`, `tls` and `units` modules, and
//! everything else (the loop, the connection, every stage) is private.
//! The structs and enums that will grow (`Config`, `Stats`, `Error`, the
//! error enums, the failure reasons) are `#[non_exhaustive]`, so a new
//! field or variant breaks no embedder: a `Config` is made with
//! `Config::default()` or `Config::listening_on(addr)` and its fields set
//! after.
//!
//! The binaries' shared code is theirs, not the library's: the one-line
//! command-line error (`src/cli_support.rs`) is compiled into each binary,
//! and what the load tools share with the comparison and the tests is the
//! `tools` module, which exists only with the `tools` feature and is
//! documented as theirs. A program built on the library with
//! `default-features = false` compiles none of their crates (clap,
//! env_logger, serde, hdrhistogram); CI builds it that way.
//!
//! This guide teaches the private parts, which is why it is private too
//! and rendered with them (`cargo doc --document-private-items`, and the
//! published docs through `[package.metadata.docs.rs]`): an embedder
//! reading the plain docs sees only the promises, a student sees the
//! whole machine, and both builds fail on a broken link in CI.
//!
//! # Counters, declared once
//!
//! Each counter is one line of the `counters!` block in `src/stats.rs`: its
//! field, its doc, how it sums across reactors (added, or the larger kept,
//! as for `peak_pending`), where it shows on the stats line, and its
//! Prometheus family and labels. The macro writes the
//! [`Stats`](crate::Stats) struct, `Stats::add`, the stats line and the
//! `/metrics` text from those lines, so a counter cannot be summed but
//! forgotten on the line, or shown but never exported. A failure enum
//! counts by its variants: `reasons!` declares each variant once with its
//! label, its words and its log sentence, and a
//! [`ByReason`](crate::stats::ByReason) array keeps one count per variant,
//! indexed by the enum itself (`stats.tls_failed[HandshakeFailure::Timeout] += 1`,
//! in `Reactor::close`). The reactor still counts with plain adds to a
//! struct it owns: the declarations cost nothing at run time.
//!
//! # Typed errors
//!
//! The library says what is wrong in its own terms:
//! [`Config::validate`](crate::Config::validate) returns a
//! [`ConfigError`](crate::ConfigError), one variant per problem with the
//! values involved (`BannerTooLong { len, max }`), whose text names
//! `Config`'s fields, which an embedder typed; a certificate or key that
//! cannot be used is a [`TlsError`](crate::TlsError) naming the file and
//! carrying the parser's error as its `source()`. The binary, which knows
//! its flags, turns each `ConfigError` into its own one-line message with
//! the flag's name (`max-pending must be at least 1 byte`), the same words
//! its users have always seen.
