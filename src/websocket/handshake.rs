//! The opening handshake (RFC 6455, section 4.2): an HTTP/1.1 request on
//! a WebSocket listener, and the answer it gets.
//!
//! - An upgrade (`GET`, `Upgrade: websocket`, `Connection: Upgrade`, a
//!   `Sec-WebSocket-Key` of 16 bytes in base64, version 13) gets `101
//!   Switching Protocols` with the key's `Sec-WebSocket-Accept`, on any
//!   path: an echo service has nothing to route. No subprotocol is chosen
//!   and no extension accepted (see [`super`] on permessage-deflate).
//! - An upgrade to another version gets `426` with
//!   `Sec-WebSocket-Version: 13`, the one the server speaks; a malformed
//!   one (no key, no `Host`, HTTP/1.0, a `Connection` without `Upgrade`)
//!   gets `400`.
//! - A plain `GET /` (no upgrade) gets the page that tries the echo in a
//!   browser; another path `404`, another method `405`.
//!
//! Every answer but `101` ends the connection (`Connection: close`). The
//! request is bounded as the metrics endpoint's are (its size,
//! [`MAX_REQUEST`](crate::http::MAX_REQUEST), and its time,
//! [`REQUEST_TIMEOUT`](crate::http::REQUEST_TIMEOUT)); parsing is
//! `httparse`'s.
//!
//! base64 is written here rather than taken from the `base64` crate: the
//! handshake encodes one 20-byte digest and checks the shape of one key,
//! a dozen lines, and the library keeps the dependencies an embedder
//! builds (`cargo tree --no-default-features`) to the reactor's own.

use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};

use crate::stats::UpgradeRefusal;

/// The GUID RFC 6455 appends to the client's key before hashing it.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Headers parsed at most; a request with more is refused.
const MAX_HEADERS: usize = 32;

/// The page `GET /` serves: connects back, echoes what is typed.
pub const PAGE: &str = include_str!("page.html");

/// What a whole request gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// `101 Switching Protocols`, these bytes: the session opens.
    Upgrade(Vec<u8>),
    /// The page, these bytes; then the connection ends.
    Page(Vec<u8>),
    /// Refused with these bytes, counted by this reason; the connection
    /// ends.
    Refused(UpgradeRefusal, Vec<u8>),
}

/// What the request bytes so far come to.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not whole yet.
    Partial,
    /// Whole, `len` bytes long (frames may follow it), with its answer.
    Complete { len: usize, answer: Answer },
}

/// Reads `request` as far as it has come.
pub fn parse(request: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(request) {
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Ok(httparse::Status::Complete(len)) => Parsed::Complete {
            len,
            answer: answer(&parsed),
        },
        Err(_) => Parsed::Complete {
            len: request.len(),
            answer: refuse(UpgradeRefusal::BadRequest),
        },
    }
}

/// The answer to a whole request.
fn answer(request: &httparse::Request) -> Answer {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|value| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(token))
        })
    };
    let method = request.method.unwrap_or("");
    let path = request.path.unwrap_or("");
    if !has_token("upgrade", "websocket") {
        return match (method, path.split('?').next()) {
            ("GET", Some("/")) => Answer::Page(response(200, "text/html; charset=utf-8", "", PAGE)),
            ("GET", _) => refuse(UpgradeRefusal::NotFound),
            _ => refuse(UpgradeRefusal::MethodNotAllowed),
        };
    }
    if method != "GET" {
        return refuse(UpgradeRefusal::MethodNotAllowed);
    }
    if header("sec-websocket-version") != Some("13") {
        return refuse(UpgradeRefusal::Version);
    }
    let key = header("sec-websocket-key").filter(|key| is_nonce(key));
    let well_formed = request.version == Some(1)
        && has_token("connection", "upgrade")
        && header("host").is_some();
    match key {
        Some(key) if well_formed => Answer::Upgrade(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(key)
            )
            .into_bytes(),
        ),
        _ => refuse(UpgradeRefusal::BadRequest),
    }
}

/// The refusal for `why`, as the client reads it.
pub fn refuse(why: UpgradeRefusal) -> Answer {
    let (status, extra, body) = match why {
        UpgradeRefusal::BadRequest => (400, "", "bad WebSocket upgrade request\n"),
        UpgradeRefusal::NotFound => (
            404,
            "",
            "not found: GET / for the page, or upgrade to WebSocket\n",
        ),
        UpgradeRefusal::MethodNotAllowed => (405, "Allow: GET\r\n", "only GET\n"),
        UpgradeRefusal::Version => (
            426,
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
            "WebSocket version 13 only\n",
        ),
        UpgradeRefusal::TooLarge => (431, "", "request too large\n"),
        UpgradeRefusal::Timeout => (408, "", "request timeout\n"),
        UpgradeRefusal::Closed => (400, "", ""),
    };
    Answer::Refused(
        why,
        response(status, "text/plain; charset=utf-8", extra, body),
    )
}

/// An HTTP/1.1 answer that ends the connection.
fn response(status: u16, content_type: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        _ => "",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `Sec-WebSocket-Accept` for the client's `key`: base64 of the SHA-1 of
/// the key and the GUID.
pub fn accept_key(key: &str) -> String {
    let hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, format!("{key}{GUID}").as_bytes());
    base64(hash.as_ref())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk
            .iter()
            .enumerate()
            .fold(0u32, |word, (i, &b)| word | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            match i <= chunk.len() {
                true => text.push(ALPHABET[(word >> (18 - 6 * i) & 0x3F) as usize] as char),
                false => text.push('='),
            }
        }
    }
    text
}

/// The key is 16 bytes in base64 (RFC 6455, 4.1): 22 characters of the
/// alphabet, the last holding 2 bits (so one of `AQgw`), and `==`.
fn is_nonce(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == 24
        && bytes[..22].iter().all(|b| ALPHABET.contains(b))
        && b"AQgw".contains(&bytes[21])
        && &bytes[22..] == b"=="
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(lines: &[&str]) -> Vec<u8> {
        let mut text = lines.join("\r\n");
        text.push_str("\r\n\r\n");
        text.into_bytes()
    }

    const UPGRADE: &[&str] = &[
        "GET /chat HTTP/1.1",
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: keep-alive, Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];

    fn answer_to(lines: &[&str]) -> Answer {
        match parse(&request(lines)) {
            Parsed::Complete { answer, .. } => answer,
            Parsed::Partial => panic!("partial"),
        }
    }

    fn status(answer: &Answer) -> String {
        let bytes = match answer {
            Answer::Upgrade(b) | Answer::Page(b) | Answer::Refused(_, b) => b,
        };
        String::from_utf8_lossy(&bytes[9..12]).into_owned()
    }

    #[test]
    fn the_rfc_sample_key_gets_the_rfc_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        let answer = answer_to(UPGRADE);
        let Answer::Upgrade(bytes) = &answer else {
            panic!("{answer:?}")
        };
        let text = String::from_utf8_lossy(bytes);
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    }

    #[test]
    fn each_bad_request_gets_its_status() {
        let with = |replace: &str, by: &str| -> Vec<String> {
            UPGRADE
                .iter()
                .map(|l| {
                    if l.starts_with(replace) {
                        by.to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect()
        };
        let cases = [
            (
                with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
                "426",
            ),
            (
                with("Sec-WebSocket-Key", "Sec-WebSocket-Key: short=="),
                "400",
            ),
            (with("Connection", "Connection: keep-alive"), "400"),
            (with("Host", "X-No-Host: 1"), "400"),
            (with("GET", "GET /chat HTTP/1.0"), "400"),
            (with("GET", "POST /chat HTTP/1.1"), "405"),
            (with("Upgrade", "Upgrade: h2c"), "404"),
            (vec!["GET / HTTP/1.1".into(), "Host: x".into()], "200"),
            (vec!["DELETE / HTTP/1.1".into(), "Host: x".into()], "405"),
        ];
        for (lines, expected) in cases {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            assert_eq!(status(&answer_to(&lines)), expected, "{lines:?}");
        }
        assert!(matches!(
            parse(b"\x16\x03\x01 not http\r\n\r\n"),
            Parsed::Complete {
                answer: Answer::Refused(UpgradeRefusal::BadRequest, _),
                ..
            }
        ));
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Parsed::Partial);
    }
}
