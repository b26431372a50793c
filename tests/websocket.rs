//! WebSocket echo (`--ws-listen`, `--wss-listen`): the conformance cases
//! of Autobahn's testsuite, written from its published case descriptions
//! as raw frames (framing, pings and pongs, reserved bits, opcodes,
//! fragmentation, UTF-8, close handling, limits); the opening handshake's
//! answers; hostile clients, each bounded and counted while others are
//! served; and Python's `websockets` as a strict outside client, over ws
//! and wss.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use echo_reactor::stats::{UpgradeRefusal, WsClose};
use echo_reactor::{Config, Server};

use crate::support::opcode::{BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT};
use crate::support::*;

fn start() -> (InProcess, SocketAddr) {
    start_ws(Config::default())
}

/// Sends one message as a single frame and expects it back whole.
fn echo_message(client: &mut WsClient, opcode: u8, payload: &[u8]) {
    client.send(true, opcode, payload);
    let (got_opcode, got) = client.read_message();
    assert_eq!(got_opcode, opcode);
    assert_same_bytes(&got, payload);
}

// ---- Autobahn 1.x: framing. Text and binary messages of every length
// class (7-bit, 16-bit, 64-bit), whole and written in small pieces.

#[test]
fn text_and_binary_messages_of_every_length_class_come_back_as_they_went() {
    let (server, addr) = start();
    let mut client = WsClient::connect(addr);
    for len in [0, 1, 125, 126, 127, 128, 65_535, 65_536, 200_000] {
        let text: Vec<u8> = pattern(len, len as u64)
            .iter()
            .map(|b| b'a' + b % 26)
            .collect();
        echo_message(&mut client, TEXT, &text);
        echo_message(&mut client, BINARY, &all_byte_values(len, 7));
    }
    client.send(true, CLOSE, &close_payload(1000, b""));
    client.expect_close(Some(1000));
    let stats = server.wait_for_stats("the close", |s| s.active == 0);
    assert_eq!(stats.ws_upgrades, 1);
    assert_eq!(stats.ws_messages_in, 18);
    assert_eq!(stats.ws_messages_out, 18);
    assert_eq!(stats.ws_payload_in, stats.ws_payload_out);
    assert_eq!(stats.ws_closes[WsClose::Normal], 1);
    assert_eq!(stats.closed_by_peer, 1);
}

#[test]
fn a_frame_written_a_byte_at_a_time_comes_back_whole() {
    let (_server, addr) = start();
    let mut client = WsClient::connect(addr);
    client.stream.set_nodelay(true).unwrap();
    let payload = all_byte_values(300, 3);
    for byte in frame(true, BINARY, &payload) {
        client.send_raw(&[byte]);
    }
    let (opcode, got) = client.read_message();
    assert_eq!(opcode, BINARY);
    assert_same_bytes(&got, &payload);
}

// ---- Autobahn 2.x: pings and pongs.

#[test]
fn pings_are_answered_with_their_payload_and_pongs_are_ignored() {
    let (server, addr) = start();
    let mut client = WsClient::connect(addr);
    for payload in [
        &b""[..],
        b"Hello, world!",
        &[0xFE; 125],
        &all_byte_values(125, 1),
    ] {
        client.send(true, PING, payload);
        let pong = client.read_frame();
        assert_eq!((pong.fin, pong.opcode), (true, PONG));
        assert_eq!(pong.payload, payload);
    }
    // Unsolicited pongs (2.7, 2.8): no answer; the next echo comes next.
    client.send(true, PONG, b"");
    client.send(true, PONG, b"unsolicited");
    echo_message(&mut client, TEXT, b"after the pongs");
    // Ten pings in a row (2.10): ten pongs, in order.
    for i in 0..10u8 {
        client.send(true, PING, &[i]);
    }
    for i in 0..10u8 {
        assert_eq!(client.read_frame().payload, [i]);
    }
    let stats = server.wait_for_stats("the pings", |s| s.ws_pings == 14);
    assert_eq!(stats.ws_messages_in, 1);
}

#[test]
fn a_ping_over_125_bytes_is_a_protocol_error() {
    let (_server, addr) = start();
    let mut client = WsClient::connect(addr);
    client.send(true, PING, &[b'x'; 126]);
    client.expect_close(Some(1002));
}

// ---- Autobahn 3.x: reserved bits, none negotiated.

#[test]
fn each_reserved_bit_is_a_protocol_error_even_after_a_good_message() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        let (server, addr) = start();
        let mut client = WsClient::connect(addr);
        echo_message(&mut client, TEXT, b"Hello");
        client.send_raw(&frame_with(0x80 | rsv | TEXT, b"Hello", Some([1, 2, 3, 4])));
        client.expect_close(Some(1002));
        let stats = server.wait_for_stats("the close", |s| s.active == 0);
        assert_eq!(stats.ws_closes[WsClose::ProtocolError], 1, "rsv {rsv:x}");
    }
}

// ---- Autobahn 4.x: reserved opcodes.

#[test]
fn every_reserved_opcode_is_a_protocol_error() {
    for opcode in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let (_server, addr) = start();
        let mut client = WsClient::connect(addr);
        client.send(true, opcode, b"reserved");
        client.expect_close(Some(1002));
    }
}

// ---- Autobahn 5.x: fragmentation.

#[test]
fn a_fragmented_message_comes_back_whole_with_pings_between_its_fragments() {
    let (_server, addr) = start();
    let mut client = WsClient::connect(addr);
    client.send(false, TEXT, b"frag");
    client.send(true, PING, b"between");
    client.send(false, CONTINUATION, b"mented ");
    client.send(true, CONTINUATION, b"text");
    // Whatever the server's own cuts, the pong comes whole between
    // frames, and the message's frames join into the message.
    let mut message = Vec::new();
    let mut pongs = 0;
    let mut first = true;
    loop {
        let frame = client.read_frame();
        if frame.opcode == PONG {
            assert_eq!(frame.payload, b"between");
            pongs += 1;
            continue;
        }
        let expected = if first { TEXT } else { CONTINUATION };
        assert_eq!(frame.opcode, expected);
        first = false;
        message.extend_from_slice(&frame.payload);
        if frame.fin {
            break;
        }
    }
    assert_eq!(message, b"fragmented text");
    assert_eq!(pongs, 1);
    // Empty fragments (5.18-5.20's shapes) are fine too.
    client.send(false, BINARY, b"");
    client.send(false, CONTINUATION, b"x");
    client.send(true, CONTINUATION, b"");
    assert_eq!(client.read_message(), (BINARY, b"x".to_vec()));
}

#[test]
fn fragmented_control_frames_and_stray_continuations_are_protocol_errors() {
    let cases: [&[(bool, u8, &[u8])]; 4] = [
        // 5.1, 5.2: a fragmented ping, a fragmented pong.
        &[(false, PING, b"frag"), (true, CONTINUATION, b"ment")],
        &[(false, PONG, b"frag"), (true, CONTINUATION, b"ment")],
        // 5.9: a continuation with no message begun.
        &[(true, CONTINUATION, b"stray")],
        // 5.17-ish: a new message before the last one's final frame.
        &[(false, TEXT, b"one"), (true, TEXT, b"two")],
    ];
    for frames in cases {
        let (_server, addr) = start();
        let mut client = WsClient::connect(addr);
        for &(fin, opcode, payload) in frames {
            client.send(fin, opcode, payload);
        }
        // The first fragment of a data message may be echoed before the
        // error: skip data frames until the close.
        let close = loop {
            let frame = client.read_frame();
            if frame.opcode != TEXT && frame.opcode != CONTINUATION {
                break frame;
            }
        };
        assert_eq!(close.opcode, CLOSE, "{frames:?}");
        assert_eq!(close.payload[..2], 1002u16.to_be_bytes(), "{frames:?}");
    }
}

// ---- Autobahn 6.x: UTF-8 handling.

#[test]
fn valid_utf8_cut_anywhere_into_fragments_comes_back() {
    let (_server, addr) = start();
    let mut client = WsClient::connect(addr);
    let text = "Hello-µ@ßöäüàá-UTF-8!! κόσμε \u{10FFFF}".as_bytes();
    for cut in 0..=text.len() {
        client.send(false, TEXT, &text[..cut]);
        client.send(true, CONTINUATION, &text[cut..]);
        assert_eq!(client.read_message(), (TEXT, text.to_vec()), "cut at {cut}");
    }
}

#[test]
fn invalid_utf8_is_refused_with_1007_as_soon_as_it_is_seen() {
    let cases: [&[u8]; 5] = [
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        b"\xc0\xaf",
        b"\xf4\x90\x80\x80",
        b"\xed\xa0\x80",
        b"\x80",
    ];
    for case in cases {
        let (server, addr) = start();
        let mut client = WsClient::connect(addr);
        client.send(true, TEXT, case);
        client.expect_close(Some(1007));
        let stats = server.wait_for_stats("the close", |s| s.active == 0);
        assert_eq!(stats.ws_closes[WsClose::InvalidData], 1);
    }
    // Fail fast (6.4.x): the bad byte is in the first fragment, and the
    // message never ends; the close comes all the same.
    let (_server, addr) = start();
    let mut client = WsClient::connect(addr);
    client.send(false, TEXT, b"\xce\xba\xf4\x90");
    client.expect_close(Some(1007));
    // A code point cut at the message's end (6.3.x).
    let (_server, addr) = start();
    let mut client = WsClient::connect(addr);
    client.send(false, TEXT, b"ok \xe2\x82");
    let first = client.read_frame();
    assert_eq!((first.opcode, first.fin), (TEXT, false));
    client.send(true, CONTINUATION, b"");
    client.expect_close(Some(1007));
}

// ---- Autobahn 7.x: close handling.

#[test]
fn a_close_is_answered_with_the_peers_code_and_the_server_ends_the_connection() {
    let (server, addr) = start();
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let mut client = WsClient::connect(addr);
        client.send(true, CLOSE, &close_payload(code, b"reason \xce\xba"));
        client.expect_close(Some(code));
    }
    // No code: an empty close comes back (7.3.1).
    let mut client = WsClient::connect(addr);
    client.send(true, CLOSE, b"");
    client.expect_close(None);
    let stats = server.wait_for_stats("every close", |s| s.active == 0);
    assert_eq!(stats.ws_closes[WsClose::NoCode], 1);
    assert_eq!(stats.ws_closes[WsClose::Other], 8);
}

#[test]
fn frames_after_a_close_are_ignored() {
    let (_server, addr) = start();
    let mut client = WsClient::connect(addr);
    let mut both = frame(true, CLOSE, &close_payload(1000, b""));
    both.extend_from_slice(&frame(true, TEXT, b"too late"));
    both.extend_from_slice(&frame(true, PING, b"too late"));
    client.send_raw(&both);
    client.expect_close(Some(1000));
}

#[test]
fn malformed_close_frames_are_refused() {
    let cases: [(&[u8], u16); 9] = [
        (b"\x03", 1002),
        (&close_payload(0, b""), 1002),
        (&close_payload(999, b""), 1002),
        (&close_payload(1004, b""), 1002),
        (&close_payload(1005, b""), 1002),
        (&close_payload(1006, b""), 1002),
        (&close_payload(1015, b""), 1002),
        (&close_payload(5000, b""), 1002),
        (&close_payload(1000, b"\xce\xba\xf4\x90"), 1007),
    ];
    for (payload, expected) in cases {
        let (_server, addr) = start();
        let mut client = WsClient::connect(addr);
        client.send(true, CLOSE, payload);
        client.expect_close(Some(expected));
    }
}

// ---- Autobahn 9.x: limits. The echo keeps no message whole, so a large
// one streams through; one over --ws-max-message is refused at its header.

#[test]
fn a_large_message_streams_through_and_one_over_the_limit_is_refused_at_its_header() {
    let mut config = Config::default();
    config.ws_max_message = 4 << 20;
    let (server, addr) = start_ws(config);
    let mut client = WsClient::connect(addr);
    let payload = all_byte_values(4 << 20, 9);
    let mut writer = client.stream.try_clone().unwrap();
    let message = frame(true, BINARY, &payload);
    let sender = thread::spawn(move || writer.write_all(&message).unwrap());
    let (opcode, got) = client.read_message();
    sender.join().unwrap();
    assert_eq!(opcode, BINARY);
    assert_same_bytes(&got, &payload);
    // One byte over, in fragments: refused when the fragment that crosses
    // the limit announces its length, before its payload is read.
    client.send(false, BINARY, &payload[..1 << 20]);
    let mut header = frame(true, CONTINUATION, &[]);
    header[1] = 0x80 | 127;
    header.splice(2..2, (3u64 << 20 | 1).to_be_bytes());
    client.send_raw(&header);
    let close = loop {
        let frame = client.read_frame();
        if frame.opcode == CLOSE {
            break frame;
        }
    };
    assert_eq!(close.payload, 1009u16.to_be_bytes());
    assert_eof(&mut client.stream);
    client.stream.shutdown(Shutdown::Write).unwrap();
    let stats = server.wait_for_stats("the close", |s| s.active == 0);
    assert_eq!(stats.ws_closes[WsClose::TooBig], 1);
    assert!(stats.memory_peak < 1 << 20, "{}", stats.memory_peak);
}

#[test]
fn a_frame_header_claiming_2_pow_63_bytes_is_refused_at_its_first_length_byte() {
    let (server, addr) = start();
    let mut client = WsClient::connect(addr);
    // The length's first byte has its top bit set; nothing more is sent.
    client.send_raw(&[0x82, 0xFF, 0x80]);
    client.expect_close(Some(1002));
    // 2^63 - 1 is a legal length, over any limit: 1009.
    let mut client = WsClient::connect(addr);
    client.send_raw(&[
        0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
    ]);
    client.expect_close(Some(1009));
    let stats = server.wait_for_stats("both closes", |s| s.active == 0);
    assert_eq!(stats.ws_closes[WsClose::ProtocolError], 1);
    assert_eq!(stats.ws_closes[WsClose::TooBig], 1);
}

#[test]
fn unmasked_client_frames_are_refused() {
    let (_server, addr) = start();
    let mut client = WsClient::connect(addr);
    client.send_raw(&frame_with(0x81, b"unmasked", None));
    client.expect_close(Some(1002));
}

// ---- The opening handshake.

/// Sends `request` to a WebSocket listener; answers the head of the answer
/// and checks the server then ends the connection.
fn answer_to(addr: SocketAddr, request: &str) -> String {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    let head = read_http_head(&mut stream);
    let mut body = Vec::new();
    stream
        .read_to_end(&mut body)
        .expect("the end of the answer");
    head
}

#[test]
fn bad_or_plain_requests_get_their_status_and_a_close() {
    let (server, addr) = start();
    let upgrade = upgrade_request("/");
    let cases = [
        (upgrade.replace("Version: 13", "Version: 8"), "426"),
        (upgrade.replace(KEY, "not-a-key"), "400"),
        (
            upgrade.replace("Connection: Upgrade", "Connection: keep-alive"),
            "400",
        ),
        (upgrade.replace("GET", "POST"), "405"),
        (
            "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            "404",
        ),
        ("\x16\x03\x01\x02\x00garbage\r\n\r\n".to_string(), "400"),
        (
            format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "x".repeat(9000)),
            "431",
        ),
    ];
    for (request, status) in &cases {
        let head = answer_to(addr, request);
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(head.contains("Connection: close\r\n"), "{head}");
        if *status == "426" {
            assert!(head.contains("Sec-WebSocket-Version: 13\r\n"), "{head}");
        }
    }
    let stats = server.wait_for_stats("every refusal", |s| s.active == 0);
    assert_eq!(stats.ws_refused[UpgradeRefusal::Version], 1);
    assert_eq!(stats.ws_refused[UpgradeRefusal::BadRequest], 3);
    assert_eq!(stats.ws_refused[UpgradeRefusal::MethodNotAllowed], 1);
    assert_eq!(stats.ws_refused[UpgradeRefusal::NotFound], 1);
    assert_eq!(stats.ws_refused[UpgradeRefusal::TooLarge], 1);
    assert_eq!(stats.ws_upgrades, 0);
    assert_eq!(stats.closed(), cases.len() as u64);
}

#[test]
fn a_plain_get_of_the_root_serves_the_page_that_connects_back() {
    let (server, addr) = start();
    let mut stream = connect(addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Content-Type: text/html; charset=utf-8\r\n"));
    assert!(answer.contains("new WebSocket("), "{answer}");
    // Self-contained: no outside script, style or font.
    for outside in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!answer.contains(outside), "{outside}");
    }
    let stats = server.wait_for_stats("the page", |s| s.active == 0);
    assert_eq!(stats.ws_pages, 1);
}

// ---- Hostile clients: each bounded and counted, others served.

#[test]
fn a_slow_upgrade_is_served_and_one_that_never_finishes_is_timed_out() {
    let (server, addr) = start();
    // Never finishes: half a request, then nothing.
    let mut stuck = connect(addr);
    stuck.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Slow: a byte every 5 ms, whole well within the 5 s.
    let mut slow = connect(addr);
    slow.set_nodelay(true).unwrap();
    for byte in upgrade_request("/").bytes() {
        slow.write_all(&[byte]).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    let head = read_http_head(&mut slow);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    // Others are served meanwhile.
    let mut other = WsClient::connect(addr);
    echo_message(&mut other, TEXT, b"not held up");
    let started = Instant::now();
    let head = read_http_head(&mut stuck);
    assert!(head.starts_with("HTTP/1.1 408 "), "{head}");
    assert!(started.elapsed() < Duration::from_secs(6));
    let stats = server.wait_for_stats("the timeout", |s| {
        s.ws_refused[UpgradeRefusal::Timeout] == 1
    });
    assert_eq!(stats.ws_upgrades, 2);
}

#[test]
fn garbage_after_the_upgrade_is_a_protocol_error_and_others_are_served() {
    let (server, addr) = start();
    let mut other = WsClient::connect(addr);
    let mut client = WsClient::connect(addr);
    client.send_raw(b"GET / HTTP/1.1\r\n\r\n");
    client.expect_close(Some(1002));
    echo_message(&mut other, BINARY, b"still served");
    let stats = server.wait_for_stats("the close", |s| s.active == 1);
    assert_eq!(stats.ws_closes[WsClose::ProtocolError], 1);
}

#[test]
fn a_client_that_never_reads_stalls_itself_within_max_pending_and_others_are_served() {
    let mut config = Config::default();
    config.max_pending = 64 * 1024;
    let (server, addr) = start_ws(config);
    let mut hog = WsClient::connect(addr);
    hog.stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let message = frame(true, BINARY, &[7u8; 16 * 1024]);
    // Write until the server stops reading and every queue is full.
    write_until_quiet("a client that never reads", || {
        hog.stream.write_all(&message)
    });
    let stats = server.wait_for_stats("the pause", |s| s.backpressure_pauses >= 1);
    assert!(
        stats.peak_pending <= 64 * 1024 + 32 * 1024,
        "{}",
        stats.peak_pending
    );
    let mut other = WsClient::connect(addr);
    echo_message(&mut other, TEXT, b"served all the same");
    assert!(server.stats().memory_in_use < 256 * 1024);
    drop(hog);
}

#[test]
fn shutdown_sends_going_away_to_open_sessions() {
    let (server, addr) = start();
    let mut client = WsClient::connect(addr);
    echo_message(&mut client, TEXT, b"before");
    server.handle.stop();
    let close = client.read_frame();
    assert_eq!(close.opcode, CLOSE);
    assert_eq!(close.payload, 1001u16.to_be_bytes());
    client.send(true, CLOSE, &close_payload(1001, b""));
    let stats = server.join();
    assert_eq!(stats.ws_closes[WsClose::GoingAway], 1);
}

#[test]
fn an_idle_session_is_closed_by_the_idle_timeout_and_holds_no_buffer() {
    let mut config = Config::default();
    config.idle_timeout = Some(Duration::from_millis(300));
    let (server, addr) = start_ws(config);
    let mut client = WsClient::connect(addr);
    echo_message(&mut client, TEXT, b"then idle");
    let held = server.stats().memory_in_use;
    assert!(held < 512, "an idle session holds {held} B");
    let mut rest = Vec::new();
    let _ = client.stream.read_to_end(&mut rest);
    let stats = server.wait_for_stats("the idle close", |s| s.active == 0);
    assert_eq!(stats.closed_idle, 1);
}

#[test]
fn the_proxy_protocol_header_comes_before_the_upgrade() {
    let mut config = Config::default();
    config.proxy_protocol = true;
    let (server, addr) = start_ws(config);
    let mut stream = connect(addr);
    let mut first = b"PROXY TCP4 192.0.2.1 192.0.2.2 40000 80\r\n".to_vec();
    first.extend_from_slice(upgrade_request("/").as_bytes());
    first.extend_from_slice(&frame(true, TEXT, b"with the header"));
    stream.write_all(&first).unwrap();
    let head = read_http_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let mut client = WsClient { stream };
    assert_eq!(client.read_message(), (TEXT, b"with the header".to_vec()));
    assert_eq!(server.stats().proxy_accepted, 1);
    client.stream.shutdown(Shutdown::Write).unwrap();
}

// ---- Python's websockets, a strict client, over ws and wss.

/// Runs `body` (Python, indented as the body of `async def main(url,
/// ctx)`) with `websockets` against `url`; answers what it printed.
fn python_websockets(url: &str, ca: Option<&std::path::Path>, body: &str) -> Option<String> {
    if !on_path("python3") {
        skip("python3 not found");
        return None;
    }
    let probe = run_within_patience(Command::new("python3").args(["-c", "import websockets"]));
    if !probe.status.success() {
        skip("Python's websockets library is not installed (pip install websockets)");
        return None;
    }
    let ctx = match ca {
        Some(ca) => format!(
            "ssl.create_default_context(cafile={:?})",
            ca.display().to_string()
        ),
        None => "None".to_string(),
    };
    let script = format!(
        "import asyncio, os, ssl, websockets\n\
         async def main(url, ctx):\n{body}\n\
         asyncio.run(main({url:?}, {ctx}))\n"
    );
    let output = run_within_patience(Command::new("python3").args(["-c", &script]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

const PYTHON_CASES: &str = "
    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        await ws.send('Hello, κόσμε')
        print(await ws.recv() == 'Hello, κόσμε')
        await ws.send(b'\\x00\\x01\\xff')
        print(await ws.recv() == b'\\x00\\x01\\xff')
        await ws.send(['frag', 'mented ', 'µ'])
        print(await ws.recv() == 'fragmented µ')
        await (await ws.ping(b'are you there'))
        print(True)
        big = os.urandom(3 << 20)
        await ws.send(big)
        print(await ws.recv() == big)
        await ws.close(code=4001, reason='bye')
        print(ws.close_code == 4001)
    ws = await websockets.connect(url, ssl=ctx, max_size=None)
    try:
        await ws.send(b'x' * ((4 << 20) + 1))
        await ws.recv()
    except websockets.ConnectionClosed as e:
        print(e.rcvd.code == 1009)
";

#[test]
fn pythons_websockets_gets_every_message_back_over_ws() {
    let mut config = Config::default();
    config.ws_max_message = 4 << 20;
    let (server, addr) = start_ws(config);
    let Some(printed) = python_websockets(&format!("ws://{addr}/"), None, PYTHON_CASES) else {
        return;
    };
    assert_eq!(printed, "True\n".repeat(7));
    let stats = server.wait_for_stats("python to close", |s| s.active == 0);
    assert_eq!(stats.ws_upgrades, 2);
    assert_eq!(stats.ws_closes[WsClose::Other], 1);
    assert_eq!(stats.ws_closes[WsClose::TooBig], 1);
}

#[test]
fn pythons_websockets_gets_every_message_back_over_wss() {
    let cert = TestCert::new();
    let mut config = Config::default();
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.wss_listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.tls_identity = Some(cert.identity());
    config.ws_max_message = 4 << 20;
    let server = Server::bind(config).expect("bind the server");
    let port = server.ws_addrs()[0].port();
    let server = InProcess::run(server);
    let scratch = Scratch::new("wss-python");
    let ca = scratch.join("ca.pem");
    cert.write_cert(&ca);
    let url = format!("wss://localhost:{port}/");
    let Some(printed) = python_websockets(&url, Some(&ca), PYTHON_CASES) else {
        return;
    };
    assert_eq!(printed, "True\n".repeat(7));
    let stats = server.wait_for_stats("python to close", |s| s.active == 0);
    assert_eq!(stats.tls_handshakes, 2);
    assert_eq!(stats.ws_upgrades, 2);
    assert_eq!(stats.ws_closes[WsClose::TooBig], 1);
}

// ---- A real browser: Debian's Chromium, headless, driven by
// playwright-core through the page's own controls.

/// Where playwright-core is installed: `ECHO_REACTOR_NODE_MODULES`, or
/// `target/npm/node_modules` in the repository, where `.ci/run` puts it.
fn playwright_modules() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("ECHO_REACTOR_NODE_MODULES") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/npm/node_modules"),
    };
    dir.join("playwright-core").is_dir().then_some(dir)
}

#[test]
fn chromium_types_into_the_page_and_sees_each_echo_with_its_round_trip_time() {
    let chromium = std::env::var("ECHO_REACTOR_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).is_file() || !on_path("node") {
        return skip("chromium or node not found (apt-get install chromium nodejs)");
    }
    let Some(modules) = playwright_modules() else {
        return skip("playwright-core not found (npm install --prefix target/npm playwright-core)");
    };
    let (server, addr) = start();
    let scratch = Scratch::new("websocket-browser");
    let screenshot = scratch.join("page.png");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/websocket_page.cjs");
    let output = run_within(
        Command::new("node")
            .arg(&script)
            .arg(addr.to_string())
            .arg(&screenshot)
            .arg(scratch.join("profile"))
            .env("NODE_PATH", &modules)
            .env("ECHO_REACTOR_CHROMIUM", &chromium),
        Duration::from_secs(90),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains(r#"{"text":"Hello from Chromium","rtt":""#),
        "{printed}"
    );
    assert!(printed.contains("κόσμε, and a second echo"), "{printed}");
    assert!(
        printed.contains(r#""outside":[]"#),
        "the page fetched from elsewhere: {printed}"
    );
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let stats = server.wait_for_stats("the browser to leave", |s| s.active == 0);
    assert_eq!(stats.ws_pages, 1);
    assert_eq!(stats.ws_upgrades, 1);
    assert_eq!(stats.ws_messages_in, 2);
}

// ---- websocat, from the command line as a person would use it.

#[test]
fn websocat_on_the_command_line_gets_each_line_back() {
    if !on_path("websocat") {
        return skip("websocat not found (cargo install websocat)");
    }
    let (server, addr) = start();
    let mut child = Command::new("websocat")
        .arg(format!("ws://{addr}/"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start websocat");
    child
        .stdin
        .take()
        .unwrap()
        .write_all("hello\nκόσμε\nlast line\n".as_bytes())
        .unwrap();
    // stdin closed: websocat sends its close frame once the echoes are in.
    let output = within_patience("websocat", move || child.wait_with_output().unwrap());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hello\nκόσμε\nlast line\n"
    );
    let stats = server.wait_for_stats("websocat to close", |s| s.active == 0);
    assert_eq!(stats.ws_messages_in, 3);
    assert_eq!(stats.ws_closes.total(), 1);
}

// ---- echo-loadgen speaks WebSocket in its TCP modes.

#[test]
fn echo_loadgen_speaks_websocket_in_pingpong_pipeline_bulk_and_churn_with_every_byte_checked() {
    let (server, addr) = start();
    let target = addr.to_string();
    let runs: [&[&str]; 4] = [
        &["--mode", "pingpong", "--connections", "4"],
        &["--mode", "pipeline", "--connections", "4", "--depth", "8"],
        &["--mode", "bulk", "--bytes", "8MiB"],
        &["--mode", "churn", "--connections", "2"],
    ];
    for mode in runs {
        let mut args = vec!["--target", &target, "--websocket", "--json"];
        args.extend_from_slice(mode);
        if mode[1] != "bulk" {
            args.extend_from_slice(&["--duration", "0.5", "--warmup", "0"]);
        }
        let output =
            run_within_patience(Command::new(env!("CARGO_BIN_EXE_echo-loadgen")).args(&args));
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{args:?}: {printed}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(printed.contains(r#""errors":0,"#), "{args:?}: {printed}");
    }
    let stats = server.wait_for_stats("every run to end", |s| s.active == 0);
    // Every churn lifecycle is an upgrade and a closing handshake.
    assert!(stats.ws_upgrades > 9, "{}", stats.ws_upgrades);
    assert!(stats.ws_closes[WsClose::Normal] > 0);
    assert_eq!(stats.ws_closes[WsClose::ProtocolError], 0);
    assert_eq!(stats.ws_payload_in, stats.ws_payload_out);
}

#[test]
fn over_tls_shutdown_sends_going_away_then_close_notify() {
    let cert = TestCert::new();
    let mut config = Config::default();
    config.listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.wss_listen = vec!["127.0.0.1:0".parse().unwrap()];
    config.tls_identity = Some(cert.identity());
    let server = Server::bind(config).expect("bind the server");
    let addr = server.ws_addrs()[0];
    let server = InProcess::run(server);
    let mut client = tls_connect(addr, &cert.client(&[]));
    client.write_all(upgrade_request("/").as_bytes()).unwrap();
    client.flush().unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    client.write_all(&frame(true, TEXT, b"over tls")).unwrap();
    client.flush().unwrap();
    assert_eq!(tls_read_exactly(&mut client, 10), b"\x81\x08over tls");
    server.handle.stop();
    assert_eq!(tls_read_exactly(&mut client, 4), [0x88, 2, 0x03, 0xE9]);
    // Then the server's close_notify: the end of the stream.
    assert_eq!(tls_read_to_end(&mut client).unwrap(), b"");
    drop(client);
    let stats = server.join();
    assert_eq!(stats.ws_closes[WsClose::GoingAway], 1);
}

#[test]
fn clients_that_never_read_are_held_near_max_memory_and_others_are_served() {
    let mut config = Config::default();
    config.max_pending = 64 * 1024;
    config.max_memory = Some(128 * 1024);
    let (server, addr) = start_ws(config);
    let message = frame(true, BINARY, &[9u8; 8 * 1024]);
    // Past the budget, each connection may still leave one small read's
    // answers pending (4 KiB and a frame header or two) and hold itself,
    // never more: so with `n` connections held, no more than this.
    let bound = |n: u64| 128 * 1024 + n * (4 * 1024 + 1024);
    let hogs: Vec<WsClient> = (1..=8)
        .map(|n| {
            let mut hog = WsClient::connect(addr);
            hog.stream
                .set_write_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            write_until_quiet("a client that never reads", || {
                hog.stream.write_all(&message)
            });
            // Checked as each one fills up: a connection that read many
            // times in one turn once took far more than the budget had left.
            let held = server.stats().memory_in_use;
            assert!(held <= bound(n), "{n} connections: {held} > {}", bound(n));
            hog
        })
        .collect();
    let stats = server.stats();
    let bound = bound(8);
    assert!(
        stats.memory_peak <= bound,
        "{} > {bound}",
        stats.memory_peak
    );
    let mut other = WsClient::connect(addr);
    echo_message(&mut other, TEXT, b"served within the budget");
    drop(hogs);
}
