//! Property tests of the codec: decoding from any `n - 2f` primary slivers, recovery from any
//! valid symbol set, tamper detection, and detection of inconsistent encodings.

use proptest::prelude::*;
use walrus_core::decode::{decode_blob, decode_range, rows_for_range, ConsistencyCheck, DecodeError};
use walrus_core::encode::{encode_blob, EncodedBlob};
use walrus_core::expand::sliver_roots;
use walrus_core::inconsistency::InconsistencyProofError;
use walrus_core::merkle::Node;
use walrus_core::metadata::{BlobMetadata, UnverifiedBlobMetadataWithId, VerifiedBlobMetadataWithId};
use walrus_core::recovery::{recover_sliver, GeneralRecoverySymbol, RecoveryError};
use walrus_core::sliver::{SliverError, UnverifiedSliver};
use walrus_core::{EncodingParams, SliverIndex, SliverPairIndex, SliverType};

fn params(n: u64) -> EncodingParams {
    EncodingParams::new(n).expect("valid shard count")
}

fn primaries(encoded: &EncodedBlob, n: u16) -> Vec<walrus_core::sliver::VerifiedSliver> {
    (0..n).map(|i| encoded.sliver_pair(SliverPairIndex(i)).0).collect()
}

/// Symbols for `target` of `axis`, cut from the given source slivers of the other axis.
fn symbols_for(
    encoded: &EncodedBlob,
    axis: SliverType,
    target: SliverIndex,
    sources: &[u16],
) -> Vec<GeneralRecoverySymbol> {
    let params = encoded.metadata().params();
    sources
        .iter()
        .map(|&j| {
            let source = SliverIndex(j);
            let bytes = encoded.sliver_bytes(axis.orthogonal(), source);
            GeneralRecoverySymbol::from_sliver(
                params,
                axis.orthogonal(),
                source,
                encoded.symbol_size(),
                bytes,
                target,
            )
            .expect("valid source sliver")
        })
        .collect()
}

fn shard_counts() -> impl Strategy<Value = u64> {
    prop_oneof![Just(4u64), Just(7), Just(10), Just(13), Just(22)]
}

/// A blob and a permutation seed, for a shard count.
fn blob_for(n: u64) -> impl Strategy<Value = (u64, Vec<u8>, Vec<u16>)> {
    let max = (params(n).source_symbols_per_blob() * 140) as usize;
    (proptest::collection::vec(any::<u8>(), 0..max), Just(n), any::<[u16; 64]>())
        .prop_map(|(blob, n, seed)| (n, blob, seed.to_vec()))
}

/// A pseudo-random permutation of `0..n` from `seed`.
fn shuffled(n: u16, seed: &[u16]) -> Vec<u16> {
    let mut order: Vec<u16> = (0..n).collect();
    for (i, s) in seed.iter().enumerate().take(order.len()) {
        let j = usize::from(*s) % order.len();
        order.swap(i, j);
    }
    order
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_n_minus_2f_primary_slivers_decode_the_blob((n, blob, seed) in shard_counts().prop_flat_map(blob_for)) {
        let p = params(n);
        let encoded = encode_blob(p, &blob).expect("encodable");
        let all = primaries(&encoded, p.n_shards());
        let pick: Vec<_> = shuffled(p.n_shards(), &seed).into_iter().take(p.primary_source_symbols()).map(|i| all[usize::from(i)].clone()).collect();
        for check in [ConsistencyCheck::Skip, ConsistencyCheck::Default, ConsistencyCheck::Strict] {
            prop_assert_eq!(&decode_blob(encoded.metadata(), pick.clone(), check).expect("decodes"), &blob);
        }
        let short: Vec<_> = pick[1..].to_vec();
        let not_enough = matches!(decode_blob(encoded.metadata(), short, ConsistencyCheck::Default), Err(DecodeError::NotEnoughSlivers { .. }));
        prop_assert!(not_enough);
    }

    #[test]
    fn any_byte_range_reads_from_exactly_its_rows((n, blob, _) in shard_counts().prop_flat_map(blob_for), a in any::<u64>(), b in any::<u64>()) {
        let p = params(n);
        let encoded = encode_blob(p, &blob).expect("encodable");
        let metadata = encoded.metadata();
        let length = blob.len() as u64;
        let (x, y) = (a % (length + 1), b % (length + 1));
        let range = x.min(y)..x.max(y);
        let rows = rows_for_range(metadata, &range);
        prop_assert!(rows.end <= p.primary_source_symbols());
        let all = primaries(&encoded, p.n_shards());
        let exact: Vec<_> = rows.clone().map(|i| all[i].clone()).collect();
        let read = decode_range(metadata, exact.clone(), range.clone()).expect("the rows suffice");
        prop_assert_eq!(&read[..], &blob[range.start as usize..range.end as usize]);
        if !exact.is_empty() {
            let short = exact[1..].to_vec();
            let refused = matches!(decode_range(metadata, short, range.clone()), Err(DecodeError::NotEnoughSlivers { .. }));
            prop_assert!(refused);
        }
        let beyond = matches!(decode_range(metadata, all, range.start..length + 1), Err(DecodeError::RangeOutsideBlob { .. }));
        prop_assert!(beyond);
    }

    #[test]
    fn any_valid_symbol_set_recovers_the_sliver((n, blob, seed) in shard_counts().prop_flat_map(blob_for), target in any::<u16>()) {
        let p = params(n);
        let encoded = encode_blob(p, &blob).expect("encodable");
        let target = SliverIndex(target % p.n_shards());
        for axis in [SliverType::Primary, SliverType::Secondary] {
            let need = p.symbols_for_recovery(axis);
            let sources: Vec<u16> = shuffled(p.n_shards(), &seed).into_iter().take(need).collect();
            let symbols = symbols_for(&encoded, axis, target, &sources);
            let verified: Vec<_> = symbols.into_iter().map(|s| s.verify(encoded.metadata(), axis, target).expect("valid symbol")).collect();
            let sliver = recover_sliver(encoded.metadata(), axis, target, verified.clone()).expect("recovers");
            prop_assert_eq!(sliver.data(), encoded.sliver_bytes(axis, target));
            let not_enough = matches!(recover_sliver(encoded.metadata(), axis, target, verified[1..].to_vec()), Err(RecoveryError::NotEnoughSymbols { .. }));
            prop_assert!(not_enough);
        }
    }

    #[test]
    fn a_flipped_bit_in_a_sliver_symbol_or_proof_is_detected(
        (n, blob, _seed) in shard_counts().prop_flat_map(blob_for),
        pair in any::<u16>(),
        bit in any::<usize>(),
    ) {
        let p = params(n);
        let encoded = encode_blob(p, &blob).expect("encodable");
        let pair = SliverPairIndex(pair % p.n_shards());
        let (primary, secondary) = encoded.sliver_pair(pair);
        for sliver in [primary, secondary] {
            let axis = sliver.axis();
            let mut wire = sliver.clone().into_unverified();
            prop_assert!(wire.clone().verify(axis, encoded.metadata()).is_ok());
            let bits = wire.data.len() * 8;
            wire.data[(bit % bits) / 8] ^= 1 << (bit % 8);
            prop_assert_eq!(wire.verify(axis, encoded.metadata()), Err(SliverError::MerkleRootMismatch));
        }
        // A recovery symbol: flip a bit of its data, then of its proof.
        let target = SliverIndex(pair.0);
        let symbol = symbols_for(&encoded, SliverType::Primary, target, &[p.n_shards() - 1]).remove(0);
        let mut bad_data = symbol.clone();
        let data = match &mut bad_data.symbol { walrus_core::recovery::EitherDecodingSymbol::Primary(s) | walrus_core::recovery::EitherDecodingSymbol::Secondary(s) => &mut s.data };
        let bits = data.len() * 8;
        data[(bit % bits) / 8] ^= 1 << (bit % 8);
        prop_assert!(bad_data.verify(encoded.metadata(), SliverType::Primary, target).is_err());
        let mut path: Vec<Node> = symbol.proof.path().to_vec();
        let level = bit % path.len();
        let mut bytes = path[level].bytes();
        bytes[(bit / 8) % 32] ^= 1 << (bit % 8);
        path[level] = Node::Digest(bytes);
        let bad_proof = GeneralRecoverySymbol { proof: walrus_core::merkle::MerkleProof::new(path), ..symbol.clone() };
        prop_assert!(bad_proof.verify(encoded.metadata(), SliverType::Primary, target).is_err());
        prop_assert!(symbol.verify(encoded.metadata(), SliverType::Primary, target).is_ok());
    }
}

/// Metadata for `encoded` in which primary sliver `t` is replaced by `bad` (a writer that sent
/// an inconsistent sliver and committed to it).
fn metadata_committing_to(encoded: &EncodedBlob, t: SliverIndex, bad: &[u8]) -> VerifiedBlobMetadataWithId {
    let params = encoded.metadata().params();
    let root = sliver_roots(params, SliverType::Primary, encoded.symbol_size(), &[bad]).expect("expands")[0];
    let mut metadata = encoded.metadata().metadata().clone();
    let BlobMetadata::V1(v1) = &mut metadata;
    v1.hashes[t.as_usize()].primary_hash = Node::Digest(root);
    UnverifiedBlobMetadataWithId::new(metadata.compute_blob_id(), metadata)
        .verify(params)
        .expect("self-consistent")
}

#[test]
fn an_inconsistent_encoding_yields_a_proof_others_accept_and_never_wrong_bytes() {
    for n in [4u64, 10, 100] {
        let p = params(n);
        let kp = p.primary_source_symbols();
        let blob: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let encoded = encode_blob(p, &blob).expect("encodable");
        // The writer corrupts repair primary sliver t and commits to the corrupted bytes.
        let t = SliverIndex(kp as u16);
        let mut bad = encoded.sliver_bytes(SliverType::Primary, t).to_vec();
        bad[0] ^= 0xff;
        let metadata = metadata_committing_to(&encoded, t, &bad);
        let bad_sliver = UnverifiedSliver {
            data: bad.clone(),
            symbol_size: std::num::NonZeroU16::new(encoded.symbol_size()).expect("non-zero"),
            index: t,
        }
        .verify(SliverType::Primary, &metadata)
        .expect("the corrupted sliver matches the committed hash");

        // A node recovering sliver t from honest secondary slivers finds the mismatch.
        let sources: Vec<u16> = (0..p.symbols_for_recovery(SliverType::Primary) as u16).collect();
        let verified: Vec<_> = symbols_for(&encoded, SliverType::Primary, t, &sources)
            .into_iter()
            .map(|s| s.verify(&metadata, SliverType::Primary, t).expect("honest symbols verify"))
            .collect();
        let Err(RecoveryError::Inconsistent(proof)) =
            recover_sliver(&metadata, SliverType::Primary, t, verified.clone())
        else {
            panic!("n = {n}: recovery must detect the inconsistency");
        };
        assert_eq!(proof.verify(SliverType::Primary, &metadata), Ok(()), "n = {n}");
        // The same symbols prove nothing against the honest metadata.
        assert_eq!(
            proof.verify(SliverType::Primary, encoded.metadata()),
            Err(InconsistencyProofError::SliverNotInconsistent)
        );
        // Truncated or duplicated proofs are rejected.
        let mut short = (*proof).clone();
        short.recovery_symbols.pop();
        assert!(matches!(
            short.verify(SliverType::Primary, &metadata),
            Err(InconsistencyProofError::IncorrectSymbolCount { .. })
        ));
        let mut dup = (*proof).clone();
        dup.recovery_symbols[1] = dup.recovery_symbols[0].clone();
        assert!(dup.verify(SliverType::Primary, &metadata).is_err());

        // A reader that uses the corrupted sliver gets "invalid", never wrong bytes.
        let mut set: Vec<_> = (1..kp as u16).map(|i| encoded.sliver_pair(SliverPairIndex(i)).0).collect();
        set.insert(0, bad_sliver);
        for check in [ConsistencyCheck::Default, ConsistencyCheck::Strict] {
            assert_eq!(
                decode_blob(&metadata, set.clone(), check),
                Err(DecodeError::InconsistentBlob),
                "n = {n}"
            );
        }
        // Wire round trip of the proof.
        let bytes = bcs::to_bytes(&*proof).expect("serializable");
        let back: walrus_core::inconsistency::InconsistencyProof = bcs::from_bytes(&bytes).expect("parses");
        assert_eq!(back, *proof);
    }
}

#[test]
fn decoding_at_1000_shards_from_repair_slivers_only() {
    let p = params(1000);
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i ^ (i >> 7)) as u8).collect();
    let encoded = encode_blob(p, &blob).expect("encodable");
    let repair: Vec<_> = (p.primary_source_symbols() as u16..1000)
        .take(p.primary_source_symbols())
        .map(|i| encoded.sliver_pair(SliverPairIndex(i)).0)
        .collect();
    assert_eq!(decode_blob(encoded.metadata(), repair, ConsistencyCheck::Default).expect("decodes"), blob);
}
