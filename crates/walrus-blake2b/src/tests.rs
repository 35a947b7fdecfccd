//! Every backend against `blake2b_simd`, an independent Blake2b implementation.

use super::*;

fn reference(parts: &[&[u8]]) -> Digest {
    let mut state = blake2b_simd::Params::new().hash_length(DIGEST_LEN).to_state();
    for part in parts {
        state.update(part);
    }
    let mut out = [0; DIGEST_LEN];
    out.copy_from_slice(state.finalize().as_bytes());
    out
}

fn reference_inner(left: &Digest, right: &Digest) -> Digest {
    reference(&[&[0x01], left, right])
}

fn bytes(count: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..count)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

fn digests(count: usize, seed: u64) -> Vec<Digest> {
    bytes(count * DIGEST_LEN, seed)
        .chunks_exact(DIGEST_LEN)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect()
}

#[test]
fn known_answer() {
    // Python: hashlib.blake2b(b"\x00abc", digest_size=32).hexdigest()
    let mut out = [[0u8; 32]; 1];
    hash_prefixed(0x00, b"abc", 3, &mut out);
    assert_eq!(out[0], reference(&[b"\x00abc"]));
}

#[test]
fn prefixed_hashes_match_for_every_length_and_count() {
    for backend in Backend::available() {
        for len in [0usize, 1, 2, 6, 7, 8, 15, 63, 126, 127, 128, 129, 200, 255, 256, 257, 1000] {
            for count in [0usize, 1, 7, 8, 9, 17] {
                let inputs = bytes(len * count, (len * 31 + count) as u64);
                let mut out = vec![[0u8; 32]; count];
                hash_prefixed_on(backend, 0x00, &inputs, len, &mut out);
                for (i, digest) in out.iter().enumerate() {
                    let item = &inputs[i * len..(i + 1) * len];
                    assert_eq!(*digest, reference(&[&[0x00], item]), "{backend:?} len {len} item {i}");
                }
            }
        }
    }
}

#[test]
fn levels_match_and_pad_odd_levels_with_zeros() {
    for backend in Backend::available() {
        for len in 0..20usize {
            let level = digests(len, len as u64);
            let mut out = vec![[0u8; 32]; len.div_ceil(2)];
            hash_level_on(backend, &level, &mut out);
            for (i, parent) in out.iter().enumerate() {
                let right = level.get(2 * i + 1).copied().unwrap_or([0; 32]);
                assert_eq!(*parent, reference_inner(&level[2 * i], &right), "{backend:?} len {len}");
            }
        }
    }
}

fn naive_root(leaves: &[Digest]) -> Digest {
    if leaves.is_empty() {
        return [0; 32];
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| reference_inner(&p[0], p.get(1).unwrap_or(&[0; 32]))).collect();
    }
    level[0]
}

#[test]
fn roots_match_in_rows_and_columns() {
    for backend in Backend::available() {
        for (rows, cols) in [(1usize, 1usize), (3, 5), (9, 9), (17, 10), (8, 33), (2, 0)] {
            let grid = digests(rows * cols, (rows * 100 + cols) as u64);
            let by_rows = TreeLayout { trees: rows, leaves: cols, tree_stride: cols, leaf_stride: 1 };
            let by_cols = TreeLayout { trees: cols, leaves: rows, tree_stride: 1, leaf_stride: cols };
            let mut row_roots = vec![[1u8; 32]; rows];
            let mut col_roots = vec![[1u8; 32]; cols];
            merkle_roots_on(backend, &grid, by_rows, &mut row_roots);
            merkle_roots_on(backend, &grid, by_cols, &mut col_roots);
            for (r, root) in row_roots.iter().enumerate() {
                assert_eq!(*root, naive_root(&grid[r * cols..(r + 1) * cols]), "{backend:?} row {r}");
            }
            for (c, root) in col_roots.iter().enumerate() {
                let column: Vec<Digest> = (0..rows).map(|r| grid[r * cols + c]).collect();
                assert_eq!(*root, naive_root(&column), "{backend:?} column {c}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "layout reaches past")]
fn a_layout_past_the_slice_is_a_caller_bug() {
    let grid = digests(4, 1);
    let mut out = [[0u8; 32]; 2];
    merkle_roots(&grid, TreeLayout { trees: 2, leaves: 3, tree_stride: 1, leaf_stride: 2 }, &mut out);
}
