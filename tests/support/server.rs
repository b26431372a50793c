//! The reactor on a thread of the test process: started on an ephemeral
//! loopback port, asked for its counters, stopped; stopped and joined when
//! dropped, so a test that fails half-way leaves no server behind, and a
//! server that panicked fails the test that ran it.

use std::net::SocketAddr;
use std::panic;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use echo_reactor::{Config, Handle, Server, Stats};

use super::wait::{join_within, PATIENCE};

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
        let server = Server::bind(config).expect("bind the server");
        let addr = server.local_addrs()[0];
        let handle = server.handle();
        let thread = thread::spawn(move || server.run().expect("server run"));
        InProcess {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    pub fn stats(&self) -> Stats {
        self.handle.stats().expect("server answers stats")
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
    pub fn stop(mut self) -> Stats {
        self.handle.stop();
        let thread = self.thread.take().unwrap();
        join_within("the server thread", thread, PATIENCE)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.stop();
        self.handle.stop(); // second request: skip the drain
        let deadline = Instant::now() + PATIENCE;
        while !thread.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        // A test that is already failing keeps its own message (a second
        // panic while unwinding would abort the run); otherwise a server
        // that failed or would not stop fails the test.
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
}
