//! The batch upload body of `PUT /v1/blobs/{blob_id}/slivers` (`walrus_node::batch::put_slivers`):
//! `walrus_core::sliver::parse_uploads`, which parses a BCS `Vec<SliverUpload>` in place, then
//! `verify_uploads` against the blob's metadata.
//!
//! `parse_uploads` promises to accept exactly what `bcs::from_bytes::<Vec<SliverUpload>>`
//! accepts, with the same entries, and each entry's `bcs` to be that sliver's own BCS (what the
//! node stores and serves). An entry verifies only if it is the fixture encoder's own sliver.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::sliver::{parse_uploads, verify_uploads, SliverUpload};
use walrus_fuzz::{blob, metadata};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_uploads(data);
    let owned = bcs::from_bytes::<Vec<SliverUpload>>(data);
    let entries = match (parsed, owned) {
        (Ok(entries), Ok(uploads)) => {
            assert_eq!(entries.len(), uploads.len());
            for (entry, upload) in entries.iter().zip(&uploads) {
                assert_eq!((entry.pair, entry.axis), (upload.pair, upload.axis));
                assert_eq!(entry.sliver, upload.sliver.as_ref());
                assert_eq!(entry.bcs, bcs::to_bytes(&upload.sliver).expect("a sliver encodes"));
            }
            entries
        }
        (Err(_), Err(_)) => return,
        (Ok(entries), Err(e)) => {
            panic!("parse_uploads takes {} entries that BCS refuses: {e}", entries.len())
        }
        (Err(e), Ok(uploads)) => {
            panic!("parse_uploads refuses {} entries that BCS takes: {e}", uploads.len())
        }
    };

    let results = verify_uploads(metadata(), &entries);
    assert_eq!(results.len(), entries.len());
    for (entry, result) in entries.iter().zip(results) {
        let Ok(verified) = result else { continue };
        assert_eq!(
            (verified.axis(), verified.index(), verified.bcs()),
            (entry.axis, entry.sliver.index, entry.bcs)
        );
        assert_eq!(entry.sliver.data, blob().sliver_bytes(entry.axis, entry.sliver.index));
    }
});
