//! `--banner`: each new client first gets the banner, with `{hostname}`
//! and `{local_addr}` expanded, then exact echoes; with
//! `--proxy-protocol`, the banner follows the header; the placeholders a
//! receipt answers (`{connection_id}`, `{peer}`, `{proxy_source}`, `{sni}`,
//! ...) name the connection, and over TLS `{sni}` and `{alpn}` wait for the
//! handshake.

use crate::support::*;

use std::io::Write;
use std::net::Shutdown;

use echo_reactor::Config;

const TEMPLATE: &str = "served by {hostname} at {local_addr}\n";

#[test]
fn the_banner_comes_first_expanded_then_exact_echoes() {
    let mut config = Config::default();
    config.banner = Some(TEMPLATE.to_string());
    let server = InProcess::start(config);
    // The host's name as the kernel gives it (what `uname -n` prints).
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("read /proc/sys/kernel/hostname");
    let expected = format!("served by {} at {}\n", hostname.trim_end(), server.addr);
    for _ in 0..3 {
        let mut client = connect(server.addr);
        assert_eq!(
            read_exactly(&mut client, expected.len()),
            expected.as_bytes()
        );
        let data = all_byte_values(200_000, 5);
        client.write_all(&data).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_same_bytes(&read_exactly(&mut client, data.len()), &data);
        assert_eof(&mut client);
    }
}

#[test]
fn behind_a_proxy_header_the_banner_comes_after_it_and_before_the_payload() {
    let mut config = Config::default();
    config.banner = Some("hello\n".to_string());
    config.proxy_protocol = true;
    let server = InProcess::start(config);
    let mut client = connect(server.addr);
    client
        .write_all(b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\nping")
        .unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_exactly(&mut client, 10), b"hello\nping");
    assert_eof(&mut client);
}

#[test]
fn the_banner_names_the_connection_its_peer_and_the_proxy_source() {
    let mut config = Config::default();
    config.banner = Some(
        "#{connection_id} on reactor {reactor} via {listener}: {peer} for {proxy_source}, \
         sni {sni}\n"
            .to_string(),
    );
    config.proxy_protocol = true;
    let server = InProcess::start(config);
    for id in 1..=2u64 {
        let mut client = connect(server.addr);
        client
            .write_all(b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\nping")
            .unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut client, &mut got).unwrap();
        let expected = format!(
            "#{id} on reactor 0 via {}: {} for 192.0.2.1:51234, sni -\nping",
            server.addr,
            client.local_addr().unwrap()
        );
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }
}

#[test]
fn over_tls_a_banner_that_names_sni_and_alpn_waits_for_the_handshake() {
    let cert = TestCert::new();
    let mut config = tls_config(&cert);
    config.banner = Some("sni {sni}, alpn {alpn}, peer {peer}\n".to_string());
    config.tls_alpn = vec!["echo".to_string()];
    let (_server, addr) = start_tls(config);
    let mut client_config = (*cert.client(&[])).clone();
    client_config.alpn_protocols = vec![b"echo".to_vec()];
    let client_config = std::sync::Arc::new(client_config);
    let mut tls = tls_connect(addr, &client_config);
    let peer = tls.sock.local_addr().unwrap();
    let expected = format!("sni localhost, alpn echo, peer {peer}\n");
    assert_eq!(
        tls_read_exactly(&mut tls, expected.len()),
        expected.as_bytes()
    );
    tls_echo_once(&mut tls, b"and then the echo");
}
