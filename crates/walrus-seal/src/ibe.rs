//! Boneh-Franklin identity-based encryption over BLS12-381 as Seal does it: master key `msk`,
//! public key `msk·G2`, user secret key `msk·H(id)` with `H(id)` the hash to G1 of
//! `"SUI-SEAL-IBE-BLS12381-00" || id`; a share is XORed with
//! `SHA3-256("SUI-SEAL-IBE-BLS12381-H2-00" || e(r·H(id), pk) || r·G2 || H(id) || object ID ||
//! index)`; keys derived from the base key with `SHA3-256("SUI-SEAL-IBE-BLS12381-H3-00" || …)`;
//! a key server's proof of possession is `msk·H("SUI-SEAL-IBE-BLS12381-POP-00" || pk || object
//! ID)`.

use sha3::{Digest as _, Sha3_256};

use crate::bls::{pairing, Gt, Scalar, G1, G2};

/// The prefix of an identity before it is hashed to G1.
pub const IBE_PREFIX: &[u8] = b"SUI-SEAL-IBE-BLS12381-00";
/// The share KDF's tag.
pub const KDF_TAG: &[u8] = b"SUI-SEAL-IBE-BLS12381-H2-00";
/// The key derivation's tag.
pub const DERIVE_KEY_TAG: &[u8] = b"SUI-SEAL-IBE-BLS12381-H3-00";
/// The proof of possession's prefix.
pub const POP_PREFIX: &[u8] = b"SUI-SEAL-IBE-BLS12381-POP-00";

/// What a derived key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// The mask of the encryption randomness.
    Randomness = 0,
    /// The DEM key.
    Dem = 1,
}

fn with_prefix(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut msg = prefix.to_vec();
    parts.iter().for_each(|p| msg.extend_from_slice(p));
    msg
}

/// `H(full_id)`.
pub fn hash_identity(full_id: &[u8]) -> G1 {
    user_secret_key(&Scalar::one(), full_id)
}

/// A master key's public key.
pub fn public_key(master: &Scalar) -> G2 {
    master.mul_g2_generator()
}

/// `scalar · H(full_id)`: the user secret key of `full_id` when `scalar` is a master key, and
/// the encryption's `r · H(full_id)`.
pub fn user_secret_key(scalar: &Scalar, full_id: &[u8]) -> G1 {
    scalar.mul_hash_to_g1(&with_prefix(IBE_PREFIX, &[full_id]))
}

/// Whether `key` is the user secret key of `full_id` under the master key of `public`:
/// `e(key, G2) == e(H(full_id), public)`.
pub fn verify_user_secret_key(key: &G1, full_id: &[u8], public: &G2) -> bool {
    pairing(key, &G2::generator()) == pairing(&hash_identity(full_id), public)
}

/// A key server's proof of possession of `master` for its `object_id`.
pub fn proof_of_possession(master: &Scalar, object_id: &[u8; 32]) -> G1 {
    let public = public_key(master).to_bytes();
    master.mul_hash_to_g1(&with_prefix(POP_PREFIX, &[&public, object_id]))
}

/// Whether `pop` proves possession of `public`'s master key for `object_id`.
pub fn verify_proof_of_possession(pop: &G1, public: &G2, object_id: &[u8; 32]) -> bool {
    let h = Scalar::one().mul_hash_to_g1(&with_prefix(POP_PREFIX, &[&public.to_bytes(), object_id]));
    pairing(pop, &G2::generator()) == pairing(&h, public)
}

/// The mask of one share: the KDF of the pairing value `k`.
pub fn kdf(k: &Gt, nonce: &G2, hashed_id: &G1, object_id: &[u8; 32], index: u8) -> [u8; 32] {
    Sha3_256::new()
        .chain_update(KDF_TAG)
        .chain_update(k.to_bytes())
        .chain_update(nonce.to_bytes())
        .chain_update(hashed_id.to_bytes())
        .chain_update(object_id)
        .chain_update([index])
        .finalize()
        .into()
}

/// A key derived from the base key, bound to the threshold, every encrypted share and every
/// service's object ID.
pub fn derive_key(
    purpose: KeyPurpose,
    base_key: &[u8; 32],
    encrypted_shares: &[[u8; 32]],
    threshold: u8,
    object_ids: &[[u8; 32]],
) -> [u8; 32] {
    let mut hash = Sha3_256::new()
        .chain_update(DERIVE_KEY_TAG)
        .chain_update(base_key)
        .chain_update([purpose as u8, threshold]);
    encrypted_shares.iter().for_each(|s| hash.update(s));
    object_ids.iter().for_each(|id| hash.update(id));
    hash.finalize().into()
}

/// `a XOR b`.
pub fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}
