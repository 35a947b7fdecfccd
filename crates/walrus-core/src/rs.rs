//! The one-dimensional Reed-Solomon codes, through `reed-solomon-simd` 3.1.0.
//!
//! Byte compatibility with the reference depends on calling the library exactly as it does:
//! `k` original shards, `n - k` recovery shards, the library's default rate selection. Codeword
//! position `i < k` is source symbol `i`; position `i >= k` is recovery shard `i - k`.
//! Encoders and decoders are kept per thread and reset between calls, so repeated small calls
//! do not reallocate the library's working space.

use std::cell::RefCell;

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// A systematic code expanding `source` symbols to `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RsCode {
    pub(crate) source: usize,
    pub(crate) total: usize,
}

/// The library refused its input. With validated parameters and inputs this indicates a bug,
/// or (when decoding) shards that were not checked to be distinct and sufficient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reed-solomon library error: {0}")]
pub struct RsError(String);

impl RsError {
    pub(crate) fn invalid_input(reason: &str) -> Self {
        RsError(reason.to_string())
    }
}

impl From<reed_solomon_simd::Error> for RsError {
    fn from(e: reed_solomon_simd::Error) -> Self {
        RsError(e.to_string())
    }
}

thread_local! {
    static ENCODER: RefCell<Option<ReedSolomonEncoder>> = const { RefCell::new(None) };
    static DECODER: RefCell<Option<ReedSolomonDecoder>> = const { RefCell::new(None) };
}

impl RsCode {
    fn repair(&self) -> usize {
        self.total - self.source
    }

    /// Encodes `sources` (exactly `source` shards of `shard_len` bytes) and hands each repair
    /// shard to `sink(repair_index, bytes)`, in order.
    pub(crate) fn encode<'a>(
        &self,
        shard_len: usize,
        sources: impl IntoIterator<Item = &'a [u8]>,
        mut sink: impl FnMut(usize, &[u8]),
    ) -> Result<(), RsError> {
        ENCODER.with(|cell| {
            let mut slot = cell.borrow_mut();
            let encoder = match slot.as_mut() {
                Some(e) => {
                    e.reset(self.source, self.repair(), shard_len)?;
                    e
                }
                None => slot.insert(ReedSolomonEncoder::new(self.source, self.repair(), shard_len)?),
            };
            for shard in sources {
                encoder.add_original_shard(shard)?;
            }
            let result = encoder.encode()?;
            for (i, shard) in result.recovery_iter().enumerate() {
                sink(i, shard);
            }
            Ok(())
        })
    }

    /// Decodes from exactly `source` distinct codeword positions `(index < total, shard)` and
    /// hands every source shard that was not given to `sink(source_index, bytes)`.
    pub(crate) fn decode_missing<'a>(
        &self,
        shard_len: usize,
        shards: impl IntoIterator<Item = (usize, &'a [u8])>,
        mut sink: impl FnMut(usize, &[u8]),
    ) -> Result<(), RsError> {
        DECODER.with(|cell| {
            let mut slot = cell.borrow_mut();
            let decoder = match slot.as_mut() {
                Some(d) => {
                    d.reset(self.source, self.repair(), shard_len)?;
                    d
                }
                None => slot.insert(ReedSolomonDecoder::new(self.source, self.repair(), shard_len)?),
            };
            for (index, shard) in shards {
                if index < self.source {
                    decoder.add_original_shard(index, shard)?;
                } else {
                    decoder.add_recovery_shard(index - self.source, shard)?;
                }
            }
            let result = decoder.decode()?;
            for (index, shard) in result.restored_original_iter() {
                sink(index, shard);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_inverts_encode_from_any_positions() {
        let code = RsCode { source: 3, total: 7 };
        let sources: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i * 10 + 1, i, 7, i ^ 5]).collect();
        let mut codeword = sources.clone();
        code.encode(4, sources.iter().map(Vec::as_slice), |_, r| codeword.push(r.to_vec())).expect("encodes");
        assert_eq!(codeword.len(), 7);
        for picks in [[0, 1, 2], [4, 5, 6], [0, 3, 6], [2, 5, 1]] {
            let mut restored = vec![None; 3];
            for &p in picks.iter().filter(|&&p| p < 3) {
                restored[p] = Some(codeword[p].clone());
            }
            code.decode_missing(4, picks.iter().map(|&p| (p, codeword[p].as_slice())), |i, s| {
                restored[i] = Some(s.to_vec())
            })
            .expect("decodes");
            let restored: Vec<Vec<u8>> = restored.into_iter().map(|s| s.expect("restored")).collect();
            assert_eq!(restored, sources, "picks {picks:?}");
        }
    }
}
