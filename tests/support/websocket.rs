//! A raw WebSocket client over a blocking socket, for the conformance
//! cases: it writes exactly the frames a case describes (masked or not,
//! any bits, any cuts) and reads the server's frames one by one, so a
//! case can say what must come back, byte for byte. Also: a server with
//! WebSocket listeners on loopback, and the upgrade request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use echo_reactor::{Config, Server};

use super::client::connect;
use super::server::InProcess;

/// The sample key of RFC 6455, section 1.3.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// Its accept key.
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Frame opcodes (`use crate::support::opcode::*`).
pub mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}
use opcode::*;

/// Starts `config` (plain listener on an ephemeral port) with one
/// WebSocket listener on loopback; answers the server and its WebSocket
/// address.
pub fn start_ws(mut config: Config) -> (InProcess, SocketAddr) {
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.ws_listen = vec!["127.0.0.1:0".parse().unwrap()];
    let server = Server::bind(config).expect("bind the server");
    let addr = server.ws_addrs()[0];
    (InProcess::run(server), addr)
}

/// The upgrade request a browser would send, to `path`.
pub fn upgrade_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Reads an HTTP answer's head (to its blank line).
pub fn read_http_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!(
                "the HTTP answer ended early ({other:?}): {:?}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    String::from_utf8(head).expect("an ASCII head")
}

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// A client that has completed its opening handshake.
pub struct WsClient {
    pub stream: TcpStream,
}

impl WsClient {
    /// Connects and upgrades; panics unless the server answers 101 with
    /// the right accept key.
    pub fn connect(addr: SocketAddr) -> WsClient {
        let mut stream = connect(addr);
        stream.write_all(upgrade_request("/").as_bytes()).unwrap();
        let head = read_http_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert!(
            head.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")),
            "{head}"
        );
        WsClient { stream }
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Writes one masked frame.
    pub fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.send_raw(&frame(fin, opcode, payload));
    }

    /// Reads the server's next frame, checking what every server frame
    /// must be: unmasked, no reserved bits.
    pub fn read_frame(&mut self) -> Frame {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).expect("a frame's header");
        assert_eq!(head[0] & 0x70, 0, "reserved bits set: {head:x?}");
        assert_eq!(head[1] & 0x80, 0, "a server frame is never masked");
        let len = match head[1] & 0x7F {
            126 => {
                let mut len = [0u8; 2];
                self.stream.read_exact(&mut len).unwrap();
                u16::from_be_bytes(len) as usize
            }
            127 => {
                let mut len = [0u8; 8];
                self.stream.read_exact(&mut len).unwrap();
                u64::from_be_bytes(len) as usize
            }
            short => short as usize,
        };
        let mut payload = vec![0; len];
        self.stream
            .read_exact(&mut payload)
            .expect("a frame's payload");
        Frame {
            fin: head[0] & 0x80 != 0,
            opcode: head[0] & 0x0F,
            payload,
        }
    }

    /// Reads the next whole message (its frames joined), skipping nothing:
    /// a control frame before it is a failure.
    pub fn read_message(&mut self) -> (u8, Vec<u8>) {
        let first = self.read_frame();
        assert!(
            first.opcode == TEXT || first.opcode == BINARY,
            "expected a data frame, got {first:?}"
        );
        let mut payload = first.payload;
        let mut fin = first.fin;
        while !fin {
            let next = self.read_frame();
            assert_eq!(next.opcode, CONTINUATION, "{next:?}");
            payload.extend_from_slice(&next.payload);
            fin = next.fin;
        }
        (first.opcode, payload)
    }

    /// Expects a close frame with `code` (or none for `None`), then the
    /// server's end of stream.
    pub fn expect_close(&mut self, code: Option<u16>) {
        let frame = self.read_frame();
        assert_eq!(frame.opcode, CLOSE, "expected a close frame: {frame:?}");
        let got = match frame.payload.as_slice() {
            [] => None,
            [high, low, ..] => Some(u16::from_be_bytes([*high, *low])),
            other => panic!("a one-byte close payload: {other:?}"),
        };
        assert_eq!(got, code, "close code");
        // The server ends the TCP connection first.
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "bytes after the close frame: {rest:?}");
        // And the client closes its side, as RFC 6455 (7.1.1) asks.
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }
}

/// A masked client frame with the mask 0x37fa213d (RFC 6455's example).
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(
        u8::from(fin) << 7 | opcode,
        payload,
        Some([0x37, 0xfa, 0x21, 0x3d]),
    )
}

/// A client frame with its first byte `first` (FIN, RSV bits, opcode),
/// masked with `mask` or not.
pub fn frame_with(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut bytes = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => bytes.push(mask_bit | len as u8),
        len @ 126..=0xFFFF => {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            bytes.push(mask_bit | 127);
            bytes.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(mask) => {
            bytes.extend_from_slice(&mask);
            bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => bytes.extend_from_slice(payload),
    }
    bytes
}

/// A close frame's payload: `code` and `reason`.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}
