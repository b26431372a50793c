//! The bytes every connection sends and every echo is checked against:
//! one pseudo-random pattern of prime length, entered by each connection at
//! its own phase (see "Verification" in the crate doc).

/// Length of the byte pattern every stream is cut from: the largest prime
/// below 64 Ki, so no power-of-two message size lines up with it.
pub const PATTERN_LEN: usize = 65_521;

/// The bytes every connection sends, stored twice in a row so that any run
/// of up to `PATTERN_LEN` bytes, from any offset, is one slice.
pub struct Pattern {
    doubled: Box<[u8]>,
}

impl Pattern {
    pub fn new() -> Pattern {
        // splitmix64: deterministic, so a capture of one run can be checked
        // against the next.
        let mut state: u64 = 0x0123_4567_89ab_cdef;
        let mut bytes = Vec::with_capacity(2 * PATTERN_LEN);
        while bytes.len() < PATTERN_LEN {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let take = (PATTERN_LEN - bytes.len()).min(8);
            bytes.extend_from_slice(&z.to_le_bytes()[..take]);
        }
        bytes.extend_from_within(..PATTERN_LEN);
        Pattern {
            doubled: bytes.into_boxed_slice(),
        }
    }

    /// Where connection `id` enters the pattern. 40503 is coprime to the
    /// prime length, so the first 65521 connections all get different phases.
    pub fn phase(id: usize) -> u64 {
        (id as u64 * 40_503) % PATTERN_LEN as u64
    }

    /// Bytes `offset..` of the stream entered at `phase`: `max_len` of them,
    /// or `PATTERN_LEN` if that is fewer.
    pub fn slice(&self, phase: u64, offset: u64, max_len: usize) -> &[u8] {
        let start = ((phase + offset) % PATTERN_LEN as u64) as usize;
        &self.doubled[start..start + max_len.min(PATTERN_LEN)]
    }

    /// How many bytes of `got` differ from the stream entered at `phase`,
    /// read from `offset` on (however many pattern lengths `got` spans).
    pub fn differing_at(&self, phase: u64, offset: u64, got: &[u8]) -> u64 {
        let mut differing = 0;
        let mut offset = offset;
        let mut rest = got;
        while !rest.is_empty() {
            let expected = self.slice(phase, offset, rest.len());
            let (chunk, tail) = rest.split_at(expected.len());
            differing += differing_bytes(chunk, expected);
            offset += chunk.len() as u64;
            rest = tail;
        }
        differing
    }
}

/// How many bytes of `got` differ from `expected`, counting every byte of
/// the longer one past the end of the shorter as differing.
pub fn differing_bytes(got: &[u8], expected: &[u8]) -> u64 {
    let changed = got.iter().zip(expected).filter(|(a, b)| a != b).count();
    (changed + got.len().abs_diff(expected.len())) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_wraps_around_the_end_of_the_pattern() {
        let pattern = Pattern::new();
        let phase = Pattern::phase(3);
        let across = pattern.slice(phase, PATTERN_LEN as u64 - 10, 20);
        assert_eq!(across.len(), 20);
        assert_eq!(&across[10..], pattern.slice(phase, 0, 10));
        assert_eq!(pattern.slice(phase, 0, usize::MAX).len(), PATTERN_LEN);
    }

    #[test]
    fn a_chunk_longer_than_the_pattern_is_checked_whole() {
        let pattern = Pattern::new();
        let phase = Pattern::phase(5);
        let mut stream = pattern.slice(phase, 7, PATTERN_LEN).to_vec();
        stream.extend_from_slice(pattern.slice(phase, 7 + PATTERN_LEN as u64, 100));
        assert_eq!(pattern.differing_at(phase, 7, &stream), 0);
        stream[PATTERN_LEN + 50] ^= 1;
        assert_eq!(pattern.differing_at(phase, 7, &stream), 1);
    }

    #[test]
    fn neighbouring_connections_send_different_streams() {
        let pattern = Pattern::new();
        let first = pattern.slice(Pattern::phase(0), 0, 64);
        let second = pattern.slice(Pattern::phase(1), 0, 64);
        assert!(differing_bytes(first, second) > 32);
        assert_eq!(differing_bytes(b"abc", b"abd"), 1);
        assert_eq!(differing_bytes(b"abc", b"a"), 2);
    }
}
