//! `--banner TEXT`: a line the server sends each new TCP client before any
//! echo, so a client behind a load balancer can tell which backend
//! answered.
//!
//! Two placeholders are replaced: `{hostname}` (the machine's, or the pod's
//! in Kubernetes), once at start-up, and `{local_addr}` (the address and
//! port the client reached, as the server sees it), per connection, since
//! on a wildcard listener each connection may have reached a different
//! interface (one `getsockname` per connection, only when the banner uses
//! it). Echo semantics are otherwise unchanged: the banner's bytes are sent
//! first, through the same path as echoes (a short write keeps the rest
//! pending, in order).

use std::net::SocketAddr;

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

    /// The banner's bytes, when they do not depend on the connection.
    pub fn text(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// The banner's bytes for a connection that reached `local`.
    pub fn for_local_addr(&self, local: SocketAddr) -> Vec<u8> {
        self.text
            .replace("{local_addr}", &local.to_string())
            .into_bytes()
    }

    /// Whether the bytes depend on the address a connection reached.
    pub fn needs_local_addr(&self) -> bool {
        self.text.contains("{local_addr}")
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
        let text = banner.for_local_addr("127.0.0.1:7".parse().unwrap());
        let expected = format!("served by {} at 127.0.0.1:7\n", hostname());
        assert_eq!(String::from_utf8(text).unwrap(), expected);
        assert!(!Banner::new("hello\n").needs_local_addr());
    }
}
