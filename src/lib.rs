//! # echo-reactor
//!
//! A TCP echo server built as a hand-written, single-threaded
//! [mio](https://docs.rs/mio) reactor: every byte a client sends comes back
//! to it, in order, until the client closes.
//!
//! ```no_run
//! use echo_reactor::{Config, Server};
//!
//! # fn main() -> Result<(), echo_reactor::Error> {
//! let server = Server::bind(Config::listening_on("127.0.0.1:0".parse().unwrap()))?;
//! println!("echoing on {:?}", server.local_addrs());
//! let handle = server.handle(); // stop it from another thread with handle.stop()
//! let final_stats = server.run()?;
//! # let _ = (handle, final_stats);
//! # Ok(())
//! # }
//! ```
//!
//! ## Reading order
//!
//! Start with the [`guide`]: its chapters walk through the code below with
//! links to each part. The modules, each with one job, in the order a
//! newcomer needs them:
//!
//! 1. [`server`]: the loop. One `Poll`, one slab holding every socket (the
//!    slab key is the token), dispatch, closing, and (in its submodules)
//!    accepting, timers, commands, signals and shutdown.
//! 2. [`serve`]: the contract between the loop and a socket's handler: the
//!    serving [`Context`](serve::Context), [`Ready`](serve::Ready),
//!    [`Next`](serve::Next), [`CloseReason`](serve::CloseReason), the
//!    scratch buffer's size and the read budget.
//! 3. [`connection`]: one connection's bytes. Read into the shared scratch
//!    buffer, write straight back, keep what a short write left behind,
//!    flush it when writable, stop reading when too much waits.
//! 4. [`pending`]: the bytes a short write left behind, a connection's only
//!    heap memory.
//! 5. [`accept`]: when to accept, and what a failed `accept` means (pause,
//!    back off, or take the next).
//! 6. [`socket`]: opening listening sockets, TCP and UDP, with their options.
//! 7. [`timers`]: every deadline, and the nearest as the poll timeout.
//! 8. [`idle`]: idle timeouts as an intrusive list, O(1) per event;
//!    [`budget`]: one memory budget for every client's buffers.
//! 9. [`udp`]: UDP echo (`--udp`) and the guard that keeps two echo
//!    services from answering each other forever.
//! 10. [`signals`] and [`handle`]: how signals and other threads reach the
//!     loop.
//! 11. For load balancers, each optional and off by default:
//!     [`proxy_protocol`] (the PROXY header before the echo), [`banner`]
//!     (who answered), [`metrics`] and [`http`] (`/metrics`, `/healthz`).
//!     [`tls`]: the same echo through a rustls session (`--tls-listen`).
//! 12. [`cluster`]: several reactors, one per thread, sharing each address.
//! 13. [`config`], [`error`], [`stats`], [`fd_limit`], [`units`]: the edges.
//! 14. `tools` (feature `tools`): what the load tools share with the
//!     comparison and the tests: their JSON reports, HdrHistogram interval
//!     logs, loopback source addresses, and the `/proc` reader.
//!
//! Run the binary with `RUST_LOG=trace` to watch every event, read and
//! write as it happens.
//!
//! ## Features
//!
//! - `cli` (default): the `echo-reactor` binary's command line and logger.
//! - `tools` (default): the load tools `echo-loadgen` and
//!   `echo-idle-swarm`, and the `tools` module.
//!
//! A program that only embeds the server can depend on the crate with
//! `default-features = false` and compile neither.

#![warn(missing_docs)]

pub mod accept;
pub mod banner;
pub mod budget;
#[cfg(feature = "cli")]
pub mod cli_support;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod error;
pub mod fd_limit;
pub mod guide;
pub mod handle;
pub mod http;
pub mod idle;
pub mod metrics;
pub mod pending;
pub mod proxy_protocol;
pub mod serve;
pub mod server;
pub mod signals;
pub mod socket;
pub mod stats;
pub mod timers;
pub mod tls;
#[cfg(feature = "tools")]
pub mod tools;
pub mod udp;
pub mod units;

pub use cluster::{Cluster, ClusterHandle};
pub use config::{
    Config, DEFAULT_BACKLOG, DEFAULT_DRAIN_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_PENDING,
};
pub use error::{ConfigError, Error, ReactorFailure, TlsError};
pub use handle::Handle;
pub use serve::SCRATCH_SIZE;
pub use server::{slab_entry_size, Server};
pub use stats::Stats;

/// Compiles the README's Rust examples as doc tests, so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
