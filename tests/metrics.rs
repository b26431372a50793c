//! `--metrics`: `/metrics` in Prometheus's text format with exactly the
//! counters a known amount of traffic must produce (read with a Prometheus
//! text parser, and with curl), `/healthz` turning 503 when a drain begins,
//! the endpoint refusing what is not a proper request, and never a way to
//! take the loop from echo clients.

use crate::support::*;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// The binary with `--metrics` on an ephemeral port, and that port.
fn server_with_metrics(extra: &[&str]) -> (Binary, SocketAddr) {
    let mut args = vec!["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let server = Binary::start(&args);
    let addr = server.metrics_addr();
    (server, addr)
}

/// Sends `request` as it is and returns the whole answer (the server
/// closes after one).
fn raw_http(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8(answer).unwrap()
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let answer = raw_http(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    );
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// Every sample of `/metrics`, by name and labels, as the Prometheus
/// parser read it.
fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    let lines = body.lines().map(|line| Ok(line.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let mut samples = HashMap::new();
    for sample in scrape.samples {
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.sort();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            other => panic!("unexpected sample {other:?}"),
        };
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    samples
}

#[test]
fn metrics_count_exactly_the_traffic_that_went_through() {
    let (server, metrics) = server_with_metrics(&[]);
    for i in 0..3 {
        echo_all(server.addr(), &pattern(1000, i));
    }
    let _resets_nothing = connect(server.addr());
    wait_until("the counters to settle", || {
        scrape(metrics)
            .get("echo_reactor_connections_accepted_total{}")
            .is_some_and(|&v| v == 4.0)
    });
    let samples = scrape(metrics);
    let expect = |name: &str, value: f64| {
        assert_eq!(samples.get(name), Some(&value), "{name} in {samples:#?}");
    };
    expect("echo_reactor_connections_accepted_total{}", 4.0);
    expect("echo_reactor_connections_active{}", 1.0);
    expect("echo_reactor_connections_closed_total{reason=peer}", 3.0);
    expect("echo_reactor_connections_closed_total{reason=error}", 0.0);
    expect("echo_reactor_received_bytes_total{}", 3000.0);
    expect("echo_reactor_sent_bytes_total{}", 3000.0);
    expect("echo_reactor_memory_held_bytes{}", 0.0);
    expect("echo_reactor_draining{}", 0.0);
    expect("echo_reactor_proxy_headers_total{result=accepted}", 0.0);
    expect(
        "echo_reactor_udp_datagrams_dropped_total{reason=guarded_port}",
        0.0,
    );

    // And what curl, the tool people point at it, gets.
    if !on_path("curl") {
        return skip("curl not found");
    }
    let output = run_within_patience(
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-w",
                "\\n%{http_code} %{content_type}",
            ])
            .arg(format!("http://{metrics}/metrics")),
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "curl: {output:?}");
    assert!(
        text.ends_with("200 text/plain; version=0.0.4; charset=utf-8"),
        "{text}"
    );
    assert!(text.contains("# TYPE echo_reactor_connections_accepted_total counter"));
}

#[test]
fn healthz_turns_503_when_a_drain_begins_and_the_server_still_exits_0() {
    let (mut server, metrics) = server_with_metrics(&["--drain-timeout", "20"]);
    assert_eq!(get(metrics, "/healthz"), (200, "ok\n".to_string()));
    // A client that never reads keeps the drain going.
    let mut stalled = connect(server.addr());
    let sent = write_until_blocked(&mut stalled, 9);
    server.signal("TERM");
    server.wait_until_logged("stopped accepting; draining 1 connections");
    assert_eq!(get(metrics, "/healthz"), (503, "draining\n".to_string()));
    assert_eq!(scrape(metrics).get("echo_reactor_draining{}"), Some(&1.0));
    // The client catches up; the drain ends; the exit is clean.
    stalled.shutdown(Shutdown::Write).unwrap();
    assert_same_bytes(&read_exactly(&mut stalled, sent.len()), &sent);
    assert_eof(&mut stalled);
    assert!(server.wait_exit().success(), "{}", server.log_text());
}

#[test]
fn bad_paths_methods_garbage_and_oversized_requests_get_their_status() {
    let (_server, metrics) = server_with_metrics(&[]);
    assert_eq!(get(metrics, "/").0, 404);
    let post = raw_http(
        metrics,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(post.contains("Allow: GET, HEAD\r\n"), "{post}");
    let head = raw_http(metrics, b"HEAD /healthz HTTP/1.1\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200 ") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let garbage = raw_http(metrics, b"\x00\x01\x02 not http\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    huge.resize(20 * 1024, b'a');
    let mut stream = connect(metrics);
    let _ = stream.write_all(&huge); // the server may stop reading
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
}

#[test]
fn slow_and_idle_metrics_clients_are_cut_off_and_never_hold_up_echo_clients() {
    // The endpoint's bounds: requests open at once, and the time a client
    // has to send its whole request.
    const KEPT_OPEN: usize = 16;
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
    let (server, metrics) = server_with_metrics(&[]);
    // Twice as many idle connections as the endpoint keeps open, one of
    // them halfway through a request line; each is watched by a thread
    // that notes when the server closed it.
    let opened = Instant::now();
    let mut idle: Vec<TcpStream> = (0..2 * KEPT_OPEN).map(|_| connect(metrics)).collect();
    idle[0].write_all(b"GET /metr").unwrap();
    let watchers: Vec<_> = idle
        .into_iter()
        .map(|mut stream| {
            thread::spawn(move || {
                let mut rest = Vec::new();
                match stream.read_to_end(&mut rest) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                    Err(e) => panic!("an idle metrics connection was not closed: {e}"),
                }
                (opened.elapsed(), rest)
            })
        })
        .collect();
    // Echo clients are served meanwhile, as fast as ever.
    let started = Instant::now();
    for i in 0..20 {
        echo_all(server.addr(), &pattern(10_000, i));
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "echo clients were held up"
    );
    let closed: Vec<(Duration, Vec<u8>)> = watchers
        .into_iter()
        .map(|watcher| join_within("an idle metrics connection to close", watcher, PATIENCE))
        .collect();
    for (_, rest) in &closed {
        assert!(
            rest.is_empty() || rest.starts_with(b"HTTP/1.1 408 "),
            "{rest:?}"
        );
    }
    // The endpoint keeps 16: each one beyond makes room by evicting the
    // one that has waited longest, so the first 16 are cut at once, and the
    // last 16 are cut off by the request timeout: not before it, and not
    // long after.
    let (cut_off, at_once): (Vec<Duration>, Vec<Duration>) = closed
        .iter()
        .map(|(after, _)| *after)
        .partition(|after| *after >= REQUEST_TIMEOUT * 9 / 10);
    assert_eq!(
        (cut_off.len(), at_once.len()),
        (KEPT_OPEN, KEPT_OPEN),
        "closed after: {closed:?}"
    );
    for after in cut_off {
        assert!(
            after < Duration::from_secs(8),
            "an idle metrics connection was closed {after:?} after it opened; the timeout is {REQUEST_TIMEOUT:?}"
        );
    }
    // And the endpoint answers again.
    assert_eq!(get(metrics, "/healthz").0, 200);
}

#[test]
fn with_two_reactors_the_metrics_are_summed() {
    let (server, metrics) = server_with_metrics(&["--reactors", "2"]);
    for i in 0..40 {
        echo_all(server.addr(), &pattern(100, i));
    }
    wait_until("all 40 closes to be counted", || {
        scrape(metrics)
            .get("echo_reactor_connections_closed_total{reason=peer}")
            .is_some_and(|&v| v == 40.0)
    });
    let samples = scrape(metrics);
    assert_eq!(samples["echo_reactor_connections_accepted_total{}"], 40.0);
    assert_eq!(samples["echo_reactor_received_bytes_total{}"], 4000.0);
}
