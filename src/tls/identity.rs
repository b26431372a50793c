//! The TLS listeners' certificate chain and private key: read from PEM
//! files (`--tls-cert`, `--tls-key`), made at start-up for a quick try
//! (`--tls-self-signed`), or given in memory by a library caller; and the
//! rustls configuration built from them.
//!
//! Every way a certificate or key can be wrong (a missing or unreadable
//! file, no certificate or no key in it, a key that does not belong to the
//! certificate) is found here, at start-up, and reported as a [`TlsError`]
//! whose text is one sentence naming the file. The client CAs
//! (`client_auth`) are read with the same functions and errors.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use log::info;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use super::alpn;
use super::client_auth::{self, ClientAuth};

/// The names the self-signed certificate is valid for.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the TLS listeners' certificate and key come from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    pub fn resolve(&self) -> Result<TlsIdentity, TlsError> {
        match self {
            TlsIdentity::SelfSigned { write_cert_to } => {
                let (cert, key) = self_signed()?;
                let der = first_certificate(&cert, PemOrigin::SelfSigned)?;
                info!(
                    "self-signed TLS certificate for {}; SHA-256 fingerprint {}",
                    SELF_SIGNED_NAMES.join(", "),
                    fingerprint(&der)
                );
                if let Some(path) = write_cert_to {
                    fs::write(path, &cert).map_err(|source| TlsError::WriteCertificate {
                        path: path.clone(),
                        source,
                    })?;
                    info!("self-signed certificate written to {}", path.display());
                }
                Ok(TlsIdentity::Pem { cert, key })
            }
            other => Ok(other.clone()),
        }
    }

    /// The rustls server configuration for this identity: TLS 1.2 and 1.3
    /// with the `ring` provider, client certificates asked for as
    /// `client_auth` says (not at all when `None`), and the ALPN protocols
    /// `alpn` offered (none when empty). A session is made from it once
    /// here, so that making one per connection cannot fail.
    pub fn server_config(
        &self,
        client_auth: Option<&ClientAuth>,
        alpn: &[String],
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let item = PemItem::Certificate;
        let (chain, key) = match self.resolve()? {
            TlsIdentity::Files { cert, key } => (
                read_chain(&read(&cert, item)?, item, PemOrigin::File(cert))?,
                read_key(&read(&key, PemItem::Key)?, PemOrigin::File(key))?,
            ),
            TlsIdentity::Pem { cert, key } => (
                read_chain(cert.as_bytes(), item, PemOrigin::Given)?,
                read_key(key.as_bytes(), PemOrigin::Given)?,
            ),
            TlsIdentity::SelfSigned { .. } => unreachable!("resolved above"),
        };
        let provider = Arc::new(provider::default_provider());
        let verifier = client_auth::verifier(client_auth, provider.clone())?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|source| TlsError::Versions { source })?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|source| match source {
                rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch,
                source => TlsError::Unusable { source },
            })?;
        config.alpn_protocols = alpn::wire_names(alpn);
        let config = Arc::new(config);
        rustls::ServerConnection::new(config.clone())
            .map_err(|source| TlsError::Session { source })?;
        Ok(config)
    }
}

/// A new certificate and key for [`SELF_SIGNED_NAMES`], as PEM.
fn self_signed() -> Result<(String, String), TlsError> {
    let names = SELF_SIGNED_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>();
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|source| TlsError::SelfSigned { source })?;
    Ok((made.cert.pem(), made.key_pair.serialize_pem()))
}

/// The SHA-256 fingerprint of a DER certificate, as `AB:CD:...`, the way
/// `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

pub(super) fn read(path: &Path, item: PemItem) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        item,
        path: path.to_path_buf(),
        source,
    })
}

/// The certificates in `pem`, in order: at least one, or an error naming
/// `item` and where the PEM came from.
pub(super) fn read_chain(
    pem: &[u8],
    item: PemItem,
    from: PemOrigin,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    match CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>() {
        Ok(chain) if chain.is_empty() => Err(TlsError::NoPem { item, from }),
        Ok(chain) => Ok(chain),
        Err(source) => Err(TlsError::NotPem { item, from, source }),
    }
}

fn first_certificate(pem: &str, from: PemOrigin) -> Result<CertificateDer<'static>, TlsError> {
    Ok(read_chain(pem.as_bytes(), PemItem::Certificate, from)?.swap_remove(0))
}

fn read_key(pem: &[u8], from: PemOrigin) -> Result<PrivateKeyDer<'static>, TlsError> {
    let item = PemItem::Key;
    PrivateKeyDer::from_pem_slice(pem).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoPem { item, from },
        source => TlsError::NotPem { item, from, source },
    })
}

/// Why the TLS listeners' certificate or key cannot be used. Its text is
/// one sentence naming the file (or where else the PEM came from).
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    Read {
        /// Which of the two.
        item: PemItem,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The PEM has no certificate (or no private key) in it.
    NoPem {
        /// What was looked for.
        item: PemItem,
        /// Where the PEM came from.
        from: PemOrigin,
    },
    /// The PEM is malformed.
    NotPem {
        /// What was being read.
        item: PemItem,
        /// Where the PEM came from.
        from: PemOrigin,
        /// What the PEM reader said.
        source: pem::Error,
    },
    /// The private key does not belong to the certificate.
    KeyMismatch,
    /// rustls refused the certificate or key.
    Unusable {
        /// What rustls said.
        source: rustls::Error,
    },
    /// The crypto provider offers neither TLS 1.2 nor TLS 1.3.
    Versions {
        /// What rustls said.
        source: rustls::Error,
    },
    /// No session could be made from the configuration.
    Session {
        /// What rustls said.
        source: rustls::Error,
    },
    /// The self-signed certificate could not be made.
    SelfSigned {
        /// What the certificate generator said.
        source: rcgen::Error,
    },
    /// The self-signed certificate could not be written out.
    WriteCertificate {
        /// Where it was to go.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A client CA certificate is PEM but not a CA certificate rustls can
    /// verify client certificates against.
    BadClientCa {
        /// Where the PEM came from.
        from: PemOrigin,
        /// What rustls said.
        source: rustls::Error,
    },
    /// rustls could not make a client certificate verifier of the CAs.
    ClientVerifier {
        /// What rustls said.
        source: rustls::server::VerifierBuilderError,
    },
}

/// What PEM text was read for, as a [`TlsError`] names it: the two
/// halves of an identity, or the CAs of client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemItem {
    /// The certificate chain.
    Certificate,
    /// The private key.
    Key,
    /// The CA certificates client certificates are verified against
    /// ([`ClientAuth`]).
    ClientCa,
}

/// Where PEM text came from, as a [`TlsError`] names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemOrigin {
    /// A file ([`TlsIdentity::Files`], [`ClientCa::File`](super::ClientCa::File)).
    File(PathBuf),
    /// Memory ([`TlsIdentity::Pem`], [`ClientCa::Pem`](super::ClientCa::Pem)).
    Given,
    /// The certificate made at start-up ([`TlsIdentity::SelfSigned`]).
    SelfSigned,
}

impl fmt::Display for PemItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PemItem::Certificate => "certificate",
            PemItem::Key => "key",
            PemItem::ClientCa => "client CA",
        })
    }
}

impl PemOrigin {
    /// The file's path, or what stands for it: "the key given".
    fn name(&self, item: PemItem) -> String {
        match self {
            PemOrigin::File(path) => path.display().to_string(),
            PemOrigin::Given => format!("the {item} given"),
            PemOrigin::SelfSigned => format!("the self-signed {item}"),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { item, path, source } => write!(
                f,
                "cannot read the TLS {item} file {}: {source}",
                path.display()
            ),
            TlsError::NoPem { item, from } => {
                let wanted = match item {
                    PemItem::Certificate | PemItem::ClientCa => "certificate",
                    PemItem::Key => "private key",
                };
                write!(f, "{}: no PEM {wanted} in it", from.name(*item))
            }
            TlsError::NotPem { item, from, source } => {
                let wanted = match item {
                    PemItem::Certificate => "certificate chain",
                    PemItem::Key => "private key",
                    PemItem::ClientCa => "CA certificate",
                };
                write!(f, "{}: not a PEM {wanted}: {source}", from.name(*item))
            }
            TlsError::KeyMismatch => f.write_str("the TLS key does not belong to the certificate"),
            TlsError::Unusable { source } => {
                write!(f, "the TLS certificate or key is not usable: {source}")
            }
            TlsError::Versions { source } => write!(f, "TLS: {source}"),
            TlsError::Session { source } => {
                write!(f, "the TLS configuration is not usable: {source}")
            }
            TlsError::SelfSigned { source } => {
                write!(f, "cannot make a self-signed certificate: {source}")
            }
            TlsError::WriteCertificate { path, source } => write!(
                f,
                "cannot write the certificate to {}: {source}",
                path.display()
            ),
            TlsError::BadClientCa { from, source } => write!(
                f,
                "{}: not a usable CA certificate: {source}",
                from.name(PemItem::ClientCa)
            ),
            TlsError::ClientVerifier { source } => {
                write!(f, "cannot verify client certificates: {source}")
            }
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } | TlsError::WriteCertificate { source, .. } => {
                Some(source)
            }
            TlsError::NotPem { source, .. } => Some(source),
            TlsError::Unusable { source }
            | TlsError::Versions { source }
            | TlsError::Session { source }
            | TlsError::BadClientCa { source, .. } => Some(source),
            TlsError::ClientVerifier { source } => Some(source),
            TlsError::SelfSigned { source } => Some(source),
            TlsError::NoPem { .. } | TlsError::KeyMismatch => None,
        }
    }
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
        resolved.server_config(None, &[]).unwrap();
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (cert, _) = self_signed().unwrap();
        let (_, key) = self_signed().unwrap();
        let err = TlsIdentity::Pem { cert, key }
            .server_config(None, &[])
            .unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the TLS key does not belong to the certificate"
        );
    }

    #[test]
    fn fingerprints_are_colon_separated_upper_case_hex() {
        let text = fingerprint(b"x");
        assert_eq!(text.len(), 32 * 3 - 1);
        assert!(text.starts_with("2D:71:16:42"), "{text}");
    }
}
