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
//! chunks of [`CHUNK_BYTES_MAX`] in flight. [`stream`] runs the same steps on chunks of a blob
//! kept elsewhere, in a memory budget.

pub mod stream;

use rayon::prelude::*;

use crate::blob_id::EncodingType;
use crate::hash::{leaf_hashes, merkle_roots, Digest, TreeLayout};
use crate::ids::{SliverIndex, SliverPairIndex, SliverType};
use crate::merkle::Node;
use crate::metadata::{BlobMetadata, BlobMetadataV1, SliverPairMetadata, VerifiedBlobMetadataWithId};
use crate::params::{DataTooLargeError, EncodingParams};
use crate::rs::RsCode;
use std::num::NonZeroU16;

use crate::sliver::{SliverRef, SliverUploadRef, VerifiedSliver};
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

    /// The upload entry of `pair`'s sliver on `axis` (primary sliver `pair`, secondary sliver
    /// `n - 1 - pair`), borrowing the encoder's buffers.
    pub fn sliver_upload(&self, pair: SliverPairIndex, axis: SliverType) -> SliverUploadRef<'_> {
        let index = pair.to_sliver_index(axis, self.params.n_shards());
        let symbol_size = NonZeroU16::new(self.symbol_size()).unwrap_or(NonZeroU16::MIN);
        SliverUploadRef {
            pair,
            axis,
            sliver: SliverRef { data: self.sliver_bytes(axis, index), symbol_size, index },
        }
    }

    /// Both slivers of `pair`, copied out of the encoder's buffers.
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
    let shape = Shape::new(params, blob.len() as u64)?;
    let Shape { n, kp, ks, s, .. } = shape;
    // Primary slivers 0..kP are the padded blob rows; secondary slivers 0..kS its columns.
    // (Copied in parallel: the first touch of fresh pages costs about as much as the copy.)
    let mut primary = vec![0u8; n * ks * s];
    primary[..kp * ks * s].par_chunks_mut(ks * s).enumerate().for_each(|(r, row)| {
        let start = (r * ks * s).min(blob.len());
        let bytes = &blob[start..(start + ks * s).min(blob.len())];
        row[..bytes.len()].copy_from_slice(bytes);
    });
    let mut secondary = vec![0u8; n * kp * s];
    let (source_columns, repair_columns) = secondary.split_at_mut(ks * kp * s);
    source_columns.par_chunks_mut(kp * s).enumerate().for_each(|(j, column)| {
        for (r, symbol) in column.chunks_exact_mut(s).enumerate() {
            let src = shape.blob_symbol(blob, r, j);
            symbol[..src.len()].copy_from_slice(src);
        }
    });
    shape.expand_rows(kp, &|r, c| shape.blob_symbol(blob, r, c), repair_columns);
    let repair_columns = &*repair_columns;
    let mut leaf_hashes = vec![[0u8; 32]; n * n];
    let repair_rows = primary[kp * ks * s..].chunks_exact_mut(ks * s).collect();
    shape.expand_columns(
        0..n,
        &|r, c| shape.row_symbol(blob, repair_columns, r, c),
        &mut leaf_hashes,
        repair_rows,
    );
    let metadata = shape.metadata(&leaf_hashes);
    Ok(EncodedBlob { params, symbol_size: s, primary, secondary, metadata })
}

/// Computes the metadata (and blob ID) of `blob` without keeping the slivers.
pub fn compute_metadata(
    params: EncodingParams,
    blob: &[u8],
) -> Result<VerifiedBlobMetadataWithId, DataTooLargeError> {
    let shape = Shape::new(params, blob.len() as u64)?;
    let Shape { n, kp, ks, s, .. } = shape;
    let mut repair_columns = vec![0u8; (n - ks) * kp * s];
    shape.expand_rows(kp, &|r, c| shape.blob_symbol(blob, r, c), &mut repair_columns);
    let mut leaf_hashes = vec![[0u8; 32]; n * n];
    let symbol = |r, c| shape.row_symbol(blob, &repair_columns, r, c);
    shape.expand_columns(0..n, &symbol, &mut leaf_hashes, Vec::new());
    Ok(shape.metadata(&leaf_hashes))
}

/// Symbol `(r, c)` of a matrix (row `r`, column `c`), borrowed from wherever it is kept. Symbols
/// past the blob's end are short or empty: the rest is zero padding.
pub(crate) type SymbolAt<'a> = dyn Fn(usize, usize) -> &'a [u8] + Sync + 'a;

/// The dimensions of a blob's expansion, and the two expansion steps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) params: EncodingParams,
    /// The blob's length in bytes.
    pub(crate) len: u64,
    pub(crate) n: usize,
    pub(crate) kp: usize,
    pub(crate) ks: usize,
    /// The symbol size in bytes.
    pub(crate) s: usize,
}

impl Shape {
    pub(crate) fn new(params: EncodingParams, len: u64) -> Result<Shape, DataTooLargeError> {
        Ok(Shape {
            params,
            len,
            n: params.n(),
            kp: params.primary_source_symbols(),
            ks: params.secondary_source_symbols(),
            s: usize::from(params.symbol_size(len)?),
        })
    }

    /// Symbol `(r, c)` of the message matrix whose rows are `blob`'s bytes back to back.
    fn blob_symbol<'a>(&self, blob: &'a [u8], r: usize, c: usize) -> &'a [u8] {
        let start = ((r * self.ks + c) * self.s).min(blob.len());
        let end = (start + self.s).min(blob.len());
        &blob[start..end]
    }

    /// Symbol `(r, c)` of the row-expanded matrix, `r < kP`, `c < n`: from the blob for
    /// `c < kS`, else from the repair columns (column after column).
    fn row_symbol<'a>(&self, blob: &'a [u8], repair_columns: &'a [u8], r: usize, c: usize) -> &'a [u8] {
        if c < self.ks {
            self.blob_symbol(blob, r, c)
        } else {
            let at = ((c - self.ks) * self.kp + r) * self.s;
            &repair_columns[at..at + self.s]
        }
    }

    /// Step 1 for `rows` rows of the message matrix (`symbol(r, c)`, `c < kS`): writes their
    /// symbols in columns `kS..n` into `repair_columns`, column after column (each `rows`
    /// symbols long).
    pub(crate) fn expand_rows(&self, rows: usize, symbol: &SymbolAt<'_>, repair_columns: &mut [u8]) {
        let Shape { n, ks, s, .. } = *self;
        let code = RsCode { source: ks, total: n };
        let chunk = chunk_len(rows, n * s);
        let starts: Vec<usize> = (0..rows).step_by(chunk).collect();
        // Each row chunk writes its rows of every repair column.
        let cuts: Vec<usize> = starts[1..].iter().map(|r| r * s).collect();
        let pieces = cut_rows(repair_columns.chunks_exact_mut(rows * s), &cuts);
        starts.into_par_iter().zip(pieces).for_each(|(r0, mut columns)| {
            let r1 = (r0 + chunk).min(rows);
            let layout = StripLayout::new(r1 - r0, s);
            let len = layout.strip_len();
            let mut sources = vec![0u8; ks * len];
            for (c, strip) in sources.chunks_exact_mut(len).enumerate() {
                layout.gather(strip, |m| symbol(r0 + m, c));
            }
            code.encode(len, sources.chunks_exact(len), |j, strip| {
                let column = &mut columns[j];
                layout.scatter(strip, |m, offset, bytes| {
                    column[m * s + offset..m * s + offset + bytes.len()].copy_from_slice(bytes);
                });
            })
            .expect("RS2 parameters are validated when EncodingParams is built");
        });
    }

    /// Step 2 for `columns` of the row-expanded matrix (`symbol(r, c)`, `r < kP`): extends each
    /// to `n` rows and hashes every symbol into `hashes`, column-major (leaf `(r, c)` at
    /// `(c - columns.start) * n + r`). If `repair_rows` is not empty, `repair_rows[j]` gets
    /// row `kP + j`'s symbols in the columns of the range below `kS` (the repair primary
    /// slivers are rows of the expansion cut to `kS` columns).
    pub(crate) fn expand_columns(
        &self,
        columns: std::ops::Range<usize>,
        symbol: &SymbolAt<'_>,
        hashes: &mut [Digest],
        repair_rows: Vec<&mut [u8]>,
    ) {
        let Shape { n, kp, ks, s, .. } = *self;
        let code = RsCode { source: kp, total: n };
        let width = columns.len();
        let cols = chunk_len(width, n * (s + 32));
        // Each column chunk writes its own leaf hashes and its part of the repair rows.
        let kept = ks.saturating_sub(columns.start).min(width);
        let cuts: Vec<usize> = (cols..kept).step_by(cols).map(|c| c * s).collect();
        let mut row_pieces =
            if repair_rows.is_empty() { Vec::new() } else { cut_rows(repair_rows.into_iter(), &cuts) };
        row_pieces.resize_with(width.div_ceil(cols), Vec::new);
        let chunks: Vec<_> = hashes.chunks_mut(cols * n).enumerate().zip(row_pieces).collect();
        chunks.into_par_iter().for_each(|((i, hashes), mut rows)| {
            let c0 = columns.start + i * cols;
            let width = hashes.len() / n;
            let layout = StripLayout::new(width, s);
            let len = layout.strip_len();
            // The chunk's columns of E, each `n` symbols, column after column; zeroed, so the
            // blob's padding is already in place.
            let mut symbols = vec![0u8; width * n * s];
            let mut sources = vec![0u8; kp * len];
            for (r, strip) in sources.chunks_exact_mut(len).enumerate() {
                layout.gather(strip, |m| symbol(r, c0 + m));
                for m in 0..width {
                    let symbol = symbol(r, c0 + m);
                    let at = (m * n + r) * s;
                    symbols[at..at + symbol.len()].copy_from_slice(symbol);
                }
            }
            code.encode(len, sources.chunks_exact(len), |j, strip| {
                layout.scatter(strip, |m, offset, bytes| {
                    let at = (m * n + kp + j) * s + offset;
                    symbols[at..at + bytes.len()].copy_from_slice(bytes);
                });
                if let Some(row) = rows.get_mut(j) {
                    let kept = row.len();
                    layout.scatter(strip, |m, offset, bytes| {
                        if m * s < kept {
                            row[m * s + offset..m * s + offset + bytes.len()].copy_from_slice(bytes);
                        }
                    });
                }
            })
            .expect("RS2 parameters are validated when EncodingParams is built");
            leaf_hashes(&symbols, s, hashes);
        });
    }

    /// The metadata from the `n x n` leaf hashes (column-major): primary roots over rows,
    /// secondary roots over columns.
    pub(crate) fn metadata(&self, leaf_hashes: &[Digest]) -> VerifiedBlobMetadataWithId {
        let n = self.n;
        let roots = |layout: fn(usize) -> TreeLayout, first_leaf: fn(usize, usize) -> usize| {
            let mut roots = vec![[0u8; 32]; n];
            let per_task = n.div_ceil(8 * rayon::current_num_threads()).next_multiple_of(8);
            roots.par_chunks_mut(per_task).enumerate().for_each(|(i, out)| {
                let first = first_leaf(i * per_task, n);
                merkle_roots(&leaf_hashes[first..], TreeLayout { trees: out.len(), ..layout(n) }, out);
            });
            roots
        };
        // Primary trees are the rows of the (column-major) leaf-hash matrix, secondary trees
        // its columns.
        let primary_roots =
            roots(|n| TreeLayout { trees: 0, leaves: n, tree_stride: 1, leaf_stride: n }, |row, _| row);
        let secondary_roots = roots(
            |n| TreeLayout { trees: 0, leaves: n, tree_stride: n, leaf_stride: 1 },
            |column, n| column * n,
        );
        let hashes = (0..n)
            .map(|p| SliverPairMetadata {
                primary_hash: Node::Digest(primary_roots[p]),
                secondary_hash: Node::Digest(secondary_roots[n - 1 - p]),
            })
            .collect();
        let metadata = BlobMetadata::V1(BlobMetadataV1 {
            encoding_type: EncodingType::Rs2,
            unencoded_length: self.len,
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

/// Cuts every row at the byte offsets `cuts` (ascending, each within the row) and groups the
/// pieces by position: `result[i]` holds piece `i` of every row, in row order. This hands
/// each parallel task its own columns of a row-major matrix.
fn cut_rows<'a>(rows: impl Iterator<Item = &'a mut [u8]>, cuts: &[usize]) -> Vec<Vec<&'a mut [u8]>> {
    let mut groups: Vec<Vec<&'a mut [u8]>> = (0..=cuts.len()).map(|_| Vec::new()).collect();
    for row in rows {
        let mut rest = row;
        let mut done = 0;
        for (group, &cut) in groups.iter_mut().zip(cuts) {
            let (piece, tail) = rest.split_at_mut(cut - done);
            group.push(piece);
            rest = tail;
            done = cut;
        }
        groups[cuts.len()].push(rest);
    }
    groups
}

/// Runs `produce` over `items` in parallel waves of one item per thread and hands each result
/// to `consume` in order. Working memory is bounded by one wave of results.
pub(crate) fn par_waves<I: Send, T: Send>(
    items: Vec<I>,
    produce: impl Fn(I) -> T + Sync,
    mut consume: impl FnMut(T),
) {
    let width = rayon::current_num_threads().max(1);
    let mut items = items.into_iter();
    loop {
        let wave: Vec<I> = items.by_ref().take(width).collect();
        if wave.is_empty() {
            return;
        }
        let results: Vec<T> = wave.into_par_iter().map(&produce).collect();
        results.into_iter().for_each(&mut consume);
    }
}
