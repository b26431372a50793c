//! The errors that stop a server from starting or running.
//!
//! Per-connection failures (a reset, a broken pipe) are never errors here:
//! they close that one connection and are logged. Only what takes the whole
//! server down reaches the caller, and each error says what was being done.
//!
//! Every variant is typed, with the values involved: a bad configuration
//! is a [`ConfigError`], a certificate or key that cannot be used a
//! [`TlsError`]. Their text speaks of [`Config`](crate::Config)'s fields
//! and of files, never of command-line flags, which a library caller
//! never typed; the binary words them with its flags' names.

use std::fmt;
use std::io;
use std::net::SocketAddr;

pub use crate::config::ConfigError;
pub use crate::tls::TlsError;

/// Why the server could not start or had to stop.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration has a value with no meaning.
    Config(ConfigError),
    /// The TLS certificate or key cannot be used; it names the file and
    /// what is wrong with it.
    Tls(TlsError),
    /// A listening socket could not be set up on this address.
    Listen {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The poller, waker or signal source failed; `what` names the step.
    Reactor {
        /// The step that failed, e.g. "create the poller".
        what: &'static str,
        /// What the operating system said.
        source: io::Error,
    },
    /// One of several reactors ([`Cluster`](crate::Cluster)) failed or
    /// panicked; the others were stopped.
    ReactorFailed {
        /// Which reactor: its thread is named `reactor-{index}`.
        index: usize,
        /// What became of it.
        cause: ReactorFailure,
    },
}

/// How a reactor of a [`Cluster`](crate::Cluster) ended badly.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReactorFailure {
    /// Its [`Server::run`](crate::Server::run) returned an error.
    Error(Box<Error>),
    /// It panicked (a bug); the panic's message.
    Panic(String),
}

impl Error {
    /// Wraps an I/O error of the step `what`, for `map_err`.
    pub(crate) fn reactor(what: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Reactor { what, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(why) => write!(f, "invalid configuration: {why}"),
            Error::Tls(why) => why.fmt(f),
            Error::Listen { addr, source } => {
                write!(f, "cannot listen on {addr}: {source}")?;
                match source.kind() {
                    io::ErrorKind::AddrInUse => write!(f, " (is another server running on it?)"),
                    io::ErrorKind::PermissionDenied => {
                        write!(f, " (ports below 1024 need privileges)")
                    }
                    io::ErrorKind::AddrNotAvailable => {
                        write!(f, " (no local interface has this address)")
                    }
                    _ => Ok(()),
                }
            }
            Error::Reactor { what, source } => write!(f, "cannot {what}: {source}"),
            Error::ReactorFailed {
                index,
                cause: ReactorFailure::Error(e),
            } => write!(f, "reactor {index} failed: {e}"),
            Error::ReactorFailed {
                index,
                cause: ReactorFailure::Panic(what),
            } => write!(f, "reactor {index} panicked: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Their text is theirs: what they wrap is their source.
            Error::Config(why) => std::error::Error::source(why),
            Error::Tls(why) => std::error::Error::source(why),
            Error::Listen { source, .. } | Error::Reactor { source, .. } => Some(source),
            Error::ReactorFailed {
                cause: ReactorFailure::Error(e),
                ..
            } => Some(e.as_ref()),
            Error::ReactorFailed { .. } => None,
        }
    }
}
