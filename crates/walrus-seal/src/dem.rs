//! Seal's two data encapsulation mechanisms, under the 32-byte DEM key:
//!
//! - AES-256-GCM with Seal's fixed 16-byte IV `8a3799fdc62e79dba0805907d69c94dc` (a 128-bit IV:
//!   GCM's `J0` is then a GHASH of it) and a 16-byte tag after the ciphertext ([`crate::gcm`],
//!   on two cores for large payloads);
//! - HMAC-256-CTR: keystream block `i` is `HMAC-SHA3-256(key, "HMAC-CTR-ENC" || u64le(i))`, and
//!   the MAC `HMAC-SHA3-256(key, "HMAC-CTR-MAC" || u64le(|aad|) || aad || ciphertext)`.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha3::Sha3_256;

use crate::SealError;

/// Seal's fixed AES-GCM IV.
pub const AES_IV: [u8; 16] =
    [0x8a, 0x37, 0x99, 0xfd, 0xc6, 0x2e, 0x79, 0xdb, 0xa0, 0x80, 0x59, 0x07, 0xd6, 0x9c, 0x94, 0xdc];

/// AES-256-GCM: the ciphertext with its tag.
pub fn aes_encrypt(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(plaintext.len() + 16);
    blob.extend_from_slice(plaintext);
    let tag = crate::gcm::encrypt(key, &AES_IV, aad, &mut blob);
    blob.extend_from_slice(&tag);
    blob
}

/// AES-256-GCM: the plaintext, if the tag checks.
pub fn aes_decrypt(key: &[u8; 32], blob: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    let split = blob.len().checked_sub(16).ok_or(SealError::Decryption)?;
    let (ciphertext, tag) = blob.split_at(split);
    let tag: &[u8; 16] = tag.try_into().map_err(|_| SealError::Decryption)?;
    crate::gcm::decrypt(key, &AES_IV, aad, ciphertext, tag).ok_or(SealError::Decryption)
}

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha3_256>>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// XORs `data` with the HMAC-CTR keystream of `key`.
fn keystream_xor(key: &[u8; 32], data: &mut [u8]) {
    for (i, block) in data.chunks_mut(32).enumerate() {
        let pad = hmac(key, &[b"HMAC-CTR-ENC", &(i as u64).to_le_bytes()]);
        block.iter_mut().zip(pad).for_each(|(byte, pad)| *byte ^= pad);
    }
}

fn hmac_tag(key: &[u8; 32], aad: &[u8], ciphertext: &[u8]) -> [u8; 32] {
    hmac(key, &[b"HMAC-CTR-MAC", &(aad.len() as u64).to_le_bytes(), aad, ciphertext])
}

/// HMAC-256-CTR: the ciphertext and its MAC.
pub fn hmac_encrypt(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let mut blob = plaintext.to_vec();
    keystream_xor(key, &mut blob);
    let mac = hmac_tag(key, aad, &blob);
    (blob, mac)
}

/// HMAC-256-CTR: the plaintext, if the MAC checks (compared in constant time).
pub fn hmac_decrypt(key: &[u8; 32], blob: &[u8], aad: &[u8], mac: &[u8; 32]) -> Result<Vec<u8>, SealError> {
    let mut check = <Hmac<Sha3_256>>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [b"HMAC-CTR-MAC".as_slice(), &(aad.len() as u64).to_le_bytes(), aad, blob] {
        check.update(part);
    }
    check.verify_slice(mac).map_err(|_| SealError::Decryption)?;
    let mut plaintext = blob.to_vec();
    keystream_xor(key, &mut plaintext);
    Ok(plaintext)
}
