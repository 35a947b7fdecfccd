//! Recovery between storage nodes: the BCS `RecoveryRequest` body of
//! `POST /v1/blobs/{blob_id}/recoverySymbols` (`walrus_node::api::recovery_symbols_batch`), and
//! the BCS `Vec<GeneralRecoverySymbol>` answer a healing node takes from a peer
//! (`walrus_node::recovery::fetch_symbols`, also `walrus_sdk::node_client`), filtered with
//! `collect_symbols` and rebuilt with `recover_sliver`.
//!
//! Both decode canonically. Every symbol is offered for its own target, so each one gets checked
//! against the fixture's metadata; those that pass are the encoder's own, so a target that has
//! enough of them must rebuild to the encoder's sliver (anything else is a bug: the blob is
//! consistent).

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_core::recovery::{
    collect_symbols, recover_sliver, CollectedSymbols, GeneralRecoverySymbol, RecoveryError, RecoveryRequest,
};
use walrus_core::{SliverIndex, SliverType};
use walrus_fuzz::{blob, metadata};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = bcs::from_bytes::<RecoveryRequest>(data) {
        assert_eq!(bcs::to_bytes(&request).expect("a decoded request encodes"), data);
    }

    let Ok(symbols) = bcs::from_bytes::<Vec<GeneralRecoverySymbol>>(data) else { return };
    assert_eq!(bcs::to_bytes(&symbols).expect("decoded symbols encode"), data);
    let targets: Vec<(SliverType, SliverIndex)> =
        symbols.iter().map(|symbol| (symbol.target_axis(), symbol.target_index)).collect();
    let mut collected = CollectedSymbols::new();
    collect_symbols(metadata(), &targets, symbols, &mut collected);
    for ((axis, index), verified) in collected {
        match recover_sliver(metadata(), axis, index, verified) {
            Ok(sliver) => assert_eq!(sliver.data(), blob().sliver_bytes(axis, index)),
            Err(RecoveryError::NotEnoughSymbols { .. }) => {}
            Err(e) => {
                panic!("verified symbols of a consistent blob fail to rebuild {axis} sliver {index}: {e}")
            }
        }
    }
});
