//! What the slab holds: every socket the reactor polls, one entry each.
//!
//! Three shapes, by how often the loop meets them:
//!
//! - [`Entry::Connection`], the plain echo connection, held inline (16
//!   bytes: a socket, its flags, an empty `Option<Box<_>>`) and served on
//!   the hot path without a `dyn` call;
//! - [`Entry::Listener`], a listening socket and the kind of connections it
//!   makes;
//! - every other kind, each boxed so that it costs the slot one pointer,
//!   and each a [`Stage`]: the loop reaches all of them through
//!   [`Entry::stage`], so none of its paths names them one by one.
//!
//! The stages are listed once, in the `entries!` invocation below: adding
//! one (a connection with faults, a WebSocket session, a listener that
//! answers with what it saw) is one line there, beside the module that
//! implements [`Stage`] for it. (A connection that keeps a receipt is one
//! more: its own entry inside a [`Recorded`].)

use mio::net::TcpListener;

use crate::connection::Connection;
use crate::faults::admin::AdminConn;
use crate::faults::stage::FaultedConnection;
use crate::faults::udp::FaultyUdp;
use crate::http::HttpConn;
use crate::proxy_protocol::HeaderStage;
use crate::serve::{Handoff, ListenerKind, Role, Stage};
use crate::server::recorded::Recorded;
use crate::tls::TlsConnection;
use crate::udp::UdpEcho;
use crate::websocket::WsConnection;
use crate::whoami::WhoamiAnswer;

/// A listening socket, and the kind of connections it accepts.
pub(crate) struct Listener {
    pub(crate) socket: TcpListener,
    pub(crate) kind: ListenerKind,
    /// In the serve-again queue: it stopped accepting at its budget for
    /// one event with clients still queued (the metrics listener).
    pub(crate) queued: bool,
}

/// Declares [`Entry`] with the plain connection, the listener, and one
/// boxed variant per stage, and the one `match` that turns any of them into
/// a `dyn Stage`.
macro_rules! entries {
    ($($(#[$doc:meta])* $variant:ident($stage:ty),)*) => {
        /// A socket in the slab.
        pub(crate) enum Entry {
            /// A plain echo connection: the hot path.
            Connection(Connection),
            /// A listening socket.
            Listener(Listener),
            $($(#[$doc])* $variant(Box<$stage>),)*
        }

        impl Entry {
            /// The entry as the loop's cold paths see it; `None` for a
            /// listener.
            #[inline]
            pub(crate) fn stage(&mut self) -> Option<&mut dyn Stage> {
                match self {
                    Entry::Connection(conn) => Some(conn),
                    Entry::Listener(_) => None,
                    $(Entry::$variant(stage) => Some(&mut **stage),)*
                }
            }

            /// Its flag in the serve-again queue, if it can be queued.
            pub(crate) fn queued(&mut self) -> Option<&mut bool> {
                match self {
                    Entry::Listener(listener) => Some(&mut listener.queued),
                    other => other.stage().and_then(|stage| stage.queued()),
                }
            }

            /// The entry as a stage, read-only; `None` for a listener.
            pub(crate) fn stage_ref(&self) -> Option<&dyn Stage> {
                match self {
                    Entry::Connection(conn) => Some(conn),
                    Entry::Listener(_) => None,
                    $(Entry::$variant(stage) => Some(&**stage),)*
                }
            }

            /// The entry's role, `None` for a listener.
            pub(crate) fn role(&self) -> Option<Role> {
                match self {
                    Entry::Connection(_) => Some(Role::Client),
                    Entry::Listener(_) => None,
                    $(Entry::$variant(stage) => Some(stage.role()),)*
                }
            }

            /// What a stage that ended with `Next::HandOff` leaves to the
            /// next.
            pub(crate) fn hand_off(self) -> Option<Handoff> {
                match self {
                    Entry::Connection(_) | Entry::Listener(_) => None,
                    $(Entry::$variant(stage) => stage.hand_off(),)*
                }
            }
        }
    };
}

entries! {
    /// A UDP echo socket (`--udp`), one per listening address.
    Udp(UdpEcho),
    /// A connection whose PROXY protocol header is still in progress
    /// (`--proxy-protocol`).
    Header(HeaderStage),
    /// A TLS connection (`--tls-listen`).
    Tls(TlsConnection),
    /// A request to the metrics endpoint (`--metrics`).
    Http(HttpConn),
    /// A connection to a whoami listener, being answered
    /// (`--whoami-listen`).
    Whoami(WhoamiAnswer),
    /// A connection that keeps a receipt (`--access-log`), around its own
    /// entry.
    Recorded(Recorded),
    /// A request to the fault API (`--admin`).
    Admin(AdminConn),
    /// A connection that drew faults (`--fault-listen`, `--toxic`).
    Faulted(FaultedConnection),
    /// A fault listener's UDP socket (`--fault-listen` with `--udp`).
    FaultyUdp(FaultyUdp),
    /// A WebSocket connection (`--ws-listen`).
    Ws(WsConnection),
}

// An idle plain connection costs its slot and nothing else: 16 bytes in a
// release build, checked by every release build. (Debug builds of mio add
// 16 bytes per socket to check that it is registered with one poll only.)
#[cfg(not(debug_assertions))]
const _: () = assert!(
    std::mem::size_of::<Entry>() == 16,
    "a slab slot must stay 16 bytes in release builds"
);
