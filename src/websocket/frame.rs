//! RFC 6455's frame header (section 5.2): parsed a byte at a time as it
//! arrives, so a header cut between two reads costs 14 bytes of state,
//! and written for the echo's frames, which a server never masks.

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// The next fragment of a data message.
    Continuation,
    /// The first frame of a text message (UTF-8).
    Text,
    /// The first frame of a binary message.
    Binary,
    /// The closing handshake.
    Close,
    /// A ping, answered by a pong with its payload.
    Ping,
    /// A pong: an answer, or a heartbeat; ignored.
    Pong,
}

impl Opcode {
    fn of(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            // 0x3-0x7 and 0xB-0xF are reserved.
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// A control frame (close, ping, pong): at most 125 bytes, never
    /// fragmented, allowed between a message's fragments.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// Most payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest header: 2 bytes, an 8-byte length, a 4-byte mask.
pub const MAX_HEADER: usize = 14;

/// The longest header the server writes: unmasked, so 10 bytes.
pub const MAX_OUT_HEADER: usize = 10;

/// A client frame's header, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub fin: bool,
    pub opcode: Opcode,
    pub len: u64,
    pub mask: [u8; 4],
}

/// Why a header is refused: each is a protocol error (close code 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadHeader {
    /// RSV1-3 set, with no extension negotiated.
    ReservedBits,
    /// A reserved opcode.
    ReservedOpcode,
    /// A client frame without a mask (RFC 6455, 5.1).
    Unmasked,
    /// A 64-bit length with its most significant bit set (2^63 bytes or
    /// more), which section 5.2 forbids.
    LengthTooLarge,
    /// A control frame fragmented or over 125 bytes.
    BadControl,
}

/// A header as its bytes arrive.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderReader {
    bytes: [u8; MAX_HEADER],
    have: u8,
}

impl HeaderReader {
    /// Takes what it needs from the front of `input`; answers how many
    /// bytes it took, and the header once whole (or why it is refused, as
    /// soon as its first bytes say so: a 2^63-byte length is refused
    /// before its mask arrives).
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Result<Header, BadHeader>>) {
        let mut taken = 0;
        loop {
            let need = match self.needed() {
                Ok(need) => need,
                Err(bad) => return (taken, Some(Err(bad))),
            };
            let have = self.have as usize;
            if have == need {
                let header = self.parse();
                *self = HeaderReader::default();
                return (taken, Some(Ok(header)));
            }
            let Some(&byte) = input.get(taken) else {
                return (taken, None);
            };
            self.bytes[have] = byte;
            self.have += 1;
            taken += 1;
        }
    }

    /// The header's whole length, as far as its bytes so far tell, or why
    /// it is refused.
    fn needed(&self) -> Result<usize, BadHeader> {
        if self.have < 2 {
            return Ok(2);
        }
        let [first, second, ..] = self.bytes;
        if first & 0x70 != 0 {
            return Err(BadHeader::ReservedBits);
        }
        let opcode = Opcode::of(first & 0x0F).ok_or(BadHeader::ReservedOpcode)?;
        if second & 0x80 == 0 {
            return Err(BadHeader::Unmasked);
        }
        let short = second & 0x7F;
        if opcode.is_control() && (first & 0x80 == 0 || short as usize > MAX_CONTROL_PAYLOAD) {
            return Err(BadHeader::BadControl);
        }
        Ok(match short {
            126 => 2 + 2 + 4,
            127 if self.have > 2 && self.bytes[2] & 0x80 != 0 => {
                return Err(BadHeader::LengthTooLarge)
            }
            127 => 2 + 8 + 4,
            _ => 2 + 4,
        })
    }

    /// The whole header's fields.
    fn parse(&self) -> Header {
        let b = &self.bytes;
        let (len, at) = match b[1] & 0x7F {
            126 => (u16::from_be_bytes([b[2], b[3]]) as u64, 4),
            127 => (
                u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")),
                10,
            ),
            short => (short as u64, 2),
        };
        Header {
            fin: b[0] & 0x80 != 0,
            opcode: Opcode::of(b[0] & 0x0F).expect("checked by needed()"),
            len,
            mask: b[at..at + 4].try_into().expect("4 bytes"),
        }
    }
}

/// Writes an unmasked header at the start of `out`; answers its length
/// (at most [`MAX_OUT_HEADER`]).
pub fn write_header(out: &mut [u8], fin: bool, opcode: Opcode, len: usize) -> usize {
    out[0] = (u8::from(fin) << 7) | opcode.bits();
    match len {
        0..=125 => {
            out[1] = len as u8;
            2
        }
        126..=0xFFFF => {
            out[1] = 126;
            out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            out[1] = 127;
            out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    }
}

/// Unmasks `payload` in place; `offset` is its first byte's position in
/// the frame's payload (the mask repeats every 4 bytes).
pub fn unmask(payload: &mut [u8], mask: [u8; 4], offset: u64) {
    let start = (offset % 4) as usize;
    let key = [
        mask[start],
        mask[(start + 1) % 4],
        mask[(start + 2) % 4],
        mask[(start + 3) % 4],
    ];
    let word = u32::from_ne_bytes(key);
    let mut chunks = payload.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let value = u32::from_ne_bytes(chunk.try_into().expect("4 bytes")) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// A close frame's status code the peer may send (RFC 6455, 7.4; IANA's
/// registry): 1000-1003, 1007-1014, and 3000-4999 for libraries and
/// applications. 1004-1006 and 1015 are never sent on the wire.
pub fn is_sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(first: u8, len_bytes: &[u8]) -> Vec<u8> {
        let mut bytes = vec![first];
        bytes.extend_from_slice(len_bytes);
        bytes[1] |= 0x80;
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes
    }

    #[test]
    fn a_header_parses_the_same_whatever_the_cuts() {
        for (len_bytes, len) in [
            (vec![5u8], 5u64),
            (vec![126, 0x01, 0x00], 256),
            (vec![127, 0, 0, 0, 1, 0, 0, 0, 0], 1 << 32),
        ] {
            let bytes = masked(0x82, &len_bytes);
            let mut reader = HeaderReader::default();
            let mut header = None;
            for byte in &bytes {
                let (taken, done) = reader.feed(std::slice::from_ref(byte));
                assert_eq!(taken, 1);
                header = done;
            }
            let header = header.unwrap().unwrap();
            assert_eq!(
                (header.fin, header.opcode, header.len),
                (true, Opcode::Binary, len)
            );
            assert_eq!(header.mask, [1, 2, 3, 4]);
            let mut whole = HeaderReader::default();
            let mut with_payload = bytes.clone();
            with_payload.extend_from_slice(b"payload");
            assert_eq!(whole.feed(&with_payload), (bytes.len(), Some(Ok(header))));
        }
    }

    #[test]
    fn bad_headers_are_refused_as_soon_as_their_bytes_say_so() {
        let refused = |bytes: &[u8]| HeaderReader::default().feed(bytes).1;
        assert_eq!(refused(&[0xC1, 0x80]), Some(Err(BadHeader::ReservedBits)));
        assert_eq!(refused(&[0x83, 0x80]), Some(Err(BadHeader::ReservedOpcode)));
        assert_eq!(refused(&[0x81, 0x05]), Some(Err(BadHeader::Unmasked)));
        assert_eq!(refused(&[0x09, 0x80]), Some(Err(BadHeader::BadControl)));
        assert_eq!(refused(&[0x89, 0xFE]), Some(Err(BadHeader::BadControl)));
        assert_eq!(
            refused(&[0x82, 0xFF, 0x80]),
            Some(Err(BadHeader::LengthTooLarge))
        );
    }

    #[test]
    fn unmasking_from_any_offset_matches_byte_by_byte() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..23).collect();
        for offset in 0..8u64 {
            let mut fast = data.clone();
            unmask(&mut fast, mask, offset);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[((offset as usize) + i) % 4])
                .collect();
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn headers_are_written_with_the_shortest_length() {
        let mut out = [0u8; MAX_OUT_HEADER];
        assert_eq!(write_header(&mut out, true, Opcode::Text, 5), 2);
        assert_eq!(out[..2], [0x81, 5]);
        assert_eq!(write_header(&mut out, false, Opcode::Continuation, 300), 4);
        assert_eq!(out[..4], [0x00, 126, 1, 44]);
        assert_eq!(write_header(&mut out, true, Opcode::Binary, 70_000), 10);
        assert_eq!(out[..2], [0x82, 127]);
    }
}
