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
//! The code is meant to be read; each module does one job:
//!
//! 1. `src/server.rs`: the loop. One `Poll`, one slab holding the listening
//!    sockets and every connection (the slab key is the token), fixed tokens
//!    for signals and the waker. Accepting, closing, timers, shutdown.
//! 2. `src/connection.rs`: one connection's bytes. Read into the shared scratch
//!    buffer, write straight back, keep what a short write left behind,
//!    flush it when writable, stop reading when too much waits.
//! 3. `src/idle.rs`: idle timeouts as an intrusive list, O(1) per event.
//! 4. `src/listener.rs`: listening sockets, and which `accept` errors mean
//!    "pause" rather than "try the next one".
//! 5. `src/udp.rs`: UDP echo (`--udp`): one more kind of slab entry, a
//!    datagram budget per turn, and the guard that keeps two echo services
//!    from answering each other forever.
//! 6. `src/handle.rs`, `stats.rs`, `config.rs`, `fd_limit.rs`, `error.rs`:
//!    the edges, where the outside talks to the loop.
//!
//! `cargo doc --document-private-items --open` renders all of them.
//!
//! Run the binary with `RUST_LOG=trace` to watch every event, read and
//! write as it happens.

#[cfg(feature = "cli")]
pub mod cli_support;
mod cluster;
mod config;
mod connection;
mod error;
pub mod fd_limit;
mod handle;
mod idle;
mod listener;
mod server;
mod stats;
#[cfg(feature = "tools")]
pub mod tools;
mod udp;
pub mod units;

pub use cluster::{Cluster, ClusterHandle};
pub use config::{
    Config, DEFAULT_BACKLOG, DEFAULT_DRAIN_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_PENDING,
};
pub use error::Error;
pub use handle::Handle;
pub use server::{slab_entry_size, Server, SCRATCH_SIZE};
pub use stats::Stats;

/// Compiles the README's Rust examples as doc tests, so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
