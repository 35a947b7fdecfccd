//! Blob metadata from clients and peers: the BCS `BlobMetadata` body of
//! `PUT /v1/blobs/{blob_id}/metadata` (`walrus_node::api::put_metadata`, verified against the blob
//! ID of the path and the node's shard count), and the BCS `UnverifiedBlobMetadataWithId` that a
//! node takes from a peer's `GET /v1/blobs/{blob_id}/metadata`
//! (`walrus_node::recovery::metadata_from_anywhere`) and a client from any node
//! (`walrus_sdk::node_client::NodeClient::metadata`).
//!
//! The first byte picks the shard count (4 to 67); the rest is the body. BCS decoding is
//! canonical, so whatever decodes re-encodes to the same bytes, and metadata that verifies keeps
//! its wire form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::metadata::{BlobMetadata, UnverifiedBlobMetadataWithId};
use walrus_core::EncodingParams;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let Ok(params) = EncodingParams::new(4 + u64::from(first % 64)) else { return };

    // The upload, as the handler checks it. The claimed ID is the one the hashes commit to, so
    // that verification gets past the ID check (a wrong ID is refused, and nothing else is
    // learnt from it) to the pair count and the length bound.
    if let Ok(metadata) = bcs::from_bytes::<BlobMetadata>(body) {
        assert_eq!(bcs::to_bytes(&metadata).expect("decoded metadata encodes"), body);
        let blob_id = metadata.compute_blob_id();
        if let Ok(verified) = UnverifiedBlobMetadataWithId::new(blob_id, metadata).verify(params) {
            assert_eq!(verified.metadata_bcs(), body);
            let wire = verified.to_bcs();
            let back: UnverifiedBlobMetadataWithId = bcs::from_bytes(&wire).expect("to_bcs decodes");
            assert_eq!(back.verify(params), Ok(verified));
        }
    }

    // The download: the ID comes with the metadata.
    if let Ok(unverified) = bcs::from_bytes::<UnverifiedBlobMetadataWithId>(body) {
        assert_eq!(bcs::to_bytes(&unverified).expect("decoded metadata encodes"), body);
        if let Ok(verified) = unverified.verify(params) {
            assert_eq!(verified.to_bcs(), body);
        }
    }
});
