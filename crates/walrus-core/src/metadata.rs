//! Blob metadata: the sliver hashes of every pair, with unverified and verified forms.
//!
//! Bytes from outside decode into [`UnverifiedBlobMetadataWithId`]; only
//! [`UnverifiedBlobMetadataWithId::verify`] yields a [`VerifiedBlobMetadataWithId`], which
//! recomputes the blob ID from the hashes. The verified type does not implement
//! `Deserialize`, so no code path can skip the check.

use serde::{Deserialize, Serialize};

use crate::blob_id::{BlobId, EncodingType};
use crate::hash::Digest;
use crate::ids::{SliverIndex, SliverPairIndex, SliverType};
use crate::merkle::{MerkleTree, Node};
use crate::params::{DataTooLargeError, EncodingParams};

/// The hashes of one sliver pair: primary sliver `p` and secondary sliver `n - 1 - p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliverPairMetadata {
    /// Merkle root over the expansion of the primary sliver.
    pub primary_hash: Node,
    /// Merkle root over the expansion of the secondary sliver.
    pub secondary_hash: Node,
}

impl SliverPairMetadata {
    /// The hash of this pair's sliver on `axis`.
    pub fn hash(&self, axis: SliverType) -> &Node {
        match axis {
            SliverType::Primary => &self.primary_hash,
            SliverType::Secondary => &self.secondary_hash,
        }
    }

    /// The 64-byte leaf of the blob root: primary hash then secondary hash.
    fn pair_leaf(&self) -> [u8; 64] {
        let mut leaf = [0u8; 64];
        leaf[..32].copy_from_slice(&self.primary_hash.bytes());
        leaf[32..].copy_from_slice(&self.secondary_hash.bytes());
        leaf
    }
}

/// Version 1 of the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMetadataV1 {
    /// Always RS2.
    pub encoding_type: EncodingType,
    /// The blob's length in bytes before encoding.
    pub unencoded_length: u64,
    /// One entry per sliver pair, `n` in all.
    pub hashes: Vec<SliverPairMetadata>,
}

/// Blob metadata, versioned as in the reference (BCS tag 0 = V1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobMetadata {
    /// The only version.
    V1(BlobMetadataV1),
}

impl BlobMetadata {
    fn v1(&self) -> &BlobMetadataV1 {
        match self {
            BlobMetadata::V1(v1) => v1,
        }
    }

    /// The encoding type.
    pub fn encoding_type(&self) -> EncodingType {
        self.v1().encoding_type
    }

    /// The unencoded length.
    pub fn unencoded_length(&self) -> u64 {
        self.v1().unencoded_length
    }

    /// The per-pair hashes.
    pub fn hashes(&self) -> &[SliverPairMetadata] {
        &self.v1().hashes
    }

    /// The blob root: the Merkle root over the pairs' 64-byte `primary || secondary` leaves.
    pub fn compute_root_hash(&self) -> Digest {
        let leaves: Vec<[u8; 64]> = self.hashes().iter().map(SliverPairMetadata::pair_leaf).collect();
        MerkleTree::from_leaves(&leaves).root()
    }

    /// The blob ID these hashes commit to.
    pub fn compute_blob_id(&self) -> BlobId {
        BlobId::from_root(self.encoding_type(), self.unencoded_length(), &self.compute_root_hash())
    }
}

/// Metadata with its claimed blob ID, as read from the network (BCS: the 32 ID bytes, then
/// the metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiedBlobMetadataWithId {
    /// The claimed blob ID.
    pub blob_id: BlobId,
    /// The claimed metadata.
    pub metadata: BlobMetadata,
}

/// Why metadata was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The metadata has a different number of pairs than there are shards.
    #[error("metadata has {actual} sliver pairs but the system has {expected} shards")]
    WrongPairCount {
        /// Pairs in the metadata.
        actual: usize,
        /// Shards in the system.
        expected: usize,
    },
    /// The unencoded length cannot be encoded with this shard count.
    #[error(transparent)]
    TooLarge(#[from] DataTooLargeError),
    /// The hashes do not hash to the claimed blob ID.
    #[error("metadata hashes to blob ID {computed}, not the claimed {claimed}")]
    BlobIdMismatch {
        /// The ID the metadata was presented with.
        claimed: BlobId,
        /// The ID the metadata commits to.
        computed: BlobId,
    },
}

impl UnverifiedBlobMetadataWithId {
    /// Pairs metadata with the blob ID it claims to belong to.
    pub fn new(blob_id: BlobId, metadata: BlobMetadata) -> Self {
        UnverifiedBlobMetadataWithId { blob_id, metadata }
    }

    /// Checks the pair count, the length bound and the blob ID.
    pub fn verify(self, params: EncodingParams) -> Result<VerifiedBlobMetadataWithId, MetadataError> {
        let hashes = self.metadata.hashes().len();
        if hashes != params.n() {
            return Err(MetadataError::WrongPairCount { actual: hashes, expected: params.n() });
        }
        let symbol_size = params.symbol_size(self.metadata.unencoded_length())?;
        let computed = self.metadata.compute_blob_id();
        if computed != self.blob_id {
            return Err(MetadataError::BlobIdMismatch { claimed: self.blob_id, computed });
        }
        Ok(VerifiedBlobMetadataWithId { blob_id: self.blob_id, metadata: self.metadata, params, symbol_size })
    }
}

/// Metadata whose hashes are known to commit to its blob ID, for a known shard count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedBlobMetadataWithId {
    blob_id: BlobId,
    metadata: BlobMetadata,
    #[serde(skip)]
    params: EncodingParams,
    #[serde(skip)]
    symbol_size: u16,
}

impl VerifiedBlobMetadataWithId {
    /// Built by the encoder, which derived the ID from these very hashes.
    pub(crate) fn new_trusted(params: EncodingParams, metadata: BlobMetadata, symbol_size: u16) -> Self {
        let blob_id = metadata.compute_blob_id();
        VerifiedBlobMetadataWithId { blob_id, metadata, params, symbol_size }
    }

    /// The blob ID.
    pub fn blob_id(&self) -> &BlobId {
        &self.blob_id
    }

    /// The metadata.
    pub fn metadata(&self) -> &BlobMetadata {
        &self.metadata
    }

    /// The encoding parameters the metadata was verified for.
    pub fn params(&self) -> EncodingParams {
        self.params
    }

    /// The symbol size implied by the unencoded length.
    pub fn symbol_size(&self) -> u16 {
        self.symbol_size
    }

    /// The unencoded length.
    pub fn unencoded_length(&self) -> u64 {
        self.metadata.unencoded_length()
    }

    /// The committed hash of sliver `index` on `axis`.
    pub fn sliver_hash(&self, axis: SliverType, index: SliverIndex) -> Digest {
        let pair = index.to_pair_index(axis, self.params.n_shards());
        self.metadata.hashes()[pair.as_usize()].hash(axis).bytes()
    }

    /// The hashes of sliver pair `pair`.
    pub fn pair_hashes(&self, pair: SliverPairIndex) -> &SliverPairMetadata {
        &self.metadata.hashes()[pair.as_usize()]
    }

    /// Drops the verification mark (to send the metadata over the wire or store it).
    pub fn into_unverified(self) -> UnverifiedBlobMetadataWithId {
        UnverifiedBlobMetadataWithId { blob_id: self.blob_id, metadata: self.metadata }
    }

    /// BCS of the metadata with its ID (`BlobMetadataWithId`).
    pub fn to_bcs(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 11 + self.params.n() * 66);
        out.extend_from_slice(&self.blob_id.0);
        out.extend(self.metadata_bcs());
        out
    }

    /// BCS of the metadata alone (`BlobMetadata`, the body of a metadata upload).
    pub fn metadata_bcs(&self) -> Vec<u8> {
        bcs::to_bytes(&self.metadata).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> BlobMetadata {
        BlobMetadata::V1(BlobMetadataV1 {
            encoding_type: EncodingType::Rs2,
            unencoded_length: 1234,
            hashes: (0..n)
                .map(|i| SliverPairMetadata {
                    primary_hash: Node::Digest([i as u8; 32]),
                    secondary_hash: Node::Digest([!(i as u8); 32]),
                })
                .collect(),
        })
    }

    #[test]
    fn bcs_layout_matches_the_reference_offsets() {
        let params = EncodingParams::new(1000).expect("valid");
        let metadata = sample(1000);
        let verified = UnverifiedBlobMetadataWithId::new(metadata.compute_blob_id(), metadata)
            .verify(params)
            .expect("consistent");
        let bytes = verified.to_bcs();
        assert_eq!(bytes[32], 0x00, "V1 tag");
        assert_eq!(bytes[33], 0x01, "RS2");
        assert_eq!(&bytes[34..42], &1234u64.to_le_bytes());
        assert_eq!(&bytes[42..44], &[0xe8, 0x07], "ULEB128(1000)");
        assert_eq!(bytes.len(), 44 + 1000 * 66);
        let back: UnverifiedBlobMetadataWithId = bcs::from_bytes(&bytes).expect("round trip");
        assert_eq!(back.verify(params), Ok(verified));
    }

    #[test]
    fn verification_rejects_wrong_id_count_and_length() {
        let params = EncodingParams::new(10).expect("valid");
        let metadata = sample(10);
        let id = metadata.compute_blob_id();
        assert!(matches!(
            UnverifiedBlobMetadataWithId::new(BlobId::ZERO, metadata.clone()).verify(params),
            Err(MetadataError::BlobIdMismatch { .. })
        ));
        assert!(matches!(
            UnverifiedBlobMetadataWithId::new(id, sample(9)).verify(params),
            Err(MetadataError::WrongPairCount { actual: 9, expected: 10 })
        ));
        let mut huge = metadata;
        let BlobMetadata::V1(v1) = &mut huge;
        v1.unencoded_length = params.max_blob_size() + 1;
        let id = huge.compute_blob_id();
        assert!(matches!(
            UnverifiedBlobMetadataWithId::new(id, huge).verify(params),
            Err(MetadataError::TooLarge(_))
        ));
    }

    #[test]
    fn encoding_type_zero_is_rejected_on_the_wire() {
        let params = EncodingParams::new(4).expect("valid");
        let metadata = sample(4);
        let mut bytes =
            bcs::to_bytes(&UnverifiedBlobMetadataWithId::new(metadata.compute_blob_id(), metadata))
                .expect("serializable");
        assert!(bcs::from_bytes::<UnverifiedBlobMetadataWithId>(&bytes).is_ok());
        bytes[33] = 0;
        assert!(bcs::from_bytes::<UnverifiedBlobMetadataWithId>(&bytes).is_err());
        let _ = params;
    }
}
