//! The guide: how echo-reactor works, chapter by chapter, with links into
//! the code.
//!
//! This is the one place the reactor is taught. The README is the user's
//! manual (run it, flags, load it, deploy it); the modules' own docs say
//! what each module is for. The chapters are numbered so they keep their
//! order wherever they are rendered, and every name in them links to the
//! item it describes (all but the loop's private methods; chapter 1 says
//! why). The doc build with the private items (CI runs it with warnings
//! as errors) fails when a link no longer resolves, and the tests replay
//! the trace excerpt of chapter 2 against the real binary and check the
//! rule table of chapter 1 against `src/`, so the guide cannot drift from
//! the code without a build failing.
//!
//! The guide documents internals, so it is private and rendered with them:
//!
//! ```sh
//! cargo doc --document-private-items --open
//! ```
//!
//! Run the server beside it with `RUST_LOG=trace` (or `debug`) to watch
//! each step happen: `RUST_LOG=trace cargo run -- --listen 127.0.0.1:0`.
//!
//! # Chapters
//!
//! 1. [`ch01_the_loop`]: one thread, one poll, one slab; what a turn
//!    does; the rules of the loop and where each lives.
//! 2. [`ch02_a_bytes_trip`]: one byte from `accept` to its echo, with a
//!    real trace.
//! 3. [`ch03_a_connections_life`]: every state a connection can be in,
//!    and what moves it from one to the next.
//! 4. [`ch04_pressure`]: slow readers, busy writers, too many clients,
//!    idle ones.
//! 5. [`ch05_memory`]: one memory budget for every client's buffers.
//! 6. [`ch06_stopping`]: signals, handles and the graceful drain.
//! 7. [`ch07_udp_echo`]: datagrams in the same loop, and why they need a
//!    guard.
//! 8. [`ch08_load_balancers`]: the PROXY header stage, the banner, the
//!    metrics and health endpoint.
//! 9. [`ch09_tls`]: the same echo through a rustls session.
//! 10. [`ch10_more_cores`]: several reactors sharing a port.
//! 11. [`ch11_the_edges`]: configuration, errors, counters, the binary,
//!     the tools.
//! 12. [`ch12_measurements`]: what each design choice costs and buys, in
//!     figures; a million idle connections; the limits of one machine
//!     and of a cluster's nodes.
//! 13. [`ch13_adding_a_stage`]: how a new connection stage or listener
//!     kind is added.
//! 14. [`ch14_deadlines_out_of_order`]: a fault's wake-ups, which fall due
//!     in no order; a heap against a timing wheel, measured.
//!
//! # A map of the code
//!
//! Each module has one job. In the order a newcomer needs them:
//!
//! - `src/server.rs`, [`crate::server`]: the loop. One `Poll`, one slab
//!   holding every socket (the slab key is the token), dispatch, the
//!   serve-again queue. Its submodules: `entry` (what the slab holds, the
//!   stages listed once), `features` (what the optional features keep),
//!   `setup` (binding, the state before the first turn), `accepting` (the
//!   listeners and the accept loops), `starting` (which stages a new
//!   connection passes through, and the hand-off between them), `closing`
//!   (the one way a socket leaves the slab), `control` (timers, commands,
//!   signals, shutdown).
//! - [`crate::serve`]: the contract between the loop and a socket's
//!   handler: the serving [`Context`](crate::serve::Context),
//!   [`Ready`](crate::serve::Ready), [`Next`](crate::serve::Next),
//!   [`CloseReason`](crate::serve::CloseReason), the scratch buffer's size
//!   and the read budget, and [`Stage`](crate::serve::Stage): all the loop
//!   asks of an entry other than a plain connection or a listener.
//! - [`crate::connection`]: one connection's bytes. Read into the shared
//!   scratch buffer, write straight back, keep what a short write left
//!   behind, flush it when writable, stop reading when too much waits; its
//!   `memory` submodule is what it does when its limits or the memory
//!   budget stop it. [`crate::pending`]: the bytes a short write left
//!   behind, a connection's only heap memory.
//! - [`crate::budget`]: one memory budget for every client's buffers.
//! - [`crate::accept`]: when to accept, and what a failed `accept` means
//!   (pause, back off, or take the next).
//! - [`crate::socket`]: opening listening sockets, TCP and UDP, with their
//!   options.
//! - [`crate::timers`]: every deadline, and the nearest as the poll
//!   timeout; [`crate::idle`]: idle timeouts as an intrusive list, O(1)
//!   per event.
//! - [`crate::udp`]: UDP echo (`--udp`) and the guard that keeps two echo
//!   services from answering each other forever.
//! - [`crate::signals`] and [`crate::handle`]: how signals and other
//!   threads reach the loop.
//! - For load balancers, each optional and off by default:
//!   [`crate::proxy_protocol`] (the PROXY header before the echo),
//!   [`crate::banner`] (who answered), [`crate::metrics`] and
//!   [`crate::http`] (`/metrics`, `/healthz`). [`crate::tls`]: the same
//!   echo through a rustls session (`--tls-listen`).
//! - [`crate::faults`]: listeners that misbehave on purpose
//!   (`--fault-listen`, `--toxic`), in toxiproxy's vocabulary: the model
//!   and its table, the command line's specs, the draw at accept, the
//!   faulted connection and UDP socket; the reactor's side is
//!   `server/faulting.rs`, the wake-ups' timing wheel `timers/wakes.rs`.
//! - [`crate::cluster`]: several reactors, one per thread, sharing each
//!   address.
//! - [`crate::config`], [`crate::error`], [`crate::stats`],
//!   [`crate::fd_limit`], [`crate::units`]: the edges, one job each.
//! - `src/tools/` (feature `tools`): what the load tools share with the
//!   comparison and the tests: their JSON reports, HdrHistogram interval
//!   logs, loopback source addresses, and the `/proc` reader.
//! - `src/main.rs`: the server's command line, and nothing else.
//!   `src/bin/echo-loadgen/`, `src/bin/echo-idle-swarm/`: the load tools,
//!   installed beside the server by `cargo install --path .`.
//! - `tests/`: one integration-test binary (`tests/tests.rs` declares each
//!   file as a module), each test driving the server (in process, or the
//!   binary) with plain blocking `std::net::TcpStream` clients;
//!   `tests/support/` is their shared toolkit.
//! - `examples/`: the tutorial clients (`echo_client`,
//!   `multiconn_client`), a tokio echo server to compare with
//!   (`tokio_echo`), and the side-by-side comparison (`compare/`, with its
//!   own README holding the full benchmark run), a development tool.
//! - `examples/deploy/`: the container image (`Dockerfile`,
//!   `build-image.sh`) and the Kubernetes manifests: the echo fleet
//!   (`fleet/`) and the load generators (`load/`).
//! - `.ci/run`: what CI runs: `cargo fmt --check`, `cargo clippy`,
//!   `cargo doc`, `cargo test`.

pub mod ch01_the_loop;
pub mod ch02_a_bytes_trip;
pub mod ch03_a_connections_life;
pub mod ch04_pressure;
pub mod ch05_memory;
pub mod ch06_stopping;
pub mod ch07_udp_echo;
pub mod ch08_load_balancers;
pub mod ch09_tls;
pub mod ch10_more_cores;
pub mod ch11_the_edges;
pub mod ch12_measurements;
pub mod ch13_adding_a_stage;
pub mod ch14_deadlines_out_of_order;
