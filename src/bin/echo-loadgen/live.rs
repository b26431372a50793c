//! `--progress-json PATH`: the run as it goes, one JSON object a second
//! ([`ProgressLine`]), flushed as it is written, for a script or a plot
//! to follow a long run or a rate search while it lasts.
//!
//! The progress line on stderr says the same to a person; this says it to
//! a program, with what the line leaves out: the latency percentiles of
//! each second (of the echoes completed in it, warm-up included, from the
//! latencies the threads publish every `PUBLISH_EVERY`, so a latency may
//! land in the second after its echo's) and, in a search, the offered rate
//! of the step the second belongs to. Each run (each step) ends with a
//! line for the part of a second since its last, so a run shorter than a
//! second has one too; rates are per second of the time a line covers.
//! The offered rate of a second is the
//! schedule's (`--rate`) over the part of the second in which messages
//! were due: a second of drain offered nothing.
//!
//! With `-` the lines go to stdout, which then carries nothing else (the
//! table goes to stderr, and `--json` is refused, see `cli`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::Ordering;

use echo_reactor::tools::report::ProgressLine;

use crate::counters::Shared;
use crate::model::{Pace, Plan, ProgressSink};
use crate::timer::{nanos, now_ns};

/// Where the lines go, and what the last one counted.
pub struct LiveStream {
    out: Box<dyn Write>,
    /// Where the lines go, for an error message.
    name: String,
    /// When the stream began: `elapsed_s` counts from here, across the
    /// steps of a search.
    began: u64,
    /// The offered rate of the search's step under way, if searching.
    step: Option<f64>,
    /// The run under way: when it started and stops sending, if paced.
    run: Option<Window>,
    /// When the last line was written, and the echoes completed by then.
    last: (u64, u64),
    /// A write failed: said once, and nothing more is written.
    broken: bool,
}

/// When a run's messages are due, at what rate.
#[derive(Clone, Copy)]
struct Window {
    rate: f64,
    start: u64,
    stop_sending: u64,
}

impl LiveStream {
    /// Opens (creates) the stream's file, or takes stdout.
    pub fn open(sink: &ProgressSink) -> io::Result<LiveStream> {
        let (out, name): (Box<dyn Write>, String) = match sink {
            ProgressSink::Stdout => (Box::new(io::stdout()), "stdout".into()),
            ProgressSink::File(path) => (
                Box::new(BufWriter::new(File::create(path)?)),
                path.display().to_string(),
            ),
        };
        let now = now_ns();
        Ok(LiveStream {
            out,
            name,
            began: now,
            step: None,
            run: None,
            last: (now, 0),
            broken: false,
        })
    }

    /// The lines from here on belong to a search's step at `rate`.
    pub fn set_step(&mut self, rate: f64) {
        self.step = Some(rate);
    }

    /// A run of `plan` started at `start`, its counters at zero.
    pub fn begin(&mut self, plan: &Plan, start: u64) {
        self.run = plan
            .load
            .messages()
            .and_then(|messages| match messages.pace {
                Pace::Rate(rate) => Some(Window {
                    rate,
                    start,
                    stop_sending: start + nanos(messages.warmup) + nanos(messages.duration),
                }),
                Pace::ClosedLoop { .. } => None,
            });
        self.last = (start, 0);
    }

    /// Writes the line of the second (or, at a run's end, the part of one)
    /// that ends now, from `shared`; a
    /// write that fails is said once on `err`, and ends the stream.
    pub fn second(&mut self, shared: &Shared, err: &mut dyn Write) {
        let now = now_ns();
        let completed = shared.completed.load(Ordering::Relaxed);
        let errors = shared.errors.load(Ordering::Relaxed);
        let (last_time, last_completed) = std::mem::replace(&mut self.last, (now, completed));
        let latencies = shared.take_live();
        if self.broken {
            return;
        }
        let seconds = now.saturating_sub(last_time).max(1) as f64 / 1e9;
        let percentile = |q: f64| {
            latencies
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(q) as f64 / 1e3)
        };
        let line = ProgressLine {
            elapsed_s: now.saturating_sub(self.began) as f64 / 1e9,
            offered_per_s: self.run.map(|window| {
                let from = last_time.max(window.start);
                let to = now.min(window.stop_sending);
                window.rate * to.saturating_sub(from) as f64 / 1e9 / seconds
            }),
            achieved_per_s: completed.saturating_sub(last_completed) as f64 / seconds,
            p50_us: percentile(0.50),
            p99_us: percentile(0.99),
            p999_us: percentile(0.999),
            errors,
            step_offered_per_s: self.step,
        };
        let written = serde_json::to_string(&line)
            .map_err(io::Error::other)
            .and_then(|json| writeln!(self.out, "{json}"))
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            let _ = writeln!(err, "cannot write --progress-json to {}: {e}", self.name);
            self.broken = true;
        }
    }
}
