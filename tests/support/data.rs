//! Test data that is the same on every run and easy to check: a seeded
//! pseudo-random pattern, and a buffer holding every byte value.

/// `len` pseudo-random bytes from `seed` (xorshift64*), the same every run.
/// Any 256+ bytes of it hold most byte values; `all_byte_values` holds each.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// Every byte value 0..=255, then `pattern` up to `len`.
pub fn all_byte_values(len: usize, seed: u64) -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend(pattern(len.saturating_sub(256), seed));
    data.truncate(len);
    data
}
