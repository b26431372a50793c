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
//! `guide` module, fourteen numbered chapters that walk through the loop,
//! a byte's trip, a connection's states, backpressure, memory, shutdown,
//! UDP, load balancers, TLS, several reactors, the measurements behind
//! the design, adding a stage and deadlines that fall due out of order,
//! with pictures, real `RUST_LOG=trace` lines and links into every part
//! of the code. It teaches internals, so it is rendered with
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

// The reactor's internals: private, and taught by the guide, which is
// rendered with them (`cargo doc --document-private-items`).
mod accept;
mod access_log;
mod banner;
mod budget;
mod cluster;
mod config;
mod connection;
mod drain;
mod error;
mod fd_limit;
mod guide;
mod handle;
mod http;
mod idle;
mod metrics;
mod pending;
mod proxy_protocol;
mod receipt;
mod serve;
mod server;
mod signals;
mod socket;
mod tcp_info;
mod timers;
mod udp;
mod websocket;
mod whoami;

// What an embedder uses.
pub mod faults;
pub mod stats;
pub mod tls;
#[cfg(feature = "tools")]
pub mod tools;
pub mod units;

pub use access_log::{AccessLog, AccessLogTarget, QUEUED_LINES};
pub use budget::BudgetSource;
pub use cluster::{Cluster, ClusterHandle};
pub use config::{
    Config, DEFAULT_BACKLOG, DEFAULT_DRAIN_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_PENDING,
    DEFAULT_PROXY_HEADER_TIMEOUT, MAX_BANNER,
};
pub use error::{ConfigError, Error, ReactorFailure, TlsError};
pub use fd_limit::raise_nofile_limit;
pub use handle::Handle;
pub use serve::SCRATCH_SIZE;
pub use server::{slab_entry_size, Server};
pub use stats::Stats;

/// Compiles the README's Rust examples as doc tests, so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
