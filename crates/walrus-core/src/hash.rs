//! Blake2b-256 and batched hashing of many equal-length inputs.
//!
//! Building a blob's metadata at `n = 1000` takes about a million leaf hashes and two million
//! inner-node hashes, almost all of them a single Blake2b compression. Hashing them one at a
//! time leaves the SIMD lanes idle, so [`hash_many_equal`] feeds fixed-size inputs to
//! `blake2b_simd::many`, which runs 4 (AVX2) or 2 (SSE4.1) compressions side by side.

use std::sync::OnceLock;

use blake2b_simd::many::{hash_many, HashManyJob};
use blake2b_simd::Params;

use crate::params::DIGEST_LEN;

/// A 32-byte Blake2b-256 digest.
pub type Digest = [u8; DIGEST_LEN];

/// Prefix of a Merkle leaf's hash input.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of a Merkle inner node's hash input.
pub const INNER_PREFIX: u8 = 0x01;

/// Jobs handed to `hash_many` at once: enough to keep every SIMD lane busy.
const BATCH_JOBS: usize = 32;

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

/// Hashes `out.len()` inputs of `input_len` bytes each, stored back to back in `inputs`,
/// writing digest `i` to `out[i]`.
///
/// # Panics
/// If `inputs.len() != out.len() * input_len` (a caller bug).
pub fn hash_many_equal(inputs: &[u8], input_len: usize, out: &mut [Digest]) {
    assert_eq!(inputs.len(), out.len() * input_len, "inputs must hold exactly one slot per digest");
    if input_len == 0 {
        out.fill(blake2b256(&[]));
        return;
    }
    let params = params();
    for (inputs, out) in inputs.chunks(BATCH_JOBS * input_len).zip(out.chunks_mut(BATCH_JOBS)) {
        let mut jobs: Vec<HashManyJob<'_>> =
            inputs.chunks_exact(input_len).map(|input| HashManyJob::new(params, input)).collect();
        hash_many(jobs.iter_mut());
        for (job, digest) in jobs.iter().zip(out.iter_mut()) {
            *digest = to_digest(job.to_hash());
        }
    }
}

/// Hashes the inner nodes of one tree level: `out[i] = H(0x01 || level[2i] || level[2i+1])`,
/// with a missing right sibling (odd level) taken as 32 zero bytes.
pub fn hash_level(level: &[Digest], out: &mut [Digest]) {
    debug_assert_eq!(out.len(), level.len().div_ceil(2));
    const SLOT: usize = 1 + 2 * DIGEST_LEN;
    let mut inputs = vec![0u8; BATCH_JOBS * SLOT];
    for (pairs, out) in level.chunks(2 * BATCH_JOBS).zip(out.chunks_mut(BATCH_JOBS)) {
        let used = out.len() * SLOT;
        for (slot, pair) in inputs[..used].chunks_exact_mut(SLOT).zip(pairs.chunks(2)) {
            slot[0] = INNER_PREFIX;
            slot[1..1 + DIGEST_LEN].copy_from_slice(&pair[0]);
            match pair.get(1) {
                Some(right) => slot[1 + DIGEST_LEN..].copy_from_slice(right),
                None => slot[1 + DIGEST_LEN..].fill(0),
            }
        }
        hash_many_equal(&inputs[..used], SLOT, out);
    }
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
    fn batched_hashing_equals_one_at_a_time() {
        for len in [0usize, 1, 3, 65, 127, 128, 129, 300] {
            let count = 77;
            let inputs: Vec<u8> = (0..count * len).map(|i| (i * 7 + 3) as u8).collect();
            let mut out = vec![[0u8; 32]; count];
            hash_many_equal(&inputs, len, &mut out);
            for (i, digest) in out.iter().enumerate() {
                assert_eq!(*digest, blake2b256(&inputs[i * len..(i + 1) * len]), "len {len} item {i}");
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
