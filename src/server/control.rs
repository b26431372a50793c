//! What the outside asks of the loop, and when it asks: deadlines, commands
//! from a [`Handle`](crate::Handle), signals, and graceful shutdown.
//!
//! None of this is on the path of a byte. It runs when a timer is due (the
//! loop looks only when one exists), when the waker or the signal pipe
//! raises an event, and once at shutdown.

use std::time::Instant;

use log::{info, trace};
use mio::Registry;

use super::{Entry, Reactor};
use crate::drain;
use crate::faults::counts;
use crate::handle::Command;
use crate::serve::{CloseReason, Role};
use crate::signals::Request;
use crate::stats::Stats;

impl Reactor {
    /// Fires what is due at this turn's time: a stats line, idle timeouts,
    /// the end of an accept pause, the end of the drain.
    pub(super) fn run_timers(&mut self, registry: &Registry) {
        let now = self.now;
        if self.timers.stats_log().is_some_and(|log| now >= log.due()) {
            self.log_stats_line(now);
        }
        while let Some(key) = self.timers.idle().and_then(|idle| idle.expired(now)) {
            self.close(registry, key, CloseReason::Idle);
        }
        while let Some((deadline, key)) = self.timers.pop_due_stage(now) {
            self.expire_stage(registry, key, deadline);
        }
        self.wake_due(registry, now);
        if self.timers.request().is_some_and(|at| now >= at) {
            while let Some(key) = self.features.request_timed_out(now) {
                self.time_out(registry, key);
            }
        }
        if self.timers.accept_retry().is_some_and(|at| now >= at) {
            self.resume_accepting(registry);
        }
        if self.timers.goodbye_sweep().is_some_and(|at| now >= at) {
            self.sweep_for_goodbyes(registry);
        }
        if let Some(deadline) = self.timers.drain() {
            if now >= deadline && self.cx.stats.active > 0 {
                info!(
                    "drain timeout: closing {} connections that still had work",
                    self.cx.stats.active
                );
                self.close_all(registry);
            }
        }
    }

    /// A stage deadline passed: the stage at `key` is closed if it is still
    /// the one the deadline was set for (the key may have moved on to the
    /// next stage, or to another connection).
    fn expire_stage(&mut self, registry: &Registry, key: usize, deadline: Instant) {
        let still_its_own = self
            .entries
            .get_mut(key)
            .and_then(Entry::stage)
            .is_some_and(|stage| stage.deadline() == Some(deadline));
        if still_its_own {
            self.time_out(registry, key);
        }
    }

    /// Closes the entry on `key` for its deadline, for the reason its
    /// stage gives.
    fn time_out(&mut self, registry: &Registry, key: usize) {
        if let Some(stage) = self.entries.get_mut(key).and_then(Entry::stage) {
            let reason = stage.time_out();
            self.close(registry, key, reason);
        }
    }

    /// Shutdown began and every connection is closed: the loop ends.
    pub(super) fn is_finished(&self) -> bool {
        self.timers.drain().is_some() && self.cx.stats.active == 0
    }

    /// `--stats-interval`: the counters, and the rates since the last line.
    #[cold]
    fn log_stats_line(&mut self, now: Instant) {
        let stats = self.snapshot();
        if let Some(log) = self.timers.stats_log() {
            info!("{}", log.line(stats, now));
        }
        self.log_faults_by_listener();
    }

    /// The faults applied on each fault listener, beside the counters
    /// line: listeners are named at run time, so they are not counters of
    /// `Stats`.
    fn log_faults_by_listener(&self) {
        if !self.cx.fault_rows.is_empty() {
            info!("faults by listener: {}", counts::line(&self.cx.fault_rows));
        }
    }

    /// Commands queued by [`Handle`](crate::Handle)s, which woke the poll.
    pub(super) fn on_commands(&mut self, registry: &Registry) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Stop => self.shut_down(registry, "stop requested"),
                Command::Stats(reply) => {
                    // The asker may have given up waiting: nothing to do.
                    let _ = reply.send(self.snapshot());
                }
            }
        }
    }

    /// Signals received since the last event of the signal pipe.
    pub(super) fn on_signals(&mut self, registry: &Registry) {
        let Some(signals) = &mut self.signals else {
            return;
        };
        for request in signals.requests() {
            match request {
                Request::LogStats => {
                    info!("{}", self.snapshot());
                    self.log_faults_by_listener();
                }
                Request::ShutDown(signal) => {
                    self.shut_down(registry, &format!("{signal} received"))
                }
            }
        }
    }

    /// Graceful shutdown: close the listeners, say goodbye (FIN) to every
    /// connection with nothing left to echo, and give the rest until the
    /// drain deadline. A second request skips the wait.
    fn shut_down(&mut self, registry: &Registry, why: &str) {
        if self.timers.drain().is_some() {
            info!(
                "{why} again: closing {} connections now",
                self.cx.stats.active
            );
            self.close_all(registry);
            return;
        }
        self.now = Instant::now();
        self.timers.set_drain(self.now + self.drain_timeout);
        self.timers.set_accept_retry(None);
        self.acceptor.close();
        self.cx.draining = true;
        // UDP has no connections to drain: its sockets close with the
        // listeners, and datagrams sent after this are refused.
        let sockets = std::mem::take(&mut self.listeners)
            .into_iter()
            .chain(std::mem::take(&mut self.udp_sockets));
        for key in sockets {
            let deregistered = match self.entries.try_remove(key) {
                Some(Entry::Listener(mut listener)) => registry.deregister(&mut listener.socket),
                Some(mut entry) => match entry.stage() {
                    Some(stage) => registry.deregister(stage.source()),
                    None => Ok(()),
                },
                None => Ok(()),
            };
            if let Err(e) = deregistered {
                trace!("token {key}: deregister failed: {e}");
            }
        }
        info!(
            "{why}: stopped accepting; draining {} connections for up to {:?}",
            self.cx.stats.active, self.drain_timeout
        );
        // Serve every connection once, to echo what has arrived, and let
        // each say goodbye as its protocol does (`Stage::drain`). One not
        // ready to (work in flight, a client that sent a moment ago) goes
        // on being served, and is asked again at every sweep until it
        // says it, its client closes, or the drain deadline passes.
        self.lingering = self.connection_keys();
        self.sweep_for_goodbyes(registry);
    }

    /// Drains each lingering connection again; keeps those that still
    /// have not said goodbye, for the next sweep.
    fn sweep_for_goodbyes(&mut self, registry: &Registry) {
        let mut keys = std::mem::take(&mut self.lingering);
        keys.retain(|&key| {
            let Some(stage) = self.entries.get_mut(key).and_then(Entry::stage) else {
                return false; // closed since
            };
            self.cx.key = key;
            let next = stage.drain(&mut self.cx);
            let waiting = !stage.said_goodbye();
            self.after(registry, key, next, Role::Client);
            waiting && self.entries.contains(key)
        });
        self.lingering = keys;
        let next_sweep = (!self.lingering.is_empty()).then(|| Instant::now() + drain::SWEEP_EVERY);
        self.timers.set_goodbye_sweep(next_sweep);
    }

    fn close_all(&mut self, registry: &Registry) {
        for key in self.connection_keys() {
            self.close(registry, key, CloseReason::Shutdown);
        }
    }

    /// The keys of every client's connection, whatever its stage.
    fn connection_keys(&self) -> Vec<usize> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.role() == Some(Role::Client))
            .map(|(key, _)| key)
            .collect()
    }

    /// The counters as they stand.
    pub(super) fn snapshot(&self) -> Stats {
        Stats {
            slab_capacity: self.entries.capacity() as u64,
            ..self.cx.snapshot()
        }
    }
}
