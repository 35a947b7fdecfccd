//! Fixtures shared by the fuzz targets.
//!
//! Decoded inputs are checked against one small blob, encoded once per process: 7 shards (odd,
//! so the trees over sliver expansions have a padding node) and 60 bytes, which gives a symbol
//! size of 4 bytes, primary slivers of 20 bytes, secondary slivers of 12 and recovery symbols of
//! 4: shapes a fuzzer hits easily, so inputs get past the size checks into the codec and the
//! Merkle proofs. The blob is consistently encoded, and only its encoder's own slivers and
//! symbols match its metadata.

use std::sync::OnceLock;

use walrus_core::encode::{encode_blob, EncodedBlob};
use walrus_core::metadata::VerifiedBlobMetadataWithId;
use walrus_core::EncodingParams;

/// Shards of the fixture blob.
pub const N_SHARDS: u64 = 7;

/// The fixture blob with its slivers, encoded on first use.
pub fn blob() -> &'static EncodedBlob {
    static BLOB: OnceLock<EncodedBlob> = OnceLock::new();
    BLOB.get_or_init(|| {
        let params = EncodingParams::new(N_SHARDS).expect("7 shards are supported");
        let data: Vec<u8> = (0..60u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        encode_blob(params, &data).expect("60 bytes fit 7 shards")
    })
}

/// The fixture blob's verified metadata.
pub fn metadata() -> &'static VerifiedBlobMetadataWithId {
    blob().metadata()
}
