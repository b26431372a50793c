//! The PROXY protocol header (`--proxy-protocol`): read it, log who the
//! client really is, drop it, and hand the connection over to the echo.
//!
//! A load balancer that relays TCP (HAProxy with `send-proxy`, AWS NLB,
//! nginx's `proxy_protocol`, Envoy, ...) connects to its backend itself, so
//! the backend sees the balancer's address, not the client's. The PROXY
//! protocol fixes that: before the client's first byte, the balancer sends
//! one header naming the original source and destination, either as a
//! text line (v1, `PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n`, at most 107
//! bytes) or in binary (v2, a 12-byte signature, a version/command byte, a
//! family byte, a 16-bit length and that many bytes of addresses and TLVs).
//! HAProxy's specification is the reference.
//!
//! With `--proxy-protocol`, every accepted TCP connection starts in a
//! [`HeaderStage`]: a slab entry of its own, boxed, that exists only until
//! the header is complete. The header may arrive in any number of pieces;
//! bytes after it, in the same read or later, are the client's and are
//! echoed. The header itself is never echoed. Parsing is the `ppp` crate's;
//! what is here is the incremental part: how much to read, when a prefix
//! already proves the bytes are not a header, and when to give up.
//!
//! A connection is closed, with nothing echoed and the reason counted, when
//! its first bytes are not a PROXY header, when the header is malformed or
//! longer than allowed, when the client closes first, or when no complete
//! header came within `--proxy-header-timeout`. A v2 `LOCAL` header (a
//! health check from the balancer itself) is accepted and carries no
//! addresses. A v2 header's CRC32C TLV, when it has one, must match; its
//! other TLVs are decoded only for a receipt (`--access-log`, see
//! [`tlvs`]), and skipped otherwise.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Instant;

use log::debug;
use mio::net::TcpStream;
use ppp::v1;
use ppp::v2;

pub use crate::stats::HeaderFailure;

use crate::receipt::{ProxySeen, Receipt};
use crate::serve::{CloseReason, Context, Handoff, ListenerKind, Next, Ready, Stage};

mod tlvs;

pub(crate) use tlvs::hex;

/// The v1 header's prefix.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The v2 header's signature.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, CRLF included (the specification's limit).
pub const V1_MAX_LEN: usize = 107;
/// The fixed part of a v2 header: signature, version and command, family
/// and protocol, length.
const V2_FIXED_LEN: usize = 16;
/// The longest v2 header accepted: the fixed part and 2,032 bytes of
/// addresses and TLVs. The length field could say up to 65,535; no
/// balancer sends a fraction of that (the largest addresses are 216 bytes,
/// and the TLVs in use, such as AWS's VPC endpoint id or a TLS SNI, are
/// short), and a server that buffered whatever a client claims would let
/// any client make it hold 64 KiB per connection.
pub const V2_MAX_LEN: usize = 2048;

/// What reading more of a header came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Not complete yet: wait for more bytes.
    Waiting,
    /// Complete: the connection echoes from now on, starting with the
    /// payload that followed the header (`payload` bytes at the start of
    /// the scratch buffer).
    Done {
        /// Bytes after the header, copied to the start of the scratch
        /// buffer, to be echoed first.
        payload: usize,
        /// The read stopped at the header's size limit, not at the end of
        /// what was queued: more of the client's bytes may wait.
        more_queued: bool,
    },
    /// Close the connection.
    Failed(HeaderFailure),
}

/// A connection whose PROXY header is still in progress.
pub struct HeaderStage {
    stream: TcpStream,
    /// The header's bytes so far, when it came in more than one piece.
    partial: Vec<u8>,
    /// When the header must be complete; also names this stage in the
    /// timers' queue (a key can be reused by a later connection).
    deadline: Instant,
    /// The listener the connection came through, which decides what its
    /// bytes are after the header (echo, TLS records).
    via: ListenerKind,
    /// Once the header is complete: the bytes after it, at the start of
    /// the scratch buffer, for the next stage.
    payload: usize,
    /// What the header said, kept only when `record` is set (for a
    /// receipt, a banner or a whoami answer).
    seen: Option<Box<ProxySeen>>,
    /// Keep what the header says.
    record: bool,
}

impl HeaderStage {
    /// A connection just accepted through a listener of kind `via`, that
    /// must send its header by `deadline`.
    /// With `record`, what the header says is kept for
    /// [`Stage::describe`].
    pub fn new(
        stream: TcpStream,
        deadline: Instant,
        via: ListenerKind,
        record: bool,
    ) -> HeaderStage {
        HeaderStage {
            stream,
            partial: Vec::new(),
            deadline,
            via,
            payload: 0,
            seen: None,
            record,
        }
    }

    /// Bytes this stage holds for its client (for the memory budget).
    pub fn memory(&self) -> usize {
        std::mem::size_of::<HeaderStage>() + self.partial.capacity()
    }

    /// Reads what has arrived, using `scratch`; `key` names the connection
    /// in the log. Never reads past the longest header allowed, so the
    /// client's payload beyond it stays queued for the echo.
    pub fn read(&mut self, scratch: &mut [u8], key: usize) -> Progress {
        loop {
            let room = V2_MAX_LEN - self.partial.len();
            let n = match self.stream.read(&mut scratch[..room]) {
                Ok(0) => return Progress::Failed(HeaderFailure::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Waiting,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!("token {key}: reading the PROXY header failed: {e}");
                    return Progress::Failed(HeaderFailure::Closed);
                }
            };
            let filled = n == room;
            // The common case: the whole header in one read, parsed where
            // it landed; otherwise gather the pieces.
            let header_bytes = if self.partial.is_empty() {
                &scratch[..n]
            } else {
                self.partial.extend_from_slice(&scratch[..n]);
                &self.partial[..]
            };
            let parsed = parse(header_bytes, key);
            if let (Parsed::Complete(header_len), true) = (&parsed, self.record) {
                self.seen = seen(&header_bytes[..*header_len]).map(Box::new);
            }
            match parsed {
                Parsed::Complete(header_len) => {
                    let payload = if self.partial.is_empty() {
                        scratch.copy_within(header_len..n, 0);
                        n - header_len
                    } else {
                        let rest = &self.partial[header_len..];
                        scratch[..rest.len()].copy_from_slice(rest);
                        rest.len()
                    };
                    return Progress::Done {
                        payload,
                        more_queued: filled,
                    };
                }
                Parsed::Failed(failure) => return Progress::Failed(failure),
                Parsed::Incomplete if filled => return Progress::Failed(HeaderFailure::TooLong),
                Parsed::Incomplete => {
                    if self.partial.is_empty() {
                        self.partial.extend_from_slice(&scratch[..n]);
                    }
                    // Read on to `WouldBlock` rather than trust a short
                    // read: a FIN that came with these bytes raises no edge
                    // of its own, and a client that closes inside its
                    // header must not wait for the timeout.
                }
            }
        }
    }
}

impl Stage for HeaderStage {
    /// Reads more of the header; once it is complete, hands the connection
    /// on with what followed the header.
    fn serve(&mut self, _ready: Ready, cx: &mut Context) -> Next {
        let before = self.memory();
        let progress = self.read(&mut cx.scratch[..], cx.key);
        cx.budget.charge(self.memory().saturating_sub(before));
        match progress {
            Progress::Waiting => Next::Wait,
            Progress::Failed(failure) => Next::Close(CloseReason::ProxyHeader(failure)),
            Progress::Done { payload, .. } => {
                cx.stats.proxy_accepted += 1;
                self.payload = payload;
                Next::HandOff
            }
        }
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        &mut self.stream
    }

    fn memory(&self) -> usize {
        HeaderStage::memory(self)
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.deadline)
    }

    fn time_out(&mut self) -> CloseReason {
        CloseReason::ProxyHeader(HeaderFailure::Timeout)
    }

    fn describe(&mut self, receipt: &mut Receipt) {
        if let Some(seen) = self.seen.take() {
            receipt.proxy = Some(seen);
        }
    }

    fn hand_off(self: Box<Self>) -> Option<Handoff> {
        Some(Handoff {
            stream: self.stream,
            via: self.via,
            early: self.payload,
        })
    }
}

/// What the bytes so far are.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// A complete header of this many bytes.
    Complete(usize),
    /// A header's beginning: more bytes are needed.
    Incomplete,
    /// Not a header, or not an acceptable one.
    Failed(HeaderFailure),
}

/// Decides what `bytes` (everything received so far) are, and logs the
/// addresses of a complete header.
fn parse(bytes: &[u8], key: usize) -> Parsed {
    if starts_like(bytes, V2_SIGNATURE) {
        parse_v2(bytes, key)
    } else if starts_like(bytes, V1_PREFIX) {
        parse_v1(bytes, key)
    } else {
        Parsed::Failed(HeaderFailure::NotProxy)
    }
}

/// `bytes` and `prefix` agree as far as both go.
fn starts_like(bytes: &[u8], prefix: &[u8]) -> bool {
    let n = bytes.len().min(prefix.len());
    bytes[..n] == prefix[..n]
}

fn parse_v1(bytes: &[u8], key: usize) -> Parsed {
    let Some(end) = bytes.windows(2).position(|pair| pair == b"\r\n") else {
        return if bytes.len() >= V1_MAX_LEN {
            Parsed::Failed(HeaderFailure::TooLong)
        } else {
            Parsed::Incomplete
        };
    };
    let len = end + 2;
    if len > V1_MAX_LEN {
        return Parsed::Failed(HeaderFailure::TooLong);
    }
    match v1::Header::try_from(&bytes[..len]) {
        Ok(header) => {
            let addresses = v1_addresses(&header);
            log_addresses(key, "v1", addresses);
            Parsed::Complete(len)
        }
        Err(e) => {
            debug!("token {key}: malformed PROXY v1 header: {e}");
            Parsed::Failed(HeaderFailure::Invalid)
        }
    }
}

fn parse_v2(bytes: &[u8], key: usize) -> Parsed {
    if bytes.len() < V2_FIXED_LEN {
        return Parsed::Incomplete;
    }
    let len = V2_FIXED_LEN + usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    if len > V2_MAX_LEN {
        return Parsed::Failed(HeaderFailure::TooLong);
    }
    if bytes.len() < len {
        return Parsed::Incomplete;
    }
    match v2::Header::try_from(&bytes[..len]) {
        Ok(header) if !tlvs::well_formed(header.tlv_bytes()) => {
            debug!("token {key}: PROXY v2 header whose TLVs run past its end");
            Parsed::Failed(HeaderFailure::Invalid)
        }
        Ok(header) if !tlvs::checksum_matches(&bytes[..len], len - header.tlv_bytes().len()) => {
            debug!("token {key}: PROXY v2 header with a CRC32C that does not match");
            Parsed::Failed(HeaderFailure::BadChecksum)
        }
        Ok(header) => {
            // LOCAL: the balancer's own connection (a health check).
            let version = match header.command {
                v2::Command::Local => "v2 LOCAL",
                v2::Command::Proxy => "v2",
            };
            let addresses = v2_addresses(&header);
            log_addresses(key, version, addresses);
            Parsed::Complete(len)
        }
        Err(e) => {
            debug!("token {key}: malformed PROXY v2 header: {e}");
            Parsed::Failed(HeaderFailure::Invalid)
        }
    }
}

/// What a complete header (`bytes`, exactly its length) says, for a
/// receipt; `None` if it cannot be read again (it was parsed once already,
/// so that does not happen).
fn seen(bytes: &[u8]) -> Option<ProxySeen> {
    if starts_like(bytes, V2_SIGNATURE) {
        let header = v2::Header::try_from(bytes).ok()?;
        let addresses = v2_addresses(&header);
        Some(ProxySeen {
            version: 2,
            local: header.command == v2::Command::Local,
            addresses,
            tlvs: Some(tlvs::describe(header.tlv_bytes())),
        })
    } else {
        let header = v1::Header::try_from(bytes).ok()?;
        let addresses = v1_addresses(&header);
        Some(ProxySeen {
            version: 1,
            local: false,
            addresses,
            tlvs: None,
        })
    }
}

/// A v1 header's source and destination, if it names them.
fn v1_addresses(header: &v1::Header) -> Option<(SocketAddr, SocketAddr)> {
    match header.addresses {
        v1::Addresses::Unknown => None,
        v1::Addresses::Tcp4(a) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        v1::Addresses::Tcp6(a) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
    }
}

/// A v2 header's source and destination, if it has IP addresses (a unix
/// socket's, or none, name nothing here).
fn v2_addresses(header: &v2::Header) -> Option<(SocketAddr, SocketAddr)> {
    match header.addresses {
        v2::Addresses::IPv4(a) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        v2::Addresses::IPv6(a) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        v2::Addresses::Unix(_) | v2::Addresses::Unspecified => None,
    }
}

/// The debug line that names the client a header spoke for.
fn log_addresses(key: usize, version: &str, addresses: Option<(SocketAddr, SocketAddr)>) {
    match addresses {
        Some((client, destination)) => {
            debug!("token {key}: PROXY {version} client {client} to {destination}")
        }
        None => debug!("token {key}: PROXY {version} with no client address"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &[u8] = b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n";

    fn v2_ipv4(command: u8) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.extend_from_slice(&[0x20 | command, 0x11, 0, 12]);
        header.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2, 0xc8, 0x22, 0x01, 0xbb]);
        header
    }

    #[test]
    fn a_header_is_complete_only_with_its_last_byte() {
        for header in [V1.to_vec(), v2_ipv4(1), v2_ipv4(0)] {
            for cut in 0..header.len() {
                assert_eq!(parse(&header[..cut], 1), Parsed::Incomplete, "cut at {cut}");
            }
            assert_eq!(parse(&header, 1), Parsed::Complete(header.len()));
        }
    }

    #[test]
    fn a_v2_header_whose_tlvs_do_not_add_up_is_refused() {
        let mut header = v2_ipv4(1);
        // A TLV claiming 9 bytes with 2 there.
        header.extend_from_slice(&[0x02, 0, 9, b'a', b'b']);
        header[15] += 5;
        assert_eq!(parse(&header, 1), Parsed::Failed(HeaderFailure::Invalid));
    }

    #[test]
    fn unknown_and_ipv6_v1_headers_parse() {
        let unknown = b"PROXY UNKNOWN\r\n";
        assert_eq!(parse(unknown, 1), Parsed::Complete(unknown.len()));
        let v6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 443\r\n";
        assert_eq!(parse(v6, 1), Parsed::Complete(v6.len()));
    }

    #[test]
    fn garbage_is_refused_from_its_first_wrong_byte() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n", 1),
            Parsed::Failed(HeaderFailure::NotProxy)
        );
        assert_eq!(parse(b"PROXZ", 1), Parsed::Failed(HeaderFailure::NotProxy));
        assert_eq!(
            parse(b"\r\n\r\n\0X", 1),
            Parsed::Failed(HeaderFailure::NotProxy)
        );
        assert_eq!(parse(b"PROXY", 1), Parsed::Incomplete);
    }

    #[test]
    fn too_long_and_malformed_headers_are_refused() {
        let mut long = b"PROXY TCP4 ".to_vec();
        long.resize(V1_MAX_LEN, b'1');
        assert_eq!(parse(&long, 1), Parsed::Failed(HeaderFailure::TooLong));
        let mut v2_long = V2_SIGNATURE.to_vec();
        v2_long.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(parse(&v2_long, 1), Parsed::Failed(HeaderFailure::TooLong));
        assert_eq!(
            parse(b"PROXY TCP4 not-an-address 198.51.100.2 1 2\r\n", 1),
            Parsed::Failed(HeaderFailure::Invalid)
        );
    }
}
