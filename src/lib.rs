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
//! ## What is public
//!
//! An embedder needs little: a [`Config`] (every setting, with its
//! defaults), a [`Server`] bound to it (or a [`Cluster`] of reactors
//! sharing each address), the [`Handle`] that stops it or reads its
//! [`Stats`] from another thread, and the [`Error`] that stops the whole
//! server.
//!
//! ## How it works: the guide
//!
//! The crate is written to be read, and it carries its own textbook: the
//! `guide` module, thirteen numbered chapters that walk through the loop,
//! a byte's trip, a connection's states, backpressure, memory, shutdown,
//! UDP, load balancers, TLS, several reactors and the measurements behind
//! the design, with pictures, real `RUST_LOG=trace` lines and links into
//! every part of the code. It teaches internals, so it is rendered with
//! the private items:
//!
//! ```sh
//! cargo doc --document-private-items --open
//! ```
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
mod guide;
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
