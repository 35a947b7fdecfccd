//! The splitmix64 byte stream: deterministic pseudo-random test and benchmark inputs. The
//! golden vectors (`scripts/gen-vectors.mjs`) name their inputs by (seed, length) in this
//! stream, so tests rebuild them instead of storing them.

/// The first `len` bytes of the splitmix64 stream seeded with `seed` (each output `u64`
/// appended little-endian).
pub fn splitmix_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_published_stream() {
        // https://prng.di.unimi.it/splitmix64.c, seed 0: first output.
        assert_eq!(super::splitmix_bytes(0, 8), 0xe220_a839_7b1d_cdafu64.to_le_bytes());
        assert_eq!(super::splitmix_bytes(0, 3), super::splitmix_bytes(0, 8)[..3]);
    }
}
