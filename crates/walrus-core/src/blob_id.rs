//! The blob ID: `H(encoding type || LE64(length) || blob root)`.
//!
//! Text form is unpadded base64url (43 characters). The chain stores it as a `u256` read
//! little-endian; the shard rotation reads the same bytes big-endian. Both readings are here so
//! nobody has to remember which is which.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::hash::{blake2b256_parts, Digest};
use crate::ids::{ParseIdError, ShardIndex, SliverPairIndex};
use crate::params::DIGEST_LEN;

/// The encoding of a blob. Only RS2 (value 1) exists; value 0 was the retired RaptorQ code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EncodingType {
    /// Red Stuff over Reed-Solomon ("RS2"), wire value 1.
    #[default]
    Rs2,
}

impl EncodingType {
    /// The byte written in metadata and hashed into the blob ID.
    pub fn as_u8(self) -> u8 {
        match self {
            EncodingType::Rs2 => 1,
        }
    }
}

impl fmt::Display for EncodingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RS2")
    }
}

impl FromStr for EncodingType {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rs2" | "reed-solomon" | "redstuff/reed-solomon" => Ok(EncodingType::Rs2),
            _ => Err(ParseIdError::new("encoding type", s)),
        }
    }
}

impl Serialize for EncodingType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.as_u8())
    }
}

impl<'de> Deserialize<'de> for EncodingType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u8::deserialize(deserializer)? {
            1 => Ok(EncodingType::Rs2),
            other => Err(serde::de::Error::custom(format!("unsupported encoding type {other}"))),
        }
    }
}

/// A blob's identity: 32 bytes committing to its encoding, length and sliver hashes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlobId(pub [u8; DIGEST_LEN]);

crate::serde_text_or_bytes!(BlobId);

impl BlobId {
    /// Length in bytes.
    pub const LENGTH: usize = DIGEST_LEN;
    /// The all-zero ID.
    pub const ZERO: BlobId = BlobId([0; DIGEST_LEN]);
    /// The all-ones ID.
    pub const MAX: BlobId = BlobId([0xff; DIGEST_LEN]);

    /// Derives the ID from the blob root, the unencoded length and the encoding type.
    pub fn from_root(encoding: EncodingType, unencoded_length: u64, root: &Digest) -> BlobId {
        BlobId(blake2b256_parts(&[&[encoding.as_u8()], &unencoded_length.to_le_bytes(), root]))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; DIGEST_LEN] {
        &self.0
    }

    /// The decimal form of the on-chain `u256` (the bytes read little-endian).
    pub fn to_u256_decimal(&self) -> String {
        let mut le = self.0;
        le.reverse(); // now big-endian for the division below
        decimal_of_be(&le)
    }

    /// Parses the decimal on-chain `u256` form.
    pub fn from_u256_decimal(s: &str) -> Result<BlobId, ParseIdError> {
        let be = be_of_decimal(s).ok_or_else(|| ParseIdError::new("u256 blob ID", s))?;
        let mut le = be;
        le.reverse();
        Ok(BlobId(le))
    }

    /// The shard rotation: the bytes read as a big-endian integer, modulo `n_shards`.
    pub fn rotation_offset(&self, n_shards: u16) -> u16 {
        let n = u32::from(n_shards);
        let rem = self.0.iter().fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % n);
        rem as u16 // rem < n <= u16::MAX
    }

    /// The shard that stores sliver pair `pair` of this blob.
    pub fn shard_for_pair(&self, pair: SliverPairIndex, n_shards: u16) -> ShardIndex {
        let n = u32::from(n_shards);
        ShardIndex(((u32::from(pair.0) + u32::from(self.rotation_offset(n_shards))) % n) as u16)
    }

    /// The sliver pair of this blob stored on `shard`.
    pub fn pair_for_shard(&self, shard: ShardIndex, n_shards: u16) -> SliverPairIndex {
        let n = u32::from(n_shards);
        SliverPairIndex(((n + u32::from(shard.0) - u32::from(self.rotation_offset(n_shards))) % n) as u16)
    }
}

fn decimal_of_be(be: &[u8; 32]) -> String {
    let mut digits = Vec::new();
    let mut num = be.to_vec();
    while num.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for byte in num.iter_mut() {
            let cur = rem * 256 + u32::from(*byte);
            *byte = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        return "0".to_string();
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn be_of_decimal(s: &str) -> Option<[u8; 32]> {
    if s.is_empty() || s.len() > 78 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut be = [0u8; 32];
    for digit in s.bytes() {
        let mut carry = u32::from(digit - b'0');
        for byte in be.iter_mut().rev() {
            let cur = u32::from(*byte) * 10 + carry;
            *byte = cur as u8;
            carry = cur >> 8;
        }
        if carry != 0 {
            return None; // overflows 256 bits
        }
    }
    Some(be)
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

impl FromStr for BlobId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseIdError::new("blob ID", s);
        if s.len() != 43 {
            return Err(err());
        }
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| err())?;
        let bytes: [u8; DIGEST_LEN] = bytes.try_into().map_err(|_| err())?;
        Ok(BlobId(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> BlobId {
        s.parse().expect("valid blob ID in test")
    }

    #[test]
    fn ids_are_text_in_json_and_raw_bytes_in_bcs() {
        let blob_id = id("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY");
        let json = serde_json::to_string(&blob_id).expect("serializable");
        assert_eq!(json, "\"RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY\"");
        assert_eq!(serde_json::from_str::<BlobId>(&json).expect("parses"), blob_id);
        assert_eq!(bcs::to_bytes(&blob_id).expect("bcs"), blob_id.0.to_vec());
        let object = crate::ObjectId([7; 32]);
        let json = serde_json::to_string(&object).expect("serializable");
        assert_eq!(json, format!("\"0x{}\"", "07".repeat(32)));
        assert_eq!(serde_json::from_str::<crate::ObjectId>(&json).expect("parses"), object);
        assert_eq!(bcs::from_bytes::<crate::ObjectId>(&[7; 32]).expect("bcs"), object);
        assert!(serde_json::from_str::<BlobId>("\"short\"").is_err());
    }

    #[test]
    fn text_hex_u256_and_rotation_of_the_spec_vectors() {
        for (text, hexform, offset, n, decimal) in [
            (
                "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY",
                "45c53cd8cc1ff82164bf52da23fdaa72900dc29194b86dd33309d5cd9c43da46",
                8,
                10,
                "32047538705383907710745794627166216794695117628018721399077707816295890470213",
            ),
            (
                "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk",
                "33886c646435a0292d7737a007a1e723a322dbc4b69ea38f1f12be5bbff80549",
                977,
                1000,
                "33029388974007764889800497995325165905902854956237990162315138693239164143667",
            ),
        ] {
            let b = id(text);
            assert_eq!(b.to_string(), text);
            assert_eq!(hex::encode(b.0), hexform);
            assert_eq!(b.rotation_offset(n), offset);
            assert_eq!(b.to_u256_decimal(), decimal);
            assert_eq!(BlobId::from_u256_decimal(decimal), Ok(b));
        }
    }

    #[test]
    fn shard_mapping_vectors() {
        let from_u64 = |v: u64| {
            let mut bytes = [0u8; 32];
            bytes[24..].copy_from_slice(&v.to_be_bytes());
            BlobId(bytes)
        };
        let b = from_u64(15);
        assert_eq!(b.shard_for_pair(SliverPairIndex(0), 7), ShardIndex(1));
        assert_eq!(b.shard_for_pair(SliverPairIndex(5), 7), ShardIndex(6));
        assert_eq!(b.shard_for_pair(SliverPairIndex(6), 7), ShardIndex(0));
        let b = from_u64(16);
        assert_eq!(b.pair_for_shard(ShardIndex(0), 7), SliverPairIndex(5));
        assert_eq!(b.pair_for_shard(ShardIndex(1), 7), SliverPairIndex(6));
        assert_eq!(b.pair_for_shard(ShardIndex(6), 7), SliverPairIndex(4));
        let rotated: Vec<u16> = (0..5).map(|s| from_u64(11).pair_for_shard(ShardIndex(s), 5).0).collect();
        assert_eq!(rotated, vec![4, 0, 1, 2, 3]);
    }

    #[test]
    fn bad_text_forms_are_errors() {
        for bad in [
            "",
            "abc",
            "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2k",
            "RcU82Mwf+CFkv1LaI/2qcpANwpGUuG3TMwnVzZxD2kY",
            "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY=",
        ] {
            assert!(bad.parse::<BlobId>().is_err(), "{bad}");
        }
        assert!(BlobId::from_u256_decimal(&"9".repeat(78)).is_err());
        assert!(BlobId::from_u256_decimal("12a").is_err());
        assert_eq!(BlobId::from_u256_decimal("0"), Ok(BlobId::ZERO));
        assert_eq!(BlobId::ZERO.to_u256_decimal(), "0");
    }

    #[test]
    fn encoding_type_bcs_is_one_and_zero_is_rejected() {
        assert_eq!(bcs::to_bytes(&EncodingType::Rs2).ok(), Some(vec![1]));
        assert!(bcs::from_bytes::<EncodingType>(&[0]).is_err());
        assert_eq!("reed-solomon".parse::<EncodingType>(), Ok(EncodingType::Rs2));
    }
}
