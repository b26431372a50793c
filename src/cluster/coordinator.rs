//! The coordinator: a small loop on the calling thread that watches the
//! reactors and serves what they share.
//!
//! It starts each reactor on a thread of its own, then waits in a poll of
//! its own for what concerns them all: a signal (SIGINT/SIGTERM stop every
//! reactor, SIGUSR1 logs the summed counters), the next `--stats-interval`
//! line (summed), a request to the metrics endpoint (answered with the
//! summed counters), and a reactor thread that has returned. A reactor that
//! fails or panics stops the others, and the run returns its error. None of
//! this touches a reactor's hot path: counters are asked for through each
//! reactor's [`Handle`](crate::Handle), between two of its polls.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{error, info};
use mio::{Events, Poll, Token, Waker};

use super::endpoint::Endpoint;
use super::ClusterHandle;
use crate::error::{Error, ReactorFailure};
use crate::signals::{Request, SignalSource};
use crate::stats::{Stats, StatsLog};

/// Token of the coordinator's waker: a reactor thread has finished.
const REACTOR_DONE: Token = Token(0);
/// Token of the coordinator's signal source.
const SIGNALS: Token = Token(1);

/// One reactor's whole life, to be run on a thread of its own.
pub(super) type Runner = Box<dyn FnOnce() -> Result<Stats, Error> + Send>;

/// How a reactor thread ended: its `run`'s result, or its panic.
type Outcome = thread::Result<Result<Stats, Error>>;

/// What the coordinator does besides watching the reactors.
#[derive(Default)]
pub(super) struct Coordination {
    pub(super) handle_signals: bool,
    pub(super) stats_interval: Option<Duration>,
    pub(super) metrics: Option<mio::net::TcpListener>,
}

/// Runs each reactor on its own thread and watches them from this one;
/// returns once every reactor has returned: their summed counters, or the
/// first failure.
pub(super) fn coordinate(
    runners: Vec<Runner>,
    handle: &ClusterHandle,
    settings: Coordination,
) -> Result<Stats, Error> {
    Coordinator::start(runners, handle, settings)?.run()
}

/// The coordinator's state while the reactors run.
struct Coordinator<'a> {
    poll: Poll,
    /// Woken by each reactor thread as it ends. Held here for the whole
    /// run: the last thread to end would otherwise drop it, closing its
    /// descriptor, which removes it from the poll with its wake-up unread.
    _waker: Arc<Waker>,
    handle: &'a ClusterHandle,
    signals: Option<SignalSource>,
    endpoint: Option<Endpoint>,
    stats_log: Option<StatsLog>,
    /// Shutdown was asked for (`/healthz` answers 503 from then on).
    draining: bool,
    threads: Vec<JoinHandle<()>>,
    /// Reactor threads report here, with their index, as they end.
    finished: mpsc::Receiver<(usize, Outcome)>,
    stopped: usize,
    total: Stats,
    failure: Option<Error>,
}

impl<'a> Coordinator<'a> {
    /// Sets up the poll and its sources, then starts every reactor.
    fn start(
        runners: Vec<Runner>,
        handle: &'a ClusterHandle,
        settings: Coordination,
    ) -> Result<Coordinator<'a>, Error> {
        let poll = Poll::new().map_err(Error::reactor("create the coordinator's poller"))?;
        let waker = Arc::new(
            Waker::new(poll.registry(), REACTOR_DONE)
                .map_err(Error::reactor("create the coordinator's waker"))?,
        );
        let signals = match settings.handle_signals {
            true => Some(SignalSource::register(poll.registry(), SIGNALS)?),
            false => None,
        };
        let endpoint = match settings.metrics {
            Some(listener) => Some(
                Endpoint::register(poll.registry(), listener)
                    .map_err(Error::reactor("register the metrics endpoint"))?,
            ),
            None => None,
        };
        let (done, finished) = mpsc::channel();
        let mut threads = Vec::with_capacity(runners.len());
        for (index, runner) in runners.into_iter().enumerate() {
            let done = done.clone();
            let waker = Arc::clone(&waker);
            let thread = thread::Builder::new()
                .name(format!("reactor-{index}"))
                .spawn(move || {
                    let outcome = panic::catch_unwind(AssertUnwindSafe(runner));
                    let _ = done.send((index, outcome));
                    let _ = waker.wake();
                })
                .map_err(Error::reactor("start a reactor thread"))?;
            threads.push(thread);
        }
        Ok(Coordinator {
            poll,
            _waker: waker,
            handle,
            signals,
            endpoint,
            stats_log: settings
                .stats_interval
                .map(|every| StatsLog::new(every, Instant::now())),
            draining: false,
            threads,
            finished,
            stopped: 0,
            total: Stats::default(),
            failure: None,
        })
    }

    /// The loop: until every reactor has returned.
    fn run(mut self) -> Result<Stats, Error> {
        let mut events = Events::with_capacity(16);
        while self.stopped < self.threads.len() {
            match self.poll.poll(&mut events, self.timeout()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.handle.stop_now();
                    return Err(Error::Reactor {
                        what: "wait for signals",
                        source,
                    });
                }
            }
            self.on_signals();
            self.serve_endpoint(&events);
            self.collect_finished();
            self.log_stats_line();
        }
        self.finish()
    }

    /// Until the next stats line or request deadline, if any; none when
    /// clients still wait in the endpoint's accept queue.
    fn timeout(&self) -> Option<Duration> {
        if self.endpoint.as_ref().is_some_and(Endpoint::more_queued) {
            return Some(Duration::ZERO);
        }
        [
            self.stats_log.as_ref().map(StatsLog::due),
            self.endpoint.as_ref().and_then(Endpoint::next_deadline),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|due| due.saturating_duration_since(Instant::now()))
    }

    /// Signals received: log the summed counters, or stop every reactor.
    fn on_signals(&mut self) {
        let Some(signals) = &mut self.signals else {
            return;
        };
        for request in signals.requests() {
            match request {
                Request::LogStats => {
                    if let Some(stats) = self.handle.stats() {
                        info!("{stats}");
                    }
                }
                Request::ShutDown(signal) => {
                    info!(
                        "{signal} received: stopping {} reactors",
                        self.threads.len()
                    );
                    self.draining = true;
                    self.handle.stop();
                }
            }
        }
    }

    /// The metrics endpoint's events, then its requests whose time is up.
    fn serve_endpoint(&mut self, events: &Events) {
        let Some(endpoint) = &mut self.endpoint else {
            return;
        };
        for event in events.iter().filter(|e| Endpoint::owns(e.token())) {
            endpoint.on_event(
                self.poll.registry(),
                event.token(),
                self.handle,
                self.draining,
            );
        }
        endpoint.accept_queued(self.poll.registry(), self.handle, self.draining);
        endpoint.expire(Instant::now());
    }

    /// Reactor threads that have returned: add up their counters, or stop
    /// the others on the first failure.
    fn collect_finished(&mut self) {
        while let Ok((index, outcome)) = self.finished.try_recv() {
            self.stopped += 1;
            let cause = match outcome {
                Ok(Ok(stats)) => {
                    self.total.add(&stats);
                    continue;
                }
                Ok(Err(e)) => ReactorFailure::Error(Box::new(e)),
                Err(panic) => ReactorFailure::Panic(panic_message(panic.as_ref())),
            };
            let failed = Error::ReactorFailed { index, cause };
            error!("{failed}; stopping the others");
            self.failure.get_or_insert(failed);
            self.handle.stop_now();
        }
    }

    /// `--stats-interval`: the summed counters, when a line is due.
    fn log_stats_line(&mut self) {
        let Some(log) = &mut self.stats_log else {
            return;
        };
        let now = Instant::now();
        if now < log.due() {
            return;
        }
        match self.handle.stats() {
            Some(stats) if self.stopped == 0 => info!("{}", log.line(stats, now)),
            // A reactor has stopped: the interval lines end here.
            _ => self.stats_log = None,
        }
    }

    /// Every reactor has returned: join their threads, and give the total
    /// or the first failure.
    fn finish(self) -> Result<Stats, Error> {
        for thread in self.threads {
            // Each thread caught its reactor's panic and reported it;
            // what is left to join cannot panic.
            let _ = thread.join();
        }
        match self.failure {
            None => {
                info!("all {} reactors shut down; {}", self.stopped, self.total);
                Ok(self.total)
            }
            Some(failed) => Err(failed),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "no message".to_string()
    }
}
