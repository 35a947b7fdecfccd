//! The JSON body of the chain RPC's `POST /v1/faucet` (`walrus_chain_node::rpc::faucet`, on local
//! networks), which axum's `Json` extractor decodes with serde_json: an address in its text form
//! and an amount. What decodes round trips through JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_chain_client::wire::FaucetRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<FaucetRequest>(data) else { return };
    let json = serde_json::to_vec(&request).expect("a decoded request encodes");
    let again: FaucetRequest = serde_json::from_slice(&json).expect("re-encoded JSON decodes");
    assert_eq!((again.address, again.amount), (request.address, request.amount));
});
