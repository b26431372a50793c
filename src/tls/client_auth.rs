//! Client certificates (`--tls-client-ca`, `--tls-client-auth`): which
//! clients the TLS listeners let in, and the rustls verifier that decides.
//!
//! An echo target behind a mesh or a proxy that speaks mutual TLS must ask
//! for a client certificate and refuse one it cannot verify, or the
//! proxy's client side goes untested. The CA certificates are read at
//! start-up, like the server's own certificate, so a missing or malformed
//! file stops the server with one line rather than refusing every client.
//! The checking itself is rustls's `WebPkiClientVerifier`: a chain to one
//! of the CAs, valid now, for client authentication.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use super::identity::{read, read_chain, PemItem, PemOrigin, TlsError};

/// Which clients the TLS listeners let in: those with a certificate
/// issued by one of `ca`'s certificates, and with
/// [`ClientAuthMode::Optional`] those with none as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// The CA certificates a client's certificate must chain to.
    pub ca: ClientCa,
    /// Whether a client must present a certificate.
    pub mode: ClientAuthMode,
}

/// Where the CA certificates that client certificates are verified
/// against come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCa {
    /// A PEM file of one or more CA certificates.
    File(PathBuf),
    /// PEM text in memory, one or more CA certificates.
    Pem(String),
}

/// Whether a client must present a certificate. Either way, one that
/// does not verify is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuthMode {
    /// A client without a certificate is refused (the default).
    #[default]
    Required,
    /// A client without a certificate is let in.
    Optional,
}

/// The verifier for `auth`: none asks for no client certificate.
pub(super) fn verifier(
    auth: Option<&ClientAuth>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let Some(auth) = auth else {
        return Ok(WebPkiClientVerifier::no_client_auth());
    };
    let item = PemItem::ClientCa;
    let (certificates, from) = match &auth.ca {
        ClientCa::File(path) => (
            read_chain(&read(path, item)?, item, PemOrigin::File(path.clone()))?,
            PemOrigin::File(path.clone()),
        ),
        ClientCa::Pem(pem) => (
            read_chain(pem.as_bytes(), item, PemOrigin::Given)?,
            PemOrigin::Given,
        ),
    };
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|source| TlsError::BadClientCa {
                from: from.clone(),
                source,
            })?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match auth.mode {
        ClientAuthMode::Required => builder,
        ClientAuthMode::Optional => builder.allow_unauthenticated(),
    };
    builder
        .build()
        .map_err(|source| TlsError::ClientVerifier { source })
}
