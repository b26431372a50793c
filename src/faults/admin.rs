//! `--admin ADDR`: the faults changed at run time through toxiproxy's own
//! HTTP API, so toxiproxy's client libraries drive this server unchanged.
//!
//! The API is served by the reactor itself, as `/metrics` is: the same
//! [`HttpConn`] with the same bounds (request size, request time, how
//! many at once, who gets a slot: [`crate::http`]), on a listener of its
//! own that is never the metrics one. A request changes the reactor's
//! [`FaultTable`](crate::faults::FaultTable) in place, between two
//! events, so there is no thread and no lock, and every connection
//! accepted after the answer sees the change; the sockets are brought in
//! line with the table before the answer is sent, so a client told that
//! a proxy is down finds it refusing.
//!
//! - [`routes`]: toxiproxy's paths, methods and status codes, as pure
//!   functions over the table and the listeners' sockets;
//! - `json`: the JSON shapes toxiproxy reads and writes;
//! - `error`: its error answer, `{"error": "...", "status": N}`;
//! - here: the sockets a request binds, handed to the loop with what
//!   changed (`TableChange`), and where a request meets the loop
//!   ([`AdminConn`]); the loop's side is `server/fault_api.rs`.
//!
//! Creating a proxy makes a new listener with faults bound at its
//! `listen` address (with port 0, the port the system gives, which the
//! answer shows); its `upstream` is accepted and ignored, since the
//! listener is its own backend. Disabling or deleting a proxy closes its
//! listener and the connections that came through it, as toxiproxy does,
//! so new clients are refused; enabling it binds the address again.

use std::io;
use std::net::SocketAddr;

use mio::net::TcpListener;

use crate::faults::state::FaultState;
use crate::http::{HttpConn, HttpProgress, HttpRequest, Response};
use crate::serve::{CloseReason, Context, Next, Ready, Role, Stage};
use crate::stats::RequestCut;

mod error;
mod json;
pub mod routes;

pub use error::ApiError;
pub use routes::{route, ListenerSockets};

/// The `Content-Type` of every answer.
const CONTENT_TYPE: &str = "application/json";

/// An answer with a JSON body.
fn json_response(status: u16, body: String) -> Response {
    Response {
        status,
        content_type: CONTENT_TYPE,
        body,
    }
}

/// The listeners a request bound ([`ListenerSockets`]), by proxy name,
/// for the loop to register once the request is answered.
#[derive(Debug)]
pub(crate) struct FaultSockets {
    backlog: u32,
    reuse_port: bool,
    opened: Vec<(String, TcpListener)>,
}

impl FaultSockets {
    /// None bound yet; each will be bound as the fault listeners are.
    fn new(state: &FaultState) -> FaultSockets {
        FaultSockets {
            backlog: state.backlog,
            reuse_port: state.reuse_port,
            opened: Vec::new(),
        }
    }
}

impl ListenerSockets for FaultSockets {
    fn open(&mut self, name: &str, listen: SocketAddr) -> io::Result<SocketAddr> {
        let listener = crate::socket::tcp_listener(listen, self.backlog, self.reuse_port)?;
        let bound = listener.local_addr()?;
        self.opened.push((name.to_string(), listener));
        Ok(bound)
    }
}

/// What a request that changed the fault table leaves to the loop: the
/// listeners as they were (name and address, in the table's order
/// before), and the sockets it bound.
pub(crate) struct TableChange {
    /// Each listener's name and address before the request.
    pub(crate) before: Vec<(String, SocketAddr)>,
    /// The listeners it bound, by proxy name.
    pub(crate) opened: Vec<(String, TcpListener)>,
}

/// A request to the fault API, as the loop sees it: read, routed over the
/// reactor's fault table, answered, closed.
pub struct AdminConn {
    http: HttpConn,
}

impl AdminConn {
    /// A connection just accepted on the admin listener at `now`; what
    /// the HTTP layer refuses by itself is worded as toxiproxy's errors.
    pub fn accepted(stream: mio::net::TcpStream, now: std::time::Instant) -> AdminConn {
        AdminConn {
            http: HttpConn::with_refusals(stream, now, |status, why| {
                ApiError {
                    message: why.to_string(),
                    status,
                }
                .response()
            }),
        }
    }

    /// Its HTTP side (bounds, deadline, why it would be cut).
    pub fn http(&self) -> &HttpConn {
        &self.http
    }

    /// Reads the request and routes it over `faults`' table, without
    /// sending the answer: what changed comes back for the loop to bring
    /// the sockets in line first, so that a client told a proxy is
    /// disabled finds it refusing. `None` for the next step when the
    /// answer is ready for [`AdminConn::send`].
    pub(crate) fn prepare(
        &mut self,
        scratch: &mut [u8],
        faults: &mut FaultState,
    ) -> (Option<Next>, Option<TableChange>) {
        let generation = faults.table.generation();
        let before: Vec<(String, SocketAddr)> = (faults.table.list().iter())
            .map(|listener| (listener.name.clone(), listener.listen))
            .collect();
        let mut sockets = FaultSockets::new(faults);
        let table = &mut faults.table;
        let answer = |request: &HttpRequest| route(request, table, &mut sockets);
        let next = self.http.prepare(scratch, answer).map(after);
        let changed = faults.table.generation() != generation || !sockets.opened.is_empty();
        let change = changed.then_some(TableChange {
            before,
            opened: sockets.opened,
        });
        (next, change)
    }

    /// Sends the answer [`AdminConn::prepare`] made.
    pub(crate) fn send(&mut self) -> Next {
        after(self.http.send_answer())
    }
}

/// What the loop does once serving came to `progress`.
fn after(progress: HttpProgress) -> Next {
    match progress {
        HttpProgress::Waiting => Next::Wait,
        HttpProgress::Finished => Next::Close(CloseReason::Answered),
    }
}

/// The loop serves a request to the fault API with its fault table
/// (`Reactor::serve_admin`), not through this: a stage is lent the
/// [`Context`] alone. Reached without a table, it answers 503.
impl Stage for AdminConn {
    fn serve(&mut self, _ready: Ready, cx: &mut Context) -> Next {
        let unavailable = |_: &HttpRequest| ApiError::unavailable().response();
        after(self.http.serve(&mut cx.scratch[..], unavailable))
    }

    fn role(&self) -> Role {
        Role::Request
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        self.http.stream_mut()
    }

    fn time_out(&mut self) -> CloseReason {
        self.http.answer_timeout();
        CloseReason::Cut(RequestCut::Timeout)
    }
}
