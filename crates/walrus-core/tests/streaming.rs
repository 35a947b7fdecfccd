//! The streaming encoder against the in-memory one: the same metadata (blob ID) and the same
//! bytes for every sliver, at many sizes, shard counts and chunk sizes.

use std::sync::Mutex;

use walrus_core::encode::encode_blob;
use walrus_core::encode::stream::{in_memory_bytes, EncodeIo, PlanError, Scratch, StreamLayout};
use walrus_core::{EncodingParams, SliverIndex, SliverType};

/// A blob and its scratch areas in memory.
struct MemoryIo {
    blob: Vec<u8>,
    columns: Mutex<Vec<u8>>,
    rows: Mutex<Vec<u8>>,
}

impl MemoryIo {
    fn new(blob: Vec<u8>, layout: &StreamLayout) -> Self {
        MemoryIo {
            blob,
            columns: Mutex::new(vec![0xAA; layout.scratch_len(Scratch::Columns) as usize]),
            rows: Mutex::new(vec![0xAA; layout.scratch_len(Scratch::Rows) as usize]),
        }
    }

    fn area(&self, area: Scratch) -> &Mutex<Vec<u8>> {
        match area {
            Scratch::Columns => &self.columns,
            Scratch::Rows => &self.rows,
        }
    }
}

impl EncodeIo for MemoryIo {
    type Error = String;

    fn read_blob(&self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
        let at = offset as usize;
        let bytes = self.blob.get(at..at + buf.len()).ok_or(format!("read past the blob at {at}"))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn read_scratch(&self, area: Scratch, offset: u64, buf: &mut [u8]) -> Result<(), String> {
        let data = self.area(area).lock().map_err(|e| e.to_string())?;
        let at = offset as usize;
        buf.copy_from_slice(data.get(at..at + buf.len()).ok_or(format!("read past {area:?}"))?);
        Ok(())
    }

    fn write_scratch(&self, area: Scratch, offset: u64, data: &[u8]) -> Result<(), String> {
        let mut scratch = self.area(area).lock().map_err(|e| e.to_string())?;
        let at = offset as usize;
        scratch.get_mut(at..at + data.len()).ok_or(format!("write past {area:?}"))?.copy_from_slice(data);
        Ok(())
    }
}

fn blob(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// Streams `len` bytes at `n` shards with `lines` per chunk and compares everything.
fn check(n: u64, len: usize, lines: usize) {
    let params = EncodingParams::new(n).expect("params");
    let data = blob(len);
    let expected = encode_blob(params, &data).expect("in memory");
    let layout = StreamLayout::new(params, len as u64, usize::MAX / 2, 2).expect("plan").with_lines(lines);
    let io = MemoryIo::new(data, &layout);
    let metadata = layout.encode(&io, true).expect("streamed");
    assert_eq!(metadata, *expected.metadata(), "metadata, n {n}, len {len}, lines {lines}");
    let blob_id_only = layout.encode(&io, false).expect("streamed without slivers");
    assert_eq!(blob_id_only.blob_id(), expected.metadata().blob_id());
    for axis in [SliverType::Primary, SliverType::Secondary] {
        for i in 0..n as u16 {
            let index = SliverIndex(i);
            let sliver = layout.read_sliver(&io, axis, index).expect("read back");
            assert!(
                sliver == expected.sliver_bytes(axis, index),
                "{axis:?} {i}, n {n}, len {len}, lines {lines}"
            );
        }
    }
}

#[test]
fn streamed_slivers_and_metadata_equal_the_in_memory_encoders() {
    for (n, len, lines) in [
        (4, 0, 1),
        (4, 1, 1),
        (7, 31, 2),
        (10, 5_000, 1),
        (10, 5_000, 3),
        (10, 5_001, 4),
        (10, 5_001, 10),
        (100, 100_000, 1),
        (100, 1_000_000, 7),
        (100, 999_999, 33),
        (300, 2_000_000, 50),
    ] {
        check(n, len, lines);
    }
}

#[test]
fn a_chunk_per_budget() {
    let params = EncodingParams::new(1000).expect("params");
    let len = 4u64 << 30;
    let error = StreamLayout::new(params, len, 16 << 20, 2).expect_err("too small");
    assert!(
        matches!(error, PlanError::BudgetTooSmall { budget, needed } if budget == 16 << 20 && needed > budget)
    );
    let layout = StreamLayout::new(params, len, 256 << 20, 2).expect("fits");
    let s = layout.symbol_size();
    // Two tasks of work leave room for a few lines of n symbols each.
    assert!(layout.lines_per_chunk() >= 4, "{} lines of {} bytes", layout.lines_per_chunk(), 1000 * s);
    assert!(layout.lines_per_chunk() * 1000 * s < 256 << 20);
    let whole = in_memory_bytes(params, len, 2).expect("size");
    assert!(whole > 5 * len && whole < 6 * len, "{whole}");
    assert!(StreamLayout::new(params, params.max_blob_size() + 1, 1 << 30, 2).is_err());
}

/// Every golden vector of the official encoder (up to 64 MiB at n = 1000), streamed in chunks
/// of a few lines: the same blob IDs.
#[test]
fn streamed_blob_ids_equal_the_official_encoders() {
    let path = format!("{}/tests/vectors/blob_ids.json", env!("CARGO_MANIFEST_DIR"));
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    let mut checked = 0;
    for case in vectors["cases"].as_array().expect("cases") {
        if case["input"]["kind"] != "splitmix" {
            continue;
        }
        let n = case["n"].as_u64().expect("n");
        let size = case["size"].as_u64().expect("size") as usize;
        let seed = case["input"]["seed"].as_u64().expect("seed");
        let params = EncodingParams::new(n).expect("params");
        let layout = StreamLayout::new(params, size as u64, usize::MAX / 2, 2).expect("plan").with_lines(7);
        let io = MemoryIo::new(walrus_core::splitmix::splitmix_bytes(seed, size), &layout);
        let metadata = layout.encode(&io, false).expect("streamed");
        assert_eq!(
            metadata.blob_id().to_string(),
            case["blobId"].as_str().expect("blob ID"),
            "n {n}, {size} B"
        );
        checked += 1;
    }
    assert!(checked > 30, "only {checked} vectors");
}
