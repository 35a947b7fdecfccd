//! One sliver from a client: the BCS `UnverifiedSliver` body of
//! `PUT /v1/blobs/{blob_id}/slivers/{pair}/{axis}` (`walrus_node::api::put_sliver`), verified
//! against the blob's metadata on the axis of the URL. Clients decode the same form from
//! `GET` of that path.
//!
//! Decoding is canonical: a decoded sliver re-encodes, borrowed or owned, to the input bytes and
//! decodes again to itself. The only slivers that verify against the fixture's metadata are its
//! encoder's own, and a verified sliver keeps its wire form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::sliver::UnverifiedSliver;
use walrus_core::SliverType;
use walrus_fuzz::{blob, metadata};

fuzz_target!(|data: &[u8]| {
    let Ok(sliver) = bcs::from_bytes::<UnverifiedSliver>(data) else { return };
    let bytes = bcs::to_bytes(&sliver).expect("a decoded sliver encodes");
    assert_eq!(bytes, data);
    assert_eq!(bcs::to_bytes(&sliver.as_ref()).expect("a borrowed sliver encodes"), data);
    let again: UnverifiedSliver = bcs::from_bytes(&bytes).expect("a re-encoded sliver decodes");
    assert_eq!(again, sliver);

    for axis in [SliverType::Primary, SliverType::Secondary] {
        let Ok(verified) = sliver.clone().verify(axis, metadata()) else { continue };
        assert_eq!(verified.data(), blob().sliver_bytes(axis, verified.index()));
        assert_eq!(verified.to_bcs(), data);
        assert_eq!(verified.into_unverified(), sliver);
    }
});
