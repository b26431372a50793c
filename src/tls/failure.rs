//! Why a TLS handshake did not complete, in a few reasons each with its
//! own counter: what a client did wrong matters to whoever reads the
//! counters (plaintext to the TLS port is a misconfigured client, an
//! incompatible one an old library), not rustls's exact error.

use std::fmt;

/// Why a connection was closed before its TLS handshake completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The first bytes are not a TLS record: plaintext to the TLS port.
    NotTls,
    /// TLS records, but a malformed or unexpected handshake message.
    Invalid,
    /// A well-formed ClientHello with nothing in common with the server:
    /// no TLS 1.2 or 1.3, no shared cipher suite, group or signature
    /// scheme.
    Incompatible,
    /// The client aborted with an alert (for instance, it does not trust
    /// the certificate).
    Alert,
    /// No completed handshake within `--tls-handshake-timeout`.
    Timeout,
    /// The client closed or reset the connection mid-handshake.
    Closed,
}

impl HandshakeFailure {
    /// The reason a rustls error stands for.
    pub fn of(error: &rustls::Error) -> HandshakeFailure {
        use rustls::{Error, InvalidMessage};
        match error {
            Error::InvalidMessage(InvalidMessage::InvalidContentType)
            | Error::InvalidMessage(InvalidMessage::UnknownProtocolVersion) => {
                HandshakeFailure::NotTls
            }
            Error::PeerIncompatible(_) => HandshakeFailure::Incompatible,
            Error::AlertReceived(_) => HandshakeFailure::Alert,
            _ => HandshakeFailure::Invalid,
        }
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandshakeFailure::NotTls => "the first bytes are not TLS (plaintext to the TLS port?)",
            HandshakeFailure::Invalid => "malformed or unexpected TLS handshake message",
            HandshakeFailure::Incompatible => {
                "the client offers no TLS version, cipher suite or group the server supports"
            }
            HandshakeFailure::Alert => "the client aborted the TLS handshake with an alert",
            HandshakeFailure::Timeout => "no TLS handshake within the handshake timeout",
            HandshakeFailure::Closed => "the client closed during the TLS handshake",
        })
    }
}
