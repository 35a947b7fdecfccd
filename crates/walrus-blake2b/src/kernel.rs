//! The lane-parallel Blake2b compression and the message layouts of Merkle hashing.
//!
//! Everything here works on a [`Vector`]: independent 64-bit words, one per hash in flight.
//! [`crate::simd`] implements it with AVX-512 (eight lanes in one register), AVX2 (eight lanes
//! in two registers) and a plain integer (one lane). All functions are `#[inline(always)]` so that they are compiled inside the
//! entry points of `lib.rs`, which enable the backend's target features.
//!
//! Single-block hashes dominate Merkle hashing (a leaf of a small symbol, every inner node),
//! so [`compress`] takes the number `W` of message words that may be non-zero as a constant:
//! words `W..16` are known zeros and their additions vanish at compile time.

pub use crate::simd::Vector;

/// Blake2b's block size in bytes.
pub const BLOCK_LEN: usize = 128;

const IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

/// The message schedule; rounds 10 and 11 repeat rounds 0 and 1.
const SIGMA: [[usize; 16]; 12] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

/// The chaining value of Blake2b-256 before the first block: the IV xor the parameter block
/// (digest length 32, no key, fanout 1, depth 1).
pub const H256: [u64; 8] = [IV[0] ^ 0x0101_0020, IV[1], IV[2], IV[3], IV[4], IV[5], IV[6], IV[7]];

/// The state of `V::LANES` hashes: the chaining value, word by word.
pub type State<V> = [V; 8];

/// The state of fresh Blake2b-256 hashes in every lane.
#[inline(always)]
pub fn initial_state<V: Vector>() -> State<V> {
    H256.map(V::splat)
}

/// The mixing function G on columns `a, b, c, d` with message words `x` and `y`.
#[inline(always)]
fn g<V: Vector, const W: usize>(v: &mut [V; 16], i: [usize; 4], m: &[V; 16], x: usize, y: usize) {
    let [a, b, c, d] = i;
    v[a] = v[a].add(v[b]);
    if x < W {
        v[a] = v[a].add(m[x]);
    }
    v[d] = v[d].xor(v[a]).rotr32();
    v[c] = v[c].add(v[d]);
    v[b] = v[b].xor(v[c]).rotr24();
    v[a] = v[a].add(v[b]);
    if y < W {
        v[a] = v[a].add(m[y]);
    }
    v[d] = v[d].xor(v[a]).rotr16();
    v[c] = v[c].add(v[d]);
    v[b] = v[b].xor(v[c]).rotr63();
}

#[inline(always)]
fn round<V: Vector, const R: usize, const W: usize>(v: &mut [V; 16], m: &[V; 16]) {
    let s = &SIGMA[R];
    g::<V, W>(v, [0, 4, 8, 12], m, s[0], s[1]);
    g::<V, W>(v, [1, 5, 9, 13], m, s[2], s[3]);
    g::<V, W>(v, [2, 6, 10, 14], m, s[4], s[5]);
    g::<V, W>(v, [3, 7, 11, 15], m, s[6], s[7]);
    g::<V, W>(v, [0, 5, 10, 15], m, s[8], s[9]);
    g::<V, W>(v, [1, 6, 11, 12], m, s[10], s[11]);
    g::<V, W>(v, [2, 7, 8, 13], m, s[12], s[13]);
    g::<V, W>(v, [3, 4, 9, 14], m, s[14], s[15]);
}

/// Compresses one block into every lane's state. `counter` is the byte count hashed so far
/// including this block (the same in every lane); `last` marks the final block. Message words
/// `W..16` are treated as zero whatever `m` holds.
#[inline(always)]
pub fn compress<V: Vector, const W: usize>(h: &mut State<V>, m: &[V; 16], counter: u64, last: bool) {
    let mut v: [V; 16] = std::array::from_fn(|i| if i < 8 { h[i] } else { V::splat(IV[i - 8]) });
    v[12] = V::splat(IV[4] ^ counter);
    if last {
        v[14] = V::splat(!IV[6]);
    }
    round::<V, 0, W>(&mut v, m);
    round::<V, 1, W>(&mut v, m);
    round::<V, 2, W>(&mut v, m);
    round::<V, 3, W>(&mut v, m);
    round::<V, 4, W>(&mut v, m);
    round::<V, 5, W>(&mut v, m);
    round::<V, 6, W>(&mut v, m);
    round::<V, 7, W>(&mut v, m);
    round::<V, 8, W>(&mut v, m);
    round::<V, 9, W>(&mut v, m);
    round::<V, 10, W>(&mut v, m);
    round::<V, 11, W>(&mut v, m);
    for i in 0..8 {
        h[i] = h[i].xor(v[i]).xor(v[i + 8]);
    }
}

/// Hashes one inner node per lane: the digests (first four state words) of `0x01 || left || right`,
/// for node pairs given word by word.
#[inline(always)]
pub fn inner_hash<V: Vector>(left: &[V; 4], right: &[V; 4]) -> [V; 4] {
    let words = [left[0], left[1], left[2], left[3], right[0], right[1], right[2], right[3]];
    let mut m = [V::splat(0); 16];
    m[0] = words[0].shl8().or(V::splat(0x01));
    for k in 1..8 {
        m[k] = words[k - 1].shr56().or(words[k].shl8());
    }
    m[8] = words[7].shr56();
    let mut h = initial_state();
    compress::<V, 9>(&mut h, &m, 65, true);
    [h[0], h[1], h[2], h[3]]
}
