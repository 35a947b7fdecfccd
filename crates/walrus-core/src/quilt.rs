//! Quilts (the reference's QuiltV1): many small files ("patches") in one blob, each readable
//! alone from the secondary slivers that hold it.
//!
//! The blob is the RS2 message matrix of `n - 2f` rows by `n - f` columns of `s`-byte symbols,
//! row-major; column `j` is secondary sliver `j`. Column 0 on holds the index (version `0x01`,
//! its BCS length as a `u32` LE, then BCS [`QuiltIndexV1`]); each patch follows in whole columns
//! of its own, in identifier order: a 6-byte header (version, the `u32` LE length of what
//! follows, a mask whose bit 0 says "tags follow"), the `u16` LE length of the BCS identifier and
//! the identifier, the `u16` LE length of the BCS tags and the tags if any, then the data. A
//! patch written "from column `c`" fills column `c` top to bottom, then `c + 1`, and so on. The
//! symbol size is the smallest that fits every item in whole columns (the index in at most 10),
//! rounded up to even, and the blob is always the whole `(n - 2f)(n - f)s` bytes.
//!
//! A [`QuiltPatchId`] names a patch by the quilt's blob ID and its column range.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::ids::ParseIdError;
use crate::{BlobId, EncodingParams};

/// The quilt format's version byte (QuiltV1).
pub const QUILT_VERSION_V1: u8 = 1;
/// Bytes before the index: the version and the index's `u32` length.
pub const INDEX_PREFIX_BYTES: usize = 5;
/// Bytes of a patch's header: the version, the `u32` length of what follows, the mask.
pub const PATCH_HEADER_BYTES: usize = 6;
/// Most columns the index may span.
pub const INDEX_COLUMNS_MAX: usize = 10;
/// Largest symbol size of a quilt (the RS2 maximum).
pub const SYMBOL_SIZE_MAX: u64 = 65_534;
/// The header mask bit saying that tags follow the identifier.
const TAGS_ENABLED: u8 = 1;

/// A patch's tags (BCS orders the entries by their encoded keys, as the reference does).
pub type Tags = BTreeMap<String, String>;

/// Why a quilt cannot be made or read. Messages follow the reference's `QuiltError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuiltError {
    /// An identifier breaks the rules.
    #[error("invalid identifier: {0}")]
    InvalidIdentifier(String),
    /// Two patches have one identifier.
    #[error("duplicate identifier found: {0}")]
    DuplicateIdentifier(String),
    /// More patches than columns after the index.
    #[error("too many blobs to fit in the quilt: {got} > max number of blobs: {max}")]
    TooManyPatches {
        /// Patches given.
        got: usize,
        /// The most there may be (`n - f - 1`).
        max: usize,
    },
    /// The patches need a symbol size above the maximum.
    #[error(
        "the quilt is too large: the resulting symbol size {symbol_size} is larger than the maximum \
         symbol size {SYMBOL_SIZE_MAX}; remove some blobs"
    )]
    TooLarge {
        /// The symbol size they need.
        symbol_size: u64,
    },
    /// A patch's tags take more than 65 535 bytes.
    #[error("the tags of {identifier} take {bytes} bytes encoded, more than 65535")]
    TagsTooLarge {
        /// The patch.
        identifier: String,
        /// Their BCS size.
        bytes: usize,
    },
    /// A patch (header, identifier, tags and data) is larger than 4 GiB.
    #[error("the patch {identifier} is larger than 4 GiB")]
    PatchTooLarge {
        /// The patch.
        identifier: String,
    },
    /// A quilt blob's length is not a whole matrix.
    #[error("the blob is not aligned with the quilt: quilt_blob length {len} is not a multiple of n_source_symbols {symbols}")]
    NotAligned {
        /// The blob's length.
        len: usize,
        /// `(n - 2f)(n - f)`.
        symbols: usize,
    },
    /// The version byte is not QuiltV1's.
    #[error("the quilt version does not match the expected version: {0}, expected: 1")]
    Version(u8),
    /// A read needs these columns (secondary sliver indices), which the reader does not have.
    #[error("missing slivers: {0:?}")]
    MissingColumns(Vec<u16>),
    /// A read runs past the quilt.
    #[error("index is out of bounds: {0} > max index: {1}")]
    OutOfBounds(usize, usize),
    /// The index does not decode, or its column ranges are impossible.
    #[error("failed to decode the quilt index: {0}")]
    Index(String),
    /// A patch's header, identifier or tags do not decode.
    #[error("the patch at column {column} is malformed: {reason}")]
    Patch {
        /// Its first column.
        column: u16,
        /// Why.
        reason: String,
    },
    /// Identifiers asked for are not in the quilt.
    #[error("the blobs are not found in the quilt: {}", .0.join(", "))]
    NotFound(Vec<String>),
}

/// Checks an identifier as the reference does: at most 65 535 bytes, not empty, no trailing
/// whitespace, no control characters.
pub fn check_identifier(identifier: &str) -> Result<(), QuiltError> {
    let invalid = |why: String| Err(QuiltError::InvalidIdentifier(why));
    if identifier.len() > usize::from(u16::MAX) {
        return invalid(format!("identifier too long: {}", identifier.len()));
    }
    if identifier.is_empty() {
        return invalid("identifier is empty".into());
    }
    if identifier.trim_end() != identifier {
        return invalid(format!("identifier contains trailing whitespace: {identifier}"));
    }
    if identifier.chars().any(char::is_control) {
        return invalid(format!("identifier contains control characters: {identifier}"));
    }
    Ok(())
}

/// One patch of the index: where it ends (its start is where the one before ends), its
/// identifier and its tags. BCS: `end_index`, `identifier`, `tags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuiltPatchV1 {
    /// The column after its last.
    pub end_index: u16,
    /// Its name in the quilt.
    pub identifier: String,
    /// Its tags.
    pub tags: Tags,
    /// Its first column (not encoded: implied by the patch before, or by the index's size).
    #[serde(skip)]
    pub start_index: u16,
}

/// The quilt's index: its patches in column order (which is identifier order).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QuiltIndexV1 {
    /// The patches.
    pub quilt_patches: Vec<QuiltPatchV1>,
}

impl QuiltIndexV1 {
    /// The patch named `identifier`, if any.
    pub fn patch(&self, identifier: &str) -> Option<&QuiltPatchV1> {
        self.quilt_patches.iter().find(|p| p.identifier == identifier)
    }

    /// The patches whose tag `key` is `value`.
    pub fn with_tag<'a>(&'a self, key: &'a str, value: &'a str) -> impl Iterator<Item = &'a QuiltPatchV1> {
        self.quilt_patches.iter().filter(move |p| p.tags.get(key).is_some_and(|v| v == value))
    }
}

/// A file to put in a quilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchInput<'a> {
    /// Its name in the quilt ([`check_identifier`]).
    pub identifier: String,
    /// Its tags.
    pub tags: Tags,
    /// Its bytes.
    pub data: &'a [u8],
}

/// A quilt ready to store as a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedQuilt {
    /// The blob: `(n - 2f)(n - f) * symbol_size` bytes.
    pub blob: Vec<u8>,
    /// Its symbol size.
    pub symbol_size: u16,
    /// Its index, with each patch's column range.
    pub index: QuiltIndexV1,
}

/// The bytes a patch carries before its data: the header, the identifier and the tags.
fn patch_prefix(identifier: &str, tags: &Tags, data_len: usize) -> Result<Vec<u8>, QuiltError> {
    let id = bcs::to_bytes(identifier).map_err(|e| QuiltError::InvalidIdentifier(e.to_string()))?;
    let id_len = u16::try_from(id.len()).ok().filter(|len| *len < u16::MAX).ok_or_else(|| {
        QuiltError::InvalidIdentifier("identifier size exceeds maximum allowed value: 65535".into())
    })?;
    let tags = if tags.is_empty() {
        None
    } else {
        let bytes = bcs::to_bytes(tags).map_err(|e| QuiltError::Index(e.to_string()))?;
        let len = u16::try_from(bytes.len()).map_err(|_| QuiltError::TagsTooLarge {
            identifier: identifier.to_string(),
            bytes: bytes.len(),
        })?;
        Some((len, bytes))
    };
    let after_header = 2 + id.len() + tags.as_ref().map_or(0, |(_, bytes)| 2 + bytes.len()) + data_len;
    let length = u32::try_from(after_header)
        .map_err(|_| QuiltError::PatchTooLarge { identifier: identifier.to_string() })?;
    let mut out = Vec::with_capacity(PATCH_HEADER_BYTES + after_header - data_len);
    out.push(QUILT_VERSION_V1);
    out.extend_from_slice(&length.to_le_bytes());
    out.push(if tags.is_some() { TAGS_ENABLED } else { 0 });
    out.extend_from_slice(&id_len.to_le_bytes());
    out.extend_from_slice(&id);
    if let Some((len, bytes)) = tags {
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// The symbol size of a quilt whose items (the index first, then the patches) take `sizes`
/// bytes: the smallest that gives each item whole columns of its own within the `n - f`
/// columns, the index at most [`INDEX_COLUMNS_MAX`], rounded up to even.
pub fn quilt_symbol_size(params: EncodingParams, sizes: &[u64]) -> Result<u16, QuiltError> {
    let (rows, columns) = (params.primary_source_symbols() as u64, params.secondary_source_symbols() as u64);
    if sizes.len() as u64 > columns {
        return Err(QuiltError::TooManyPatches {
            got: sizes.len().saturating_sub(1),
            max: columns as usize - 1,
        });
    }
    let fits = |symbol: u64| sizes.iter().map(|size| size.div_ceil(symbol * rows)).sum::<u64>() <= columns;
    let total: u64 = sizes.iter().sum();
    let index = sizes.first().copied().unwrap_or(0);
    let mut low = total
        .div_ceil(columns * rows)
        .max(index.div_ceil(rows * INDEX_COLUMNS_MAX as u64))
        .max((INDEX_PREFIX_BYTES as u64).div_ceil(rows))
        .max(1);
    // Each item in at most `columns / items` columns fits for sure.
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let mut high = largest.div_ceil((columns / sizes.len().max(1) as u64) * rows).max(low);
    while low < high {
        let mid = low + (high - low) / 2;
        if fits(mid) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    let symbol_size = low + low % 2;
    u16::try_from(symbol_size)
        .ok()
        .filter(|s| u64::from(*s) <= SYMBOL_SIZE_MAX)
        .ok_or(QuiltError::TooLarge { symbol_size })
}

/// Writes streams into the matrix column by column: the stream's byte `k`, written from column
/// `c`, goes to row `(k / s) % rows` of column `c + k / (rows * s)`.
struct ColumnWriter<'a> {
    blob: &'a mut [u8],
    rows: usize,
    row_bytes: usize,
    symbol: usize,
}

impl ColumnWriter<'_> {
    /// Writes the concatenation of `parts` from column `column`.
    fn write(&mut self, column: usize, parts: &[&[u8]]) {
        let mut k = 0usize;
        for part in parts {
            let mut part = *part;
            while !part.is_empty() {
                let (symbol_index, offset) = (k / self.symbol, k % self.symbol);
                let (col, row) = (column + symbol_index / self.rows, symbol_index % self.rows);
                let at = row * self.row_bytes + col * self.symbol + offset;
                let take = (self.symbol - offset).min(part.len());
                self.blob[at..at + take].copy_from_slice(&part[..take]);
                part = &part[take..];
                k += take;
            }
        }
    }
}

/// Builds the quilt of `patches` for `params` (the reference's `QuiltEncoderV1`): checks the
/// identifiers, sorts the patches by identifier, sizes the symbols and lays everything out.
pub fn encode_quilt(
    params: EncodingParams,
    patches: Vec<PatchInput<'_>>,
) -> Result<EncodedQuilt, QuiltError> {
    let mut patches = patches;
    for patch in &patches {
        check_identifier(&patch.identifier)?;
    }
    patches.sort_by(|a, b| a.identifier.as_bytes().cmp(b.identifier.as_bytes()));
    if let Some(pair) = patches.windows(2).find(|w| w[0].identifier == w[1].identifier) {
        return Err(QuiltError::DuplicateIdentifier(pair[0].identifier.clone()));
    }
    let columns = params.secondary_source_symbols();
    if patches.len() >= columns {
        return Err(QuiltError::TooManyPatches { got: patches.len(), max: columns - 1 });
    }
    let prefixes = patches
        .iter()
        .map(|p| patch_prefix(&p.identifier, &p.tags, p.data.len()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut index = QuiltIndexV1 {
        quilt_patches: patches
            .iter()
            .map(|p| QuiltPatchV1 {
                end_index: 0,
                identifier: p.identifier.clone(),
                tags: p.tags.clone(),
                start_index: 0,
            })
            .collect(),
    };
    // `end_index` is a fixed-width u16: the index's size does not depend on its values.
    let index_len = bcs::to_bytes(&index).map_err(|e| QuiltError::Index(e.to_string()))?.len();
    let mut sizes = vec![(INDEX_PREFIX_BYTES + index_len) as u64];
    sizes.extend(patches.iter().zip(&prefixes).map(|(p, prefix)| (prefix.len() + p.data.len()) as u64));
    let symbol_size = quilt_symbol_size(params, &sizes)?;
    let (rows, symbol) = (params.primary_source_symbols(), usize::from(symbol_size));
    let column_bytes = rows * symbol;
    let mut blob = vec![0u8; rows * columns * symbol];
    let mut writer = ColumnWriter { blob: &mut blob, rows, row_bytes: columns * symbol, symbol };
    let mut column = sizes[0].div_ceil(column_bytes as u64) as usize;
    for ((patch, prefix), entry) in patches.iter().zip(&prefixes).zip(&mut index.quilt_patches) {
        writer.write(column, &[prefix, patch.data]);
        let end = column + (prefix.len() + patch.data.len()).div_ceil(column_bytes);
        // `end <= columns <= u16::MAX`: the symbol size fits every patch in the columns.
        entry.start_index = column as u16;
        entry.end_index = end as u16;
        column = end;
    }
    let encoded_index = bcs::to_bytes(&index).map_err(|e| QuiltError::Index(e.to_string()))?;
    let mut prefix = vec![QUILT_VERSION_V1];
    prefix.extend_from_slice(&(encoded_index.len() as u32).to_le_bytes());
    writer.write(0, &[&prefix, &encoded_index]);
    Ok(EncodedQuilt { blob, symbol_size, index })
}

/// Where a quilt's bytes are read from: the whole blob, or some of its columns.
pub trait QuiltSource {
    /// Bytes per column (`(n - 2f) * symbol_size`).
    fn column_bytes(&self) -> usize;
    /// `count` bytes of the column stream from column `column` on, after skipping `skip`.
    fn read(&self, column: usize, skip: usize, count: usize) -> Result<Vec<u8>, QuiltError>;
}

/// A whole quilt blob.
#[derive(Debug, Clone, Copy)]
pub struct QuiltBlob<'a> {
    blob: &'a [u8],
    rows: usize,
    columns: usize,
    symbol: usize,
}

impl<'a> QuiltBlob<'a> {
    /// The blob `blob`, read as a quilt for `params`.
    pub fn new(params: EncodingParams, blob: &'a [u8]) -> Result<Self, QuiltError> {
        let (rows, columns) = (params.primary_source_symbols(), params.secondary_source_symbols());
        if blob.is_empty() || !blob.len().is_multiple_of(rows * columns) {
            return Err(QuiltError::NotAligned { len: blob.len(), symbols: rows * columns });
        }
        Ok(QuiltBlob { blob, rows, columns, symbol: blob.len() / (rows * columns) })
    }
}

impl QuiltSource for QuiltBlob<'_> {
    fn column_bytes(&self) -> usize {
        self.rows * self.symbol
    }

    fn read(&self, column: usize, skip: usize, count: usize) -> Result<Vec<u8>, QuiltError> {
        let first = column * self.column_bytes() + skip;
        let end = first.checked_add(count).filter(|end| *end <= self.blob.len());
        let end = end.ok_or(QuiltError::OutOfBounds(first.saturating_add(count), self.blob.len()))?;
        let mut out = Vec::with_capacity(count);
        let mut k = first;
        while k < end {
            let (symbol_index, offset) = (k / self.symbol, k % self.symbol);
            let (col, row) = (symbol_index / self.rows, symbol_index % self.rows);
            let at = row * self.columns * self.symbol + col * self.symbol + offset;
            let take = (self.symbol - offset).min(end - k);
            out.extend_from_slice(&self.blob[at..at + take]);
            k += take;
        }
        Ok(out)
    }
}

/// Some columns of a quilt (secondary slivers' symbol bytes, by sliver index).
#[derive(Debug, Clone, Default)]
pub struct QuiltColumns<'a> {
    /// Column index to its bytes; every column has the same length.
    pub columns: BTreeMap<u16, &'a [u8]>,
}

impl QuiltSource for QuiltColumns<'_> {
    fn column_bytes(&self) -> usize {
        self.columns.values().next().map_or(0, |c| c.len())
    }

    fn read(&self, column: usize, skip: usize, count: usize) -> Result<Vec<u8>, QuiltError> {
        let size = self.column_bytes();
        if size == 0 {
            return Err(QuiltError::MissingColumns(vec![column as u16]));
        }
        let last = column + (skip + count).div_ceil(size).max(1);
        let missing: Vec<u16> =
            (column..last).map(|c| c as u16).filter(|c| !self.columns.contains_key(c)).collect();
        if !missing.is_empty() {
            return Err(QuiltError::MissingColumns(missing));
        }
        let mut out = Vec::with_capacity(count);
        let (mut at, end) = (skip, skip + count);
        while at < end {
            let col = self.columns[&((column + at / size) as u16)];
            let take = (size - at % size).min(end - at);
            out.extend_from_slice(&col[at % size..at % size + take]);
            at += take;
        }
        Ok(out)
    }
}

fn u32_le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Reads the index from column 0 on (a source of columns that lacks some answers
/// [`QuiltError::MissingColumns`] with the ones it needs), with each patch's start.
pub fn decode_index(source: &impl QuiltSource, n_columns: usize) -> Result<QuiltIndexV1, QuiltError> {
    let prefix = source.read(0, 0, INDEX_PREFIX_BYTES)?;
    if prefix[0] != QUILT_VERSION_V1 {
        return Err(QuiltError::Version(prefix[0]));
    }
    let len = u32_le(&prefix[1..5]) as usize;
    let column_bytes = source.column_bytes();
    if len > INDEX_COLUMNS_MAX * column_bytes {
        return Err(QuiltError::Index(format!("an index of {len} bytes spans more than 10 columns")));
    }
    let bytes = source.read(0, INDEX_PREFIX_BYTES, len)?;
    let mut index: QuiltIndexV1 = bcs::from_bytes(&bytes).map_err(|e| QuiltError::Index(e.to_string()))?;
    let mut start = (INDEX_PREFIX_BYTES + len).div_ceil(column_bytes);
    for patch in &mut index.quilt_patches {
        let end = usize::from(patch.end_index);
        if end <= start || end > n_columns {
            return Err(QuiltError::Index(format!(
                "patch {} ends at column {end}, not after its start {start} and within {n_columns}",
                patch.identifier
            )));
        }
        patch.start_index = start as u16;
        start = end;
    }
    Ok(index)
}

/// A patch read back: its identifier, tags and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedPatch {
    /// Its name in the quilt.
    pub identifier: String,
    /// Its tags.
    pub tags: Tags,
    /// Its bytes.
    pub data: Vec<u8>,
    /// The column after its last, as its header's length says.
    pub end_index: u16,
}

/// Reads the patch whose first column is `column` (the header says how long it is).
pub fn decode_patch(source: &impl QuiltSource, column: u16) -> Result<DecodedPatch, QuiltError> {
    let col = usize::from(column);
    let malformed = |reason: String| QuiltError::Patch { column, reason };
    let header = source.read(col, 0, PATCH_HEADER_BYTES + 2)?;
    if header[0] != QUILT_VERSION_V1 {
        return Err(QuiltError::Version(header[0]));
    }
    let length = u32_le(&header[1..5]) as usize;
    let mask = header[5];
    let whole = source.read(col, PATCH_HEADER_BYTES, length)?;
    let mut rest = whole.as_slice();
    let mut take = |what: &str| -> Result<&[u8], QuiltError> {
        let len = rest.get(..2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        let len = len.ok_or_else(|| malformed(format!("its {what} length runs past its end")))?;
        let field = rest.get(2..2 + len).ok_or_else(|| malformed(format!("its {what} runs past its end")))?;
        rest = &rest[2 + len..];
        Ok(field)
    };
    let identifier: String =
        bcs::from_bytes(take("identifier")?).map_err(|e| malformed(format!("identifier: {e}")))?;
    let tags: Tags = if mask & TAGS_ENABLED != 0 {
        bcs::from_bytes(take("tags")?).map_err(|e| malformed(format!("tags: {e}")))?
    } else {
        Tags::new()
    };
    check_identifier(&identifier)?;
    let end_index = (col + (PATCH_HEADER_BYTES + length).div_ceil(source.column_bytes())) as u16;
    Ok(DecodedPatch { identifier, tags, data: rest.to_vec(), end_index })
}

/// A patch's ID: the quilt's blob ID and the patch's column range (`0x01`, start and end as
/// `u16` LE), 37 bytes, written in URL-safe base64 without padding (50 characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuiltPatchId {
    /// The quilt's blob ID.
    pub quilt_id: BlobId,
    /// The patch's first column.
    pub start_index: u16,
    /// The column after its last.
    pub end_index: u16,
}

impl QuiltPatchId {
    /// The 37 bytes.
    pub fn to_bytes(&self) -> [u8; 37] {
        let mut out = [0u8; 37];
        out[..32].copy_from_slice(self.quilt_id.as_bytes());
        out[32] = QUILT_VERSION_V1;
        out[33..35].copy_from_slice(&self.start_index.to_le_bytes());
        out[35..37].copy_from_slice(&self.end_index.to_le_bytes());
        out
    }
}

impl fmt::Display for QuiltPatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.to_bytes()))
    }
}

impl FromStr for QuiltPatchId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseIdError::new("quilt patch ID", s);
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| err())?;
        let bytes: [u8; 37] = bytes.try_into().map_err(|_| err())?;
        if bytes[32] != QUILT_VERSION_V1 {
            return Err(err());
        }
        let quilt_id = BlobId(bytes[..32].try_into().map_err(|_| err())?);
        let start_index = u16::from_le_bytes([bytes[33], bytes[34]]);
        let end_index = u16::from_le_bytes([bytes[35], bytes[36]]);
        if end_index <= start_index {
            return Err(err());
        }
        Ok(QuiltPatchId { quilt_id, start_index, end_index })
    }
}

#[cfg(test)]
mod tests;
