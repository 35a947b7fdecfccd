//! Where an upload reads the slivers it sends: the in-memory encoder's buffers, or a blob
//! encoded by the streaming encoder and read back in pieces.

use std::sync::Arc;

use bytes::Bytes;
use walrus_core::encode::EncodedBlob;
use walrus_core::metadata::VerifiedBlobMetadataWithId;
use walrus_core::{SliverIndex, SliverType};

/// A blob's encoding, handing out its slivers one at a time.
pub trait SliverSource: Send + Sync + 'static {
    /// The verified metadata (and blob ID).
    fn metadata(&self) -> &VerifiedBlobMetadataWithId;

    /// The bytes of sliver `index` on `axis`. May block on a read (call it off the async
    /// threads); the in-memory encoding shares its buffer without a copy.
    fn sliver(self: Arc<Self>, axis: SliverType, index: SliverIndex) -> std::io::Result<Bytes>;

    /// Whether the slivers are in memory already, so that sending them costs no more memory
    /// (otherwise each request's slivers are read into memory for it).
    fn held_in_memory(&self) -> bool {
        true
    }

    /// The length in bytes of every sliver on `axis`.
    fn sliver_len(&self, axis: SliverType) -> usize {
        let metadata = self.metadata();
        metadata.params().symbols_per_sliver(axis) * usize::from(metadata.symbol_size())
    }
}

impl SliverSource for EncodedBlob {
    fn metadata(&self) -> &VerifiedBlobMetadataWithId {
        EncodedBlob::metadata(self)
    }

    fn sliver(self: Arc<Self>, axis: SliverType, index: SliverIndex) -> std::io::Result<Bytes> {
        Ok(Bytes::from_owner(SliverSymbols { blob: self, axis, index }))
    }
}

/// One sliver's symbols inside an encoded blob, shared as the owner of a [`Bytes`].
struct SliverSymbols {
    blob: Arc<EncodedBlob>,
    axis: SliverType,
    index: SliverIndex,
}

impl AsRef<[u8]> for SliverSymbols {
    fn as_ref(&self) -> &[u8] {
        self.blob.sliver_bytes(self.axis, self.index)
    }
}
