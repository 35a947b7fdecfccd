//! Choosing the next committee, as the reference's `staking_inner.move` (`select_committee`,
//! `dhondt`) and `committee.move` (`transition`): the active set is the nodes with the most
//! stake, shards are apportioned by D'Hondt (Jefferson) with a per-node cap, and they are placed
//! so that a node keeps the shards it has and as few shards as possible move.
//!
//! Pure functions of their inputs: stake, the cap, the current placement.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use walrus_core::{ObjectId, ShardIndex};

/// The most shards one node may hold: 10% of them with 20 nodes or more, otherwise
/// `ceil(2n / nodes)` (the reference's `max_shards_per_node`), and never less than an even
/// split of the shards over the nodes.
pub fn max_shards_per_node(n_shards: u16, nodes: usize) -> u16 {
    let n = u64::from(n_shards);
    let nodes = nodes.max(1) as u64;
    let cap = if nodes >= 20 { n / 10 } else { (n * 20).div_ceil(nodes * 10) };
    cap.max(n.div_ceil(nodes)).min(n) as u16
}

/// The active set: at most `size` nodes with stake, the most staked first (ties by node ID).
pub fn active_set(stakes: &[(ObjectId, u64)], size: usize) -> Vec<(ObjectId, u64)> {
    let mut set: Vec<(ObjectId, u64)> = stakes.iter().copied().filter(|(_, stake)| *stake > 0).collect();
    set.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    set.truncate(size);
    set
}

/// One node's claim on the next seat: its stake over its seats so far plus one.
#[derive(Debug, PartialEq, Eq)]
struct Claim {
    stake: u64,
    seats: u16,
    position: usize,
}

impl Ord for Claim {
    fn cmp(&self, other: &Self) -> Ordering {
        // stake / (seats + 1), compared exactly; ties go to the earlier position.
        let mine = u128::from(self.stake) * (u128::from(other.seats) + 1);
        let theirs = u128::from(other.stake) * (u128::from(self.seats) + 1);
        mine.cmp(&theirs).then(other.position.cmp(&self.position))
    }
}

impl PartialOrd for Claim {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// D'Hondt over `active` (in active-set order): each of `n_shards` seats goes to the node with
/// the highest `stake / (seats + 1)` that is below `cap`. Nodes that get no seat are left out.
/// `None` if nobody has stake.
pub fn dhondt(n_shards: u16, cap: u16, active: &[(ObjectId, u64)]) -> Option<Vec<(ObjectId, u16)>> {
    if active.iter().all(|(_, stake)| *stake == 0) {
        return None;
    }
    let mut seats = vec![0u16; active.len()];
    let mut claims: BinaryHeap<Claim> = active
        .iter()
        .enumerate()
        .filter(|(_, (_, stake))| *stake > 0)
        .map(|(position, (_, stake))| Claim { stake: *stake, seats: 0, position })
        .collect();
    let mut left = n_shards;
    while left > 0 {
        let Some(mut claim) = claims.pop() else { break };
        seats[claim.position] += 1;
        left -= 1;
        claim.seats += 1;
        if claim.seats < cap {
            claims.push(claim);
        }
    }
    // The cap is never below an even split over the staked nodes, so every seat is given.
    debug_assert_eq!(left, 0, "the cap leaves seats unassigned");
    Some(
        active
            .iter()
            .zip(seats)
            .filter(|(_, seats)| *seats > 0)
            .map(|((id, _), seats)| (*id, seats))
            .collect(),
    )
}

/// Places the `n_shards` shards for the new counts, starting from `current`: a node keeps its
/// shards (the first ones, when it shrinks); the shards nobody keeps (of nodes that leave or
/// shrink, or of nobody) are handed out in shard order to nodes that grow or join, in node-ID
/// order. From no placement at all this is the reference's first assignment (sequential in
/// node-ID order); otherwise exactly `Σ max(0, new − old)` shards move. The counts must add up
/// to `n_shards`.
pub fn transition(
    n_shards: u16,
    current: &BTreeMap<ObjectId, Vec<ShardIndex>>,
    counts: &BTreeMap<ObjectId, u16>,
) -> BTreeMap<ObjectId, Vec<ShardIndex>> {
    let mut placed: BTreeMap<ObjectId, Vec<ShardIndex>> = BTreeMap::new();
    let mut kept = vec![false; usize::from(n_shards)];
    for (node, shards) in current {
        let keep = counts.get(node).map_or(0, |count| usize::from(*count).min(shards.len()));
        let mut shards: Vec<ShardIndex> = shards.iter().copied().filter(|s| s.0 < n_shards).collect();
        shards.sort_unstable();
        shards.truncate(keep);
        for shard in &shards {
            kept[usize::from(shard.0)] = true;
        }
        placed.insert(*node, shards);
    }
    let mut free = (0..n_shards).map(ShardIndex).filter(|s| !kept[usize::from(s.0)]);
    for (node, count) in counts {
        let shards = placed.entry(*node).or_default();
        while shards.len() < usize::from(*count) {
            let Some(shard) = free.next() else { break };
            shards.push(shard);
        }
        shards.sort_unstable();
    }
    placed.retain(|_, shards| !shards.is_empty());
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(i: u8) -> ObjectId {
        ObjectId([i; 32])
    }

    #[test]
    fn the_cap_follows_the_reference() {
        assert_eq!(max_shards_per_node(1000, 4), 500);
        assert_eq!(max_shards_per_node(1000, 19), 106);
        assert_eq!(max_shards_per_node(1000, 20), 100);
        assert_eq!(max_shards_per_node(1000, 150), 100);
        assert_eq!(max_shards_per_node(10, 1), 10);
    }

    #[test]
    fn dhondt_is_proportional_and_capped() {
        let active = [(id(1), 600), (id(2), 300), (id(3), 100)];
        assert_eq!(dhondt(10, 10, &active), Some(vec![(id(1), 6), (id(2), 3), (id(3), 1)]));
        // Capped at 5: the sixth seat goes to the next highest average.
        assert_eq!(dhondt(10, 5, &active), Some(vec![(id(1), 5), (id(2), 4), (id(3), 1)]));
        // Ties go to the earlier position in the active set.
        assert_eq!(dhondt(3, 3, &[(id(1), 5), (id(2), 5)]), Some(vec![(id(1), 2), (id(2), 1)]));
        assert_eq!(dhondt(3, 3, &[(id(1), 0)]), None);
    }

    #[test]
    fn transition_keeps_shards_where_they_are() {
        let shards = |r: std::ops::Range<u16>| r.map(ShardIndex).collect::<Vec<_>>();
        let current = BTreeMap::from([(id(1), shards(0..5)), (id(2), shards(5..10))]);
        let counts = BTreeMap::from([(id(1), 3), (id(2), 5), (id(3), 2)]);
        let next = transition(10, &current, &counts);
        assert_eq!(next[&id(1)], shards(0..3));
        assert_eq!(next[&id(2)], shards(5..10));
        assert_eq!(next[&id(3)], shards(3..5));
    }

    fn stakes() -> impl Strategy<Value = Vec<u64>> {
        proptest::collection::vec(prop_oneof![Just(0u64), 1..1_000u64, 1..1_000_000_000u64], 1..30)
    }

    proptest! {
        #[test]
        fn selection_gives_every_shard_one_owner_within_the_cap(
            n in 4u16..1200, before in stakes(), after in stakes(), size in 1usize..40,
        ) {
            let ids: Vec<ObjectId> = (0..30u8).map(id).collect();
            let select = |stakes: &[u64]| {
                let stakes: Vec<_> = ids.iter().copied().zip(stakes.iter().copied()).collect();
                let active = active_set(&stakes, size);
                let cap = max_shards_per_node(n, active.len());
                dhondt(n, cap, &active).map(|seats| (cap, seats))
            };
            let (Some((_, first)), Some((cap, second))) = (select(&before), select(&after)) else {
                return Ok(());
            };
            let first: BTreeMap<_, _> = first.into_iter().collect();
            let current = transition(n, &BTreeMap::new(), &first);
            let counts: BTreeMap<_, _> = second.into_iter().collect();
            prop_assert_eq!(counts.values().map(|c| u64::from(*c)).sum::<u64>(), u64::from(n));
            prop_assert!(counts.values().all(|c| *c <= cap && *c > 0));
            let next = transition(n, &current, &counts);
            let mut owners = vec![0u8; usize::from(n)];
            for (node, shards) in &next {
                prop_assert_eq!(shards.len(), usize::from(counts[node]));
                for shard in shards {
                    owners[usize::from(shard.0)] += 1;
                }
            }
            prop_assert!(owners.iter().all(|o| *o == 1), "a shard has no owner or two");
            // The fewest moves: only what growing and joining nodes need.
            let moved: usize = next
                .iter()
                .map(|(node, shards)| {
                    let had = current.get(node).map_or(&[][..], Vec::as_slice);
                    shards.iter().filter(|s| !had.contains(s)).count()
                })
                .sum();
            let needed: usize = counts
                .iter()
                .map(|(node, c)| usize::from(*c).saturating_sub(current.get(node).map_or(0, Vec::len)))
                .sum();
            prop_assert_eq!(moved, needed);
        }
    }
}
