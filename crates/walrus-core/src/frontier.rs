//! Merkle roots of many trees of one shape whose leaves arrive a few at a time: the primary
//! sliver trees (one per row of the expansion), whose leaves come a chunk of columns at a
//! time from the encoder's column step.
//!
//! A chunk's leaves go in as whole aligned subtrees ([`aligned_runs`]: `2^k` leaves from a
//! multiple of `2^k`), whose roots the chunk's task builds with the batched `merkle_roots`.
//! Each tree keeps its frontier: at most one pending left node per level, like the digits of a
//! binary counter. A subtree root merges with the pending nodes at and above its level; at
//! the end the pending nodes are closed with the reference's padding (an odd level's last
//! node paired with 32 zero bytes). Memory is `32 * trees * (log2(leaves) + 1)` bytes instead
//! of `32 * trees * leaves` for all the leaf hashes.

use crate::hash::{hash_level, Digest};
use crate::merkle::path_len;

/// The frontiers of `trees` trees of `leaves` leaves each.
#[derive(Debug)]
pub(crate) struct Frontiers {
    trees: usize,
    leaves: usize,
    pushed: usize,
    /// `levels[l]`: each tree's pending left node at level `l`, if the level has one.
    levels: Vec<Option<Vec<Digest>>>,
    /// Scratch for a merge: the pairs, interleaved.
    pairs: Vec<Digest>,
}

/// The runs `(offset, len)` that leaves `start..start + len` split into, in order: each the
/// longest power of two that starts at a multiple of itself and fits.
pub(crate) fn aligned_runs(start: usize, len: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut done = 0;
    while done < len {
        let at = start + done;
        let aligned = if at == 0 { usize::MAX } else { 1 << at.trailing_zeros() };
        let run = aligned.min(1 << (len - done).ilog2());
        runs.push((done, run));
        done += run;
    }
    runs
}

impl Frontiers {
    /// Empty frontiers of `trees` trees of `leaves` leaves each.
    pub(crate) fn new(trees: usize, leaves: usize) -> Self {
        Frontiers { trees, leaves, pushed: 0, levels: Vec::new(), pairs: Vec::new() }
    }

    /// Adds the roots of every tree's next subtree of `run` leaves (a power of two, as
    /// [`aligned_runs`] gives), in tree order.
    pub(crate) fn push(&mut self, run: usize, nodes: Vec<Digest>) {
        debug_assert!(run.is_power_of_two() && self.pushed.is_multiple_of(run));
        debug_assert_eq!(nodes.len(), self.trees);
        self.pushed += run;
        let (mut carry, mut level) = (nodes, run.trailing_zeros() as usize);
        loop {
            if level >= self.levels.len() {
                self.levels.resize_with(level + 1, || None);
            }
            match self.levels[level].take() {
                None => {
                    self.levels[level] = Some(carry);
                    return;
                }
                Some(left) => {
                    carry = self.merge(&left, Some(&carry));
                    level += 1;
                }
            }
        }
    }

    /// The parents of `left[t]` and `right[t]` (32 zero bytes if `right` is `None`).
    fn merge(&mut self, left: &[Digest], right: Option<&[Digest]>) -> Vec<Digest> {
        self.pairs.clear();
        for (t, node) in left.iter().enumerate() {
            self.pairs.push(*node);
            self.pairs.push(right.map_or([0; 32], |right| right[t]));
        }
        let mut parents = vec![[0u8; 32]; left.len()];
        hash_level(&self.pairs, &mut parents);
        parents
    }

    /// The roots, in tree order, once every leaf is in: from the bottom up, a pending node
    /// takes the node carried from below as its right sibling, or zeros; a carried node with
    /// no pending one is the last, left node of an odd level and takes zeros.
    ///
    /// # Panics
    /// If fewer or more than `leaves` leaves were pushed (a caller bug).
    pub(crate) fn roots(mut self) -> Vec<Digest> {
        assert_eq!(self.pushed, self.leaves, "every leaf is pushed before the roots");
        if self.leaves == 0 {
            return vec![[0; 32]; self.trees];
        }
        let height = path_len(self.leaves);
        let mut carry: Option<Vec<Digest>> = None;
        for level in 0..height {
            let pending = self.levels.get_mut(level).and_then(Option::take);
            carry = match (pending, carry) {
                (Some(left), Some(right)) => Some(self.merge(&left, Some(&right))),
                (Some(last), None) | (None, Some(last)) => Some(self.merge(&last, None)),
                (None, None) => None,
            };
        }
        let top = self.levels.get_mut(height).and_then(Option::take);
        top.or(carry).expect("a tree of at least one leaf has a root")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{merkle_roots, TreeLayout};

    #[test]
    fn frontier_roots_equal_whole_tree_roots() {
        for trees in [1usize, 3, 8] {
            for leaves in 0..70usize {
                let hashes: Vec<Digest> =
                    (0..trees * leaves).map(|i| crate::hash::blake2b256(&i.to_le_bytes())).collect();
                let mut expected = vec![[0u8; 32]; trees];
                let layout = TreeLayout { trees, leaves, tree_stride: 1, leaf_stride: trees };
                merkle_roots(&hashes, layout, &mut expected);
                let mut frontiers = Frontiers::new(trees, leaves);
                // In uneven chunks, each split into its aligned runs.
                let mut at = 0;
                for (i, chunk) in [1usize, 2, 5, 3, 16, 7].iter().cycle().enumerate() {
                    if at >= leaves {
                        break;
                    }
                    let take = (*chunk + i % 2).min(leaves - at);
                    for (offset, run) in aligned_runs(at, take) {
                        let mut nodes = vec![[0u8; 32]; trees];
                        let layout = TreeLayout { trees, leaves: run, tree_stride: 1, leaf_stride: trees };
                        merkle_roots(&hashes[(at + offset) * trees..], layout, &mut nodes);
                        frontiers.push(run, nodes);
                    }
                    at += take;
                }
                assert_eq!(frontiers.roots(), expected, "{trees} trees of {leaves} leaves");
            }
        }
    }

    #[test]
    fn runs_are_aligned_powers_of_two() {
        assert_eq!(aligned_runs(0, 7), vec![(0, 4), (4, 2), (6, 1)]);
        assert_eq!(aligned_runs(6, 12), vec![(0, 2), (2, 8), (10, 2)]);
        assert_eq!(aligned_runs(64, 64), vec![(0, 64)]);
        assert!(aligned_runs(5, 0).is_empty());
    }
}
