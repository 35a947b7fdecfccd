//! Encoding a blob into sliver pairs and computing its metadata.
//!
//! The blob is the `kP x kS` message matrix (row-major, zero-padded). Its full expansion `E`
//! (`n x n` symbols) is built in two steps, as the reference does:
//! 1. the secondary code extends every row to `n` columns; the new columns are the repair
//!    secondary slivers `kS..n`;
//! 2. the primary code extends every column to `n` rows; rows `kP..n`, cut to `kS` columns, are
//!    the repair primary slivers.
//!
//! Both steps batch many codewords per library call (see `strip`) and run in chunks over both
//! cores: step 1 by row ranges, step 2 by column ranges. Step 2 also hashes every symbol of
//! `E` once as a Merkle leaf; each leaf belongs to one primary and one secondary tree, whose
//! `2n` roots form the metadata. The bottom-right quadrant of `E` is never kept.
//!
//! Memory: the outputs (about 4.5 times the blob), the leaf hashes (`32 n^2` bytes) and a few
//! chunks of [`CHUNK_BYTES_MAX`] in flight.

use rayon::prelude::*;

use crate::blob_id::EncodingType;
use crate::hash::{hash_many_equal, Digest};
use crate::ids::{SliverIndex, SliverPairIndex, SliverType};
use crate::merkle::{root_of_leaf_hashes, Node};
use crate::metadata::{BlobMetadata, BlobMetadataV1, SliverPairMetadata, VerifiedBlobMetadataWithId};
use crate::params::{DataTooLargeError, EncodingParams};
use crate::rs::RsCode;
use crate::sliver::VerifiedSliver;
use crate::strip::StripLayout;

/// Target bytes of expanded symbols per chunk of work; bounds the encoder's working memory.
const CHUNK_BYTES_MAX: usize = 8 << 20;

/// A blob's sliver pairs and metadata.
#[derive(Debug, Clone)]
pub struct EncodedBlob {
    params: EncodingParams,
    symbol_size: usize,
    /// Primary slivers `0..n`, each `kS * s` bytes, back to back.
    primary: Vec<u8>,
    /// Secondary slivers `0..n`, each `kP * s` bytes, back to back.
    secondary: Vec<u8>,
    metadata: VerifiedBlobMetadataWithId,
}

impl EncodedBlob {
    /// The verified metadata (and blob ID).
    pub fn metadata(&self) -> &VerifiedBlobMetadataWithId {
        &self.metadata
    }

    /// The symbol size in bytes.
    pub fn symbol_size(&self) -> u16 {
        self.symbol_size as u16 // checked by `symbol_size()` when encoding
    }

    /// The bytes of sliver `index` on `axis`.
    pub fn sliver_bytes(&self, axis: SliverType, index: SliverIndex) -> &[u8] {
        let len = self.params.symbols_per_sliver(axis) * self.symbol_size;
        let all = match axis {
            SliverType::Primary => &self.primary,
            SliverType::Secondary => &self.secondary,
        };
        &all[index.as_usize() * len..(index.as_usize() + 1) * len]
    }

    /// Sliver pair `pair`: primary sliver `pair`, secondary sliver `n - 1 - pair`.
    pub fn sliver_pair(&self, pair: SliverPairIndex) -> (VerifiedSliver, VerifiedSliver) {
        let n = self.params.n_shards();
        let make = |axis| {
            let index = pair.to_sliver_index(axis, n);
            VerifiedSliver::new_trusted(
                axis,
                index,
                self.symbol_size(),
                self.sliver_bytes(axis, index).to_vec(),
            )
        };
        (make(SliverType::Primary), make(SliverType::Secondary))
    }
}

/// Encodes `blob` into `n` sliver pairs with metadata.
pub fn encode_blob(params: EncodingParams, blob: &[u8]) -> Result<EncodedBlob, DataTooLargeError> {
    let s = usize::from(params.symbol_size(blob.len() as u64)?);
    let (n, kp, ks) = (params.n(), params.primary_source_symbols(), params.secondary_source_symbols());
    // Primary slivers 0..kP are the padded blob rows.
    let mut primary = vec![0u8; n * ks * s];
    primary[..blob.len()].copy_from_slice(blob);
    let mut secondary = vec![0u8; n * kp * s];
    let matrix = Matrix { params, s, blob };
    for j in 0..ks {
        for r in 0..kp {
            let at = (j * kp + r) * s;
            let src = matrix.blob_symbol(r, j);
            secondary[at..at + src.len()].copy_from_slice(src);
        }
    }
    let (_, repair_columns) = secondary.split_at_mut(ks * kp * s);
    matrix.expand_rows(repair_columns);
    let leaf_hashes = matrix.expand_columns(repair_columns, Some(&mut primary));
    let metadata = matrix.metadata(&leaf_hashes);
    Ok(EncodedBlob { params, symbol_size: s, primary, secondary, metadata })
}

/// Computes the metadata (and blob ID) of `blob` without keeping the slivers.
pub fn compute_metadata(
    params: EncodingParams,
    blob: &[u8],
) -> Result<VerifiedBlobMetadataWithId, DataTooLargeError> {
    let s = usize::from(params.symbol_size(blob.len() as u64)?);
    let (n, kp, ks) = (params.n(), params.primary_source_symbols(), params.secondary_source_symbols());
    let matrix = Matrix { params, s, blob };
    let mut repair_columns = vec![0u8; (n - ks) * kp * s];
    matrix.expand_rows(&mut repair_columns);
    let leaf_hashes = matrix.expand_columns(&repair_columns, None);
    Ok(matrix.metadata(&leaf_hashes))
}

/// The blob as a message matrix, and the two expansion steps.
struct Matrix<'a> {
    params: EncodingParams,
    s: usize,
    blob: &'a [u8],
}

/// Output of one column chunk of step 2.
struct ColumnChunk {
    /// Leaf hashes, row-major over `n` rows by the chunk's columns.
    hashes: Vec<Digest>,
    /// The leaf inputs (`0x00 || symbol`), same order; kept only to copy out primary slivers.
    leaves: Option<Vec<u8>>,
}

impl<'a> Matrix<'a> {
    /// Symbol `(r, c)` of the message matrix; shorter than `s` (or empty) past the blob's end.
    fn blob_symbol(&self, r: usize, c: usize) -> &'a [u8] {
        let ks = self.params.secondary_source_symbols();
        let start = ((r * ks + c) * self.s).min(self.blob.len());
        let end = (start + self.s).min(self.blob.len());
        &self.blob[start..end]
    }

    /// Step 1: writes columns `kS..n` (rows `0..kP`) into `repair_columns`, column after column.
    fn expand_rows(&self, repair_columns: &mut [u8]) {
        let (n, kp, ks, s) = (
            self.params.n(),
            self.params.primary_source_symbols(),
            self.params.secondary_source_symbols(),
            self.s,
        );
        let code = RsCode { source: ks, total: n };
        let rows = chunk_len(kp, n * s);
        let chunks: Vec<(usize, usize)> = (0..kp).step_by(rows).map(|r0| (r0, (r0 + rows).min(kp))).collect();
        par_waves(
            chunks.len(),
            |i| {
                let (r0, r1) = chunks[i];
                let layout = StripLayout::new(r1 - r0, s);
                let len = layout.strip_len();
                let mut sources = vec![0u8; ks * len];
                for (c, strip) in sources.chunks_exact_mut(len).enumerate() {
                    layout.gather(strip, |m| self.blob_symbol(r0 + m, c));
                }
                let mut repairs = vec![0u8; (n - ks) * len];
                code.encode(len, sources.chunks_exact(len), |j, strip| {
                    repairs[j * len..(j + 1) * len].copy_from_slice(strip);
                })
                .expect("RS2 parameters are validated when EncodingParams is built");
                (layout, repairs)
            },
            |i, (layout, repairs)| {
                let r0 = chunks[i].0;
                for (j, strip) in repairs.chunks_exact(layout.strip_len()).enumerate() {
                    layout.scatter(strip, |m, offset, bytes| {
                        let at = (j * kp + r0 + m) * s + offset;
                        repair_columns[at..at + bytes.len()].copy_from_slice(bytes);
                    });
                }
            },
        );
    }

    /// Symbol `(r, c)` of the row-expanded matrix, `r < kP`, `c < n`.
    fn row_symbol<'b>(&'b self, repair_columns: &'b [u8], r: usize, c: usize) -> &'b [u8] {
        let (kp, ks) = (self.params.primary_source_symbols(), self.params.secondary_source_symbols());
        if c < ks {
            self.blob_symbol(r, c)
        } else {
            let at = ((c - ks) * kp + r) * self.s;
            &repair_columns[at..at + self.s]
        }
    }

    /// Step 2: extends every column to `n` rows, hashes every symbol of `E`, and (if given)
    /// writes primary slivers `kP..n` into `primary`. Returns the `n x n` leaf hashes,
    /// row-major.
    fn expand_columns(&self, repair_columns: &[u8], mut primary: Option<&mut Vec<u8>>) -> Vec<Digest> {
        let (n, kp, ks, s) = (
            self.params.n(),
            self.params.primary_source_symbols(),
            self.params.secondary_source_symbols(),
            self.s,
        );
        let code = RsCode { source: kp, total: n };
        let cols = chunk_len(n, n * (s + 1));
        let chunks: Vec<(usize, usize)> = (0..n).step_by(cols).map(|c0| (c0, (c0 + cols).min(n))).collect();
        let keep_leaves = primary.is_some();
        let mut leaf_hashes = vec![[0u8; 32]; n * n];
        par_waves(
            chunks.len(),
            |i| {
                let (c0, c1) = chunks[i];
                let width = c1 - c0;
                let slot = s + 1;
                let layout = StripLayout::new(width, s);
                let len = layout.strip_len();
                // Zeroed slots: the leaf prefix 0x00 and the blob padding are already in place.
                let mut leaves = vec![0u8; n * width * slot];
                let mut sources = vec![0u8; kp * len];
                for (r, strip) in sources.chunks_exact_mut(len).enumerate() {
                    layout.gather(strip, |m| self.row_symbol(repair_columns, r, c0 + m));
                    for m in 0..width {
                        let symbol = self.row_symbol(repair_columns, r, c0 + m);
                        let at = (r * width + m) * slot + 1;
                        leaves[at..at + symbol.len()].copy_from_slice(symbol);
                    }
                }
                code.encode(len, sources.chunks_exact(len), |j, strip| {
                    layout.scatter(strip, |m, offset, bytes| {
                        let at = ((kp + j) * width + m) * slot + 1 + offset;
                        leaves[at..at + bytes.len()].copy_from_slice(bytes);
                    });
                })
                .expect("RS2 parameters are validated when EncodingParams is built");
                let mut hashes = vec![[0u8; 32]; n * width];
                hash_many_equal(&leaves, slot, &mut hashes);
                ColumnChunk { hashes, leaves: keep_leaves.then_some(leaves) }
            },
            |i, chunk| {
                let (c0, c1) = chunks[i];
                let width = c1 - c0;
                for (r, row) in chunk.hashes.chunks_exact(width).enumerate() {
                    leaf_hashes[r * n + c0..r * n + c1].copy_from_slice(row);
                }
                if let (Some(primary), Some(leaves)) = (primary.as_deref_mut(), chunk.leaves) {
                    for r in kp..n {
                        for c in c0..c1.min(ks) {
                            let from = (r * width + c - c0) * (s + 1) + 1;
                            let to = (r * ks + c) * s;
                            primary[to..to + s].copy_from_slice(&leaves[from..from + s]);
                        }
                    }
                }
            },
        );
        leaf_hashes
    }

    /// The metadata from the `n x n` leaf hashes: primary roots over rows, secondary roots
    /// over columns.
    fn metadata(&self, leaf_hashes: &[Digest]) -> VerifiedBlobMetadataWithId {
        let n = self.params.n();
        let primary_roots: Vec<Digest> = leaf_hashes.par_chunks_exact(n).map(root_of_leaf_hashes).collect();
        let secondary_roots: Vec<Digest> = (0..n)
            .into_par_iter()
            .map(|c| {
                let column: Vec<Digest> = (0..n).map(|r| leaf_hashes[r * n + c]).collect();
                root_of_leaf_hashes(&column)
            })
            .collect();
        let hashes = (0..n)
            .map(|p| SliverPairMetadata {
                primary_hash: Node::Digest(primary_roots[p]),
                secondary_hash: Node::Digest(secondary_roots[n - 1 - p]),
            })
            .collect();
        let metadata = BlobMetadata::V1(BlobMetadataV1 {
            encoding_type: EncodingType::Rs2,
            unencoded_length: self.blob.len() as u64,
            hashes,
        });
        VerifiedBlobMetadataWithId::new_trusted(self.params, metadata, self.s as u16)
    }
}

/// Items per chunk of a dimension of `count` items costing `bytes_per_item` each: as many as
/// fit in [`CHUNK_BYTES_MAX`], but at least four chunks per thread when there are enough items.
fn chunk_len(count: usize, bytes_per_item: usize) -> usize {
    let by_memory = (CHUNK_BYTES_MAX / bytes_per_item.max(1)).max(1);
    let by_threads = count.div_ceil(4 * rayon::current_num_threads()).max(1);
    by_memory.min(by_threads)
}

/// Runs `produce` over `0..count` in parallel waves of one item per thread and hands each
/// result to `consume` in index order. Working memory is bounded by one wave of results.
pub(crate) fn par_waves<T: Send>(
    count: usize,
    produce: impl Fn(usize) -> T + Sync,
    mut consume: impl FnMut(usize, T),
) {
    let width = rayon::current_num_threads().max(1);
    let mut start = 0;
    while start < count {
        let end = (start + width).min(count);
        let results: Vec<T> = (start..end).into_par_iter().map(&produce).collect();
        for (i, result) in (start..end).zip(results) {
            consume(i, result);
        }
        start = end;
    }
}
