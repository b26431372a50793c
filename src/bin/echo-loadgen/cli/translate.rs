//! The flags translated into the run's model: combinations that make no
//! sense are refused, each with one line for stderr (exit status 2), and
//! the defaults each mode has are filled in. Tests match these lines, so
//! their words are kept.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::flags::{Cli, Mode, Sub};
use crate::model::{
    Command, Lifecycles, Load, Messages, Pace, Plan, ProgressSink, Run, Search, StepRepeats,
    TlsSettings,
};

/// The largest UDP payload over IPv4 (65,535 bytes less the IP and UDP
/// headers): the largest `--size` in udp mode, over IPv6 too.
const MAX_DATAGRAM: u64 = 65_507;

/// The default of `--udp-timeout-ms`.
const DEFAULT_UDP_TIMEOUT_MS: u64 = 200;

/// The default of `--sources`.
const DEFAULT_SOURCES: u8 = 16;

/// The default of `--lifecycle-timeout-ms`: long enough for a connect
/// whose SYN the kernel dropped once (a full accept queue) and resent a
/// second later, short enough that a hung server ends the run soon.
const DEFAULT_LIFECYCLE_TIMEOUT_MS: u64 = 5_000;

/// The first step's rate of a search without `--rate`.
const DEFAULT_FIRST_RATE: f64 = 1_000.0;

/// The default of `--search-precision`: bisect until within 5%.
const DEFAULT_SEARCH_PRECISION: f64 = 0.05;

/// The default of `--max-duration`.
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(120);

/// Most connections in the modes that give each its own thread.
const MAX_THREADED_CONNECTIONS: u32 = 10_000;

/// What the command line asks for, checked (see [`plan`]).
pub fn command(mut cli: Cli) -> Result<Command, String> {
    if let Some(Sub::Merge(merge)) = cli.command.take() {
        if merge.logs.is_empty() {
            return Err("merge: name the logs to merge (written with --histogram-log)".into());
        }
        return Ok(Command::Merge {
            logs: merge.logs,
            json: merge.json,
        });
    }
    let histogram_log = cli.histogram_log.take();
    if histogram_log.is_some() && cli.mode == Mode::Bulk {
        return Err(
            "--histogram-log does not apply to bulk mode: a bulk stream has no latencies".into(),
        );
    }
    if histogram_log.is_some() && cli.objective.is_some() {
        return Err(
            "--histogram-log does not apply with --objective: a search is many runs".into(),
        );
    }
    let over_websocket = matches!(
        cli.mode,
        Mode::Pingpong | Mode::Pipeline | Mode::Bulk | Mode::Churn
    );
    if cli.websocket && !over_websocket {
        return Err("--websocket applies to --mode pingpong, pipeline, bulk and churn".into());
    }
    let tls = tls_settings(&mut cli)?;
    let search = search(&mut cli)?;
    let progress = progress(&mut cli)?;
    Ok(Command::Run(Box::new(Run {
        plan: plan(&cli)?,
        histogram_log,
        tls,
        search,
        progress,
    })))
}

/// Takes the search flags out of `cli`: none without `--objective`, which
/// needs a mode that takes `--rate`, and gives `--rate` its default.
fn search(cli: &mut Cli) -> Result<Option<Search>, String> {
    let (precision, max_duration) = (cli.search_precision.take(), cli.max_duration.take());
    let step_repeats = cli.step_repeats.take();
    let Some(objective) = cli.objective.take() else {
        if precision.is_some() || max_duration.is_some() || step_repeats.is_some() {
            return Err(
                "--search-precision, --max-duration and --step-repeats only apply with --objective"
                    .into(),
            );
        }
        return Ok(None);
    };
    match cli.mode {
        Mode::Bulk => {
            return Err(
                "--objective does not apply to bulk mode: a bulk stream has no rate to search"
                    .into(),
            )
        }
        Mode::Threads => {
            return Err(
                "--objective does not apply to threads: it searches over --rate, which threads \
                 does not take (--mode pingpong keeps a schedule)"
                    .into(),
            )
        }
        _ => {}
    }
    cli.rate.get_or_insert(DEFAULT_FIRST_RATE);
    Ok(Some(Search {
        objective,
        precision: precision.unwrap_or(DEFAULT_SEARCH_PRECISION),
        max_duration: max_duration.unwrap_or(DEFAULT_MAX_DURATION),
        step_repeats: step_repeats.unwrap_or(StepRepeats::ONE),
    }))
}

/// Takes `--progress-json` out of `cli`: `-` is stdout, which then cannot
/// carry the `--json` report too; bulk has no messages to stream about.
fn progress(cli: &mut Cli) -> Result<Option<ProgressSink>, String> {
    let Some(path) = cli.progress_json.take() else {
        return Ok(None);
    };
    if cli.mode == Mode::Bulk {
        return Err(
            "--progress-json does not apply to bulk mode: a bulk stream has no messages".into(),
        );
    }
    if path.as_os_str() != "-" {
        return Ok(Some(ProgressSink::File(path)));
    }
    if cli.json {
        return Err(
            "--progress-json - takes stdout for its lines; with --json give it a file instead"
                .into(),
        );
    }
    Ok(Some(ProgressSink::Stdout))
}

/// Takes the TLS flags out of `cli`: none without `--tls`, which needs
/// `--tls-ca` and a mode over TCP.
fn tls_settings(cli: &mut Cli) -> Result<Option<TlsSettings>, String> {
    let (ca, server_name) = (cli.tls_ca.take(), cli.tls_server_name.take());
    if !cli.tls {
        if ca.is_some() || server_name.is_some() {
            return Err("--tls-ca and --tls-server-name only apply with --tls".into());
        }
        return Ok(None);
    }
    if cli.mode == Mode::Udp {
        return Err("--tls does not apply to --mode udp: TLS runs over TCP".into());
    }
    let ca = ca.ok_or("--tls needs --tls-ca PATH, the PEM certificate to trust")?;
    Ok(Some(TlsSettings {
        ca,
        server_name: server_name.unwrap_or_else(|| "localhost".into()),
    }))
}

/// The run the flags describe: combinations that make no sense and
/// non-loopback targets (without `--allow-remote`) are refused.
fn plan(cli: &Cli) -> Result<Plan, String> {
    if cli.mode == Mode::Bulk {
        if cli.connections.is_some_and(|c| c != 1) {
            return Err("bulk mode streams on one connection; drop --connections".into());
        }
        if cli.size.is_some() || cli.depth.is_some() || cli.rate.is_some() {
            return Err(
                "--size, --depth and --rate do not apply to bulk mode (use --bytes)".into(),
            );
        }
    } else if cli.bytes.is_some() {
        return Err("--bytes only applies to bulk mode".into());
    }
    if cli.mode == Mode::Udp {
        if let Some(size) = cli.size.filter(|&s| !(1..=MAX_DATAGRAM).contains(&s)) {
            return Err(format!(
                "--size {size} does not fit a UDP datagram: 1 to {MAX_DATAGRAM} bytes"
            ));
        }
    } else if cli.udp_timeout_ms.is_some() {
        return Err("--udp-timeout-ms only applies to --mode udp".into());
    }
    if cli.mode == Mode::Pingpong && cli.depth.is_some_and(|d| d != 1) {
        return Err("pingpong has one message in flight; use --mode pipeline for --depth".into());
    }
    let thread_per_connection = match cli.mode {
        Mode::Churn => Some("churn"),
        Mode::Threads => Some("threads"),
        _ => None,
    };
    if let Some(mode) = thread_per_connection {
        if cli.depth.is_some() {
            return Err(format!(
                "--depth does not apply to {mode}: each connection has one message in flight"
            ));
        }
        if cli.threads.is_some() {
            return Err(format!(
                "--threads does not apply to {mode}: each of its --connections has a thread"
            ));
        }
        if cli
            .connections
            .is_some_and(|c| c > MAX_THREADED_CONNECTIONS)
        {
            return Err(format!(
                "{mode} runs a thread per connection: at most {MAX_THREADED_CONNECTIONS} --connections"
            ));
        }
        if cli.size == Some(0) {
            return Err(format!("{mode} echoes messages: --size must be at least 1"));
        }
    }
    if cli.mode == Mode::Threads && cli.rate.is_some() {
        return Err(
            "--rate does not apply to threads: each thread sends when its echo is back \
             (--mode pingpong --rate keeps a schedule)"
                .into(),
        );
    }
    if cli.response_timeout_ms.is_some() && !matches!(cli.mode, Mode::Pingpong | Mode::Pipeline) {
        return Err("--response-timeout-ms only applies to --mode pingpong or pipeline".into());
    }
    if cli.mode != Mode::Churn && (cli.sources.is_some() || cli.lifecycle_timeout_ms.is_some()) {
        return Err("--sources and --lifecycle-timeout-ms only apply to --mode churn".into());
    }
    if cli.rate.is_some() && cli.depth.is_some() {
        return Err(
            "--depth does not apply with --rate: the schedule decides when messages go out".into(),
        );
    }

    let target = resolve(&cli.target)?;
    if !is_loopback(target.ip()) && !cli.allow_remote {
        return Err(format!(
            "refusing non-loopback target {target} (from '{}'); pass --allow-remote to load another host",
            cli.target
        ));
    }
    // Sources on 127/8 reach IPv4 loopback targets only.
    let ipv4_loopback = matches!(target.ip(), IpAddr::V4(v4) if v4.is_loopback());
    if cli.sources.is_some() && !ipv4_loopback {
        return Err(format!(
            "--sources spreads connections over 127.0.0.1 to 127.0.0.K, which reach IPv4 \
             loopback targets only, not {target}"
        ));
    }

    let messages = |default_depth: usize| Messages {
        size: cli.size.unwrap_or(64),
        pace: match cli.rate {
            Some(rate) => Pace::Rate(rate),
            None => Pace::ClosedLoop {
                depth: cli.depth.map_or(default_depth, |d| d as usize),
            },
        },
        warmup: cli.warmup,
        duration: cli.duration,
    };
    let load = match cli.mode {
        Mode::Pingpong => Load::PingPong(messages(1)),
        Mode::Pipeline => Load::Pipeline(messages(16)),
        Mode::Bulk => Load::Bulk {
            bytes: cli.bytes.unwrap_or(1 << 30),
            timeout: cli.duration * 10 + Duration::from_secs(30),
        },
        Mode::Udp => Load::Udp {
            messages: messages(1),
            timeout: Duration::from_millis(cli.udp_timeout_ms.unwrap_or(DEFAULT_UDP_TIMEOUT_MS)),
        },
        Mode::Threads => Load::Threads(messages(1)),
        Mode::Churn => Load::Churn(Lifecycles {
            messages: messages(1),
            sources: ipv4_loopback.then(|| cli.sources.unwrap_or(DEFAULT_SOURCES)),
            timeout: Duration::from_millis(
                cli.lifecycle_timeout_ms
                    .unwrap_or(DEFAULT_LIFECYCLE_TIMEOUT_MS),
            ),
        }),
    };
    let connections = match load {
        Load::Bulk { .. } => 1,
        _ => cli.connections.unwrap_or(50) as usize,
    };
    let threads = if load.thread_per_connection() {
        connections
    } else {
        (cli.threads.unwrap_or(1) as usize).min(connections)
    };
    Ok(Plan {
        target,
        connections,
        threads,
        load,
        response_timeout: cli.response_timeout_ms.map(Duration::from_millis),
        json: cli.json,
        websocket: cli.websocket,
    })
}

/// The first address `target` resolves to.
fn resolve(target: &str) -> Result<SocketAddr, String> {
    let mut addrs = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve target '{target}': {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("target '{target}' resolves to no address"))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;

    fn plan(args: &[&str]) -> Result<Plan, String> {
        let argv = std::iter::once("echo-loadgen").chain(args.iter().copied());
        super::plan(&Cli::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn each_mode_gets_its_defaults_and_nothing_else() {
        let pingpong = plan(&[]).unwrap();
        assert_eq!(pingpong.connections, 50);
        let Load::PingPong(messages) = pingpong.load else {
            panic!("{pingpong:?}")
        };
        assert_eq!(messages.size, 64);
        assert_eq!(messages.pace, Pace::ClosedLoop { depth: 1 });

        let pipeline = plan(&["--mode", "pipeline"]).unwrap().load;
        let depth = pipeline.messages().map(|m| m.pace);
        assert_eq!(depth, Some(Pace::ClosedLoop { depth: 16 }));

        let bulk = plan(&["--mode", "bulk", "--duration", "2"]).unwrap();
        assert_eq!(bulk.connections, 1);
        let expected = Load::Bulk {
            bytes: 1 << 30,
            timeout: Duration::from_secs(50),
        };
        assert_eq!(bulk.load, expected);

        let udp = plan(&["--mode", "udp", "--rate", "100"]).unwrap().load;
        assert_eq!(udp.udp_timeout(), Some(Duration::from_millis(200)));
        assert_eq!(udp.messages().map(|m| m.pace), Some(Pace::Rate(100.0)));

        let churn = plan(&["--mode", "churn", "--connections", "8"]).unwrap();
        assert_eq!((churn.connections, churn.threads), (8, 8));
        let Load::Churn(lifecycles) = churn.load else {
            panic!("{churn:?}")
        };
        assert_eq!(lifecycles.sources, Some(16));
        assert_eq!(lifecycles.timeout, Duration::from_secs(5));
        assert_eq!(lifecycles.messages.size, 64);
        assert_eq!(lifecycles.messages.pace, Pace::ClosedLoop { depth: 1 });
    }

    #[test]
    fn threads_mode_is_a_closed_loop_with_a_thread_per_connection() {
        let threads = plan(&[
            "--mode",
            "threads",
            "--connections",
            "1000",
            "--size",
            "128",
        ]);
        let threads = threads.unwrap();
        assert_eq!((threads.connections, threads.threads), (1000, 1000));
        let Load::Threads(messages) = threads.load else {
            panic!("{threads:?}")
        };
        assert_eq!(messages.size, 128);
        assert_eq!(messages.pace, Pace::ClosedLoop { depth: 1 });
    }

    #[test]
    fn merge_is_a_subcommand_and_a_run_needs_none() {
        let command = |args: &[&str]| {
            let argv = std::iter::once("echo-loadgen").chain(args.iter().copied());
            super::command(Cli::try_parse_from(argv).map_err(|e| e.to_string())?)
        };
        let Ok(Command::Merge { logs, json }) = command(&["merge", "a.log", "b.log", "--json"])
        else {
            panic!("a merge")
        };
        assert_eq!(logs, [PathBuf::from("a.log"), PathBuf::from("b.log")]);
        assert!(json);
        let Ok(Command::Run(run)) = command(&["--mode", "pipeline", "--histogram-log", "run.log"])
        else {
            panic!("a run")
        };
        let Run {
            plan,
            histogram_log,
            tls: None,
            search: None,
            progress: None,
        } = *run
        else {
            panic!("a plain run: {run:?}")
        };
        assert_eq!(plan.load.name(), "pipeline");
        assert_eq!(histogram_log, Some(PathBuf::from("run.log")));
        assert!(command(&["merge"]).is_err());
        assert!(command(&["--mode", "bulk", "--histogram-log", "run.log"]).is_err());
        assert!(command(&["--connections", "4", "merge", "a.log"]).is_err());
    }

    #[test]
    fn tls_applies_to_every_mode_over_tcp_and_not_to_udp() {
        let tls = |mode: &str| {
            let argv = [
                "echo-loadgen",
                "--mode",
                mode,
                "--tls",
                "--tls-ca",
                "ca.pem",
            ];
            super::command(Cli::try_parse_from(argv).map_err(|e| e.to_string())?)
        };
        for mode in ["pingpong", "pipeline", "bulk", "churn", "threads"] {
            let Ok(Command::Run(run)) = tls(mode) else {
                panic!("{mode} over TLS")
            };
            let Some(tls) = run.tls else {
                panic!("{mode} over TLS")
            };
            assert_eq!(tls.ca, PathBuf::from("ca.pem"));
            assert_eq!(tls.server_name, "localhost");
        }
        let refused = tls("udp").unwrap_err();
        assert!(refused.contains("udp"), "{refused}");
    }

    #[test]
    fn churn_spreads_sources_over_ipv4_loopback_only() {
        let Load::Churn(v6) = plan(&["--mode", "churn", "--target", "[::1]:7"])
            .unwrap()
            .load
        else {
            panic!("churn")
        };
        assert_eq!(v6.sources, None, "the kernel picks the source");
        let args = [
            "--mode",
            "churn",
            "--target",
            "127.0.0.1:7",
            "--sources",
            "3",
        ];
        let Load::Churn(v4) = plan(&args).unwrap().load else {
            panic!("churn")
        };
        assert_eq!(v4.sources, Some(3));
    }

    #[test]
    fn loopback_targets_pass_and_others_need_allow_remote() {
        assert!(is_loopback("127.1.2.3".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("192.0.2.1".parse().unwrap()));
        let refused = plan(&["--target", "192.0.2.1:7"]).unwrap_err();
        assert!(refused.contains("--allow-remote"), "{refused}");
        assert!(plan(&["--target", "192.0.2.1:7", "--allow-remote"]).is_ok());
    }

    #[test]
    fn a_search_takes_a_mode_with_a_rate_and_starts_at_1000_by_default() {
        let command = |args: &[&str]| {
            let argv = std::iter::once("echo-loadgen").chain(args.iter().copied());
            super::command(Cli::try_parse_from(argv).map_err(|e| e.to_string())?)
        };
        let Ok(Command::Run(run)) = command(&["--objective", "p99<=1ms"]) else {
            panic!("a run")
        };
        let Run {
            plan,
            search: Some(search),
            ..
        } = *run
        else {
            panic!("a search: {run:?}")
        };
        assert_eq!(
            plan.load.messages().map(|m| m.pace),
            Some(Pace::Rate(1000.0))
        );
        assert_eq!(search.precision, 0.05);
        assert_eq!(search.max_duration, Duration::from_secs(120));
        assert_eq!(search.step_repeats, StepRepeats::ONE);
        for mode in ["udp", "churn", "pipeline"] {
            assert!(command(&["--mode", mode, "--objective", "p90<=5ms"]).is_ok());
        }
        for mode in ["bulk", "threads"] {
            let refused = command(&["--mode", mode, "--objective", "p99<=1ms"]).unwrap_err();
            assert!(refused.contains(mode), "{refused}");
        }
        assert!(command(&["--max-duration", "10"]).is_err());
        assert!(command(&["--step-repeats", "3"]).is_err());
        let Ok(Command::Run(run)) = command(&["--objective", "p99<=1ms", "--step-repeats", "3"])
        else {
            panic!("a run")
        };
        let repeats = run.search.map(|s| s.step_repeats.runs());
        assert_eq!(repeats, Some(3));
        assert!(command(&["--progress-json", "-", "--json"]).is_err());
        let Ok(Command::Run(run)) = command(&["--progress-json", "-"]) else {
            panic!("a run")
        };
        assert_eq!(run.progress, Some(ProgressSink::Stdout));
    }
}
