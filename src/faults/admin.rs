//! `--admin ADDR`: the faults changed at run time through toxiproxy's own
//! HTTP API, so toxiproxy's client libraries drive this server unchanged.
//!
//! The API is served by the reactor itself, as `/metrics` is: the same
//! [`HttpConn`] with the same bounds (request size, request time, how
//! many at once, who gets a slot: [`crate::http`]), on a listener of its
//! own that is never the metrics one. A request changes the reactor's
//! [`FaultTable`] in place, between two events, so there is no thread and
//! no lock, and every connection accepted after the answer sees the
//! change.
//!
//! - [`routes`]: toxiproxy's paths, methods and status codes, as pure
//!   functions over the table and the listeners' sockets;
//! - `json`: the JSON shapes toxiproxy reads and writes;
//! - `error`: its error answer, `{"error": "...", "status": N}`;
//! - here: the sockets a request opens, handed to the loop
//!   ([`FaultSockets`]), and where a request meets the loop ([`AdminConn`]).
//!
//! Creating a proxy makes a new listener with faults bound at its
//! `listen` address (with port 0, the port the system gives, which the
//! answer shows); its `upstream` is accepted and ignored, since the
//! listener is its own backend. Disabling a proxy closes its listener, so
//! new clients are refused; enabling it binds the address again.

use std::io;
use std::net::SocketAddr;

use mio::net::TcpListener;

use crate::faults::FaultTable;
use crate::http::{HttpConn, HttpProgress, Response};
use crate::serve::{CloseReason, Context, Next, Ready, Role, Stage};
use crate::stats::RequestCut;

mod error;
mod json;
pub mod routes;

pub use error::ApiError;
pub use routes::{route, ListenerSockets, VERSION};

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

/// The listeners' sockets as a request changes them: bound at once (so
/// the answer can say the port, and a port in use is refused before
/// anything changes), then handed to the loop, which registers the new
/// ones and closes those named, once the request is answered
/// ([`FaultSockets::take`]).
#[derive(Debug, Default)]
pub struct FaultSockets {
    /// Bound in this request, by the proxy's name, not yet registered.
    opened: Vec<(String, TcpListener)>,
    /// Proxies whose listener from before this request is to close.
    closed: Vec<String>,
}

impl FaultSockets {
    /// Nothing waits for the loop.
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty() && self.closed.is_empty()
    }

    /// What the loop has to do: close the listeners of the proxies named
    /// first, then register the listeners opened.
    pub fn take(&mut self) -> (Vec<String>, Vec<(String, TcpListener)>) {
        (
            std::mem::take(&mut self.closed),
            std::mem::take(&mut self.opened),
        )
    }
}

impl ListenerSockets for FaultSockets {
    fn open(&mut self, name: &str, listen: SocketAddr) -> io::Result<SocketAddr> {
        let listener = crate::socket::tcp_listener(listen, crate::config::DEFAULT_BACKLOG, false)?;
        let bound = listener.local_addr()?;
        self.opened.push((name.to_string(), listener));
        Ok(bound)
    }

    fn close(&mut self, name: &str) {
        self.closed.push(name.to_string());
    }
}

/// A request to the fault API, as the loop sees it: read, routed over the
/// table, answered, closed.
pub struct AdminConn {
    http: HttpConn,
}

impl AdminConn {
    /// A connection just accepted on the admin listener.
    pub fn new(http: HttpConn) -> AdminConn {
        AdminConn { http }
    }

    /// Its HTTP side (bounds, deadline, why it would be cut).
    pub fn http(&self) -> &HttpConn {
        &self.http
    }
}

impl Stage for AdminConn {
    fn serve(&mut self, _ready: Ready, cx: &mut Context) -> Next {
        let (table, sockets): (&mut FaultTable, &mut FaultSockets) =
            (&mut cx.faults, &mut cx.fault_sockets);
        let answer = |request: &crate::http::HttpRequest| route(request, table, sockets);
        match self.http.serve(&mut cx.scratch[..], answer) {
            HttpProgress::Waiting => Next::Wait,
            HttpProgress::Finished => Next::Close(CloseReason::Answered),
        }
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
