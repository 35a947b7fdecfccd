//! Profiling driver: computes the metadata of one blob repeatedly (`SIZE` bytes, `N` shards,
//! `ITER` times), for use under `perf record`.

use walrus_core::encode::compute_metadata;
use walrus_core::EncodingParams;

fn main() {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (size, n, iterations) = (env("SIZE", 1), env("N", 1000), env("ITER", 20));
    let blob: Vec<u8> = (0..size).map(|i| (i * 7 + 1) as u8).collect();
    let params = EncodingParams::new(n).expect("valid n");
    for _ in 0..iterations {
        std::hint::black_box(compute_metadata(params, &blob).expect("encodable"));
    }
}
