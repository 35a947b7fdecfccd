//! Seal's cryptography (`@mysten/seal` 1.4.12), byte-compatible with it: a blob encrypted here
//! decrypts with the official SDK given the key servers' user secret keys, and the other way
//! round. Threshold identity-based encryption: a fresh 32-byte base key is shared `t`-of-`n`
//! over GF(256) ([`gf256`]); share `i` is encrypted to the identity `package ID || id` under key
//! server `i`'s public key with Boneh-Franklin IBE over BLS12-381 ([`ibe`], [`bls`]); the data is
//! encrypted under a key derived from the base key with AES-256-GCM or HMAC-256-CTR ([`dem`]);
//! everything travels as the BCS [`EncryptedObject`] ([`object`]). A key server holding the
//! master key gives an allowed user the user secret key of the identity; `t` of them decrypt.
//!
//! No I/O, no clock, no global randomness: encryption takes a 32-byte seed from the caller and
//! draws the base key, the IBE randomness and the sharing polynomials from it. Parallelism is
//! rayon data parallelism only (large AES-GCM payloads, [`gcm`]).

pub mod bls;
pub mod dem;
pub mod gcm;
pub mod gf256;
pub mod ibe;
pub mod object;
pub mod session;

use sha3::{Digest as _, Sha3_256};

pub use object::{full_id, Ciphertext, EncryptedObject};

use crate::bls::{pairing, Scalar, G1, G2};
use crate::ibe::{derive_key, hash_identity, kdf, xor, KeyPurpose};

/// Why a Seal operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The bytes are not an `EncryptedObject`, or break its rules.
    #[error("malformed encrypted object: {0}")]
    Malformed(String),
    /// Encryption parameters out of range.
    #[error("invalid parameters: {0}")]
    Invalid(String),
    /// A public key, user secret key or nonce is not a point of its group.
    #[error("{0} is not a valid group element")]
    InvalidPoint(&'static str),
    /// Fewer usable keys than the threshold.
    #[error("{have} usable keys, {need} needed")]
    NotEnoughKeys {
        /// Keys given for the object's services.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// The shares decrypt to a base key whose randomness does not give the nonce: a wrong key,
    /// or a forged object.
    #[error("the decrypted shares are inconsistent with the object (a wrong key, or a forged object)")]
    InvalidShares,
    /// The DEM's tag or MAC does not check.
    #[error("the data does not decrypt: its tag or MAC does not check")]
    Decryption,
    /// The object carries no data (a plain, key-only object).
    #[error("the object carries no data (plain)")]
    NoData,
}

/// A key server as encryption sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyServer {
    /// Its object ID.
    pub object_id: [u8; 32],
    /// Its public key (compressed G2).
    pub public_key: [u8; 96],
}

/// The data encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dem {
    /// AES-256-GCM (Seal's default).
    Aes256Gcm,
    /// HMAC-256-CTR.
    Hmac256Ctr,
}

/// Draws the encryption's randomness from a 32-byte seed (SHA3-256 of the seed, a label and a
/// counter): independent streams for the base key, the IBE scalar and the polynomials.
struct Draw<'a>(&'a [u8; 32]);

impl Draw<'_> {
    fn bytes(&self, label: &[u8], counter: u64) -> [u8; 32] {
        Sha3_256::new()
            .chain_update(b"walrus-seal/encrypt/v1")
            .chain_update(self.0)
            .chain_update(label)
            .chain_update(counter.to_le_bytes())
            .finalize()
            .into()
    }

    /// A non-zero scalar below the group order (rejection sampling).
    fn scalar(&self) -> Scalar {
        (0..).find_map(|i| Scalar::from_be_bytes(&self.bytes(b"r", i))).expect("a scalar within a few draws")
    }
}

/// Encrypts `plaintext` to the identity `package_id || id` for `servers`, any `threshold` of
/// which can give the key; returns the object and the DEM key (which decrypts it alone).
pub fn encrypt(
    (package_id, id): (&[u8; 32], &[u8]),
    servers: &[KeyServer],
    threshold: u8,
    (dem, aad): (Dem, &[u8]),
    plaintext: &[u8],
    seed: &[u8; 32],
) -> Result<(EncryptedObject, [u8; 32]), SealError> {
    if threshold == 0 || usize::from(threshold) > servers.len() || servers.len() > object::SERVICES_MAX {
        return Err(SealError::Invalid(format!("threshold {threshold} with {} key servers", servers.len())));
    }
    if id.len() > object::ID_BYTES_MAX {
        return Err(SealError::Invalid(format!("an identity of {} bytes", id.len())));
    }
    let public_keys = servers
        .iter()
        .map(|s| G2::from_bytes(&s.public_key).ok_or(SealError::InvalidPoint("a key server's public key")))
        .collect::<Result<Vec<_>, _>>()?;
    let draw = Draw(seed);
    let base_key = draw.bytes(b"base key", 0);
    let shares = gf256::split(&base_key, threshold, servers.len() as u8, |b, k| {
        draw.bytes(b"coefficients", k as u64)[b]
    });
    let full_id = full_id(package_id, id);
    let r = draw.scalar();
    let nonce = r.mul_g2_generator();
    let gid_r = ibe::user_secret_key(&r, &full_id);
    let hashed_id = hash_identity(&full_id);
    let services: Vec<([u8; 32], u8)> =
        servers.iter().enumerate().map(|(i, s)| (s.object_id, i as u8 + 1)).collect();
    let encrypted_shares: Vec<[u8; 32]> = services
        .iter()
        .zip(&public_keys)
        .zip(&shares)
        .map(|(((object_id, index), pk), share)| {
            xor(share, &kdf(&pairing(&gid_r, pk), &nonce, &hashed_id, object_id, *index))
        })
        .collect();
    let object_ids: Vec<[u8; 32]> = services.iter().map(|(id, _)| *id).collect();
    let randomness_key =
        derive_key(KeyPurpose::Randomness, &base_key, &encrypted_shares, threshold, &object_ids);
    let dem_key = derive_key(KeyPurpose::Dem, &base_key, &encrypted_shares, threshold, &object_ids);
    let ciphertext = match dem {
        Dem::Aes256Gcm => Ciphertext::Aes256Gcm {
            blob: dem::aes_encrypt(&dem_key, plaintext, aad),
            aad: Some(aad.to_vec()),
        },
        Dem::Hmac256Ctr => {
            let (blob, mac) = dem::hmac_encrypt(&dem_key, plaintext, aad);
            Ciphertext::Hmac256Ctr { blob, aad: Some(aad.to_vec()), mac }
        }
    };
    let object = EncryptedObject {
        version: 0,
        package_id: *package_id,
        id: id.to_vec(),
        services,
        threshold,
        nonce: nonce.to_bytes(),
        encrypted_shares,
        encrypted_randomness: xor(&randomness_key, &r.to_be_bytes()),
        ciphertext,
    };
    Ok((object, dem_key))
}

/// The DEM key of `object` from user secret keys of its identity, by key server object ID
/// (each used for every service of that ID). With `public_keys`, every share of the object is
/// also checked against the recovered polynomial, as the SDK's consistency check does.
pub fn dem_key(
    object: &EncryptedObject,
    keys: &[([u8; 32], [u8; 48])],
    public_keys: Option<&[KeyServer]>,
) -> Result<[u8; 32], SealError> {
    object.check()?;
    let full_id = object.full_id();
    let nonce = G2::from_bytes(&object.nonce).ok_or(SealError::InvalidPoint("the nonce"))?;
    let hashed_id = hash_identity(&full_id);
    let mut shares = Vec::new();
    for ((object_id, index), encrypted) in object.services.iter().zip(&object.encrypted_shares) {
        let Some((_, key)) = keys.iter().find(|(id, _)| id == object_id) else { continue };
        let key = G1::from_bytes(key).ok_or(SealError::InvalidPoint("a user secret key"))?;
        let mask = kdf(&pairing(&key, &nonce), &nonce, &hashed_id, object_id, *index);
        shares.push((*index, xor(encrypted, &mask)));
    }
    let need = usize::from(object.threshold);
    if shares.len() < need {
        return Err(SealError::NotEnoughKeys { have: shares.len(), need });
    }
    let base_key = gf256::combine(&shares);
    let object_ids = object.object_ids();
    let (encrypted, threshold) = (&object.encrypted_shares, object.threshold);
    let randomness_key = derive_key(KeyPurpose::Randomness, &base_key, encrypted, threshold, &object_ids);
    let r = Scalar::from_be_bytes(&xor(&object.encrypted_randomness, &randomness_key))
        .ok_or(SealError::InvalidShares)?;
    if r.mul_g2_generator() != nonce {
        return Err(SealError::InvalidShares);
    }
    if let Some(servers) = public_keys {
        let gid_r = ibe::user_secret_key(&r, &full_id);
        let mut all = Vec::with_capacity(object.services.len());
        for ((object_id, index), encrypted) in object.services.iter().zip(encrypted) {
            let server = servers
                .iter()
                .find(|s| s.object_id == *object_id)
                .ok_or(SealError::Invalid("no public key for one of the object's key servers".into()))?;
            let pk = G2::from_bytes(&server.public_key)
                .ok_or(SealError::InvalidPoint("a key server's public key"))?;
            all.push((
                *index,
                xor(encrypted, &kdf(&pairing(&gid_r, &pk), &nonce, &hashed_id, object_id, *index)),
            ));
        }
        if !gf256::consistent(&all, need) || gf256::combine(&all[..need]) != base_key {
            return Err(SealError::InvalidShares);
        }
    }
    Ok(derive_key(KeyPurpose::Dem, &base_key, encrypted, threshold, &object_ids))
}

/// Decrypts `object` with user secret keys of its identity (see [`dem_key`]).
pub fn decrypt(
    object: &EncryptedObject,
    keys: &[([u8; 32], [u8; 48])],
    public_keys: Option<&[KeyServer]>,
) -> Result<Vec<u8>, SealError> {
    let key = dem_key(object, keys, public_keys)?;
    decrypt_with_dem_key(object, &key)
}

/// Decrypts `object`'s data with its DEM key.
pub fn decrypt_with_dem_key(object: &EncryptedObject, key: &[u8; 32]) -> Result<Vec<u8>, SealError> {
    match &object.ciphertext {
        Ciphertext::Aes256Gcm { blob, aad } => {
            dem::aes_decrypt(key, blob, aad.as_deref().unwrap_or_default())
        }
        Ciphertext::Hmac256Ctr { blob, aad, mac } => {
            dem::hmac_decrypt(key, blob, aad.as_deref().unwrap_or_default(), mac)
        }
        Ciphertext::Plain => Err(SealError::NoData),
    }
}
