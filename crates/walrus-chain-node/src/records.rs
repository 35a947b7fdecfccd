//! `GET /v1/records?keys=T:hex,...[&min_height=H]`: records with the proof a light client
//! checks (`walrus_chain_client::records`).
//!
//! The records and their buckets' proofs are read from the newest executed state, at height
//! `h`; they are valid under a finalized block once one commits to a state with the same
//! records root: the state at `h` itself a block or two later, or an older one if no block
//! wrote records since (an idle chain). The handler waits for that, up to [`RECORDS_WAIT`],
//! and reads the records again if the chain commits past `h` without committing to it.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use walrus_chain::records::{bucket_of, BucketProof, Tag};
use walrus_chain_client::wire::{parse_record_key, RecordValue, RecordsProofView, RECORD_KEYS_MAX};
use walrus_core::hash::Digest;

use crate::rpc::{find_state_proof, ApiError, Rpc};

/// Longest a records request waits for a finalized block to commit to the records it read
/// (or for the chain to reach `min_height`).
pub const RECORDS_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
pub(crate) struct RecordsQuery {
    keys: String,
    min_height: Option<u64>,
}

/// The records and bucket proofs read from one state.
struct Read {
    height: u64,
    root: Digest,
    buckets: Vec<BucketProof>,
    values: Vec<RecordValue>,
}

fn parse_keys(text: &str) -> Result<Vec<(Tag, [u8; 32])>, ApiError> {
    let keys: Vec<&str> = text.split(',').filter(|k| !k.is_empty()).collect();
    if keys.is_empty() || keys.len() > RECORD_KEYS_MAX {
        return Err(ApiError::bad_request(
            "InvalidParameter",
            format!("ask for 1 to {RECORD_KEYS_MAX} records, not {}", keys.len()),
        ));
    }
    keys.into_iter()
        .map(|key| {
            parse_record_key(key).ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidParameter",
                    format!("record {key:?} is not T:<64 hex digits> with T one of A B I O Q"),
                )
            })
        })
        .collect()
}

/// Reads `keys` and their buckets' proofs from the newest state.
fn read(rpc: &Rpc, keys: &[(Tag, [u8; 32])]) -> Read {
    let state = rpc.chain.state();
    let values = keys
        .iter()
        .map(|(tag, key)| RecordValue {
            tag: *tag,
            key: hex::encode(key),
            value: state.record_value(*tag, key).map(hex::encode),
        })
        .collect();
    let buckets: BTreeSet<usize> = keys.iter().map(|(_, key)| bucket_of(key)).collect();
    let buckets = buckets.into_iter().map(|bucket| state.records.prove(bucket)).collect();
    Read { height: state.height, root: state.records.root(), buckets, values }
}

pub(crate) async fn records(
    State(rpc): State<Rpc>,
    Query(query): Query<RecordsQuery>,
) -> Result<Json<RecordsProofView>, ApiError> {
    let keys = parse_keys(&query.keys)?;
    let deadline = tokio::time::Instant::now() + RECORDS_WAIT;
    let late = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NotProvenYet",
            format!("no finalized block committed to the records read within {RECORDS_WAIT:?}"),
        )
    };
    let mut head = rpc.chain.head();
    let min_height = query.min_height.unwrap_or(0);
    while head.borrow_and_update().0 < min_height {
        if !matches!(tokio::time::timeout_at(deadline, head.changed()).await, Ok(Ok(()))) {
            return Err(late());
        }
    }
    let mut read = read(&rpc, &keys);
    loop {
        // Marked seen before looking, so that a block executed meanwhile wakes the wait below.
        head.borrow_and_update();
        if let Some(state) = find_state_proof(&rpc, Some(read.height), false).await? {
            // The client refuses a state older than `min_height`, even with the same records.
            if state.header.records_root == read.root && state.header.height >= min_height {
                let Read { buckets, values, .. } = read;
                return Ok(Json(RecordsProofView { state, buckets, values }));
            }
        }
        // Committed past the height read without committing to it: read again.
        let newest = find_state_proof(&rpc, None, false).await?;
        if newest.is_some_and(|newest| newest.header.height > read.height) {
            if tokio::time::Instant::now() >= deadline {
                return Err(late());
            }
            read = self::read(&rpc, &keys);
            continue;
        }
        if !matches!(tokio::time::timeout_at(deadline, head.changed()).await, Ok(Ok(()))) {
            return Err(late());
        }
    }
}
