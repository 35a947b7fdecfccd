//! A homomorphic set hash, so that the state digest costs what a block writes, not what the
//! chain holds.
//!
//! [`SetHash`] is LtHash16 (Lewi, Kim, Maykov, Weis: "Securing Update Propagation with
//! Homomorphic Hashing", 2019): an element maps to 1,024 sixteen-bit lanes and a set's hash is
//! the lane-wise sum of its elements' vectors, mod 2^16. Adding or removing an element is one
//! expansion and 1,024 additions, whatever the size of the set, and the sum does not depend on
//! the order of insertion, so two states with the same records have the same hash however they
//! were reached. With n = 1,024 lanes of 16 bits the paper puts collision resistance above 200
//! bits (a short-integer-solution lattice problem).
//!
//! An element expands as ChaCha20's keystream (RFC 8439, zero nonce, counter from 0) under the key
//! `Blake2b-256("walrus-chain/lthash/v1" || element)`: 2,048 bytes read as little-endian `u16`s.
//! The paper uses Blake2Xb; any extendable-output function with a 256-bit seed serves, and
//! ChaCha20 is several times faster here.

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use walrus_core::hash::{blake2b256_parts, Digest};

/// Lanes of a [`SetHash`].
pub const LANES: usize = 1024;

/// The LtHash16 of a multiset of byte strings (see the module's documentation).
#[derive(Clone, PartialEq, Eq)]
pub struct SetHash(Box<[u16; LANES]>);

impl Default for SetHash {
    fn default() -> Self {
        SetHash(Box::new([0; LANES]))
    }
}

impl std::fmt::Debug for SetHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SetHash({})", hex::encode(self.checksum()))
    }
}

/// The lane vector of one element.
fn expand(element: &[u8]) -> [u16; LANES] {
    let seed = blake2b256_parts(&[b"walrus-chain/lthash/v1", element]);
    let mut bytes = [0u8; 2 * LANES];
    ChaCha20Rng::from_seed(seed).fill_bytes(&mut bytes);
    let mut lanes = [0u16; LANES];
    for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
        *lane = u16::from_le_bytes([pair[0], pair[1]]);
    }
    lanes
}

impl SetHash {
    /// Adds `element` (a multiset: adding twice counts twice).
    pub fn insert(&mut self, element: &[u8]) {
        for (lane, add) in self.0.iter_mut().zip(expand(element)) {
            *lane = lane.wrapping_add(add);
        }
    }

    /// Takes out `element`, which must have been added.
    pub fn remove(&mut self, element: &[u8]) {
        for (lane, sub) in self.0.iter_mut().zip(expand(element)) {
            *lane = lane.wrapping_sub(sub);
        }
    }

    /// The lanes as 2,048 little-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|lane| lane.to_le_bytes()).collect()
    }

    /// A 32-byte digest of the lanes.
    pub fn checksum(&self) -> Digest {
        blake2b256_parts(&[b"walrus-chain/lthash-checksum/v1", &self.to_bytes()])
    }
}

impl Serialize for SetHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.to_bytes())
    }
}

impl<'de> Deserialize<'de> for SetHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = serde_bytes::deserialize(deserializer)?;
        if bytes.len() != 2 * LANES {
            return Err(serde::de::Error::invalid_length(bytes.len(), &"2048 bytes"));
        }
        let mut lanes = Box::new([0u16; LANES]);
        for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Ok(SetHash(lanes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expansion_is_rfc_8439_chacha20() {
        // RFC 8439, appendix A.1, test vector 1: the keystream of the all-zero key and nonce.
        let mut bytes = [0u8; 64];
        ChaCha20Rng::from_seed([0; 32]).fill_bytes(&mut bytes);
        assert_eq!(
            hex::encode(bytes),
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
             da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
        );
    }

    #[test]
    fn order_does_not_matter_and_removal_undoes_insertion() {
        let (mut a, mut b) = (SetHash::default(), SetHash::default());
        a.insert(b"one");
        a.insert(b"two");
        b.insert(b"two");
        b.insert(b"three");
        b.insert(b"one");
        assert_ne!(a, b);
        b.remove(b"three");
        assert_eq!(a, b);
        a.remove(b"one");
        a.remove(b"two");
        assert_eq!(a, SetHash::default());
    }

    #[test]
    fn the_lanes_round_trip_through_bcs() {
        let mut set = SetHash::default();
        set.insert(b"walrus");
        let bytes = bcs::to_bytes(&set).expect("encodes");
        assert_eq!(bcs::from_bytes::<SetHash>(&bytes).expect("decodes"), set);
        assert!(bcs::from_bytes::<SetHash>(&bcs::to_bytes(&vec![0u8; 7]).expect("encodes")).is_err());
    }

    #[test]
    fn a_golden_value_pins_the_format() {
        let mut set = SetHash::default();
        set.insert(b"walrus");
        // Computed independently with Python: hashlib.blake2b and cryptography's ChaCha20.
        assert_eq!(
            hex::encode(set.checksum()),
            "d9bebd2dacb561d378281aa425b103cce82d110bf8667f7ff61e9d3c845d7712"
        );
    }
}
