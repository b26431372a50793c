//! Several reactors, one per thread, sharing each address with `SO_REUSEPORT`.
//!
//! One reactor uses one core. To use more, this module runs N independent
//! [`Server`]s, each with its own thread, `Poll`, slab and listening
//! sockets, all bound to the same addresses with `SO_REUSEPORT`: the kernel
//! hashes each new connection's addresses and ports to pick the listener,
//! so connections spread over the reactors with no user-space hand-off.
//! Nothing is shared on the hot path: no locks, no atomics per event. A
//! connection stays on the reactor that accepted it for its whole life.
//!
//! What the reactors do share is handled here, off the hot path, by a small
//! coordinator loop on the calling thread: signals (SIGINT/SIGTERM stop every
//! reactor; SIGUSR1 logs the summed counters), `--stats-interval` lines
//! (summed), and watching the reactor threads. A reactor thread that
//! panics is a bug; if one does, the coordinator stops the others and
//! returns an error, rather than serving on with fewer reactors than it
//! claims.
//!
//! The spread is only as even as the hash: with few connections one reactor
//! may get more than its share, and a connection that turns busy stays on
//! its reactor. Limits are divided evenly: each reactor may hold
//! `max_connections / N`.

use std::net::SocketAddr;
use std::time::Duration;

use log::info;

use crate::config::Config;
use crate::error::Error;
use crate::handle::Handle;
use crate::server::Server;
use crate::socket;
use crate::stats::Stats;

mod coordinator;
mod endpoint;
use coordinator::{coordinate, Coordination, Runner};

/// N bound reactors, ready to [`run`](Cluster::run).
pub struct Cluster {
    servers: Vec<Server>,
    local_addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
    stats_interval: Option<Duration>,
    handle_signals: bool,
    /// `--metrics`, served by the coordinator with the summed counters.
    metrics: Option<mio::net::TcpListener>,
}

/// Stops every reactor of a running [`Cluster`], or reads their counters,
/// from any thread.
#[derive(Clone)]
pub struct ClusterHandle {
    handles: Vec<Handle>,
}

impl ClusterHandle {
    /// Asks every reactor to shut down gracefully (see [`Handle::stop`]);
    /// a second call closes everything at once.
    pub fn stop(&self) {
        for handle in &self.handles {
            handle.stop();
        }
    }

    /// Closes every connection of every reactor at once, without a drain:
    /// a graceful stop followed by the second request that skips the wait
    /// (as a second SIGTERM does).
    pub fn stop_now(&self) {
        self.stop();
        self.stop();
    }

    /// Each reactor's counters, in reactor order; `None` once any has stopped.
    pub fn stats_per_reactor(&self) -> Option<Vec<Stats>> {
        self.handles.iter().map(Handle::stats).collect()
    }

    /// Like [`stats`](ClusterHandle::stats), but `None` if any reactor does
    /// not answer within `limit` (each is asked in turn, so the whole may
    /// take up to `limit` per reactor).
    pub fn stats_timeout(&self, limit: Duration) -> Option<Stats> {
        let mut total = Stats::default();
        for handle in &self.handles {
            total.add(&handle.stats_timeout(limit)?);
        }
        Some(total)
    }

    /// The counters of all reactors added up (see [`Stats::add`]).
    pub fn stats(&self) -> Option<Stats> {
        let mut total = Stats::default();
        for stats in self.stats_per_reactor()? {
            total.add(&stats);
        }
        Some(total)
    }
}

impl Cluster {
    /// Binds `reactors` servers on every address of `config.listen`. The
    /// first one binds as asked (port 0 picks a free port); the others bind
    /// to the ports it got. The connection limit (given, or derived from
    /// the open-files limit) is divided among them.
    pub fn bind(mut config: Config, reactors: usize) -> Result<Cluster, Error> {
        if reactors == 0 {
            return Err(Error::Config(crate::config::ConfigError::NoReactors));
        }
        // Each reactor keeps its own fault table: one API cannot change
        // them all.
        if config.admin.is_some() && reactors > 1 {
            return Err(Error::Config(
                crate::config::ConfigError::AdminNeedsOneReactor,
            ));
        }
        // Before the limits are divided: a share is never refused, so a
        // value a single server refuses must be refused here too.
        config.validate().map_err(Error::Config)?;
        let total = config.connection_limit()?;
        let each = (total / reactors).max(1);
        config.max_connections = Some(each);
        // The memory budget is divided too, so the reactors share nothing
        // on the hot path and together stay within the whole.
        let (memory, memory_source) = config.memory_budget();
        let memory_each = (memory / reactors).max(1);
        config.max_memory = Some(memory_each);
        config.reuse_port = true;
        // Logged here, summed over the reactors, rather than by each.
        let stats_interval = config.stats_interval.take();
        // Served here, with the counters summed, rather than by each.
        let metrics = match config.metrics.take() {
            Some(addr) => Some(
                socket::tcp_listener(addr, crate::http::admission::BACKLOG, false)
                    .map_err(|source| Error::Listen { addr, source })?,
            ),
            None => None,
        };

        // One certificate for all: a self-signed one is made here, once.
        if let Some(identity) = &config.tls_identity {
            config.tls_identity = Some(identity.resolve().map_err(Error::Tls)?);
        }

        let first = Server::bind(config.clone())?;
        let local_addrs = first.local_addrs().to_vec();
        config.listen = local_addrs.clone();
        let tls_addrs = first.tls_addrs().to_vec();
        config.tls_listen = tls_addrs.clone();
        // The whoami addresses: the plain ones first, then the TLS ones.
        let (plain, tls) = first.whoami_addrs().split_at(config.whoami_listen.len());
        (config.whoami_listen, config.whoami_tls_listen) = (plain.to_vec(), tls.to_vec());
        if let Some(faults) = first.fault_table() {
            config.faults = faults.clone();
        }
        let mut servers = vec![first];
        for reactor in 1..reactors {
            config.reactor = reactor;
            servers.push(Server::bind(config.clone())?);
        }
        info!(
            "{reactors} reactors share each address: up to {each} connections each \
             ({total} divided by {reactors}), a memory budget of {memory_each} B each \
             ({memory} B from {memory_source}, divided by {reactors})"
        );
        if let Some(local) = metrics.as_ref().and_then(|l| l.local_addr().ok()) {
            info!("metrics on http://{local}/metrics, health on http://{local}/healthz");
        }
        Ok(Cluster {
            servers,
            local_addrs,
            tls_addrs,
            stats_interval,
            handle_signals: false,
            metrics,
        })
    }

    /// The addresses listened on, in the order of `config.listen`.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The TLS addresses listened on, in the order of `config.tls_listen`.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// Where the metrics endpoint listens (`--metrics`), if it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// A handle to stop every reactor or read their counters.
    pub fn handle(&self) -> ClusterHandle {
        ClusterHandle {
            handles: self.servers.iter().map(Server::handle).collect(),
        }
    }

    /// SIGINT and SIGTERM stop every reactor gracefully (a second one closes
    /// everything at once); SIGUSR1 logs the summed counters. Installed
    /// when [`run`](Cluster::run) starts.
    pub fn handle_signals(&mut self) {
        self.handle_signals = true;
    }

    /// Runs every reactor on a thread of its own and coordinates them from
    /// this one until all have shut down; returns their summed counters.
    pub fn run(self) -> Result<Stats, Error> {
        let handle = self.handle();
        let runners = self
            .servers
            .into_iter()
            .map(|server| -> Runner { Box::new(move || server.run()) })
            .collect();
        let settings = Coordination {
            handle_signals: self.handle_signals,
            stats_interval: self.stats_interval,
            metrics: self.metrics,
        };
        coordinate(runners, &handle, settings)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::mpsc;
    use std::thread;

    use super::*;
    use crate::error::ReactorFailure;

    /// Longest any wait in these tests may take before it counts as a
    /// failure.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// Runs [`coordinate`] on a thread of its own and waits for its result
    /// within [`PATIENCE`]: the bug these tests look for, a reactor nobody
    /// stops, would otherwise hang the test run instead of failing it.
    fn coordinate_within_patience(
        runners: Vec<Runner>,
        handle: &ClusterHandle,
    ) -> Result<Stats, Error> {
        let handle = handle.clone();
        let (sender, result) = mpsc::channel();
        thread::spawn(move || {
            let _ = sender.send(coordinate(runners, &handle, Coordination::default()));
        });
        match result.recv_timeout(PATIENCE) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("coordinate() did not return within {PATIENCE:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("coordinate() panicked"),
        }
    }

    /// A blocking client whose every read and write gives up after
    /// [`PATIENCE`].
    fn connect(addr: SocketAddr) -> TcpStream {
        let client = TcpStream::connect(addr).unwrap();
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        client.set_write_timeout(Some(PATIENCE)).unwrap();
        client
    }

    /// A real reactor on an ephemeral port, as a runner, with its handle
    /// and address.
    fn real_reactor() -> (Runner, Handle, SocketAddr) {
        let server =
            Server::bind(Config::listening_on("127.0.0.1:0".parse().unwrap())).expect("bind");
        let handle = server.handle();
        let addr = server.local_addrs()[0];
        (Box::new(move || server.run()), handle, addr)
    }

    #[test]
    fn a_panicking_reactor_stops_the_others_and_fails_the_run() {
        let (runner, real, _) = real_reactor();
        let handle = ClusterHandle {
            handles: vec![real.clone()],
        };
        let doomed: Runner = Box::new(|| panic!("reactor bug for this test"));
        let result = coordinate_within_patience(vec![runner, doomed], &handle);
        let error = result.expect_err("a panicked reactor must fail the run");
        assert!(
            matches!(
                &error,
                Error::ReactorFailed {
                    index: 1,
                    cause: ReactorFailure::Panic(what),
                } if what == "reactor bug for this test"
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "reactor 1 panicked: reactor bug for this test"
        );
        // coordinate joins every thread before returning: the real reactor
        // was stopped, so its handle gets no answer any more.
        assert!(real.stats_timeout(PATIENCE).is_none());
    }

    #[test]
    fn reactors_that_stop_cleanly_add_up_their_counters() {
        let (first, one, first_addr) = real_reactor();
        let (second, two, second_addr) = real_reactor();
        let handle = ClusterHandle {
            handles: vec![one, two],
        };
        let stopper = handle.clone();
        let clients = thread::spawn(move || {
            for (addr, message) in [(first_addr, &b"one"[..]), (second_addr, &b"three"[..])] {
                let mut client = connect(addr);
                client.write_all(message).unwrap();
                let mut echo = vec![0; message.len()];
                client.read_exact(&mut echo).unwrap();
                assert_eq!(echo, message);
            }
            stopper.stop();
        });
        let total = coordinate_within_patience(vec![first, second], &handle).expect("clean run");
        // Its reads and writes time out, so this join is bounded too.
        clients.join().unwrap();
        assert_eq!(total.accepted, 2);
        assert_eq!((total.bytes_in, total.bytes_out), (8, 8));
    }
}
