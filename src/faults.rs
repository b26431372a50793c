//! Misbehaving on purpose: listeners whose connections are slowed, cut,
//! reset or refused, as toxiproxy would do it, but by the backend itself.
//!
//! People point proxies, load balancers and client libraries at an echo
//! target to see what they do when the backend misbehaves. Toxiproxy does
//! it as a proxy in front of a real backend, with a hop and buffering of
//! its own; here the named listeners beside the plain one misbehave by
//! themselves, in toxiproxy's vocabulary so its users and its clients
//! need learn nothing new.
//!
//! - [`model`]: the listeners ("proxies"), their toxics, and the table of
//!   them with the operations toxiproxy's API makes, each refused with an
//!   error that carries toxiproxy's status code;
//! - [`spec`]: the command line's `--fault-listen` and `--toxic`;
//! - `draw`: what a new connection draws from its listener's toxics, as
//!   one plan (a connection that draws nothing is a plain connection);
//! - `stage`: a connection that drew faults, as a
//!   stage of its own (the trait every stage implements, in `serve`);
//! - `state`: what the reactor keeps for its fault listeners;
//! - `counts`: the faults applied, by listener and kind;
//! - `udp`: a fault listener's UDP socket (`--udp`), whose datagrams are
//!   lost, duplicated, delayed or reordered;
//! - `admin`: the same changes at run time, through toxiproxy's HTTP API
//!   (`--admin`).
//!
//! The reactor's side (binding the listeners, bringing their sockets in
//! line with the table, starting a connection) is `server/faulting.rs`.

pub(crate) mod admin;
pub(crate) mod counts;
pub(crate) mod draw;
pub mod model;
pub mod spec;
pub(crate) mod stage;
pub(crate) mod state;
pub(crate) mod udp;

pub use model::{
    FaultError, FaultListener, FaultTable, Stream, Toxic, ToxicKind, ToxicUpdate, Toxicity,
    FAULT_KINDS, MAX_FAULT_LISTENERS, MAX_TOXICS,
};
