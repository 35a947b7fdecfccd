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
//! `2n` roots form the metadata. A column's tree is whole within its chunk; the rows' trees
//! take their leaves a chunk at a time (`frontier`), so neither `E`'s bottom-right quadrant
//! nor its `n^2` leaf hashes are ever kept.
//!
//! Memory: the outputs (about 4.5 times the blob) and a chunk of about [`CHUNK_BYTES_MAX`]
//! per thread. [`stream`] runs the same steps on chunks of a blob
//! kept elsewhere, in a memory budget.

pub mod stream;

use rayon::prelude::*;

use crate::blob_id::EncodingType;
use crate::frontier::{aligned_runs, Frontiers};
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
const CHUNK_BYTES_MAX: usize = 2 << 20;

/// Columns whose row subtrees a column task builds at least (a power of two): below that, the
/// row trees' frontiers would hash most of their nodes pair by pair rather than lane-major.
const TREE_RUN_MIN: usize = 16;

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
    let mut roots = Roots::new(n);
    let repair_rows = primary[kp * ks * s..].chunks_exact_mut(ks * s).collect();
    shape.expand_columns(0..n, &|r, c| shape.row_symbol(blob, repair_columns, r, c), &mut roots, repair_rows);
    let metadata = shape.metadata(roots);
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
    let mut roots = Roots::new(n);
    let symbol = |r, c| shape.row_symbol(blob, &repair_columns, r, c);
    shape.expand_columns(0..n, &symbol, &mut roots, Vec::new());
    Ok(shape.metadata(roots))
}

/// The Merkle roots the column step builds: each column's (secondary sliver) root once its
/// column is expanded, and the frontiers of the rows' (primary sliver) trees.
pub(crate) struct Roots {
    secondary: Vec<Digest>,
    primary: Frontiers,
}

impl Roots {
    pub(crate) fn new(n: usize) -> Roots {
        Roots { secondary: vec![[0; 32]; n], primary: Frontiers::new(n, n) }
    }
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

    /// Step 2 for `columns` of the row-expanded matrix (`symbol(r, c)`, `r < kP`), which come
    /// after those of earlier calls: extends each to `n` rows, hashes every symbol as a Merkle
    /// leaf, and adds the leaves to `roots`. If `repair_rows` is not empty, `repair_rows[j]`
    /// gets row `kP + j`'s symbols in the columns of the range below `kS` (the repair primary
    /// slivers are rows of the expansion cut to `kS` columns).
    ///
    /// Tasks of columns are expanded in parallel, each in pieces that bound its memory. Each
    /// hashes its leaves, builds its columns' trees, and its rows' subtrees over its aligned
    /// runs of columns ([`aligned_runs`]); those go into the row trees' frontiers in column
    /// order. The tasks' width is a power of two and their starts are aligned to it, so that
    /// most tasks are one run.
    pub(crate) fn expand_columns(
        &self,
        columns: std::ops::Range<usize>,
        symbol: &SymbolAt<'_>,
        roots: &mut Roots,
        repair_rows: Vec<&mut [u8]>,
    ) {
        let Shape { n, ks, s, .. } = *self;
        // Pieces of `cols` columns bound the memory; a task takes at least `TREE_RUN_MIN` of
        // them, so that its row subtrees are not too shallow.
        let cols = 1 << chunk_len(columns.len(), n * (s + 32)).ilog2();
        // (But narrower when a range is too narrow to give every thread a task.)
        let narrow = (columns.len() / rayon::current_num_threads().max(1)).max(1);
        let task = cols.max(TREE_RUN_MIN.min(1 << narrow.ilog2()));
        // Task starts: the range's start, then the multiples of `task` after it.
        let starts: Vec<usize> = std::iter::once(columns.start)
            .chain((columns.start / task + 1..).map(|i| i * task).take_while(|&c| c < columns.end))
            .collect();
        // Each column chunk writes its own part of the repair rows.
        let kept_end = ks.clamp(columns.start, columns.end);
        let cuts: Vec<usize> =
            starts[1..].iter().filter(|&&c| c < kept_end).map(|c| (c - columns.start) * s).collect();
        let mut row_pieces =
            if repair_rows.is_empty() { Vec::new() } else { cut_rows(repair_rows.into_iter(), &cuts) };
        row_pieces.resize_with(starts.len(), Vec::new);
        let ends = starts[1..].iter().copied().chain([columns.end]);
        let chunks: Vec<(usize, usize, Vec<&mut [u8]>)> =
            starts.iter().zip(ends).zip(row_pieces).map(|((&c0, c1), rows)| (c0, c1, rows)).collect();
        let expand = |(c0, c1, mut rows): (usize, usize, Vec<&mut [u8]>)| {
            let width = c1 - c0;
            let mut hashes = vec![[0u8; 32]; width * n];
            // In pieces of at most `cols` columns (the memory bound).
            for (offset, piece) in hashes.chunks_mut(cols * n).enumerate() {
                let first = offset * cols;
                self.expand_piece(c0 + first, piece.len() / n, symbol, &mut rows, first, piece);
            }
            let mut column_roots = vec![[0u8; 32]; width];
            let layout = TreeLayout { trees: width, leaves: n, tree_stride: n, leaf_stride: 1 };
            merkle_roots(&hashes, layout, &mut column_roots);
            let row_subtrees: Vec<(usize, Vec<Digest>)> = aligned_runs(c0, width)
                .into_iter()
                .map(|(offset, run)| {
                    let mut nodes = vec![[0u8; 32]; n];
                    let layout = TreeLayout { trees: n, leaves: run, tree_stride: 1, leaf_stride: n };
                    merkle_roots(&hashes[offset * n..], layout, &mut nodes);
                    (run, nodes)
                })
                .collect();
            (c0, column_roots, row_subtrees)
        };
        let expanded: Vec<_> = chunks.into_par_iter().map(expand).collect();
        for (c0, column_roots, row_subtrees) in expanded {
            roots.secondary[c0..c0 + column_roots.len()].copy_from_slice(&column_roots);
            for (run, nodes) in row_subtrees {
                roots.primary.push(run, nodes);
            }
        }
    }

    /// Extends columns `c0..c0 + width` to `n` rows, writes their symbols in the repair rows
    /// (`rows[j]` is row `kP + j` in the task's columns below `kS`; this piece starts there at
    /// column `first`), and hashes every symbol into `hashes`, column-major.
    fn expand_piece(
        &self,
        c0: usize,
        width: usize,
        symbol: &SymbolAt<'_>,
        rows: &mut [&mut [u8]],
        first: usize,
        hashes: &mut [Digest],
    ) {
        let Shape { n, kp, s, .. } = *self;
        let layout = StripLayout::new(width, s);
        let len = layout.strip_len();
        // The piece's columns of E, each `n` symbols, column after column; zeroed, so the
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
        RsCode { source: kp, total: n }
            .encode(len, sources.chunks_exact(len), |j, strip| {
                layout.scatter(strip, |m, offset, bytes| {
                    let at = (m * n + kp + j) * s + offset;
                    symbols[at..at + bytes.len()].copy_from_slice(bytes);
                });
                if let Some(row) = rows.get_mut(j) {
                    let kept = row.len();
                    layout.scatter(strip, |m, offset, bytes| {
                        let at = (first + m) * s;
                        if at < kept {
                            row[at + offset..at + offset + bytes.len()].copy_from_slice(bytes);
                        }
                    });
                }
            })
            .expect("RS2 parameters are validated when EncodingParams is built");
        drop(sources);
        leaf_hashes(&symbols, s, hashes);
    }

    /// The metadata from the roots of every column's and every row's tree (after the column
    /// step has seen all `n` columns).
    pub(crate) fn metadata(&self, roots: Roots) -> VerifiedBlobMetadataWithId {
        let n = self.n;
        let secondary_roots = roots.secondary;
        let primary_roots = roots.primary.roots();
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
