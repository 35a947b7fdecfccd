//! The storage node's side of storage challenges (docs/challenges.md): the serving [`Gate`] (the
//! pre-pause, the freeze and the staleness guard), the prover ([`prove`]) and the verifier
//! ([`Verifier`], behind `POST /v1/challenges/{epoch}/items`).
//!
//! The gate is what makes relaying useless: while the blobs are being drawn no sliver or symbol
//! of any blob leaves an honest node, and until the deadline none of a drawn blob's, to any
//! caller; a node that lost a pair cannot rebuild it from its peers in time, so it says
//! `Missing` and takes the graded loss. The epoch driver feeds the gate what it reads of the
//! chain every few seconds ([`Gate::observe`]); a node that has not read the chain for an
//! eighth of an epoch cannot tell whether a challenge runs, and serves no sliver until it has.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use walrus_chain::challenge::{schedule, Schedule};
use walrus_chain::system::System;
use walrus_chain::Call;
use walrus_core::challenge::{
    chunk_digest, item_position, prove_item, set_bit, verify_item, ChallengeChunk, ChallengeItem,
    ChallengeResult, ChallengedBlob,
};
use walrus_core::hash::Digest;
use walrus_core::keys::BlsSignature;
use walrus_core::messages::{signers_to_bitmap, ProtocolMessage, SignedMessage};
use walrus_core::metadata::VerifiedBlobMetadataWithId;
use walrus_core::{BlobId, Epoch, ObjectId, ShardIndex, SliverType};
use walrus_node_client::client::CHALLENGE_ITEMS_BYTES_MAX;
use walrus_node_client::ChallengeAnswer;

use crate::node::Node;
use crate::service::ServiceError;

/// How far this node's clock may be from the chain's block times.
pub const CLOCK_SKEW_MS: u64 = 2_000;
/// The shortest staleness that pauses serving (an eighth of the epoch when that is longer).
pub const STALE_MIN_MS: u64 = 10_000;
/// Pause between two rounds of asking verifiers.
const ASK_PAUSE: Duration = Duration::from_secs(2);

/// A started challenge as this node read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The epoch.
    pub epoch: Epoch,
    /// The seed.
    pub seed: Digest,
    /// The drawn blobs.
    pub blobs: Vec<ChallengedBlob>,
    /// Certificates are taken until this block time.
    pub deadline_ms: u64,
}

#[derive(Debug, Default)]
struct GateState {
    observed_at_ms: Option<u64>,
    epoch_duration_ms: u64,
    enabled: bool,
    schedule: Option<Schedule>,
    started: Option<Started>,
}

/// Why a sliver is not served now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paused {
    /// When to ask again, in seconds.
    pub retry_after_s: u64,
}

/// What the node may serve while challenges run.
#[derive(Debug, Default)]
pub struct Gate(Mutex<GateState>);

impl Gate {
    /// Takes in the chain's system object, read at `now_ms` (this node's clock).
    pub fn observe(&self, system: &System, now_ms: u64) {
        let started = system.round.challenge.as_ref().map(|c| Started {
            epoch: system.epoch(),
            seed: c.seed,
            blobs: c.blobs.clone(),
            deadline_ms: c.deadline_ms,
        });
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = GateState {
            observed_at_ms: Some(now_ms),
            epoch_duration_ms: system.params.epoch_duration_ms,
            enabled: system.params.challenge.blobs > 0,
            schedule: schedule(system),
            started,
        };
    }

    /// The current epoch's challenge, once started.
    pub fn started(&self) -> Option<Started> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).started.clone()
    }

    /// Whether slivers and symbols of `blob_id` (of every blob: `None`, as a shard sync) may be
    /// served at `now_ms`.
    pub fn check(&self, blob_id: Option<&BlobId>, now_ms: u64) -> Result<(), Paused> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(observed) = state.observed_at_ms else { return Err(Paused { retry_after_s: 2 }) };
        let stale_after = (state.epoch_duration_ms / 8).max(STALE_MIN_MS);
        if now_ms.saturating_sub(observed) > stale_after {
            return Err(Paused { retry_after_s: 5 });
        }
        if !state.enabled {
            return Ok(());
        }
        if let Some(started) = &state.started {
            let frozen = now_ms <= started.deadline_ms.saturating_add(CLOCK_SKEW_MS)
                && blob_id.is_none_or(|id| started.blobs.iter().any(|b| b.blob_id == *id));
            let retry_after_s = started.deadline_ms.saturating_sub(now_ms) / 1000 + 3;
            return if frozen { Err(Paused { retry_after_s }) } else { Ok(()) };
        }
        // Drawing: nobody knows the blobs yet, so none is served.
        let drawing = state.schedule.is_some_and(|s| {
            now_ms.saturating_add(CLOCK_SKEW_MS) >= s.reveal_open_ms
                && now_ms <= s.deadline_ms.saturating_add(CLOCK_SKEW_MS)
        });
        if drawing {
            return Err(Paused { retry_after_s: 2 });
        }
        Ok(())
    }

    /// A short description for the health report: `idle`, `drawing` or `frozen`.
    pub fn phase(&self, now_ms: u64) -> &'static str {
        let frozen_some =
            self.started().is_some_and(|s| now_ms <= s.deadline_ms.saturating_add(CLOCK_SKEW_MS));
        match self.check(None, now_ms) {
            Ok(()) => "idle",
            Err(_) if frozen_some => "frozen",
            Err(_) => "drawing",
        }
    }
}

/// The node's clock, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Refuses serving `blob_id`'s slivers or symbols (every blob's: `None`) while the gate says so.
pub fn gate(node: &Node, blob_id: Option<&BlobId>) -> Result<(), ServiceError> {
    if !node.config.challenge_freeze {
        return Ok(());
    }
    node.challenge.check(blob_id, now_ms()).map_err(|paused| {
        node.metrics.count_challenge_refusal();
        ServiceError::ChallengeInProgress { retry_after_s: paused.retry_after_s }
    })
}

/// A prover's items as one verifier tallies them.
#[derive(Debug)]
struct Tally {
    received: Vec<u8>,
    passed: Vec<u8>,
    n_items: usize,
}

/// The verifier's state for the current challenge: per prover, which of its items arrived and
/// passed, and the drawn blobs' metadata, checked once.
#[derive(Debug, Default)]
struct VerifierState {
    seed: Option<Digest>,
    tallies: BTreeMap<ObjectId, Tally>,
    metadata: BTreeMap<BlobId, Arc<VerifiedBlobMetadataWithId>>,
}

/// The verifier. Only a prover's own signed chunks count, and bits only ever turn on; the
/// state is bounded by the committee's size times its items, and the drawn blobs' metadata.
#[derive(Debug, Default)]
pub struct Verifier(Mutex<VerifierState>);

impl Verifier {
    /// The drawn blob's metadata, checked once per challenge.
    fn metadata(
        &self,
        node: &Node,
        seed: &Digest,
        blob_id: &BlobId,
    ) -> Result<Arc<VerifiedBlobMetadataWithId>, ServiceError> {
        {
            let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if state.seed != Some(*seed) {
                *state = VerifierState { seed: Some(*seed), ..VerifierState::default() };
            }
            if let Some(known) = state.metadata.get(blob_id) {
                return Ok(Arc::clone(known));
            }
        }
        let checked = Arc::new(crate::service::stored_metadata(node, blob_id)?);
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if state.seed == Some(*seed) {
            state.metadata.insert(*blob_id, Arc::clone(&checked));
        }
        Ok(checked)
    }

    /// Checks a chunk of `prover`'s items (signed by it) against this node's metadata and
    /// tallies them; once all are in, signs the result. Refused after the deadline.
    pub fn receive(
        &self,
        node: &Node,
        epoch: Epoch,
        prover: ObjectId,
        chunk: &ChallengeChunk,
    ) -> Result<ChallengeAnswer, ServiceError> {
        let started = node
            .challenge
            .started()
            .filter(|s| s.epoch == epoch)
            .ok_or(ServiceError::ChallengeUnknown(epoch))?;
        if now_ms() > started.deadline_ms.saturating_add(CLOCK_SKEW_MS) {
            return Err(ServiceError::ChallengeOver(epoch));
        }
        let view = node.view();
        let member = view.committee.members.iter().find(|m| m.node_id == prover);
        let member = member.ok_or(ServiceError::ProverNotInCommittee(prover))?;
        let digest = chunk_digest(epoch, &prover, &started.seed, &chunk.items);
        member.public_key.verify(&digest, &chunk.signature).map_err(|_| ServiceError::ChallengeSignature)?;
        let mut shards = member.shards.clone();
        shards.sort_unstable();
        let n_items = started.blobs.len() * shards.len();
        // Verified outside the lock: a chunk costs a few thousand Merkle paths.
        let mut outcomes = Vec::with_capacity(chunk.items.len());
        for item in &chunk.items {
            let blob =
                started.blobs.get(usize::from(item.blob_index)).ok_or(ServiceError::InvalidChallengeItem)?;
            let position = item_position(item.blob_index, item.shard, &shards)
                .ok_or(ServiceError::InvalidChallengeItem)?;
            let metadata = self.metadata(node, &started.seed, &blob.blob_id)?;
            outcomes.push((position, verify_item(&started.seed, blob, &metadata, item.shard, item)));
        }
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if state.seed != Some(started.seed) {
            *state = VerifierState { seed: Some(started.seed), ..VerifierState::default() };
        }
        let bytes = n_items.div_ceil(8);
        let tally = state.tallies.entry(prover).or_insert_with(|| Tally {
            received: vec![0; bytes],
            passed: vec![0; bytes],
            n_items,
        });
        for (position, ok) in outcomes {
            set_bit(&mut tally.received, position);
            if ok {
                set_bit(&mut tally.passed, position);
            }
        }
        let count = |bits: &[u8]| bits.iter().map(|b| u64::from(b.count_ones())).sum::<u64>();
        let (received, passed) = (count(&tally.received), count(&tally.passed));
        let signed = (received == tally.n_items as u64).then(|| {
            let n_items = u32::try_from(tally.n_items).unwrap_or(u32::MAX);
            let result = ChallengeResult {
                node_id: prover,
                seed: started.seed,
                n_items,
                passed: tally.passed.clone(),
            };
            SignedMessage::sign(&node.bls, &ProtocolMessage::new(epoch, result))
        });
        Ok(ChallengeAnswer { received, expected: tally.n_items as u64, passed, signed })
    }
}

/// This node's items for a started challenge, in canonical order: for each drawn blob, each of
/// its shards' pair proved from the stored slivers (verified first), or `Missing`.
fn build_items(
    node: &Node,
    started: &Started,
    shards: &[ShardIndex],
) -> Result<Vec<ChallengeItem>, ServiceError> {
    let params = node.view().params;
    let mut items = Vec::with_capacity(started.blobs.len() * shards.len());
    for (index, blob) in started.blobs.iter().enumerate() {
        let metadata = crate::service::stored_metadata(node, &blob.blob_id).ok();
        for &shard in shards {
            let read = |axis: SliverType| {
                let metadata = metadata.as_ref()?;
                let sliver = node.store.sliver(shard, axis, &blob.blob_id).ok()??;
                sliver.verify(axis, metadata).ok()
            };
            let (primary, secondary) = (read(SliverType::Primary), read(SliverType::Secondary));
            let slivers = primary.as_ref().zip(secondary.as_ref()).map(|(p, s)| (p.data(), s.data()));
            let item = prove_item(params, &started.seed, index as u16, blob, shard, slivers)
                .map_err(|e| ServiceError::Task(format!("challenge proof: {e}")))?;
            items.push(item);
        }
    }
    Ok(items)
}

/// Splits items into request bodies of at most [`CHALLENGE_ITEMS_BYTES_MAX`] (estimated),
/// moving them (the bundle is held once, not twice).
fn chunks(items: Vec<ChallengeItem>) -> Vec<Vec<ChallengeItem>> {
    let size = |item: &ChallengeItem| bcs::serialized_size(item).unwrap_or(CHALLENGE_ITEMS_BYTES_MAX);
    let budget = CHALLENGE_ITEMS_BYTES_MAX - 1024;
    let mut out = Vec::new();
    let (mut current, mut bytes) = (Vec::new(), 0);
    for item in items {
        let s = size(&item);
        if !current.is_empty() && bytes + s > budget {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += s;
        current.push(item);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Proves this node's items of `started`, has every committee member verify them, and submits
/// the certificate once signatures over one result cover a quorum of shards; gives up at the
/// deadline.
pub async fn prove(node: Arc<Node>, started: Started) {
    let view = node.view();
    let Some(me) = view.committee.members.iter().find(|m| m.public_key == *node.bls.public()).cloned() else {
        return;
    };
    let prover = me.node_id;
    let mut shards = me.shards.clone();
    shards.sort_unstable();
    heal_missing(&node, &started, &shards).await;
    let (worker, task, owned) = (Arc::clone(&node), started.clone(), shards.clone());
    let items = match crate::api::blocking(move || build_items(&worker, &task, &owned)).await {
        Ok(items) => items,
        Err(e) => {
            return tracing::error!("challenge of epoch {}: cannot build the items: {e}", started.epoch)
        }
    };
    let missing =
        items.iter().filter(|i| matches!(i.response, walrus_core::challenge::ItemResponse::Missing)).count();
    node.metrics.record_challenge_items(items.len() as u64, missing as u64);
    tracing::info!("challenge of epoch {}: {} items, {missing} missing", started.epoch, items.len());
    // Each chunk signed, so that only this node's items count in its tallies.
    let signed_chunks: Arc<Vec<ChallengeChunk>> = Arc::new(
        chunks(items)
            .into_iter()
            .map(|part| {
                let digest = chunk_digest(started.epoch, &prover, &started.seed, &part);
                ChallengeChunk { items: part, signature: node.bls.sign(&digest) }
            })
            .collect(),
    );
    let quorum = walrus_core::params::Quorum::new(usize::from(view.params.n_shards()));
    let mut signatures: BTreeMap<Vec<u8>, BTreeMap<u16, BlsSignature>> = BTreeMap::new();
    while now_ms() <= started.deadline_ms {
        let mut asks = tokio::task::JoinSet::new();
        for (index, member) in view.committee.members.iter().enumerate() {
            if signatures.values().any(|by| by.contains_key(&(index as u16))) {
                continue;
            }
            let (node, member, chunks) = (Arc::clone(&node), member.clone(), Arc::clone(&signed_chunks));
            let epoch = started.epoch;
            asks.spawn(async move {
                let client = crate::recovery::peer(&node, &crate::follower::PeerAddress::of(&member));
                // The verifier's signature counts only if every chunk of this round arrived.
                let mut last = None;
                for chunk in chunks.iter() {
                    let answer = client.challenge_items(epoch, prover, chunk).await;
                    let failed = answer.is_err();
                    last = Some(answer);
                    if failed {
                        break;
                    }
                }
                (index as u16, member.public_key, last)
            });
        }
        while let Some(joined) = asks.join_next().await {
            let Ok((index, key, Some(Ok(answer)))) = joined else { continue };
            let Some(signed) = answer.signed else { continue };
            if key.verify(&signed.serialized_message, &signed.signature).is_ok() {
                signatures.entry(signed.serialized_message).or_default().insert(index, signed.signature);
            }
        }
        let weight = |by: &BTreeMap<u16, BlsSignature>| {
            by.keys().map(|&i| view.committee.members[usize::from(i)].weight() as usize).sum::<usize>()
        };
        if let Some((message, by)) =
            signatures.iter().find(|(_, by)| quorum.is_certificate_quorum(weight(by)))
        {
            let members: Vec<u16> = by.keys().copied().collect();
            let sigs: Vec<BlsSignature> = by.values().copied().collect();
            let Ok(signature) = BlsSignature::aggregate(&sigs) else { return };
            let certificate = walrus_chain::CertificateArgs {
                signers_bitmap: signers_to_bitmap(&members),
                message: message.clone(),
                signature,
            };
            let submitted = match node.owner_key() {
                Ok(key) => node
                    .chain
                    .execute(key, Call::SubmitChallengeCertificate { certificate })
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match submitted {
                Ok(()) => {
                    return tracing::info!("challenge of epoch {}: certificate submitted", started.epoch)
                }
                Err(e) => tracing::warn!("challenge of epoch {}: certificate refused: {e}", started.epoch),
            }
        }
        tokio::time::sleep(ASK_PAUSE).await;
    }
    tracing::warn!("challenge of epoch {}: no certificate by the deadline", started.epoch);
}

/// Tries to rebuild, from peers, the drawn blobs' pairs this node lacks (an honest node heals
/// what it lost; during the freeze its peers refuse, which is the point).
async fn heal_missing(node: &Arc<Node>, started: &Started, shards: &[ShardIndex]) {
    for blob in &started.blobs {
        let (worker, id, owned) = (Arc::clone(node), blob.blob_id, shards.to_vec());
        let lacking = tokio::task::spawn_blocking(move || {
            owned.iter().any(|&shard| {
                [SliverType::Primary, SliverType::Secondary]
                    .iter()
                    .any(|&axis| !matches!(worker.store.sliver(shard, axis, &id), Ok(Some(_))))
            })
        })
        .await
        .unwrap_or(false);
        if lacking {
            if let Err(e) = crate::recovery::heal_now(node, blob.blob_id).await {
                tracing::info!("challenge of epoch {}: cannot rebuild {}: {e}", started.epoch, blob.blob_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(started: Option<Started>) -> Gate {
        let schedule = Schedule { reveal_open_ms: 100_000, start_ms: 110_000, deadline_ms: 140_000 };
        Gate(Mutex::new(GateState {
            observed_at_ms: Some(90_000),
            epoch_duration_ms: 800_000,
            enabled: true,
            schedule: Some(schedule),
            started,
        }))
    }

    fn started(blobs: &[BlobId]) -> Started {
        let blobs = blobs
            .iter()
            .map(|&blob_id| ChallengedBlob { blob_id, unencoded_length: 10, symbols_per_sliver: 2 })
            .collect();
        Started { epoch: Epoch(1), seed: [1; 32], blobs, deadline_ms: 140_000 }
    }

    #[test]
    fn nothing_is_served_while_the_blobs_are_drawn() {
        let (a, b) = (BlobId([1; 32]), BlobId([2; 32]));
        let drawing = gate(None);
        assert_eq!(drawing.check(Some(&a), 95_000), Ok(()));
        // From the reveal window (less the clock skew) until the start is seen: every blob.
        assert!(drawing.check(Some(&a), 98_500).is_err());
        assert!(drawing.check(Some(&b), 120_000).is_err());
        assert_eq!(drawing.phase(120_000), "drawing");
        // Never started: served again after the deadline.
        assert_eq!(drawing.check(Some(&a), 143_000), Ok(()));
    }

    #[test]
    fn drawn_blobs_are_frozen_until_the_deadline_and_the_rest_served() {
        let (a, b) = (BlobId([1; 32]), BlobId([2; 32]));
        let frozen = gate(Some(started(&[a])));
        let paused = frozen.check(Some(&a), 120_000).expect_err("as set up");
        assert_eq!(paused.retry_after_s, 23);
        assert_eq!(frozen.check(Some(&b), 120_000), Ok(()));
        assert!(frozen.check(None, 120_000).is_err(), "a shard sync carries every blob");
        assert_eq!(frozen.phase(120_000), "frozen");
        assert_eq!(frozen.check(Some(&a), 142_001), Ok(()));
        assert_eq!(frozen.phase(142_001), "idle");
    }

    #[test]
    fn a_node_that_has_not_read_the_chain_lately_serves_no_sliver() {
        let a = BlobId([1; 32]);
        assert!(Gate::default().check(Some(&a), 1).is_err(), "never read");
        let fresh = gate(None);
        // An eighth of the 800 s epoch after the last read (at 90 s): 100 s.
        assert_eq!(fresh.check(Some(&a), 90_000 - 10), Ok(()));
        let mut stale = gate(None);
        stale.0.get_mut().expect("as set up").schedule = None;
        assert_eq!(stale.check(Some(&a), 189_999), Ok(()));
        assert!(stale.check(Some(&a), 190_001).is_err());
        let mut off = gate(Some(started(&[a])));
        off.0.get_mut().expect("as set up").enabled = false;
        assert_eq!(off.check(Some(&a), 120_000), Ok(()));
    }

    #[test]
    fn items_go_in_bodies_under_the_limit() {
        let item = |len: usize| ChallengeItem {
            blob_index: 0,
            shard: ShardIndex(0),
            response: walrus_core::challenge::ItemResponse::Proved {
                primary: vec![walrus_core::challenge::SymbolProof {
                    position: 0,
                    symbol: vec![0; len],
                    proof: walrus_core::merkle::MerkleProof::new(Vec::new()),
                }],
                secondary: Vec::new(),
            },
        };
        let items: Vec<ChallengeItem> = (0..40).map(|_| item(1 << 20)).collect();
        let parts = chunks(items);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), 40);
        assert!(parts
            .iter()
            .all(|p| bcs::serialized_size(p).expect("as set up") <= CHALLENGE_ITEMS_BYTES_MAX));
        assert_eq!(parts.len(), 3);
    }
}
