//! The certificate the TLS scenarios share: one self-signed certificate
//! for `localhost` and `127.0.0.1`, made once per run with rcgen (the
//! library's own dependency, so nothing outside Rust is needed) and
//! written as PEM into the out dir. echo-reactor (`--tls-cert`,
//! `--tls-key`) and the tokio-rustls peer serve it; echo-loadgen trusts it
//! (`--tls-ca`).

use std::fs;
use std::path::{Path, PathBuf};

/// The PEM files of the certificate and its key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes the certificate and writes `cert.pem` and `key.pem` into `out`.
pub fn make_certificate(out: &Path) -> Result<TlsFiles, String> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a TLS certificate: {e}"))?;
    let files = TlsFiles {
        cert: out.join("cert.pem"),
        key: out.join("key.pem"),
    };
    for (path, pem) in [
        (&files.cert, made.cert.pem()),
        (&files.key, made.key_pair.serialize_pem()),
    ] {
        fs::write(path, pem).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(files)
}
