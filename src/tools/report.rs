//! The reports the load tools write with `--json`, one serde type each.
//!
//! A tool fills one of these, prints it as its human table and, with
//! `--json`, as one JSON object on one line (`serde_json`); the comparison,
//! the tests and users' scripts read it back with `serde_json` into the
//! same type. The field names are the JSON keys; a field that does not
//! apply to the run's mode is `None`, written as `null`, so every report
//! has every key and a script need not know the mode to read one. Fields
//! added after the first reports were written are `#[serde(default)]`, so
//! an older report still reads (`None` there).

use serde::{Deserialize, Serialize};

/// What `echo-loadgen` measured in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// `pingpong`, `pipeline`, `bulk`, `udp` or `churn`.
    pub mode: String,
    /// The server, as `IP:PORT`.
    pub target: String,
    /// Connections (UDP: sockets) that carried the load.
    pub connections: u64,
    /// Bytes per message (`None` in bulk mode).
    pub size: Option<u64>,
    /// Messages in flight per connection (`None` without pipelining).
    pub depth: Option<u64>,
    /// Threads that drove the connections.
    pub threads: u64,
    /// Offered messages/s over all connections (`None`: closed loop);
    /// churn: lifecycles/s.
    pub rate: Option<f64>,
    /// Seconds of warm-up before measuring.
    pub warmup_s: Option<f64>,
    /// Seconds measured (bulk: until the last echo).
    pub duration_s: Option<f64>,
    /// Echoes measured (`None` in bulk mode); churn: one per lifecycle.
    pub messages: Option<u64>,
    /// `messages / duration_s`.
    pub messages_per_s: Option<f64>,
    /// Payload bytes echoed in the measured time, one direction.
    pub bytes: u64,
    /// Bytes the bulk stream was to carry, `--bytes` (`None` in the other
    /// modes; missing from reports written before it existed).
    #[serde(default)]
    pub bulk_bytes: Option<u64>,
    /// `bytes / duration_s`, in MB/s (10^6).
    pub mb_per_s: Option<f64>,
    /// `bytes / duration_s`, in GB/s (10^9).
    pub gb_per_s: Option<f64>,
    /// Latency percentiles and mean, µs (`None` without samples); churn:
    /// of whole lifecycles.
    pub latency_p50_us: Option<f64>,
    /// 99th percentile, µs.
    pub latency_p99_us: Option<f64>,
    /// 99.9th percentile, µs.
    pub latency_p999_us: Option<f64>,
    /// Highest, µs.
    pub latency_max_us: Option<f64>,
    /// Mean, µs.
    pub latency_mean_us: Option<f64>,
    /// Every error of every kind below, summed: non-zero means exit 1.
    pub errors: u64,
    /// Chunks read back that differed from what was sent (TCP).
    pub mismatched_chunks: Option<u64>,
    /// Bytes that differed.
    pub mismatched_bytes: u64,
    /// Reads, writes or connects that failed.
    pub io_errors: u64,
    /// Connections the server closed before the run ended (TCP).
    pub eofs: Option<u64>,
    /// Connections that ended with echoes outstanding (TCP).
    pub lost_connections: Option<u64>,
    /// Bytes sent and never echoed (TCP).
    pub lost_bytes: Option<u64>,
    /// Connections the server reset, `ECONNRESET` (TCP; among
    /// `io_errors`). This and the three below tell apart what a client
    /// sees of a misbehaving server.
    #[serde(default)]
    pub resets: Option<u64>,
    /// Connects refused: nothing listened (TCP; among `io_errors`).
    #[serde(default)]
    pub refused: Option<u64>,
    /// Connects that did not finish within the lifecycle timeout (churn;
    /// among `timeouts`).
    #[serde(default)]
    pub connect_timeouts: Option<u64>,
    /// Ends of stream that cut an echo short: part of it came back, then
    /// the FIN (TCP; among `eofs`).
    #[serde(default)]
    pub short_echoes: Option<u64>,
    /// Messages not sent because too many were in flight (`--rate`).
    pub overflows: u64,
    /// How long a datagram may take before it counts as lost (UDP).
    pub udp_timeout_ms: Option<u64>,
    /// Datagrams sent, warm-up included (UDP).
    pub datagrams_sent: Option<u64>,
    /// Datagrams never answered in time (UDP).
    pub lost_datagrams: Option<u64>,
    /// Answers that came after their datagram was declared lost (UDP).
    pub late_datagrams: Option<u64>,
    /// Answers whose bytes differed from the datagram (UDP).
    pub mismatched_datagrams: Option<u64>,
    /// Datagrams answered more than once (UDP).
    pub duplicated_datagrams: Option<u64>,
    /// Answers that overtook an earlier datagram's (UDP).
    pub reordered_datagrams: Option<u64>,
    /// Lifecycles measured, each a connect, one echo, a half-close, the
    /// server's end of stream and a close, all of it checked (churn).
    #[serde(default)]
    pub lifecycles: Option<u64>,
    /// `lifecycles / duration_s` (churn).
    #[serde(default)]
    pub lifecycles_per_s: Option<f64>,
    /// Lifecycles given up after one of their waits took
    /// `lifecycle_timeout_ms` (churn); connections given up after
    /// `response_timeout_ms` (pingpong, pipeline).
    #[serde(default)]
    pub timeouts: Option<u64>,
    /// How long a connection's oldest message may wait for its echo before
    /// the connection is given up as a timeout (pingpong and pipeline with
    /// `--response-timeout-ms`).
    #[serde(default)]
    pub response_timeout_ms: Option<u64>,
    /// How long a lifecycle waits for its connect, its echo or its end of
    /// stream (churn).
    #[serde(default)]
    pub lifecycle_timeout_ms: Option<u64>,
    /// Loopback source addresses the connections came from, 127.0.0.1 to
    /// 127.0.0.K (churn; `None` when the kernel chose).
    #[serde(default)]
    pub sources: Option<u64>,
    /// How many runs this report adds up (`echo-loadgen merge`: counts,
    /// rates and errors summed, latencies of all of them together); `None`
    /// for the report of one run.
    #[serde(default)]
    pub runs: Option<u64>,
}

/// What `echo-idle-swarm` measured: idle connections held and what they
/// cost the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleReport {
    /// The server, as `IP:PORT`.
    pub target: String,
    /// Connections asked for.
    pub requested: u64,
    /// Connections opened and held.
    pub connected: u64,
    /// Seconds the connect phase took.
    pub connect_s: f64,
    /// Seconds the connections were held idle.
    pub hold_s: f64,
    /// The server's cost, when its pid was given.
    pub server: Option<ServerCost>,
    /// Echo latency of the probe connection during the hold, µs (`None`
    /// with the probe off).
    pub probe_p50_us: Option<f64>,
    /// 99th percentile, µs.
    pub probe_p99_us: Option<f64>,
    /// Highest, µs.
    pub probe_max_us: Option<f64>,
    /// Echoes the probe made.
    pub probe_echoes: u64,
    /// Idle connections checked for an intact echo at the end.
    pub sampled: u64,
    /// Of those, how many failed: non-zero (or `connected < requested`)
    /// means exit 1.
    pub sample_failures: u64,
}

/// What the held connections cost the server process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerCost {
    /// Server RSS before the first connect.
    pub rss_before_bytes: u64,
    /// Server RSS with every connection open, settled.
    pub rss_held_bytes: u64,
    /// `(rss_held - rss_before) / connected`.
    pub rss_per_connection_bytes: f64,
    /// Server CPU time during the hold, ms (probe echoes included).
    pub hold_cpu_ms: u64,
}

/// One line of `echo-loadgen --progress-json`: what one second of a run
/// (or of a step of a rate search) did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressLine {
    /// Seconds since the run (or the search) started, at the end of this
    /// second.
    pub elapsed_s: f64,
    /// Messages/s the schedule offered in this second (`--rate`, less the
    /// part of the second spent draining; `None`: closed loop); churn:
    /// lifecycles/s.
    pub offered_per_s: Option<f64>,
    /// Echoes (churn: lifecycles) completed per second in this second.
    pub achieved_per_s: f64,
    /// Latency percentiles of the echoes completed in this second, µs
    /// (`None` when none completed).
    pub p50_us: Option<f64>,
    /// 99th percentile, µs.
    pub p99_us: Option<f64>,
    /// 99.9th percentile, µs.
    pub p999_us: Option<f64>,
    /// Errors counted since the run (or the step) started.
    pub errors: u64,
    /// With a rate search: the offered rate of the step this second
    /// belongs to (`None` outside a search).
    pub step_offered_per_s: Option<f64>,
}

/// What `echo-loadgen --objective` found: every step it ran, and the
/// highest offered rate that met the objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// `pingpong`, `pipeline`, `udp` or `churn`.
    pub mode: String,
    /// The server, as `IP:PORT`.
    pub target: String,
    /// The objective, as given: `p99<=1ms` (and no error, always).
    pub objective: String,
    /// Bisecting stopped when the failed rate was within this share of the
    /// good one (0.05: 5%).
    pub precision: f64,
    /// Every step, in the order run.
    pub steps: Vec<SearchStep>,
    /// The highest offered rate that met the objective, messages/s
    /// (churn: lifecycles/s); `None`: no step did (exit status 1).
    pub capacity_per_s: Option<f64>,
    /// The search ran out of `--max-duration` before it was done.
    pub cut_short: bool,
    /// The search stopped early because a step found the server stalled
    /// or broken (see `SearchStep::verdict`).
    pub stalled: bool,
    /// `--step-repeats`: each rate was judged by the majority of up to
    /// this many runs of its step (`None` in reports written before it
    /// existed, which ran one).
    #[serde(default)]
    pub step_repeats: Option<u32>,
}

/// One step of a rate search: a fixed-rate run and its verdict. With
/// `--step-repeats` a rate may take several runs, each a step of its own;
/// the rate's verdict is their majority's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchStep {
    /// Messages/s offered (churn: lifecycles/s).
    pub offered_per_s: f64,
    /// Which run of its rate this step was, from 1 (`None` in reports
    /// written before `--step-repeats`, which ran each rate once).
    #[serde(default)]
    pub run: Option<u32>,
    /// Whether the majority of its rate's runs met the objective, on the
    /// run that decided it; `None` on the runs before that one.
    #[serde(default)]
    pub rate_met: Option<bool>,
    /// Messages/s echoed in the measured time.
    pub achieved_per_s: Option<f64>,
    /// Seconds measured, after the warm-up.
    pub duration_s: f64,
    /// Echoes measured.
    pub messages: u64,
    /// Latency percentiles, µs (`None` without samples).
    pub p50_us: Option<f64>,
    /// 99th percentile, µs.
    pub p99_us: Option<f64>,
    /// 99.9th percentile, µs.
    pub p999_us: Option<f64>,
    /// The percentile the objective judges, µs.
    pub judged_us: Option<f64>,
    /// Errors of every kind (`LoadReport::errors`).
    pub errors: u64,
    /// Whether this run met the objective.
    pub met: bool,
    /// Why: `met`, or what failed first.
    pub verdict: String,
}
