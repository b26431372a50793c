//! The echo server most Rust users would write instead: tokio, one task per
//! connection, a 64 KiB buffer each, `read` then `write_all`, and the write
//! side shut down at end of stream. The side-by-side comparison
//! (`examples/compare/`) measures echo-reactor against it.
//!
//! ```sh
//! cargo run --release --example tokio_echo -- --listen 127.0.0.1:7000 --flavor current
//! ```
//!
//! It prints `listening on ADDR` on stderr, like echo-reactor, and exits on
//! SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

/// Which tokio runtime serves the connections.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Flavor {
    /// One thread (`current_thread`), like echo-reactor.
    Current,
    /// A worker thread per core (`multi_thread`).
    Multi,
}

/// A tokio echo server, for comparison.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Runtime flavour.
    #[arg(long, value_enum, default_value_t = Flavor::Current)]
    flavor: Flavor,
}

const BUFFER_SIZE: usize = 64 * 1024;
const BACKLOG: u32 = 4096;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match args.flavor {
        Flavor::Current => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Flavor::Multi => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let result = runtime.and_then(|runtime| runtime.block_on(serve(args.listen)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(BACKLOG)?;
    eprintln!("listening on {}", listener.local_addr()?);

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(echo(stream));
                }
                // Out of descriptors, typically: pause instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        }
    }
}

async fn echo(mut stream: TcpStream) {
    let mut buffer = vec![0u8; BUFFER_SIZE];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) => {
                let _ = stream.shutdown().await;
                return;
            }
            Ok(n) => {
                if stream.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}
