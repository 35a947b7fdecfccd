//! Storage challenges: the sampled protocol of `../shared/guides/storage-challenges.md` §5, the
//! parts the chain, the provers and the verifiers must compute alike (docs/challenges.md).
//!
//! Near each epoch's end the chain fixes a seed ([`challenge_seed`], from the validators'
//! revealed secrets) and draws `c` certified blobs from it ([`draw_blobs`]: half uniformly by
//! count, half weighted by size). Every shard then proves, for every drawn blob, a few symbols
//! of its primary and secondary sliver ([`symbol_positions`]) with Merkle proofs against the
//! blob's metadata ([`prove_item`]); any node holding the metadata checks them
//! ([`verify_item`]) and signs the prover's pass bitmap ([`ChallengeResult`], intent
//! [`CHALLENGE_INTENT_TYPE`]). Everything here is a function of its inputs: no I/O, no clock.

use serde::{Deserialize, Serialize};

use crate::expand::ExpandedSliver;
use crate::hash::{blake2b256_parts, Digest};
use crate::ids::{Epoch, ObjectId, ShardIndex, SliverPairIndex, SliverType};
use crate::merkle::MerkleProof;
use crate::messages::MessageBody;
use crate::metadata::VerifiedBlobMetadataWithId;
use crate::params::EncodingParams;
use crate::rs::RsError;
use crate::BlobId;

/// The intent type of a signed [`ChallengeResult`], clear of the reference's 0–6.
pub const CHALLENGE_INTENT_TYPE: u8 = 64;
/// Symbols proved per sliver.
pub const SYMBOLS_PER_SLIVER: u8 = 2;
/// Above this symbol size, one symbol per sliver is proved, to bound a bundle's bytes.
pub const LARGE_SYMBOL_BYTES: u16 = 16 << 10;
/// Most blobs one challenge may draw.
pub const CHALLENGED_BLOBS_MAX: u16 = 1024;

/// The commitment a validator publishes before it reveals `secret`.
pub fn reveal_commitment(secret: &[u8; 32]) -> Digest {
    blake2b256_parts(&[b"wal-chal-commit", secret])
}

/// The secret a validator reveals for `epoch`: derived from a key only it holds, so that a
/// restarted validator reveals what it committed to without having stored anything.
pub fn reveal_secret(key_seed: &[u8; 32], chain_id: &Digest, epoch: Epoch) -> [u8; 32] {
    blake2b256_parts(&[b"wal-chal-secret", key_seed, chain_id, &epoch.0.to_le_bytes()])
}

/// The challenge seed of `epoch` from the revealed secrets, in validator order. With no reveal
/// at all, `fallback` (a block digest, which its proposer could grind: flagged on chain).
pub fn challenge_seed(epoch: Epoch, reveals: &[[u8; 32]], fallback: &Digest) -> Digest {
    let mut parts: Vec<&[u8]> = vec![b"wal-chal-seed"];
    let epoch = epoch.0.to_le_bytes();
    parts.push(&epoch);
    if reveals.is_empty() {
        parts.push(fallback);
    }
    parts.extend(reveals.iter().map(|r| r.as_slice()));
    blake2b256_parts(&parts)
}

/// The challengeable blobs as the chain indexes them: by rank, and by cumulative unencoded size.
pub trait BlobIndex {
    /// How many blobs.
    fn count(&self) -> u64;
    /// Their total unencoded size.
    fn total_size(&self) -> u64;
    /// The blob of rank `k < count()`: its ID and unencoded size.
    fn nth(&self, k: u64) -> Option<(BlobId, u64)>;
    /// The blob whose cumulative size range holds `offset < total_size()`.
    fn at_size_offset(&self, offset: u64) -> Option<(BlobId, u64)>;
}

/// A blob drawn for a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengedBlob {
    /// The blob.
    pub blob_id: BlobId,
    /// Its unencoded size (gives the symbol size).
    pub unencoded_length: u64,
    /// Symbols proved per sliver: [`SYMBOLS_PER_SLIVER`], or 1 for large symbols.
    pub symbols_per_sliver: u8,
}

/// Symbols proved per sliver of a blob whose symbols have `symbol_size` bytes.
pub fn symbols_per_sliver(symbol_size: u16) -> u8 {
    if symbol_size > LARGE_SYMBOL_BYTES {
        1
    } else {
        SYMBOLS_PER_SLIVER
    }
}

/// A 128-bit draw from `tag`, `seed` and a counter, reduced below `bound` (> 0); the bias of the
/// reduction is below `bound / 2^128`.
fn draw_below(tag: &[u8], seed: &Digest, extra: &[u8], k: u64, bound: u64) -> u64 {
    let hash = blake2b256_parts(&[tag, seed, extra, &k.to_le_bytes()]);
    let wide = u128::from_le_bytes(hash[..16].try_into().expect("16 bytes"));
    (wide % u128::from(bound)) as u64
}

/// Draws up to `count` distinct blobs: the first half uniformly by rank, the second weighted by
/// unencoded size (a duplicate is drawn again with the next counter). An index with at most
/// `count` blobs gives all of them, by rank.
pub fn draw_blobs(
    params: EncodingParams,
    seed: &Digest,
    index: &impl BlobIndex,
    count: u16,
) -> Vec<ChallengedBlob> {
    let count = count.min(CHALLENGED_BLOBS_MAX);
    let total = index.count();
    let drawn: Vec<(BlobId, u64)> = if total <= u64::from(count) {
        (0..total).filter_map(|k| index.nth(k)).collect()
    } else {
        let by_count = u64::from(count).div_ceil(2);
        let mut drawn: Vec<(BlobId, u64)> = Vec::with_capacity(usize::from(count));
        let mut k = 0u64;
        // Each draw is new with probability ≥ 1 − count/total ≥ 1/(count+1) by rank; by size a
        // few huge blobs could repeat, so the size draws give up after a bounded number of tries
        // and the rest is drawn by rank.
        let tries_max = 64 * u64::from(count);
        while drawn.len() < usize::from(count) && k < 2 * tries_max {
            let by_size = drawn.len() as u64 >= by_count && k < tries_max && index.total_size() > 0;
            let pick = if by_size {
                index.at_size_offset(draw_below(b"wal-chal-blob", seed, b"size", k, index.total_size()))
            } else {
                index.nth(draw_below(b"wal-chal-blob", seed, b"rank", k, total))
            };
            k += 1;
            if let Some(pick) = pick {
                if !drawn.iter().any(|(id, _)| *id == pick.0) {
                    drawn.push(pick);
                }
            }
        }
        drawn
    };
    drawn
        .into_iter()
        .map(|(blob_id, unencoded_length)| {
            let symbol_size = params.symbol_size(unencoded_length).unwrap_or(u16::MAX);
            ChallengedBlob { blob_id, unencoded_length, symbols_per_sliver: symbols_per_sliver(symbol_size) }
        })
        .collect()
}

/// `k` distinct positions below `bound` for a (blob, shard, axis).
fn distinct_positions(
    seed: &Digest,
    blob_id: &BlobId,
    shard: ShardIndex,
    axis: u8,
    k: u8,
    bound: usize,
) -> Vec<u16> {
    let k = usize::from(k).min(bound);
    let mut extra = Vec::with_capacity(35);
    extra.extend_from_slice(&blob_id.0);
    extra.extend_from_slice(&shard.0.to_le_bytes());
    extra.push(axis);
    let mut out: Vec<u16> = Vec::with_capacity(k);
    let mut counter = 0u64;
    while out.len() < k {
        let position = draw_below(b"wal-chal-pos", seed, &extra, counter, bound as u64) as u16;
        counter += 1;
        if !out.contains(&position) {
            out.push(position);
        }
    }
    out
}

/// The positions shard `shard` proves of a challenged blob: of its primary sliver (any of its
/// `n − f` stored symbols) and of its secondary sliver (any of its `n − 2f`), so that each
/// symbol is a plain read of the stored sliver and every stored symbol may be asked for.
pub fn symbol_positions(
    params: EncodingParams,
    seed: &Digest,
    blob: &ChallengedBlob,
    shard: ShardIndex,
) -> (Vec<u16>, Vec<u16>) {
    let k = blob.symbols_per_sliver;
    let primary =
        distinct_positions(seed, &blob.blob_id, shard, 0, k, params.symbols_per_sliver(SliverType::Primary));
    let secondary = distinct_positions(
        seed,
        &blob.blob_id,
        shard,
        1,
        k,
        params.symbols_per_sliver(SliverType::Secondary),
    );
    (primary, secondary)
}

/// One proved symbol: its position in the sliver's expansion, its bytes and the Merkle proof of
/// that leaf against the sliver's hash in the blob's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolProof {
    /// The leaf.
    pub position: u16,
    /// The symbol.
    #[serde(with = "serde_bytes")]
    pub symbol: Vec<u8>,
    /// The proof against the sliver hash.
    pub proof: MerkleProof,
}

/// A shard's answer for one challenged blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemResponse {
    /// The node does not hold the sliver pair (an honest node says so and takes the loss).
    Missing,
    /// The proved symbols of both slivers, in [`symbol_positions`] order.
    Proved {
        /// Of the primary sliver.
        primary: Vec<SymbolProof>,
        /// Of the secondary sliver.
        secondary: Vec<SymbolProof>,
    },
}

/// One item of a prover's bundle: a challenged blob (its index in the challenge) and a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeItem {
    /// Index of the blob in the challenge's list.
    pub blob_index: u16,
    /// The shard answering.
    pub shard: ShardIndex,
    /// The answer.
    pub response: ItemResponse,
}

/// A chunk of a prover's items as it sends them to a verifier, signed with the prover's BLS key
/// over [`chunk_digest`], so that nobody else can add to its tally at the verifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeChunk {
    /// The items.
    pub items: Vec<ChallengeItem>,
    /// The prover's signature over [`chunk_digest`].
    pub signature: crate::keys::BlsSignature,
}

/// What a prover signs for a chunk: the epoch, the prover, the seed and the items' BCS bytes.
pub fn chunk_digest(epoch: Epoch, prover: &ObjectId, seed: &Digest, items: &[ChallengeItem]) -> Digest {
    let bytes = bcs::to_bytes(items).expect("plain BCS");
    blake2b256_parts(&[b"wal-chal-chunk", &epoch.0.to_le_bytes(), &prover.0, seed, &bytes])
}

/// The pair a shard holds of a blob.
pub fn pair_of(params: EncodingParams, blob_id: &BlobId, shard: ShardIndex) -> SliverPairIndex {
    blob_id.pair_for_shard(shard, params.n_shards())
}

fn prove_axis(
    params: EncodingParams,
    axis: SliverType,
    symbol_size: u16,
    sliver: &[u8],
    positions: &[u16],
) -> Result<Vec<SymbolProof>, RsError> {
    let expanded = ExpandedSliver::new(params, axis, symbol_size, sliver)?;
    positions
        .iter()
        .map(|&position| {
            let symbol = expanded.symbol(usize::from(position)).map(<[u8]>::to_vec);
            let proof = expanded.tree().proof(usize::from(position));
            match (symbol, proof) {
                (Some(symbol), Some(proof)) => Ok(SymbolProof { position, symbol, proof }),
                _ => Err(RsError::invalid_input("challenge position out of range")),
            }
        })
        .collect()
}

/// The prover's item for `shard` of challenged blob `blob_index`, from the pair's two stored
/// slivers (`None`: the pair is missing). Errors only if a sliver has the wrong length.
pub fn prove_item(
    params: EncodingParams,
    seed: &Digest,
    blob_index: u16,
    blob: &ChallengedBlob,
    shard: ShardIndex,
    slivers: Option<(&[u8], &[u8])>,
) -> Result<ChallengeItem, RsError> {
    let Some((primary, secondary)) = slivers else {
        return Ok(ChallengeItem { blob_index, shard, response: ItemResponse::Missing });
    };
    let symbol_size = params
        .symbol_size(blob.unencoded_length)
        .map_err(|_| RsError::invalid_input("challenged blob too large for the shard count"))?;
    for (axis, sliver) in [(SliverType::Primary, primary), (SliverType::Secondary, secondary)] {
        let expected = params.sliver_size(axis, blob.unencoded_length).unwrap_or(usize::MAX);
        if sliver.len() != expected {
            return Err(RsError::invalid_input("a sliver of the wrong length for the challenged blob"));
        }
    }
    let (primary_positions, secondary_positions) = symbol_positions(params, seed, blob, shard);
    let response = ItemResponse::Proved {
        primary: prove_axis(params, SliverType::Primary, symbol_size, primary, &primary_positions)?,
        secondary: prove_axis(params, SliverType::Secondary, symbol_size, secondary, &secondary_positions)?,
    };
    Ok(ChallengeItem { blob_index, shard, response })
}

/// Whether `item` proves shard `shard`'s pair of `blob`: every expected position present, in
/// order, of the blob's symbol size, with a proof against the sliver hash in `metadata` (which
/// must be the blob's). `Missing` and any fault fail the item.
pub fn verify_item(
    seed: &Digest,
    blob: &ChallengedBlob,
    metadata: &VerifiedBlobMetadataWithId,
    shard: ShardIndex,
    item: &ChallengeItem,
) -> bool {
    let params = metadata.params();
    if item.shard != shard || metadata.blob_id() != &blob.blob_id {
        return false;
    }
    let ItemResponse::Proved { primary, secondary } = &item.response else { return false };
    let (primary_positions, secondary_positions) = symbol_positions(params, seed, blob, shard);
    let pair = pair_of(params, &blob.blob_id, shard);
    let symbol_size = usize::from(metadata.symbol_size());
    let axis_ok = |axis: SliverType, proofs: &[SymbolProof], positions: &[u16]| {
        let hash = metadata.sliver_hash(axis, pair.to_sliver_index(axis, params.n_shards()));
        proofs.len() == positions.len()
            && proofs.iter().zip(positions).all(|(proof, &position)| {
                proof.position == position
                    && proof.symbol.len() == symbol_size
                    && proof.proof.verify(&hash, &proof.symbol, usize::from(position), params.n()).is_ok()
            })
    };
    axis_ok(SliverType::Primary, primary, &primary_positions)
        && axis_ok(SliverType::Secondary, secondary, &secondary_positions)
}

/// A verifier's signed statement of which of a prover's items passed (intent
/// [`CHALLENGE_INTENT_TYPE`]); honest verifiers of one prover sign the same bytes, so their
/// signatures aggregate into the certificate the prover submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeResult {
    /// The prover.
    pub node_id: ObjectId,
    /// The challenge's seed.
    pub seed: Digest,
    /// Items in the prover's bundle: challenged blobs × its shards.
    pub n_items: u32,
    /// One bit per item (LSB first), in canonical order: blob index, then shard ascending.
    #[serde(with = "serde_bytes")]
    pub passed: Vec<u8>,
}

impl MessageBody for ChallengeResult {
    const INTENT_TYPE: u8 = CHALLENGE_INTENT_TYPE;
}

impl ChallengeResult {
    /// How many items passed.
    pub fn n_passed(&self) -> u32 {
        let bits = self.passed.iter().map(|b| b.count_ones()).sum::<u32>();
        bits.min(self.n_items)
    }

    /// Whether the bitmap has exactly `n_items` bits' bytes and no bit set past them.
    pub fn is_well_formed(&self) -> bool {
        let n = self.n_items as usize;
        self.passed.len() == n.div_ceil(8)
            && (n.is_multiple_of(8) || self.passed.last().is_none_or(|last| last >> (n % 8) == 0))
    }
}

/// Sets bit `i` of an LSB-first bitmap.
pub fn set_bit(bitmap: &mut [u8], i: usize) {
    if let Some(byte) = bitmap.get_mut(i / 8) {
        *byte |= 1 << (i % 8);
    }
}

/// The canonical position of (blob index, shard) among a prover's items: blob-major, then the
/// prover's shards in ascending order (`shards` sorted).
pub fn item_position(blob_index: u16, shard: ShardIndex, shards: &[ShardIndex]) -> Option<usize> {
    let within = shards.binary_search(&shard).ok()?;
    Some(usize::from(blob_index) * shards.len() + within)
}

#[cfg(test)]
mod tests;
