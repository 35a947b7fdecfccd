//! Rough single-thread throughput of the three entry points (use the criterion benches of
//! walrus-core for recorded figures).
use std::time::Instant;

fn main() {
    let n = 1000usize;
    let inputs = vec![7u8; n * n * 2];
    let mut leaves = vec![[0u8; 32]; n * n];
    let t = Instant::now();
    walrus_blake2b::hash_prefixed(0, &inputs, 2, &mut leaves);
    let leaf = t.elapsed();
    let mut roots = vec![[0u8; 32]; n];
    let t = Instant::now();
    walrus_blake2b::merkle_roots(
        &leaves,
        walrus_blake2b::TreeLayout { trees: n, leaves: n, tree_stride: n, leaf_stride: 1 },
        &mut roots,
    );
    let rows = t.elapsed();
    let t = Instant::now();
    walrus_blake2b::merkle_roots(
        &leaves,
        walrus_blake2b::TreeLayout { trees: n, leaves: n, tree_stride: 1, leaf_stride: n },
        &mut roots,
    );
    let cols = t.elapsed();
    let mut level = vec![[0u8; 32]; n * n / 2];
    let t = Instant::now();
    walrus_blake2b::hash_level(&leaves, &mut level);
    let lvl = t.elapsed();
    println!("1M leaves(2B) {leaf:?}  1000 row trees {rows:?}  1000 col trees {cols:?}  500K level {lvl:?}");
}
