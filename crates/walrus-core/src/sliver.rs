//! Slivers on the wire (`SliverData`) and their verification against metadata.
//!
//! BCS form, as the reference's `SliverData<A>`: the symbol bytes (ULEB128 length + bytes), the
//! symbol size (`u16`, non-zero), the sliver index (`u16`). The axis is not on the wire: the URL
//! or the surrounding message says whether a sliver is primary or secondary.

use std::num::NonZeroU16;

use serde::{Deserialize, Serialize};

use crate::expand::sliver_roots;
use crate::ids::{SliverIndex, SliverPairIndex, SliverType};
use crate::metadata::VerifiedBlobMetadataWithId;

/// A sliver as received: nothing about it has been checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiedSliver {
    /// The symbols, back to back.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Bytes per symbol.
    pub symbol_size: NonZeroU16,
    /// The sliver's index on its axis.
    pub index: SliverIndex,
}

/// One sliver in a batch write (`PUT /v1/blobs/{blob_id}/slivers`, our batch endpoint): the
/// pair it belongs to, its axis, and the sliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliverUpload {
    /// The sliver pair it belongs to.
    pub pair: SliverPairIndex,
    /// Its axis.
    pub axis: SliverType,
    /// The sliver.
    pub sliver: UnverifiedSliver,
}

/// [`SliverUpload`] borrowing its symbols (the same BCS bytes), so that a client serializes a
/// batch straight from the encoder's buffers instead of copying every sliver first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SliverUploadRef<'a> {
    /// The sliver pair it belongs to.
    pub pair: SliverPairIndex,
    /// Its axis.
    pub axis: SliverType,
    /// The sliver.
    pub sliver: SliverRef<'a>,
}

/// [`UnverifiedSliver`] borrowing its symbols (the same BCS bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SliverRef<'a> {
    /// The symbols, back to back.
    #[serde(with = "serde_bytes")]
    pub data: &'a [u8],
    /// Bytes per symbol.
    pub symbol_size: NonZeroU16,
    /// The sliver's index on its axis.
    pub index: SliverIndex,
}

impl SliverUpload {
    /// The borrowed form.
    pub fn as_ref(&self) -> SliverUploadRef<'_> {
        SliverUploadRef { pair: self.pair, axis: self.axis, sliver: self.sliver.as_ref() }
    }
}

impl UnverifiedSliver {
    /// The borrowed form.
    pub fn as_ref(&self) -> SliverRef<'_> {
        SliverRef { data: &self.data, symbol_size: self.symbol_size, index: self.index }
    }
}

/// Why a sliver was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliverError {
    /// The index is not below the shard count.
    #[error("sliver index {index} is out of range for {n_shards} shards")]
    IndexTooLarge {
        /// The claimed index.
        index: SliverIndex,
        /// The shard count.
        n_shards: u16,
    },
    /// The symbol size differs from the one the blob length implies.
    #[error("symbol size {actual} does not match the blob's symbol size {expected}")]
    SymbolSizeMismatch {
        /// Symbol size in the sliver.
        actual: u16,
        /// Symbol size from the metadata.
        expected: u16,
    },
    /// The byte length is not that of a sliver of this axis.
    #[error("sliver has {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// Bytes received.
        actual: usize,
        /// Bytes of a sliver of this blob and axis.
        expected: usize,
    },
    /// The Merkle root of the sliver's expansion differs from the committed hash.
    #[error("sliver does not match its hash in the metadata")]
    MerkleRootMismatch,
}

impl UnverifiedSliver {
    /// Checks the sliver as one of `axis` against `metadata`: index, symbol size, length, and
    /// the Merkle root of its expansion.
    pub fn verify(
        self,
        axis: SliverType,
        metadata: &VerifiedBlobMetadataWithId,
    ) -> Result<VerifiedSliver, SliverError> {
        verify_slivers(axis, metadata, vec![self]).pop().unwrap_or(Err(SliverError::MerkleRootMismatch))
    }
}

/// Checks index, symbol size and length of `sliver` as one of `axis`.
fn check_shape(
    sliver: SliverRef<'_>,
    axis: SliverType,
    metadata: &VerifiedBlobMetadataWithId,
) -> Result<(), SliverError> {
    let params = metadata.params();
    if sliver.index.as_usize() >= params.n() {
        return Err(SliverError::IndexTooLarge { index: sliver.index, n_shards: params.n_shards() });
    }
    let expected_size = metadata.symbol_size();
    if sliver.symbol_size.get() != expected_size {
        return Err(SliverError::SymbolSizeMismatch {
            actual: sliver.symbol_size.get(),
            expected: expected_size,
        });
    }
    let expected = params.symbols_per_sliver(axis) * usize::from(expected_size);
    if sliver.data.len() != expected {
        return Err(SliverError::SizeMismatch { actual: sliver.data.len(), expected });
    }
    Ok(())
}

/// Checks borrowed slivers of one axis against `metadata` (their expansions share Reed-Solomon
/// calls). Returns one result per input, in order.
fn verify_refs(
    axis: SliverType,
    metadata: &VerifiedBlobMetadataWithId,
    slivers: &[SliverRef<'_>],
) -> Vec<Result<(), SliverError>> {
    let shaped: Vec<Result<(), SliverError>> =
        slivers.iter().map(|s| check_shape(*s, axis, metadata)).collect();
    let candidates: Vec<&[u8]> =
        slivers.iter().zip(&shaped).filter(|(_, shape)| shape.is_ok()).map(|(s, _)| s.data).collect();
    let roots = match sliver_roots(metadata.params(), axis, metadata.symbol_size(), &candidates) {
        Ok(roots) => roots,
        // Shapes were checked, so the codec cannot refuse; treat a refusal as a mismatch.
        Err(_) => return slivers.iter().map(|_| Err(SliverError::MerkleRootMismatch)).collect(),
    };
    let mut roots = roots.into_iter();
    slivers
        .iter()
        .zip(shaped)
        .map(|(sliver, shape)| {
            shape?;
            let root = roots.next().ok_or(SliverError::MerkleRootMismatch)?;
            if root != metadata.sliver_hash(axis, sliver.index) {
                return Err(SliverError::MerkleRootMismatch);
            }
            Ok(())
        })
        .collect()
}

/// Verifies many slivers of one axis at once (their expansions share Reed-Solomon calls).
/// Returns one result per input, in order.
pub fn verify_slivers(
    axis: SliverType,
    metadata: &VerifiedBlobMetadataWithId,
    slivers: Vec<UnverifiedSliver>,
) -> Vec<Result<VerifiedSliver, SliverError>> {
    let refs: Vec<SliverRef<'_>> = slivers.iter().map(UnverifiedSliver::as_ref).collect();
    let checks = verify_refs(axis, metadata, &refs);
    slivers
        .into_iter()
        .zip(checks)
        .map(|(sliver, check)| {
            check.map(|()| VerifiedSliver {
                axis,
                index: sliver.index,
                symbol_size: sliver.symbol_size.get(),
                data: sliver.data,
            })
        })
        .collect()
}

/// One entry of a batch upload body (BCS `Vec<SliverUpload>`), parsed in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadEntry<'a> {
    /// The sliver pair it belongs to.
    pub pair: SliverPairIndex,
    /// Its axis.
    pub axis: SliverType,
    /// The sliver, borrowing its symbols from the body.
    pub sliver: SliverRef<'a>,
    /// The sliver's own BCS bytes inside the body: what a node stores and serves.
    pub bcs: &'a [u8],
}

/// Why a batch upload body does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a BCS list of sliver uploads: {what} at byte {at}")]
pub struct UploadParseError {
    /// What was wrong.
    pub what: &'static str,
    /// Where.
    pub at: usize,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, what: &'static str) -> Result<T, UploadParseError> {
        Err(UploadParseError { what, at: self.at })
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], UploadParseError> {
        let end = self.at.checked_add(len).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else { return self.fail("unexpected end") };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, UploadParseError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// A canonical ULEB128 `u32`, as BCS writes lengths and enum tags.
    fn uleb(&mut self) -> Result<u32, UploadParseError> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return self.fail("non-canonical ULEB128");
                }
                return u32::try_from(value).or_else(|_| self.fail("ULEB128 over u32"));
            }
        }
        self.fail("ULEB128 over u32")
    }
}

/// Parses a batch upload body (BCS `Vec<SliverUpload>`) without copying any symbol: every entry
/// borrows from `bytes`. Accepts exactly what `bcs::from_bytes::<Vec<SliverUpload>>` accepts.
pub fn parse_uploads(bytes: &[u8]) -> Result<Vec<UploadEntry<'_>>, UploadParseError> {
    let mut r = Reader { bytes, at: 0 };
    let count = r.uleb()? as usize;
    // An entry takes at least 8 bytes: bound the allocation by the body, not by its claim.
    let mut out = Vec::with_capacity(count.min(bytes.len() / 8));
    for _ in 0..count {
        let pair = SliverPairIndex(r.u16()?);
        let axis = match r.uleb()? {
            0 => SliverType::Primary,
            1 => SliverType::Secondary,
            _ => return r.fail("unknown sliver axis"),
        };
        let start = r.at;
        let len = r.uleb()? as usize;
        let data = r.take(len)?;
        let Some(symbol_size) = NonZeroU16::new(r.u16()?) else { return r.fail("zero symbol size") };
        let index = SliverIndex(r.u16()?);
        let sliver = SliverRef { data, symbol_size, index };
        out.push(UploadEntry { pair, axis, sliver, bcs: &bytes[start..r.at] });
    }
    if r.at != bytes.len() {
        return r.fail("trailing bytes");
    }
    Ok(out)
}

/// Verifies the entries of a batch upload in place (each axis in one pass, sharing
/// Reed-Solomon calls). Returns one result per entry, in order.
pub fn verify_uploads<'a>(
    metadata: &VerifiedBlobMetadataWithId,
    entries: &[UploadEntry<'a>],
) -> Vec<Result<VerifiedSliverRef<'a>, SliverError>> {
    let mut results: Vec<Result<VerifiedSliverRef<'a>, SliverError>> =
        entries.iter().map(|_| Err(SliverError::MerkleRootMismatch)).collect();
    for axis in [SliverType::Primary, SliverType::Secondary] {
        let positions: Vec<usize> = (0..entries.len()).filter(|i| entries[*i].axis == axis).collect();
        let refs: Vec<SliverRef<'a>> = positions.iter().map(|i| entries[*i].sliver).collect();
        for (position, check) in positions.into_iter().zip(verify_refs(axis, metadata, &refs)) {
            let entry = &entries[position];
            results[position] =
                check.map(|()| VerifiedSliverRef { axis, index: entry.sliver.index, bcs: entry.bcs });
        }
    }
    results
}

/// A sliver verified in place: its BCS bytes, still inside the buffer it arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSliverRef<'a> {
    axis: SliverType,
    index: SliverIndex,
    bcs: &'a [u8],
}

impl<'a> VerifiedSliverRef<'a> {
    /// The axis.
    pub fn axis(&self) -> SliverType {
        self.axis
    }

    /// The index on its axis.
    pub fn index(&self) -> SliverIndex {
        self.index
    }

    /// The wire (BCS) form, as [`VerifiedSliver::to_bcs`] writes it.
    pub fn bcs(&self) -> &'a [u8] {
        self.bcs
    }
}

/// Most sliver bytes one batch read (`POST /v1/blobs/{id}/slivers`) may ask of a node: larger
/// requests are refused, so clients split their reads to fit.
pub const BATCH_READ_BYTES_MAX: u64 = 64 << 20;

/// Appends `len` as BCS writes a sequence length (ULEB128).
pub fn push_uleb128(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A sliver known to match its blob's metadata (or produced by our own encoder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSliver {
    axis: SliverType,
    index: SliverIndex,
    symbol_size: u16,
    data: Vec<u8>,
}

impl VerifiedSliver {
    /// A sliver that our encoder produced or that passed verification elsewhere.
    pub(crate) fn new_trusted(axis: SliverType, index: SliverIndex, symbol_size: u16, data: Vec<u8>) -> Self {
        VerifiedSliver { axis, index, symbol_size, data }
    }

    /// The axis.
    pub fn axis(&self) -> SliverType {
        self.axis
    }

    /// The index on its axis.
    pub fn index(&self) -> SliverIndex {
        self.index
    }

    /// Bytes per symbol.
    pub fn symbol_size(&self) -> u16 {
        self.symbol_size
    }

    /// The symbols, back to back.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Symbol `i` of the sliver.
    pub fn symbol(&self, i: usize) -> Option<&[u8]> {
        let s = usize::from(self.symbol_size);
        self.data.get(i * s..(i + 1) * s)
    }

    /// The wire (BCS) form.
    pub fn to_bcs(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 9);
        push_uleb128(&mut out, self.data.len());
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.symbol_size.to_le_bytes());
        out.extend_from_slice(&self.index.0.to_le_bytes());
        out
    }

    /// Drops the verification mark.
    pub fn into_unverified(self) -> UnverifiedSliver {
        UnverifiedSliver {
            data: self.data,
            symbol_size: NonZeroU16::new(self.symbol_size).unwrap_or(NonZeroU16::MIN),
            index: self.index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_upload_has_the_same_bcs() {
        let upload = SliverUpload {
            pair: SliverPairIndex(7),
            axis: SliverType::Secondary,
            sliver: UnverifiedSliver {
                data: (0..=255).collect(),
                symbol_size: NonZeroU16::new(2).expect("non-zero"),
                index: SliverIndex(992),
            },
        };
        let owned = bcs::to_bytes(&vec![upload.clone(), upload.clone()]).expect("bcs");
        let borrowed = bcs::to_bytes(&vec![upload.as_ref(), upload.as_ref()]).expect("bcs");
        assert_eq!(owned, borrowed);
        assert_eq!(
            bcs::to_bytes(&upload.sliver).expect("bcs"),
            bcs::to_bytes(&upload.sliver.as_ref()).expect("bcs")
        );
    }

    fn uploads_of(encoded: &crate::encode::EncodedBlob, pairs: std::ops::Range<u16>) -> Vec<u8> {
        let uploads: Vec<SliverUploadRef<'_>> = pairs
            .flat_map(|p| [SliverType::Primary, SliverType::Secondary].map(|axis| (p, axis)))
            .map(|(p, axis)| encoded.sliver_upload(SliverPairIndex(p), axis))
            .collect();
        bcs::to_bytes(&uploads).expect("bcs")
    }

    #[test]
    fn uploads_parse_in_place_as_bcs_decodes_them() {
        let params = crate::params::EncodingParams::new(10).expect("params");
        let blob: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let encoded = crate::encode::encode_blob(params, &blob).expect("encode");
        let body = uploads_of(&encoded, 0..10);
        let owned: Vec<SliverUpload> = bcs::from_bytes(&body).expect("bcs");
        let parsed = parse_uploads(&body).expect("parse");
        assert_eq!(parsed.len(), owned.len());
        for (entry, upload) in parsed.iter().zip(&owned) {
            assert_eq!((entry.pair, entry.axis), (upload.pair, upload.axis));
            assert_eq!(entry.sliver, upload.sliver.as_ref());
            assert_eq!(entry.bcs, bcs::to_bytes(&upload.sliver).expect("bcs").as_slice());
        }
        assert_eq!(parse_uploads(&[0]).expect("empty list"), vec![]);
    }

    #[test]
    fn malformed_upload_bodies_are_refused_like_bcs_refuses_them() {
        let params = crate::params::EncodingParams::new(10).expect("params");
        let encoded = crate::encode::encode_blob(params, b"some bytes to encode").expect("encode");
        let body = uploads_of(&encoded, 0..2);
        let mut cases: Vec<Vec<u8>> = (0..body.len()).map(|len| body[..len].to_vec()).collect();
        let mut trailing = body.clone();
        trailing.push(0);
        cases.push(trailing);
        let mut axis = body.clone();
        axis[3] = 2; // the first entry's axis tag
        cases.push(axis);
        cases.push(vec![0x80, 0x00]); // non-canonical count
        cases.push(vec![0xff, 0xff, 0xff, 0xff, 0x7f]); // count over u32
        let mut zero_size = body.clone();
        let first = parse_uploads(&body).expect("parse")[0].bcs.len();
        zero_size[4 + first - 4] = 0; // the first sliver's symbol size, low byte
        zero_size[4 + first - 3] = 0;
        cases.push(zero_size);
        for case in cases {
            assert!(bcs::from_bytes::<Vec<SliverUpload>>(&case).is_err(), "bcs accepts {case:?}");
            assert!(parse_uploads(&case).is_err(), "parse_uploads accepts {case:?}");
        }
    }

    #[test]
    fn uploads_verify_in_place_as_owned_slivers_do() {
        let params = crate::params::EncodingParams::new(10).expect("params");
        let blob: Vec<u8> = (0..5000u32).map(|i| (i * 13 + 5) as u8).collect();
        let encoded = crate::encode::encode_blob(params, &blob).expect("encode");
        let mut body = uploads_of(&encoded, 0..10);
        // Corrupt one symbol byte of the third entry.
        let at = {
            let entries = parse_uploads(&body).expect("parse");
            entries[2].sliver.data.as_ptr() as usize - body.as_ptr() as usize
        };
        body[at] ^= 1;
        let entries = parse_uploads(&body).expect("parse");
        let results = verify_uploads(encoded.metadata(), &entries);
        for (i, (entry, result)) in entries.iter().zip(&results).enumerate() {
            let owned = UnverifiedSliver {
                data: entry.sliver.data.to_vec(),
                symbol_size: entry.sliver.symbol_size,
                index: entry.sliver.index,
            }
            .verify(entry.axis, encoded.metadata());
            match (result, owned) {
                (Ok(verified), Ok(owned)) => {
                    assert_eq!(verified.bcs(), owned.to_bcs().as_slice());
                    assert_eq!((verified.axis(), verified.index()), (owned.axis(), owned.index()));
                }
                (Err(a), Err(b)) => assert_eq!(*a, b),
                (a, b) => panic!("entry {i}: in place {a:?}, owned {b:?}"),
            }
            assert_eq!(result.is_err(), i == 2, "entry {i}");
        }
    }
}
