//! Idle WebSocket memory, once per server: the compare process opens
//! connections to the server's WebSocket listener, takes each through the
//! opening handshake and one 64-byte echo, holds them all, and reads the
//! server's RSS growth per connection, as [`tls_idle`] does for TLS.
//! An idle connection is then what a real one is between messages: upgraded,
//! with its first message behind it.
//!
//! The client is a few lines of RFC 6455 over a blocking socket: one
//! upgrade request with the RFC's sample key (the answer's accept key is
//! the RFC's too), one masked binary frame, its echo read back and
//! compared.
//!
//! [`tls_idle`]: crate::tls_idle

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use echo_reactor::tools::process;

use crate::binaries::Binaries;
use crate::report::Results;
use crate::servers::{Running, Server};
use crate::websocket::{IDLE_METRIC, IDLE_SCENARIO};

/// The upgrade request: RFC 6455's sample key.
const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\n\
    Host: 127.0.0.1\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
/// The accept key the RFC gives for that key.
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The longest answer to the upgrade read.
const MAX_ANSWER: usize = 4096;

/// The message each connection echoes once before it idles.
const MESSAGE: [u8; 64] = [0x5a; 64];
/// The client's mask (any will do: nothing between client and server
/// caches).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// A binary frame, final, and its payload length when under 126.
const BINARY_FINAL: u8 = 0x82;

/// How long the server may take to answer the upgrade or echo.
const TIMEOUT: Duration = Duration::from_secs(10);

/// RSS per idle WebSocket connection, `connections` held, for every
/// server in `servers` (each has a WebSocket listener).
pub fn idle_runs(bins: &Binaries, servers: &[Server], connections: usize, results: &mut Results) {
    for &server in servers {
        let result = server_run(server, bins, connections, results);
        results.check(&format!("idle WebSocket {}", server.name()), result);
    }
}

/// The server's RSS growth per idle WebSocket connection.
fn server_run(
    server: Server,
    bins: &Binaries,
    connections: usize,
    results: &mut Results,
) -> Result<(), String> {
    let running = Running::start_websocket(server, bins)?;
    // One connection first, so the server's one-time allocations are not
    // counted per connection.
    let warm_up = open_and_echo(running.addr)?;
    let before = process::rss_bytes(running.pid).map_err(|e| e.to_string())?;
    let held = (0..connections)
        .map(|_| open_and_echo(running.addr))
        .collect::<Result<Vec<_>, _>>()?;
    let after = process::rss_bytes(running.pid).map_err(|e| e.to_string())?;
    drop((held, warm_up));
    running.stop()?;
    let per_connection = after.saturating_sub(before) as f64 / connections as f64;
    results.record(
        0,
        IDLE_SCENARIO,
        server,
        [
            (IDLE_METRIC, per_connection),
            ("idle connections", connections as f64),
        ],
    );
    eprintln!(
        "compare:   idle WS    {:<21} {per_connection:>7.1} B RSS per idle WebSocket connection \
         ({connections} held)",
        server.name()
    );
    Ok(())
}

/// A WebSocket connection to `addr` that has been upgraded and has echoed
/// [`MESSAGE`] once.
fn open_and_echo(addr: SocketAddr) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(UPGRADE)
        .map_err(|e| format!("upgrade request: {e}"))?;
    upgraded(&mut stream)?;
    stream
        .write_all(&masked_frame(&MESSAGE))
        .map_err(|e| format!("send: {e}"))?;
    let mut echo = [0; 2 + MESSAGE.len()];
    stream
        .read_exact(&mut echo)
        .map_err(|e| format!("echo: {e}"))?;
    if echo[..2] != [BINARY_FINAL, MESSAGE.len() as u8] || echo[2..] != MESSAGE {
        return Err("the echo is not the message in one binary frame".into());
    }
    Ok(stream)
}

/// Reads the answer to the upgrade (the server sends nothing after it
/// until the first message) and checks it is a `101` with the right
/// accept key.
fn upgraded(stream: &mut TcpStream) -> Result<(), String> {
    let mut answer = Vec::new();
    let mut chunk = [0; 1024];
    while !answer.ends_with(b"\r\n\r\n") {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("upgrade answer: {e}"))?;
        if n == 0 || answer.len() + n > MAX_ANSWER {
            return Err("the upgrade answer ended early or is too long".into());
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    if !(answer.starts_with("HTTP/1.1 101") && answer.contains(ACCEPT)) {
        let status = answer.lines().next().unwrap_or_default();
        return Err(format!("upgrade refused or wrong: {status}"));
    }
    Ok(())
}

/// `payload` (under 126 bytes) as a client's binary frame: final, masked.
fn masked_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![BINARY_FINAL, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_frame_unmasks_to_its_payload() {
        let frame = masked_frame(b"hello");
        assert_eq!(frame[..2], [0x82, 0x85]);
        assert_eq!(frame[2..6], MASK);
        let unmasked: Vec<u8> = frame[6..]
            .iter()
            .zip(MASK.iter().cycle())
            .map(|(b, m)| b ^ m)
            .collect();
        assert_eq!(unmasked, b"hello");
    }
}
