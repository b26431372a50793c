//! The classic Python socket tutorial's echo client, in Rust, with a plain
//! blocking `std::net::TcpStream`.
//!
//! ```sh
//! cargo run --release                    # the server, in one terminal
//! cargo run --example echo_client        # prints: Received b'Hello, world'
//! cargo run --example echo_client -- 127.0.0.1 65432
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

/// The tutorial's defaults: the server's loopback address and port.
pub const HOST: &str = "127.0.0.1";
pub const PORT: u16 = 65432;
pub const MESSAGE: &[u8] = b"Hello, world";

/// Connects, sends `Hello, world`, and returns what one `recv` of up to
/// 1024 bytes brings back, as the tutorial does.
pub fn exchange(host: &str, port: u16) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect((host, port))?;
    stream.write_all(MESSAGE)?;
    let mut data = [0u8; 1024];
    let n = stream.read(&mut data)?;
    Ok(data[..n].to_vec())
}

/// Formats bytes as Python prints a `bytes` object: `b'Hello, world'`.
pub fn python_bytes(bytes: &[u8]) -> String {
    let mut text = String::from("b'");
    for &b in bytes {
        match b {
            b'\\' => text.push_str("\\\\"),
            b'\'' => text.push_str("\\'"),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            b'\t' => text.push_str("\\t"),
            0x20..=0x7e => text.push(b as char),
            _ => text.push_str(&format!("\\x{b:02x}")),
        }
    }
    text.push('\'');
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let host = args.first().map_or(HOST, String::as_str);
    let port = match args.get(1).map(|p| p.parse::<u16>()) {
        None => PORT,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("echo_client: usage: echo_client [HOST] [PORT]");
            return ExitCode::from(2);
        }
    };
    match exchange(host, port) {
        Ok(data) => {
            println!("Received {}", python_bytes(&data));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_client: {host}:{port}: {e}");
            ExitCode::FAILURE
        }
    }
}
