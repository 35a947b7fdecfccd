//! An inconsistency proof from another storage node: the BCS `InconsistencyProof` body of
//! `POST /v1/blobs/{blob_id}/inconsistencyProof/{axis}` (`walrus_node::api::inconsistency_proof`),
//! verified against the blob's stored metadata for the axis of the URL; a proof that holds makes
//! the node sign that the blob is invalid.
//!
//! The first byte picks the axis; the rest is the body. Decoding is canonical. The fixture blob
//! is consistently encoded, so no proof against it may verify.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::inconsistency::InconsistencyProof;
use walrus_core::SliverType;
use walrus_fuzz::metadata;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let axis = if first % 2 == 0 { SliverType::Primary } else { SliverType::Secondary };
    let Ok(proof) = bcs::from_bytes::<InconsistencyProof>(body) else { return };
    assert_eq!(bcs::to_bytes(&proof).expect("a decoded proof encodes"), body);
    assert!(proof.verify(axis, metadata()).is_err(), "a consistent blob is proven inconsistent: {proof:?}");
});
