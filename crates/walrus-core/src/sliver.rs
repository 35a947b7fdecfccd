//! Slivers on the wire (`SliverData`) and their verification against metadata.
//!
//! BCS form, as the reference's `SliverData<A>`: the symbol bytes (ULEB128 length + bytes), the
//! symbol size (`u16`, non-zero), the sliver index (`u16`). The axis is not on the wire: the URL
//! or the surrounding message says whether a sliver is primary or secondary.

use std::num::NonZeroU16;

use serde::{Deserialize, Serialize};

use crate::expand::sliver_roots;
use crate::ids::{SliverIndex, SliverType};
use crate::metadata::VerifiedBlobMetadataWithId;

/// A sliver as received: nothing about it has been checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiedSliver {
    /// The symbols, back to back.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Bytes per symbol.
    pub symbol_size: NonZeroU16,
    /// The sliver's index on its axis.
    pub index: SliverIndex,
}

/// One sliver in a batch write (`PUT /v1/blobs/{blob_id}/slivers`, our batch endpoint): the
/// pair it belongs to, its axis, and the sliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliverUpload {
    /// The sliver pair it belongs to.
    pub pair: crate::ids::SliverPairIndex,
    /// Its axis.
    pub axis: SliverType,
    /// The sliver.
    pub sliver: UnverifiedSliver,
}

/// [`SliverUpload`] borrowing its symbols (the same BCS bytes), so that a client serializes a
/// batch straight from the encoder's buffers instead of copying every sliver first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SliverUploadRef<'a> {
    /// The sliver pair it belongs to.
    pub pair: crate::ids::SliverPairIndex,
    /// Its axis.
    pub axis: SliverType,
    /// The sliver.
    pub sliver: SliverRef<'a>,
}

/// [`UnverifiedSliver`] borrowing its symbols (the same BCS bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SliverRef<'a> {
    /// The symbols, back to back.
    #[serde(with = "serde_bytes")]
    pub data: &'a [u8],
    /// Bytes per symbol.
    pub symbol_size: NonZeroU16,
    /// The sliver's index on its axis.
    pub index: SliverIndex,
}

impl SliverUpload {
    /// The borrowed form.
    pub fn as_ref(&self) -> SliverUploadRef<'_> {
        SliverUploadRef { pair: self.pair, axis: self.axis, sliver: self.sliver.as_ref() }
    }
}

impl UnverifiedSliver {
    /// The borrowed form.
    pub fn as_ref(&self) -> SliverRef<'_> {
        SliverRef { data: &self.data, symbol_size: self.symbol_size, index: self.index }
    }
}

/// Why a sliver was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliverError {
    /// The index is not below the shard count.
    #[error("sliver index {index} is out of range for {n_shards} shards")]
    IndexTooLarge {
        /// The claimed index.
        index: SliverIndex,
        /// The shard count.
        n_shards: u16,
    },
    /// The symbol size differs from the one the blob length implies.
    #[error("symbol size {actual} does not match the blob's symbol size {expected}")]
    SymbolSizeMismatch {
        /// Symbol size in the sliver.
        actual: u16,
        /// Symbol size from the metadata.
        expected: u16,
    },
    /// The byte length is not that of a sliver of this axis.
    #[error("sliver has {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// Bytes received.
        actual: usize,
        /// Bytes of a sliver of this blob and axis.
        expected: usize,
    },
    /// The Merkle root of the sliver's expansion differs from the committed hash.
    #[error("sliver does not match its hash in the metadata")]
    MerkleRootMismatch,
}

impl UnverifiedSliver {
    /// Checks the sliver as one of `axis` against `metadata`: index, symbol size, length, and
    /// the Merkle root of its expansion.
    pub fn verify(
        self,
        axis: SliverType,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<VerifiedSliver, SliverError> {
        verify_slivers(axis, metadata, vec![self]).pop().unwrap_or(Err(SliverError::MerkleRootMismatch))
    }

    fn check_shape(
        &self,
        axis: SliverType,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), SliverError> {
        let params = metadata.params();
        if self.index.as_usize() >= params.n() {
            return Err(SliverError::IndexTooLarge { index: self.index, n_shards: params.n_shards() });
        }
        let expected_size = metadata.symbol_size();
        if self.symbol_size.get() != expected_size {
            return Err(SliverError::SymbolSizeMismatch {
                actual: self.symbol_size.get(),
                expected: expected_size,
            });
        }
        let expected = params.symbols_per_sliver(axis) * usize::from(expected_size);
        if self.data.len() != expected {
            return Err(SliverError::SizeMismatch { actual: self.data.len(), expected });
        }
        Ok(())
    }
}

/// Verifies many slivers of one axis at once (their expansions share Reed-Solomon calls).
/// Returns one result per input, in order.
pub fn verify_slivers(
    axis: SliverType,
    metadata: &VerifiedBlobMetadataWithId,
    slivers: Vec<UnverifiedSliver>,
) -> Vec<Result<VerifiedSliver, SliverError>> {
    let shaped: Vec<Result<UnverifiedSliver, SliverError>> =
        slivers.into_iter().map(|s| s.check_shape(axis, metadata).map(|()| s)).collect();
    let candidates: Vec<&[u8]> =
        shaped.iter().filter_map(|s| s.as_ref().ok()).map(|s| s.data.as_slice()).collect();
    let roots = match sliver_roots(metadata.params(), axis, metadata.symbol_size(), &candidates) {
        Ok(roots) => roots,
        // Shapes were checked, so the codec cannot refuse; treat a refusal as a mismatch.
        Err(_) => return shaped.into_iter().map(|_| Err(SliverError::MerkleRootMismatch)).collect(),
    };
    let mut roots = roots.into_iter();
    shaped
        .into_iter()
        .map(|sliver| {
            let sliver = sliver?;
            let root = roots.next().ok_or(SliverError::MerkleRootMismatch)?;
            if root != metadata.sliver_hash(axis, sliver.index) {
                return Err(SliverError::MerkleRootMismatch);
            }
            Ok(VerifiedSliver {
                axis,
                index: sliver.index,
                symbol_size: sliver.symbol_size.get(),
                data: sliver.data,
            })
        })
        .collect()
}

/// Verifies slivers of either axis at once: each axis is one [`verify_slivers`] call.
/// Returns one result per input, in order.
pub fn verify_mixed(
    metadata: &VerifiedBlobMetadataWithId,
    slivers: Vec<(SliverType, UnverifiedSliver)>,
) -> Vec<Result<VerifiedSliver, SliverError>> {
    let mut results: Vec<Option<Result<VerifiedSliver, SliverError>>> = Vec::new();
    results.resize_with(slivers.len(), || None);
    let mut by_axis: [(Vec<usize>, Vec<UnverifiedSliver>); 2] = Default::default();
    for (position, (axis, sliver)) in slivers.into_iter().enumerate() {
        let group = &mut by_axis[usize::from(axis == SliverType::Secondary)];
        group.0.push(position);
        group.1.push(sliver);
    }
    for (axis, (positions, group)) in [SliverType::Primary, SliverType::Secondary].into_iter().zip(by_axis) {
        for (position, result) in positions.into_iter().zip(verify_slivers(axis, metadata, group)) {
            results[position] = Some(result);
        }
    }
    results.into_iter().map(|r| r.unwrap_or(Err(SliverError::MerkleRootMismatch))).collect()
}

/// A sliver known to match its blob's metadata (or produced by our own encoder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSliver {
    axis: SliverType,
    index: SliverIndex,
    symbol_size: u16,
    data: Vec<u8>,
}

impl VerifiedSliver {
    /// A sliver that our encoder produced or that passed verification elsewhere.
    pub(crate) fn new_trusted(axis: SliverType, index: SliverIndex, symbol_size: u16, data: Vec<u8>) -> Self {
        VerifiedSliver { axis, index, symbol_size, data }
    }

    /// The axis.
    pub fn axis(&self) -> SliverType {
        self.axis
    }

    /// The index on its axis.
    pub fn index(&self) -> SliverIndex {
        self.index
    }

    /// Bytes per symbol.
    pub fn symbol_size(&self) -> u16 {
        self.symbol_size
    }

    /// The symbols, back to back.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Symbol `i` of the sliver.
    pub fn symbol(&self, i: usize) -> Option<&[u8]> {
        let s = usize::from(self.symbol_size);
        self.data.get(i * s..(i + 1) * s)
    }

    /// The wire (BCS) form.
    pub fn to_bcs(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 9);
        let mut len = self.data.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.symbol_size.to_le_bytes());
        out.extend_from_slice(&self.index.0.to_le_bytes());
        out
    }

    /// Drops the verification mark.
    pub fn into_unverified(self) -> UnverifiedSliver {
        UnverifiedSliver {
            data: self.data,
            symbol_size: NonZeroU16::new(self.symbol_size).unwrap_or(NonZeroU16::MIN),
            index: self.index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SliverPairIndex;

    #[test]
    fn borrowed_upload_has_the_same_bcs() {
        let upload = SliverUpload {
            pair: SliverPairIndex(7),
            axis: SliverType::Secondary,
            sliver: UnverifiedSliver {
                data: (0..=255).collect(),
                symbol_size: NonZeroU16::new(2).expect("non-zero"),
                index: SliverIndex(992),
            },
        };
        let owned = bcs::to_bytes(&vec![upload.clone(), upload.clone()]).expect("bcs");
        let borrowed = bcs::to_bytes(&vec![upload.as_ref(), upload.as_ref()]).expect("bcs");
        assert_eq!(owned, borrowed);
        assert_eq!(
            bcs::to_bytes(&upload.sliver).expect("bcs"),
            bcs::to_bytes(&upload.sliver.as_ref()).expect("bcs")
        );
    }
}
