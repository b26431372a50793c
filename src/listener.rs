//! Listening sockets, and what to do when `accept` fails.
//!
//! Sockets are made with socket2 rather than `TcpListener::bind` so the
//! server chooses the accept backlog (a load test opens connections in
//! bursts) and sets `IPV6_V6ONLY`, which lets `[::]:P` and `0.0.0.0:P` be
//! listened on together.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// First pause after `accept` runs out of file descriptors or memory.
pub(crate) const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// The pause doubles on every failed retry, up to this.
pub(crate) const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Binds a non-blocking listening socket on `addr`; with `reuse_port`,
/// with `SO_REUSEPORT`, so several reactors can listen on the same address
/// and the kernel spreads new connections among them.
pub(crate) fn bind(
    addr: SocketAddr,
    backlog: u32,
    reuse_port: bool,
) -> io::Result<mio::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    // Restarting the server must not wait for old connections in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// What a failed `accept` means for the accept loop.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AcceptFailure {
    /// The accept queue is empty (`EAGAIN`): wait for the next edge.
    QueueEmpty,
    /// Only this one connection failed (it was reset while queued, a signal
    /// interrupted the call, a firewall rule refused it): take the next.
    TryNext,
    /// The process or system is out of file descriptors or memory
    /// (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`). Retrying now would fail
    /// again and again: the queued connection stays queued, so an eager
    /// retry loop spins at 100 % CPU. Pause and retry later.
    OutOfResources,
}

impl AcceptFailure {
    pub(crate) fn of(err: &io::Error) -> AcceptFailure {
        match err.kind() {
            io::ErrorKind::WouldBlock => return AcceptFailure::QueueEmpty,
            io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::PermissionDenied => return AcceptFailure::TryNext,
            _ => {}
        }
        match err.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                AcceptFailure::OutOfResources
            }
            // Linux passes pending network errors of the new socket to
            // accept(2); its man page says to treat them like EAGAIN and
            // retry, i.e. take the next one.
            Some(
                libc::EPROTO
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
                | libc::ENETDOWN
                | libc::ETIMEDOUT,
            ) => AcceptFailure::TryNext,
            // Anything else is unexpected; pausing is the safe answer, as
            // retrying an error that repeats would spin.
            _ => AcceptFailure::OutOfResources,
        }
    }
}

/// Whether, and why, the server is not accepting right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptGate {
    Open,
    /// `max_connections` are open; reopens when one closes.
    AtLimit,
    /// `accept` ran out of resources; retry at `until`, or sooner if a
    /// connection closes and frees a descriptor.
    BackingOff {
        until: std::time::Instant,
    },
    /// Shutting down: the listeners are gone.
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_pauses_but_a_dead_queued_connection_does_not() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let enfile = io::Error::from_raw_os_error(libc::ENFILE);
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        let again = io::Error::from_raw_os_error(libc::EAGAIN);
        assert_eq!(AcceptFailure::of(&emfile), AcceptFailure::OutOfResources);
        assert_eq!(AcceptFailure::of(&enfile), AcceptFailure::OutOfResources);
        assert_eq!(AcceptFailure::of(&aborted), AcceptFailure::TryNext);
        assert_eq!(AcceptFailure::of(&again), AcceptFailure::QueueEmpty);
    }

    #[test]
    fn ipv4_and_ipv6_wildcards_share_a_port() {
        let v6 = match bind("[::1]:0".parse().unwrap(), 16, false) {
            Ok(listener) => listener,
            Err(_) => return, // no IPv6 on this host
        };
        let port = v6.local_addr().unwrap().port();
        let v4 = bind(SocketAddr::from(([127, 0, 0, 1], port)), 16, false);
        assert!(v4.is_ok(), "{v4:?}");
    }
}
