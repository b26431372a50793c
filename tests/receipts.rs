//! Receipts: one JSON line per connection in the access log
//! (`--access-log`), and the whoami listener's answer. Each field is
//! checked against what the client knows it did: its own address, the
//! bytes it sent, the PROXY header and TLVs it wrote, the TLS name,
//! protocol and certificate it offered, and what the kernel counted.

use crate::support::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use echo_reactor::stats::HeaderFailure;
use echo_reactor::tls::{ClientAuth, ClientAuthMode, ClientCa};
use echo_reactor::{AccessLog, AccessLogTarget, Config, Server};
use serde_json::Value;

/// A configuration with an access log in `scratch`, and the log itself (to
/// finish once the server has stopped).
fn logging(mut config: Config, scratch: &Scratch) -> (Config, AccessLog, PathBuf) {
    let path = scratch.join("access.jsonl");
    let log = AccessLog::open(&AccessLogTarget::File(path.clone())).expect("open the access log");
    config.access_log = Some(log.clone());
    (config, log, path)
}

/// Every receipt written, once the servers holding `log` have stopped.
fn receipts(log: AccessLog, path: &Path) -> Vec<Value> {
    log.finish(PATIENCE);
    let text = std::fs::read_to_string(path).expect("read the access log");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Sends `data` and reads its echo, then closes: the FIN goes after every
/// echo was read (and so acknowledged). Returns the client's own address.
fn echo_and_close(addr: SocketAddr, data: &[u8]) -> SocketAddr {
    let mut stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let sent = data.to_vec();
    let sender = std::thread::spawn(move || writer.write_all(&sent).unwrap());
    let echoed = read_exactly(&mut stream, data.len());
    sender.join().unwrap();
    assert_same_bytes(&echoed, data);
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eof(&mut stream);
    stream.local_addr().unwrap()
}

/// The receipt the README shows.
fn readme_receipt() -> Value {
    const README: &str = include_str!("../README.md");
    let section = &README[README
        .find("## What reached it")
        .expect("the receipts section")..];
    let start = section.find("```json\n").expect("a ```json block") + "```json\n".len();
    let end = start + section[start..].find("```").expect("the block's end");
    serde_json::from_str(&section[start..end]).expect("the README's receipt parses")
}

/// The whoami answer the README shows, after its `nc` line.
fn readme_whoami() -> Value {
    const README: &str = include_str!("../README.md");
    let after = &README[README
        .find("$ nc 127.0.0.1 65433\n")
        .expect("the whoami example")..];
    let line = after.lines().nth(1).expect("the answer's line");
    serde_json::from_str(line).expect("the README's whoami answer parses")
}

/// An object's field names, in order.
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn find(receipts: &[Value], client: SocketAddr) -> &Value {
    receipts
        .iter()
        .find(|r| r["downstream_direct_remote_address"] == client.to_string())
        .unwrap_or_else(|| panic!("no receipt for {client} in {receipts:#?}"))
}

#[test]
fn every_connection_leaves_one_receipt_with_its_bytes_and_the_kernels_view() {
    let scratch = Scratch::new("receipts-plain");
    let (config, log, path) = logging(Config::default(), &scratch);
    let server = InProcess::start(config);
    let server_addr = server.addr;
    let sizes = [1, 1000, 300_000];
    let clients: Vec<SocketAddr> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| echo_and_close(server.addr, &pattern(len, i as u64)))
        .collect();
    let stats = server.wait_for_stats("every client closed", |s| s.active == 0);
    assert_eq!(stats.access_log_lines, 3);
    server.stop();
    let receipts = receipts(log, &path);
    assert_eq!(receipts.len(), 3, "{receipts:#?}");
    // The README's receipt has the same fields, in the same order.
    let printed = readme_receipt();
    assert_eq!(keys(&printed), keys(&receipts[0]));
    assert_eq!(keys(&printed["tcp_info"]), keys(&receipts[0]["tcp_info"]));
    let mut ids: Vec<u64> = receipts
        .iter()
        .map(|r| r["connection_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "ids are unique");
    for (client, len) in clients.into_iter().zip(sizes) {
        let receipt = find(&receipts, client);
        assert_eq!(receipt["listener"], "echo");
        assert_eq!(receipt["listener_address"], server_addr.to_string());
        assert_eq!(receipt["reactor"], 0);
        assert_eq!(receipt["downstream_remote_address"], client.to_string());
        assert_eq!(receipt["downstream_local_address"], server_addr.to_string());
        assert_eq!(receipt["bytes_received"], len);
        assert_eq!(receipt["bytes_sent"], len);
        assert_eq!(receipt["termination"], "peer");
        assert_eq!(receipt["proxy_protocol"], Value::Null);
        assert_eq!(receipt["tls"], Value::Null);
        let tcp = &receipt["tcp_info"];
        assert!(tcp["rtt_us"].as_u64().unwrap() > 0, "{tcp}");
        // The client's FIN came after it read every echo, and acknowledged
        // them all.
        assert_eq!(tcp["bytes_acked"], len, "{tcp}");
        // The kernel counts in sequence space, where the FIN takes one.
        assert_eq!(tcp["bytes_received"], len + 1, "{tcp}");
        assert!(receipt["start_time"].as_str().unwrap().ends_with('Z'));
        assert!(receipt["duration_ms"].as_f64().unwrap() >= 0.0);
    }
}

/// CRC-32C, to sign the headers written here (the server's own is not
/// reachable from the tests, and a second implementation checks it).
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = if crc & 1 == 1 { 0x82F6_3B78 } else { 0 };
            crc = (crc >> 1) ^ mask;
        }
    }
    !crc
}

fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// A PROXY v2 header from 192.0.2.1:51234 to 198.51.100.2:443 with the
/// TLVs a cloud balancer and HAProxy send, and a CRC32C that matches
/// (or, with `corrupt`, one that does not).
fn v2_header_with_tlvs(corrupt: bool) -> Vec<u8> {
    let mut ssl = vec![0x01 | 0x02, 0, 0, 0, 0];
    ssl.extend(tlv(0x21, b"TLSv1.3"));
    ssl.extend(tlv(0x22, b"client.example"));
    let tlvs = [
        tlv(0x03, &[0; 4]),
        tlv(0x01, b"h2"),
        tlv(0x02, b"echo.example"),
        tlv(0x05, b"unique-17"),
        tlv(0x20, &ssl),
        tlv(0xEA, b"\x01vpce-08d2bf15fac5001c9"),
        tlv(0xEE, &[0x01, 0x15, 0xCD, 0x5B, 0x07]),
        tlv(0xE0, &0x0000_0042_0000_0007u64.to_be_bytes()),
    ]
    .concat();
    let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    header.extend_from_slice(&((12 + tlvs.len()) as u16).to_be_bytes());
    header.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
    header.extend_from_slice(&51234u16.to_be_bytes());
    header.extend_from_slice(&443u16.to_be_bytes());
    let crc_at = header.len() + 3;
    header.extend_from_slice(&tlvs);
    let mut crc = crc32c(&header);
    if corrupt {
        crc ^= 1;
    }
    header[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
    header
}

#[test]
fn a_proxy_v2_headers_tlvs_come_through_exactly_and_a_bad_crc32c_is_refused() {
    let scratch = Scratch::new("receipts-tlvs");
    let mut config = Config::default();
    config.proxy_protocol = true;
    let (config, log, path) = logging(config, &scratch);
    let server = InProcess::start(config);

    let mut sent = v2_header_with_tlvs(false);
    sent.extend_from_slice(b"hello");
    let client = echo_and_close_after_header(server.addr, &sent, b"hello");

    let mut refused = connect(server.addr);
    let mut bad = v2_header_with_tlvs(true);
    bad.extend_from_slice(b"hello");
    refused.write_all(&bad).unwrap();
    // Closed with nothing echoed (a reset, if the close found bytes
    // unread).
    let mut got = Vec::new();
    let _ = refused.read_to_end(&mut got);
    assert!(got.is_empty(), "{got:?}");
    let stats = server.wait_for_stats("both closed", |s| s.active == 0);
    assert_eq!(stats.proxy_refused[HeaderFailure::BadChecksum], 1);
    assert_eq!(stats.proxy_accepted, 1);
    server.stop();

    let receipts = receipts(log, &path);
    assert_eq!(receipts.len(), 2, "{receipts:#?}");
    let receipt = find(&receipts, client);
    assert_eq!(receipt["downstream_remote_address"], "192.0.2.1:51234");
    assert_eq!(receipt["downstream_local_address"], "198.51.100.2:443");
    assert_eq!(receipt["bytes_received"], 5);
    let proxy = &receipt["proxy_protocol"];
    assert_eq!(proxy["version"], 2);
    assert_eq!(proxy["command"], "proxy");
    let crc = proxy["tlvs"]["crc32c"].as_str().unwrap().to_string();
    assert_eq!(
        proxy["tlvs"],
        serde_json::json!({
            "crc32c": crc,
            "alpn": "h2",
            "authority": "echo.example",
            "unique_id": "unique-17",
            "ssl": {
                "client_ssl": true,
                "client_cert_conn": true,
                "client_cert_sess": false,
                "verify": 0,
                "version": "TLSv1.3",
                "cn": "client.example",
            },
            "aws_vpce_id": "vpce-08d2bf15fac5001c9",
            "azure_private_link_id": 0x075B_CD15,
            "gcp_psc_connection_id": 0x0000_0042_0000_0007u64,
        })
    );
    let bad = receipts
        .iter()
        .find(|r| r["termination"] == "proxy_header")
        .expect("the refused connection's receipt");
    assert_eq!(bad["connection_termination_details"], "bad_checksum");
    assert_eq!(bad["bytes_received"], 0);
}

/// Sends `sent` (a header and a payload), half-closes, and expects
/// `echo` back; returns the client's address.
fn echo_and_close_after_header(addr: SocketAddr, sent: &[u8], echo: &[u8]) -> SocketAddr {
    let mut stream = connect(addr);
    let sender = send_then_half_close(&stream, sent.to_vec());
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).expect("read the echo");
    sender.finish();
    assert_eq!(echoed, echo);
    stream.local_addr().unwrap()
}

/// Reads a whoami answer to its end and parses it.
fn whoami(addr: SocketAddr, first: &[u8]) -> (Value, SocketAddr) {
    let mut stream = connect(addr);
    stream.write_all(first).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    assert!(answer.ends_with('\n'), "{answer:?}");
    assert_eq!(answer.lines().count(), 1, "{answer:?}");
    let value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
    (value, stream.local_addr().unwrap())
}

#[test]
fn whoami_answers_with_what_it_saw_plain_and_behind_a_proxy_header() {
    let plain = Binary::start(&["--listen", "127.0.0.1:0", "--whoami-listen", "127.0.0.1:0"]);
    let whoami_addr = plain.addrs[1];
    let (answer, client) = whoami(whoami_addr, b"");
    assert_eq!(answer["listener"], "whoami");
    assert_eq!(answer["downstream_remote_address"], client.to_string());
    assert_eq!(
        answer["downstream_direct_remote_address"],
        client.to_string()
    );
    assert_eq!(answer["downstream_local_address"], whoami_addr.to_string());
    assert_eq!(answer["proxy_protocol"], Value::Null);
    // An answer is a receipt as far as known: not yet how it ended.
    assert!(answer.get("termination").is_none(), "{answer}");
    // The README's answer has the same fields, in the same order.
    assert_eq!(keys(&readme_whoami()), keys(&answer));
    // The echo listener beside it still echoes.
    echo_all(plain.addr(), b"still an echo");

    let proxied = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--whoami-listen",
        "127.0.0.1:0",
        "--proxy-protocol",
    ]);
    let header = v2_header_with_tlvs(false);
    let (answer, client) = whoami(proxied.addrs[1], &header);
    assert_eq!(answer["downstream_remote_address"], "192.0.2.1:51234");
    assert_eq!(
        answer["downstream_direct_remote_address"],
        client.to_string()
    );
    assert_eq!(
        answer["proxy_protocol"]["tlvs"]["authority"],
        "echo.example"
    );
    assert_eq!(
        answer["proxy_protocol"]["tlvs"]["aws_vpce_id"],
        "vpce-08d2bf15fac5001c9"
    );
}

/// `openssl s_client`'s arguments to offer ALPN `echo` and present the
/// client certificate `cert` with its `key`.
fn alpn_echo_with_cert<'a>(cert: &'a Path, key: &'a Path) -> [&'a str; 6] {
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    ["-alpn", "echo", "-cert", cert, "-key", key]
}

/// The SHA-256 fingerprint of the certificate in `pem`, as `openssl x509`
/// prints it, lower case without colons.
fn openssl_fingerprint(pem: &Path) -> String {
    let output = run_within_patience(
        Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(pem),
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let hex = text.trim().rsplit('=').next().unwrap();
    hex.replace(':', "").to_lowercase()
}

#[test]
fn tls_receipts_name_the_version_cipher_sni_alpn_and_client_certificate() {
    if !on_path("openssl") || !on_path("python3") {
        return skip("openssl or python3 not found");
    }
    let scratch = Scratch::new("receipts-tls");
    let cert = TestCert::new();
    let server_ca = scratch.join("server.pem");
    cert.write_cert(&server_ca);
    let ca = TestCa::new();
    let client_ca = scratch.join("client-ca.pem");
    std::fs::write(&client_ca, ca.cert_pem()).unwrap();
    let client = ca.client_cert();
    let (client_cert, client_key) = (scratch.join("client.pem"), scratch.join("client-key.pem"));
    std::fs::write(&client_cert, &client.cert_pem).unwrap();
    std::fs::write(&client_key, &client.key_pem).unwrap();

    let mut config = tls_config(&cert);
    config.tls_alpn = vec!["echo".into()];
    config.tls_client_auth = Some(ClientAuth {
        ca: ClientCa::File(client_ca),
        mode: ClientAuthMode::Optional,
    });
    let (config, log, path) = logging(config, &scratch);
    let server = Server::bind(config).expect("bind");
    let tls_addr = server.tls_addrs()[0];
    let server = InProcess::run(server);

    let with_cert = openssl_s_client(
        tls_addr,
        &server_ca,
        &alpn_echo_with_cert(&client_cert, &client_key),
        b"Hello with a certificate\n",
    );
    assert!(with_cert.echoed, "{}", with_cert.stdout);
    // Python's ssl, with no certificate and TLS 1.2 at most.
    let script = format!(
        "import socket, ssl\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         ctx.maximum_version = ssl.TLSVersion.TLSv1_2\n\
         with socket.create_connection(('127.0.0.1', {port}), timeout=10) as raw:\n\
         \x20   with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n\
         \x20       s.sendall(b'twelve bytes')\n\
         \x20       got = b''\n\
         \x20       while len(got) < 12:\n\
         \x20           got += s.recv(100)\n\
         \x20       print(got.decode())\n",
        ca = server_ca.display().to_string(),
        port = tls_addr.port()
    );
    let output = run_within_patience(Command::new("python3").args(["-c", &script]));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "twelve bytes"
    );
    server.wait_for_stats("both closed", |s| s.active == 0 && s.tls_handshakes == 2);
    server.stop();

    let receipts = receipts(log, &path);
    assert_eq!(receipts.len(), 2, "{receipts:#?}");
    let openssl = receipts
        .iter()
        .find(|r| r["tls"]["peer_subject"] != Value::Null)
        .expect("the receipt of the client with a certificate");
    assert_eq!(openssl["listener"], "tls");
    let tls = &openssl["tls"];
    assert_eq!(tls["version"], "TLSv1_3");
    assert!(
        tls["cipher"].as_str().unwrap().starts_with("TLS13_"),
        "{tls}"
    );
    assert_eq!(tls["requested_server_name"], "localhost");
    assert_eq!(tls["alpn"], "echo");
    assert_eq!(tls["peer_subject"], "CN=echo-reactor test client");
    assert_eq!(
        tls["peer_fingerprint_256"],
        openssl_fingerprint(&client_cert)
    );
    assert_eq!(openssl["bytes_received"], 25);
    assert_eq!(openssl["bytes_sent"], 25);

    let python = receipts
        .iter()
        .find(|r| r["tls"]["peer_subject"] == Value::Null)
        .expect("the receipt of the client without one");
    let tls = &python["tls"];
    assert_eq!(tls["version"], "TLSv1_2");
    assert!(
        tls["cipher"].as_str().unwrap().starts_with("TLS_ECDHE_"),
        "{tls}"
    );
    assert_eq!(tls["requested_server_name"], "localhost");
    assert_eq!(tls["alpn"], Value::Null);
    assert_eq!(tls["peer_fingerprint_256"], Value::Null);
    assert_eq!(python["bytes_received"], 12);
}

#[test]
fn a_stalled_access_log_drops_lines_and_never_stops_an_echo() {
    // The log goes to a pipe nobody reads: the writer fills it and blocks,
    // its queue fills behind it, and the rest is dropped, counted.
    let mut server = Command::new(BINARY)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--access-log",
            "-",
        ])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let stderr = server.stderr.take().unwrap();
    let (addr, metrics) = listening_and_metrics(stderr);
    let connections = echo_reactor::QUEUED_LINES + 2000;
    let started = std::time::Instant::now();
    for i in 0..connections {
        let mut stream = connect(addr);
        echo_once(&mut stream, format!("connection {i}").as_bytes());
        drop(stream);
        assert!(
            started.elapsed() < 10 * PATIENCE,
            "{i} connections in {:?}",
            started.elapsed()
        );
    }
    let count = move |outcome: &str| -> u64 {
        let text = http_get(metrics, "/metrics");
        let sample = format!("echo_reactor_access_log_lines_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&sample))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let done = within_patience("every receipt queued or dropped", move || loop {
        let (queued, dropped) = (count("queued"), count("dropped"));
        if queued + dropped == connections as u64 {
            return (queued, dropped);
        }
        std::thread::sleep(Duration::from_millis(50));
    });
    let (queued, dropped) = done;
    // At most the queue, and what the pipe and the writer's batch hold.
    assert!(
        queued <= echo_reactor::QUEUED_LINES as u64 + 1000,
        "{queued} queued"
    );
    assert!(dropped >= 1000, "{dropped} dropped");
    let _ = server.kill();
    let _ = server.wait();
}

/// The echo and metrics addresses from the server's log on `stderr`.
fn listening_and_metrics(stderr: std::process::ChildStderr) -> (SocketAddr, SocketAddr) {
    use std::io::BufRead;
    within_patience("the listening lines", move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        let (mut listen, mut metrics) = (None, None);
        while let Some(Ok(line)) = lines.next() {
            if let Some(rest) = line.split("listening on ").nth(1) {
                listen = rest.trim().parse().ok();
            }
            if let Some(rest) = line.split("metrics on http://").nth(1) {
                metrics = rest.split('/').next().and_then(|a| a.parse().ok());
            }
            if let (Some(listen), Some(metrics)) = (listen, metrics) {
                // Keep draining the log so the server never blocks on it.
                std::thread::spawn(move || for _ in lines.by_ref() {});
                return (listen, metrics);
            }
        }
        panic!("the server ended before logging its addresses");
    })
}

/// A GET of `path` from `addr`, the body as text.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn haproxy_terminating_tls_sends_its_tlvs_and_the_client_cn_exactly() {
    if !on_path("haproxy") || !on_path("openssl") {
        return skip("haproxy or openssl not found");
    }
    let scratch = Scratch::new("receipts-haproxy");
    // HAProxy's certificate and key in one file, the client CA beside it.
    let cert = TestCert::new();
    let server_ca = scratch.join("server.pem");
    cert.write_cert(&server_ca);
    let combined = scratch.join("haproxy.pem");
    std::fs::write(&combined, format!("{}{}", cert.cert_pem, cert.key_pem)).unwrap();
    let ca = TestCa::new();
    let client_ca = scratch.join("client-ca.pem");
    std::fs::write(&client_ca, ca.cert_pem()).unwrap();
    let client = ca.client_cert();
    let (client_cert, client_key) = (scratch.join("client.pem"), scratch.join("client-key.pem"));
    std::fs::write(&client_cert, &client.cert_pem).unwrap();
    std::fs::write(&client_key, &client.key_pem).unwrap();

    let mut config = Config::default();
    config.proxy_protocol = true;
    let (config, log, path) = logging(config, &scratch);
    let server = InProcess::start(config);

    let front = SocketAddr::from(([127, 0, 0, 1], crate::haproxy::free_port()));
    let haproxy_config = format!(
        "defaults\n\
         \x20   mode tcp\n\
         \x20   timeout connect 5s\n\
         \x20   timeout client 30s\n\
         \x20   timeout server 30s\n\
         frontend tls_in\n\
         \x20   bind {front} ssl crt {crt} ca-file {ca} verify required alpn echo\n\
         \x20   unique-id-format echo-%Ts-%rt\n\
         \x20   default_backend echo\n\
         backend echo\n\
         \x20   server s1 {backend} send-proxy-v2 proxy-v2-options authority,unique-id,crc32c,ssl,cert-cn,ssl-cipher\n",
        crt = combined.display(),
        ca = client_ca.display(),
        backend = server.addr,
    );
    let haproxy = crate::haproxy::spawn_haproxy(&haproxy_config, front);
    let through = openssl_s_client(
        front,
        &server_ca,
        &alpn_echo_with_cert(&client_cert, &client_key),
        b"Hello through HAProxy\n",
    );
    assert!(through.echoed, "{}", through.stdout);
    server.wait_for_stats("the connection through HAProxy closed", |s| {
        s.proxy_accepted == 1 && s.active == 0
    });
    drop(haproxy);
    server.stop();

    let receipts = receipts(log, &path);
    assert_eq!(receipts.len(), 1, "{receipts:#?}");
    let receipt = &receipts[0];
    eprintln!("{receipt}");
    let proxy = &receipt["proxy_protocol"];
    assert_eq!(proxy["version"], 2);
    // The client's own address came through: HAProxy's connection to the
    // server is another (the kernel's peer).
    let client_addr = proxy["source"].as_str().unwrap();
    assert!(client_addr.starts_with("127.0.0.1:"), "{proxy}");
    assert_ne!(client_addr, receipt["downstream_direct_remote_address"]);
    assert_eq!(receipt["downstream_remote_address"], client_addr);
    assert_eq!(proxy["destination"], front.to_string());
    let tlvs = &proxy["tlvs"];
    assert_eq!(tlvs["authority"], "localhost", "{tlvs}");
    assert_eq!(tlvs["alpn"], "echo", "{tlvs}");
    assert!(tlvs["crc32c"].is_string(), "checked and matched: {tlvs}");
    let unique = tlvs["unique_id"].as_str().unwrap();
    assert!(unique.starts_with("echo-"), "{tlvs}");
    let ssl = &tlvs["ssl"];
    assert_eq!(ssl["client_ssl"], true, "{ssl}");
    assert_eq!(ssl["client_cert_conn"], true, "{ssl}");
    assert_eq!(ssl["verify"], 0, "{ssl}");
    assert_eq!(ssl["version"], "TLSv1.3", "{ssl}");
    assert_eq!(ssl["cn"], "echo-reactor test client", "{ssl}");
    assert!(ssl["cipher"].as_str().unwrap().starts_with("TLS_"), "{ssl}");
    assert_eq!(receipt["bytes_received"], 22);
    assert_eq!(receipt["bytes_sent"], 22);
}

#[test]
fn whoami_over_tls_answers_after_the_handshake_with_what_it_settled() {
    if !on_path("openssl") {
        return skip("openssl not found");
    }
    let scratch = Scratch::new("receipts-whoami-tls");
    let cert = TestCert::new();
    let server_ca = scratch.join("server.pem");
    cert.write_cert(&server_ca);
    let mut config = Config::default();
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.whoami_tls_listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.tls_identity = Some(cert.identity());
    config.tls_alpn = vec!["echo".into()];
    let server = Server::bind(config).expect("bind");
    let whoami_addr = server.whoami_addrs()[0];
    let _server = InProcess::run(server);
    // openssl sends nothing (`-ign_eof`: its empty input does not end the
    // session) and prints what it receives, until the server's
    // close_notify ends it.
    let output = run_within_patience(
        Command::new("openssl")
            .args(["s_client", "-connect", &whoami_addr.to_string()])
            .args(["-servername", "echo.example", "-alpn", "echo", "-ign_eof"])
            .arg("-CAfile")
            .arg(&server_ca)
            .stdin(Stdio::null()),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("no answer in:\n{stdout}"));
    let receipt: Value = serde_json::from_str(line).unwrap();
    assert_eq!(receipt["listener"], "whoami-tls");
    assert_eq!(receipt["tls"]["version"], "TLSv1_3");
    assert_eq!(receipt["tls"]["requested_server_name"], "echo.example");
    assert_eq!(receipt["tls"]["alpn"], "echo");
}

#[test]
fn the_reactors_of_a_cluster_share_one_log_and_one_sequence_of_ids() {
    let scratch = Scratch::new("receipts-cluster");
    let (mut config, log, path) = logging(Config::default(), &scratch);
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    let cluster = InCluster::start(config, 2);
    let connections = 40;
    for i in 0..connections {
        echo_and_close(cluster.addr, &pattern(100, i));
    }
    let stats = cluster.stop();
    assert_eq!(stats.access_log_lines, connections);
    let receipts = receipts(log, &path);
    let mut ids: Vec<u64> = receipts
        .iter()
        .map(|r| r["connection_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=connections).collect::<Vec<_>>());
    // The kernel spreads connections over the reactors by their addresses:
    // 40 all on one would happen about once in 5 * 10^11 runs.
    for reactor in 0..2 {
        assert!(
            receipts.iter().any(|r| r["reactor"] == reactor),
            "no receipt from reactor {reactor}"
        );
    }
}

#[test]
fn a_receipt_on_a_fault_listener_names_it_and_the_toxics_the_connection_drew() {
    let scratch = Scratch::new("receipts-faults");
    let log_path = scratch.join("access.jsonl");
    let server = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--fault-listen",
        "slow=127.0.0.1:0",
        "--toxic",
        "slow:latency:downstream,latency=20ms",
        "--access-log",
        log_path.to_str().unwrap(),
    ]);
    let slow = server.addrs[1];
    let client = echo_and_close(slow, b"late but whole");
    let receipt = within_patience("the receipt in the log", move || loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            return serde_json::from_str::<Value>(line).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    });
    assert_eq!(receipt["downstream_remote_address"], client.to_string());
    assert_eq!(receipt["listener"], "fault");
    assert_eq!(receipt["faults"]["listener"], "slow");
    assert_eq!(
        receipt["faults"]["drawn"],
        serde_json::json!(["latency_downstream"])
    );
    assert_eq!(receipt["bytes_received"], 14);
    assert_eq!(receipt["bytes_sent"], 14);
    assert_eq!(receipt["termination"], "peer");
}

#[test]
fn behind_haproxy_whoami_names_the_client_haproxy_saw() {
    if !on_path("haproxy") {
        return skip("haproxy not found (Debian's package `haproxy`)");
    }
    let server = Binary::start(&[
        "--listen",
        "127.0.0.1:0",
        "--whoami-listen",
        "127.0.0.1:0",
        "--proxy-protocol",
    ]);
    let whoami_addr = server.addrs[1];
    let front = SocketAddr::from(([127, 0, 0, 1], crate::haproxy::free_port()));
    let config = format!(
        "defaults\n\
         \x20   mode tcp\n\
         \x20   timeout connect 5s\n\
         \x20   timeout client 30s\n\
         \x20   timeout server 30s\n\
         frontend whoami\n\
         \x20   bind {front}\n\
         \x20   default_backend echo_reactor\n\
         backend echo_reactor\n\
         \x20   server w1 {whoami_addr} send-proxy-v2 proxy-v2-options crc32c\n"
    );
    let _haproxy = crate::haproxy::spawn_haproxy(&config, front);
    let (answer, client) = whoami(front, b"");
    assert_eq!(answer["listener"], "whoami");
    // The client as HAProxy saw it: this very socket.
    assert_eq!(answer["downstream_remote_address"], client.to_string());
    assert_eq!(answer["proxy_protocol"]["source"], client.to_string());
    assert_eq!(answer["proxy_protocol"]["destination"], front.to_string());
    assert!(
        answer["proxy_protocol"]["tlvs"]["crc32c"].is_string(),
        "{answer}"
    );
    // The kernel's peer is HAProxy's own connection.
    assert_ne!(
        answer["downstream_direct_remote_address"],
        client.to_string()
    );
}
