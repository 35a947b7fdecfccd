//! Profiling and memory driver: encodes one blob (`SIZE` bytes, `N` shards) `ITER` times, with
//! `MODE=metadata` (blob ID only, the default) or `MODE=encode` (slivers and metadata). Used
//! under `perf record` and `/usr/bin/time -v` (peak memory) for docs/benchmarks.md.

use walrus_core::encode::{compute_metadata, encode_blob};
use walrus_core::EncodingParams;

fn main() {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (size, n, iterations) = (env("SIZE", 1), env("N", 1000), env("ITER", 20));
    let encode = std::env::var("MODE").is_ok_and(|m| m == "encode");
    let blob: Vec<u8> = (0..size).map(|i| (i * 7 + 1) as u8).collect();
    let params = EncodingParams::new(n).expect("valid n");
    for _ in 0..iterations {
        if encode {
            std::hint::black_box(encode_blob(params, &blob).expect("encodable"));
        } else {
            std::hint::black_box(compute_metadata(params, &blob).expect("encodable"));
        }
    }
}
