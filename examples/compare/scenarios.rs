//! The scenarios of the repeated runs, each with the `echo-loadgen`
//! command line that makes its load and the figure it is judged by; and
//! the load command lines the traced runs share with them.

use crate::tls::TlsFiles;
use crate::tools::strings;
use crate::{Args, Timing};

/// How a scenario's report is read, and what it is judged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Closed loop, echoes/s: ping-pong, pipelined, or a blocking thread
    /// per connection.
    Closed,
    /// Closed-loop short-lived connections: lifecycles/s.
    Churn,
    /// One bulk stream: GB/s.
    Bulk,
    /// Open loop at a fixed rate of echoes or lifecycles, with the server's
    /// CPU read over the measured window.
    FixedRate(Unit),
}

/// What a fixed-rate load offers at its rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Echoes on connections that stay open.
    Echo,
    /// Connection lifecycles: connect, one echo, half-close, close.
    Lifecycle,
}

impl Unit {
    /// How its rate is written.
    pub fn rate(self) -> &'static str {
        match self {
            Unit::Echo => "msg/s",
            Unit::Lifecycle => "lifecycles/s",
        }
    }

    /// The fixed-rate figures' names, in this unit: the server's CPU per
    /// unit (the headline), the rate achieved, the CPU per unit from the
    /// coarse utime + stime ticks.
    pub fn cpu_metrics(self) -> [&'static str; 3] {
        match self {
            Unit::Echo => [
                "CPU µs/echo",
                "achieved msg/s",
                "CPU µs/echo (utime+stime ticks)",
            ],
            Unit::Lifecycle => [
                "CPU µs/lifecycle",
                "achieved lifecycles/s",
                "CPU µs/lifecycle (utime+stime ticks)",
            ],
        }
    }
}

pub struct Scenario {
    pub key: &'static str,
    pub label: String,
    /// A short name for the chart.
    pub short: String,
    pub kind: Kind,
    /// echo-loadgen's arguments (without `--target` and `--json`).
    pub load: Vec<String>,
    /// Over TLS: the server is started with its TLS listener, and only
    /// the servers that have one run it.
    pub tls: bool,
}

/// The figure a scenario is judged by.
pub struct Headline {
    pub metric: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
}

impl Scenario {
    pub fn headline(&self) -> Headline {
        let (metric, unit, higher_is_better) = match self.kind {
            Kind::Closed => ("msg/s", "msg/s", true),
            Kind::Churn => ("lifecycles/s", "lifecycles/s", true),
            Kind::Bulk => ("GB/s", "GB/s", true),
            Kind::FixedRate(Unit::Echo) => ("CPU µs/echo", "server CPU µs/echo", false),
            Kind::FixedRate(Unit::Lifecycle) => {
                ("CPU µs/lifecycle", "server CPU µs/lifecycle", false)
            }
        };
        Headline {
            metric,
            unit,
            higher_is_better,
        }
    }
}

/// Lifecycles at once in the churn scenarios: a few blocking clients, as
/// health checks and short requests come.
pub const CHURN_CONNECTIONS: u32 = 4;
/// Source addresses the churn loads rotate over (127.0.0.1 to 127.0.0.K),
/// so that closed connections waiting in TIME_WAIT never use up the ports.
const CHURN_SOURCES: u32 = 16;

/// The repeated scenarios, in the order they run (and are charted); the
/// TLS ones (before the fixed-rate ones, but the TLS fixed rate after
/// them) only with `tls`, the certificate they trust. The TLS fixed rate
/// gives the TLS capacity rows their CPU per echo (see [`crate::capacity`]).
pub fn scenarios(args: &Args, timing: &Timing, tls: Option<&TlsFiles>) -> Vec<Scenario> {
    let window = window(timing.warmup, timing.duration);
    let closed = |key, label: &str, short: &str, load: &[&str]| Scenario {
        key,
        label: label.into(),
        short: short.into(),
        kind: Kind::Closed,
        load: [strings(load), window.clone()].concat(),
        tls: false,
    };
    let (rate, churn_rate) = (args.rate, args.churn_rate);
    let mut list = vec![
        closed(
            "pingpong-c1",
            "ping-pong C=1 64 B",
            "ping-pong C=1",
            &["--mode", "pingpong", "--connections", "1", "--size", "64"],
        ),
        closed(
            "pingpong-c50",
            "ping-pong C=50 64 B",
            "ping-pong C=50",
            &["--mode", "pingpong", "--connections", "50", "--size", "64"],
        ),
        closed(
            "pipeline-c50-d16",
            "pipeline C=50 D=16 64 B",
            "pipeline D=16",
            &[
                "--mode",
                "pipeline",
                "--connections",
                "50",
                "--size",
                "64",
                "--depth",
                "16",
            ],
        ),
        closed(
            "pingpong-c50-4k",
            "ping-pong C=50 4 KiB",
            "ping-pong 4 KiB",
            &[
                "--mode",
                "pingpong",
                "--connections",
                "50",
                "--size",
                "4096",
            ],
        ),
        Scenario {
            key: "bulk",
            label: format!("bulk {} C=1", timing.bulk_bytes),
            short: format!("bulk {}", timing.bulk_bytes),
            kind: Kind::Bulk,
            load: bulk_load(timing.bulk_bytes),
            tls: false,
        },
        closed(
            "threads-c1000",
            "threads C=1000 128 B",
            "1000 threads",
            &[
                "--mode",
                "threads",
                "--connections",
                "1000",
                "--size",
                "128",
            ],
        ),
        closed(
            "threads-c50-512",
            "threads C=50 512 B",
            "50 threads 512 B",
            &["--mode", "threads", "--connections", "50", "--size", "512"],
        ),
        Scenario {
            key: "churn-c4",
            label: format!("churn C={CHURN_CONNECTIONS} 64 B"),
            short: format!("churn C={CHURN_CONNECTIONS}"),
            kind: Kind::Churn,
            load: [churn_load(None), window.clone()].concat(),
            tls: false,
        },
    ];
    if let Some(files) = tls {
        list.extend(tls_scenarios(files, timing, &window));
    }
    list.extend([
        Scenario {
            key: FIXED_RATE,
            label: format!("fixed {rate}/s C=50 64 B"),
            short: format!("echoes/CPU-s @{}k/s", rate / 1000.0),
            kind: Kind::FixedRate(Unit::Echo),
            load: fixed_rate_load(rate, timing.warmup, timing.duration),
            tls: false,
        },
        Scenario {
            key: "fixed-churn",
            label: format!("fixed {churn_rate}/s churn C={CHURN_CONNECTIONS} 64 B"),
            short: format!("lifecycles/CPU-s @{}k/s", churn_rate / 1000.0),
            kind: Kind::FixedRate(Unit::Lifecycle),
            load: [churn_load(Some(churn_rate)), window].concat(),
            tls: false,
        },
    ]);
    if let Some(files) = tls {
        list.push(Scenario {
            key: TLS_FIXED_RATE,
            label: format!("TLS fixed {rate}/s C=50 64 B"),
            short: format!("TLS echoes/CPU-s @{}k/s", rate / 1000.0),
            kind: Kind::FixedRate(Unit::Echo),
            load: [
                fixed_rate_load(rate, timing.warmup, timing.duration),
                trust(files),
            ]
            .concat(),
            tls: true,
        });
    }
    list
}

/// The plain fixed-rate scenario: the server's CPU per echo at `--rate`,
/// which the capacity rows divide a core's second by.
pub const FIXED_RATE: &str = "fixed-rate";

/// The same over TLS, for the TLS capacity rows.
pub const TLS_FIXED_RATE: &str = "tls-fixed-rate";

/// echo-loadgen's arguments that make a load speak TLS, trusting `files`'
/// certificate.
pub fn trust(files: &TlsFiles) -> Vec<String> {
    [
        strings(&["--tls", "--tls-ca"]),
        vec![files.cert.display().to_string()],
    ]
    .concat()
}

/// The TLS scenarios, trusting `files`' certificate: churn, each lifecycle
/// a full handshake (handshakes/s); ping-pong from 50 blocking threads
/// through their sessions; ping-pong on 50 connections of one polling
/// thread, as the plain `pingpong-c50`; and one bulk stream of the plain
/// `bulk`'s bytes (1 GiB: a few seconds at the 0.3 to 1 GB/s TLS runs at
/// on loopback).
fn tls_scenarios(files: &TlsFiles, timing: &Timing, window: &[String]) -> [Scenario; 4] {
    let trust = trust(files);
    [
        Scenario {
            key: "tls-churn-c4",
            label: format!("TLS churn C={CHURN_CONNECTIONS} 64 B"),
            short: format!("TLS churn C={CHURN_CONNECTIONS}"),
            kind: Kind::Churn,
            load: [churn_load(None), trust.clone(), window.to_vec()].concat(),
            tls: true,
        },
        Scenario {
            key: "tls-threads-c50",
            label: "TLS threads C=50 64 B".into(),
            short: "TLS 50 threads".into(),
            kind: Kind::Closed,
            load: [
                strings(&["--mode", "threads", "--connections", "50", "--size", "64"]),
                trust.clone(),
                window.to_vec(),
            ]
            .concat(),
            tls: true,
        },
        Scenario {
            key: "tls-pingpong-c50",
            label: "TLS ping-pong C=50 64 B".into(),
            short: "TLS ping-pong C=50".into(),
            kind: Kind::Closed,
            load: [
                strings(&["--mode", "pingpong", "--connections", "50", "--size", "64"]),
                trust.clone(),
                window.to_vec(),
            ]
            .concat(),
            tls: true,
        },
        Scenario {
            key: "tls-bulk",
            label: format!("TLS bulk {} C=1", timing.bulk_bytes),
            short: format!("TLS bulk {}", timing.bulk_bytes),
            kind: Kind::Bulk,
            load: [bulk_load(timing.bulk_bytes), trust].concat(),
            tls: true,
        },
    ]
}

/// echo-loadgen's arguments for one bulk stream of `bytes`.
fn bulk_load(bytes: &str) -> Vec<String> {
    // loadgen's bulk timeout is duration x 10 + 30 s.
    strings(&["--mode", "bulk", "--bytes", bytes, "--duration", "10"])
}

/// echo-loadgen's arguments for an open-loop ping-pong, 50 connections,
/// 64 B, at `rate` messages/s: `warmup` seconds, then `duration` measured.
pub fn fixed_rate_load(rate: f64, warmup: f64, duration: f64) -> Vec<String> {
    let mut args = strings(&["--mode", "pingpong", "--connections", "50", "--size", "64"]);
    args.extend(strings(&["--rate", &rate.to_string()]));
    args.extend(window(warmup, duration));
    args
}

/// echo-loadgen's arguments for churn, [`CHURN_CONNECTIONS`] lifecycles at
/// once, 64 B each, closed loop or at `rate` lifecycles/s; the caller adds
/// the window.
pub fn churn_load(rate: Option<f64>) -> Vec<String> {
    let mut args = strings(&["--mode", "churn", "--size", "64"]);
    args.extend(strings(&[
        "--connections",
        &CHURN_CONNECTIONS.to_string(),
        "--sources",
        &CHURN_SOURCES.to_string(),
    ]));
    if let Some(rate) = rate {
        args.extend(strings(&["--rate", &rate.to_string()]));
    }
    args
}

/// echo-loadgen's arguments for `warmup` seconds, then `duration` measured.
pub fn window(warmup: f64, duration: f64) -> Vec<String> {
    strings(&[
        "--warmup",
        &warmup.to_string(),
        "--duration",
        &duration.to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn every_scenario_has_its_own_key_and_a_mode() {
        let args = Args::parse_from(["compare", "--quick"]);
        let files = TlsFiles {
            cert: "cert.pem".into(),
            key: "key.pem".into(),
        };
        let list = scenarios(&args, &Timing::new(true), Some(&files));
        let mut keys: Vec<&str> = list.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), list.len());
        for s in &list {
            assert_eq!(s.load[0], "--mode", "{}", s.key);
        }
        let churn = list.iter().find(|s| s.key == "fixed-churn").unwrap();
        let rate = churn.load.iter().position(|a| a == "--rate").unwrap();
        assert_eq!(churn.load[rate + 1], args.churn_rate.to_string());
        let tls: Vec<&str> = list.iter().filter(|s| s.tls).map(|s| s.key).collect();
        assert_eq!(
            tls,
            [
                "tls-churn-c4",
                "tls-threads-c50",
                "tls-pingpong-c50",
                "tls-bulk",
                "tls-fixed-rate"
            ]
        );
        let without = scenarios(&args, &Timing::new(true), None);
        assert_eq!(without.len(), list.len() - 5);
        // The TLS rows load as their plain twins do, over TLS.
        for (plain, tls) in [
            ("pingpong-c50", "tls-pingpong-c50"),
            ("bulk", "tls-bulk"),
            ("fixed-rate", "tls-fixed-rate"),
        ] {
            let load = |key| list.iter().find(|s| s.key == key).unwrap().load.clone();
            let mut over_tls = load(tls);
            let at = over_tls.iter().position(|a| a == "--tls").unwrap();
            let trust: Vec<String> = over_tls.drain(at..at + 3).collect();
            assert_eq!(trust, ["--tls", "--tls-ca", "cert.pem"], "{tls}");
            assert_eq!(over_tls, load(plain), "{tls}");
        }
    }
}
