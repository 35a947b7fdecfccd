//! Prometheus metrics (text format), namespace `walrus_` as in the reference.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use walrus_core::SliverType;

use crate::follower::ChainView;

/// The node's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Metadata uploads stored.
    pub metadata_stored: AtomicU64,
    /// Primary slivers stored.
    pub primary_stored: AtomicU64,
    /// Secondary slivers stored.
    pub secondary_stored: AtomicU64,
    /// Confirmations signed.
    pub confirmations: AtomicU64,
    /// Slivers rebuilt from other nodes' symbols.
    pub slivers_recovered: AtomicU64,
    /// Bytes downloaded from peers for recovery (metadata and symbols).
    pub recovery_bytes: std::sync::Arc<AtomicU64>,
    /// Invalid-blob attestations signed.
    pub invalid_attestations: AtomicU64,
    /// Blobs whose data garbage collection removed.
    pub blobs_collected: AtomicU64,
    /// Blobs garbage collection listed as collectable (each checked again under its lock).
    pub gc_candidates: AtomicU64,
    /// Requests refused because a byte budget was spent (503).
    pub refused_busy: AtomicU64,
    /// Slivers received by shard sync (verified and stored).
    pub synced_slivers: AtomicU64,
    /// Bytes received by shard sync (whole answers, as on the wire).
    pub synced_bytes: std::sync::Arc<AtomicU64>,
    /// Sliver bytes served to other nodes' shard syncs.
    pub sync_served_bytes: AtomicU64,
    /// Sliver and symbol requests refused while a storage challenge ran (503).
    pub challenge_refusals: AtomicU64,
    /// Items this node proved in its last challenge.
    pub challenge_items: AtomicU64,
    /// Of those, pairs it lacked.
    pub challenge_missing: AtomicU64,
    /// The last settled challenge as the chain recorded it: epoch, items, passed, reward kept
    /// (basis points), penalty (FROST).
    pub challenge_settled: [AtomicU64; 5],
}

impl Metrics {
    /// Counts one stored sliver.
    pub fn count_sliver(&self, axis: SliverType) {
        let counter = match axis {
            SliverType::Primary => &self.primary_stored,
            SliverType::Secondary => &self.secondary_stored,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused by the challenge gate.
    pub fn count_challenge_refusal(&self) {
        self.challenge_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the items of this node's latest challenge bundle.
    pub fn record_challenge_items(&self, items: u64, missing: u64) {
        self.challenge_items.store(items, Ordering::Relaxed);
        self.challenge_missing.store(missing, Ordering::Relaxed);
    }

    /// Records the chain's last settlement of this node.
    pub fn record_settlement(&self, settlement: &walrus_chain::challenge::Settlement) {
        let values = [
            u64::from(settlement.epoch.0),
            u64::from(settlement.n_items),
            u64::from(settlement.n_passed),
            u64::from(settlement.reward_bps),
            settlement.penalty.0,
        ];
        for (cell, value) in self.challenge_settled.iter().zip(values) {
            cell.store(value, Ordering::Relaxed);
        }
    }

    /// The chain's last settlement of this node, as recorded (`None` before the first).
    pub fn settlement(&self) -> Option<[u64; 5]> {
        let values = self.challenge_settled.each_ref().map(|c| c.load(Ordering::Relaxed));
        (values[1] > 0 || values[0] > 0).then_some(values)
    }

    /// The text exposition.
    pub fn render(&self, view: &ChainView) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(out, "# TYPE walrus_metadata_stored_total counter");
        let _ = writeln!(out, "walrus_metadata_stored_total {}", get(&self.metadata_stored));
        let _ = writeln!(out, "# TYPE walrus_slivers_stored_total counter");
        let _ = writeln!(
            out,
            "walrus_slivers_stored_total{{sliver_type=\"primary\"}} {}",
            get(&self.primary_stored)
        );
        let _ = writeln!(
            out,
            "walrus_slivers_stored_total{{sliver_type=\"secondary\"}} {}",
            get(&self.secondary_stored)
        );
        let _ = writeln!(out, "# TYPE walrus_storage_confirmations_issued_total counter");
        let _ = writeln!(out, "walrus_storage_confirmations_issued_total {}", get(&self.confirmations));
        let _ = writeln!(out, "# TYPE walrus_slivers_recovered_total counter");
        let _ = writeln!(out, "walrus_slivers_recovered_total {}", get(&self.slivers_recovered));
        let _ = writeln!(out, "# TYPE walrus_recovery_bytes_total counter");
        let _ = writeln!(out, "walrus_recovery_bytes_total {}", get(&self.recovery_bytes));
        let _ = writeln!(out, "# TYPE walrus_invalid_blob_attestations_total counter");
        let _ = writeln!(out, "walrus_invalid_blob_attestations_total {}", get(&self.invalid_attestations));
        let _ = writeln!(out, "# TYPE walrus_blobs_collected_total counter");
        let _ = writeln!(out, "walrus_blobs_collected_total {}", get(&self.blobs_collected));
        let _ = writeln!(out, "# TYPE walrus_gc_candidates_total counter");
        let _ = writeln!(out, "walrus_gc_candidates_total {}", get(&self.gc_candidates));
        let _ = writeln!(out, "# TYPE walrus_requests_refused_busy_total counter");
        let _ = writeln!(out, "walrus_requests_refused_busy_total {}", get(&self.refused_busy));
        let _ = writeln!(out, "# TYPE walrus_shard_sync_slivers_total counter");
        let _ = writeln!(out, "walrus_shard_sync_slivers_total {}", get(&self.synced_slivers));
        let _ = writeln!(out, "# TYPE walrus_shard_sync_bytes_total counter");
        let _ = writeln!(out, "walrus_shard_sync_bytes_total {}", get(&self.synced_bytes));
        let _ = writeln!(out, "# TYPE walrus_shard_sync_served_bytes_total counter");
        let _ = writeln!(out, "walrus_shard_sync_served_bytes_total {}", get(&self.sync_served_bytes));
        let _ = writeln!(out, "# TYPE walrus_challenge_refusals_total counter");
        let _ = writeln!(out, "walrus_challenge_refusals_total {}", get(&self.challenge_refusals));
        let _ = writeln!(out, "# TYPE walrus_challenge_items gauge");
        let _ = writeln!(out, "walrus_challenge_items {}", get(&self.challenge_items));
        let _ = writeln!(out, "# TYPE walrus_challenge_missing_items gauge");
        let _ = writeln!(out, "walrus_challenge_missing_items {}", get(&self.challenge_missing));
        let settled = self.challenge_settled.each_ref().map(get);
        for (name, value) in ["epoch", "items", "passed", "reward_bps", "penalty_frost"].iter().zip(settled) {
            let _ = writeln!(out, "# TYPE walrus_challenge_settled_{name} gauge");
            let _ = writeln!(out, "walrus_challenge_settled_{name} {value}");
        }
        let _ = writeln!(out, "# TYPE walrus_current_epoch gauge");
        let _ = writeln!(out, "walrus_current_epoch {}", view.epoch.0);
        let _ = writeln!(out, "# TYPE walrus_owned_shards gauge");
        let _ = writeln!(out, "walrus_owned_shards {}", view.shards.len());
        let _ = writeln!(out, "# TYPE walrus_read_only_shards gauge");
        let _ = writeln!(out, "walrus_read_only_shards {}", view.read_only.len());
        let _ = writeln!(out, "# TYPE walrus_retained_shards gauge");
        let _ = writeln!(out, "walrus_retained_shards {}", view.retained.len());
        out
    }
}
