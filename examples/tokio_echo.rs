//! The echo server most Rust users would write instead: tokio, one task per
//! connection, a 64 KiB buffer each, `read` then `write_all`, and the write
//! side shut down at end of stream. The side-by-side comparison
//! (`examples/compare/`) measures echo-reactor against it.
//!
//! ```sh
//! cargo run --release --example tokio_echo -- --listen 127.0.0.1:7000 --flavor current
//! ```
//!
//! It prints `listening on ADDR` on stderr (`listening on ADDR (tls)` with
//! TLS), like echo-reactor, and exits on SIGINT or SIGTERM.
//!
//! With `--tls-cert PATH --tls-key PATH` (PEM) its listener speaks TLS
//! instead, through tokio-rustls with the `ring` provider, as echo-reactor's
//! `--tls-listen` does: the handshake in the connection's task, then the
//! same echo of the decrypted bytes, and at the client's `close_notify` (or
//! end of stream) a `close_notify` back and the write side shut down.
//!
//! ```sh
//! cargo run --release --example tokio_echo -- --listen 127.0.0.1:7443 \
//!     --tls-cert cert.pem --tls-key key.pem
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

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
    /// Serve TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

const BUFFER_SIZE: usize = 64 * 1024;
const BACKLOG: u32 = 4096;

fn main() -> ExitCode {
    let args = Args::parse();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match acceptor(cert, key) {
            Ok(acceptor) => Some(acceptor),
            Err(e) => {
                eprintln!("tokio_echo: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let runtime = match args.flavor {
        Flavor::Current => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Flavor::Multi => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let result = runtime.and_then(|runtime| runtime.block_on(serve(args.listen, tls)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A TLS acceptor for the PEM certificate chain at `cert` and key at
/// `key`: TLS 1.3 and 1.2 with the `ring` provider, as echo-reactor serves.
fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn serve(addr: SocketAddr, tls: Option<TlsAcceptor>) -> std::io::Result<()> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(BACKLOG)?;
    // Marked as echo-reactor marks its TLS listeners.
    let marker = if tls.is_some() { " (tls)" } else { "" };
    eprintln!("listening on {}{marker}", listener.local_addr()?);

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    match &tls {
                        Some(acceptor) => tokio::spawn(echo_tls(acceptor.clone(), stream)),
                        None => tokio::spawn(echo(stream)),
                    };
                }
                // Out of descriptors, typically: pause instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = terminate.recv() => return Ok(()),
            _ = interrupt.recv() => return Ok(()),
        }
    }
}

/// The echo of a plain connection.
async fn echo(stream: TcpStream) {
    echo_stream(stream).await;
}

/// The handshake, then the echo through the session; a handshake that
/// fails closes the connection.
async fn echo_tls(acceptor: TlsAcceptor, stream: TcpStream) {
    if let Ok(session) = acceptor.accept(stream).await {
        echo_stream(session).await;
    }
}

/// Echoes until the end of stream, then shuts the write side down (over
/// TLS: a `close_notify` first).
async fn echo_stream(mut stream: impl AsyncRead + AsyncWrite + Unpin) {
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
