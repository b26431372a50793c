//! Chapter 4: stopping. Signals, handles and the graceful drain.
//!
//! A signal handler can do almost nothing safely, so the binary's
//! SIGINT/SIGTERM/SIGUSR1 arrive as events of the poll, through a pipe
//! ([`signals::SignalSource`](crate::signals::SignalSource)). Another
//! thread stops the server, or reads its counters, through a
//! [`Handle`](crate::Handle): it queues a command and wakes the poll with a
//! `mio::Waker`.
//!
//! A shutdown closes the listeners first, so new clients are refused. Every
//! connection is then served once more; one with nothing in flight gets our
//! FIN ([`Connection::send_fin`](crate::connection::Connection::send_fin)).
//! The others are served in full until their client closes or
//! [`Config::drain_timeout`](crate::Config::drain_timeout) passes: a receive
//! queue that is empty for a moment does not mean the client has finished
//! sending. After our FIN the server still reads, and drops, what the
//! client sends until it closes, because closing a socket with unread data
//! resets the connection and can destroy echoes not yet read. A second
//! request skips the wait; [`Server::run`](crate::Server::run) returns the
//! final [`Stats`](crate::Stats).
