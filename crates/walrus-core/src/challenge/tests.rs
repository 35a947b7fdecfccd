//! Unit tests of the challenge computations: draws, positions, proofs and their faults (the
//! guide's T1 and T2 on one encoded blob).

use super::*;
use crate::encode::encode_blob;
use crate::hash::blake2b256;

/// Blobs `0..count` with sizes `size(k)`, as the chain's index would answer.
struct Listed(Vec<(BlobId, u64)>);

impl Listed {
    fn new(count: u64, size: impl Fn(u64) -> u64) -> Self {
        Listed((0..count).map(|k| (BlobId(blake2b256(&k.to_le_bytes())), size(k))).collect())
    }
}

impl BlobIndex for Listed {
    fn count(&self) -> u64 {
        self.0.len() as u64
    }
    fn total_size(&self) -> u64 {
        self.0.iter().map(|(_, s)| s).sum()
    }
    fn nth(&self, k: u64) -> Option<(BlobId, u64)> {
        self.0.get(k as usize).copied()
    }
    fn at_size_offset(&self, mut offset: u64) -> Option<(BlobId, u64)> {
        for &(id, size) in &self.0 {
            if offset < size {
                return Some((id, size));
            }
            offset -= size;
        }
        None
    }
}

fn params(n: u64) -> EncodingParams {
    EncodingParams::new(n).expect("as set up")
}

#[test]
fn draws_are_deterministic_distinct_and_half_by_size() {
    let p = params(10);
    let index = Listed::new(1000, |k| if k < 10 { 1 << 30 } else { 1000 });
    let seed = [7u8; 32];
    let a = draw_blobs(p, &seed, &index, 64);
    assert_eq!(a, draw_blobs(p, &seed, &index, 64));
    assert_eq!(a.len(), 64);
    let mut ids: Vec<_> = a.iter().map(|b| b.blob_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 64, "no blob drawn twice");
    // Ten huge blobs hold almost all the bytes: the size-weighted half draws all ten (and then
    // falls back to ranks once they are taken), the uniform half almost never.
    let huge = a.iter().filter(|b| b.unencoded_length == 1 << 30).count();
    assert_eq!(huge, 10);
    assert_ne!(a, draw_blobs(p, &[8u8; 32], &index, 64), "another seed, another draw");
    // Few blobs: all of them, by rank.
    let small = Listed::new(5, |_| 10);
    let all = draw_blobs(p, &seed, &small, 64);
    assert_eq!(
        all.iter().map(|b| b.blob_id).collect::<Vec<_>>(),
        small.0.iter().map(|b| b.0).collect::<Vec<_>>()
    );
    assert!(draw_blobs(p, &seed, &Listed::new(0, |_| 0), 64).is_empty());
}

#[test]
fn large_symbols_prove_one_symbol_per_sliver() {
    let p = params(1000);
    let small = Listed::new(100, |_| 1 << 20);
    assert!(draw_blobs(p, &[1; 32], &small, 8).iter().all(|b| b.symbols_per_sliver == 2));
    let large = Listed::new(100, |_| 13 << 30);
    assert!(draw_blobs(p, &[1; 32], &large, 8).iter().all(|b| b.symbols_per_sliver == 1));
}

#[test]
fn positions_are_distinct_source_positions() {
    let p = params(1000);
    let blob = ChallengedBlob { blob_id: BlobId([3; 32]), unencoded_length: 1 << 20, symbols_per_sliver: 2 };
    for shard in 0..200u16 {
        let (primary, secondary) = symbol_positions(p, &[5; 32], &blob, ShardIndex(shard));
        assert_eq!(primary.len(), 2);
        assert_ne!(primary[0], primary[1]);
        assert_ne!(secondary[0], secondary[1]);
        assert!(primary.iter().all(|&x| usize::from(x) < p.symbols_per_sliver(SliverType::Primary)));
        assert!(secondary.iter().all(|&x| usize::from(x) < p.symbols_per_sliver(SliverType::Secondary)));
    }
    // Positions range over the whole primary sliver (n − f symbols), its last third included:
    // no part of it can be dropped safely.
    let mut asked = std::collections::BTreeSet::new();
    for shard in 0..1000u16 {
        asked.extend(symbol_positions(p, &[5; 32], &blob, ShardIndex(shard)).0);
    }
    let stored = p.symbols_per_sliver(SliverType::Primary);
    assert!(asked.len() * 10 > stored * 9, "{} of {stored}", asked.len());
    let last_third = p.symbols_per_sliver(SliverType::Secondary);
    assert!(asked.iter().filter(|&&x| usize::from(x) >= last_third).count() > (stored - last_third) * 9 / 10);
}

#[test]
fn the_seed_depends_on_every_reveal_and_on_the_fallback_only_without_reveals() {
    let fallback = [9u8; 32];
    let one = challenge_seed(Epoch(3), &[[1; 32]], &fallback);
    assert_eq!(one, challenge_seed(Epoch(3), &[[1; 32]], &[0; 32]));
    assert_ne!(one, challenge_seed(Epoch(3), &[[1; 32], [2; 32]], &fallback));
    assert_ne!(one, challenge_seed(Epoch(4), &[[1; 32]], &fallback));
    assert_ne!(challenge_seed(Epoch(3), &[], &fallback), challenge_seed(Epoch(3), &[], &[0; 32]));
    let secret = reveal_secret(&[4; 32], &[0; 32], Epoch(3));
    assert_ne!(secret, reveal_secret(&[4; 32], &[0; 32], Epoch(4)));
    assert_ne!(reveal_commitment(&secret), secret);
}

/// An encoded blob at n = 10, challenged with one seed.
struct Fixture {
    p: EncodingParams,
    encoded: crate::encode::EncodedBlob,
    blob: ChallengedBlob,
    seed: Digest,
}

impl Fixture {
    fn new() -> Self {
        let p = params(10);
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        let encoded = encode_blob(p, &data).expect("as set up");
        let blob = ChallengedBlob {
            blob_id: *encoded.metadata().blob_id(),
            unencoded_length: data.len() as u64,
            symbols_per_sliver: 2,
        };
        Fixture { p, encoded, blob, seed: [11; 32] }
    }

    fn slivers(&self, shard: ShardIndex) -> (&[u8], &[u8]) {
        let pair = pair_of(self.p, &self.blob.blob_id, shard);
        let n = self.p.n_shards();
        (
            self.encoded.sliver_bytes(SliverType::Primary, pair.to_sliver_index(SliverType::Primary, n)),
            self.encoded.sliver_bytes(SliverType::Secondary, pair.to_sliver_index(SliverType::Secondary, n)),
        )
    }

    fn item(&self, shard: ShardIndex) -> ChallengeItem {
        prove_item(self.p, &self.seed, 0, &self.blob, shard, Some(self.slivers(shard))).expect("as set up")
    }

    fn verify(&self, shard: ShardIndex, item: &ChallengeItem) -> bool {
        verify_item(&self.seed, &self.blob, self.encoded.metadata(), shard, item)
    }
}

/// A named way to spoil an item.
type Fault<'a> = (&'a str, Box<dyn Fn(&mut ChallengeItem) + 'a>);

fn proofs_mut(item: &mut ChallengeItem) -> (&mut Vec<SymbolProof>, &mut Vec<SymbolProof>) {
    match &mut item.response {
        ItemResponse::Proved { primary, secondary } => (primary, secondary),
        ItemResponse::Missing => panic!("a proved item"),
    }
}

#[test]
fn every_shard_proves_its_pair_and_every_fault_fails_the_item() {
    let f = Fixture::new();
    for shard in (0..10).map(ShardIndex) {
        assert!(f.verify(shard, &f.item(shard)), "shard {shard:?}");
    }
    let shard = ShardIndex(4);
    let good = f.item(shard);
    let faults: Vec<Fault<'_>> = vec![
        ("flipped symbol byte", Box::new(|i| proofs_mut(i).0[0].symbol[0] ^= 1)),
        ("flipped secondary byte", Box::new(|i| proofs_mut(i).1[1].symbol[0] ^= 1)),
        ("other position", Box::new(|i| proofs_mut(i).0[0].position ^= 1)),
        (
            "short symbol",
            Box::new(|i| {
                proofs_mut(i).0[0].symbol.pop();
            }),
        ),
        (
            "a symbol left out",
            Box::new(|i| {
                proofs_mut(i).1.pop();
            }),
        ),
        ("symbols reordered", Box::new(|i| proofs_mut(i).0.swap(0, 1))),
        ("another shard's proof", Box::new(|i| *i = f.item(ShardIndex(5)))),
        ("missing", Box::new(|i| i.response = ItemResponse::Missing)),
    ];
    for (what, fault) in faults {
        let mut item = good.clone();
        fault(&mut item);
        assert!(!f.verify(shard, &item), "{what} must fail");
    }
    // Another seed asks for other positions.
    let other = Fixture { seed: [12; 32], ..Fixture::new() };
    assert!(!other.verify(shard, &good));
    // A proof of another leaf of the same sliver, relabelled as the asked position.
    let mut relabelled = good.clone();
    let asked = proofs_mut(&mut relabelled).0[0].position;
    let neighbour =
        prove_axis(f.p, SliverType::Primary, f.encoded.symbol_size(), f.slivers(shard).0, &[asked ^ 1]);
    let mut neighbour = neighbour.expect("as set up").remove(0);
    neighbour.position = asked;
    proofs_mut(&mut relabelled).0[0] = neighbour;
    assert!(!f.verify(shard, &relabelled));
}

#[test]
fn a_missing_pair_is_said_and_fails() {
    let f = Fixture::new();
    let item = prove_item(f.p, &f.seed, 0, &f.blob, ShardIndex(1), None).expect("as set up");
    assert_eq!(item.response, ItemResponse::Missing);
    assert!(!f.verify(ShardIndex(1), &item));
    assert!(prove_item(f.p, &f.seed, 0, &f.blob, ShardIndex(1), Some((&[1, 2, 3], &[4]))).is_err());
}

#[test]
fn result_bitmaps_count_and_check_their_length() {
    let mut passed = vec![0u8; 2];
    for i in [0, 3, 9] {
        set_bit(&mut passed, i);
    }
    let result = ChallengeResult { node_id: ObjectId([1; 32]), seed: [2; 32], n_items: 10, passed };
    assert!(result.is_well_formed());
    assert_eq!(result.n_passed(), 3);
    let mut stray = result.clone();
    set_bit(&mut stray.passed, 12);
    assert!(!stray.is_well_formed());
    assert!(!ChallengeResult { passed: vec![0; 3], ..result.clone() }.is_well_formed());
    let shards = [ShardIndex(2), ShardIndex(5), ShardIndex(9)];
    assert_eq!(item_position(1, ShardIndex(5), &shards), Some(4));
    assert_eq!(item_position(0, ShardIndex(3), &shards), None);
}
