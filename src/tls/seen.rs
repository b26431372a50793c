//! What a TLS session settled on, for the connection's receipt: version,
//! cipher suite, the name the client asked for (SNI), the protocol ALPN
//! chose, and the client's certificate (its subject and SHA-256), read
//! from the rustls session once the handshake is done.

use x509_cert::der::Decode;
use x509_cert::Certificate;

use super::connection::TlsConnection;
use crate::proxy_protocol::hex;
use crate::receipt::TlsSeen;

impl TlsConnection {
    /// What the session settled on; fields it has not settled yet are
    /// `None`.
    pub(crate) fn seen(&self) -> TlsSeen {
        let session = &self.session;
        let peer = session.peer_certificates().and_then(|chain| chain.first());
        TlsSeen {
            version: session.protocol_version().map(|v| format!("{v:?}")),
            cipher: session
                .negotiated_cipher_suite()
                .map(|suite| format!("{:?}", suite.suite())),
            sni: session.server_name().map(str::to_string),
            alpn: session
                .alpn_protocol()
                .map(|name| String::from_utf8_lossy(name).into_owned()),
            peer_subject: peer.and_then(|der| subject(der)),
            peer_fingerprint_256: peer
                .map(|der| hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())),
        }
    }
}

/// A certificate's subject as RFC 4514 text (`CN=client,O=Example`);
/// `None` if it does not parse (rustls verified it, so it does).
fn subject(der: &[u8]) -> Option<String> {
    let certificate = Certificate::from_der(der).ok()?;
    Some(certificate.tbs_certificate.subject.to_string())
}
