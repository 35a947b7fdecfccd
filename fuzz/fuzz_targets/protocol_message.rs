//! Signed protocol messages from storage nodes: the `SignedMessage` in a node's JSON answer
//! (`data.signed` of `GET /v1/blobs/{blob_id}/confirmation/*`, read by
//! `walrus_sdk::node_client::NodeClient::confirmation`; the attestation answering
//! `POST .../inconsistencyProof/{axis}`, read by `walrus_node::invalid`), or in BCS; and the
//! `ProtocolMessage` inside it, for every body type (`SignedMessage::decode` and
//! `SignedMessage::verify`, as the client checks a confirmation).
//!
//! JSON round trips; BCS and the inner message decode canonically. The fuzzer does not know the
//! fixed key's secret, so no message it writes may verify under that key.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use walrus_core::keys::{BlsKeyPair, BlsPublicKey};
use walrus_core::messages::{
    InvalidBlobIdMsg, MessageBody, ProofOfPossessionBody, SignedMessage, StorageConfirmation,
    SyncShardRequest,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = serde_json::from_slice::<SignedMessage>(data) {
        let json = serde_json::to_vec(&signed).expect("a decoded message encodes");
        let again: SignedMessage = serde_json::from_slice(&json).expect("re-encoded JSON decodes");
        assert_eq!(again, signed);
        bodies(&signed);
    }
    if let Ok(signed) = bcs::from_bytes::<SignedMessage>(data) {
        assert_eq!(bcs::to_bytes(&signed).expect("a decoded message encodes"), data);
        bodies(&signed);
    }
});

fn bodies(signed: &SignedMessage) {
    body::<StorageConfirmation>(signed);
    body::<InvalidBlobIdMsg>(signed);
    body::<SyncShardRequest>(signed);
    body::<ProofOfPossessionBody>(signed);
}

fn body<T: MessageBody + PartialEq>(signed: &SignedMessage) {
    let Ok(message) = signed.decode::<T>() else { return };
    assert_eq!(message.to_bytes(), signed.serialized_message);
    assert!(signed.verify(key(), message.epoch, &message.body).is_err(), "a forged signature verifies");
}

fn key() -> &'static BlsPublicKey {
    static KEY: OnceLock<BlsPublicKey> = OnceLock::new();
    KEY.get_or_init(|| *BlsKeyPair::from_seed(&[7; 32]).public())
}
