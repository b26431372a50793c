//! The run itself: open every connection (or UDP socket) before anything
//! is measured, hand them round robin to the threads, start the threads
//! together, and print progress until each has reported. (Churn opens its
//! connections as it goes, a thread per connection; threads has a thread
//! per connection too.) With `--progress-json`, the live stream gets its
//! line each second too (`live.rs`).

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::connect::{open_all, open_tcp, open_udp};
use crate::counters::{new_pool, Shared};
use crate::job::{Job, ThreadReport};
use crate::live::LiveStream;
use crate::model::{Load, Plan};
use crate::pattern::Pattern;
use crate::sockets::Group;
use crate::timer::{now_ns, NANOS_PER_SEC};
use crate::tls::TlsClient;
use crate::worker::Worker;
use crate::{churn, threads};

/// The stack of a thread that blocks on one connection: it holds a few
/// locals, its buffers are on the heap. A thousand such threads then
/// reserve 64 MiB of address space rather than 2 GiB.
const BLOCKING_STACK: usize = 64 << 10;

/// Connects (over TLS with `tls`; udp has none), runs the threads, prints
/// progress to `err` (and to `live`, if given), and returns every
/// thread's report.
pub fn execute(
    plan: &Plan,
    tls: Option<&TlsClient>,
    err: &mut dyn Write,
    live: Option<&mut LiveStream>,
) -> Result<Vec<ThreadReport>, String> {
    // Many connections need many descriptors; the soft limit is often 1024.
    let _ = echo_reactor::raise_nofile_limit();

    let pattern = Arc::new(Pattern::new());
    let shared = Arc::new(if live.is_some() {
        Shared::with_live()
    } else {
        Shared::default()
    });
    // Threads of one connection each share one latency histogram.
    let pool = new_pool();
    let (jobs, stack) = match plan.load {
        Load::Churn(lifecycles) => (
            churn::jobs(plan, lifecycles, tls, &pattern, &shared, &pool),
            Some(BLOCKING_STACK),
        ),
        Load::Threads(messages) => {
            let open = |target| threads::open(target, tls);
            let connections = open_all(plan, "connect to", "connection", open)?;
            let connections = connections.into_iter().flatten().collect();
            (
                threads::jobs(plan, messages, connections, &pattern, &shared, &pool),
                Some(BLOCKING_STACK),
            )
        }
        _ => (reactor_jobs(plan, tls, &pattern, &shared)?, None),
    };
    run_jobs(plan, err, live, jobs, stack, &shared)
}

/// The polling threads of every mode but churn and threads, each with its
/// share of the connections, opened here (their TLS handshakes, with
/// `tls`, are the threads' to run).
fn reactor_jobs(
    plan: &Plan,
    tls: Option<&TlsClient>,
    pattern: &Arc<Pattern>,
    shared: &Arc<Shared>,
) -> Result<Vec<Job>, String> {
    let groups: Vec<Group> = match plan.load {
        Load::Udp { messages, timeout } => {
            open_all(plan, "open a UDP socket to", "socket", open_udp)?
                .into_iter()
                .map(|sockets| Group::Udp {
                    sockets,
                    size: messages.size as usize,
                    timeout,
                })
                .collect()
        }
        _ => open_all(plan, "connect to", "connection", open_tcp)?
            .into_iter()
            .map(|streams| Group::Tcp {
                streams,
                tls: tls.cloned(),
                websocket: plan.websocket,
            })
            .collect(),
    };
    groups
        .into_iter()
        .enumerate()
        .map(|(index, group)| {
            let worker = Worker::new(index, group, plan, pattern.clone(), shared.clone())?;
            Ok(Box::new(move |start_line: &Barrier| worker.run(start_line)) as Job)
        })
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("cannot set up the poll: {e}"))
}

/// Starts a thread for each of `jobs` (with `stack` bytes of stack, if
/// given), lets them go together, prints progress to `err` (and `live`)
/// and collects their reports.
fn run_jobs(
    plan: &Plan,
    err: &mut dyn Write,
    mut live: Option<&mut LiveStream>,
    jobs: Vec<Job>,
    stack: Option<usize>,
    shared: &Shared,
) -> Result<Vec<ThreadReport>, String> {
    let threads = jobs.len();
    let start_line = Arc::new(Barrier::new(threads + 1));
    let (reports_tx, reports) = mpsc::channel();
    let mut handles = Vec::with_capacity(threads);
    for (index, job) in jobs.into_iter().enumerate() {
        let start_line = start_line.clone();
        let reports_tx = reports_tx.clone();
        let mut builder = thread::Builder::new().name(format!("loadgen-{index}"));
        if let Some(bytes) = stack {
            builder = builder.stack_size(bytes);
        }
        let handle = builder
            .spawn(move || {
                let _ = reports_tx.send(job(&start_line));
            })
            // The threads started so far wait at the start line until the
            // process exits.
            .map_err(|e| format!("cannot start load thread {} of {threads}: {e}", index + 1))?;
        handles.push(handle);
    }
    drop(reports_tx);
    start_line.wait();

    // Progress once a second until every thread has reported. Each wait is
    // bounded; the threads end by themselves at their deadlines.
    let start = now_ns();
    if let Some(live) = live.as_deref_mut() {
        live.begin(plan, start);
    }
    let mut collected = Vec::with_capacity(threads);
    let mut last = (start, 0u64, 0u64);
    let mut next_tick = start + NANOS_PER_SEC;
    while collected.len() < threads {
        let wait = Duration::from_nanos(next_tick.saturating_sub(now_ns()));
        match reports.recv_timeout(wait) {
            Ok(report) => collected.push(report),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                last = progress(err, plan, shared, start, last);
                if let Some(live) = live.as_deref_mut() {
                    live.second(shared, err);
                }
                next_tick += NANOS_PER_SEC;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // The part of a second since the last line, so that a run (or a
    // search's step) shorter than a second has its line too.
    if let Some(live) = live {
        live.second(shared, err);
    }
    let mut panicked = false;
    for handle in handles {
        panicked |= handle.join().is_err();
    }
    if panicked || collected.len() < threads {
        return Err("a load thread failed".into());
    }
    Ok(collected)
}

/// Prints one progress line; returns the new (time, completed, received).
fn progress(
    err: &mut dyn Write,
    plan: &Plan,
    shared: &Shared,
    start: u64,
    (last_time, last_completed, last_received): (u64, u64, u64),
) -> (u64, u64, u64) {
    let now = now_ns();
    let completed = shared.completed.load(Ordering::Relaxed);
    let received = shared.received.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    let seconds = (now - last_time) as f64 / 1e9;
    let elapsed = (now - start) as f64 / 1e9;
    let rate = (received - last_received) as f64 / seconds;
    let _ = match (&plan.load, plan.load.messages()) {
        (Load::Bulk { bytes, .. }, _) => writeln!(
            err,
            "[{elapsed:6.1}s] {:8.3} GB/s   {:.1} of {:.1} MiB echoed   errors {errors}",
            rate / 1e9,
            received as f64 / (1 << 20) as f64,
            *bytes as f64 / (1 << 20) as f64,
        ),
        (load, messages) => {
            let warming_up = messages.is_some_and(|m| elapsed < m.warmup.as_secs_f64());
            let phase = if warming_up { "  (warm-up)" } else { "" };
            let lost = if let Load::Udp { .. } = load {
                let lost = shared.lost_datagrams.load(Ordering::Relaxed);
                format!(" (lost datagrams {lost})")
            } else {
                String::new()
            };
            // Churn completes lifecycles, each one echo.
            let unit = match load {
                Load::Churn(_) => "lifecycles/s",
                _ => "msg/s",
            };
            writeln!(
                err,
                "[{elapsed:6.1}s] {:10.0} {unit} {:9.2} MB/s   errors {errors}{lost}{phase}",
                (completed - last_completed) as f64 / seconds,
                rate / 1e6,
            )
        }
    };
    (now, completed, received)
}
