//! The guide: how echo-reactor works, chapter by chapter, with links into
//! the code.
//!
//! The crate is written to be read. These chapters follow the code in the
//! order a newcomer needs it; every name in them links to the item it
//! describes, and `cargo doc` fails when a link no longer resolves, so the
//! guide cannot drift from the code. Run the server with `RUST_LOG=trace`
//! beside it to watch each step happen (the README shows an excerpt).
//!
//! 1. [`the_loop`]: one thread, one poll, one slab; what a turn does.
//! 2. [`a_bytes_trip`]: one byte from `accept` to its echo.
//! 3. [`pressure`]: slow readers, busy writers, too many clients.
//! 4. [`stopping`]: signals, handles and the graceful drain.
//! 5. [`udp_echo`]: datagrams in the same loop, and why they need a guard.
//! 6. [`more_cores`]: several reactors sharing a port.
//! 7. [`the_edges`]: configuration, errors, counters, the binary, the tools.
//! 8. [`load_balancers`]: the PROXY header stage, the banner, the metrics
//!    and health endpoint.
//! 9. [`memory`]: one memory budget for every client's buffers.
//! 10. [`tls`]: the same echo through a rustls session.

pub mod a_bytes_trip;
pub mod load_balancers;
pub mod memory;
pub mod more_cores;
pub mod pressure;
pub mod stopping;
pub mod the_edges;
pub mod the_loop;
pub mod tls;
pub mod udp_echo;
