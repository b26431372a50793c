//! The faults as toxiproxy names them: listeners ("proxies"), their
//! toxics, each toxic's type, stream, toxicity and attributes.
//!
//! Toxiproxy's vocabulary is what people who test against misbehaving
//! backends already know, and its HTTP API is what their client libraries
//! speak, so the model keeps its names and its units one for one: a
//! toxic's attributes are read and written by toxiproxy's attribute names,
//! in toxiproxy's units ([`ToxicKind::attributes`],
//! [`ToxicKind::set_attribute`]), while the engine reads them typed
//! (durations as [`Duration`](std::time::Duration), sizes in bytes).
//!
//! A proxy sits between a client and a backend; a listener of this server
//! *is* the backend, so it can also misbehave in ways a proxy cannot.
//! Those are toxic types of our own, beside toxiproxy's
//! ([`ToxicKind::StopAccepting`], [`ToxicKind::AcceptClose`],
//! [`ToxicKind::AcceptReset`]), so the same API and the same clients add
//! and remove them. A disabled listener is toxiproxy's `down`: the
//! listener's `enabled` flag, not a toxic.
//!
//! Three parts, one job each: [`toxic`] (a toxic's type, stream,
//! toxicity and attributes), [`table`] (the listeners and the operations
//! toxiproxy's API makes on them), [`error`] (why an operation is
//! refused, and the status code toxiproxy answers it with).

pub mod error;
pub mod table;
pub mod toxic;

pub use error::FaultError;
pub use table::{FaultListener, FaultTable, ToxicUpdate, MAX_FAULT_LISTENERS, MAX_TOXICS};
pub use toxic::{default_name, Stream, Toxic, ToxicKind, Toxicity, FAULT_KINDS};
