//! Several connections at once, each sending two messages and reading both
//! echoes back: the multi-connection client of the classic Python socket
//! tutorial, with one blocking `std::net::TcpStream` per thread.
//!
//! ```sh
//! cargo run --example multiconn_client -- 127.0.0.1 65432 10
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// What each connection sends, in this order.
pub const MESSAGES: [&[u8]; 2] = [b"Message 1 from client.", b"Message 2 from client."];

/// Runs one connection: sends both messages, half-closes, reads until the
/// server closes, and returns everything it received.
pub fn run_connection(host: &str, port: u16) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    for message in MESSAGES {
        stream.write_all(message)?;
    }
    stream.shutdown(Shutdown::Write)?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    Ok(received)
}

fn usage() -> ExitCode {
    eprintln!("usage: multiconn_client <host> <port> <num_connections>");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, count] = args.as_slice() else {
        return usage();
    };
    let (Ok(port), Ok(count)) = (port.parse::<u16>(), count.parse::<usize>()) else {
        return usage();
    };
    let expected: Vec<u8> = MESSAGES.concat();
    let workers: Vec<_> = (1..=count)
        .map(|id| {
            let host = host.clone();
            thread::spawn(move || (id, run_connection(&host, port)))
        })
        .collect();
    let mut failures = 0;
    for worker in workers {
        let (id, result) = worker.join().expect("client thread panicked");
        match result {
            Ok(received) => {
                println!(
                    "connection {id}: received {:?}",
                    String::from_utf8_lossy(&received)
                );
                if received != expected {
                    eprintln!("connection {id}: echo differs from what was sent");
                    failures += 1;
                }
            }
            Err(e) => {
                eprintln!("connection {id}: {e}");
                failures += 1;
            }
        }
    }
    println!("{} connections, {failures} failed", count);
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
