//! Why a TLS handshake did not complete, in a few reasons each with its
//! own counter ([`HandshakeFailure`], declared with the other counted
//! reasons in `stats`): what a client did wrong matters to whoever reads
//! the counters (plaintext to the TLS port is a misconfigured client, an
//! incompatible one an old library, a refused client certificate a
//! client of the wrong CA), not rustls's exact error.

use crate::stats::HandshakeFailure;

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
            Error::NoApplicationProtocol => HandshakeFailure::NoCommonProtocol,
            Error::NoCertificatesPresented => HandshakeFailure::NoClientCertificate,
            // Only a client's certificate is verified on this side.
            Error::InvalidCertificate(_) => HandshakeFailure::BadClientCertificate,
            Error::AlertReceived(_) => HandshakeFailure::Alert,
            _ => HandshakeFailure::Invalid,
        }
    }
}
