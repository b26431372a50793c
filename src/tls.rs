//! TLS echo (`--tls-listen`): the same echo, through a rustls session, in
//! the same reactor.
//!
//! A TLS listener's connections are slab entries of their own, boxed, and
//! a stage to the loop (`serve::Stage`): a plain connection's slot
//! stays 16 bytes and its path never looks at TLS. A TLS connection starts when
//! it is accepted (or when its PROXY header is done, with
//! `--proxy-protocol`), must complete its handshake within
//! `--tls-handshake-timeout`, and then echoes every decrypted byte, in
//! order, through the session. The banner (`--banner`) is the first
//! plaintext inside TLS.
//!
//! - [`TlsIdentity`]: the certificate and key, and rustls's configuration.
//! - [`ClientAuth`]: which client certificates are asked for and trusted
//!   (`--tls-client-ca`, `--tls-client-auth`).
//! - [`is_alpn_name`]: the ALPN protocols offered (`--tls-alpn`), and
//!   what a client that offers others gets.
//! - `TlsConnection`: one session driven from readiness events, with
//!   the same bounds as a plain connection (`--max-pending`, the memory
//!   budget, the read budget per turn).
//! - [`HandshakeFailure`]: why a handshake did not complete, counted.
//!
//! The crypto provider is rustls's `ring`: it builds with nothing but Rust
//! and a C compiler (rustls's default, `aws-lc-rs`, also needs CMake).
//! TLS 1.2 and 1.3 are offered; client certificates are asked for only
//! with a client CA, and ALPN protocols offered only when named.
//!
//! rustls's buffered `ServerConnection` is used rather than its
//! `UnbufferedServerConnection`: it is the API whose `close_notify`, limits
//! and errors are simplest to get right, and the measured cost of an idle
//! connection is in the guide's TLS chapter (`guide::ch09_tls`).

mod alpn;
mod client_auth;
mod connection;
mod failure;
mod identity;
mod seen;
mod socket;
mod stage;

pub use crate::stats::HandshakeFailure;
pub use alpn::{is_alpn_name, ALPN_NAME_LEN};
pub use client_auth::{ClientAuth, ClientAuthMode, ClientCa};
pub(crate) use connection::TlsConnection;
pub use connection::{ECHO_CHUNK, SESSION_BUFFERS};
pub use identity::{PemItem, PemOrigin, TlsError, TlsIdentity, SELF_SIGNED_NAMES};

/// Default time a client has to complete its TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
