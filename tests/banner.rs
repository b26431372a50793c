//! `--banner`: each new client first gets the banner, with `{hostname}`
//! and `{local_addr}` expanded, then exact echoes; with
//! `--proxy-protocol`, the banner follows the header.

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
