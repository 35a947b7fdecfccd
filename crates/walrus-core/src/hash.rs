//! Blake2b-256, and the batched Merkle hashing of `walrus-blake2b`.
//!
//! Building a blob's metadata at `n = 1000` takes about a million leaf hashes and two million
//! inner-node hashes, almost all of them a single Blake2b compression. Those go through
//! `walrus-blake2b`, which runs eight at a time in SIMD lanes; single hashes (blob IDs,
//! addresses, proofs) use `blake2b_simd`.

use std::sync::OnceLock;

use blake2b_simd::Params;
pub use walrus_blake2b::{hash_level, merkle_roots, TreeLayout};

use crate::params::DIGEST_LEN;

/// A 32-byte Blake2b-256 digest.
pub type Digest = [u8; DIGEST_LEN];

/// Serde for a [`Digest`] field: `0x` + 64 hex digits in human-readable formats (JSON), the
/// plain 32-byte tuple in binary ones (BCS). Use as `#[serde(with = "hex_digest")]`.
pub mod hex_digest {
    use super::Digest;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes `digest`.
    pub fn serialize<S: Serializer>(digest: &Digest, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(&format_args!("0x{}", hex::encode(digest)))
        } else {
            digest.serialize(s)
        }
    }

    /// Deserializes a digest.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            crate::ids::parse_hex32(&text)
                .ok_or_else(|| serde::de::Error::custom("expected 0x + 64 hex digits"))
        } else {
            Digest::deserialize(d)
        }
    }
}

/// Prefix of a Merkle leaf's hash input.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of a Merkle inner node's hash input.
pub const INNER_PREFIX: u8 = 0x01;

fn params() -> &'static Params {
    static PARAMS: OnceLock<Params> = OnceLock::new();
    PARAMS.get_or_init(|| {
        let mut p = Params::new();
        p.hash_length(DIGEST_LEN);
        p
    })
}

fn to_digest(hash: blake2b_simd::Hash) -> Digest {
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(hash.as_bytes());
    out
}

/// Blake2b with a 32-byte digest (set in the parameter block, not a truncated Blake2b-512).
pub fn blake2b256(data: &[u8]) -> Digest {
    to_digest(params().hash(data))
}

/// Blake2b-256 of the concatenation of `parts`.
pub fn blake2b256_parts(parts: &[&[u8]]) -> Digest {
    let mut state = params().to_state();
    for part in parts {
        state.update(part);
    }
    to_digest(state.finalize())
}

/// The Merkle leaf hash `H(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Digest {
    blake2b256_parts(&[&[LEAF_PREFIX], leaf])
}

/// The Merkle inner-node hash `H(0x01 || left || right)`.
pub fn inner_hash(left: &Digest, right: &Digest) -> Digest {
    let mut input = [0u8; 1 + 2 * DIGEST_LEN];
    input[0] = INNER_PREFIX;
    input[1..1 + DIGEST_LEN].copy_from_slice(left);
    input[1 + DIGEST_LEN..].copy_from_slice(right);
    blake2b256(&input)
}

/// The leaf hashes `H(0x00 || symbol)` of the `symbol_size`-byte symbols stored back to back in
/// `symbols`, into `out` (one per symbol).
///
/// # Panics
/// If `symbols.len() != out.len() * symbol_size` (a caller bug).
pub fn leaf_hashes(symbols: &[u8], symbol_size: usize, out: &mut [Digest]) {
    walrus_blake2b::hash_prefixed(LEAF_PREFIX, symbols, symbol_size, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake2b256_matches_known_answer() {
        // Python: hashlib.blake2b(b"abc", digest_size=32).hexdigest()
        assert_eq!(
            hex::encode(blake2b256(b"abc")),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
        );
    }

    #[test]
    fn batched_leaf_hashes_equal_one_at_a_time() {
        for len in [1usize, 2, 64, 127, 128, 300] {
            let count = 77;
            let symbols: Vec<u8> = (0..count * len).map(|i| (i * 7 + 3) as u8).collect();
            let mut out = vec![[0u8; 32]; count];
            leaf_hashes(&symbols, len, &mut out);
            for (i, digest) in out.iter().enumerate() {
                assert_eq!(*digest, leaf_hash(&symbols[i * len..(i + 1) * len]), "len {len} item {i}");
            }
        }
    }

    #[test]
    fn level_hashing_pads_odd_levels_with_zeros() {
        let level: Vec<Digest> = (0..5u8).map(|i| [i; 32]).collect();
        let mut out = vec![[0u8; 32]; 3];
        hash_level(&level, &mut out);
        assert_eq!(out[0], inner_hash(&level[0], &level[1]));
        assert_eq!(out[2], inner_hash(&level[4], &[0; 32]));
    }
}
