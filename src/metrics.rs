//! `--metrics ADDR`: the counters in Prometheus's text format, and a
//! health check for load balancers.
//!
//! - `GET /metrics`: every counter of [`Stats`], named and typed as
//!   Prometheus asks (`_total` for counters, base units, labels for
//!   reasons), with `# HELP` and `# TYPE`; with several reactors, summed.
//! - `GET /healthz`: `200 ok` while serving, `503 draining` from the moment
//!   a graceful shutdown begins, so a load balancer stops sending new
//!   clients before the drain ends and the listeners go.
//! - Anything else: 404, or 405 for another method on these paths.
//!
//! The HTTP side (reading requests, bounds, timeouts) is
//! [`crate::http`]'s; this module only decides what to answer.

use std::fmt::Write as _;

use crate::http::Response;
use crate::stats::Stats;

/// The `Content-Type` of Prometheus's text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The answer to `method path`, given the counters and whether the server
/// is draining.
pub fn route(method: &str, path: &str, stats: &Stats, draining: bool) -> Response {
    let path = path.split('?').next().unwrap_or(path);
    match (method, path) {
        ("GET", "/metrics") => Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body: render(stats, draining),
        },
        ("GET", "/healthz") if draining => Response::text(503, "draining\n"),
        ("GET", "/healthz") => Response::text(200, "ok\n"),
        (_, "/metrics" | "/healthz") => Response::text(405, "only GET\n"),
        _ => Response::text(404, "not found: try /metrics or /healthz\n"),
    }
}

/// The counters in Prometheus's text exposition format.
pub fn render(stats: &Stats, draining: bool) -> String {
    let mut out = Exposition::default();
    out.counter(
        "connections_accepted_total",
        "TCP connections accepted.",
        &[("", stats.accepted)],
    );
    out.gauge(
        "connections_active",
        "TCP connections open now.",
        &[("", stats.active)],
    );
    out.gauge(
        "connections_peak",
        "Most TCP connections open at once.",
        &[("", stats.peak_active)],
    );
    out.counter(
        "connections_closed_total",
        "TCP connections closed, by reason.",
        &[
            ("reason=\"peer\"", stats.closed_by_peer),
            ("reason=\"error\"", stats.closed_by_error),
            ("reason=\"idle\"", stats.closed_idle),
            ("reason=\"shutdown\"", stats.closed_by_shutdown),
            ("reason=\"proxy_header\"", stats.proxy_failures()),
            ("reason=\"tls_handshake\"", stats.tls_handshake_failures()),
        ],
    );
    out.counter(
        "received_bytes_total",
        "Bytes read from TCP clients.",
        &[("", stats.bytes_in)],
    );
    out.counter(
        "sent_bytes_total",
        "Bytes written to TCP clients.",
        &[("", stats.bytes_out)],
    );
    out.counter(
        "backpressure_pauses_total",
        "Times a connection stopped being read because its unsent echoes reached --max-pending.",
        &[("", stats.backpressure_pauses)],
    );
    out.gauge(
        "pending_peak_bytes",
        "Most unsent echo bytes one connection held.",
        &[("", stats.peak_pending)],
    );
    out.counter(
        "accept_pauses_total",
        "Times accepting paused, by reason.",
        &[
            ("reason=\"connection_limit\"", stats.accept_limit_pauses),
            ("reason=\"out_of_resources\"", stats.accept_backoffs),
        ],
    );
    out.gauge(
        "memory_held_bytes",
        "Bytes held for clients now (pending echoes, PROXY headers), as charged to --max-memory.",
        &[("", stats.memory_in_use)],
    );
    out.gauge(
        "memory_peak_bytes",
        "Most bytes held for clients at once.",
        &[("", stats.memory_peak)],
    );
    out.counter(
        "memory_parks_total",
        "Times a connection stopped being read because the memory budget was spent.",
        &[("", stats.memory_parks)],
    );
    out.counter(
        "proxy_headers_total",
        "PROXY protocol headers, by outcome (--proxy-protocol).",
        &[
            ("result=\"accepted\"", stats.proxy_accepted),
            ("result=\"not_proxy\"", stats.proxy_not_proxy),
            ("result=\"invalid\"", stats.proxy_invalid),
            ("result=\"too_long\"", stats.proxy_too_long),
            ("result=\"timeout\"", stats.proxy_timeout),
            ("result=\"closed\"", stats.proxy_closed),
        ],
    );
    out.counter(
        "tls_handshakes_total",
        "TLS handshakes, by outcome (--tls-listen).",
        &[
            ("result=\"completed\"", stats.tls_handshakes),
            ("result=\"not_tls\"", stats.tls_failed_not_tls),
            ("result=\"invalid\"", stats.tls_failed_invalid),
            ("result=\"incompatible\"", stats.tls_failed_incompatible),
            ("result=\"alert\"", stats.tls_failed_alert),
            ("result=\"timeout\"", stats.tls_failed_timeout),
            ("result=\"closed\"", stats.tls_failed_closed),
        ],
    );
    out.counter(
        "tls_client_ends_total",
        "TLS clients' ends after the handshake: with close_notify, or truncated by a bare end of stream.",
        &[
            ("how=\"close_notify\"", stats.tls_close_notify),
            ("how=\"truncated\"", stats.tls_truncated),
        ],
    );
    out.counter(
        "udp_datagrams_received_total",
        "UDP datagrams received (--udp).",
        &[("", stats.datagrams_in)],
    );
    out.counter(
        "udp_datagrams_echoed_total",
        "UDP datagrams echoed.",
        &[("", stats.datagrams_out)],
    );
    out.counter(
        "udp_datagrams_dropped_total",
        "UDP datagrams not echoed, by reason.",
        &[
            ("reason=\"guarded_port\"", stats.udp_dropped_guarded),
            ("reason=\"send_buffer_full\"", stats.udp_dropped_would_block),
            ("reason=\"error\"", stats.udp_dropped_errors),
        ],
    );
    out.gauge(
        "slab_capacity",
        "Slots the socket slab has allocated.",
        &[("", stats.slab_capacity)],
    );
    out.gauge(
        "draining",
        "1 from the moment a graceful shutdown begins, else 0.",
        &[("", u64::from(draining))],
    );
    out.text
}

/// The text being written, one metric family at a time.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn counter(&mut self, name: &str, help: &str, samples: &[(&str, u64)]) {
        self.family(name, "counter", help, samples);
    }

    fn gauge(&mut self, name: &str, help: &str, samples: &[(&str, u64)]) {
        self.family(name, "gauge", help, samples);
    }

    /// `# HELP`, `# TYPE`, then one line per sample (`labels` empty for
    /// none).
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
        let name = format!("echo_reactor_{name}");
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            if labels.is_empty() {
                let _ = writeln!(self.text, "{name} {value}");
            } else {
                let _ = writeln!(self.text, "{name}{{{labels}}} {value}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_help_and_type_and_counters_end_in_total() {
        let text = render(&Stats::default(), false);
        let mut families = 0;
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            families += 1;
            let mut words = line.split_whitespace().skip(2);
            let (name, kind) = (words.next().unwrap(), words.next().unwrap());
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            assert_eq!(
                kind == "counter",
                name.ends_with("_total"),
                "{name} is a {kind}"
            );
        }
        assert!(families >= 15, "{families}");
    }

    #[test]
    fn health_turns_503_when_draining_and_other_paths_are_refused() {
        let stats = Stats::default();
        assert_eq!(route("GET", "/healthz", &stats, false).status, 200);
        assert_eq!(route("GET", "/healthz", &stats, true).status, 503);
        assert_eq!(route("POST", "/metrics", &stats, false).status, 405);
        assert_eq!(route("GET", "/", &stats, false).status, 404);
        assert_eq!(route("GET", "/metrics?x=1", &stats, false).status, 200);
    }
}
