//! The signals a server answers, as events of its poll.
//!
//! A signal handler may do almost nothing safely, so it does not stop the
//! server itself: signal-hook-mio's handler writes to a pipe registered with
//! the poll, and the signal becomes one more event, handled between two
//! others like any socket's. Both the single reactor ([`Server`]) and the
//! coordinator of several ([`Cluster`]) listen this way, and read what each
//! signal asks for from [`Request`].
//!
//! - SIGINT and SIGTERM: graceful shutdown (a second one closes everything
//!   at once);
//! - SIGUSR1: log the counters.
//!
//! [`Server`]: crate::Server
//! [`Cluster`]: crate::Cluster

use mio::{Interest, Registry, Token};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;

use crate::error::Error;

/// What a received signal asks the server to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Shut down gracefully (again: at once). The text names the signal,
    /// for the log.
    ShutDown(&'static str),
    /// Log the counters.
    LogStats,
}

/// The server's signal source, registered with a poll.
pub struct SignalSource(Signals);

impl SignalSource {
    /// Installs the handlers for SIGINT, SIGTERM and SIGUSR1 and registers
    /// their pipe with `registry` under `token`.
    pub fn register(registry: &Registry, token: Token) -> Result<SignalSource, Error> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGUSR1])
            .map_err(Error::reactor("install signal handlers"))?;
        registry
            .register(&mut signals, token, Interest::READABLE)
            .map_err(Error::reactor("register signals with the poller"))?;
        Ok(SignalSource(signals))
    }

    /// What the signals received since the last call ask for, in order.
    pub fn requests(&mut self) -> Vec<Request> {
        self.0
            .pending()
            .map(|signal| match signal {
                SIGUSR1 => Request::LogStats,
                SIGINT => Request::ShutDown("SIGINT"),
                _ => Request::ShutDown("SIGTERM"),
            })
            .collect()
    }
}
