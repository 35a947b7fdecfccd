//! Inconsistency proofs: evidence that a blob's slivers do not match its metadata.
//!
//! A node that rebuilds a sliver from verified recovery symbols and finds that it does not
//! hash to the committed value publishes the symbols it used. Any node can check the proof:
//! exactly the recovery count of symbols, each with a valid Merkle proof against its source
//! sliver's hash, decoding to a sliver whose hash differs from the committed one. A node that
//! accepts the proof signs an `InvalidBlobIdMsg`; a validity quorum of those marks the blob
//! invalid on chain.
//!
//! BCS: the target sliver index (`u16`), then the list of axis-specific recovery symbols. The
//! axis of the target is not on the wire (it is in the URL).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::expand::sliver_roots;
use crate::ids::{SliverIndex, SliverType};
use crate::metadata::VerifiedBlobMetadataWithId;
use crate::recovery::{decode_sliver, RecoverySymbol, RecoverySymbolError};

/// Proof that sliver `target_sliver_index` decoded from these symbols mismatches its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InconsistencyProof {
    /// The sliver that was rebuilt.
    pub target_sliver_index: SliverIndex,
    /// The symbols it was rebuilt from.
    pub recovery_symbols: Vec<RecoverySymbol>,
}

/// Why an inconsistency proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InconsistencyProofError {
    /// Not exactly the recovery count of symbols.
    #[error("proof has {actual} symbols, expected exactly {expected}")]
    IncorrectSymbolCount {
        /// Symbols in the proof.
        actual: usize,
        /// Symbols needed to recover a sliver of the target axis.
        expected: usize,
    },
    /// Two symbols come from the same source sliver.
    #[error("two symbols come from source sliver {0}")]
    DuplicateSymbol(SliverIndex),
    /// A symbol failed verification.
    #[error("invalid recovery symbol: {0}")]
    InvalidSymbol(#[from] RecoverySymbolError),
    /// The symbols could not be decoded.
    #[error("the symbols do not decode")]
    RecoveryFailure,
    /// The rebuilt sliver matches its hash: nothing is inconsistent.
    #[error("the rebuilt sliver matches the metadata; the blob is not proven inconsistent")]
    SliverNotInconsistent,
}

impl InconsistencyProof {
    /// Checks the proof for a target of `target_axis` against `metadata`; `Ok` means the blob
    /// is proven inconsistent.
    pub fn verify(
        &self,
        target_axis: SliverType,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<(), InconsistencyProofError> {
        let params = metadata.params();
        let expected = params.symbols_for_recovery(target_axis);
        if self.recovery_symbols.len() != expected {
            return Err(InconsistencyProofError::IncorrectSymbolCount {
                actual: self.recovery_symbols.len(),
                expected,
            });
        }
        let mut by_index = BTreeMap::new();
        for symbol in &self.recovery_symbols {
            symbol.verify(metadata, target_axis, self.target_sliver_index)?;
            if by_index.insert(symbol.symbol.index, symbol.clone()).is_some() {
                return Err(InconsistencyProofError::DuplicateSymbol(symbol.symbol.index));
            }
        }
        let sliver = decode_sliver(params, target_axis, metadata.symbol_size(), &by_index)
            .map_err(|_| InconsistencyProofError::RecoveryFailure)?;
        let root = sliver_roots(params, target_axis, metadata.symbol_size(), &[&sliver])
            .map_err(|_| InconsistencyProofError::RecoveryFailure)?;
        if root.first() == Some(&metadata.sliver_hash(target_axis, self.target_sliver_index)) {
            Err(InconsistencyProofError::SliverNotInconsistent)
        } else {
            Ok(())
        }
    }
}
