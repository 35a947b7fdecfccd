//! Keys: BLS12-381 min_pk protocol keys (storage nodes sign with them) and ed25519 account keys
//! with Sui-style addresses.
//!
//! BLS public keys are 48-byte compressed G1 points, signatures 96-byte compressed G2 points,
//! with the ciphersuite `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_`, as in the reference. In
//! BCS they are fixed-size byte arrays (no length prefix); in JSON, standard padded base64.
//! Key generation takes seed bytes from the caller: this crate never touches an RNG.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blst::min_pk;
use blst::BLST_ERROR;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Serialize};

use crate::hash::blake2b256_parts;

/// The BLS signature ciphersuite (domain separation tag) used for every protocol message.
pub const BLS_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_";
/// Bytes of a compressed BLS public key.
pub const BLS_PUBLIC_KEY_LEN: usize = 48;
/// Bytes of a compressed BLS signature.
pub const BLS_SIGNATURE_LEN: usize = 96;

/// A key or signature did not decode or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The bytes are not a valid point (or have the wrong length).
    #[error("invalid {0} encoding")]
    InvalidEncoding(&'static str),
    /// The signature does not verify for this key and message.
    #[error("signature verification failed")]
    BadSignature,
    /// Nothing to aggregate.
    #[error("cannot aggregate an empty set")]
    EmptyAggregate,
}

/// Fixed-size byte arrays: tuples in binary formats (BCS), base64 strings in human-readable ones.
mod fixed_bytes {
    use super::*;
    use serde::de::{Error as _, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;

    pub fn serialize<S: serde::Serializer, const N: usize>(bytes: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.serialize_str(&STANDARD.encode(bytes));
        }
        let mut tuple = s.serialize_tuple(N)?;
        for b in bytes {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }

    struct ArrayVisitor<const N: usize>;

    impl<'de, const N: usize> Visitor<'de> for ArrayVisitor<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} bytes")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = [0u8; N];
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(i, &self))?;
            }
            Ok(out)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let bytes = STANDARD.decode(v).map_err(E::custom)?;
            bytes.try_into().map_err(|_| E::custom(format!("expected {N} bytes")))
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
        if d.is_human_readable() {
            d.deserialize_str(ArrayVisitor::<N>)
        } else {
            d.deserialize_tuple(N, ArrayVisitor::<N>)
        }
    }
}

/// The bytes of a public key of `len` bytes written as text: hex of exactly that length (with or
/// without `0x`), else standard base64 (the reference's text form).
fn key_text_bytes(s: &str, len: usize, what: &'static str) -> Result<Vec<u8>, KeyError> {
    let hex_digits = s.strip_prefix("0x").unwrap_or(s);
    let bytes =
        if hex_digits.len() == 2 * len { hex::decode(hex_digits).ok() } else { STANDARD.decode(s).ok() };
    bytes.ok_or(KeyError::InvalidEncoding(what))
}

/// A BLS12-381 public key (compressed G1), validated when decoded.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawPublicKey", into = "RawPublicKey")]
pub struct BlsPublicKey([u8; BLS_PUBLIC_KEY_LEN]);

#[derive(Serialize, Deserialize)]
struct RawPublicKey(#[serde(with = "fixed_bytes")] [u8; BLS_PUBLIC_KEY_LEN]);

impl TryFrom<RawPublicKey> for BlsPublicKey {
    type Error = KeyError;
    fn try_from(raw: RawPublicKey) -> Result<Self, KeyError> {
        BlsPublicKey::from_bytes(&raw.0)
    }
}

impl From<BlsPublicKey> for RawPublicKey {
    fn from(pk: BlsPublicKey) -> Self {
        RawPublicKey(pk.0)
    }
}

impl BlsPublicKey {
    /// Decodes and validates (on the curve, in the subgroup, not the identity).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        min_pk::PublicKey::key_validate(bytes).map_err(|_| KeyError::InvalidEncoding("BLS public key"))?;
        let array: [u8; BLS_PUBLIC_KEY_LEN] =
            bytes.try_into().map_err(|_| KeyError::InvalidEncoding("BLS public key"))?;
        Ok(BlsPublicKey(array))
    }

    /// The compressed bytes.
    pub fn as_bytes(&self) -> &[u8; BLS_PUBLIC_KEY_LEN] {
        &self.0
    }

    fn point(&self) -> Result<min_pk::PublicKey, KeyError> {
        min_pk::PublicKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidEncoding("BLS public key"))
    }

    /// Verifies `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &BlsSignature) -> Result<(), KeyError> {
        let sig = signature.point()?;
        match sig.verify(true, message, BLS_DST, &[], &self.point()?, false) {
            BLST_ERROR::BLST_SUCCESS => Ok(()),
            _ => Err(KeyError::BadSignature),
        }
    }

    /// Verifies an aggregate signature of `keys` (all over the same `message`). The keys must
    /// have proven possession (checked at registration), which rules out rogue-key attacks.
    pub fn verify_aggregate(
        keys: &[BlsPublicKey],
        message: &[u8],
        signature: &BlsSignature,
    ) -> Result<(), KeyError> {
        if keys.is_empty() {
            return Err(KeyError::EmptyAggregate);
        }
        let points = keys.iter().map(BlsPublicKey::point).collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&min_pk::PublicKey> = points.iter().collect();
        match signature.point()?.fast_aggregate_verify(true, message, BLS_DST, &refs) {
            BLST_ERROR::BLST_SUCCESS => Ok(()),
            _ => Err(KeyError::BadSignature),
        }
    }
}

impl fmt::Display for BlsPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for BlsPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlsPublicKey({self})")
    }
}

impl FromStr for BlsPublicKey {
    type Err = KeyError;
    /// Parses standard base64 (the reference's text form) or hex (with or without `0x`).
    fn from_str(s: &str) -> Result<Self, KeyError> {
        BlsPublicKey::from_bytes(&key_text_bytes(s, BLS_PUBLIC_KEY_LEN, "BLS public key")?)
    }
}

/// A BLS12-381 signature (compressed G2), or an aggregate of several over one message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlsSignature(#[serde(with = "fixed_bytes")] [u8; BLS_SIGNATURE_LEN]);

impl BlsSignature {
    /// From compressed bytes (validated when used).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(BlsSignature(bytes.try_into().map_err(|_| KeyError::InvalidEncoding("BLS signature"))?))
    }

    /// The compressed bytes.
    pub fn as_bytes(&self) -> &[u8; BLS_SIGNATURE_LEN] {
        &self.0
    }

    fn point(&self) -> Result<min_pk::Signature, KeyError> {
        min_pk::Signature::from_bytes(&self.0).map_err(|_| KeyError::InvalidEncoding("BLS signature"))
    }

    /// Aggregates signatures (each group-checked) into one.
    pub fn aggregate(signatures: &[BlsSignature]) -> Result<BlsSignature, KeyError> {
        if signatures.is_empty() {
            return Err(KeyError::EmptyAggregate);
        }
        let points = signatures.iter().map(BlsSignature::point).collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&min_pk::Signature> = points.iter().collect();
        let aggregate = min_pk::AggregateSignature::aggregate(&refs, true)
            .map_err(|_| KeyError::InvalidEncoding("BLS signature"))?;
        Ok(BlsSignature(aggregate.to_signature().to_bytes()))
    }
}

impl fmt::Debug for BlsSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlsSignature({})", STANDARD.encode(self.0))
    }
}

/// A BLS12-381 key pair. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct BlsKeyPair {
    secret: min_pk::SecretKey,
    public: BlsPublicKey,
}

impl BlsKeyPair {
    /// Derives a key pair from 32 bytes of seed material (IETF KeyGen).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        // key_gen only fails for seeds shorter than 32 bytes.
        let secret = min_pk::SecretKey::key_gen(seed, &[]).expect("seed is 32 bytes");
        let public = BlsPublicKey(secret.sk_to_pk().to_bytes());
        BlsKeyPair { secret, public }
    }

    /// The public key.
    pub fn public(&self) -> &BlsPublicKey {
        &self.public
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> BlsSignature {
        BlsSignature(self.secret.sign(message, BLS_DST, &[]).to_bytes())
    }

    /// The 32-byte secret scalar, for storing the key.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// Rebuilds a key pair from its stored secret scalar.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let secret =
            min_pk::SecretKey::from_bytes(bytes).map_err(|_| KeyError::InvalidEncoding("BLS secret key"))?;
        let public = BlsPublicKey(secret.sk_to_pk().to_bytes());
        Ok(BlsKeyPair { secret, public })
    }
}

impl fmt::Debug for BlsKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlsKeyPair({})", self.public)
    }
}

/// A 32-byte account address: Blake2b-256 of the signature-scheme flag and the public key, as on
/// Sui. Text form `0x` + 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 32]);

/// The Sui signature-scheme flag of ed25519.
pub const ED25519_FLAG: u8 = 0x00;

impl Address {
    /// The address of an ed25519 public key.
    pub fn from_ed25519(public: &Ed25519PublicKey) -> Address {
        Address(blake2b256_parts(&[&[ED25519_FLAG], &public.0]))
    }
}

crate::hex32_text!(Address, "address");

/// An ed25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ed25519PublicKey(pub [u8; 32]);

impl Ed25519PublicKey {
    /// Verifies an ed25519 signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &Ed25519Signature) -> Result<(), KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0)
            .map_err(|_| KeyError::InvalidEncoding("ed25519 public key"))?;
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        key.verify_strict(message, &sig).map_err(|_| KeyError::BadSignature)
    }
}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519PublicKey({})", hex::encode(self.0))
    }
}

/// An ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ed25519Signature(#[serde(with = "fixed_bytes")] pub [u8; 64]);

impl fmt::Debug for Ed25519Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Signature({})", hex::encode(self.0))
    }
}

/// An ed25519 account key pair. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct Ed25519KeyPair(ed25519_dalek::SigningKey);

impl Ed25519KeyPair {
    /// The key pair whose secret is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Ed25519KeyPair(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The secret seed, for storing the key.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The account address.
    pub fn address(&self) -> Address {
        Address::from_ed25519(&self.public())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Ed25519Signature {
        Ed25519Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for Ed25519KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519KeyPair({})", self.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bls_sign_verify_aggregate() {
        let keys: Vec<BlsKeyPair> = (0..5u8).map(|i| BlsKeyPair::from_seed(&[i + 1; 32])).collect();
        let message = b"walrus";
        let sigs: Vec<BlsSignature> = keys.iter().map(|k| k.sign(message)).collect();
        assert_eq!(keys[0].public().verify(message, &sigs[0]), Ok(()));
        assert_eq!(keys[0].public().verify(b"other", &sigs[0]), Err(KeyError::BadSignature));
        assert_eq!(keys[1].public().verify(message, &sigs[0]), Err(KeyError::BadSignature));
        let aggregate = BlsSignature::aggregate(&sigs).expect("aggregates");
        let publics: Vec<BlsPublicKey> = keys.iter().map(|k| *k.public()).collect();
        assert_eq!(BlsPublicKey::verify_aggregate(&publics, message, &aggregate), Ok(()));
        assert!(BlsPublicKey::verify_aggregate(&publics[1..], message, &aggregate).is_err());
        assert!(BlsSignature::aggregate(&[]).is_err());
    }

    #[test]
    fn bls_keys_round_trip_in_bcs_json_and_text() {
        let pair = BlsKeyPair::from_seed(&[9; 32]);
        let pk = *pair.public();
        let bcs_bytes = bcs::to_bytes(&pk).expect("serializable");
        assert_eq!(bcs_bytes.as_slice(), pk.as_bytes(), "48 raw bytes, no length prefix");
        assert_eq!(bcs::from_bytes::<BlsPublicKey>(&bcs_bytes), Ok(pk));
        assert_eq!(pk.to_string().parse::<BlsPublicKey>(), Ok(pk));
        assert_eq!(hex::encode(pk.as_bytes()).parse::<BlsPublicKey>(), Ok(pk));
        let restored = BlsKeyPair::from_secret_bytes(&pair.secret_bytes()).expect("valid secret");
        assert_eq!(restored.public(), pair.public());
        let sig = pair.sign(b"m");
        assert_eq!(bcs::to_bytes(&sig).expect("serializable").len(), 96);
        assert!(BlsPublicKey::from_bytes(&[0u8; 48]).is_err());
        assert!(BlsPublicKey::from_bytes(&[1u8; 47]).is_err());
    }

    #[test]
    fn ed25519_addresses_follow_sui() {
        let pair = Ed25519KeyPair::from_seed(&[7; 32]);
        let address = pair.address();
        let mut input = vec![0u8];
        input.extend_from_slice(&pair.public().0);
        assert_eq!(address.0, crate::hash::blake2b256(&input));
        assert_eq!(address.to_string().parse::<Address>(), Ok(address));
        let sig = pair.sign(b"tx");
        assert_eq!(pair.public().verify(b"tx", &sig), Ok(()));
        assert_eq!(pair.public().verify(b"tx2", &sig), Err(KeyError::BadSignature));
    }
}

/// Length of a compressed secp256r1 point.
pub const NETWORK_PUBLIC_KEY_LEN: usize = 33;

/// A storage node's network key: a secp256r1 (NIST P-256) public key in compressed SEC1 form,
/// as registered on chain (the reference's `NetworkPublicKey`). Its private half signs the
/// node's TLS handshakes; clients and peers accept a node's certificate only if it carries
/// this key. Only the form is checked here (`0x02` or `0x03`, then 32 bytes); a key that is not
/// on the curve never matches a certificate.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawNetworkKey", into = "RawNetworkKey")]
pub struct NetworkPublicKey([u8; NETWORK_PUBLIC_KEY_LEN]);

#[derive(Serialize, Deserialize)]
struct RawNetworkKey(#[serde(with = "fixed_bytes")] [u8; NETWORK_PUBLIC_KEY_LEN]);

impl TryFrom<RawNetworkKey> for NetworkPublicKey {
    type Error = KeyError;
    fn try_from(raw: RawNetworkKey) -> Result<Self, KeyError> {
        NetworkPublicKey::from_bytes(&raw.0)
    }
}

impl From<NetworkPublicKey> for RawNetworkKey {
    fn from(key: NetworkPublicKey) -> Self {
        RawNetworkKey(key.0)
    }
}

impl NetworkPublicKey {
    /// From the compressed form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; NETWORK_PUBLIC_KEY_LEN] =
            bytes.try_into().map_err(|_| KeyError::InvalidEncoding("network public key"))?;
        if !matches!(bytes[0], 0x02 | 0x03) {
            return Err(KeyError::InvalidEncoding("network public key"));
        }
        Ok(NetworkPublicKey(bytes))
    }

    /// Compresses an uncompressed SEC1 point (`0x04`, x, y), as a certificate carries it.
    pub fn from_uncompressed(point: &[u8]) -> Result<Self, KeyError> {
        let (&[0x04], coordinates) =
            point.split_at_checked(1).ok_or(KeyError::InvalidEncoding("P-256 point"))?
        else {
            return Err(KeyError::InvalidEncoding("P-256 point"));
        };
        if coordinates.len() != 64 {
            return Err(KeyError::InvalidEncoding("P-256 point"));
        }
        let mut out = [0u8; NETWORK_PUBLIC_KEY_LEN];
        out[0] = 0x02 | (coordinates[63] & 1);
        out[1..].copy_from_slice(&coordinates[..32]);
        Ok(NetworkPublicKey(out))
    }

    /// The compressed form.
    pub fn as_bytes(&self) -> &[u8; NETWORK_PUBLIC_KEY_LEN] {
        &self.0
    }
}

impl fmt::Display for NetworkPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for NetworkPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkPublicKey({self})")
    }
}

impl FromStr for NetworkPublicKey {
    type Err = KeyError;
    /// Parses standard base64 or hex (with or without `0x`).
    fn from_str(s: &str) -> Result<Self, KeyError> {
        NetworkPublicKey::from_bytes(&key_text_bytes(s, NETWORK_PUBLIC_KEY_LEN, "network public key")?)
    }
}
