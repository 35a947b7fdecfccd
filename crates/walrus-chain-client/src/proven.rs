//! Reads a client believes only with a proof from the genesis validators (see
//! `walrus_chain::light`): the system object (committee, epoch, prices) and the events.
//!
//! The trust root is the chain ID. A client pinned to one ([`ChainClient::pinned_to`], or
//! `#0x<chain ID>` after its URLs) fetches
//! the genesis once and refuses it unless its digest is that ID; an unpinned client trusts the
//! first genesis it is given and checks everything after against it. A state proof is the
//! newest finalized block a validator holds a certificate for and the state header it commits
//! to, a block or two behind the head; a client waits until the proven state is at least as new
//! as the newest block it saw run one of its transactions, so it reads its own writes.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use walrus_chain::light::{fold_event, verify_state, verify_system, StateHeader, StateProof};
use walrus_chain::system::{Committee, System};
use walrus_chain::{EventCursor, EventEnvelope, Genesis, GenesisValidator};
use walrus_core::hash::Digest;

use crate::client::{ChainClient, ClientError, READ_TIMEOUT};
use crate::wire::{GenesisView, StateProofView, SystemView};

/// Pause between two asks for a state proof that is not new enough yet.
const PROOF_RETRY: Duration = Duration::from_millis(20);

/// Pages of one block's events a follower reads before it can check them.
const BLOCK_PAGES_MAX: usize = 64;

/// What a client trusts: the chain ID and the validators its genesis names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// The chain ID (the genesis digest).
    pub chain_id: Digest,
    /// The genesis validators.
    pub validators: Vec<GenesisValidator>,
}

/// A state the genesis validators finalized.
#[derive(Debug, Clone)]
pub struct ProvenState {
    /// The state's header.
    pub header: StateHeader,
    /// The system object under it, if the validator still keeps it.
    pub system: Option<System>,
}

/// Where a follower of events stands: after `cursor` (from the first event if `None`), with
/// the events digest through it. Persist both together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPosition {
    /// The last event taken.
    pub cursor: Option<EventCursor>,
    /// `walrus_chain::light::fold_event` over every event up to it.
    pub digest: Digest,
}

impl EventsPosition {
    /// Before the first event.
    pub const GENESIS: EventsPosition = EventsPosition { cursor: None, digest: [0; 32] };
}

/// Events proven to be the chain's, in order, and the position after them.
#[derive(Debug, Clone)]
pub struct ProvenEvents {
    /// The events (possibly none).
    pub events: Vec<EventEnvelope>,
    /// Where the next call starts.
    pub position: EventsPosition,
}

impl ChainClient {
    /// This client, refusing a genesis whose digest is not `chain_id`.
    pub fn pinned_to(mut self, chain_id: Digest) -> ChainClient {
        self.pinned = Some(Ok(chain_id));
        self
    }

    /// The chain ID and validators this client checks proofs against (fetched once).
    pub async fn trust(&self) -> Result<Arc<Trust>, ClientError> {
        if let Some(trust) = self.trust.get() {
            return Ok(Arc::clone(trust));
        }
        let answer: GenesisView = self.get("/v1/genesis", READ_TIMEOUT).await?;
        let unproven =
            |reason: String| ClientError::Unproven { url: format!("{}/v1/genesis", self.base()), reason };
        let bytes = hex::decode(&answer.genesis).map_err(|e| unproven(format!("genesis is not hex: {e}")))?;
        let genesis: Genesis =
            bcs::from_bytes(&bytes).map_err(|e| unproven(format!("genesis does not decode: {e}")))?;
        let chain_id = genesis.digest();
        if let Some(pinned) = &self.pinned {
            let pinned = pinned.as_ref().map_err(|e| unproven(e.clone()))?;
            if *pinned != chain_id {
                return Err(unproven(format!(
                    "the genesis is of chain {}, not of the configured {}",
                    hex::encode(chain_id),
                    hex::encode(pinned)
                )));
            }
        }
        let trust = Arc::new(Trust { chain_id, validators: genesis.validators });
        Ok(Arc::clone(self.trust.get_or_init(|| trust)))
    }

    /// The newest state a validator proves, among those at or below `at` if given, checked
    /// against the genesis validators; waits (up to [`READ_TIMEOUT`]) until it is at least at
    /// `min_height`.
    pub async fn proven_state(&self, at: Option<u64>, min_height: u64) -> Result<ProvenState, ClientError> {
        let (state, new_enough) = self.proven_until(at, |state| state.header.height >= min_height).await?;
        if !new_enough {
            return Err(not_proven_yet(format!(
                "the newest proven state is at height {}, this client saw height {min_height} run",
                state.header.height
            )));
        }
        Ok(state)
    }

    /// Asks for the newest proven state (at or below `at`) until `wanted` accepts one, for up to
    /// [`READ_TIMEOUT`]; else the last one given, and `false`. A chain that proves nothing yet
    /// (a moment after it starts) is asked again as long.
    async fn proven_until(
        &self,
        at: Option<u64>,
        wanted: impl Fn(&ProvenState) -> bool,
    ) -> Result<(ProvenState, bool), ClientError> {
        let trust = self.trust().await?;
        let path = match at {
            Some(at) => format!("/v1/state?at={at}"),
            None => "/v1/state".to_string(),
        };
        let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
        loop {
            let late = tokio::time::Instant::now() >= deadline;
            match self.get::<StateProofView>(&path, READ_TIMEOUT).await {
                Err(e) if e.api_code() == Some("NoProvenState") && !late => {}
                answer => {
                    let state = self.check_state(&trust, &path, answer?)?;
                    if wanted(&state) || late {
                        let accepted = wanted(&state);
                        return Ok((state, accepted));
                    }
                }
            }
            tokio::time::sleep(PROOF_RETRY).await;
        }
    }

    pub(crate) fn check_state(
        &self,
        trust: &Trust,
        path: &str,
        answer: StateProofView,
    ) -> Result<ProvenState, ClientError> {
        let unproven =
            |reason: String| ClientError::Unproven { url: format!("{}{path}", self.base()), reason };
        let bytes = hex::decode(&answer.block).map_err(|e| unproven(format!("block is not hex: {e}")))?;
        let block = bcs::from_bytes(&bytes).map_err(|e| unproven(format!("block does not decode: {e}")))?;
        let proof = StateProof { block, finality: answer.finality, header: answer.header };
        verify_state(&trust.validators, &trust.chain_id, &proof).map_err(|e| unproven(e.to_string()))?;
        let system = match answer.system {
            Some(text) => {
                let bytes = hex::decode(text).map_err(|e| unproven(format!("system is not hex: {e}")))?;
                Some(verify_system(&proof.header, &bytes).map_err(|e| unproven(e.to_string()))?)
            }
            None => None,
        };
        Ok(ProvenState { header: proof.header, system })
    }

    /// The system state, proven, at least as new as the last block this client saw run one of
    /// its transactions.
    pub async fn system(&self) -> Result<SystemView, ClientError> {
        let min_height = self.seen_height();
        let (state, _) =
            self.proven_until(None, |s| s.header.height >= min_height && s.system.is_some()).await?;
        let (header, Some(system)) = (state.header, state.system) else {
            return Err(not_proven_yet(
                "the validator no longer keeps the system object of its newest proven state".into(),
            ));
        };
        if header.height < min_height {
            return Err(not_proven_yet(format!(
                "the newest proven state is at height {}, this client saw height {min_height} run",
                header.height
            )));
        }
        Ok(SystemView {
            height: header.height,
            timestamp_ms: header.timestamp_ms,
            next_epoch_step_ms: system.next_step_ms(),
            total_supply: header.total_supply.0,
            burned: header.burned.0,
            system,
        })
    }

    /// The current committee, proven (see [`ChainClient::system`]).
    pub async fn committee(&self) -> Result<Committee, ClientError> {
        Ok(self.system().await?.system.committee)
    }

    /// Up to `limit` events after `from` (waiting up to `wait` for the first), returned only
    /// once a proven state's events digest shows them to be the chain's: in order, none
    /// invented, changed or left out. Returns no events while the state that holds them is not
    /// proven yet; the caller asks again from the position returned.
    pub async fn proven_events(
        &self,
        from: EventsPosition,
        limit: usize,
        wait: Duration,
    ) -> Result<ProvenEvents, ClientError> {
        let unchanged = ProvenEvents { events: Vec::new(), position: from };
        let unproven =
            |reason: String| ClientError::Unproven { url: format!("{}/v1/events", self.base()), reason };
        let mut page = self.events(from.cursor, limit, wait).await?.events;
        let Some(first) = page.first().map(|e| e.cursor.height) else {
            // Nothing new: the newest proven state must agree that nothing happened since.
            let state = self.proven_state(None, 0).await?;
            let ours = from.cursor.map_or(0, |c| c.height);
            if state.header.height >= ours && state.header.events_digest != from.digest {
                return Err(unproven(format!("events up to height {} were left out", state.header.height)));
            }
            return Ok(unchanged);
        };
        // The newest proven state that holds the first event (a block or two after it).
        let (state, holds_first) = self.proven_until(None, |state| state.header.height >= first).await?;
        if !holds_first {
            return Ok(unchanged);
        }
        let mut header = state.header;
        // Every event up to it is needed: read on while pages are full.
        let mut full = page.len() >= limit;
        let mut pages = 1;
        while full && page.last().is_some_and(|e| e.cursor.height <= header.height) && pages < BLOCK_PAGES_MAX
        {
            let more = self.events(page.last().map(|e| e.cursor), limit, Duration::ZERO).await?.events;
            full = more.len() >= limit;
            page.extend(more);
            pages += 1;
        }
        if full && page.last().is_some_and(|e| e.cursor.height <= header.height) {
            // Too many events before the newest proven state: check up to an older one, within
            // the blocks held whole (all but the last).
            let complete = page.last().map_or(0, |e| e.cursor.height).saturating_sub(1);
            header = self.proven_state(Some(complete), 0).await?.header;
            if header.height < first {
                return Ok(unchanged);
            }
        }
        let mut previous = from.cursor;
        for event in &page {
            if previous.is_some_and(|p| event.cursor <= p) {
                return Err(unproven("events out of order".into()));
            }
            previous = Some(event.cursor);
        }
        page.retain(|e| e.cursor.height <= header.height);
        let digest = page.iter().fold(from.digest, |digest, event| fold_event(&digest, event));
        if digest != header.events_digest {
            return Err(unproven(format!(
                "the events up to height {} are not those the chain executed (forged, reordered or missing)",
                header.height
            )));
        }
        let cursor = page.last().map(|e| e.cursor).or(from.cursor);
        Ok(ProvenEvents { events: page, position: EventsPosition { cursor, digest } })
    }
}

/// The error of a proof not new enough after [`READ_TIMEOUT`].
fn not_proven_yet(reason: String) -> ClientError {
    ClientError::Api { status: 503, code: "NotProvenYet".into(), reason }
}
