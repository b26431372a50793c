//! `--proxy-protocol`: the header a load balancer sends first is read in
//! any number of pieces and never echoed, whatever follows it is echoed
//! exactly, and a connection without an acceptable header is closed with
//! nothing echoed and its reason counted.

use crate::support::*;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::stats::HeaderFailure;
use echo_reactor::{Config, Stats};

const V1_TCP4: &[u8] = b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n";
const V1_TCP6: &[u8] = b"PROXY TCP6 2001:db8::1 2001:db8::2 51234 443\r\n";
const V1_UNKNOWN: &[u8] = b"PROXY UNKNOWN\r\n";
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// How long the tests give a client for its header: short, so the slow
/// client's test is quick; every other header arrives at once.
const HEADER_TIMEOUT: Duration = Duration::from_millis(300);

/// A v2 header: `command` 0 is LOCAL, 1 is PROXY; `family` 0x11 is TCP over
/// IPv4, 0x21 TCP over IPv6; `tlvs` are appended after the addresses.
fn v2(command: u8, family: u8, tlvs: &[u8]) -> Vec<u8> {
    let addresses: Vec<u8> = match family {
        0x11 => vec![192, 0, 2, 1, 198, 51, 100, 2, 0xc8, 0x22, 0x01, 0xbb],
        0x21 => {
            let mut a = vec![0x20, 0x01, 0x0d, 0xb8];
            a.resize(16, 0);
            a[15] = 1;
            let mut b = a.clone();
            b[15] = 2;
            a.extend_from_slice(&b);
            a.extend_from_slice(&[0xc8, 0x22, 0x01, 0xbb]);
            a
        }
        _ => Vec::new(),
    };
    let len = (addresses.len() + tlvs.len()) as u16;
    let mut header = V2_SIGNATURE.to_vec();
    header.extend_from_slice(&[0x20 | command, family]);
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&addresses);
    header.extend_from_slice(tlvs);
    header
}

fn server() -> InProcess {
    let mut config = Config::default();
    config.proxy_protocol = true;
    config.proxy_header_timeout = HEADER_TIMEOUT;
    InProcess::start(config)
}

/// Sends `header` in the pieces `cuts` make of it (each piece flushed on
/// its own, a moment apart), then `payload`; the echo must be exactly the
/// payload, then EOF after our half-close.
fn header_then_payload(server: &InProcess, header: &[u8], cuts: &[usize], payload: &[u8]) {
    let mut client = connect(server.addr);
    client.set_nodelay(true).unwrap();
    let mut from = 0;
    for &cut in cuts {
        client.write_all(&header[from..cut]).unwrap();
        from = cut;
        thread::sleep(Duration::from_millis(2));
    }
    let mut rest = header[from..].to_vec();
    rest.extend_from_slice(payload);
    client.write_all(&rest).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut echoed = Vec::new();
    client.read_to_end(&mut echoed).unwrap();
    assert_same_bytes(&echoed, payload);
}

#[test]
fn a_header_split_at_every_byte_position_is_dropped_and_what_follows_echoed() {
    let server = server();
    let v2_ipv4 = v2(1, 0x11, &[]);
    let headers: [&[u8]; 2] = [V1_TCP4, &v2_ipv4];
    let mut connections = 0;
    for header in headers {
        for cut in 1..header.len() {
            header_then_payload(&server, header, &[cut], b"payload after the header");
            connections += 1;
        }
    }
    // And one byte at a time.
    header_then_payload(
        &server,
        V1_TCP4,
        &(1..V1_TCP4.len()).collect::<Vec<_>>(),
        b"x",
    );
    let stats = server.wait_for_stats("every connection to close", |s| s.active == 0);
    assert_eq!(stats.proxy_accepted, connections + 1, "{stats:?}");
    assert_eq!(stats.proxy_failures(), 0, "{stats:?}");
}

#[test]
fn header_and_a_megabyte_of_payload_in_one_write_come_back_as_the_payload() {
    let server = server();
    let payload = all_byte_values(1 << 20, 3);
    for header in [V1_TCP4.to_vec(), v2(1, 0x11, &[])] {
        header_then_payload(&server, &header, &[], &payload);
    }
}

#[test]
fn v1_unknown_v2_local_ipv6_and_tlvs_are_accepted() {
    let server = server();
    // A TLV of type 0x04 (NOOP) with 3 bytes of value, which is skipped.
    let tlv = [0x04, 0x00, 0x03, 1, 2, 3];
    let headers = [
        V1_UNKNOWN.to_vec(),
        V1_TCP6.to_vec(),
        v2(0, 0x00, &[]),
        v2(1, 0x21, &[]),
        v2(1, 0x11, &tlv),
    ];
    for header in &headers {
        header_then_payload(&server, header, &[], b"hello");
    }
    let stats = server.wait_for_stats("every connection to close", |s| s.active == 0);
    assert_eq!(stats.proxy_accepted, headers.len() as u64, "{stats:?}");
}

/// Which counter a failure must raise.
type Counter = fn(&Stats) -> u64;

/// The client is closed without one byte echoed: EOF, or a reset.
fn assert_closed_silently(client: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match client.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("the server echoed {:?}", &buf[..n]),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected the server to close: {e}"),
    }
}

#[test]
fn garbage_malformed_and_too_long_headers_are_closed_with_their_reason() {
    let mut too_long_v1 = b"PROXY TCP4 ".to_vec();
    too_long_v1.resize(200, b'1');
    let mut too_long_v2 = V2_SIGNATURE.to_vec();
    too_long_v2.extend_from_slice(&[0x21, 0x11, 0x10, 0x00]); // 4,096 bytes claimed
    too_long_v2.resize(16 + 4096, 0);
    let cases: [(&str, Vec<u8>, Counter); 5] = [
        ("an HTTP request", b"GET / HTTP/1.1\r\n\r\n".to_vec(), |s| {
            s.proxy_refused[HeaderFailure::NotProxy]
        }),
        ("binary garbage", vec![0xff, 0x00, 0x13, 0x37], |s| {
            s.proxy_refused[HeaderFailure::NotProxy]
        }),
        (
            "a malformed v1 line",
            b"PROXY TCP4 999.0.0.1 198.51.100.2 1 2\r\nhello".to_vec(),
            |s| s.proxy_refused[HeaderFailure::Invalid],
        ),
        ("a v1 line over 107 bytes", too_long_v1, |s| {
            s.proxy_refused[HeaderFailure::TooLong]
        }),
        ("a v2 header over the limit", too_long_v2, |s| {
            s.proxy_refused[HeaderFailure::TooLong]
        }),
    ];
    for (what, bytes, counter) in cases {
        let server = server();
        let mut client = connect(server.addr);
        // The server may close while we still write: that is the point.
        let _ = client.write_all(&bytes);
        assert_closed_silently(&mut client);
        let stats = server.wait_for_stats(what, |s| s.active == 0);
        assert_eq!(counter(&stats), 1, "{what}: {stats:?}");
        assert_eq!(stats.proxy_failures(), 1, "{what}: {stats:?}");
        assert_eq!(
            (stats.bytes_out, stats.proxy_accepted),
            (0, 0),
            "{what}: {stats:?}"
        );
    }
}

#[test]
fn a_client_that_stalls_in_its_header_is_closed_after_the_timeout_and_others_are_served() {
    let server = server();
    let started = Instant::now();
    let mut slow = connect(server.addr);
    slow.write_all(b"PROXY TCP4 192.0.2.1").unwrap();
    let mut silent = connect(server.addr);
    // Meanwhile a well-behaved client is served.
    header_then_payload(&server, V1_TCP4, &[], b"not held up");
    assert_closed_silently(&mut slow);
    assert_closed_silently(&mut silent);
    let waited = started.elapsed();
    assert!(
        waited >= HEADER_TIMEOUT && waited < 10 * HEADER_TIMEOUT,
        "closed after {waited:?}, timeout {HEADER_TIMEOUT:?}"
    );
    let stats = server.wait_for_stats("both stalled clients to close", |s| s.active == 0);
    assert_eq!(stats.proxy_refused[HeaderFailure::Timeout], 2, "{stats:?}");
    assert_eq!(stats.proxy_accepted, 1, "{stats:?}");
}

#[test]
fn a_client_that_closes_inside_its_header_is_counted_as_closed() {
    let server = server();
    let mut client = connect(server.addr);
    client.write_all(&V1_TCP4[..10]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_closed_silently(&mut client);
    let stats = server.wait_for_stats("the client to be closed", |s| s.active == 0);
    assert_eq!(stats.proxy_refused[HeaderFailure::Closed], 1, "{stats:?}");
}
