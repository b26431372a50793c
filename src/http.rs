//! The HTTP/1.1 connections of the metrics endpoint and the fault API: one
//! request, one answer, closed.
//!
//! `--metrics ADDR` opens a second kind of listener in the same loop, and
//! `--admin ADDR` a third ([`crate::faults::admin`]). What comes to the
//! first is a scraper (Prometheus) or a load balancer's health check, to
//! the second a test's toxiproxy client, but each is still a socket anyone
//! can reach, so an [`HttpConn`] is bounded
//! the way echo clients are: a request larger than [`MAX_REQUEST`] is
//! refused, one not complete within the request timeout is closed, and at
//! most [`MAX_HTTP_CONNECTIONS`] are open at once; who gets a slot when
//! they are all held is [`admission`]'s rule, which keeps probes answered
//! whatever idle or slow clients do. A connection answers one request and
//! closes (`Connection: close`), so no state outlives a request. Parsing is
//! `httparse`'s; a body (the fault API's JSON) is read by its
//! `Content-Length`, within the same [`MAX_REQUEST`].

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use log::debug;
use mio::net::TcpStream;

pub mod admission;
pub use admission::RequestCut;

/// The largest request accepted, headers included.
pub const MAX_REQUEST: usize = 8 * 1024;
/// Most connections open at once, per endpoint.
pub const MAX_HTTP_CONNECTIONS: usize = 16;
/// How long a client has to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Headers parsed at most; a request with more is refused.
const MAX_HEADERS: usize = 32;

/// A request read to its end, as a router sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    /// `GET`, `POST`, ... (`HEAD` is routed as `GET`, its body dropped).
    pub method: &'a str,
    /// The target, query string included.
    pub path: &'a str,
    /// The body, empty without a `Content-Length`.
    pub body: &'a [u8],
}

/// An answer: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Response {
    /// A plain-text answer.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            409 => "Conflict",
            411 => "Length Required",
            413 => "Content Too Large",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "",
        };
        // The metrics endpoint's paths take GET alone; the fault API names
        // its methods in its JSON error instead.
        let allow = if self.status == 405 && !self.content_type.starts_with("application/json") {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        // A 204 has no body, and says nothing of its length (RFC 9110).
        let length = if self.status == 204 {
            String::new()
        } else {
            format!("Content-Length: {}\r\n", self.body.len())
        };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\n{length}{allow}\
             Connection: close\r\n\r\n{}",
            self.status, self.content_type, self.body
        )
        .into_bytes()
    }
}

/// What serving an HTTP connection came to.
#[derive(Debug, PartialEq, Eq)]
pub enum HttpProgress {
    /// The request (or the answer) is not complete yet.
    Waiting,
    /// Done, or failed: close it.
    Finished,
}

/// How an endpoint words the refusals the HTTP layer makes by itself (a
/// request too large, malformed or too slow), from their status and
/// reason: in plain text for `/metrics`, in toxiproxy's JSON for the fault
/// API, as each endpoint's clients read them.
pub type Refusal = fn(u16, &str) -> Response;

/// The plain-text refusal: the reason and a newline.
fn plain_refusal(status: u16, why: &str) -> Response {
    Response::text(status, format!("{why}\n"))
}

/// One connection to the metrics endpoint or the fault API.
pub struct HttpConn {
    stream: TcpStream,
    refuse: Refusal,
    request: Vec<u8>,
    /// The answer's bytes not yet sent, once there is one.
    answer: Option<(Vec<u8>, usize)>,
    /// When the request must be complete; also names this connection in
    /// the timers' queue.
    pub deadline: Instant,
}

impl HttpConn {
    /// A connection just accepted.
    pub fn new(stream: TcpStream, now: Instant) -> HttpConn {
        HttpConn::with_refusals(stream, now, plain_refusal)
    }

    /// A connection just accepted, whose refusals `refuse` words.
    pub fn with_refusals(stream: TcpStream, now: Instant, refuse: Refusal) -> HttpConn {
        HttpConn {
            stream,
            refuse,
            request: Vec::new(),
            answer: None,
            deadline: now + REQUEST_TIMEOUT,
        }
    }

    /// Reads the request, asks `route` for the answer to it, and sends it;
    /// `scratch` is a buffer to read into.
    pub fn serve(
        &mut self,
        scratch: &mut [u8],
        route: impl FnOnce(&HttpRequest) -> Response,
    ) -> HttpProgress {
        match self.prepare(scratch, route) {
            Some(progress) => progress,
            None => self.send_answer(),
        }
    }

    /// [`HttpConn::serve`] without the sending: reads the request and asks
    /// `route` for the answer. `None` when the answer is ready for
    /// [`HttpConn::send_answer`] (so that what the request changed can be
    /// made true before the client learns of it), else what serving came
    /// to.
    pub fn prepare(
        &mut self,
        scratch: &mut [u8],
        route: impl FnOnce(&HttpRequest) -> Response,
    ) -> Option<HttpProgress> {
        if self.answer.is_none() {
            match self.read_request(scratch) {
                Request::Refused(response) => self.answer = Some((response.to_bytes(), 0)),
                Request::Incomplete => return Some(HttpProgress::Waiting),
                Request::Complete { method, path, body } => {
                    let head = method == "HEAD";
                    let request = HttpRequest {
                        method: if head { "GET" } else { &method },
                        path: &path,
                        body: &self.request[body],
                    };
                    let mut bytes = route(&request).to_bytes();
                    if head {
                        let end = bytes
                            .windows(4)
                            .position(|w| w == b"\r\n\r\n")
                            .map_or(0, |i| i + 4);
                        bytes.truncate(end);
                    }
                    self.answer = Some((bytes, 0));
                }
                Request::Gone => return Some(HttpProgress::Finished),
            }
        }
        None
    }

    /// The socket.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Why it would be cut now: it sent nothing, or its request or the
    /// reading of its answer is incomplete.
    pub fn cut_reason(&self) -> RequestCut {
        if self.request.is_empty() && self.answer.is_none() {
            RequestCut::EvictedIdle
        } else {
            RequestCut::EvictedSlow
        }
    }

    /// The request timed out: say so, if the socket takes it, and close.
    pub fn answer_timeout(&mut self) {
        let _ = self
            .stream
            .write(&(self.refuse)(408, "request timeout").to_bytes());
    }

    /// Reads what has arrived of the request.
    fn read_request(&mut self, scratch: &mut [u8]) -> Request {
        loop {
            let room = MAX_REQUEST - self.request.len();
            match self.stream.read(&mut scratch[..room.max(1)]) {
                Ok(0) => return Request::Gone,
                Ok(n) if n > room => return self.refuse(431, "request too large"),
                Ok(n) => self.request.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Request::Incomplete,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!("http connection: read failed: {e}");
                    return Request::Gone;
                }
            }
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Request::new(&mut headers);
            match parsed.parse(&self.request) {
                Ok(httparse::Status::Complete(head)) => {
                    let length = match body_length(parsed.headers) {
                        Ok(length) => length,
                        Err((status, why)) => return self.refuse(status, why),
                    };
                    if head + length > MAX_REQUEST {
                        return self.refuse(413, "request too large");
                    }
                    if self.request.len() < head + length {
                        continue; // the body is still on its way
                    }
                    return Request::Complete {
                        method: parsed.method.unwrap_or("").to_string(),
                        path: parsed.path.unwrap_or("").to_string(),
                        body: head..head + length,
                    };
                }
                Ok(httparse::Status::Partial) if self.request.len() >= MAX_REQUEST => {
                    return self.refuse(431, "request too large");
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return self.refuse(400, &format!("bad request: {e}")),
            }
        }
    }

    /// The request refused as it stands, worded by the endpoint.
    fn refuse(&self, status: u16, why: &str) -> Request {
        Request::Refused((self.refuse)(status, why))
    }

    /// Sends what is left of the answer, then the FIN.
    pub fn send_answer(&mut self) -> HttpProgress {
        let Some((bytes, sent)) = &mut self.answer else {
            return HttpProgress::Finished;
        };
        while *sent < bytes.len() {
            match self.stream.write(&bytes[*sent..]) {
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return HttpProgress::Waiting,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return HttpProgress::Finished,
            }
        }
        // Our FIN after the answer; the close follows.
        let _ = self.stream.shutdown(Shutdown::Write);
        HttpProgress::Finished
    }
}

/// What has arrived of a request.
enum Request {
    /// Not all of it yet.
    Incomplete,
    /// Read to its end; the body is this range of the request's bytes.
    Complete {
        method: String,
        path: String,
        body: std::ops::Range<usize>,
    },
    /// Refused as it stands (malformed, too large), with this answer.
    Refused(Response),
    /// The client closed or failed before it ended.
    Gone,
}

/// The length of a request's body, by its `Content-Length` (none: 0). A
/// chunked body is refused: no client of these endpoints sends one.
fn body_length(headers: &[httparse::Header]) -> Result<usize, (u16, &'static str)> {
    let mut length = 0;
    for header in headers {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err((411, "a Content-Length is required"));
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .ok_or((400, "bad Content-Length"))?;
        }
    }
    Ok(length)
}
