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
//! The HTTP side (reading requests, bounds, timeouts, who gets a slot) is
//! [`crate::http`]'s; this module decides what to answer, and is where a
//! request meets the loop (its [`Stage`]).

use std::fmt::Write as _;

use crate::faults;
use crate::http::{HttpConn, HttpProgress, HttpRequest, Response};
use crate::serve::{CloseReason, Context, Next, Ready, Role, Stage};
use crate::stats::{self, Family, RequestCut, Stats, COUNTERS};

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

/// The counters in Prometheus's text exposition format: each family of
/// [`Stats`] as its counters declare it (see [`crate::stats`]),
/// then whether the server is draining.
pub fn render(stats: &Stats, draining: bool) -> String {
    let mut out = Exposition::default();
    let values = stats.values();
    for family in stats::families() {
        out.family(&family);
        for (counter, values) in COUNTERS.iter().zip(values) {
            let metric = &counter.metric;
            if metric.family == family {
                match counter.reasons {
                    [] => out.sample(&family, metric.label.name, metric.label.value, values[0]),
                    reasons => {
                        for (names, value) in reasons.iter().zip(values) {
                            out.sample(&family, metric.label.name, names.label, *value);
                        }
                    }
                }
            }
            if let Some((total_family, label)) = &metric.total {
                if *total_family == family {
                    out.sample(&family, label.name, label.value, values.iter().sum());
                }
            }
        }
    }
    out.family(&DRAINING);
    out.sample(&DRAINING, "", "", u64::from(draining));
    out.text
}

/// Not a counter of [`Stats`]: the server's state, for load balancers.
const DRAINING: Family = Family::gauge(
    "draining",
    "1 from the moment a graceful shutdown begins, else 0.",
);

/// The text being written, one metric family at a time.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// A family's `# HELP` and `# TYPE`.
    fn family(&mut self, family: &Family) {
        let name = family.name;
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "# HELP {PREFIX}{name} {}", family.help);
        let _ = writeln!(self.text, "# TYPE {PREFIX}{name} {}", family.kind.name());
    }

    /// One sample of `family`, labelled `label="value"` (`label` empty for
    /// none).
    fn sample(&mut self, family: &Family, label: &str, value: &str, count: u64) {
        let name = family.name;
        if label.is_empty() {
            let _ = writeln!(self.text, "{PREFIX}{name} {count}");
        } else {
            let _ = writeln!(self.text, "{PREFIX}{name}{{{label}=\"{value}\"}} {count}");
        }
    }
}

/// Every metric's name starts with it.
const PREFIX: &str = "echo_reactor_";

/// A request to the metrics endpoint, as the loop sees it: read, routed
/// here, answered, closed.
impl Stage for HttpConn {
    fn serve(&mut self, _ready: Ready, cx: &mut Context) -> Next {
        let stats = cx.snapshot();
        let draining = cx.draining;
        let fault_rows = &cx.fault_rows;
        let answer = |request: &HttpRequest| {
            let mut response = route(request.method, request.path, &stats, draining);
            if response.content_type == CONTENT_TYPE {
                // By listener: named at run time, so not a family of Stats.
                faults::counts::render(fault_rows, &mut response.body);
            }
            response
        };
        match HttpConn::serve(self, &mut cx.scratch[..], answer) {
            HttpProgress::Waiting => Next::Wait,
            HttpProgress::Finished => Next::Close(CloseReason::Answered),
        }
    }

    fn role(&self) -> Role {
        Role::Request
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        self.stream_mut()
    }

    fn time_out(&mut self) -> CloseReason {
        self.answer_timeout();
        CloseReason::Cut(RequestCut::Timeout)
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
    fn families_come_in_their_usual_order_with_a_sample_per_reason_and_totals() {
        let mut stats = Stats {
            closed_by_peer: 3,
            ..Stats::default()
        };
        stats.proxy_refused[crate::proxy_protocol::HeaderFailure::TooLong] = 2;
        stats.tls_failed[crate::tls::HandshakeFailure::Alert] = 5;
        let text = render(&stats, true);
        let types: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE echo_reactor_"))
            .collect();
        assert_eq!(
            types,
            [
                "connections_accepted_total counter",
                "connections_active gauge",
                "connections_peak gauge",
                "connections_closed_total counter",
                "received_bytes_total counter",
                "sent_bytes_total counter",
                "backpressure_pauses_total counter",
                "pending_peak_bytes gauge",
                "accept_pauses_total counter",
                "memory_held_bytes gauge",
                "memory_peak_bytes gauge",
                "memory_parks_total counter",
                "proxy_headers_total counter",
                "tls_handshakes_total counter",
                "tls_client_ends_total counter",
                "udp_datagrams_received_total counter",
                "udp_datagrams_echoed_total counter",
                "udp_datagrams_dropped_total counter",
                "slab_capacity gauge",
                "http_connections_cut_total counter",
                "access_log_lines_total counter",
                "faults_applied_total counter",
                "websocket_upgrades_total counter",
                "websocket_pages_total counter",
                "websocket_messages_total counter",
                "websocket_payload_bytes_total counter",
                "websocket_pings_total counter",
                "websocket_closes_total counter",
                "draining gauge",
            ]
        );
        let closed: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("echo_reactor_connections_closed_total{"))
            .collect();
        assert_eq!(
            closed,
            [
                "echo_reactor_connections_closed_total{reason=\"peer\"} 3",
                "echo_reactor_connections_closed_total{reason=\"error\"} 0",
                "echo_reactor_connections_closed_total{reason=\"idle\"} 0",
                "echo_reactor_connections_closed_total{reason=\"shutdown\"} 0",
                "echo_reactor_connections_closed_total{reason=\"proxy_header\"} 2",
                "echo_reactor_connections_closed_total{reason=\"tls_handshake\"} 5",
                "echo_reactor_connections_closed_total{reason=\"fault\"} 0",
                "echo_reactor_connections_closed_total{reason=\"ws_upgrade\"} 0",
            ]
        );
        assert!(text.contains("\necho_reactor_proxy_headers_total{result=\"too_long\"} 2\n"));
        assert!(text.contains("\necho_reactor_tls_handshakes_total{result=\"alert\"} 5\n"));
        assert!(text.ends_with("\necho_reactor_draining 1\n"));
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
