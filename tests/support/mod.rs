//! The integration tests' shared toolkit, one file per job:
//!
//! - [`wait`]: how long any wait may take ([`PATIENCE`]), and the bounded
//!   waits built on it.
//! - [`server`]: the reactor on a thread of the test process
//!   ([`InProcess`]), and several sharing a port ([`InCluster`]).
//! - [`binary`]: the `echo-reactor` binary as a child process with its log
//!   captured ([`Binary`]), and commands run to their end.
//! - [`client`]: blocking clients with timeouts, and the echo checks built
//!   on them.
//! - [`data`]: test data that is the same on every run.
//! - [`scratch`]: a temporary directory removed when dropped.
//! - [`sockets`]: what the kernel says about loopback sockets (states and
//!   queues), from `/proc/net`.
//! - [`skip`]: what a test does on a host that lacks what it needs: skip,
//!   or fail in strict mode (`ECHO_REACTOR_TEST_STRICT=1`, set by CI).
//! - [`tls`]: a test certificate, a TLS server on loopback, and blocking
//!   rustls clients that trust it.
//! - [`websocket`]: a raw WebSocket client that writes frames as a case
//!   describes them and reads the server's one by one.
//!
//! What the kernel says about the server process (CPU time, memory,
//! descriptors) is read by the library's one `/proc` reader,
//! `echo_reactor::tools::process`.
//!
//! Every wait here is bounded, so a broken server fails a test instead of
//! hanging it. Tests `use crate::support::*`, hence the re-exports.

pub mod binary;
pub mod client;
pub mod data;
pub mod scratch;
pub mod server;
pub mod skip;
pub mod sockets;
pub mod tls;
pub mod wait;
pub mod websocket;

pub use binary::*;
pub use client::*;
pub use data::*;
pub use scratch::*;
pub use server::*;
pub use skip::*;
pub use sockets::*;
pub use tls::*;
pub use wait::*;
pub use websocket::*;
