//! A connection's receipt: what reached the server, as one JSON object.
//!
//! Behind a load balancer or a mesh the question asked of an echo target
//! is "what reached you?": which address the kernel saw and which one a
//! PROXY header spoke for, which TLS name, protocol and client
//! certificate, how many bytes, how it ended, and how the path looked to
//! TCP. A [`Receipt`] gathers that for one connection while it lives, and
//! [`Receipt::to_json`] renders it: at the close, for the access log
//! (`--access-log`, [`crate::access_log`]), or at once, as the whoami
//! listener's answer.
//!
//! Nothing here runs unless a receipt is wanted: with no access log and
//! no whoami listener, plain connections keep their 16-byte slot and the
//! echo path never looks at a receipt (the reactor keeps one only for
//! connections that need it, in a wrapper of their slab entry).
//!
//! The field names follow Envoy's access log where it has a name for the
//! same fact (`downstream_remote_address` is the client as best known,
//! from a PROXY header when one came, `downstream_direct_remote_address`
//! the kernel's peer, `bytes_received`, `requested_server_name`,
//! `connection_termination_details`, ...), and the kernel's own names for
//! `TCP_INFO`'s fields, as HAProxy's `fc_rtt`/`fc_rttvar` do. The README
//! lists them all.

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::serve::{CloseReason, ListenerKind};
use crate::stats::Reason;

pub(crate) use crate::tcp_info::TcpInfo;

/// Connection ids, shared by the reactors of one server: each id names one
/// connection, whichever reactor took it. Drawn only for connections that
/// need one (a receipt, or a banner that shows it).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionIds(Arc<AtomicU64>);

impl ConnectionIds {
    /// The next id: 1, 2, 3, ...
    pub(crate) fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Any two sources of ids compare equal: they are not configuration.
impl PartialEq for ConnectionIds {
    fn eq(&self, _: &ConnectionIds) -> bool {
        true
    }
}

impl Eq for ConnectionIds {}

/// What a PROXY protocol header said (`--proxy-protocol`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProxySeen {
    /// 1 or 2.
    pub(crate) version: u8,
    /// A v2 `LOCAL` header: the balancer's own connection.
    pub(crate) local: bool,
    /// The source and destination it names, if any.
    pub(crate) addresses: Option<(SocketAddr, SocketAddr)>,
    /// A v2 header's TLVs, decoded.
    pub(crate) tlvs: Option<Value>,
}

/// What a TLS session settled on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsSeen {
    /// `TLSv1_3`, `TLSv1_2`.
    pub(crate) version: Option<String>,
    /// The cipher suite's IANA name.
    pub(crate) cipher: Option<String>,
    /// The name the client asked for (SNI).
    pub(crate) sni: Option<String>,
    /// The protocol agreed by ALPN.
    pub(crate) alpn: Option<String>,
    /// The client certificate's subject (RFC 4514).
    pub(crate) peer_subject: Option<String>,
    /// The client certificate's SHA-256, in hexadecimal.
    pub(crate) peer_fingerprint_256: Option<String>,
}

/// The fault listener a connection came through (`--fault-listen`), and
/// the toxics it drew.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FaultsSeen {
    /// The listener's name (a proxy's, in toxiproxy's words).
    pub(crate) listener: String,
    /// The toxics it drew, by name; empty: none, a plain echo.
    pub(crate) drawn: Vec<String>,
}

/// One connection's receipt, filled in as it goes.
#[derive(Debug)]
pub(crate) struct Receipt {
    /// Its id (see [`ConnectionIds`]).
    pub(crate) id: u64,
    /// The kind of listener it came through.
    pub(crate) via: ListenerKind,
    /// The address of that listener.
    pub(crate) listener: SocketAddr,
    /// The reactor serving it (0 for a single-reactor server).
    pub(crate) reactor: usize,
    /// When it was accepted, by the wall clock.
    pub(crate) started: SystemTime,
    /// The same moment, by the monotonic clock, for its duration.
    pub(crate) started_at: Instant,
    /// Its socket, for `TCP_INFO` at the close (the descriptor stays the
    /// same from stage to stage).
    pub(crate) socket: RawFd,
    /// The kernel's peer.
    pub(crate) peer: SocketAddr,
    /// The kernel's local address (the one the client reached).
    pub(crate) local: Option<SocketAddr>,
    /// Its PROXY header, when one came.
    pub(crate) proxy: Option<Box<ProxySeen>>,
    /// Its TLS session, on a TLS listener, once known.
    pub(crate) tls: Option<Box<TlsSeen>>,
    /// On a fault listener: its name and the faults the connection drew.
    pub(crate) faults: Option<Box<FaultsSeen>>,
    /// Bytes of the client's read (after any PROXY header; plaintext for
    /// TLS).
    pub(crate) bytes_received: u64,
    /// Bytes written to the client (plaintext for TLS).
    pub(crate) bytes_sent: u64,
}

/// How a connection ended, for its receipt.
pub(crate) struct Ending<'a> {
    /// Why it closed.
    pub(crate) reason: &'a CloseReason,
    /// `TCP_INFO` read just before the close.
    pub(crate) tcp_info: Option<TcpInfo>,
}

impl Receipt {
    /// The client as best known: the PROXY header's source, else the
    /// kernel's peer.
    pub(crate) fn client(&self) -> SocketAddr {
        self.proxy_addresses()
            .map_or(self.peer, |(source, _)| source)
    }

    fn proxy_addresses(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.proxy.as_ref().and_then(|proxy| proxy.addresses)
    }

    /// The receipt as JSON: as far as known `now`, or, with `ending`, the
    /// whole of it.
    pub(crate) fn to_json(&self, now: Instant, ending: Option<Ending<'_>>) -> Value {
        let mut out = Map::new();
        out.insert("connection_id".into(), json!(self.id));
        out.insert("listener".into(), json!(listener_name(self.via)));
        out.insert("listener_address".into(), json!(self.listener.to_string()));
        out.insert("reactor".into(), json!(self.reactor));
        out.insert("start_time".into(), json!(rfc3339(self.started)));
        let duration = now.saturating_duration_since(self.started_at);
        out.insert(
            "duration_ms".into(),
            json!((duration.as_secs_f64() * 1e6).round() / 1e3),
        );
        out.insert(
            "downstream_remote_address".into(),
            json!(self.client().to_string()),
        );
        out.insert(
            "downstream_direct_remote_address".into(),
            json!(self.peer.to_string()),
        );
        let local = self.proxy_addresses().map(|(_, destination)| destination);
        out.insert(
            "downstream_local_address".into(),
            json!(local.or(self.local).map(|a| a.to_string())),
        );
        out.insert(
            "downstream_direct_local_address".into(),
            json!(self.local.map(|a| a.to_string())),
        );
        out.insert(
            "proxy_protocol".into(),
            self.proxy.as_deref().map_or(Value::Null, proxy_json),
        );
        out.insert(
            "tls".into(),
            self.tls.as_deref().map_or(Value::Null, tls_json),
        );
        out.insert(
            "faults".into(),
            self.faults.as_deref().map_or(
                Value::Null,
                |faults| json!({"listener": faults.listener, "drawn": faults.drawn}),
            ),
        );
        out.insert("bytes_received".into(), json!(self.bytes_received));
        out.insert("bytes_sent".into(), json!(self.bytes_sent));
        if let Some(ending) = ending {
            let (termination, details) = termination(ending.reason);
            out.insert("termination".into(), json!(termination));
            out.insert("connection_termination_details".into(), json!(details));
            out.insert(
                "tcp_info".into(),
                ending.tcp_info.map_or(Value::Null, |info| info.to_json()),
            );
        }
        Value::Object(out)
    }
}

/// The listener kinds' names in receipts.
fn listener_name(kind: ListenerKind) -> &'static str {
    match kind {
        ListenerKind::Echo => "echo",
        ListenerKind::Tls => "tls",
        ListenerKind::Metrics => "metrics",
        ListenerKind::Admin => "admin",
        ListenerKind::Whoami => "whoami",
        ListenerKind::WhoamiTls => "whoami-tls",
        ListenerKind::Faulty(_) => "fault",
        ListenerKind::WebSocket => "ws",
        ListenerKind::WebSocketTls => "wss",
    }
}

fn proxy_json(proxy: &ProxySeen) -> Value {
    let (source, destination) = match proxy.addresses {
        Some((source, destination)) => (json!(source.to_string()), json!(destination.to_string())),
        None => (Value::Null, Value::Null),
    };
    json!({
        "version": proxy.version,
        "command": if proxy.local { "local" } else { "proxy" },
        "source": source,
        "destination": destination,
        "tlvs": proxy.tlvs.clone().unwrap_or(Value::Null),
    })
}

fn tls_json(tls: &TlsSeen) -> Value {
    json!({
        "version": tls.version,
        "cipher": tls.cipher,
        "requested_server_name": tls.sni,
        "alpn": tls.alpn,
        "peer_subject": tls.peer_subject,
        "peer_fingerprint_256": tls.peer_fingerprint_256,
    })
}

/// A close reason as a word (the same as the close counters' labels) and
/// the details (an error's message, a failure's label).
fn termination(reason: &CloseReason) -> (&'static str, Option<String>) {
    match reason {
        CloseReason::PeerClosed => ("peer", None),
        CloseReason::Error(e) => ("error", Some(e.to_string())),
        CloseReason::Idle => ("idle", None),
        CloseReason::Shutdown => ("shutdown", None),
        CloseReason::ProxyHeader(why) => ("proxy_header", Some(why.names().label.into())),
        CloseReason::TlsHandshake(why) => ("tls_handshake", Some(why.names().label.into())),
        CloseReason::Answered => ("answered", None),
        CloseReason::Cut(why) => ("cut", Some(why.names().label.into())),
        CloseReason::Fault(why) => ("fault", Some(why.names().label.into())),
        CloseReason::WsUpgrade(why) => ("ws_upgrade", Some(why.names().label.into())),
    }
}

/// `time` as RFC 3339 in UTC with microseconds
/// (`2026-12-07T05:01:02.123456Z`).
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
        since.subsec_micros()
    )
}

/// The Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = |secs: u64, micros: u64| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 (a leap day of a century divisible by 400).
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(at(1_796_619_662, 123_456), "2026-12-07T05:01:02.123456Z");
    }

    #[test]
    fn a_receipt_names_the_proxy_client_and_the_kernel_peer() {
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let now = Instant::now();
        let receipt = Receipt {
            id: 7,
            via: ListenerKind::Echo,
            listener: "127.0.0.1:7007".parse().unwrap(),
            reactor: 0,
            started: UNIX_EPOCH,
            started_at: now,
            socket: -1,
            peer,
            local: Some("127.0.0.1:7007".parse().unwrap()),
            proxy: Some(Box::new(ProxySeen {
                version: 2,
                local: false,
                addresses: Some((
                    "192.0.2.1:51234".parse().unwrap(),
                    "198.51.100.2:443".parse().unwrap(),
                )),
                tlvs: Some(json!({"authority": "echo.example"})),
            })),
            tls: None,
            faults: None,
            bytes_received: 5,
            bytes_sent: 5,
        };
        let ending = Ending {
            reason: &CloseReason::PeerClosed,
            tcp_info: None,
        };
        let json = receipt.to_json(now + Duration::from_micros(1500), Some(ending));
        assert_eq!(json["connection_id"], 7);
        assert_eq!(json["downstream_remote_address"], "192.0.2.1:51234");
        assert_eq!(json["downstream_direct_remote_address"], "127.0.0.1:40000");
        assert_eq!(json["downstream_local_address"], "198.51.100.2:443");
        assert_eq!(json["downstream_direct_local_address"], "127.0.0.1:7007");
        assert_eq!(json["proxy_protocol"]["tlvs"]["authority"], "echo.example");
        assert_eq!(json["duration_ms"], 1.5);
        assert_eq!(json["termination"], "peer");
        assert_eq!(json["tls"], Value::Null);
    }
}
