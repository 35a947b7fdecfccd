//! AES-256-GCM with a 16-byte IV, as Seal uses it, split across cores for large payloads.
//!
//! GCM is counter mode plus a GHASH over the associated data, the ciphertext and their lengths.
//! Both split: the counter of block `j` is `inc32(J0, 1 + j)`, so each half of the payload is
//! en- or decrypted from its own counter; and GHASH is a polynomial in `H`, so the hash of the
//! whole is `GHASH(first part) · H^g ⊕ GHASH(second part)`, `g` the second part's block count.
//! `H^g` comes from GHASH itself: a one-block GHASH keyed by `b` over `a` is the field product
//! `a · b`. The pieces (AES, CTR, GHASH) are RustCrypto's; the result is checked against
//! RustCrypto's own `aes-gcm` for every size class (tests), and by Seal's vectors.

use aes_gcm::aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use ghash::universal_hash::UniversalHash;
use ghash::GHash;

/// Payloads at least this long are split across two cores.
pub const PARALLEL_FROM_BYTES: usize = 256 * 1024;

type Ctr = ctr::Ctr32BE<Aes256>;

/// The field product `a · b` in GHASH's field.
fn mul(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut hash = GHash::new(b.into());
    hash.update_padded(a);
    hash.finalize().into()
}

/// `h^e` in GHASH's field (its one is `0x80 00 … 00`: bits are read from the left).
fn pow(h: &[u8; 16], mut e: u64) -> [u8; 16] {
    let mut result = [0u8; 16];
    result[0] = 0x80;
    let mut base = *h;
    while e > 0 {
        if e & 1 == 1 {
            result = mul(&result, &base);
        }
        base = mul(&base, &base);
        e >>= 1;
    }
    result
}

fn xor16(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

struct Gcm {
    key: [u8; 32],
    h: [u8; 16],
    j0: [u8; 16],
    tag_mask: [u8; 16],
}

impl Gcm {
    fn new(key: &[u8; 32], iv: &[u8; 16]) -> Gcm {
        let cipher = Aes256::new(key.into());
        let mut h = [0u8; 16].into();
        cipher.encrypt_block(&mut h);
        let h: [u8; 16] = h.into();
        // A 128-bit IV: J0 = GHASH(IV || 0^64 || [128]_64).
        let mut lengths = [0u8; 16];
        lengths[8..].copy_from_slice(&128u64.to_be_bytes());
        let mut hash = GHash::new(&h.into());
        hash.update_padded(iv);
        hash.update_padded(&lengths);
        let j0: [u8; 16] = hash.finalize().into();
        let mut mask = j0.into();
        cipher.encrypt_block(&mut mask);
        Gcm { key: *key, h, j0, tag_mask: mask.into() }
    }

    /// XORs `data` (starting at payload block `first_block`) with the keystream.
    fn apply_ctr(&self, data: &mut [u8], first_block: u64) {
        let mut ctr = Ctr::new(&self.key.into(), &self.j0.into());
        ctr.seek((first_block + 1) * 16);
        ctr.apply_keystream(data);
    }

    /// The tag over `aad` and the ciphertext, `data` en- or decrypted in place; a large
    /// payload's two halves on two cores.
    fn run(&self, aad: &[u8], data: &mut [u8], encrypt: bool) -> [u8; 16] {
        let mut lengths = [0u8; 16];
        lengths[..8].copy_from_slice(&((aad.len() as u64) * 8).to_be_bytes());
        lengths[8..].copy_from_slice(&((data.len() as u64) * 8).to_be_bytes());
        // GHASH (keyed by H) of `prefix`, the ciphertext of `part` and `suffix`, each padded.
        let part =
            |part: &mut [u8], first_block: u64, prefix: &[u8], suffix: Option<&[u8; 16]>| -> [u8; 16] {
                let mut hash = GHash::new(&self.h.into());
                hash.update_padded(prefix);
                if !encrypt {
                    hash.update_padded(part);
                }
                self.apply_ctr(part, first_block);
                if encrypt {
                    hash.update_padded(part);
                }
                if let Some(suffix) = suffix {
                    hash.update_padded(suffix);
                }
                hash.finalize().into()
            };
        let s = if data.len() < PARALLEL_FROM_BYTES {
            part(data, 0, aad, Some(&lengths))
        } else {
            let split = data.len() / 32 * 16;
            let (first, second) = data.split_at_mut(split);
            let second_blocks = second.len().div_ceil(16) as u64 + 1;
            let first_block = (split / 16) as u64;
            let (a, b) =
                rayon::join(|| part(first, 0, aad, None), || part(second, first_block, &[], Some(&lengths)));
            xor16(&mul(&a, &pow(&self.h, second_blocks)), &b)
        };
        xor16(&s, &self.tag_mask)
    }
}

/// Encrypts in place; returns the tag.
pub fn encrypt(key: &[u8; 32], iv: &[u8; 16], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    Gcm::new(key, iv).run(aad, data, true)
}

/// The plaintext of `ciphertext`, if `tag` checks (compared in constant time).
pub fn decrypt(
    key: &[u8; 32],
    iv: &[u8; 16],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8; 16],
) -> Option<Vec<u8>> {
    let mut data = ciphertext.to_vec();
    let computed = Gcm::new(key, iv).run(aad, &mut data, false);
    let diff = computed.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    (diff == 0).then_some(data)
}

#[cfg(test)]
mod tests {
    use aes_gcm::aead::consts::U16;
    use aes_gcm::aead::{Aead, KeyInit as _, Payload};
    use aes_gcm::AesGcm;

    use super::*;

    #[test]
    fn the_split_gcm_is_rustcryptos_gcm_at_every_size() {
        let key = [0x42u8; 32];
        let iv = crate::dem::AES_IV;
        let oracle = AesGcm::<Aes256, U16>::new(&key.into());
        for len in [
            0,
            1,
            15,
            16,
            17,
            1000,
            PARALLEL_FROM_BYTES - 1,
            PARALLEL_FROM_BYTES,
            PARALLEL_FROM_BYTES + 7,
            1 << 20,
        ] {
            for aad in [&b""[..], b"associated data"] {
                let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
                let expected = oracle.encrypt((&iv).into(), Payload { msg: &plain, aad }).expect("encrypts");
                let mut data = plain.clone();
                let tag = encrypt(&key, &iv, aad, &mut data);
                assert_eq!([data.as_slice(), &tag].concat(), expected, "len {len}");
                assert_eq!(
                    decrypt(&key, &iv, aad, &data, &tag).as_deref(),
                    Some(plain.as_slice()),
                    "len {len}"
                );
                let mut bad = tag;
                bad[0] ^= 1;
                assert_eq!(decrypt(&key, &iv, aad, &data, &bad), None);
            }
        }
    }

    #[test]
    fn powers_of_h_are_field_powers() {
        let h = [0x5a; 16];
        assert_eq!(pow(&h, 1), h);
        assert_eq!(pow(&h, 5), mul(&mul(&mul(&mul(&h, &h), &h), &h), &h));
    }
}
