//! Seal's costs: encrypting and decrypting 1 MiB and 64 MiB with each DEM for a 2-of-3 object
//! (the IBE part included), an object's fixed IBE cost (an empty payload), and a key server's
//! work per request (derive a user secret key) and a client's per key (verify it). Results
//! are recorded in docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use walrus_seal::bls::Scalar;
use walrus_seal::{decrypt, encrypt, ibe, Dem, KeyServer};

fn servers() -> Vec<(Scalar, KeyServer)> {
    (1..=3u8)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[0] = 0x22;
            seed[31] = i;
            let master = Scalar::from_be_bytes(&seed).expect("a scalar");
            let public = KeyServer { object_id: [i; 32], public_key: ibe::public_key(&master).to_bytes() };
            (master, public)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let servers = servers();
    let publics: Vec<KeyServer> = servers.iter().map(|(_, p)| p.clone()).collect();
    let package = [5u8; 32];
    let mut group = c.benchmark_group("seal");
    group.sample_size(10);
    for size in [0usize, 1 << 20, 64 << 20] {
        let data = vec![0x5au8; size];
        group.throughput(Throughput::Bytes(size.max(1) as u64));
        for (dem, name) in [(Dem::Aes256Gcm, "aes256gcm"), (Dem::Hmac256Ctr, "hmac256ctr")] {
            let label = format!(
                "{name}/{}",
                if size >= 1 << 20 { format!("{}MiB", size >> 20) } else { format!("{size}B") }
            );
            group.bench_function(BenchmarkId::new("encrypt", &label), |b| {
                b.iter(|| {
                    encrypt((&package, b"id"), &publics, 2, (dem, b""), &data, &[3; 32]).expect("encrypts")
                })
            });
            let (object, _) =
                encrypt((&package, b"id"), &publics, 2, (dem, b""), &data, &[3; 32]).expect("encrypts");
            let full = object.full_id();
            let keys: Vec<([u8; 32], [u8; 48])> = servers[..2]
                .iter()
                .map(|(m, p)| (p.object_id, ibe::user_secret_key(m, &full).to_bytes()))
                .collect();
            group.bench_function(BenchmarkId::new("decrypt", &label), |b| {
                b.iter(|| decrypt(&object, &keys, None).expect("decrypts"))
            });
        }
    }
    group.finish();
    let mut group = c.benchmark_group("seal_keys");
    let full = walrus_seal::full_id(&package, b"an identity");
    let (master, public) = &servers[0];
    group.bench_function("derive_user_secret_key", |b| b.iter(|| ibe::user_secret_key(master, &full)));
    let key = ibe::user_secret_key(master, &full);
    let public = walrus_seal::bls::G2::from_bytes(&public.public_key).expect("a key");
    group.bench_function("verify_user_secret_key", |b| {
        b.iter(|| ibe::verify_user_secret_key(&key, &full, &public))
    });
    group.finish();
}

mod harness {
    //! Criterion's generated entry points (undocumented by construction).
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, bench);
}

criterion_main!(harness::benches);
