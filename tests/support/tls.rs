//! TLS for the tests: a certificate for `localhost` and `127.0.0.1` made
//! per test with rcgen, a server with a TLS listener on an ephemeral
//! loopback port, and blocking rustls clients (std `TcpStream` +
//! `rustls::StreamOwned`) that trust that certificate and nothing else;
//! a CA that issues client certificates, and `openssl s_client` driven
//! as an outside client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use echo_reactor::tls::TlsIdentity;
use echo_reactor::{Config, Server};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::client::write_until_quiet;
use super::data::pattern;
use super::server::InProcess;
use super::wait::{within_patience, PATIENCE};

/// A blocking TLS client stream.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A certificate and its key, as PEM.
pub struct TestCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCert {
    /// A new self-signed certificate for `localhost` and `127.0.0.1`.
    pub fn new() -> TestCert {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let made = rcgen::generate_simple_self_signed(names).expect("make a test certificate");
        TestCert {
            cert_pem: made.cert.pem(),
            key_pem: made.key_pair.serialize_pem(),
        }
    }

    /// The server's identity.
    pub fn identity(&self) -> TlsIdentity {
        TlsIdentity::Pem {
            cert: self.cert_pem.clone(),
            key: self.key_pem.clone(),
        }
    }

    /// A client configuration that trusts this certificate only, with
    /// `versions` (both when empty).
    pub fn client(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        let der = CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).unwrap();
        roots.add(der).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = if versions.is_empty() {
            rustls::DEFAULT_VERSIONS
        } else {
            versions
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// Writes the certificate to `path` as PEM, for outside clients.
    pub fn write_cert(&self, path: &Path) {
        std::fs::write(path, &self.cert_pem).unwrap();
    }
}

/// A certificate authority made per test, that issues client
/// certificates.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    /// A new self-signed CA certificate and its key.
    pub fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "echo-reactor test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().expect("make a CA key");
        let cert = params.self_signed(&key).expect("make a CA certificate");
        TestCa { cert, key }
    }

    /// The CA's certificate, as PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A new client certificate issued by this CA, for client
    /// authentication.
    pub fn client_cert(&self) -> TestCert {
        let mut params = rcgen::CertificateParams::new(vec!["client".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "echo-reactor test client");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().expect("make a client key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("issue a client certificate");
        TestCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// What an `openssl s_client` run showed.
pub struct SClient {
    /// Whether the message it sent came back.
    pub echoed: bool,
    /// Everything it printed on stdout: the session's summary (with its
    /// `ALPN protocol: ...` line), then the echo.
    pub stdout: String,
}

/// Connects `openssl s_client` to `addr` (as `localhost`, trusting
/// `server_ca`) with the extra `args`, sends `message`, and waits for it to
/// come back or for the client to exit, as it does when the server refuses
/// it.
pub fn openssl_s_client(
    addr: SocketAddr,
    server_ca: &Path,
    args: &[&str],
    message: &'static [u8],
) -> SClient {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args([
            "-servername",
            "localhost",
            "-nocommands",
            "-verify_return_error",
        ])
        .arg("-CAfile")
        .arg(server_ca)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl s_client");
    child.stdin.as_mut().unwrap().write_all(message).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let printed = within_patience("openssl's echo or exit", move || {
        let mut printed = Vec::new();
        let mut buf = [0; 4096];
        while !printed.windows(message.len()).any(|w| w == message) {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => printed.extend_from_slice(&buf[..n]),
            }
        }
        printed
    });
    let _ = child.kill();
    let _ = child.wait();
    SClient {
        echoed: printed.windows(message.len()).any(|w| w == message),
        stdout: String::from_utf8_lossy(&printed).into_owned(),
    }
}

impl Default for TestCert {
    fn default() -> Self {
        TestCert::new()
    }
}

/// A configuration with a TLS listener on an ephemeral loopback port (and
/// the plain one, also ephemeral), serving `cert`.
pub fn tls_config(cert: &TestCert) -> Config {
    let mut config = Config::default();
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.tls_listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.tls_identity = Some(cert.identity());
    config
}

/// Binds `config` and runs it; returns the server and its TLS address.
pub fn start_tls(config: Config) -> (InProcess, SocketAddr) {
    let server = Server::bind(config).expect("bind the server");
    let tls_addr = server.tls_addrs()[0];
    (InProcess::run(server), tls_addr)
}

/// Connects to `addr` and completes the handshake, within [`PATIENCE`].
pub fn tls_connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> TlsStream {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.set_write_timeout(Some(PATIENCE)).unwrap();
    tcp.set_nodelay(true).unwrap();
    tls_handshake(tcp, config)
}

/// Completes a handshake over `tcp`, a connected blocking socket.
pub fn tls_handshake(tcp: TcpStream, config: &Arc<ClientConfig>) -> TlsStream {
    let name = ServerName::try_from("localhost").unwrap();
    let session = ClientConnection::new(config.clone(), name).unwrap();
    let mut stream = StreamOwned::new(session, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("TLS handshake");
    }
    stream
}

/// Reads exactly `len` decrypted bytes.
pub fn tls_read_exactly(stream: &mut TlsStream, len: usize) -> Vec<u8> {
    let mut got = vec![0; len];
    stream.read_exact(&mut got).expect("read the echo");
    got
}

/// Sends `message` and checks that it comes back.
pub fn tls_echo_once(stream: &mut TlsStream, message: &[u8]) {
    stream.write_all(message).unwrap();
    stream.flush().unwrap();
    assert_eq!(tls_read_exactly(stream, message.len()), message);
}

/// Reads to the end: `Ok(())` for the server's `close_notify`, the error
/// otherwise (a truncation is `UnexpectedEof`).
pub fn tls_read_to_end(stream: &mut TlsStream) -> io::Result<Vec<u8>> {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).map(|_| rest)
}

/// A TLS client that writes until blocked and never reads, driven by hand
/// over a non-blocking socket (a blocking stream would also wait to read):
/// returns the plaintext written, some of which may still wait in the
/// client's session for the server to read.
pub fn tls_write_until_blocked(mut tls: TlsStream, seed: u64) -> (TlsStream, Vec<u8>) {
    tls.sock.set_nonblocking(true).unwrap();
    let chunk = pattern(16 * 1024, seed);
    let mut sent = Vec::new();
    write_until_quiet("TLS writes", || {
        if !tls.conn.wants_write() {
            tls.conn.writer().write_all(&chunk)?;
            sent.extend_from_slice(&chunk);
        }
        tls.conn.write_tls(&mut tls.sock).map(drop)
    });
    (tls, sent)
}
