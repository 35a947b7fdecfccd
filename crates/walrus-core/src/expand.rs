//! Expanding slivers to all `n` symbols of their codeword, and the Merkle roots over them.
//!
//! A sliver's committed hash is the root over its *expansion*: a primary sliver (a row of
//! `n - f` symbols) is extended by the secondary code to `n` symbols, a secondary sliver (a
//! column of `n - 2f` symbols) by the primary code. Many slivers of one axis are expanded in
//! one Reed-Solomon call through a [`StripLayout`], and their symbols and trees are hashed
//! eight at a time.

use rayon::prelude::*;

use crate::hash::{leaf_hashes, merkle_roots, Digest, TreeLayout};
use crate::ids::SliverType;
use crate::merkle::MerkleTree;
use crate::params::EncodingParams;
use crate::rs::{RsCode, RsError};
use crate::strip::StripLayout;

/// Target bytes of expanded symbols handled by one batch (bounds working memory).
const BATCH_BYTES_MAX: usize = 8 << 20;

/// The code that expands a sliver of `axis` to `n` symbols.
pub(crate) fn expansion_code(params: EncodingParams, axis: SliverType) -> RsCode {
    RsCode { source: params.symbols_per_sliver(axis), total: params.n() }
}

/// Expands `slivers` (all of `axis`, each `k * symbol_size` bytes) and returns, for each, its
/// `n` symbols back to back.
fn expand_to_symbols(
    params: EncodingParams,
    axis: SliverType,
    symbol_size: usize,
    slivers: &[&[u8]],
) -> Result<Vec<u8>, RsError> {
    let code = expansion_code(params, axis);
    let (n, k, s) = (params.n(), code.source, symbol_size);
    let layout = StripLayout::new(slivers.len(), s);
    let mut strips = vec![0u8; k * layout.strip_len()];
    for (c, strip) in strips.chunks_exact_mut(layout.strip_len()).enumerate() {
        layout.gather(strip, |m| &slivers[m][c * s..(c + 1) * s]);
    }
    let mut symbols = vec![0u8; slivers.len() * n * s];
    for (m, sliver) in slivers.iter().enumerate() {
        symbols[m * n * s..(m * n + k) * s].copy_from_slice(&sliver[..k * s]);
    }
    code.encode(layout.strip_len(), strips.chunks_exact(layout.strip_len()), |r, strip| {
        layout.scatter(strip, |m, offset, bytes| {
            let at = (m * n + k + r) * s + offset;
            symbols[at..at + bytes.len()].copy_from_slice(bytes);
        });
    })?;
    Ok(symbols)
}

/// Slivers per batch so that a batch expands to about [`BATCH_BYTES_MAX`], leaving at least
/// two batches per thread when there are enough slivers.
fn batch_len(params: EncodingParams, symbol_size: usize, count: usize) -> usize {
    let by_memory = (BATCH_BYTES_MAX / (params.n() * (symbol_size + 32))).max(1);
    let by_threads = count.div_ceil(2 * rayon::current_num_threads()).max(1);
    by_memory.min(by_threads)
}

/// The Merkle roots of the expansions of `slivers` (all of `axis`), in order.
///
/// Each sliver must hold exactly `symbols_per_sliver(axis) * symbol_size` bytes.
pub fn sliver_roots(
    params: EncodingParams,
    axis: SliverType,
    symbol_size: u16,
    slivers: &[&[u8]],
) -> Result<Vec<Digest>, RsError> {
    let s = usize::from(symbol_size);
    let n = params.n();
    let batch = batch_len(params, s, slivers.len());
    let batches: Vec<Vec<Digest>> = slivers
        .par_chunks(batch)
        .map(|group| {
            let symbols = expand_to_symbols(params, axis, s, group)?;
            let mut hashes = vec![[0u8; 32]; group.len() * n];
            leaf_hashes(&symbols, s, &mut hashes);
            let mut roots = vec![[0u8; 32]; group.len()];
            let layout = TreeLayout { trees: group.len(), leaves: n, tree_stride: n, leaf_stride: 1 };
            merkle_roots(&hashes, layout, &mut roots);
            Ok(roots)
        })
        .collect::<Result<_, RsError>>()?;
    Ok(batches.into_iter().flatten().collect())
}

/// One sliver's full expansion and Merkle tree, as a node keeps it to serve recovery symbols.
#[derive(Debug, Clone)]
pub struct ExpandedSliver {
    symbol_size: usize,
    /// All `n` symbols, back to back.
    symbols: Vec<u8>,
    tree: MerkleTree,
}

impl ExpandedSliver {
    /// Expands one sliver of `axis`.
    pub fn new(
        params: EncodingParams,
        axis: SliverType,
        symbol_size: u16,
        sliver: &[u8],
    ) -> Result<Self, RsError> {
        let s = usize::from(symbol_size);
        let symbols = expand_to_symbols(params, axis, s, &[sliver])?;
        let mut hashes = vec![[0u8; 32]; params.n()];
        leaf_hashes(&symbols, s, &mut hashes);
        Ok(ExpandedSliver { symbol_size: s, symbols, tree: MerkleTree::from_leaf_hashes(hashes) })
    }

    /// Symbol `position` of the expansion (`position < n`).
    pub fn symbol(&self, position: usize) -> Option<&[u8]> {
        self.symbols.get(position * self.symbol_size..(position + 1) * self.symbol_size)
    }

    /// The Merkle tree over the expansion; its root is the sliver's hash.
    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn batched_roots_equal_one_by_one_expansion() {
        let params = EncodingParams::new(10).expect("valid");
        for s in [2u16, 6, 64, 70] {
            let k = params.symbols_per_sliver(SliverType::Primary);
            let slivers: Vec<Vec<u8>> =
                (0..9).map(|i| (0..k * usize::from(s)).map(|b| (b * 31 + i * 7) as u8).collect()).collect();
            let refs: Vec<&[u8]> = slivers.iter().map(Vec::as_slice).collect();
            let roots = sliver_roots(params, SliverType::Primary, s, &refs).expect("expands");
            for (sliver, root) in slivers.iter().zip(&roots) {
                let expanded = ExpandedSliver::new(params, SliverType::Primary, s, sliver).expect("expands");
                assert_eq!(expanded.tree().root(), *root);
                assert_eq!(expanded.symbol(0), Some(&sliver[..usize::from(s)]));
                let leaves: Vec<&[u8]> = (0..10).filter_map(|p| expanded.symbol(p)).collect();
                assert_eq!(MerkleTree::from_leaves(&leaves).root(), *root);
                assert_eq!(expanded.tree().proof(9).map(|p| p.verify(root, leaves[9], 9, 10)), Some(Ok(())));
                let _ = leaf_hash(leaves[0]);
            }
        }
    }
}
