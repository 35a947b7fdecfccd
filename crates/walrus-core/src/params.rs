//! Encoding parameters derived from the shard count, and the BFT quorum maths.
//!
//! For `n` shards: `f = (n - 1) / 3` faulty shards are tolerated; the message matrix has
//! `n - 2f` rows (primary source symbols, the symbols of a secondary sliver) and `n - f`
//! columns (secondary source symbols, the symbols of a primary sliver). The symbol size is the
//! blob length divided by the matrix size, rounded up to an even number of bytes (the
//! Reed-Solomon library works on 16-bit field elements).

use reed_solomon_simd::ReedSolomonEncoder;

use crate::ids::SliverType;

/// Smallest supported shard count: below 4, `f = 0` and the codes have no repair symbols.
pub const N_SHARDS_MIN: u32 = 4;
/// Largest symbol size in bytes (`u16::MAX - 1`, the largest even `u16`).
pub const SYMBOL_SIZE_MAX: u16 = u16::MAX - 1;
/// Byte length of a Merkle digest and of a blob ID.
pub const DIGEST_LEN: usize = 32;

/// Why a shard count cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The shard count is outside `4..=65535`.
    #[error("the number of shards must be between {N_SHARDS_MIN} and 65535, got {0}")]
    ShardCountOutOfRange(u64),
    /// The shard count is in range but the Reed-Solomon library cannot build one of the codes.
    #[error(
        "{n_shards} shards are not supported by the Reed-Solomon codec \
         ({axis} code with {source_count} source and {repair_count} repair symbols)"
    )]
    UnsupportedByCodec {
        /// The requested shard count.
        n_shards: u16,
        /// The code that does not fit.
        axis: SliverType,
        /// Source symbols of that code.
        source_count: usize,
        /// Repair symbols of that code.
        repair_count: usize,
    },
}

/// The blob does not fit in the largest symbol size for this shard count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a blob of {blob_size} bytes exceeds the maximum of {max_blob_size} bytes for {n_shards} shards")]
pub struct DataTooLargeError {
    /// The offending length.
    pub blob_size: u64,
    /// The largest length this shard count supports.
    pub max_blob_size: u64,
    /// The shard count.
    pub n_shards: u16,
}

/// RS2 parameters for one shard count. Cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingParams {
    n_shards: u16,
}

impl EncodingParams {
    /// Parameters for `n_shards` shards; fails outside `4..=65535` and for counts the
    /// Reed-Solomon library cannot encode (very large `n`).
    pub fn new(n_shards: u64) -> Result<Self, ParamsError> {
        let n = u16::try_from(n_shards)
            .ok()
            .filter(|&n| u32::from(n) >= N_SHARDS_MIN)
            .ok_or(ParamsError::ShardCountOutOfRange(n_shards))?;
        let params = EncodingParams { n_shards: n };
        for axis in [SliverType::Primary, SliverType::Secondary] {
            let source_count = params.source_symbols(axis);
            let repair_count = params.n() - source_count;
            if !ReedSolomonEncoder::supports(source_count, repair_count) {
                return Err(ParamsError::UnsupportedByCodec {
                    n_shards: n,
                    axis,
                    source_count,
                    repair_count,
                });
            }
        }
        Ok(params)
    }

    /// The number of shards `n`.
    pub fn n_shards(&self) -> u16 {
        self.n_shards
    }

    /// `n` as a `usize`.
    pub fn n(&self) -> usize {
        usize::from(self.n_shards)
    }

    /// The maximum number of faulty shards, `f = (n - 1) / 3`.
    pub fn f(&self) -> usize {
        max_n_faulty(self.n())
    }

    /// Rows of the message matrix: `n - 2f` (symbols per secondary sliver).
    pub fn primary_source_symbols(&self) -> usize {
        self.n() - 2 * self.f()
    }

    /// Columns of the message matrix: `n - f` (symbols per primary sliver).
    pub fn secondary_source_symbols(&self) -> usize {
        self.n() - self.f()
    }

    /// Source symbols of the `axis` encoding: `n - 2f` for the primary code (which expands a
    /// column, a secondary sliver) and `n - f` for the secondary code (which expands a row).
    pub fn source_symbols(&self, axis: SliverType) -> usize {
        match axis {
            SliverType::Primary => self.primary_source_symbols(),
            SliverType::Secondary => self.secondary_source_symbols(),
        }
    }

    /// Symbols in one sliver of `axis`: a primary sliver is a row (`n - f` symbols), a secondary
    /// sliver a column (`n - 2f` symbols).
    pub fn symbols_per_sliver(&self, axis: SliverType) -> usize {
        self.source_symbols(axis.orthogonal())
    }

    /// Source symbols of the whole blob, `(n - 2f)(n - f)`.
    pub fn source_symbols_per_blob(&self) -> u64 {
        (self.primary_source_symbols() * self.secondary_source_symbols()) as u64
    }

    /// Symbols needed to recover one sliver of `axis` from other nodes: `n - f` for a primary
    /// sliver, `n - 2f` for a secondary one.
    pub fn symbols_for_recovery(&self, axis: SliverType) -> usize {
        self.symbols_per_sliver(axis)
    }

    /// The symbol size for a blob of `blob_size` bytes:
    /// `ceil(max(L, 1) / ((n - 2f)(n - f)))`, rounded up to even.
    pub fn symbol_size(&self, blob_size: u64) -> Result<u16, DataTooLargeError> {
        let k = self.source_symbols_per_blob();
        let raw = blob_size.max(1).div_ceil(k);
        let even = raw + raw % 2;
        u16::try_from(even).ok().filter(|&s| s <= SYMBOL_SIZE_MAX).ok_or(DataTooLargeError {
            blob_size,
            max_blob_size: self.max_blob_size(),
            n_shards: self.n_shards,
        })
    }

    /// The largest blob these parameters encode: `(n - 2f)(n - f) * 65534` bytes.
    pub fn max_blob_size(&self) -> u64 {
        self.source_symbols_per_blob() * u64::from(SYMBOL_SIZE_MAX)
    }

    /// Bytes of one sliver of `axis` for a blob of `blob_size` bytes.
    pub fn sliver_size(&self, axis: SliverType, blob_size: u64) -> Result<usize, DataTooLargeError> {
        Ok(self.symbols_per_sliver(axis) * usize::from(self.symbol_size(blob_size)?))
    }

    /// The encoded length used for billing: `n * ((kP + kS) * s + 64n + 32)`, counting every
    /// shard's sliver pair and its copy of the metadata.
    pub fn encoded_blob_length(&self, blob_size: u64) -> Result<u64, DataTooLargeError> {
        let s = u64::from(self.symbol_size(blob_size)?);
        let n = self.n() as u64;
        let pair = (self.primary_source_symbols() + self.secondary_source_symbols()) as u64 * s;
        Ok(n * (pair + self.metadata_length()))
    }

    /// Bytes of metadata stored per shard: `n` pairs of 32-byte hashes plus the blob ID.
    pub fn metadata_length(&self) -> u64 {
        self.n() as u64 * 2 * DIGEST_LEN as u64 + DIGEST_LEN as u64
    }

    /// The number of slivers needed to decode a blob from `axis`: `n - 2f` primary or
    /// `n - f` secondary slivers.
    pub fn slivers_for_reconstruction(&self, axis: SliverType) -> usize {
        self.source_symbols(axis)
    }

    /// BFT thresholds for this shard count.
    pub fn quorum(&self) -> Quorum {
        Quorum { n_shards: self.n() }
    }
}

/// `f = floor((n - 1) / 3)`, the number of faulty shards tolerated; 0 for `n = 0`.
pub fn max_n_faulty(n: usize) -> usize {
    n.saturating_sub(1) / 3
}

/// Quorum predicates over weights counted in shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    n_shards: usize,
}

impl Quorum {
    /// Thresholds for `n_shards` shards.
    pub fn new(n_shards: usize) -> Self {
        Quorum { n_shards }
    }

    /// `n - f`: the weight a write certificate needs (the client's target).
    pub fn min_n_correct(&self) -> usize {
        self.n_shards - max_n_faulty(self.n_shards)
    }

    /// `w > 2f`, the Rust side's quorum.
    pub fn is_quorum(&self, weight: usize) -> bool {
        weight > 2 * max_n_faulty(self.n_shards)
    }

    /// `w > f`: at least one correct shard is included.
    pub fn is_above_validity(&self, weight: usize) -> bool {
        weight > max_n_faulty(self.n_shards)
    }

    /// `3w >= 2n + 1`, the chain's check for a certify-blob certificate.
    #[allow(clippy::int_plus_one)] // written as in the Move contract, for review against it
    pub fn is_certificate_quorum(&self, weight: usize) -> bool {
        3 * weight >= 2 * self.n_shards + 1
    }

    /// `3w >= n + 1`, the chain's check for an invalid-blob certificate ("one correct node").
    #[allow(clippy::int_plus_one)] // written as in the Move contract, for review against it
    pub fn includes_one_correct_node(&self, weight: usize) -> bool {
        3 * weight >= self.n_shards + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(n: u64) -> EncodingParams {
        EncodingParams::new(n).expect("valid shard count in test")
    }

    #[test]
    fn source_symbol_counts_match_the_reference_table() {
        for (n, f, kp, ks) in [
            (4, 1, 2, 3),
            (7, 2, 3, 5),
            (9, 2, 5, 7),
            (10, 3, 4, 7),
            (31, 10, 11, 21),
            (51, 16, 19, 35),
            (100, 33, 34, 67),
            (101, 33, 35, 68),
            (301, 100, 101, 201),
            (1000, 333, 334, 667),
        ] {
            let p = params(n);
            assert_eq!((p.f(), p.primary_source_symbols(), p.secondary_source_symbols()), (f, kp, ks));
        }
    }

    #[test]
    fn bft_vectors() {
        for (n, f, correct) in
            [(1, 0, 1), (3, 0, 3), (4, 1, 3), (5, 1, 4), (6, 1, 5), (100, 33, 67), (300, 99, 201)]
        {
            assert_eq!(max_n_faulty(n), f);
            assert_eq!(Quorum::new(n).min_n_correct(), correct);
        }
        let q = Quorum::new(1000);
        assert!(!q.is_certificate_quorum(666) && q.is_certificate_quorum(667));
        assert!(!q.includes_one_correct_node(333) && q.includes_one_correct_node(334));
        assert!(q.is_quorum(667) && !q.is_quorum(666));
        // 3 | n: the invalid-blob certificate needs f + 2.
        assert!(!Quorum::new(9).includes_one_correct_node(3) && Quorum::new(9).includes_one_correct_node(4));
    }

    #[test]
    fn shard_count_bounds_are_clear_errors() {
        for bad in [0, 1, 3, 65536, u64::MAX] {
            assert!(matches!(EncodingParams::new(bad), Err(ParamsError::ShardCountOutOfRange(_))));
        }
        assert!(matches!(EncodingParams::new(65535), Err(ParamsError::UnsupportedByCodec { .. })));
        assert!(EncodingParams::new(4).is_ok());
    }

    #[test]
    fn symbol_size_vectors() {
        // (kP, kS, n) = (3, 5, 10) in the reference is n = 7 here (3 x 5 source symbols).
        let p = params(7);
        assert_eq!(p.symbol_size(0), Ok(2));
        assert_eq!(p.symbol_size(30), Ok(2));
        assert_eq!(p.symbol_size(31), Ok(4));
        assert_eq!(p.sliver_size(SliverType::Primary, 1), Ok(10));
        assert_eq!(p.sliver_size(SliverType::Primary, 30), Ok(10));
        assert_eq!(p.sliver_size(SliverType::Primary, 31), Ok(20));
        assert!(p.symbol_size(3 * 5 * 65534 + 1).is_err());
        assert_eq!(p.symbol_size(3 * 5 * 65534), Ok(65534));
    }

    #[test]
    fn encoded_length_vectors() {
        assert_eq!(params(10).encoded_blob_length(0), Ok(6_940));
        assert_eq!(params(10).encoded_blob_length(1), Ok(6_940));
        assert_eq!(params(1000).encoded_blob_length(1), Ok(66_034_000));
        assert_eq!(params(1000).encoded_blob_length(17), Ok(66_034_000));
        assert_eq!(params(10).encoded_blob_length(2800), Ok(17_720));
        assert_eq!(params(1000).encoded_blob_length(222_778 * 100), Ok(164_132_000));
        assert_eq!(params(1000).max_blob_size(), 14_599_533_452);
    }
}
