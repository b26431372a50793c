//! The TLS listeners' certificate chain and private key: read from PEM
//! files (`--tls-cert`, `--tls-key`), made at start-up for a quick try
//! (`--tls-self-signed`), or given in memory by a library caller; and the
//! rustls configuration built from them.
//!
//! Every way a certificate or key can be wrong (a missing or unreadable
//! file, no certificate or no key in it, a key that does not belong to the
//! certificate) is found here, at start-up, and reported as one sentence
//! naming the file.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use log::info;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The names the self-signed certificate is valid for.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the TLS listeners' certificate and key come from.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsIdentity {
    /// PEM files: the certificate chain (leaf first) and the private key
    /// (PKCS#8, PKCS#1 or SEC1).
    Files {
        /// The certificate chain's file.
        cert: PathBuf,
        /// The private key's file.
        key: PathBuf,
    },
    /// A certificate for [`SELF_SIGNED_NAMES`], made at start-up; its
    /// SHA-256 fingerprint is logged, and its PEM written to `write_cert_to`
    /// if given (for clients to trust).
    SelfSigned {
        /// Where to write the certificate (never the key).
        write_cert_to: Option<PathBuf>,
    },
    /// PEM text in memory: the certificate chain and the private key.
    Pem {
        /// The certificate chain, leaf first.
        cert: String,
        /// The private key.
        key: String,
    },
}

impl fmt::Debug for TlsIdentity {
    /// Never shows a private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsIdentity::Files { cert, key } => f
                .debug_struct("Files")
                .field("cert", cert)
                .field("key", key)
                .finish(),
            TlsIdentity::SelfSigned { write_cert_to } => f
                .debug_struct("SelfSigned")
                .field("write_cert_to", write_cert_to)
                .finish(),
            TlsIdentity::Pem { .. } => f.write_str("Pem { .. }"),
        }
    }
}

impl TlsIdentity {
    /// The same identity with any certificate to be made made now, so that
    /// several reactors share one ([`Pem`](TlsIdentity::Pem)); files are
    /// left to be read by each.
    pub fn resolve(&self) -> Result<TlsIdentity, String> {
        match self {
            TlsIdentity::SelfSigned { write_cert_to } => {
                let (cert, key) = self_signed()?;
                let der = first_certificate(&cert, Path::new("the self-signed certificate"))?;
                info!(
                    "self-signed TLS certificate for {}; SHA-256 fingerprint {}",
                    SELF_SIGNED_NAMES.join(", "),
                    fingerprint(&der)
                );
                if let Some(path) = write_cert_to {
                    fs::write(path, &cert).map_err(|e| {
                        format!("cannot write the certificate to {}: {e}", path.display())
                    })?;
                    info!("self-signed certificate written to {}", path.display());
                }
                Ok(TlsIdentity::Pem { cert, key })
            }
            other => Ok(other.clone()),
        }
    }

    /// The rustls server configuration for this identity: TLS 1.2 and 1.3
    /// with the `ring` provider, no client certificates. A session is made
    /// from it once here, so that making one per connection cannot fail.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        let (chain, key) = match self.resolve()? {
            TlsIdentity::Files { cert, key } => (
                read_chain(&read(&cert, "certificate")?, &cert)?,
                read_key(&read(&key, "key")?, &key)?,
            ),
            TlsIdentity::Pem { cert, key } => {
                let cert_name = Path::new("the certificate given");
                let key_name = Path::new("the key given");
                (
                    read_chain(cert.as_bytes(), cert_name)?,
                    read_key(key.as_bytes(), key_name)?,
                )
            }
            TlsIdentity::SelfSigned { .. } => unreachable!("resolved above"),
        };
        let config = ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    "the TLS key does not belong to the certificate".to_string()
                }
                other => format!("the TLS certificate or key is not usable: {other}"),
            })?;
        let config = Arc::new(config);
        rustls::ServerConnection::new(config.clone())
            .map_err(|e| format!("the TLS configuration is not usable: {e}"))?;
        Ok(config)
    }
}

/// A new certificate and key for [`SELF_SIGNED_NAMES`], as PEM.
fn self_signed() -> Result<(String, String), String> {
    let names = SELF_SIGNED_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>();
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a self-signed certificate: {e}"))?;
    Ok((made.cert.pem(), made.key_pair.serialize_pem()))
}

/// The SHA-256 fingerprint of a DER certificate, as `AB:CD:...`, the way
/// `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read the TLS {what} file {}: {e}", path.display()))
}

fn read_chain(pem: &[u8], name: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", name.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no PEM certificate in it", name.display()));
    }
    Ok(chain)
}

fn first_certificate(pem: &str, name: &Path) -> Result<CertificateDer<'static>, String> {
    Ok(read_chain(pem.as_bytes(), name)?.swap_remove(0))
}

fn read_key(pem: &[u8], name: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            format!("{}: no PEM private key in it", name.display())
        }
        other => format!("{}: not a PEM private key: {other}", name.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_identity_makes_a_configuration() {
        let resolved = TlsIdentity::SelfSigned {
            write_cert_to: None,
        }
        .resolve()
        .unwrap();
        assert!(matches!(resolved, TlsIdentity::Pem { .. }));
        assert_eq!(format!("{resolved:?}"), "Pem { .. }");
        resolved.server_config().unwrap();
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (cert, _) = self_signed().unwrap();
        let (_, key) = self_signed().unwrap();
        let err = TlsIdentity::Pem { cert, key }.server_config().unwrap_err();
        assert_eq!(err, "the TLS key does not belong to the certificate");
    }

    #[test]
    fn fingerprints_are_colon_separated_upper_case_hex() {
        let text = fingerprint(b"x");
        assert_eq!(text.len(), 32 * 3 - 1);
        assert!(text.starts_with("2D:71:16:42"), "{text}");
    }
}
