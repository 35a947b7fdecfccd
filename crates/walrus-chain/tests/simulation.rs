//! The seeded simulation of storage challenges over many epochs (issue 22; docs/economics.md):
//! the real chain state machine and the real protocol code (the draw, the positions, proofs
//! cut from encoded slivers and checked against the metadata, BLS-signed results aggregated
//! into certificates), with simulated nodes and a simulated clock.
//!
//! The scenario network's four nodes (4, 3, 2 and 1 of 10 shards) and three validators; a
//! user keeps `blobs` small blobs stored (renewed before they expire). Node 1 lost a random 10%
//! of its sliver pairs (each pair of each blob, by a seeded coin), node 2 lost 10% of its blobs
//! whole (every shard of them); nodes 0 and 3 are honest. Validator 2 withholds its reveal every
//! seventh epoch. Every tenth epoch a delegator stakes 5 WAL with the pool that kept the
//! largest share of its reward. WAL conservation is checked after every block.
//!
//! CI runs 40 epochs over 200 blobs; `scripts/challenge-simulation.sh` runs 2,000 over 2,000
//! and writes the figures of docs/economics.md. The cost per node and epoch is computed from the
//! same draw code over indexes of 10⁴, 10⁶ and 10⁸ blobs (at n = 1000).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use walrus_chain::block::TxStatus;
use walrus_chain::challenge::schedule;
use walrus_chain::*;
use walrus_core::challenge::{
    draw_blobs, pair_of, prove_item, reveal_commitment, set_bit, verify_item, BlobIndex, ChallengeItem,
    ChallengeResult, ItemResponse, SymbolProof,
};
use walrus_core::encode::{encode_blob, EncodedBlob};
use walrus_core::hash::blake2b256_parts;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::merkle::{path_len, MerkleProof, Node as MerkleNode};
use walrus_core::messages::ProtocolMessage;
use walrus_core::{BlobId, EncodingParams, ObjectId, ShardIndex, SliverType};

use crate::challenges::{net_with_validators_and, secret};
use crate::common::{Net, N_SHARDS};

/// What one run measured.
#[derive(Debug, Default)]
struct Outcome {
    epochs: usize,
    /// Per node (genesis index): settlements as (reward kept bps, penalty FROST).
    kept: BTreeMap<usize, Vec<(u16, u64)>>,
    /// Epochs in which node 1 (lost pairs) and node 2 (lost blobs) had an item fail, and
    /// epochs in which they held shards (had items at all).
    caught: [usize; 2],
    challenged: [usize; 2],
    /// Stake share (%) and shards of each node, per epoch.
    stake: BTreeMap<usize, Vec<f64>>,
    shards: BTreeMap<usize, Vec<f64>>,
}

/// The simulated network.
struct Sim {
    net: Net,
    validators: Vec<Ed25519KeyPair>,
    params: EncodingParams,
    /// Encoded blobs by ID (their slivers are what the simulated nodes hold).
    encoded: BTreeMap<BlobId, EncodedBlob>,
    seed: u64,
    /// Node IDs by genesis index.
    ids: Vec<ObjectId>,
    stored: usize,
}

/// Whether genesis node `node` lost the pair of `blob` on `shard` (the loss models above).
fn lost(seed: u64, node: usize, blob: &BlobId, shard: ShardIndex) -> bool {
    let coin = |parts: &[&[u8]]| blake2b256_parts(parts)[0] < 26; // 26/256 ≈ 10.2%
    match node {
        1 => coin(&[b"pair", &seed.to_le_bytes(), &blob.0, &shard.0.to_le_bytes()]),
        2 => coin(&[b"blob", &seed.to_le_bytes(), &blob.0]),
        _ => false,
    }
}

impl Sim {
    fn new(seed: u64) -> Sim {
        // Blobs live 1,000 epochs; users are rich enough to keep thousands stored.
        let (net, validators) = net_with_validators_and(|genesis| {
            genesis.params.max_epochs_ahead = 1000;
            for (_, amount) in genesis.allocations.iter_mut() {
                *amount = Frost::from_wal(1_000_000).expect("fits");
            }
        });
        let ids = (0..4)
            .map(|i| net.state.system.committee.members[usize::from(net.member_index(i))].node_id)
            .collect();
        let params = EncodingParams::new(u64::from(N_SHARDS)).expect("params");
        Sim { net, validators, params, encoded: BTreeMap::new(), seed, ids, stored: 0 }
    }

    /// Runs `calls` from `user` in one block, with consecutive nonces; all must succeed.
    fn batch(&mut self, user: usize, calls: Vec<Call>) -> Vec<TxEffects> {
        let key = self.net.users[user].clone();
        let nonce = self.net.state.account(&key.address()).nonce;
        let txs = calls
            .into_iter()
            .enumerate()
            .map(|(i, call)| {
                TransactionData {
                    chain_id: self.net.state.chain_id,
                    sender: key.address(),
                    nonce: nonce + i as u64,
                    fee: Frost(1_000),
                    call,
                }
                .sign(&key)
            })
            .collect();
        let at = self.net.state.timestamp_ms + 10;
        let effects = self.net.block_at(at, txs).transactions;
        assert!(effects.iter().all(|e| e.status == TxStatus::Success), "{effects:?}");
        effects
    }

    /// Stores `count` new blobs for 1,000 epochs (in blocks of 100).
    fn store(&mut self, count: usize) {
        for chunk in 0..count.div_ceil(100) {
            let k = 100.min(count - chunk * 100);
            let blobs: Vec<EncodedBlob> = (0..k)
                .map(|_| {
                    self.stored += 1;
                    let data: Vec<u8> =
                        (0..64 + self.stored % 200).map(|j| (self.stored * 31 + j) as u8).collect();
                    encode_blob(self.params, &data).expect("encodable")
                })
                .collect();
            let reserves = blobs
                .iter()
                .map(|b| {
                    let size =
                        self.params.encoded_blob_length(b.metadata().unencoded_length()).expect("size");
                    Call::ReserveSpace { size, epochs_ahead: 1000 }
                })
                .collect();
            let storages: Vec<ObjectId> = self.batch(0, reserves).iter().map(|e| e.created[0]).collect();
            let registers = blobs
                .iter()
                .zip(&storages)
                .map(|(b, storage)| Call::RegisterBlob {
                    storage: *storage,
                    blob_id: *b.metadata().blob_id(),
                    root_hash: b.metadata().metadata().compute_root_hash(),
                    size: b.metadata().unencoded_length(),
                    encoding_type: 1,
                    deletable: false,
                })
                .collect();
            let objects: Vec<ObjectId> = self.batch(0, registers).iter().map(|e| e.created[0]).collect();
            let certifies = objects
                .iter()
                .map(|&blob| Call::CertifyBlob {
                    blob,
                    certificate: self.net.confirmation(&[0, 1, 2, 3], blob),
                })
                .collect();
            self.batch(0, certifies);
            for blob in blobs {
                self.encoded.insert(*blob.metadata().blob_id(), blob);
            }
        }
    }

    /// One epoch's round: commits, reveals (validator 2 withholds every seventh epoch), the
    /// start, every member's items proved and verified by all four, the certificates.
    fn round(&mut self, epoch_number: usize) -> BTreeMap<usize, (u32, u32)> {
        let epoch = self.net.state.system.epoch();
        for (i, v) in self.validators.clone().iter().enumerate() {
            let call = Call::ChallengeCommit { epoch, commitment: reveal_commitment(&secret(i, epoch.0)) };
            assert_eq!(self.net.run_as(v, call).status, TxStatus::Success);
        }
        let times = schedule(&self.net.state.system).expect("the clock runs");
        for (i, v) in self.validators.clone().iter().enumerate() {
            if i == 2 && epoch_number.is_multiple_of(7) {
                continue;
            }
            let effects = self.net.run_at(
                times.reveal_open_ms,
                v,
                Call::ChallengeReveal { epoch, secret: secret(i, epoch.0) },
            );
            assert_eq!(effects.status, TxStatus::Success);
        }
        let effects = self.net.run_at(times.start_ms, &Net::operator(), Call::StartChallenge);
        assert_eq!(effects.status, TxStatus::Success, "{effects:?}");
        let challenge = self.net.state.system.round.challenge.clone().expect("started");
        let mut tallies = BTreeMap::new();
        for prover in 0..4 {
            let member =
                self.net.state.system.committee.members[usize::from(self.net.member_index(prover))].clone();
            let mut shards = member.shards.clone();
            shards.sort_unstable();
            let n_items = challenge.blobs.len() * shards.len();
            let mut passed = vec![0u8; n_items.div_ceil(8)];
            let mut n_passed = 0;
            for (index, blob) in challenge.blobs.iter().enumerate() {
                let encoded = &self.encoded[&blob.blob_id];
                for (k, &shard) in shards.iter().enumerate() {
                    let item = if lost(self.seed, prover, &blob.blob_id, shard) {
                        prove_item(self.params, &challenge.seed, index as u16, blob, shard, None)
                    } else {
                        let pair = pair_of(self.params, &blob.blob_id, shard);
                        let sliver = |axis| encoded.sliver_bytes(axis, pair.to_sliver_index(axis, N_SHARDS));
                        let slivers = (sliver(SliverType::Primary), sliver(SliverType::Secondary));
                        prove_item(self.params, &challenge.seed, index as u16, blob, shard, Some(slivers))
                    };
                    let item = item.expect("slivers of the right length");
                    // Every verifier checks against its own copy of the metadata: the same.
                    if verify_item(&challenge.seed, blob, encoded.metadata(), shard, &item) {
                        set_bit(&mut passed, index * shards.len() + k);
                        n_passed += 1;
                    }
                }
            }
            let result = ChallengeResult {
                node_id: member.node_id,
                seed: challenge.seed,
                n_items: n_items as u32,
                passed,
            };
            let message = ProtocolMessage::new(epoch, result);
            let certificate = self.net.certificate(&[0, 1, 2, 3], &message);
            let effects = self.net.run_as(&Net::operator(), Call::SubmitChallengeCertificate { certificate });
            assert_eq!(effects.status, TxStatus::Success, "{effects:?}");
            tallies.insert(prover, (n_items as u32, n_passed));
        }
        tallies
    }

    /// Every tenth epoch the delegator (user 2) stakes 5 WAL with the pool that kept the largest
    /// share of its reward last epoch (the least staked of those).
    fn delegate(&mut self, kept: &BTreeMap<usize, u16>) {
        let system = &self.net.state.system;
        let best = (0..4)
            .max_by_key(|&n| {
                (
                    kept.get(&n).copied().unwrap_or(0),
                    std::cmp::Reverse(system.nodes[&self.ids[n]].pool.active_wal),
                )
            })
            .expect("nodes");
        let user = self.net.users[2].clone();
        let amount = Frost::from_wal(5).expect("fits");
        let effects = self.net.run_as(&user, Call::StakeWithPool { node_id: self.ids[best], amount });
        assert_eq!(effects.status, TxStatus::Success);
    }
}

/// Runs `epochs` epochs over `blobs` blobs with `seed`.
fn run(seed: u64, epochs: usize, blobs: usize) -> Outcome {
    let mut sim = Sim::new(seed);
    sim.store(blobs);
    sim.net.next_epoch();
    let mut outcome = Outcome { epochs, ..Outcome::default() };
    for e in 1..=epochs {
        if e.is_multiple_of(990) {
            sim.store(blobs);
        }
        let tallies = sim.round(e);
        for (slot, node) in [(0, 1), (1, 2)] {
            let (items, passed) = tallies[&node];
            outcome.challenged[slot] += usize::from(items > 0);
            outcome.caught[slot] += usize::from(passed < items);
        }
        let events = sim.net.next_epoch();
        let mut kept = BTreeMap::new();
        for event in events {
            if let Event::ChallengeSettled { node_id, reward_bps, penalty, .. } = event {
                let node = sim.ids.iter().position(|id| *id == node_id).expect("a genesis node");
                kept.insert(node, reward_bps);
                outcome.kept.entry(node).or_default().push((reward_bps, penalty.0));
            }
        }
        if e.is_multiple_of(10) {
            sim.delegate(&kept);
        }
        let system = &sim.net.state.system;
        let total: f64 = sim.ids.iter().map(|id| system.nodes[id].pool.active_wal as f64).sum();
        for (node, id) in sim.ids.iter().enumerate() {
            let share = 100.0 * system.nodes[id].pool.active_wal as f64 / total.max(1.0);
            outcome.stake.entry(node).or_default().push(share);
            let held =
                system.committee.members.iter().find(|m| m.node_id == *id).map_or(0, |m| m.shards.len());
            outcome.shards.entry(node).or_default().push(held as f64);
        }
    }
    outcome
}

/// Blobs of a 1,000-periodic pattern of sizes (log-uniform, 1 KiB to 64 MiB), of any count,
/// with prefix sums in closed form: the cost of a draw over 10⁸ blobs without 10⁸ entries.
struct Synthetic {
    count: u64,
    sizes: Vec<u64>,
    ends: Vec<u64>,
}

impl Synthetic {
    fn new(count: u64) -> Synthetic {
        let sizes: Vec<u64> = (0..1000u64)
            .map(|k| {
                let h = blake2b256_parts(&[b"size", &k.to_le_bytes()]);
                let exponent = 10.0 + 16.0 * f64::from(u16::from_le_bytes([h[0], h[1]])) / 65_536.0;
                2f64.powf(exponent) as u64
            })
            .collect();
        let mut total = 0;
        let ends = sizes.iter().map(|s| {
            total += s;
            total
        });
        Synthetic { count, ends: ends.collect(), sizes }
    }

    fn id(k: u64) -> BlobId {
        BlobId(blake2b256_parts(&[b"blob", &k.to_le_bytes()]))
    }
}

impl BlobIndex for Synthetic {
    fn count(&self) -> u64 {
        self.count
    }
    fn total_size(&self) -> u64 {
        let period = self.ends[999];
        (self.count / 1000) * period
            + self.count.checked_rem(1000).filter(|r| *r > 0).map_or(0, |r| self.ends[r as usize - 1])
    }
    fn nth(&self, k: u64) -> Option<(BlobId, u64)> {
        (k < self.count).then(|| (Synthetic::id(k), self.sizes[(k % 1000) as usize]))
    }
    fn at_size_offset(&self, offset: u64) -> Option<(BlobId, u64)> {
        let period = self.ends[999];
        let within = offset % period;
        let k = (offset / period) * 1000 + self.ends.partition_point(|&end| end <= within) as u64;
        self.nth(k)
    }
}

/// Bytes one node receives in an epoch when it verifies every prover's items at n = 1000: for
/// each drawn blob, 1000 items of its symbol size (BCS of real items with proofs of the tree's
/// depth).
fn epoch_cost(index: &impl BlobIndex, seed: &[u8; 32]) -> u64 {
    let params = EncodingParams::new(1000).expect("params");
    let proof = MerkleProof::new(vec![MerkleNode::Digest([0; 32]); path_len(1000)]);
    draw_blobs(params, seed, index, 64)
        .iter()
        .map(|blob| {
            let s = usize::from(params.symbol_size(blob.unencoded_length).expect("fits"));
            let symbol = SymbolProof { position: 0, symbol: vec![0; s], proof: proof.clone() };
            let k = usize::from(blob.symbols_per_sliver);
            let item = ChallengeItem {
                blob_index: 0,
                shard: ShardIndex(0),
                response: ItemResponse::Proved {
                    primary: vec![symbol.clone(); k],
                    secondary: vec![symbol; k],
                },
            };
            1000 * bcs::serialized_size(&item).expect("plain") as u64
        })
        .sum()
}

/// The mean cost per node and epoch over `epochs` seeds, for an index of `count` blobs.
fn mean_cost(count: u64, epochs: usize) -> f64 {
    let index = Synthetic::new(count);
    let total: u64 = (0..epochs as u64)
        .map(|e| epoch_cost(&index, &blake2b256_parts(&[b"epoch", &e.to_le_bytes()])))
        .sum();
    total as f64 / epochs as f64
}

fn check(outcome: &Outcome) -> String {
    let epochs = outcome.epochs;
    for node in [0, 3] {
        let honest = &outcome.kept[&node];
        assert_eq!(honest.len(), epochs);
        assert!(
            honest.iter().all(|(bps, penalty)| *bps == 10_000 && *penalty == 0),
            "honest node {node} penalised"
        );
    }
    assert!(
        outcome.challenged.iter().all(|&c| c * 10 >= epochs * 9),
        "the cheaters held shards: {:?}",
        outcome.challenged
    );
    let pairs = outcome.caught[0] as f64 / outcome.challenged[0] as f64;
    let blobs = outcome.caught[1] as f64 / outcome.challenged[1] as f64;
    assert!(pairs >= 0.998, "10% of pairs lost: caught in {pairs} of epochs");
    assert!(blobs >= 0.99, "10% of blobs lost: caught in {blobs} of epochs");
    let mean = |node: usize| {
        let kept = &outcome.kept[&node];
        kept.iter().map(|(bps, _)| f64::from(*bps)).sum::<f64>() / kept.len() as f64 / 100.0
    };
    format!(
        "{epochs} epochs: node 1 (10% of pairs lost) caught in {} of the {} epochs it held shards ({:.4}), keeps \
         {:.1}% of its rewards on average; node 2 (10% of blobs lost) caught in {} of {} ({:.4}), keeps {:.1}%; \
         honest nodes 0 and 3 keep 100% in every epoch",
        outcome.caught[0],
        outcome.challenged[0],
        pairs,
        mean(1),
        outcome.caught[1],
        outcome.challenged[1],
        blobs,
        mean(2)
    )
}

#[test]
fn a_short_seeded_run_catches_the_cheaters_and_never_the_honest() {
    let outcome = run(7, 40, 200);
    println!("{}", check(&outcome));
    // The cost does not grow with the number of blobs.
    let costs: Vec<f64> = [10_000u64, 1_000_000, 100_000_000].iter().map(|&n| mean_cost(n, 200)).collect();
    let (low, high) =
        (costs.iter().copied().fold(f64::MAX, f64::min), costs.iter().copied().fold(0.0, f64::max));
    assert!(high / low < 1.15, "cost per node and epoch by N: {costs:?}");
}

/// The full run: `WALRUS_SIM_EPOCHS` (2,000) epochs over `WALRUS_SIM_BLOBS` (2,000) blobs; the
/// figures go to `WALRUS_SIM_OUT` (docs/figures). `scripts/challenge-simulation.sh` runs it.
#[test]
#[ignore = "minutes long; scripts/challenge-simulation.sh runs it"]
fn the_full_seeded_run() {
    let var =
        |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (epochs, blobs) = (var("WALRUS_SIM_EPOCHS", 2_000), var("WALRUS_SIM_BLOBS", 2_000));
    let outcome = run(7, epochs, blobs);
    let mut report = check(&outcome);
    for n in [10_000u64, 1_000_000, 100_000_000] {
        let _ = write!(report, "\ncost per node and epoch at N = {n}: {:.1} MB", mean_cost(n, epochs) / 1e6);
    }
    println!("{report}");
    let out = std::env::var("WALRUS_SIM_OUT").unwrap_or_else(|_| "docs/figures".into());
    std::fs::create_dir_all(&out).expect("output directory");
    let series = |map: &BTreeMap<usize, Vec<f64>>| {
        map.iter().map(|(n, v)| (format!("node {n}"), v.clone())).collect::<Vec<_>>()
    };
    let rewards: BTreeMap<usize, Vec<f64>> = outcome
        .kept
        .iter()
        .map(|(n, v)| (*n, v.iter().map(|(bps, _)| f64::from(*bps) / 100.0).collect()))
        .collect();
    let charts = [
        ("challenge-rewards.svg", "Reward kept per epoch (% of base)", series(&rewards)),
        ("challenge-stake.svg", "Share of the stake per node (%)", series(&outcome.stake)),
        ("challenge-shards.svg", "Shards per node", series(&outcome.shards)),
    ];
    for (file, title, lines) in charts {
        std::fs::write(format!("{out}/{file}"), svg(title, &lines)).expect("figure written");
    }
    std::fs::write(format!("{out}/challenge-simulation.txt"), report + "\n").expect("report written");
}

/// A line chart as SVG: one polyline per series over the epochs.
fn svg(title: &str, series: &[(String, Vec<f64>)]) -> String {
    let (w, h, left, top) = (720.0, 300.0, 50.0, 30.0);
    let max = series.iter().flat_map(|(_, v)| v.iter().copied()).fold(1.0f64, f64::max) * 1.05;
    let len = series.iter().map(|(_, v)| v.len()).max().unwrap_or(1).max(2);
    let colours = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c"];
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"{left}\" y=\"18\">{title}</text>\n\
         <rect x=\"{left}\" y=\"{top}\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"#999\"/>\n\
         <text x=\"4\" y=\"{}\">{max:.0}</text><text x=\"4\" y=\"{}\">0</text>\n\
         <text x=\"{left}\" y=\"{}\">epoch 1</text><text x=\"{}\" y=\"{}\">epoch {len}</text>\n",
        w + left + 120.0,
        h + top + 40.0,
        top + 10.0,
        top + h,
        top + h + 16.0,
        left + w - 60.0,
        top + h + 16.0,
    );
    for (i, (name, values)) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(x, y)| {
                format!("{:.1},{:.1}", left + w * x as f64 / (len - 1) as f64, top + h - h * y / max)
            })
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1\" points=\"{}\"/>",
            points.join(" ")
        );
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>",
            left + w + 10.0,
            top + 16.0 * (i as f64 + 1.0)
        );
    }
    out + "</svg>\n"
}
