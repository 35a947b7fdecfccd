//! Decoding a blob from `n - 2f` verified primary slivers.
//!
//! The slivers are rows of the expanded matrix. Rows `0..kP` are the padded blob itself, so
//! when all of them are present decoding is a copy. Otherwise every column is decoded with the
//! primary code, many columns per library call (see `strip`), in chunks over both cores.
//!
//! Consistency checks, as in the reference: *Default* re-hashes the systematic rows that were
//! not received and compares them with the metadata; *Strict* re-encodes the blob and compares
//! the blob ID. A failed check means the writer encoded inconsistently: the blob is invalid and
//! no bytes are returned.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::encode::{compute_metadata, par_waves};
use crate::expand::sliver_roots;
use crate::ids::{SliverIndex, SliverType};
use crate::metadata::VerifiedBlobMetadataWithId;
use crate::rs::{RsCode, RsError};
use crate::sliver::VerifiedSliver;
use crate::strip::StripLayout;

/// Target bytes of slivers handled per decoding chunk.
const CHUNK_BYTES_MAX: usize = 8 << 20;

/// How much to check a decoded blob against its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsistencyCheck {
    /// No check beyond the verification of each sliver.
    Skip,
    /// Re-hash the systematic primary slivers that were not received (the reference's default).
    #[default]
    Default,
    /// Re-encode the whole blob and compare the blob ID.
    Strict,
}

/// Why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer distinct primary slivers than needed.
    #[error("{have} distinct primary slivers given, {need} needed to decode")]
    NotEnoughSlivers {
        /// Distinct primary slivers received.
        have: usize,
        /// Slivers needed (`n - 2f`).
        need: usize,
    },
    /// The decoded blob does not match its metadata: the blob was encoded inconsistently.
    #[error("the blob is inconsistently encoded (its slivers do not match its blob ID)")]
    InconsistentBlob,
    /// The Reed-Solomon library refused the input.
    #[error(transparent)]
    Codec(#[from] RsError),
    /// A byte range reaches past the end of the blob.
    #[error("bytes {start}..{end} are outside the blob's {length} bytes")]
    RangeOutsideBlob {
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The blob's length.
        length: u64,
    },
}

/// The systematic primary slivers (rows of the padded blob) that hold bytes `range` of the
/// blob of `metadata`: sliver indices `rows.start..rows.end`, empty for an empty range.
pub fn rows_for_range(metadata: &VerifiedBlobMetadataWithId, range: &Range<u64>) -> Range<usize> {
    let params = metadata.params();
    let row_len = (params.secondary_source_symbols() * usize::from(metadata.symbol_size())) as u64;
    if range.is_empty() || row_len == 0 {
        return 0..0;
    }
    let first = range.start / row_len;
    let end = range.end.div_ceil(row_len).min(params.primary_source_symbols() as u64);
    first as usize..end.max(first) as usize
}

/// Bytes `range` of the blob of `metadata`, copied from its verified systematic primary slivers
/// [`rows_for_range`] (other slivers are ignored). Each sliver was verified against the
/// metadata, so the bytes are the blob's; no further consistency check applies to a range.
pub fn decode_range(
    metadata: &VerifiedBlobMetadataWithId,
    slivers: impl IntoIterator<Item = VerifiedSliver>,
    range: Range<u64>,
) -> Result<Vec<u8>, DecodeError> {
    let length = metadata.unencoded_length();
    if range.start > range.end || range.end > length {
        return Err(DecodeError::RangeOutsideBlob { start: range.start, end: range.end, length });
    }
    let rows = rows_for_range(metadata, &range);
    let row_len = metadata.params().secondary_source_symbols() * usize::from(metadata.symbol_size());
    let mut chosen: BTreeMap<usize, VerifiedSliver> = BTreeMap::new();
    for sliver in slivers {
        let index = sliver.index().as_usize();
        if sliver.axis() == SliverType::Primary && rows.contains(&index) && sliver.data().len() == row_len {
            chosen.entry(index).or_insert(sliver);
        }
    }
    if chosen.len() < rows.len() {
        return Err(DecodeError::NotEnoughSlivers { have: chosen.len(), need: rows.len() });
    }
    let mut out = Vec::with_capacity((range.end - range.start) as usize);
    for (index, sliver) in chosen {
        let row_start = index as u64 * row_len as u64;
        let from = range.start.max(row_start) - row_start;
        let to = range.end.min(row_start + row_len as u64) - row_start;
        out.extend_from_slice(&sliver.data()[from as usize..to as usize]);
    }
    debug_assert_eq!(out.len() as u64, range.end - range.start);
    Ok(out)
}

/// Decodes the blob of `metadata` from verified primary slivers (secondary slivers and
/// duplicates are ignored; any `n - 2f` distinct primary slivers suffice).
pub fn decode_blob(
    metadata: &VerifiedBlobMetadataWithId,
    slivers: impl IntoIterator<Item = VerifiedSliver>,
    check: ConsistencyCheck,
) -> Result<Vec<u8>, DecodeError> {
    let params = metadata.params();
    let (n, kp, ks) = (params.n(), params.primary_source_symbols(), params.secondary_source_symbols());
    let s = usize::from(metadata.symbol_size());
    let row_len = ks * s;
    let mut chosen: BTreeMap<SliverIndex, VerifiedSliver> = BTreeMap::new();
    for sliver in slivers {
        if chosen.len() == kp {
            break;
        }
        if sliver.axis() == SliverType::Primary && sliver.data().len() == row_len {
            chosen.entry(sliver.index()).or_insert(sliver);
        }
    }
    if chosen.len() < kp {
        return Err(DecodeError::NotEnoughSlivers { have: chosen.len(), need: kp });
    }
    let mut blob = vec![0u8; kp * row_len];
    for (index, sliver) in chosen.range(..SliverIndex(kp as u16)) {
        blob[index.as_usize() * row_len..(index.as_usize() + 1) * row_len].copy_from_slice(sliver.data());
    }
    let missing: Vec<usize> = (0..kp).filter(|&i| !chosen.contains_key(&SliverIndex(i as u16))).collect();
    if !missing.is_empty() {
        decode_missing_rows(RsCode { source: kp, total: n }, s, ks, &chosen, &mut blob)?;
    }
    let length = usize::try_from(metadata.unencoded_length()).map_err(|_| DecodeError::InconsistentBlob)?;
    match check {
        ConsistencyCheck::Skip => {}
        ConsistencyCheck::Default => {
            blob[length..].fill(0);
            let rows: Vec<&[u8]> = missing.iter().map(|&i| &blob[i * row_len..(i + 1) * row_len]).collect();
            let roots = sliver_roots(params, SliverType::Primary, metadata.symbol_size(), &rows)?;
            for (&i, root) in missing.iter().zip(roots) {
                if root != metadata.sliver_hash(SliverType::Primary, SliverIndex(i as u16)) {
                    return Err(DecodeError::InconsistentBlob);
                }
            }
        }
        ConsistencyCheck::Strict => {
            let recomputed =
                compute_metadata(params, &blob[..length]).map_err(|_| DecodeError::InconsistentBlob)?;
            if recomputed.blob_id() != metadata.blob_id() {
                return Err(DecodeError::InconsistentBlob);
            }
        }
    }
    blob.truncate(length);
    Ok(blob)
}

/// A chunk's first column, layout and restored rows `(row index, strip)`.
type RestoredChunk = (usize, StripLayout, Vec<(usize, Vec<u8>)>);

/// Fills the rows of `blob` whose slivers were not given, column chunk by column chunk.
fn decode_missing_rows(
    code: RsCode,
    s: usize,
    ks: usize,
    chosen: &BTreeMap<SliverIndex, VerifiedSliver>,
    blob: &mut [u8],
) -> Result<(), DecodeError> {
    let width_max = (CHUNK_BYTES_MAX / (code.total * s)).max(1);
    let width = width_max.min(ks.div_ceil(4 * rayon::current_num_threads()).max(1));
    let chunks: Vec<(usize, usize)> = (0..ks).step_by(width).map(|c0| (c0, (c0 + width).min(ks))).collect();
    let mut result = Ok(());
    par_waves(
        chunks,
        |(c0, c1)| -> Result<RestoredChunk, RsError> {
            let layout = StripLayout::new(c1 - c0, s);
            let len = layout.strip_len();
            let strips: Vec<(usize, Vec<u8>)> = chosen
                .iter()
                .map(|(index, sliver)| {
                    let mut strip = vec![0u8; len];
                    layout.gather(&mut strip, |m| &sliver.data()[(c0 + m) * s..(c0 + m + 1) * s]);
                    (index.as_usize(), strip)
                })
                .collect();
            let mut restored = Vec::new();
            code.decode_missing(
                len,
                strips.iter().map(|(i, strip)| (*i, strip.as_slice())),
                |row, strip| {
                    restored.push((row, strip.to_vec()));
                },
            )?;
            Ok((c0, layout, restored))
        },
        |produced| match produced {
            Ok((c0, layout, restored)) => {
                for (row, strip) in restored {
                    layout.scatter(&strip, |m, offset, bytes| {
                        let at = (row * ks + c0 + m) * s + offset;
                        blob[at..at + bytes.len()].copy_from_slice(bytes);
                    });
                }
            }
            Err(e) => result = Err(e),
        },
    );
    result.map_err(DecodeError::from)
}
