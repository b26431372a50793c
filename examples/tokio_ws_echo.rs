//! The WebSocket echo server most Rust users would write instead:
//! tokio-tungstenite on tokio's multi-thread runtime, one task per
//! connection, with tungstenite's default configuration. The comparison
//! (`examples/compare/`) measures echo-reactor's `--ws-listen` against it.
//!
//! ```sh
//! cargo run --release --example tokio_ws_echo -- --listen 127.0.0.1:7080
//! ```
//!
//! Every data message is echoed as it came (text as text, binary as
//! binary). Pings are answered and the closing handshake is completed by
//! tungstenite itself: a ping's pong and the answer to a close are queued
//! as the message is read, and sent with the next read or write. It prints
//! `listening on ADDR (ws)` on stderr, as echo-reactor marks its
//! WebSocket listeners, and exits on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

/// A tokio-tungstenite WebSocket echo server, for comparison.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Worker threads of the runtime [default: one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

const BACKLOG: u32 = 4096;

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(threads.into());
    }
    let result = builder
        .enable_all()
        .build()
        .and_then(|runtime| runtime.block_on(serve(args.listen)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio_ws_echo: {e}");
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
    eprintln!("listening on {} (ws)", listener.local_addr()?);

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

/// The opening handshake, then every data message sent back as it came,
/// until the peer closes or the connection fails; a failed handshake
/// closes the connection.
async fn echo(stream: TcpStream) {
    let Ok(mut websocket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    // After a close from the peer, the next read sends tungstenite's
    // answer and ends the stream.
    while let Some(Ok(message)) = websocket.next().await {
        let is_data = message.is_text() || message.is_binary();
        if is_data && websocket.send(message).await.is_err() {
            return;
        }
    }
}
