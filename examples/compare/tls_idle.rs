//! Idle TLS memory, two ways.
//!
//! 1. **Per server**: the compare process opens [`CONNECTIONS`] TLS
//!    connections to each server that serves TLS, completes each handshake
//!    and one 64-byte echo, and reads the server's RSS growth per
//!    connection, as the idle run does for plain connections.
//! 2. **Per session, buffered or unbuffered**: what one idle rustls server
//!    session keeps on the heap after the same handshake and echo, through
//!    rustls's buffered `ServerConnection` (what echo-reactor uses) and its
//!    unbuffered `UnbufferedServerConnection` (where the caller owns the
//!    record buffers), counted by this program's allocator ([`Counting`])
//!    with client and server in memory, no sockets. This is
//!    the figure behind the choice between the two APIs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use echo_reactor::tools::process;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use crate::binaries::Binaries;
use crate::report::Results;
use crate::servers::{Running, Server};
use crate::tls::TlsFiles;

/// Idle TLS connections held per server, and sessions made per API.
const CONNECTIONS: usize = 1_000;

/// The message each connection echoes once before it idles.
const MESSAGE: [u8; 64] = [0x5a; 64];

/// The allocator of the compare program (installed in `main.rs`): the
/// system's, counting the bytes live, so the sessions' heap can be read
/// before and after.
pub struct Counting;

/// Bytes allocated and not yet freed.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method hands the request to `System` unchanged, which upholds
// `GlobalAlloc`'s contract; the counter is only arithmetic beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Measures both, for every server in `servers` that serves TLS.
pub fn tls_idle_runs(bins: &Binaries, servers: &[Server], files: &TlsFiles, results: &mut Results) {
    let configs = match Configs::load(files) {
        Ok(configs) => configs,
        Err(e) => return results.check("idle TLS", Err(e)),
    };
    for &server in servers.iter().filter(|s| s.serves_tls()) {
        let result = server_run(server, bins, files, &configs, results);
        results.check(&format!("idle TLS {}", server.name()), result);
    }
    let result = session_heap(&configs).map(|(buffered, unbuffered)| {
        let line = format!(
            "heap per idle rustls server session after a handshake and one echo ({CONNECTIONS} \
             sessions, in memory): buffered ServerConnection {buffered:.0} B, \
             UnbufferedServerConnection {unbuffered:.0} B"
        );
        eprintln!("compare:   {line}");
        results.findings.push(line);
    });
    results.check("TLS session heap", result);
}

/// The server's side (for the in-memory sessions) and the client's.
struct Configs {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

impl Configs {
    /// Both sides of the run's certificate, with rustls's `ring` provider.
    fn load(files: &TlsFiles) -> Result<Configs, String> {
        let cert = CertificateDer::from_pem_file(&files.cert).map_err(|e| format!("cert: {e}"))?;
        let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| format!("key: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(vec![cert.clone()], key)
            })
            .map_err(|e| format!("server config: {e}"))?;
        let mut roots = RootCertStore::empty();
        roots.add(cert).map_err(|e| format!("roots: {e}"))?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("client config: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Configs {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }

    fn client_session(&self) -> Result<ClientConnection, String> {
        let name = ServerName::try_from("localhost").expect("a valid name");
        ClientConnection::new(self.client.clone(), name).map_err(|e| e.to_string())
    }
}

/// The server's RSS growth per idle TLS connection.
fn server_run(
    server: Server,
    bins: &Binaries,
    files: &TlsFiles,
    configs: &Configs,
    results: &mut Results,
) -> Result<(), String> {
    let running = Running::start_tls(server, bins, files)?;
    // One connection first, so the server's one-time allocations (its
    // read buffer, rustls's tables) are not counted per connection.
    let warm_up = open_and_echo(running.addr, configs)?;
    let before = process::rss_bytes(running.pid).map_err(|e| e.to_string())?;
    let held = (0..CONNECTIONS)
        .map(|_| open_and_echo(running.addr, configs))
        .collect::<Result<Vec<_>, _>>()?;
    let after = process::rss_bytes(running.pid).map_err(|e| e.to_string())?;
    drop((held, warm_up));
    running.stop()?;
    let per_connection = after.saturating_sub(before) as f64 / CONNECTIONS as f64;
    results.record(
        0,
        "tls-idle",
        server,
        [("idle TLS RSS B/conn", per_connection)],
    );
    eprintln!(
        "compare:   idle TLS   {:<21} {per_connection:>7.1} B RSS per idle TLS connection",
        server.name()
    );
    Ok(())
}

/// A TLS connection to `addr` that has completed its handshake and echoed
/// [`MESSAGE`] once.
fn open_and_echo(
    addr: SocketAddr,
    configs: &Configs,
) -> Result<rustls::StreamOwned<ClientConnection, TcpStream>, String> {
    let tcp = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(configs.client_session()?, tcp);
    tls.write_all(&MESSAGE)
        .and_then(|()| tls.flush())
        .map_err(|e| format!("send: {e}"))?;
    let mut echo = [0; MESSAGE.len()];
    tls.read_exact(&mut echo)
        .map_err(|e| format!("echo: {e}"))?;
    if echo != MESSAGE {
        return Err("the echo differs from the message".into());
    }
    Ok(tls)
}

/// Heap bytes per idle session: (buffered, unbuffered).
fn session_heap(configs: &Configs) -> Result<(f64, f64), String> {
    // One of each first: rustls's one-time allocations are not per session.
    drop(buffered_session(configs)?);
    drop(unbuffered_session(configs)?);
    let per_session = |make: &dyn Fn() -> Result<Box<dyn std::any::Any>, String>| {
        let before = LIVE.load(Ordering::Relaxed);
        let sessions = (0..CONNECTIONS)
            .map(|_| make())
            .collect::<Result<Vec<_>, _>>()?;
        let grown = LIVE.load(Ordering::Relaxed) - before;
        drop(sessions);
        Ok::<f64, String>(grown as f64 / CONNECTIONS as f64)
    };
    let buffered = per_session(&|| Ok(Box::new(buffered_session(configs)?)))?;
    let unbuffered = per_session(&|| Ok(Box::new(unbuffered_session(configs)?)))?;
    Ok((buffered, unbuffered))
}

/// Drains a client's outgoing records.
fn client_records(client: &mut ClientConnection) -> Vec<u8> {
    let mut records = Vec::new();
    while client.wants_write() {
        // Writing into a Vec cannot fail.
        let _ = client.write_tls(&mut records);
    }
    records
}

/// Hands `records` to the client and returns the plaintext it got.
fn client_receives(client: &mut ClientConnection, mut records: &[u8]) -> Result<usize, String> {
    while !records.is_empty() {
        client.read_tls(&mut records).map_err(|e| e.to_string())?;
        client.process_new_packets().map_err(|e| e.to_string())?;
    }
    let mut plaintext = [0; 1024];
    let mut got = 0;
    while let Ok(n @ 1..) = client.reader().read(&mut plaintext) {
        got += n;
    }
    Ok(got)
}

/// A buffered server session after its handshake and one echo.
fn buffered_session(configs: &Configs) -> Result<ServerConnection, String> {
    let mut server = ServerConnection::new(configs.server.clone()).map_err(|e| e.to_string())?;
    let mut client = configs.client_session()?;
    let _ = client.writer().write_all(&MESSAGE);
    let mut echoed = 0;
    for _ in 0..16 {
        let records = client_records(&mut client);
        let mut incoming = &records[..];
        while !incoming.is_empty() {
            server.read_tls(&mut incoming).map_err(|e| e.to_string())?;
            server.process_new_packets().map_err(|e| e.to_string())?;
        }
        let mut plaintext = [0; 1024];
        while let Ok(n @ 1..) = server.reader().read(&mut plaintext) {
            let _ = server.writer().write_all(&plaintext[..n]);
        }
        let mut outgoing = Vec::new();
        while server.wants_write() {
            let _ = server.write_tls(&mut outgoing);
        }
        echoed += client_receives(&mut client, &outgoing)?;
        if echoed == MESSAGE.len() {
            return Ok(server);
        }
    }
    Err("buffered session: no echo after 16 flights".into())
}

/// An unbuffered server session after its handshake and one echo. The
/// caller's buffers are dropped when empty, as a server keeping them only
/// while they hold bytes would.
fn unbuffered_session(configs: &Configs) -> Result<UnbufferedServerConnection, String> {
    let mut server =
        UnbufferedServerConnection::new(configs.server.clone()).map_err(|e| e.to_string())?;
    let mut client = configs.client_session()?;
    let _ = client.writer().write_all(&MESSAGE);
    let mut echoed = 0;
    for _ in 0..16 {
        let mut incoming = client_records(&mut client);
        let outgoing = unbuffered_turn(&mut server, &mut incoming)?;
        echoed += client_receives(&mut client, &outgoing)?;
        if echoed == MESSAGE.len() {
            return Ok(server);
        }
    }
    Err("unbuffered session: no echo after 16 flights".into())
}

/// Drives an unbuffered session over `incoming` until it needs more from
/// the client, echoing what it decrypts; returns the records to send.
fn unbuffered_turn(
    server: &mut UnbufferedServerConnection,
    incoming: &mut Vec<u8>,
) -> Result<Vec<u8>, String> {
    let mut outgoing = Vec::new();
    let mut plaintext = Vec::new();
    loop {
        let status = server.process_tls_records(incoming);
        let mut discard = status.discard;
        let mut more = true;
        match status.state.map_err(|e| e.to_string())? {
            ConnectionState::EncodeTlsData(mut encode) => {
                let start = outgoing.len();
                outgoing.resize(start + 4096, 0);
                let written = loop {
                    match encode.encode(&mut outgoing[start..]) {
                        Ok(n) => break n,
                        Err(EncodeError::InsufficientSize(size)) => {
                            outgoing.resize(start + size.required_size, 0)
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                };
                outgoing.truncate(start + written);
            }
            ConnectionState::TransmitTlsData(transmit) => transmit.done(),
            ConnectionState::ReadTraffic(mut traffic) => {
                while let Some(record) = traffic.next_record() {
                    let record = record.map_err(|e| e.to_string())?;
                    discard += record.discard;
                    plaintext.extend_from_slice(record.payload);
                }
            }
            ConnectionState::WriteTraffic(mut write) => {
                if !plaintext.is_empty() {
                    let start = outgoing.len();
                    outgoing.resize(start + plaintext.len() + 64, 0);
                    let written = match write.encrypt(&plaintext, &mut outgoing[start..]) {
                        Ok(n) => n,
                        Err(EncryptError::InsufficientSize(size)) => {
                            return Err(format!("encrypt: {} B needed", size.required_size))
                        }
                        Err(e) => return Err(e.to_string()),
                    };
                    outgoing.truncate(start + written);
                    plaintext.clear();
                }
                more = false;
            }
            ConnectionState::BlockedHandshake => more = false,
            _ => return Err("unbuffered session: an unexpected state".into()),
        }
        incoming.drain(..discard);
        if !more {
            return Ok(outgoing);
        }
    }
}
