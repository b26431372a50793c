//! The reactor on a thread of the test process ([`InProcess`]), and
//! several reactors sharing a port ([`InCluster`]): started on an
//! ephemeral loopback port, asked for their counters within [`PATIENCE`],
//! stopped; stopped and joined when dropped, so a test that fails half-way
//! leaves no server behind, and a server that panicked fails the test that
//! ran it.

use std::net::SocketAddr;
use std::panic;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use echo_reactor::{Cluster, ClusterHandle, Config, Handle, Server, Stats};

use super::wait::{join_within, within_patience, PATIENCE};

/// The reactor running on a thread of the test process.
pub struct InProcess {
    pub addr: SocketAddr,
    pub handle: Handle,
    thread: Option<JoinHandle<Stats>>,
}

impl InProcess {
    /// Binds `config` (its listen address replaced by an ephemeral loopback
    /// port unless it already names port 0) and runs it on a new thread.
    pub fn start(mut config: Config) -> InProcess {
        if config.listen.iter().all(|a| a.port() != 0) {
            config.listen = vec!["127.0.0.1:0".parse().unwrap()];
        }
        InProcess::start_as_given(config)
    }

    /// Defaults, on an ephemeral port.
    pub fn start_default() -> InProcess {
        InProcess::start(Config::default())
    }

    /// Binds `config` exactly as given (no ephemeral port swapped in, so
    /// a second server can take a port the first one got) and runs it on a
    /// new thread.
    pub fn start_as_given(config: Config) -> InProcess {
        InProcess::run(Server::bind(config).expect("bind the server"))
    }

    /// Runs a server already bound (whose other addresses, such as
    /// `tls_addrs`, the caller has read) on a new thread.
    pub fn run(server: Server) -> InProcess {
        let addr = server.local_addrs()[0];
        let handle = server.handle();
        let thread = thread::spawn(move || server.run().expect("server run"));
        InProcess {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// The server's counters; panics if it does not answer within
    /// [`PATIENCE`] or has stopped.
    pub fn stats(&self) -> Stats {
        self.handle
            .stats_timeout(PATIENCE)
            .unwrap_or_else(|| panic!("the server did not answer stats within {PATIENCE:?}"))
    }

    /// Polls the counters until `done` holds; panics after [`PATIENCE`].
    pub fn wait_for_stats(&self, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let stats = self.stats();
            if done(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; stats: {stats:?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the server and returns its final counters.
    pub fn stop(self) -> Stats {
        self.handle.stop();
        self.join()
    }

    /// Waits, within [`PATIENCE`], for the server to return from its run
    /// (after an earlier stop), and returns its final counters.
    pub fn join(mut self) -> Stats {
        let thread = self.thread.take().unwrap();
        join_within("the server thread", thread, PATIENCE)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            stop_for_good(thread, || {
                self.handle.stop();
                self.handle.stop(); // second request: skip the drain
            });
        }
    }
}

/// A [`Cluster`] of reactors sharing one ephemeral loopback port, run on a
/// thread of the test process.
pub struct InCluster {
    pub addr: SocketAddr,
    pub handle: ClusterHandle,
    thread: Option<JoinHandle<Stats>>,
}

impl InCluster {
    /// Binds `config` (as given: name port 0) with `reactors` reactors and
    /// runs the cluster on a new thread.
    pub fn start(config: Config, reactors: usize) -> InCluster {
        let cluster = Cluster::bind(config, reactors).expect("bind the reactors");
        let addr = cluster.local_addrs()[0];
        let handle = cluster.handle();
        let thread = thread::spawn(move || cluster.run().expect("cluster run"));
        InCluster {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// Each reactor's counters, in reactor order; panics if they do not
    /// all answer within [`PATIENCE`].
    pub fn stats_per_reactor(&self) -> Vec<Stats> {
        let handle = self.handle.clone();
        within_patience("every reactor to answer stats", move || {
            handle.stats_per_reactor()
        })
        .expect("every reactor answers stats")
    }

    /// How many connections each reactor has accepted.
    pub fn accepted_per_reactor(&self) -> Vec<u64> {
        let per = self.stats_per_reactor();
        per.iter().map(|s| s.accepted).collect()
    }

    /// Stops every reactor and returns their summed final counters.
    pub fn stop(self) -> Stats {
        self.handle.stop();
        self.join()
    }

    /// Waits, within [`PATIENCE`], for the cluster to return from its run
    /// (after an earlier stop), and returns the summed final counters.
    pub fn join(mut self) -> Stats {
        let thread = self.thread.take().unwrap();
        join_within("the cluster's coordinator thread", thread, PATIENCE)
    }
}

impl Drop for InCluster {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            stop_for_good(thread, || self.handle.stop_now());
        }
    }
}

/// Asks a server thread to stop with `stop`, and waits for it within
/// [`PATIENCE`]. A test that is already failing keeps its own message (a
/// second panic while unwinding would abort the run); otherwise a server
/// that failed or would not stop fails the test.
fn stop_for_good(thread: JoinHandle<Stats>, stop: impl FnOnce()) {
    stop();
    let deadline = Instant::now() + PATIENCE;
    while !thread.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    if thread::panicking() {
        return;
    }
    assert!(
        thread.is_finished(),
        "the server thread did not stop within {PATIENCE:?}"
    );
    if let Err(panic) = thread.join() {
        panic::resume_unwind(panic);
    }
}
