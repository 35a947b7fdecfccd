//! Recovering a lost sliver from other nodes' recovery symbols.
//!
//! Symbol `E[i][j]` of the expanded matrix lies on primary sliver `i` (position `j`) and on
//! secondary sliver `j` (position `i`). To rebuild primary sliver `t`, a node collects `n - f`
//! symbols `E[t][j]` from holders of secondary slivers `j`, each with a Merkle proof of leaf `t`
//! in the tree over secondary sliver `j`'s expansion; the symbols are positions of `t`'s own
//! codeword, so the secondary code decodes them. Secondary slivers need `n - 2f` symbols.
//! If the rebuilt sliver does not match its committed hash, the symbols used form an
//! [`InconsistencyProof`] that anyone can check.
//!
//! Wire forms (BCS) follow the reference: [`DecodingSymbol`] is `(u16 index, bytes)`;
//! [`GeneralRecoverySymbol`] is `(axis tag + DecodingSymbol, u16 target index, proof)`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::expand::{expansion_code, sliver_roots, ExpandedSliver};
use crate::ids::{SliverIndex, SliverType};
use crate::inconsistency::InconsistencyProof;
use crate::merkle::{MerkleProof, MerkleProofError};
use crate::metadata::VerifiedBlobMetadataWithId;
use crate::params::EncodingParams;
use crate::rs::RsError;
use crate::sliver::VerifiedSliver;

/// One symbol with the index of the sliver it was cut from (its position in the target's
/// codeword).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodingSymbol {
    /// Index of the source sliver (on the axis orthogonal to the target).
    pub index: SliverIndex,
    /// The symbol's bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// A decoding symbol tagged with the axis of the sliver it helps recover (BCS tag 0 = primary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EitherDecodingSymbol {
    /// Helps recover a primary sliver; cut from a secondary sliver.
    Primary(DecodingSymbol),
    /// Helps recover a secondary sliver; cut from a primary sliver.
    Secondary(DecodingSymbol),
}

/// Most targets in one [`RecoveryRequest`].
pub const RECOVERY_TARGETS_MAX: usize = 2 * 1000;

/// Most bytes a node answers to one recovery-symbols request. A node refuses a request whose
/// answer could be larger; clients split their targets with [`targets_per_request`].
pub const RECOVERY_RESPONSE_BYTES_MAX: u64 = 64 << 20;

/// An upper bound of the BCS bytes of one served [`GeneralRecoverySymbol`]: the symbol, its
/// indices and tags, and a proof of one node (tag and digest) per tree level.
pub fn served_symbol_bytes(params: EncodingParams, symbol_size: u16) -> u64 {
    let levels = u64::from(usize::BITS - params.n().saturating_sub(1).leading_zeros()) + 1;
    u64::from(symbol_size) + 33 * levels + 16
}

/// An upper bound of the answer to `targets` recovery targets from a node holding `shards`
/// shards (one symbol per target from each of its slivers on the other axis).
pub fn symbols_response_bytes(
    params: EncodingParams,
    symbol_size: u16,
    targets: usize,
    shards: usize,
) -> u64 {
    served_symbol_bytes(params, symbol_size).saturating_mul((targets as u64).saturating_mul(shards as u64))
}

/// How many targets one request to a node holding `shards` shards may carry, so that its
/// answer stays within [`RECOVERY_RESPONSE_BYTES_MAX`] (at least one).
pub fn targets_per_request(params: EncodingParams, symbol_size: u16, shards: usize) -> usize {
    let per_target = symbols_response_bytes(params, symbol_size, 1, shards.max(1));
    usize::try_from(RECOVERY_RESPONSE_BYTES_MAX / per_target.max(1))
        .unwrap_or(usize::MAX)
        .clamp(1, RECOVERY_TARGETS_MAX)
}

/// A batch of recovery targets: the BCS body of `POST /v1/blobs/{id}/recoverySymbols`, this
/// project's batch form of the reference's per-target `GET`. The answer is a BCS
/// `Vec<GeneralRecoverySymbol>`: the symbols the node can cut for every target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryRequest {
    /// The slivers to be rebuilt: axis and index on that axis.
    pub targets: Vec<(SliverType, SliverIndex)>,
}

/// A recovery symbol as storage nodes serve it: the symbol, the target sliver's index, and the
/// proof of leaf `target_index` in the tree over the source sliver's expansion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneralRecoverySymbol {
    /// The symbol, tagged with the target axis.
    pub symbol: EitherDecodingSymbol,
    /// The index of the sliver this symbol helps recover.
    pub target_index: SliverIndex,
    /// Merkle proof against the source sliver's hash.
    pub proof: MerkleProof,
}

/// Why a recovery symbol was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoverySymbolError {
    /// A sliver index is not below the shard count.
    #[error("sliver index {0} out of range")]
    IndexTooLarge(SliverIndex),
    /// The symbol has the wrong number of bytes.
    #[error("symbol has {actual} bytes, expected {expected}")]
    SymbolSizeMismatch {
        /// Bytes received.
        actual: usize,
        /// The blob's symbol size.
        expected: usize,
    },
    /// The symbol does not lie on the requested target sliver.
    #[error("symbol does not help recover {axis} sliver {index}")]
    SymbolNotUsable {
        /// Requested target axis.
        axis: SliverType,
        /// Requested target index.
        index: SliverIndex,
    },
    /// The Merkle proof does not lead to the source sliver's hash.
    #[error("invalid proof: {0}")]
    InvalidProof(#[from] MerkleProofError),
}

impl GeneralRecoverySymbol {
    /// Cuts the symbol for target `target_index` (on the axis orthogonal to `source_axis`) from
    /// an expanded source sliver.
    pub fn from_expanded(
        source_axis: SliverType,
        source_index: SliverIndex,
        expanded: &ExpandedSliver,
        target_index: SliverIndex,
    ) -> Option<Self> {
        let data = expanded.symbol(target_index.as_usize())?.to_vec();
        let proof = expanded.tree().proof(target_index.as_usize())?;
        let symbol = DecodingSymbol { index: source_index, data };
        let symbol = match source_axis {
            SliverType::Secondary => EitherDecodingSymbol::Primary(symbol),
            SliverType::Primary => EitherDecodingSymbol::Secondary(symbol),
        };
        Some(GeneralRecoverySymbol { symbol, target_index, proof })
    }

    /// Expands `sliver` (of `source_axis`) and cuts the symbol for `target_index`.
    pub fn from_sliver(
        params: EncodingParams,
        source_axis: SliverType,
        source_index: SliverIndex,
        symbol_size: u16,
        sliver: &[u8],
        target_index: SliverIndex,
    ) -> Result<Self, RsError> {
        let expanded = ExpandedSliver::new(params, source_axis, symbol_size, sliver)?;
        Self::from_expanded(source_axis, source_index, &expanded, target_index)
            .ok_or_else(|| RsError::invalid_input("target index out of range"))
    }

    /// The axis of the sliver this symbol helps recover.
    pub fn target_axis(&self) -> SliverType {
        match self.symbol {
            EitherDecodingSymbol::Primary(_) => SliverType::Primary,
            EitherDecodingSymbol::Secondary(_) => SliverType::Secondary,
        }
    }

    /// The decoding symbol, whatever its axis.
    pub fn decoding_symbol(&self) -> &DecodingSymbol {
        match &self.symbol {
            EitherDecodingSymbol::Primary(s) | EitherDecodingSymbol::Secondary(s) => s,
        }
    }

    /// Checks that this symbol helps recover sliver `target_index` of `target_axis` and that
    /// its proof leads to the source sliver's committed hash.
    pub fn verify(
        self,
        metadata: &VerifiedBlobMetadataWithId,
        target_axis: SliverType,
        target_index: SliverIndex,
    ) -> Result<VerifiedRecoverySymbol, RecoverySymbolError> {
        if self.target_axis() != target_axis || self.target_index != target_index {
            return Err(RecoverySymbolError::SymbolNotUsable { axis: target_axis, index: target_index });
        }
        let symbol = match self.symbol {
            EitherDecodingSymbol::Primary(s) | EitherDecodingSymbol::Secondary(s) => s,
        };
        let recovery = RecoverySymbol { symbol, proof: self.proof };
        recovery.verify(metadata, target_axis, target_index)?;
        Ok(VerifiedRecoverySymbol { target_axis, target_index, symbol: recovery })
    }
}

/// An axis-specific recovery symbol (the axis is known from context), as inside an
/// [`InconsistencyProof`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySymbol {
    /// The symbol and its source sliver index.
    pub symbol: DecodingSymbol,
    /// Proof of leaf `target` in the tree over the source sliver's expansion.
    pub proof: MerkleProof,
}

impl RecoverySymbol {
    /// Checks index range, size and proof for target `target_index` of `target_axis`.
    pub(crate) fn verify(
        &self,
        metadata: &VerifiedBlobMetadataWithId,
        target_axis: SliverType,
        target_index: SliverIndex,
    ) -> Result<(), RecoverySymbolError> {
        let params = metadata.params();
        for index in [self.symbol.index, target_index] {
            if index.as_usize() >= params.n() {
                return Err(RecoverySymbolError::IndexTooLarge(index));
            }
        }
        let expected = usize::from(metadata.symbol_size());
        if self.symbol.data.len() != expected {
            return Err(RecoverySymbolError::SymbolSizeMismatch { actual: self.symbol.data.len(), expected });
        }
        let source_hash = metadata.sliver_hash(target_axis.orthogonal(), self.symbol.index);
        self.proof.verify(&source_hash, &self.symbol.data, target_index.as_usize(), params.n())?;
        Ok(())
    }
}

/// A recovery symbol checked against the metadata for one target sliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRecoverySymbol {
    target_axis: SliverType,
    target_index: SliverIndex,
    symbol: RecoverySymbol,
}

impl VerifiedRecoverySymbol {
    /// The index of the sliver the symbol was cut from (its position in the target codeword).
    pub fn source_index(&self) -> SliverIndex {
        self.symbol.symbol.index
    }
}

/// Why a sliver could not be recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// Fewer distinct usable symbols than needed.
    #[error("{have} distinct symbols for the target, {need} needed")]
    NotEnoughSymbols {
        /// Distinct symbols given.
        have: usize,
        /// Symbols needed.
        need: usize,
    },
    /// The rebuilt sliver does not match its hash: the writer encoded inconsistently. The proof
    /// lets every other node check this.
    #[error("the blob is inconsistently encoded")]
    Inconsistent(Box<InconsistencyProof>),
    /// The Reed-Solomon library refused the input.
    #[error(transparent)]
    Codec(#[from] RsError),
}

/// Verified symbols for the slivers to be rebuilt, per target.
pub type CollectedSymbols = BTreeMap<(SliverType, SliverIndex), Vec<VerifiedRecoverySymbol>>;

/// Adds the symbols among `symbols` that are for one of `targets` and verify against the
/// metadata to `collected`; the others (a lying node's among them) are dropped.
pub fn collect_symbols(
    metadata: &VerifiedBlobMetadataWithId,
    targets: &[(SliverType, SliverIndex)],
    symbols: impl IntoIterator<Item = GeneralRecoverySymbol>,
    collected: &mut CollectedSymbols,
) {
    for symbol in symbols {
        let target = (symbol.target_axis(), symbol.target_index);
        if !targets.contains(&target) {
            continue;
        }
        if let Ok(verified) = symbol.verify(metadata, target.0, target.1) {
            collected.entry(target).or_default().push(verified);
        }
    }
}

/// Rebuilds sliver `target_index` of `target_axis` from verified recovery symbols (those for
/// other targets are ignored; the first symbol per source index is used).
pub fn recover_sliver(
    metadata: &VerifiedBlobMetadataWithId,
    target_axis: SliverType,
    target_index: SliverIndex,
    symbols: impl IntoIterator<Item = VerifiedRecoverySymbol>,
) -> Result<VerifiedSliver, RecoveryError> {
    let params = metadata.params();
    let need = params.symbols_for_recovery(target_axis);
    let mut chosen: BTreeMap<SliverIndex, RecoverySymbol> = BTreeMap::new();
    for symbol in symbols {
        if chosen.len() == need {
            break;
        }
        if symbol.target_axis == target_axis && symbol.target_index == target_index {
            chosen.entry(symbol.source_index()).or_insert(symbol.symbol);
        }
    }
    if chosen.len() < need {
        return Err(RecoveryError::NotEnoughSymbols { have: chosen.len(), need });
    }
    let sliver = decode_sliver(params, target_axis, metadata.symbol_size(), &chosen)?;
    let root = sliver_roots(params, target_axis, metadata.symbol_size(), &[&sliver])?;
    if root.first() == Some(&metadata.sliver_hash(target_axis, target_index)) {
        Ok(VerifiedSliver::new_trusted(target_axis, target_index, metadata.symbol_size(), sliver))
    } else {
        Err(RecoveryError::Inconsistent(Box::new(InconsistencyProof {
            target_sliver_index: target_index,
            recovery_symbols: chosen.into_values().collect(),
        })))
    }
}

/// Decodes the target sliver's source symbols from exactly `k` distinct codeword positions.
pub(crate) fn decode_sliver(
    params: EncodingParams,
    target_axis: SliverType,
    symbol_size: u16,
    symbols: &BTreeMap<SliverIndex, RecoverySymbol>,
) -> Result<Vec<u8>, RsError> {
    let code = expansion_code(params, target_axis);
    let s = usize::from(symbol_size);
    let mut sliver = vec![0u8; code.source * s];
    for (index, symbol) in symbols.range(..SliverIndex(code.source as u16)) {
        sliver[index.as_usize() * s..(index.as_usize() + 1) * s].copy_from_slice(&symbol.symbol.data);
    }
    let given = symbols.iter().map(|(index, symbol)| (index.as_usize(), symbol.symbol.data.as_slice()));
    code.decode_missing(s, given, |i, shard| sliver[i * s..(i + 1) * s].copy_from_slice(shard))?;
    Ok(sliver)
}
