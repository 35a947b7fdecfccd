//! Blake2b-256 for Merkle trees, many hashes at a time.
//!
//! Walrus commits to a blob with `2n` Merkle trees over `n` symbols each: at `n = 1000`, a
//! million leaf hashes and two million inner-node hashes, nearly all of them a single Blake2b
//! block. Hashed one by one, that is ~300 ms of one core; this crate runs eight hashes side by
//! side in SIMD lanes ([`kernel`]) and keeps whole tree levels in lane-major form, so that an
//! inner node's message is built with shifts instead of byte copies.
//!
//! The entry points pick the widest instruction set the CPU has at run time (AVX-512, then
//! AVX2, then plain 64-bit code). The results never depend on the choice; the tests compare
//! every available path with an independent Blake2b implementation.
//!
//! This is the workspace's only crate with `unsafe` code: calling a function compiled for
//! AVX-512 or AVX2 is `unsafe`, and each such call is guarded by run-time CPU detection.
#![allow(unsafe_code)]

mod kernel;
mod simd;

use kernel::{State, BLOCK_LEN};
use simd::{Vector, MAX_LANES};

/// Bytes in a Blake2b-256 digest.
pub const DIGEST_LEN: usize = 32;

/// A Blake2b-256 digest.
pub type Digest = [u8; DIGEST_LEN];

/// How the leaf hashes of several same-sized Merkle trees are laid out in one slice: leaf `i`
/// of tree `t` is at `t * tree_stride + i * leaf_stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLayout {
    /// Number of trees.
    pub trees: usize,
    /// Leaves per tree.
    pub leaves: usize,
    /// Distance between the first leaves of consecutive trees.
    pub tree_stride: usize,
    /// Distance between consecutive leaves of a tree.
    pub leaf_stride: usize,
}

impl TreeLayout {
    /// The index of leaf `leaf` of tree `tree`.
    fn at(&self, tree: usize, leaf: usize) -> usize {
        tree * self.tree_stride + leaf * self.leaf_stride
    }
}

/// The instruction sets the entry points can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Scalar,
}

impl Backend {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Backend::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Backend::Avx2;
            }
        }
        Backend::Scalar
    }

    /// Every backend this CPU can run, widest first.
    #[cfg(test)]
    fn available() -> Vec<Self> {
        let mut all = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                all.push(Backend::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                all.push(Backend::Avx2);
            }
        }
        all.push(Backend::Scalar);
        all
    }
}

/// `out[i] = Blake2b-256(prefix || inputs[i * len .. (i + 1) * len])`: the Merkle leaf hash
/// (prefix `0x00`) of every `len`-byte item of `inputs`.
///
/// # Panics
/// If `inputs.len() != out.len() * len` (a caller bug).
pub fn hash_prefixed(prefix: u8, inputs: &[u8], len: usize, out: &mut [Digest]) {
    assert_eq!(inputs.len(), out.len() * len, "inputs must hold exactly one item per digest");
    hash_prefixed_on(Backend::detect(), prefix, inputs, len, out);
}

/// One level of inner nodes: `out[i] = Blake2b-256(0x01 || level[2i] || level[2i + 1])`, with a
/// missing right sibling (odd level) taken as 32 zero bytes.
///
/// # Panics
/// If `out.len() != level.len().div_ceil(2)` (a caller bug).
pub fn hash_level(level: &[Digest], out: &mut [Digest]) {
    assert_eq!(out.len(), level.len().div_ceil(2), "one output per pair of nodes");
    hash_level_on(Backend::detect(), level, out);
}

/// The roots of the Merkle trees over leaf hashes laid out as `layout` says, in tree order.
/// Odd levels are padded with 32 zero bytes; one leaf is its own root; no leaves give zeros.
///
/// # Panics
/// If `out.len() != layout.trees`, or if a leaf index falls outside `leaf_hashes`.
pub fn merkle_roots(leaf_hashes: &[Digest], layout: TreeLayout, out: &mut [Digest]) {
    assert_eq!(out.len(), layout.trees, "one root per tree");
    if layout.trees > 0 && layout.leaves > 0 {
        assert!(
            layout.at(layout.trees - 1, layout.leaves - 1) < leaf_hashes.len(),
            "layout reaches past the leaf hashes"
        );
    }
    merkle_roots_on(Backend::detect(), leaf_hashes, layout, out);
}

/// Generates `$name_on(backend, args)`, which runs the `#[inline(always)]` function `$body`,
/// generic over [`Vector`], compiled for the chosen backend's type and target features.
macro_rules! per_backend {
    ($name:ident => $body:ident($($arg:ident: $ty:ty),*)) => {
        fn $name(backend: Backend, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            fn avx512($($arg: $ty),*) {
                $body::<simd::Avx512>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) {
                $body::<simd::Avx2>($($arg),*)
            }
            match backend {
                // SAFETY: `Backend::Avx512` is only chosen when the CPU reports AVX-512F.
                #[cfg(target_arch = "x86_64")]
                Backend::Avx512 => unsafe { avx512($($arg),*) },
                // SAFETY: `Backend::Avx2` is only chosen when the CPU reports AVX2.
                #[cfg(target_arch = "x86_64")]
                Backend::Avx2 => unsafe { avx2($($arg),*) },
                Backend::Scalar => $body::<simd::Scalar>($($arg),*),
            }
        }
    };
}

per_backend!(hash_prefixed_on => hash_prefixed_lanes(prefix: u8, inputs: &[u8], len: usize, out: &mut [Digest]));
per_backend!(hash_level_on => hash_level_lanes(level: &[Digest], out: &mut [Digest]));
per_backend!(merkle_roots_on => merkle_roots_lanes(leaf_hashes: &[Digest], layout: TreeLayout, out: &mut [Digest]));

/// The four words of a digest.
#[inline(always)]
fn digest_words(digest: &Digest) -> [u64; 4] {
    std::array::from_fn(|k| read_word(&digest[8 * k..8 * k + 8]))
}

/// A little-endian word from exactly eight bytes.
#[inline(always)]
fn read_word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// Word `k` of block `block` of the message `prefix || input`, zero past the message's end.
#[inline(always)]
fn message_word(prefix: u8, input: &[u8], block: usize, k: usize) -> u64 {
    // Message byte `j` is `input[j - 1]`; byte 0 is the prefix.
    match (block * BLOCK_LEN + 8 * k).checked_sub(1) {
        None => u64::from(prefix) | partial_word(&input[..input.len().min(7)]) << 8,
        Some(start) if start + 8 <= input.len() => read_word(&input[start..start + 8]),
        Some(start) => partial_word(input.get(start..).unwrap_or_default()),
    }
}

/// A little-endian word from fewer than eight bytes, zero-extended.
#[inline(always)]
fn partial_word(bytes: &[u8]) -> u64 {
    bytes.iter().enumerate().fold(0, |word, (i, byte)| word | u64::from(*byte) << (8 * i))
}

/// Writes the lane-major digests `words` to `out` (one per lane, `out.len() <= V::LANES`).
#[inline(always)]
fn store_digests<V: Vector>(words: &[V; 4], out: &mut [Digest]) {
    let mut lanes = [[0u64; MAX_LANES]; 4];
    for (k, word) in words.iter().enumerate() {
        word.store(&mut lanes[k]);
    }
    for (lane, digest) in out.iter_mut().enumerate() {
        for (k, chunk) in digest.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&lanes[k][lane].to_le_bytes());
        }
    }
}

/// Loads up to `V::LANES` digests into lane-major form; lanes past `count` repeat the last.
#[inline(always)]
fn gather<V: Vector>(digest: impl Fn(usize) -> [u64; 4], count: usize) -> [V; 4] {
    let digests: [[u64; 4]; MAX_LANES] =
        std::array::from_fn(|lane| if lane < V::LANES { digest(lane.min(count - 1)) } else { [0; 4] });
    let words: [[u64; MAX_LANES]; 4] = std::array::from_fn(|k| std::array::from_fn(|lane| digests[lane][k]));
    [V::load(&words[0]), V::load(&words[1]), V::load(&words[2]), V::load(&words[3])]
}

#[inline(always)]
fn hash_prefixed_lanes<V: Vector>(prefix: u8, inputs: &[u8], len: usize, out: &mut [Digest]) {
    let total = len + 1;
    let blocks = total.div_ceil(BLOCK_LEN);
    for (group, out) in out.chunks_mut(V::LANES).enumerate() {
        let first = group * V::LANES;
        let mut h: State<V> = kernel::initial_state();
        for block in 0..blocks {
            let end = ((block + 1) * BLOCK_LEN).min(total);
            let n_words = (end - block * BLOCK_LEN).div_ceil(8);
            let mut m = [V::splat(0); 16];
            for (k, word) in m[..n_words].iter_mut().enumerate() {
                let mut lanes = [0u64; MAX_LANES];
                for (lane, slot) in lanes[..out.len()].iter_mut().enumerate() {
                    let input = &inputs[(first + lane) * len..(first + lane + 1) * len];
                    *slot = message_word(prefix, input, block, k);
                }
                *word = V::load(&lanes);
            }
            let last = block + 1 == blocks;
            if n_words == 1 {
                kernel::compress::<V, 1>(&mut h, &m, end as u64, last);
            } else {
                kernel::compress::<V, 16>(&mut h, &m, end as u64, last);
            }
        }
        store_digests(&[h[0], h[1], h[2], h[3]], out);
    }
}

#[inline(always)]
fn hash_level_lanes<V: Vector>(level: &[Digest], out: &mut [Digest]) {
    let node = |i: usize| level.get(i).map_or([0; 4], digest_words);
    for (group, out) in out.chunks_mut(V::LANES).enumerate() {
        let first = group * V::LANES;
        let left = gather::<V>(|lane| node(2 * (first + lane)), out.len());
        let right = gather::<V>(|lane| node(2 * (first + lane) + 1), out.len());
        store_digests(&kernel::inner_hash(&left, &right), out);
    }
}

#[inline(always)]
fn merkle_roots_lanes<V: Vector>(leaf_hashes: &[Digest], layout: TreeLayout, out: &mut [Digest]) {
    if layout.leaves == 0 {
        out.fill([0; DIGEST_LEN]);
        return;
    }
    let mut level: Vec<[V; 4]> = vec![[V::splat(0); 4]; layout.leaves];
    for (group, out) in out.chunks_mut(V::LANES).enumerate() {
        let first = group * V::LANES;
        for (i, node) in level.iter_mut().enumerate() {
            *node = gather::<V>(|lane| digest_words(&leaf_hashes[layout.at(first + lane, i)]), out.len());
        }
        let mut len = layout.leaves;
        while len > 1 {
            for p in 0..len / 2 {
                level[p] = kernel::inner_hash(&level[2 * p], &level[2 * p + 1]);
            }
            if len % 2 == 1 {
                level[len / 2] = kernel::inner_hash(&level[len - 1], &[V::splat(0); 4]);
            }
            len = len.div_ceil(2);
        }
        store_digests(&level[0], out);
    }
}

#[cfg(test)]
mod tests;
