//! UTF-8 checked a chunk at a time, as a text message's payload arrives.
//!
//! A text message is echoed frame by frame (see the module doc of
//! [`super`]), so it is never whole in memory: its payload must be
//! checked as it passes, with the state of a code point cut between two
//! reads (or two fragments) carried over. The state is two small numbers,
//! so an open connection keeps no bytes for it.
//!
//! The check is RFC 3629's (as `std::str::from_utf8`'s): no overlong
//! forms, no surrogates, nothing above U+10FFFF. It fails at the first
//! byte that cannot start or continue a valid sequence, which is what
//! Autobahn's "fail fast" cases (6.x) look for.

/// Where a text message's UTF-8 stands between chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Check {
    /// Continuation bytes the code point in progress still needs (0: none).
    needed: u8,
    /// The range the next continuation byte must fall in, which the
    /// sequence's first byte decides (E0 and F0 forbid overlong forms, ED
    /// surrogates, F4 code points above U+10FFFF).
    low: u8,
    high: u8,
}

/// A byte that can start no valid sequence, or continue none here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Check {
    /// Checks the next `bytes` of the message.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        let mut rest = bytes;
        // Finish the code point cut by the last chunk, byte by byte.
        while self.needed > 0 {
            let Some((&byte, tail)) = rest.split_first() else {
                return Ok(());
            };
            if byte < self.low || byte > self.high {
                return Err(InvalidUtf8);
            }
            self.needed -= 1;
            (self.low, self.high) = (0x80, 0xBF);
            rest = tail;
        }
        // The rest at std's speed; only a cut code point at the end is
        // left to the byte-wise state.
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => self.start(&rest[e.valid_up_to()..]),
        }
    }

    /// The message ended: no code point may be left cut.
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        match self.needed {
            0 => Ok(()),
            _ => Err(InvalidUtf8),
        }
    }

    /// `tail` is the valid start of one code point: keep its state.
    fn start(&mut self, tail: &[u8]) -> Result<(), InvalidUtf8> {
        let (first, continuation) = tail.split_first().ok_or(InvalidUtf8)?;
        let (needed, low, high) = match first {
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xE1..=0xEF => (2, 0x80, 0xBF),
            0xF0 => (3, 0x90, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            _ => return Err(InvalidUtf8),
        };
        *self = Utf8Check { needed, low, high };
        // std said these bytes are a valid prefix: consume them.
        for _ in continuation {
            self.needed -= 1;
            (self.low, self.high) = (0x80, 0xBF);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `text` cut at every place, as one chunk and as two.
    fn valid_at_every_cut(bytes: &[u8]) -> bool {
        let whole = {
            let mut check = Utf8Check::default();
            check.feed(bytes).and_then(|()| check.finish()).is_ok()
        };
        for cut in 0..=bytes.len() {
            let mut check = Utf8Check::default();
            let two = check
                .feed(&bytes[..cut])
                .and_then(|()| check.feed(&bytes[cut..]))
                .and_then(|()| check.finish())
                .is_ok();
            assert_eq!(two, whole, "{bytes:x?} cut at {cut}");
        }
        let mut check = Utf8Check::default();
        let byte_by_byte = bytes
            .iter()
            .try_for_each(|b| check.feed(std::slice::from_ref(b)))
            .and_then(|()| check.finish())
            .is_ok();
        assert_eq!(byte_by_byte, whole, "{bytes:x?} byte by byte");
        whole
    }

    #[test]
    fn agrees_with_std_wherever_the_chunks_are_cut() {
        let cases: &[&[u8]] = &[
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "κόσμε".as_bytes(),
            "\u{10FFFF}\u{FFFF}\u{7FF}".as_bytes(),
            &[
                0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80,
            ],
            &[0xF4, 0x90, 0x80, 0x80],
            &[0xC0, 0xAF],
            &[0xE0, 0x80, 0xAF],
            &[0xF0, 0x8F, 0xBF, 0xBF],
            &[0xED, 0xBF, 0xBF],
            &[0xF8, 0x88, 0x80, 0x80, 0x80],
            &[0x80],
            &[0xE2, 0x82],
            &[0xFE],
        ];
        for case in cases {
            assert_eq!(
                valid_at_every_cut(case),
                std::str::from_utf8(case).is_ok(),
                "{case:x?}"
            );
        }
    }

    #[test]
    fn a_bad_byte_fails_at_once_before_the_message_ends() {
        let mut check = Utf8Check::default();
        assert_eq!(check.feed(&[0xCE, 0xBA, 0xF4, 0x90]), Err(InvalidUtf8));
    }
}
