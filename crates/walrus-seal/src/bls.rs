//! The BLS12-381 operations Seal needs, through `blst`'s safe API: scalars (32 bytes
//! big-endian, non-zero, below the group order), G1 and G2 points in the compressed ZCash
//! format (checked to be in their subgroups), `s·H(msg)` for the hash to G1 of RFC 9380 with
//! the BLS signature DST (a min-sig signature), `s·G2` (a min-sig public key), and the pairing
//! with its 576-byte big-endian encoding (`blst_fp12::to_bendian`, as fastcrypto and Seal's key
//! servers write it).

use blst::min_sig::{PublicKey, SecretKey, Signature};
use blst::{blst_fp12, blst_p1_affine, blst_p2_affine};

/// The hash-to-G1 domain separation tag Seal uses (the standard BLS signature one).
pub const G1_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// A non-zero scalar below the group order.
#[derive(Clone)]
pub struct Scalar(SecretKey);

impl Scalar {
    /// From 32 big-endian bytes; `None` if zero or not below the group order.
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Option<Scalar> {
        SecretKey::from_bytes(bytes).ok().map(Scalar)
    }

    /// The 32 big-endian bytes.
    pub fn to_be_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// One.
    pub fn one() -> Scalar {
        let mut one = [0u8; 32];
        one[31] = 1;
        Scalar::from_be_bytes(&one).expect("one is a scalar")
    }

    /// `self · H(msg)`, H the hash to G1 with [`G1_DST`].
    pub fn mul_hash_to_g1(&self, msg: &[u8]) -> G1 {
        G1(self.0.sign(msg, G1_DST, &[]))
    }

    /// `self · G2`, G2 the generator.
    pub fn mul_g2_generator(&self) -> G2 {
        G2(self.0.sk_to_pk())
    }
}

impl std::fmt::Debug for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scalar(…)")
    }
}

/// A point of G1 (compressed: 48 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct G1(Signature);

impl G1 {
    /// From its compressed form; `None` if it is not a point of G1 or is the identity.
    pub fn from_bytes(bytes: &[u8; 48]) -> Option<G1> {
        let point = Signature::uncompress(bytes).ok()?;
        point.validate(true).ok()?;
        Some(G1(point))
    }

    /// The compressed form.
    pub fn to_bytes(&self) -> [u8; 48] {
        self.0.compress()
    }

    fn affine(&self) -> &blst_p1_affine {
        (&self.0).into()
    }
}

impl std::fmt::Debug for G1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "G1({})", hex::encode(self.to_bytes()))
    }
}

/// A point of G2 (compressed: 96 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct G2(PublicKey);

impl G2 {
    /// From its compressed form; `None` if it is not a point of G2 or is the identity.
    pub fn from_bytes(bytes: &[u8; 96]) -> Option<G2> {
        let point = PublicKey::uncompress(bytes).ok()?;
        point.validate().ok()?;
        Some(G2(point))
    }

    /// The compressed form.
    pub fn to_bytes(&self) -> [u8; 96] {
        self.0.compress()
    }

    /// The generator.
    pub fn generator() -> G2 {
        Scalar::one().mul_g2_generator()
    }

    fn affine(&self) -> &blst_p2_affine {
        (&self.0).into()
    }
}

impl std::fmt::Debug for G2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "G2({})", hex::encode(self.to_bytes()))
    }
}

/// An element of the target group.
#[derive(Clone, Copy, PartialEq)]
pub struct Gt(blst_fp12);

impl Gt {
    /// The 576-byte encoding: the twelve base-field coefficients, 48 bytes big-endian each.
    pub fn to_bytes(&self) -> [u8; 576] {
        self.0.to_bendian()
    }
}

/// The pairing `e(p, q)`.
pub fn pairing(p: &G1, q: &G2) -> Gt {
    Gt(blst_fp12::miller_loop(q.affine(), p.affine()).final_exp())
}
