//! TLS for the load (`--tls`): the client configuration built once from
//! `--tls-ca` and `--tls-server-name`, and the sessions made with it. The
//! connections drive their sessions themselves: the polling modes'
//! non-blocking (`tls_session.rs`), the blocking modes' (churn and threads)
//! with waits (`blocking.rs`).
//!
//! The client trusts the one certificate (or chain) in `--tls-ca` and
//! nothing else, with rustls's `ring` provider, as the server uses, and TLS
//! 1.3 or 1.2. Session resumption is off: each churn lifecycle then costs
//! the server a full handshake, which is what handshakes per second are
//! meant to measure (a resumed session would skip the certificate and most
//! of the key exchange).

use std::fs;
use std::io;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::model::TlsSettings;

/// What every TLS connection of the run is made with.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// A client that trusts the PEM certificates in `settings.ca` and
    /// expects the server to be `settings.server_name`; one line naming the
    /// file or the name if either is unusable.
    pub fn new(settings: &TlsSettings) -> Result<TlsClient, String> {
        let TlsSettings { ca, server_name } = settings;
        let shown = ca.display();
        let pem = fs::read(ca).map_err(|e| format!("cannot read --tls-ca {shown}: {e}"))?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("--tls-ca {shown}: not PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("--tls-ca {shown}: unusable certificate: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!("--tls-ca {shown} holds no PEM certificate"));
        }
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|_| format!("--tls-server-name '{server_name}' is no DNS name or address"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
        })
    }

    /// A new client session, its handshake not started (its first flight
    /// waits in it to be sent).
    pub fn session(&self) -> io::Result<ClientConnection> {
        ClientConnection::new(self.config.clone(), self.server_name.clone())
            .map_err(io::Error::other)
    }
}
