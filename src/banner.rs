//! `--banner TEXT`: a line the server sends each new TCP client before any
//! echo, so a client behind a load balancer can tell which backend
//! answered, and what that backend saw of it.
//!
//! Placeholders are replaced: `{hostname}` (the machine's, or the pod's in
//! Kubernetes) once at start-up; per connection, `{local_addr}` (the
//! address and port the client reached, as the server sees it: on a
//! wildcard listener each connection may have reached a different
//! interface), and what the connection's receipt knows ([`crate::receipt`]):
//! `{peer}` (the kernel's peer), `{proxy_source}` (the client a PROXY
//! header named), `{sni}` and `{alpn}` (what a TLS client asked for),
//! `{reactor}`, `{connection_id}` and `{listener}` (the listener's
//! address). A fact the connection does not have (no PROXY header, no SNI)
//! is `-`, as in HAProxy's logs.
//!
//! Each costs only when used: `{local_addr}` one `getsockname` per
//! connection; the receipt's placeholders make each connection keep a
//! receipt (a box beside its slot); `{sni}` and `{alpn}` hold a TLS
//! connection's banner until its handshake is done. Echo semantics are
//! otherwise unchanged: the banner's bytes are sent first, through the same
//! path as echoes (a short write keeps the rest pending, in order).

use std::net::SocketAddr;

use crate::receipt::Receipt;

/// The placeholders a connection's receipt answers.
const FROM_RECEIPT: [&str; 7] = [
    "{peer}",
    "{proxy_source}",
    "{sni}",
    "{alpn}",
    "{reactor}",
    "{connection_id}",
    "{listener}",
];

/// A banner template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// The text with `{hostname}` already replaced.
    text: String,
}

impl Banner {
    /// A banner from the user's `template`, with `{hostname}` replaced now.
    pub fn new(template: &str) -> Banner {
        let text = if template.contains("{hostname}") {
            template.replace("{hostname}", &hostname())
        } else {
            template.to_string()
        };
        Banner { text }
    }

    /// The banner's bytes for a connection that reached `local` (if the
    /// banner names it) and keeps `receipt` (if the banner needs one).
    pub fn render(&self, local: Option<SocketAddr>, receipt: Option<&Receipt>) -> Vec<u8> {
        if !self.text.contains('{') {
            return self.text.as_bytes().to_vec();
        }
        let mut text = self.text.clone();
        if let Some(local) = local {
            text = text.replace("{local_addr}", &local.to_string());
        }
        if let Some(receipt) = receipt {
            for placeholder in FROM_RECEIPT {
                if text.contains(placeholder) {
                    text = text.replace(placeholder, &fill(placeholder, receipt));
                }
            }
        }
        text.into_bytes()
    }

    /// Whether the bytes depend on the address a connection reached.
    pub fn needs_local_addr(&self) -> bool {
        self.text.contains("{local_addr}")
    }

    /// Whether the bytes depend on a connection's receipt.
    pub fn needs_receipt(&self) -> bool {
        FROM_RECEIPT.iter().any(|p| self.text.contains(p))
    }

    /// Whether the bytes depend on a TLS handshake's outcome (so a TLS
    /// connection's banner waits for it).
    pub fn needs_handshake(&self) -> bool {
        self.text.contains("{sni}") || self.text.contains("{alpn}")
    }
}

/// What `placeholder` stands for in `receipt`; `-` if it has nothing.
fn fill(placeholder: &str, receipt: &Receipt) -> String {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    match placeholder {
        "{peer}" => receipt.peer.to_string(),
        "{proxy_source}" => or_dash(
            receipt
                .proxy
                .as_ref()
                .and_then(|p| p.addresses)
                .map(|(source, _)| source.to_string()),
        ),
        "{sni}" => or_dash(receipt.tls.as_ref().and_then(|t| t.sni.clone())),
        "{alpn}" => or_dash(receipt.tls.as_ref().and_then(|t| t.alpn.clone())),
        "{reactor}" => receipt.reactor.to_string(),
        "{connection_id}" => receipt.id.to_string(),
        "{listener}" => receipt.listener.to_string(),
        _ => placeholder.to_string(),
    }
}

/// The machine's host name (`gethostname`), or `unknown`.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`,
    // which lives for the whole call.
    let result = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if result != 0 {
        return "unknown".to_string();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced() {
        let banner = Banner::new("served by {hostname} at {local_addr}\n");
        assert!(banner.needs_local_addr());
        assert!(!banner.needs_receipt());
        let text = banner.render(Some("127.0.0.1:7".parse().unwrap()), None);
        let expected = format!("served by {} at 127.0.0.1:7\n", hostname());
        assert_eq!(String::from_utf8(text).unwrap(), expected);
        assert!(!Banner::new("hello\n").needs_local_addr());
        let tls = Banner::new("{connection_id} {sni}\n");
        assert!(tls.needs_receipt() && tls.needs_handshake());
    }
}
