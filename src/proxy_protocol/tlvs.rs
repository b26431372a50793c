//! What a PROXY v2 header carries besides addresses: its TLVs (type,
//! length, value), decoded for the receipt, and its CRC32C checked.
//!
//! Balancers put there what the backend cannot see for itself: the ALPN
//! and SNI the client asked the balancer for, a unique id for the
//! request, the client's TLS version and certificate CN (HAProxy's
//! `proxy-v2-options ssl,cert-cn`), and the cloud providers' endpoint ids
//! (AWS PrivateLink's VPC endpoint id, Azure Private Link's link id,
//! Google Private Service Connect's connection id), which consumers ask for
//! time and again. The types are those of HAProxy's specification
//! (`PP2_TYPE_*`) and of each provider's documentation.
//!
//! The checksum is validation, not a receipt field: a header with a
//! CRC32C TLV that does not match its bytes is refused
//! ([`HeaderFailure::BadChecksum`](crate::stats::HeaderFailure)), whether
//! or not receipts are kept. Everything else here is decoded only for a
//! receipt.

use serde_json::{json, Map, Value};

/// `PP2_TYPE_ALPN`: the protocol the client negotiated with the balancer.
const ALPN: u8 = 0x01;
/// `PP2_TYPE_AUTHORITY`: the host name the client asked for (SNI).
const AUTHORITY: u8 = 0x02;
/// `PP2_TYPE_CRC32C`: a checksum of the whole header.
const CRC32C: u8 = 0x03;
/// `PP2_TYPE_NOOP`: padding.
const NOOP: u8 = 0x04;
/// `PP2_TYPE_UNIQUE_ID`: an opaque id of the connection, up to 128 bytes.
const UNIQUE_ID: u8 = 0x05;
/// `PP2_TYPE_SSL`: how the client spoke TLS to the balancer.
const SSL: u8 = 0x20;
/// `PP2_SUBTYPE_SSL_VERSION`, inside `PP2_TYPE_SSL`.
const SSL_VERSION: u8 = 0x21;
/// `PP2_SUBTYPE_SSL_CN`: the client certificate's common name.
const SSL_CN: u8 = 0x22;
/// `PP2_SUBTYPE_SSL_CIPHER`.
const SSL_CIPHER: u8 = 0x23;
/// `PP2_SUBTYPE_SSL_SIG_ALG`: the certificate's signature algorithm.
const SSL_SIG_ALG: u8 = 0x24;
/// `PP2_SUBTYPE_SSL_KEY_ALG`: the certificate's key algorithm.
const SSL_KEY_ALG: u8 = 0x25;
/// `PP2_TYPE_NETNS`: the network namespace's name.
const NETNS: u8 = 0x30;
/// Google Cloud Private Service Connect: the connection id, 8 bytes.
const GCP: u8 = 0xE0;
/// AWS PrivateLink: subtype 0x01, then the VPC endpoint id.
const AWS: u8 = 0xEA;
/// Azure Private Link: subtype 0x01, then the link id, 4 bytes little endian.
const AZURE: u8 = 0xEE;

/// `PP2_CLIENT_SSL`: the client connected over TLS.
const CLIENT_SSL: u8 = 0x01;
/// `PP2_CLIENT_CERT_CONN`: it presented a certificate on this connection.
const CLIENT_CERT_CONN: u8 = 0x02;
/// `PP2_CLIENT_CERT_SESS`: it presented one at least once in the session.
const CLIENT_CERT_SESS: u8 = 0x04;

/// The header's TLVs, one `(type, value)` each, in order; `None` if their
/// lengths do not add up (which the parser refuses before this is asked).
fn split(mut bytes: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut tlvs = Vec::new();
    while !bytes.is_empty() {
        let [kind, high, low, rest @ ..] = bytes else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        if rest.len() < len {
            return None;
        }
        tlvs.push((*kind, &rest[..len]));
        bytes = &rest[len..];
    }
    Some(tlvs)
}

/// Whether the TLVs' lengths add up to exactly `tlv_bytes`: a header
/// whose last TLV runs past its end is malformed.
pub(super) fn well_formed(tlv_bytes: &[u8]) -> bool {
    split(tlv_bytes).is_some()
}

/// Whether the header's CRC32C TLV, if it has one, matches: the checksum
/// of the whole `header` with the TLV's value taken as zeros.
/// `tlv_start` is where the TLVs begin in `header`.
pub(super) fn checksum_matches(header: &[u8], tlv_start: usize) -> bool {
    let Some(tlvs) = split(&header[tlv_start..]) else {
        return true; // the parser judges the lengths
    };
    let Some((_, value)) = tlvs.iter().find(|(kind, _)| *kind == CRC32C) else {
        return true;
    };
    let Ok(expected) = <[u8; 4]>::try_from(*value) else {
        return false;
    };
    // The value's place in the header, from the slices' addresses.
    let at = value.as_ptr() as usize - header.as_ptr() as usize;
    let mut zeroed = header.to_vec();
    zeroed[at..at + 4].fill(0);
    crc32c(&zeroed) == u32::from_be_bytes(expected)
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: it
/// runs over one short header, only when the header carries the TLV.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82F6_3B78 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The TLVs of a header, as the receipt shows them: known types by name,
/// others as `{"type": n, "value_hex": ...}` under `other`.
pub(super) fn describe(tlv_bytes: &[u8]) -> Value {
    let mut out = Map::new();
    let mut other = Vec::new();
    for (kind, value) in split(tlv_bytes).unwrap_or_default() {
        match kind {
            ALPN => insert(&mut out, "alpn", text(value)),
            AUTHORITY => insert(&mut out, "authority", text(value)),
            CRC32C => insert(&mut out, "crc32c", json!(hex(value))),
            NOOP => {}
            UNIQUE_ID => insert(&mut out, "unique_id", text(value)),
            SSL => insert(&mut out, "ssl", ssl(value)),
            NETNS => insert(&mut out, "netns", text(value)),
            AWS if value.first() == Some(&0x01) => {
                insert(&mut out, "aws_vpce_id", text(&value[1..]))
            }
            AZURE if value.len() == 5 && value[0] == 0x01 => {
                let id = u32::from_le_bytes([value[1], value[2], value[3], value[4]]);
                insert(&mut out, "azure_private_link_id", json!(id));
            }
            GCP if value.len() == 8 => {
                let id = u64::from_be_bytes(value.try_into().expect("8 bytes"));
                insert(&mut out, "gcp_psc_connection_id", json!(id));
            }
            _ => other.push(json!({"type": kind, "value_hex": hex(value)})),
        }
    }
    if !other.is_empty() {
        out.insert("other".into(), Value::Array(other));
    }
    Value::Object(out)
}

/// `PP2_TYPE_SSL`: a client byte, a 32-bit verify result (0: the
/// certificate verified), then sub-TLVs.
fn ssl(value: &[u8]) -> Value {
    let [client, v0, v1, v2, v3, rest @ ..] = value else {
        return json!({"value_hex": hex(value)});
    };
    let mut out = Map::new();
    out.insert("client_ssl".into(), json!(client & CLIENT_SSL != 0));
    out.insert(
        "client_cert_conn".into(),
        json!(client & CLIENT_CERT_CONN != 0),
    );
    out.insert(
        "client_cert_sess".into(),
        json!(client & CLIENT_CERT_SESS != 0),
    );
    out.insert(
        "verify".into(),
        json!(u32::from_be_bytes([*v0, *v1, *v2, *v3])),
    );
    for (kind, value) in split(rest).unwrap_or_default() {
        let name = match kind {
            SSL_VERSION => "version",
            SSL_CN => "cn",
            SSL_CIPHER => "cipher",
            SSL_SIG_ALG => "sig_alg",
            SSL_KEY_ALG => "key_alg",
            _ => continue,
        };
        out.insert(name.into(), text(value));
    }
    Value::Object(out)
}

/// The first value of a type is kept; a repeat is ignored.
fn insert(out: &mut Map<String, Value>, name: &str, value: Value) {
    out.entry(name).or_insert(value);
}

/// Text as sent, with any invalid UTF-8 replaced.
fn text(value: &[u8]) -> Value {
    json!(String::from_utf8_lossy(value))
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The check value of CRC-32C (RFC 3720, appendix B.4's catalogue).
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn every_known_type_is_named() {
        let mut ssl_value = vec![CLIENT_SSL | CLIENT_CERT_CONN, 0, 0, 0, 0];
        ssl_value.extend(tlv(SSL_VERSION, b"TLSv1.3"));
        ssl_value.extend(tlv(SSL_CN, b"client one"));
        let bytes = [
            tlv(ALPN, b"h2"),
            tlv(AUTHORITY, b"echo.example"),
            tlv(NOOP, b"\0\0"),
            tlv(UNIQUE_ID, b"abc-123"),
            tlv(SSL, &ssl_value),
            tlv(AWS, b"\x01vpce-0123456789abcdef0"),
            tlv(AZURE, &[0x01, 0x78, 0x56, 0x34, 0x12]),
            tlv(GCP, &0x0102_0304_0506_0708u64.to_be_bytes()),
            tlv(0x42, b"\xff"),
        ]
        .concat();
        assert_eq!(
            describe(&bytes),
            json!({
                "alpn": "h2",
                "authority": "echo.example",
                "unique_id": "abc-123",
                "ssl": {
                    "client_ssl": true,
                    "client_cert_conn": true,
                    "client_cert_sess": false,
                    "verify": 0,
                    "version": "TLSv1.3",
                    "cn": "client one",
                },
                "aws_vpce_id": "vpce-0123456789abcdef0",
                "azure_private_link_id": 0x1234_5678,
                "gcp_psc_connection_id": 0x0102_0304_0506_0708u64,
                "other": [{"type": 0x42, "value_hex": "ff"}],
            })
        );
    }

    #[test]
    fn a_checksum_is_checked_over_the_whole_header() {
        let prefix = b"header bytes".to_vec();
        let mut header = [prefix.clone(), tlv(CRC32C, &[0; 4]), tlv(ALPN, b"h2")].concat();
        let sum = crc32c(&header);
        let at = prefix.len() + 3;
        header[at..at + 4].copy_from_slice(&sum.to_be_bytes());
        assert!(checksum_matches(&header, prefix.len()));
        let last = header.len() - 1;
        header[last] ^= 1;
        assert!(!checksum_matches(&header, prefix.len()));
        // No checksum TLV: nothing to check.
        assert!(checksum_matches(b"header bytes", prefix.len()));
    }
}
