//! Encoding a blob that is never held whole, in a memory budget.
//!
//! The in-memory encoder ([`super::encode_blob`]) keeps the blob and every sliver: about 5.5
//! times the blob. This one keeps a chunk of rows or columns and the Merkle trees' frontiers,
//! and works in two passes over the blob, which the caller keeps (a file):
//! 1. **rows**: chunks of rows (primary source slivers) are read and extended to `n` columns;
//!    the new columns, the repair secondary slivers `kS..n` (about half the blob), go to the
//!    [`Scratch::Columns`] area;
//! 2. **columns**: chunks of columns of the row-expanded matrix are gathered (a strided read of
//!    the blob and a contiguous one of the repair columns), extended to `n` rows and hashed;
//!    rows `kP..n` of them, the repair primary slivers (about twice the blob), go to the
//!    [`Scratch::Rows`] area when the slivers are wanted.
//!
//! The trees' roots then give the metadata, exactly as in memory: the blob ID and every sliver
//! are byte-identical to [`super::encode_blob`]'s. Afterwards [`StreamLayout::read_sliver`]
//! reads any sliver back: source slivers from the blob, repair slivers from the scratch areas.
//!
//! This crate does no I/O: the caller supplies the reads and writes ([`EncodeIo`]).

use crate::ids::{SliverIndex, SliverType};
use crate::metadata::VerifiedBlobMetadataWithId;
use crate::params::{DataTooLargeError, EncodingParams};

use super::{Roots, Shape, CHUNK_BYTES_MAX};

/// The smallest memory budget accepted: a little more than the working memory of the smallest
/// blob.
pub const BUDGET_MIN: usize = 32 << 20;

/// The two scratch areas of a streaming encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scratch {
    /// The repair secondary slivers `kS..n`, each `kP * s` bytes, back to back.
    Columns,
    /// The repair primary slivers `kP..n`, each `kS * s` bytes, back to back.
    Rows,
}

/// Where a streaming encoding reads the blob and keeps its scratch areas. Every call covers a
/// range inside the blob or the area ([`StreamLayout::scratch_len`]).
pub trait EncodeIo: Sync {
    /// What a read or write may fail with.
    type Error: Send;

    /// Fills `buf` with the blob's bytes from `offset`.
    fn read_blob(&self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;

    /// Fills `buf` with the bytes of `area` from `offset`, as written before.
    fn read_scratch(&self, area: Scratch, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;

    /// Writes `data` into `area` at `offset`.
    fn write_scratch(&self, area: Scratch, offset: u64, data: &[u8]) -> Result<(), Self::Error>;
}

/// Why a streaming encoding cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The blob is larger than the parameters encode.
    #[error(transparent)]
    TooLarge(#[from] DataTooLargeError),
    /// The budget does not cover the encoder's fixed memory and one row and one column.
    #[error(
        "a memory budget of {budget} bytes is too small to encode this blob; it needs at least {needed}"
    )]
    BudgetTooSmall {
        /// The budget asked for.
        budget: usize,
        /// The least that works.
        needed: usize,
    },
}

/// The plan of a streaming encoding of one blob: its shape and how many rows and columns each
/// pass holds at once.
#[derive(Debug, Clone, Copy)]
pub struct StreamLayout {
    shape: Shape,
    /// Rows (of the message matrix) or columns (of the expansion) per chunk.
    lines: usize,
}

/// Bytes of memory the tasks hold beside the chunk's lines: per thread, a piece of symbols (at
/// most [`CHUNK_BYTES_MAX`], or one line) and about as much again in strips, the RS library's
/// work buffer (the codeword rounded up to a power of two) and leaf hashes.
fn working_bytes(shape: &Shape, threads: usize) -> usize {
    let piece = CHUNK_BYTES_MAX.max(shape.n * (shape.s + 32));
    threads * (piece * 5 / 2)
}

/// Bytes of memory per line of a chunk, in either pass: the line and what it expands to.
fn line_bytes(shape: &Shape) -> usize {
    shape.n * shape.s
}

impl StreamLayout {
    /// Plans the encoding of a blob of `len` bytes in `budget` bytes of memory, given the number
    /// of threads that work at once.
    pub fn new(params: EncodingParams, len: u64, budget: usize, threads: usize) -> Result<Self, PlanError> {
        let shape = Shape::new(params, len)?;
        // The trees' frontiers (and the column roots): under a MiB at n = 1000.
        let roots = 32 * shape.n * (2 + (shape.n.max(2) - 1).ilog2() as usize);
        let fixed = roots + working_bytes(&shape, threads.max(1));
        let needed = fixed + line_bytes(&shape);
        if budget < needed.max(BUDGET_MIN) {
            return Err(PlanError::BudgetTooSmall { budget, needed: needed.max(BUDGET_MIN) });
        }
        let lines = ((budget - fixed) / line_bytes(&shape)).clamp(1, shape.n);
        Ok(StreamLayout { shape, lines })
    }

    /// This plan with at most `lines` rows or columns per chunk (at least one): smaller chunks
    /// than the budget allows, for tests and measurements.
    pub fn with_lines(self, lines: usize) -> Self {
        StreamLayout { lines: lines.clamp(1, self.lines), ..self }
    }

    /// The symbol size in bytes.
    pub fn symbol_size(&self) -> usize {
        self.shape.s
    }

    /// Rows or columns per chunk.
    pub fn lines_per_chunk(&self) -> usize {
        self.lines
    }

    /// The length in bytes of a scratch area.
    pub fn scratch_len(&self, area: Scratch) -> u64 {
        let Shape { n, kp, ks, s, .. } = self.shape;
        match area {
            Scratch::Columns => ((n - ks) * kp * s) as u64,
            Scratch::Rows => ((n - kp) * ks * s) as u64,
        }
    }

    /// Encodes the blob: both passes, then the metadata. Without `slivers`, the repair rows are
    /// not written (for the blob ID alone).
    pub fn encode<I: EncodeIo>(&self, io: &I, slivers: bool) -> Result<VerifiedBlobMetadataWithId, I::Error> {
        self.expand_rows(io)?;
        let roots = self.expand_columns(io, slivers)?;
        Ok(self.shape.metadata(roots))
    }

    /// Pass 1: chunks of rows, extended; their repair columns to [`Scratch::Columns`].
    fn expand_rows<I: EncodeIo>(&self, io: &I) -> Result<(), I::Error> {
        let shape = &self.shape;
        let Shape { n, kp, ks, s, .. } = *shape;
        let mut rows_buf = Vec::new();
        let mut repair = Vec::new();
        for r0 in (0..kp).step_by(self.lines) {
            let rows = self.lines.min(kp - r0);
            rows_buf.resize(rows * ks * s, 0);
            self.read_blob_padded(io, (r0 * ks * s) as u64, &mut rows_buf)?;
            repair.resize((n - ks) * rows * s, 0);
            let rows_buf = &rows_buf;
            shape.expand_rows(rows, &|r, c| shape.blob_symbol(rows_buf, r, c), &mut repair);
            for (j, column) in repair.chunks_exact(rows * s).enumerate() {
                io.write_scratch(Scratch::Columns, ((j * kp + r0) * s) as u64, column)?;
            }
        }
        Ok(())
    }

    /// Pass 2: chunks of columns of the row-expanded matrix, extended and hashed; their repair
    /// rows to [`Scratch::Rows`] if `slivers`. Returns the trees' roots.
    fn expand_columns<I: EncodeIo>(&self, io: &I, slivers: bool) -> Result<Roots, I::Error> {
        let shape = &self.shape;
        let Shape { n, kp, ks, s, .. } = *shape;
        let mut roots = Roots::new(n);
        // One slab buffer for the chunk's columns (each `kP` symbols), and one for its part of
        // the repair rows (source columns only; dropped once past them).
        let (mut slab, mut rows) = (Vec::new(), Vec::new());
        for c0 in (0..n).step_by(self.lines) {
            let c1 = (c0 + self.lines).min(n);
            // Columns c0..c1 below kS come from the blob, row by row (row-major here); those
            // from kS on from the repair columns, which are contiguous.
            let (sources, repairs) = (ks.clamp(c0, c1) - c0, c1 - ks.clamp(c0, c1));
            slab.resize(kp * (c1 - c0) * s, 0);
            let (source, repair) = slab.split_at_mut(kp * sources * s);
            if sources > 0 {
                for (r, part) in source.chunks_exact_mut(sources * s).enumerate() {
                    self.read_blob_padded(io, ((r * ks + c0) * s) as u64, part)?;
                }
            }
            if repairs > 0 {
                let first = ks.max(c0) - ks;
                io.read_scratch(Scratch::Columns, (first * kp * s) as u64, repair)?;
            }
            let (source, repair) = (&*source, &*repair);
            if sources == 0 {
                rows = Vec::new();
            }
            let symbol: &super::SymbolAt<'_> = &|r, c| {
                let m = c - c0;
                if m < sources {
                    &source[(r * sources + m) * s..][..s]
                } else {
                    &repair[((m - sources) * kp + r) * s..][..s]
                }
            };
            let keep_rows = slivers && sources > 0;
            let row_parts = if keep_rows {
                rows.resize((n - kp) * sources * s, 0);
                rows.chunks_exact_mut(sources * s).collect()
            } else {
                Vec::new()
            };
            shape.expand_columns(c0..c1, symbol, &mut roots, row_parts);
            if keep_rows {
                for (j, part) in rows.chunks_exact(sources * s).enumerate() {
                    io.write_scratch(Scratch::Rows, ((j * ks + c0) * s) as u64, part)?;
                }
            }
        }
        Ok(roots)
    }

    /// Fills `buf` from the blob at `offset`, with zeros past its end.
    fn read_blob_padded<I: EncodeIo>(&self, io: &I, offset: u64, buf: &mut [u8]) -> Result<(), I::Error> {
        let available = self.shape.len.saturating_sub(offset).min(buf.len() as u64) as usize;
        let (data, padding) = buf.split_at_mut(available);
        if !data.is_empty() {
            io.read_blob(offset, data)?;
        }
        padding.fill(0);
        Ok(())
    }

    /// The bytes of sliver `index` on `axis`, after [`StreamLayout::encode`] with slivers:
    /// source slivers from the blob (a secondary one is a strided read, one symbol per row),
    /// repair slivers from the scratch areas.
    pub fn read_sliver<I: EncodeIo>(
        &self,
        io: &I,
        axis: SliverType,
        index: SliverIndex,
    ) -> Result<Vec<u8>, I::Error> {
        let Shape { kp, ks, s, .. } = self.shape;
        let i = index.as_usize();
        let mut out = vec![0u8; self.shape.params.symbols_per_sliver(axis) * s];
        match axis {
            SliverType::Primary if i < kp => self.read_blob_padded(io, (i * ks * s) as u64, &mut out)?,
            SliverType::Primary => io.read_scratch(Scratch::Rows, ((i - kp) * ks * s) as u64, &mut out)?,
            SliverType::Secondary if i < ks => {
                for (r, symbol) in out.chunks_exact_mut(s).enumerate() {
                    self.read_blob_padded(io, ((r * ks + i) * s) as u64, symbol)?;
                }
            }
            SliverType::Secondary => {
                io.read_scratch(Scratch::Columns, ((i - ks) * kp * s) as u64, &mut out)?;
            }
        }
        Ok(out)
    }
}

/// About how many bytes [`super::encode_blob`] holds at its peak for a blob of `len` bytes,
/// the blob included: the blob, both sliver sets and the chunks in flight.
pub fn in_memory_bytes(params: EncodingParams, len: u64, threads: usize) -> Result<u64, DataTooLargeError> {
    let shape = Shape::new(params, len)?;
    let Shape { n, kp, ks, s, .. } = shape;
    let slivers = (n * (kp + ks) * s) as u64;
    Ok(len + slivers + working_bytes(&shape, threads.max(1)) as u64)
}
