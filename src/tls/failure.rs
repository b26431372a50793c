//! Why a TLS handshake did not complete, in a few reasons each with its
//! own counter: what a client did wrong matters to whoever reads the
//! counters (plaintext to the TLS port is a misconfigured client, an
//! incompatible one an old library), not rustls's exact error.

crate::stats::reasons! {
    /// Why a connection was closed before its TLS handshake completed: each
    /// with its label in `/metrics`, its words on the stats line and its
    /// sentence for the log.
    #[non_exhaustive]
    pub enum HandshakeFailure {
        /// The first bytes are not a TLS record: plaintext to the TLS port.
        NotTls = ("not_tls", "not tls", "the first bytes are not TLS (plaintext to the TLS port?)"),
        /// TLS records, but a malformed or unexpected handshake message.
        Invalid = ("invalid", "invalid", "malformed or unexpected TLS handshake message"),
        /// A well-formed ClientHello with nothing in common with the server:
        /// no TLS 1.2 or 1.3, no shared cipher suite, group or signature
        /// scheme.
        Incompatible = (
            "incompatible",
            "incompatible",
            "the client offers no TLS version, cipher suite or group the server supports"
        ),
        /// The client aborted with an alert (for instance, it does not trust
        /// the certificate).
        Alert = ("alert", "alert", "the client aborted the TLS handshake with an alert"),
        /// No completed handshake within `--tls-handshake-timeout`.
        Timeout = ("timeout", "timeout", "no TLS handshake within the handshake timeout"),
        /// The client closed or reset the connection mid-handshake.
        Closed = ("closed", "closed", "the client closed during the TLS handshake"),
    }
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
