//! ALPN (`--tls-alpn`): the application protocols the TLS listeners
//! offer, so that a client or proxy that negotiates one (`h2`,
//! `http/1.1`, a name of its own) can be tested against an echo.
//!
//! The server picks the first of its protocols that the client offers, as
//! rustls does. A client that offers ALPN with nothing in common is
//! refused with a `no_application_protocol` alert, as RFC 7301 (section
//! 3.2) says; a client that offers no ALPN at all is served, since it
//! asked for nothing the server could fail to give. Whatever is
//! negotiated, the bytes are echoed: the protocol is only a name here.

use std::ops::RangeInclusive;

/// The lengths an ALPN protocol name may have, in bytes (RFC 7301: a
/// non-empty string of at most 255 bytes).
pub const ALPN_NAME_LEN: RangeInclusive<usize> = 1..=255;

/// Whether `name` can be offered as an ALPN protocol.
pub fn is_alpn_name(name: &str) -> bool {
    ALPN_NAME_LEN.contains(&name.len())
}

/// The names as rustls takes them, in the server's order of preference.
pub(super) fn wire_names(names: &[String]) -> Vec<Vec<u8>> {
    names.iter().map(|name| name.as_bytes().to_vec()).collect()
}
