//! Our quilts against the official encoder, live (`quilt.mjs` of the conformance kit, which
//! runs `@mysten/walrus`'s `encodeQuilt`): random file sets (counts, sizes, identifiers with
//! spaces, unicode and leading underscores, tags) at n = 4, 10, 100 and 1000 give the same blob
//! ID, size, column ranges and patch IDs. The committed vectors (`tests/vectors.rs`) cover fixed
//! cases without Node.js; this covers new ones on every run.
//!
//! Ignored by a plain `cargo test`; `.ci/run` runs it with `WALRUS_CONFORMANCE_DIR` set.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use walrus_core::encode::compute_metadata;
use walrus_core::quilt::{encode_quilt, PatchInput, QuiltPatchId, Tags};
use walrus_core::EncodingParams;

/// A file set: identifiers (unique), tags and sizes.
fn file_set(max_files: usize) -> impl Strategy<Value = Vec<(String, Tags, usize)>> {
    let identifier = "[a-zA-Z0-9_][a-zA-Z0-9 ._é日-]{0,12}[a-zA-Z0-9é日]";
    let tags = proptest::collection::btree_map("[a-z]{1,6}", "[a-zA-Z0-9 ü/]{0,10}", 0..3);
    let size = prop_oneof![0usize..20, 20usize..5_000, 5_000usize..200_000];
    proptest::collection::btree_map(identifier, (tags, size), 1..=max_files)
        .prop_map(|files| files.into_iter().map(|(id, (tags, size))| (id, tags, size)).collect())
}

/// The oracle's quilt of `files`, or its refusal's message.
fn oracle(dir: &Path, n: u64, files: &[(String, Tags, Vec<u8>)]) -> Result<serde_json::Value, String> {
    let work = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["--shards".to_string(), n.to_string(), "--out".into()];
    args.push(work.path().join("quilt.bin").to_str().expect("utf-8").into());
    let mut tags = serde_json::Map::new();
    for (i, (identifier, file_tags, data)) in files.iter().enumerate() {
        let path = work.path().join(format!("{i}.bin"));
        std::fs::write(&path, data).expect("write");
        args.push(format!("{identifier}={}", path.display()));
        tags.insert(identifier.clone(), serde_json::to_value(file_tags).expect("tags"));
    }
    let tags_path = work.path().join("tags.json");
    std::fs::write(&tags_path, serde_json::Value::Object(tags).to_string()).expect("write");
    args.extend(["--tags".into(), tags_path.to_str().expect("utf-8").into()]);
    let output = Command::new("node").arg(dir.join("quilt.mjs")).args(&args).output().expect("node runs");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&output.stdout).expect("JSON"))
}

#[test]
#[ignore = "needs the official packages: WALRUS_CONFORMANCE_DIR from ../shared/conformance/setup.sh (.ci/run sets it and runs the ignored tests)"]
fn random_quilts_equal_the_official_encoders() {
    let dir = std::env::var_os("WALRUS_CONFORMANCE_DIR").expect("WALRUS_CONFORMANCE_DIR is not set");
    let dir = Path::new(&dir);
    for (n, cases) in [(4u64, 6u32), (10, 8), (100, 6), (1000, 4)] {
        let params = EncodingParams::new(n).expect("n");
        let max_files = (params.secondary_source_symbols() - 1).min(30);
        let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
        runner
            .run(&file_set(max_files), |set| {
                let files: Vec<(String, Tags, Vec<u8>)> = set
                    .into_iter()
                    .enumerate()
                    .map(|(i, (id, tags, size))| {
                        (id, tags, walrus_core::splitmix::splitmix_bytes(i as u64 + n, size))
                    })
                    .collect();
                let inputs = files
                    .iter()
                    .map(|(identifier, tags, data)| PatchInput {
                        identifier: identifier.clone(),
                        tags: tags.clone(),
                        data,
                    })
                    .collect();
                let ours = encode_quilt(params, inputs);
                let theirs = match (oracle(dir, n, &files), &ours) {
                    // Too large for the shard count (n = 4 has 2 rows of 3 columns): both refuse.
                    (Err(refusal), Err(e)) => {
                        let both = refusal.contains("oversize") && e.to_string().contains("too large");
                        prop_assert!(both, "{} / {}", refusal, e);
                        return Ok(());
                    }
                    (Err(refusal), Ok(_)) => {
                        return Err(TestCaseError::fail(format!(
                            "n = {n}: the oracle refused what we took: {refusal}"
                        )))
                    }
                    (Ok(theirs), _) => theirs,
                };
                let ours = ours.map_err(|e| {
                    TestCaseError::fail(format!("n = {n}: we refused what the oracle took: {e}"))
                })?;
                let blob_id = *compute_metadata(params, &ours.blob).expect("metadata").blob_id();
                prop_assert_eq!(
                    blob_id.to_string(),
                    theirs["quiltBlobId"].as_str().expect("id"),
                    "n = {}",
                    n
                );
                prop_assert_eq!(ours.blob.len() as u64, theirs["size"].as_u64().expect("size"));
                let patches = theirs["patches"].as_array().expect("patches");
                prop_assert_eq!(patches.len(), ours.index.quilt_patches.len());
                for (patch, want) in ours.index.quilt_patches.iter().zip(patches) {
                    let id = QuiltPatchId {
                        quilt_id: blob_id,
                        start_index: patch.start_index,
                        end_index: patch.end_index,
                    };
                    prop_assert_eq!(
                        patch.identifier.as_str(),
                        want["identifier"].as_str().expect("identifier")
                    );
                    prop_assert_eq!(id.to_string(), want["patchId"].as_str().expect("patch ID"));
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("n = {n}: {e}"));
    }
}
