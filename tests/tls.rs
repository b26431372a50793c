//! TLS echo (`--tls-listen`): bytes through a rustls session come back in
//! order, TLS 1.2 and 1.3; a client's `close_notify` is answered and a
//! bare end of stream counted as a truncation; a client that never reads
//! is held to the same bounds as a plain one; every kind of bad input is a
//! counted close, never a stall for others; a stop mid-stream sends
//! `close_notify` only after the client's last record; outside clients (`openssl
//! s_client`, Python's `ssl`) get their bytes back; client certificates
//! (`--tls-client-ca`) let in only clients of the CA, and ALPN
//! (`--tls-alpn`) refuses only clients that offer other protocols.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use echo_reactor::tls::{
    ClientAuth, ClientAuthMode, ClientCa, HandshakeFailure, ECHO_CHUNK, SESSION_BUFFERS,
};
use echo_reactor::Config;

use crate::support::*;

#[test]
fn hello_world_comes_back_over_tls_1_3_and_1_2() {
    let cert = TestCert::new();
    let (server, addr) = start_tls(tls_config(&cert));
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let mut client = tls_connect(addr, &cert.client(&[version]));
        assert_eq!(client.conn.protocol_version(), Some(version.version));
        tls_echo_once(&mut client, b"Hello, world");
        client.conn.send_close_notify();
        client.flush().unwrap();
        assert_eq!(tls_read_to_end(&mut client).unwrap(), b"");
    }
    let stats = server.wait_for_stats("both to close", |s| s.active == 0);
    assert_eq!(stats.tls_handshakes, 2);
    assert_eq!(stats.tls_close_notify, 2);
    assert_eq!(stats.closed_by_peer, 2);
    assert_eq!(stats.bytes_in, 24);
    assert_eq!(stats.bytes_out, 24);
}

#[test]
fn one_mebibyte_of_random_bytes_comes_back_byte_for_byte() {
    let cert = TestCert::new();
    let (server, addr) = start_tls(tls_config(&cert));
    let data = all_byte_values(1 << 20, 13);
    let mut client = tls_connect(addr, &cert.client(&[]));
    // A writer thread, so neither side's queues limit what is in flight.
    let mut writer = client.sock.try_clone().unwrap();
    let mut echoed = Vec::with_capacity(data.len());
    let mut records = Vec::new();
    for chunk in data.chunks(40_000) {
        client.conn.writer().write_all(chunk).unwrap();
        while client.conn.wants_write() {
            client.conn.write_tls(&mut records).unwrap();
        }
    }
    let feeder = thread::spawn(move || writer.write_all(&records).unwrap());
    while echoed.len() < data.len() {
        let mut buf = vec![0; 65536];
        let n = client.read(&mut buf).expect("read the echo");
        assert!(n > 0, "end of stream after {} bytes", echoed.len());
        echoed.extend_from_slice(&buf[..n]);
    }
    join_within("the writer", feeder, PATIENCE);
    assert_same_bytes(&echoed, &data);
    drop(client);
    let stats = server.wait_for_stats("the client to close", |s| s.active == 0);
    assert_eq!(stats.bytes_in, data.len() as u64);
}

#[test]
fn a_client_sending_steadily_when_the_stop_comes_gets_every_echo_before_close_notify() {
    // A record every few milliseconds: between two of them the session
    // has nothing in flight, which alone does not make it idle. A
    // close_notify there would cut off every record after it.
    let cert = TestCert::new();
    let mut config = tls_config(&cert);
    config.drain_timeout = Duration::from_secs(600);
    let (server, addr) = start_tls(config);
    let mut client = tls_connect(addr, &cert.client(&[]));
    let data = all_byte_values(60 << 10, 41);
    // Each 1 KiB sealed into its own records up front, then written raw
    // on the schedule, the client's close_notify last.
    let mut sealed = Vec::new();
    let mut seal = |conn: &mut rustls::ClientConnection| {
        let mut records = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut records).unwrap();
        }
        sealed.push(records);
    };
    for chunk in data.chunks(1024) {
        client.conn.writer().write_all(chunk).unwrap();
        seal(&mut client.conn);
    }
    client.conn.send_close_notify();
    seal(&mut client.conn);
    let (feeder, a_quarter_sent) = send_paced(&client.sock, sealed, false);
    a_quarter_sent.recv().unwrap();
    server.handle.stop();

    let echoed = tls_read_to_end(&mut client).expect("every echo, then close_notify");
    feeder.finish();
    assert_whole_echo_before("close_notify", &echoed, &data);
    let stats = server.join();
    assert_eq!(stats.bytes_in, data.len() as u64, "{stats:?}");
}

#[test]
fn two_hundred_concurrent_clients_half_closing_with_close_notify_half_with_eof() {
    const CLIENTS: usize = 200;
    let cert = TestCert::new();
    let (server, addr) = start_tls(tls_config(&cert));
    let config = cert.client(&[]);
    let mut clients: Vec<TlsStream> = (0..CLIENTS).map(|_| tls_connect(addr, &config)).collect();
    server.wait_for_stats("every handshake", |s| s.tls_handshakes == CLIENTS as u64);
    for (i, client) in clients.iter_mut().enumerate() {
        tls_echo_once(client, format!("client {i} says hello").as_bytes());
    }
    for (i, mut client) in clients.into_iter().enumerate() {
        if i % 2 == 0 {
            client.conn.send_close_notify();
            client.flush().unwrap();
        } else {
            client.sock.shutdown(Shutdown::Write).unwrap();
        }
        // Either way the server answers with its close_notify.
        assert_eq!(tls_read_to_end(&mut client).unwrap(), b"", "client {i}");
    }
    let stats = server.wait_for_stats("every client to close", |s| s.active == 0);
    assert_eq!(stats.tls_handshakes, CLIENTS as u64);
    assert_eq!(stats.tls_close_notify, CLIENTS as u64 / 2);
    assert_eq!(stats.tls_truncated, CLIENTS as u64 / 2);
    assert_eq!(stats.closed_by_peer, CLIENTS as u64);
    assert_eq!(stats.tls_handshake_failures(), 0);
}

#[test]
fn a_client_that_never_reads_is_held_to_the_pending_limit_and_others_are_served() {
    const MAX_PENDING: usize = 64 * 1024;
    let cert = TestCert::new();
    let mut config = tls_config(&cert);
    config.max_pending = MAX_PENDING;
    let (server, addr) = start_tls(config);
    let config = cert.client(&[]);
    let (hog, written) = tls_write_until_blocked(tls_connect(addr, &config), 7);
    let stats = server.stats();
    eprintln!(
        "a client that never reads wrote {} bytes; {stats:?}",
        written.len()
    );
    // Held: the server stopped reading at its limit, with that much of the
    // client's echo charged to it.
    assert!(
        stats.backpressure_pauses >= 1,
        "the server never stopped reading: {stats:?}"
    );
    assert!(
        stats.memory_in_use as usize >= MAX_PENDING,
        "{} B held, less than the {MAX_PENDING} B limit: {stats:?}",
        stats.memory_in_use
    );
    // ... and to the limit: no more than it and one session's buffers.
    let bound = std::mem::size_of::<usize>() * 512 + SESSION_BUFFERS + ECHO_CHUNK + MAX_PENDING;
    assert!(
        stats.memory_in_use as usize <= bound,
        "{} B held",
        stats.memory_in_use
    );
    let mut other = tls_connect(addr, &config);
    tls_echo_once(&mut other, b"still served");
    drop(hog);
}

/// Sends `bytes` as a client's first bytes and returns once the server
/// has closed the connection.
fn send_and_expect_close(addr: std::net::SocketAddr, bytes: &[u8], then_close: bool) {
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.write_all(bytes).unwrap();
    if then_close {
        client.shutdown(Shutdown::Write).unwrap();
    }
    let mut rest = Vec::new();
    // The server closes: an end of stream, or a reset if it had unread bytes.
    let _ = client.read_to_end(&mut rest);
}

/// A TLS record header for a handshake message of `len` bytes.
fn record(version: [u8; 2], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x16, version[0], version[1]];
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A ClientHello that offers only TLS 1.1 (`0x0302`), with no extensions.
fn tls_1_1_client_hello() -> Vec<u8> {
    let mut hello = vec![0x03, 0x02];
    hello.extend_from_slice(&[7; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&[0, 2, 0x00, 0x2f]); // TLS_RSA_WITH_AES_128_CBC_SHA
    hello.extend_from_slice(&[1, 0]); // null compression
    let mut message = vec![0x01, 0, 0, hello.len() as u8];
    message.extend_from_slice(&hello);
    record([0x03, 0x01], &message)
}

#[test]
fn bad_input_is_a_counted_close_for_each_reason_and_others_are_served() {
    let cert = TestCert::new();
    let mut config = tls_config(&cert);
    config.tls_handshake_timeout = Duration::from_millis(300);
    let (server, addr) = start_tls(config);
    // Plaintext to the TLS port.
    send_and_expect_close(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false);
    // A handshake record of garbage.
    send_and_expect_close(addr, &record([3, 1], &pattern(200, 3)), false);
    // A truncated ClientHello, then the end of stream.
    send_and_expect_close(addr, &tls_1_1_client_hello()[..20], true);
    // An unsupported version.
    send_and_expect_close(addr, &tls_1_1_client_hello(), false);
    // A client that stops mid-handshake: the timeout closes it.
    send_and_expect_close(addr, &tls_1_1_client_hello()[..30], false);
    // A client that resets mid-record after the handshake.
    let config = cert.client(&[]);
    let mut resetter = tls_connect(addr, &config);
    tls_echo_once(&mut resetter, b"before the reset");
    resetter
        .conn
        .writer()
        .write_all(&pattern(10_000, 5))
        .unwrap();
    let mut records = Vec::new();
    resetter.conn.write_tls(&mut records).unwrap();
    resetter
        .sock
        .write_all(&records[..records.len() / 2])
        .unwrap();
    socket2::SockRef::from(&resetter.sock)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(resetter);

    let stats = server.wait_for_stats("every bad client to be closed", |s| s.active == 0);
    eprintln!("{stats}");
    assert_eq!(stats.tls_failed[HandshakeFailure::NotTls], 1, "plaintext");
    assert_eq!(stats.tls_failed[HandshakeFailure::Invalid], 1, "garbage");
    assert_eq!(stats.tls_failed[HandshakeFailure::Closed], 1, "truncated");
    assert_eq!(
        stats.tls_failed[HandshakeFailure::Incompatible],
        1,
        "TLS 1.1 only"
    );
    assert_eq!(
        stats.tls_failed[HandshakeFailure::Timeout],
        1,
        "stopped mid-handshake"
    );
    assert_eq!(stats.closed_by_error, 1, "reset mid-record");
    assert_eq!(stats.tls_handshakes, 1);
    let mut good = tls_connect(addr, &config);
    tls_echo_once(&mut good, b"still served");
}

#[test]
fn the_proxy_header_comes_before_the_handshake_and_the_banner_after_it() {
    let cert = TestCert::new();
    let mut config = tls_config(&cert);
    config.proxy_protocol = true;
    config.banner = Some("hello from {local_addr}\n".into());
    let (server, addr) = start_tls(config);
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    (&tcp)
        .write_all(b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 443\r\n")
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let session = rustls::ClientConnection::new(cert.client(&[]), name).unwrap();
    let mut client = rustls::StreamOwned::new(session, tcp);
    let banner = format!("hello from {addr}\n");
    assert_eq!(
        tls_read_exactly(&mut client, banner.len()),
        banner.as_bytes()
    );
    tls_echo_once(&mut client, b"Hello, world");
    let stats = server.stats();
    assert_eq!((stats.proxy_accepted, stats.tls_handshakes), (1, 1));
}

#[test]
fn openssl_s_client_gets_its_bytes_back() {
    if !on_path("openssl") {
        return skip("openssl not found");
    }
    let cert = TestCert::new();
    let (_server, addr) = start_tls(tls_config(&cert));
    let scratch = Scratch::new("tls-openssl");
    let ca = scratch.join("openssl-ca.pem");
    cert.write_cert(&ca);
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-quiet"])
        .args([
            "-verify_return_error",
            "-servername",
            "localhost",
            "-CAfile",
        ])
        .arg(&ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let message = b"Hello from openssl\n";
    child.stdin.as_mut().unwrap().write_all(message).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let got = within_patience("openssl's echo", move || {
        let mut got = vec![0; message.len()];
        stdout.read_exact(&mut got).map(|()| got).ok()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.as_deref(), Some(&message[..]));
}

#[test]
fn pythons_ssl_module_gets_its_bytes_back() {
    if !on_path("python3") {
        return skip("python3 not found");
    }
    let cert = TestCert::new();
    let (server, addr) = start_tls(tls_config(&cert));
    let scratch = Scratch::new("tls-python");
    let ca = scratch.join("python-ca.pem");
    cert.write_cert(&ca);
    let script = format!(
        "import socket, ssl\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         with socket.create_connection(('127.0.0.1', {port}), timeout=10) as raw:\n\
         \x20   with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n\
         \x20       s.sendall(b'Hello from python')\n\
         \x20       got = b''\n\
         \x20       while len(got) < 17: got += s.recv(100)\n\
         \x20       print(got.decode(), s.version())\n\
         \x20       s.unwrap()\n",
        ca = ca.display().to_string(),
        port = addr.port()
    );
    let output = run_within_patience(Command::new("python3").args(["-c", &script]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.starts_with("Hello from python TLSv1.3"),
        "{printed}"
    );
    let stats = server.wait_for_stats("python to close", |s| s.active == 0);
    assert_eq!(stats.tls_close_notify, 1);
}

#[test]
fn a_bad_certificate_or_key_file_is_one_line_on_stderr_and_exit_1() {
    let dir = Scratch::new("tls-files");
    let (one, two) = (TestCert::new(), TestCert::new());
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let other_key = dir.join("other-key.pem");
    let not_pem = dir.join("not-pem.txt");
    std::fs::write(&cert, &one.cert_pem).unwrap();
    std::fs::write(&key, &one.key_pem).unwrap();
    std::fs::write(&other_key, &two.key_pem).unwrap();
    std::fs::write(&not_pem, "hello\n").unwrap();
    let missing = dir.join("missing.pem");
    let cases = [
        (
            &missing,
            &key,
            format!(
                "echo-reactor: cannot read the TLS certificate file {}: No such file or directory (os error 2)",
                missing.display()
            ),
        ),
        (
            &cert,
            &not_pem,
            format!("echo-reactor: {}: no PEM private key in it", not_pem.display()),
        ),
        (
            &not_pem,
            &key,
            format!("echo-reactor: {}: no PEM certificate in it", not_pem.display()),
        ),
        (
            &cert,
            &other_key,
            "echo-reactor: the TLS key does not belong to the certificate".to_string(),
        ),
    ];
    for (cert, key, expected) in cases {
        let output = run_within_patience(Command::new(env!("CARGO_BIN_EXE_echo-reactor")).args([
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(" INFO ")).collect();
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(lines, [expected.as_str()], "{stderr}");
    }
}

#[test]
fn an_idle_tls_connection_costs_the_server_little_memory() {
    const CONNECTIONS: usize = 1000;
    // The clients' sockets are this process's descriptors, beside what the
    // tests running alongside hold: more than a soft limit of 1024 allows.
    let (_, nofile) = echo_reactor::raise_nofile_limit().expect("raise the open-files limit");
    if nofile < 2 * CONNECTIONS as u64 {
        return skip(&format!(
            "{CONNECTIONS} client sockets need more than an open-files limit of {nofile}"
        ));
    }
    let scratch = Scratch::new("tls-idle");
    let ca = scratch.join("self-signed.pem");
    let server = Binary::start_logging(
        "info",
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-self-signed",
            "--tls-self-signed-out",
            ca.to_str().unwrap(),
        ],
    );
    let addr = server.addrs[1];
    let log = server.log_text();
    let made = "self-signed TLS certificate for localhost, 127.0.0.1, ::1; SHA-256 fingerprint ";
    assert!(log.contains(made), "{log}");
    let cert = TestCert {
        cert_pem: std::fs::read_to_string(&ca).unwrap(),
        key_pem: String::new(),
    };
    let config = cert.client(&[]);
    // One connection first, so what every connection shares (the session
    // cache, the allocator's first arenas) is in the baseline.
    let mut first = tls_connect(addr, &config);
    tls_echo_once(&mut first, b"warm up");
    let before = server.rss_bytes();
    let mut clients: Vec<TlsStream> = (0..CONNECTIONS)
        .map(|_| tls_connect(addr, &config))
        .collect();
    for client in &mut clients {
        tls_echo_once(client, b"Hello, world");
    }
    let after = server.rss_bytes();
    let per_connection = after.saturating_sub(before) / CONNECTIONS as u64;
    eprintln!(
        "{CONNECTIONS} idle TLS connections: server RSS {before} -> {after} B, {per_connection} B each"
    );
    assert!(
        per_connection < 64 * 1024,
        "{per_connection} B per idle TLS connection"
    );
    for client in &mut clients {
        tls_echo_once(client, b"still here");
    }
    drop(clients);
}

#[test]
fn two_reactors_share_one_self_signed_certificate_and_both_echo_tls() {
    let scratch = Scratch::new("tls-two");
    let ca = scratch.join("self-signed.pem");
    let mut config = Config::default();
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.tls_listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.tls_identity = Some(echo_reactor::tls::TlsIdentity::SelfSigned {
        write_cert_to: Some(ca.clone()),
    });
    let cluster = echo_reactor::Cluster::bind(config, 2).expect("bind two reactors");
    let addr = cluster.tls_addrs()[0];
    let handle = cluster.handle();
    let runner = thread::spawn(move || cluster.run().expect("cluster run"));
    let cert = TestCert {
        cert_pem: std::fs::read_to_string(&ca).unwrap(),
        key_pem: String::new(),
    };
    let config = cert.client(&[]);
    // Whichever reactor the kernel picks, the certificate is the one written.
    for i in 0..20 {
        let mut client = tls_connect(addr, &config);
        tls_echo_once(&mut client, format!("client {i}").as_bytes());
    }
    let per_reactor = within_patience("both reactors to answer stats", {
        let handle = handle.clone();
        move || handle.stats_per_reactor()
    })
    .expect("both reactors answer stats");
    handle.stop_now();
    let stats = join_within("the cluster", runner, PATIENCE);
    assert_eq!(stats.tls_handshakes, 20);
    // The kernel spreads 20 connections over both (all on one: 1 in 2^19).
    for (reactor, stats) in per_reactor.iter().enumerate() {
        assert!(
            stats.tls_handshakes > 0,
            "reactor {reactor} completed no handshake: {per_reactor:?}"
        );
    }
}

/// Writes `cert`'s certificate and key into `scratch` as `NAME.pem` and
/// `NAME-key.pem`, and returns their paths.
fn write_pair(scratch: &Scratch, name: &str, cert: &TestCert) -> (PathBuf, PathBuf) {
    let (cert_path, key_path) = (
        scratch.join(&format!("{name}.pem")),
        scratch.join(&format!("{name}-key.pem")),
    );
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    (cert_path, key_path)
}

/// A TLS server whose clients present certificates of `ca` (as `mode`
/// says), its CA file in `scratch`; returns it, its TLS address and the
/// file of its own certificate, for clients to trust.
fn start_with_client_ca(
    ca: &TestCa,
    mode: ClientAuthMode,
    scratch: &Scratch,
) -> (InProcess, SocketAddr, PathBuf) {
    let cert = TestCert::new();
    let server_ca = scratch.join("server.pem");
    cert.write_cert(&server_ca);
    let client_ca = scratch.join("client-ca.pem");
    std::fs::write(&client_ca, ca.cert_pem()).unwrap();
    let mut config = tls_config(&cert);
    config.tls_client_auth = Some(ClientAuth {
        ca: ClientCa::File(client_ca),
        mode,
    });
    let (server, addr) = start_tls(config);
    (server, addr, server_ca)
}

/// Runs a Python `ssl` client against `addr` (trusting `server_ca`),
/// presenting `cert` (a certificate and key file) if given and offering
/// `alpn` if not empty; returns what it printed: the echo and the
/// negotiated ALPN protocol, or `refused` and why.
fn python_tls_client(
    addr: SocketAddr,
    server_ca: &Path,
    cert: Option<&(PathBuf, PathBuf)>,
    alpn: &[&str],
) -> String {
    let load_cert = match cert {
        Some((cert, key)) => format!("ctx.load_cert_chain({cert:?}, {key:?})\n"),
        None => String::new(),
    };
    let offer_alpn = match alpn {
        [] => String::new(),
        names => format!("ctx.set_alpn_protocols({names:?})\n"),
    };
    let script = format!(
        "import socket, ssl\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         {load_cert}{offer_alpn}\
         try:\n\
         \x20   with socket.create_connection(('127.0.0.1', {port}), timeout=10) as raw:\n\
         \x20       with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n\
         \x20           s.sendall(b'Hello from python')\n\
         \x20           got = b''\n\
         \x20           while len(got) < 17:\n\
         \x20               chunk = s.recv(100)\n\
         \x20               if not chunk: break\n\
         \x20               got += chunk\n\
         \x20           print(got.decode() or 'refused: end of stream', s.selected_alpn_protocol())\n\
         except (ssl.SSLError, ConnectionError) as e:\n\
         \x20   print('refused:', e)\n",
        ca = server_ca.display().to_string(),
        port = addr.port()
    );
    let output = run_within_patience(Command::new("python3").args(["-c", &script]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn required_client_certificates_let_in_only_clients_of_the_ca() {
    if !on_path("openssl") {
        return skip("openssl not found");
    }
    let scratch = Scratch::new("tls-client-required");
    let (ca, other_ca) = (TestCa::new(), TestCa::new());
    let (server, addr, server_ca) = start_with_client_ca(&ca, ClientAuthMode::Required, &scratch);
    let (cert, key) = write_pair(&scratch, "client", &ca.client_cert());
    let (stranger_cert, stranger_key) = write_pair(&scratch, "stranger", &other_ca.client_cert());
    let with = |cert: &Path, key: &Path| {
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        ["-cert", cert, "-key", key].map(str::to_string)
    };
    let args = with(&cert, &key);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let good = openssl_s_client(addr, &server_ca, &args, b"Hello with a certificate\n");
    assert!(good.echoed, "{}", good.stdout);

    let without = openssl_s_client(addr, &server_ca, &[], b"Hello without one\n");
    assert!(!without.echoed, "{}", without.stdout);
    server.wait_for_stats("the client without a certificate to be refused", |s| {
        s.tls_failed[HandshakeFailure::NoClientCertificate] == 1
    });

    let args = with(&stranger_cert, &stranger_key);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stranger = openssl_s_client(addr, &server_ca, &args, b"Hello from another CA\n");
    assert!(!stranger.echoed, "{}", stranger.stdout);
    let stats = server.wait_for_stats("every client to be closed", |s| {
        s.active == 0 && s.tls_failed[HandshakeFailure::BadClientCertificate] == 1
    });
    eprintln!("{stats}");
    assert_eq!(stats.tls_handshakes, 1, "only the client of the CA");
    assert_eq!(stats.tls_handshake_failures(), 2);
}

#[test]
fn optional_client_certificates_let_in_clients_without_one_but_not_a_stranger() {
    if !on_path("python3") {
        return skip("python3 not found");
    }
    let scratch = Scratch::new("tls-client-optional");
    let (ca, other_ca) = (TestCa::new(), TestCa::new());
    let (server, addr, server_ca) = start_with_client_ca(&ca, ClientAuthMode::Optional, &scratch);
    let good = write_pair(&scratch, "client", &ca.client_cert());
    let stranger = write_pair(&scratch, "stranger", &other_ca.client_cert());

    let printed = python_tls_client(addr, &server_ca, Some(&good), &[]);
    assert_eq!(printed, "Hello from python None");
    let printed = python_tls_client(addr, &server_ca, None, &[]);
    assert_eq!(printed, "Hello from python None");
    let printed = python_tls_client(addr, &server_ca, Some(&stranger), &[]);
    assert!(printed.starts_with("refused"), "{printed}");

    let stats = server.wait_for_stats("every client to be closed", |s| s.active == 0);
    eprintln!("{stats}");
    assert_eq!(stats.tls_handshakes, 2);
    assert_eq!(stats.tls_failed[HandshakeFailure::BadClientCertificate], 1);
    assert_eq!(stats.tls_handshake_failures(), 1);
}

#[test]
fn alpn_negotiates_the_servers_first_common_protocol_and_refuses_only_strangers() {
    if !on_path("openssl") || !on_path("python3") {
        return skip("openssl or python3 not found");
    }
    let cert = TestCert::new();
    let scratch = Scratch::new("tls-alpn");
    let server_ca = scratch.join("server.pem");
    cert.write_cert(&server_ca);
    let mut config = tls_config(&cert);
    config.tls_alpn = vec!["echo".to_string(), "http/1.1".to_string()];
    let (server, addr) = start_tls(config);

    let one = openssl_s_client(
        addr,
        &server_ca,
        &["-alpn", "http/1.1"],
        b"Hello over http\n",
    );
    assert!(one.echoed, "{}", one.stdout);
    assert!(
        one.stdout.contains("ALPN protocol: http/1.1\n"),
        "{}",
        one.stdout
    );
    // The server's order decides, not the client's.
    let both = openssl_s_client(addr, &server_ca, &["-alpn", "h2,http/1.1,echo"], b"Hi\n");
    assert!(both.echoed, "{}", both.stdout);
    assert!(
        both.stdout.contains("ALPN protocol: echo\n"),
        "{}",
        both.stdout
    );
    let none = openssl_s_client(addr, &server_ca, &[], b"Hello without ALPN\n");
    assert!(none.echoed, "{}", none.stdout);
    assert!(
        none.stdout.contains("No ALPN negotiated"),
        "{}",
        none.stdout
    );
    let stranger = openssl_s_client(addr, &server_ca, &["-alpn", "h2"], b"Hello over h2\n");
    assert!(!stranger.echoed, "{}", stranger.stdout);
    assert!(
        !stranger.stdout.contains("ALPN protocol:"),
        "{}",
        stranger.stdout
    );

    let printed = python_tls_client(addr, &server_ca, None, &["h2", "http/1.1"]);
    assert_eq!(printed, "Hello from python http/1.1");
    let printed = python_tls_client(addr, &server_ca, None, &["h2"]);
    assert!(
        printed.contains("NO_APPLICATION_PROTOCOL") || printed.contains("no application protocol"),
        "{printed}"
    );

    let stats = server.wait_for_stats("every client to be closed", |s| s.active == 0);
    eprintln!("{stats}");
    assert_eq!(stats.tls_handshakes, 4);
    assert_eq!(stats.tls_failed[HandshakeFailure::NoCommonProtocol], 2);
    assert_eq!(stats.tls_handshake_failures(), 2);
}

#[test]
fn bad_client_ca_and_alpn_flags_are_one_line_on_stderr_and_the_right_exit_status() {
    let dir = Scratch::new("tls-client-flags");
    let missing = dir.join("missing-ca.pem");
    let garbage = dir.join("garbage-ca.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    let broken = dir.join("broken-ca.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (missing, garbage, broken) = (
        missing.to_str().unwrap(),
        garbage.to_str().unwrap(),
        broken.to_str().unwrap(),
    );
    let cases: [(&[&str], i32, String); 6] = [
        (
            &["--tls-alpn", ""],
            2,
            "echo-reactor: invalid value '' for '--tls-alpn <LIST>': an ALPN protocol name \
             is 1 to 255 bytes, not 0 (see --help)"
                .into(),
        ),
        (
            &["--tls-alpn", "h2,"],
            2,
            "echo-reactor: invalid value '' for '--tls-alpn <LIST>': an ALPN protocol name \
             is 1 to 255 bytes, not 0 (see --help)"
                .into(),
        ),
        (
            &["--tls-client-auth", "sometimes", "--tls-client-ca", garbage],
            2,
            "echo-reactor: invalid value 'sometimes' for '--tls-client-auth \
             <required|optional>': 'sometimes' is neither 'required' nor 'optional' \
             (see --help)"
                .into(),
        ),
        (
            &["--tls-client-ca", missing],
            1,
            format!(
                "echo-reactor: cannot read the TLS client CA file {missing}: \
                 No such file or directory (os error 2)"
            ),
        ),
        (
            &["--tls-client-ca", garbage],
            1,
            format!("echo-reactor: {garbage}: no PEM certificate in it"),
        ),
        (
            &["--tls-client-ca", broken],
            1,
            format!(
                "echo-reactor: {broken}: not a usable CA certificate: \
                 invalid peer certificate: BadEncoding"
            ),
        ),
    ];
    for (flags, status, expected) in cases {
        let output = run_within_patience(
            Command::new(env!("CARGO_BIN_EXE_echo-reactor"))
                .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
                .arg("--tls-self-signed")
                .args(flags),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(" INFO ")).collect();
        assert_eq!(output.status.code(), Some(status), "{flags:?}: {stderr}");
        assert_eq!(lines, [expected.as_str()], "{flags:?}: {stderr}");
    }
}
