//! The layout against a vector of the official encoder, round trips, and the refusals.

use super::*;
use crate::encode::compute_metadata;
use crate::splitmix::splitmix_bytes;

fn params(n: u64) -> EncodingParams {
    EncodingParams::new(n).expect("valid n")
}

fn input<'a>(identifier: &str, tags: &[(&str, &str)], data: &'a [u8]) -> PatchInput<'a> {
    let tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    PatchInput { identifier: identifier.to_string(), tags, data }
}

/// `conformance/quilt.mjs --shards 10 a=hello b=world!!` with `b` tagged `{aa: 1, b: 2}`.
#[test]
fn a_small_quilt_is_the_official_encoders() {
    let quilt = encode_quilt(
        params(10),
        vec![input("b", &[("aa", "1"), ("b", "2")], b"world!!"), input("a", &[], b"hello")],
    )
    .expect("encodable");
    assert_eq!((quilt.symbol_size, quilt.blob.len()), (4, 112));
    let blob_id = *compute_metadata(params(10), &quilt.blob).expect("a blob").blob_id();
    assert_eq!(blob_id.to_string(), "wUCH78i1Gqzq_zCC4xHYGL04gytJhN_CIE-tOcTNRvk");
    let ranges: Vec<_> = quilt
        .index
        .quilt_patches
        .iter()
        .map(|p| (p.identifier.as_str(), p.start_index, p.end_index))
        .collect();
    assert_eq!(ranges, [("a", 2, 3), ("b", 3, 5)]);
    let ids: Vec<String> = quilt
        .index
        .quilt_patches
        .iter()
        .map(|p| {
            QuiltPatchId { quilt_id: blob_id, start_index: p.start_index, end_index: p.end_index }.to_string()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "wUCH78i1Gqzq_zCC4xHYGL04gytJhN_CIE-tOcTNRvkBAgADAA",
            "wUCH78i1Gqzq_zCC4xHYGL04gytJhN_CIE-tOcTNRvkBAwAFAA"
        ]
    );
    // Column 2 holds patch `a`: header (length 9, no tags), identifier, data.
    let blob = QuiltBlob::new(params(10), &quilt.blob).expect("aligned");
    assert_eq!(blob.read(2, 0, 16).expect("column 2"), b"\x01\x09\x00\x00\x00\x00\x02\x00\x01ahello\x00");
}

/// Every patch of a quilt reads back from the whole blob and from its own columns alone, with
/// its identifier and tags, at several shard counts and sizes.
#[test]
fn patches_read_back_from_the_blob_and_from_their_columns() {
    for (n, seed) in [(4u64, 1u64), (10, 2), (100, 3), (1000, 4)] {
        let sizes = [0usize, 1, 17, 300, 5_000, 70_000];
        let datas: Vec<Vec<u8>> =
            sizes.iter().enumerate().map(|(i, len)| splitmix_bytes(seed * 100 + i as u64, *len)).collect();
        let max = params(n).secondary_source_symbols() - 1;
        let inputs: Vec<PatchInput> = datas
            .iter()
            .enumerate()
            .take(max)
            .map(|(i, data)| {
                let tags: &[(&str, &str)] = if i % 2 == 0 { &[("kind", "even"), ("i", "x")] } else { &[] };
                input(&format!("file-{i}.bin"), tags, data)
            })
            .collect();
        let expected = inputs.clone();
        let quilt = encode_quilt(params(n), inputs).expect("encodable");
        let n_columns = params(n).secondary_source_symbols();
        let blob = QuiltBlob::new(params(n), &quilt.blob).expect("aligned");
        let index = decode_index(&blob, n_columns).expect("index");
        assert_eq!(index, quilt.index, "n = {n}");
        let columns: Vec<Vec<u8>> =
            (0..n_columns).map(|c| blob.read(c, 0, blob.column_bytes()).expect("column")).collect();
        for (patch, wanted) in index.quilt_patches.iter().zip(&expected) {
            assert_eq!(patch.identifier, wanted.identifier);
            let from_blob = decode_patch(&blob, patch.start_index).expect("patch");
            let own = QuiltColumns {
                columns: (patch.start_index..patch.end_index)
                    .map(|c| (c, columns[usize::from(c)].as_slice()))
                    .collect(),
            };
            let from_columns = decode_patch(&own, patch.start_index).expect("patch from its columns");
            assert_eq!(from_blob, from_columns);
            assert_eq!((from_blob.data.as_slice(), &from_blob.tags), (wanted.data, &wanted.tags), "n = {n}");
        }
        // The index alone, from its columns, and a read that lacks one says which.
        let first = QuiltColumns { columns: [(0u16, columns[0].as_slice())].into_iter().collect() };
        match decode_index(&first, n_columns) {
            Ok(index) => assert_eq!(index, quilt.index),
            Err(QuiltError::MissingColumns(missing)) => assert_eq!(missing[0], 1),
            Err(e) => panic!("n = {n}: {e}"),
        }
    }
}

#[test]
fn bad_identifiers_duplicates_and_too_many_patches_are_refused() {
    let data = b"x".as_slice();
    let refused =
        |inputs: Vec<PatchInput>| encode_quilt(params(10), inputs).expect_err("refused").to_string();
    assert_eq!(refused(vec![input("", &[], data)]), "invalid identifier: identifier is empty");
    assert_eq!(
        refused(vec![input("a ", &[], data)]),
        "invalid identifier: identifier contains trailing whitespace: a "
    );
    assert!(refused(vec![input("a\u{7}b", &[], data)]).contains("control characters"));
    assert_eq!(refused(vec![input("a", &[], data), input("a", &[], data)]), "duplicate identifier found: a");
    // n = 10: 7 columns, the index takes at least one.
    let many: Vec<PatchInput> = (0..7).map(|i| input(&format!("p{i}"), &[], data)).collect();
    assert_eq!(refused(many), "too many blobs to fit in the quilt: 7 > max number of blobs: 6");
    let six: Vec<PatchInput> = (0..6).map(|i| input(&format!("p{i}"), &[], data)).collect();
    assert!(encode_quilt(params(10), six).is_ok());
    // Leading underscores and inner spaces are fine in the core (the gateway reserves `_`).
    assert!(encode_quilt(params(10), vec![input("_a b", &[], data)]).is_ok());
    let huge = "v".repeat(70_000);
    let tags = [("k", huge.as_str())];
    assert!(refused(vec![input("a", &tags, data)]).contains("more than 65535"));
}

#[test]
fn patch_ids_round_trip_and_bad_ones_are_refused() {
    let id = QuiltPatchId { quilt_id: BlobId([7; 32]), start_index: 1, end_index: 208 };
    let text = id.to_string();
    assert_eq!(text.len(), 50);
    assert!(text.ends_with("BAQDQAA"), "{text}");
    assert_eq!(text.parse::<QuiltPatchId>().expect("parses"), id);
    for bad in ["", "abc", &text[..49], &format!("{text}A"), &BlobId([7; 32]).to_string()] {
        assert!(bad.parse::<QuiltPatchId>().is_err(), "{bad}");
    }
    let backwards = QuiltPatchId { quilt_id: BlobId([7; 32]), start_index: 5, end_index: 5 };
    assert!(backwards.to_string().parse::<QuiltPatchId>().is_err());
}

#[test]
fn a_blob_that_is_not_a_quilt_is_refused_without_a_panic() {
    assert!(matches!(QuiltBlob::new(params(10), &[]), Err(QuiltError::NotAligned { .. })));
    assert!(matches!(QuiltBlob::new(params(10), &[1; 29]), Err(QuiltError::NotAligned { .. })));
    for seed in 0..200u64 {
        let junk = splitmix_bytes(seed, 28 * (1 + seed as usize % 4));
        let blob = QuiltBlob::new(params(10), &junk).expect("aligned");
        if let Ok(index) = decode_index(&blob, 7) {
            for patch in &index.quilt_patches {
                let _ = decode_patch(&blob, patch.start_index);
            }
        }
        for column in 0..7 {
            let _ = decode_patch(&blob, column);
        }
    }
}
