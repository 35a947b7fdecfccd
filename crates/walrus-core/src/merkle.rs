//! Merkle trees over Blake2b-256, as the reference builds them.
//!
//! Leaves hash as `H(0x00 || leaf)`, inner nodes as `H(0x01 || left || right)`. A level with an
//! odd number of nodes is padded with one [`Node::Empty`], whose bytes are 32 zeros and which is
//! not itself hashed. The root of zero leaves is all zeros; of one leaf, that leaf's hash.
//! Proofs list the sibling of each level from the leaves upwards.

use serde::{Deserialize, Serialize};

use crate::hash::{hash_level, inner_hash, leaf_hash, merkle_roots, Digest, TreeLayout};
use crate::params::DIGEST_LEN;

/// A tree node on the wire: BCS tag 0 for the padding node, tag 1 followed by 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Node {
    /// The padding node of an odd level; its bytes are all zeros.
    Empty,
    /// A hash.
    Digest(Digest),
}

impl Node {
    /// The node's 32 bytes (zeros for [`Node::Empty`]).
    pub fn bytes(&self) -> Digest {
        match self {
            Node::Empty => [0; DIGEST_LEN],
            Node::Digest(d) => *d,
        }
    }
}

impl From<Digest> for Node {
    fn from(d: Digest) -> Self {
        Node::Digest(d)
    }
}

/// A proof that a leaf is at a position of a tree: the siblings from the leaf level up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    path: Vec<Node>,
}

/// Why a Merkle proof was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MerkleProofError {
    /// The leaf index is not below the number of leaves.
    #[error("leaf index {index} out of range for {n_leaves} leaves")]
    IndexOutOfRange {
        /// The claimed position.
        index: usize,
        /// Leaves in the tree.
        n_leaves: usize,
    },
    /// The path does not have the length of a path in a tree of this size.
    #[error("proof path has {actual} nodes, expected {expected}")]
    WrongPathLength {
        /// Nodes in the proof.
        actual: usize,
        /// Nodes in a path of this tree.
        expected: usize,
    },
    /// Hashing up the path did not reach the expected root.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// Length of every leaf-to-root path in a tree of `n_leaves` leaves: `ceil(log2(n_leaves))`.
pub fn path_len(n_leaves: usize) -> usize {
    if n_leaves <= 1 {
        0
    } else {
        (usize::BITS - (n_leaves - 1).leading_zeros()) as usize
    }
}

impl MerkleProof {
    /// A proof from its sibling nodes, leaf level first.
    pub fn new(path: Vec<Node>) -> Self {
        MerkleProof { path }
    }

    /// The sibling nodes, leaf level first.
    pub fn path(&self) -> &[Node] {
        &self.path
    }

    /// Checks that `leaf` is leaf `index` of a tree of `n_leaves` leaves with root `root`.
    pub fn verify(
        &self,
        root: &Digest,
        leaf: &[u8],
        index: usize,
        n_leaves: usize,
    ) -> Result<(), MerkleProofError> {
        self.verify_leaf_hash(root, &leaf_hash(leaf), index, n_leaves)
    }

    /// As [`MerkleProof::verify`], for a leaf whose hash is already known.
    pub fn verify_leaf_hash(
        &self,
        root: &Digest,
        leaf_hash: &Digest,
        index: usize,
        n_leaves: usize,
    ) -> Result<(), MerkleProofError> {
        if index >= n_leaves {
            return Err(MerkleProofError::IndexOutOfRange { index, n_leaves });
        }
        let expected = path_len(n_leaves);
        if self.path.len() != expected {
            return Err(MerkleProofError::WrongPathLength { actual: self.path.len(), expected });
        }
        let mut current = *leaf_hash;
        let mut position = index;
        for sibling in &self.path {
            let sibling = sibling.bytes();
            current = if position.is_multiple_of(2) {
                inner_hash(&current, &sibling)
            } else {
                inner_hash(&sibling, &current)
            };
            position /= 2;
        }
        if current == *root {
            Ok(())
        } else {
            Err(MerkleProofError::RootMismatch)
        }
    }
}

/// A complete tree: every level, from the leaf hashes up to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]` are the leaf hashes; the last level holds the root alone (if any leaves).
    levels: Vec<Vec<Digest>>,
}

impl MerkleTree {
    /// Builds the tree over `leaves` (each hashed as a leaf).
    pub fn from_leaves<L: AsRef<[u8]>>(leaves: &[L]) -> Self {
        Self::from_leaf_hashes(leaves.iter().map(|l| leaf_hash(l.as_ref())).collect())
    }

    /// Builds the tree from already computed leaf hashes.
    pub fn from_leaf_hashes(leaf_hashes: Vec<Digest>) -> Self {
        let mut levels = vec![leaf_hashes];
        while let Some(level) = levels.last().filter(|l| l.len() > 1) {
            let mut next = vec![[0u8; DIGEST_LEN]; level.len().div_ceil(2)];
            hash_level(level, &mut next);
            levels.push(next);
        }
        MerkleTree { levels }
    }

    /// The root (all zeros for an empty tree).
    pub fn root(&self) -> Digest {
        match self.levels.last() {
            Some(top) if top.len() == 1 => top[0],
            _ => [0; DIGEST_LEN],
        }
    }

    /// The number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.levels[0].len()
    }

    /// The proof for leaf `index`, or `None` if there is no such leaf.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        if index >= self.n_leaves() {
            return None;
        }
        let mut path = Vec::with_capacity(self.levels.len().saturating_sub(1));
        let mut position = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = position ^ 1;
            path.push(level.get(sibling).map_or(Node::Empty, |d| Node::Digest(*d)));
            position /= 2;
        }
        Some(MerkleProof { path })
    }
}

/// The root of the tree over `leaf_hashes`, without keeping the inner levels.
pub fn root_of_leaf_hashes(leaf_hashes: &[Digest]) -> Digest {
    let mut root = [[0u8; DIGEST_LEN]];
    let layout = TreeLayout { trees: 1, leaves: leaf_hashes.len(), tree_stride: 0, leaf_stride: 1 };
    merkle_roots(leaf_hashes, layout, &mut root);
    root[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive recursive definition, to check the batched construction against.
    fn naive_root(leaves: &[Vec<u8>]) -> Digest {
        if leaves.is_empty() {
            return [0; 32];
        }
        let mut level: Vec<Digest> = leaves.iter().map(|l| leaf_hash(l)).collect();
        while level.len() > 1 {
            if level.len() % 2 == 1 {
                level.push([0; 32]);
            }
            level = level.chunks(2).map(|p| inner_hash(&p[0], &p[1])).collect();
        }
        level[0]
    }

    #[test]
    fn path_lengths_match_the_reference() {
        let lens: Vec<usize> = (0..10).map(path_len).collect();
        assert_eq!(lens, vec![0, 0, 1, 2, 2, 3, 3, 3, 3, 4]);
        assert_eq!(path_len(1000), 10);
    }

    #[test]
    fn roots_and_proofs_for_every_small_size() {
        for n in 0..40usize {
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; i % 5 + 1]).collect();
            let tree = MerkleTree::from_leaves(&leaves);
            assert_eq!(tree.root(), naive_root(&leaves), "n = {n}");
            let hashes: Vec<Digest> = leaves.iter().map(|l| leaf_hash(l)).collect();
            assert_eq!(root_of_leaf_hashes(&hashes), tree.root());
            for (i, leaf) in leaves.iter().enumerate() {
                let proof = tree.proof(i).expect("leaf exists");
                assert_eq!(proof.verify(&tree.root(), leaf, i, n), Ok(()));
                if n > 1 {
                    assert!(proof.verify(&tree.root(), leaf, (i + 1) % n, n).is_err());
                }
                assert!(proof.verify(&tree.root(), b"other", i, n).is_err());
            }
            assert!(tree.proof(n).is_none());
        }
    }

    #[test]
    fn root_of_one_leaf_is_its_hash_and_of_none_is_zero() {
        assert_eq!(MerkleTree::from_leaves::<&[u8]>(&[]).root(), [0; 32]);
        assert_eq!(MerkleTree::from_leaves(&[b"x"]).root(), leaf_hash(b"x"));
    }

    #[test]
    fn proof_bcs_is_a_vector_of_tagged_nodes() {
        let proof = MerkleProof::new(vec![Node::Empty, Node::Digest([9; 32])]);
        let bytes = bcs::to_bytes(&proof).expect("serializable");
        assert_eq!(bytes.len(), 1 + 1 + 33);
        assert_eq!(&bytes[..3], &[2, 0, 1]);
        assert_eq!(bcs::from_bytes::<MerkleProof>(&bytes).ok(), Some(proof));
    }

    #[test]
    fn wrong_path_length_is_rejected() {
        let tree = MerkleTree::from_leaves(&[b"a", b"b", b"c"]);
        let mut proof = tree.proof(0).expect("leaf exists");
        proof.path.push(Node::Empty);
        assert!(matches!(
            proof.verify(&tree.root(), b"a", 0, 3),
            Err(MerkleProofError::WrongPathLength { .. })
        ));
    }
}
