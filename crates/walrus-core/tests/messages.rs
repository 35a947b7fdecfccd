//! Signed messages: byte layouts of the reference, signing and verification, certificates, and
//! the committed BLS vector that the official `bls12381_min_pk_verify` checks in CI
//! (`scripts/conformance-bls.mjs`). Run with `WALRUS_WRITE_VECTORS=1` to rewrite the vector.

use walrus_core::keys::{Address, BlsKeyPair, BlsPublicKey, Ed25519KeyPair};
use walrus_core::messages::{
    bitmap_to_signers, proof_of_possession, signers_to_bitmap, verify_proof_of_possession,
    BlobPersistenceType, Certificate, InvalidBlobIdMsg, MessageError, ProtocolMessage, SignedMessage,
    StorageConfirmation, SyncShardRequest, SyncShardRequestV1,
};
use walrus_core::{BlobId, Epoch, ObjectId, ShardIndex, SliverType};

const BLOB: &str = "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk";

fn blob_id() -> BlobId {
    BLOB.parse().expect("valid blob ID")
}

#[test]
fn confirmation_bytes_follow_the_reference_layout() {
    let permanent = ProtocolMessage::new(
        Epoch(0x0102_0304),
        StorageConfirmation { blob_id: blob_id(), blob_type: BlobPersistenceType::Permanent },
    )
    .to_bytes();
    assert_eq!(&permanent[..7], &[1, 0, 3, 4, 3, 2, 1]);
    assert_eq!(&permanent[7..39], blob_id().as_bytes());
    assert_eq!(permanent[39], 0);
    assert_eq!(permanent.len(), 40);
    let object_id = ObjectId([0xaa; 32]);
    let deletable = ProtocolMessage::new(
        Epoch(5),
        StorageConfirmation { blob_id: blob_id(), blob_type: BlobPersistenceType::Deletable { object_id } },
    )
    .to_bytes();
    assert_eq!(deletable.len(), 72);
    assert_eq!(deletable[39], 1);
    assert_eq!(&deletable[40..], &[0xaa; 32]);
}

#[test]
fn other_message_sizes_match_the_reference() {
    assert_eq!(ProtocolMessage::new(Epoch(1), InvalidBlobIdMsg(blob_id())).to_bytes()[..3], [2, 0, 3]);
    assert_eq!(ProtocolMessage::new(Epoch(1), InvalidBlobIdMsg(blob_id())).to_bytes().len(), 39);
    let sync = ProtocolMessage::new(
        Epoch(7),
        SyncShardRequest::V1(SyncShardRequestV1 {
            shard_index: ShardIndex(3),
            sliver_type: SliverType::Secondary,
            starting_blob_id: blob_id(),
            sliver_count: 1000,
            epoch: Epoch(7),
        }),
    )
    .to_bytes();
    assert_eq!(sync.len(), 55);
    assert_eq!(&sync[..3], &[3, 0, 3]);
    assert_eq!(&sync[7..11], &[0, 3, 0, 1], "V1 tag, shard 3 (u16 LE), secondary");
}

#[test]
fn signed_messages_verify_and_reject_tampering() {
    let key = BlsKeyPair::from_seed(&[3; 32]);
    let body = StorageConfirmation { blob_id: blob_id(), blob_type: BlobPersistenceType::Permanent };
    let signed = SignedMessage::sign(&key, &ProtocolMessage::new(Epoch(2), body));
    assert_eq!(signed.verify(key.public(), Epoch(2), &body), Ok(()));
    assert!(matches!(signed.verify(key.public(), Epoch(3), &body), Err(MessageError::WrongEpoch { .. })));
    let other = StorageConfirmation { blob_id: BlobId::ZERO, ..body };
    assert_eq!(signed.verify(key.public(), Epoch(2), &other), Err(MessageError::WrongContents));
    let stranger = BlsKeyPair::from_seed(&[4; 32]);
    assert!(matches!(signed.verify(stranger.public(), Epoch(2), &body), Err(MessageError::Signature(_))));
    // An invalid-blob message is not a confirmation, whatever its signature.
    let invalid = SignedMessage::sign(&key, &ProtocolMessage::new(Epoch(2), InvalidBlobIdMsg(blob_id())));
    assert!(matches!(
        invalid.decode::<StorageConfirmation>(),
        Err(MessageError::WrongIntent { .. }) | Err(MessageError::Malformed(_))
    ));

    // JSON: camelCase, standard base64; BCS: length-prefixed bytes then 96 raw bytes.
    let json = serde_json::to_value(&signed).expect("serializable");
    assert!(json["serializedMessage"].is_string() && json["signature"].is_string());
    assert_eq!(json["signature"].as_str().map(str::len), Some(128));
    assert_eq!(serde_json::from_value::<SignedMessage>(json).expect("parses"), signed);
    let bcs_bytes = bcs::to_bytes(&signed).expect("serializable");
    assert_eq!(bcs_bytes.len(), 1 + 40 + 96);
    assert_eq!(bcs::from_bytes::<SignedMessage>(&bcs_bytes).expect("parses"), signed);
}

#[test]
fn certificates_aggregate_identical_messages_only() {
    let keys: Vec<BlsKeyPair> = (0..4u8).map(|i| BlsKeyPair::from_seed(&[10 + i; 32])).collect();
    let body = StorageConfirmation { blob_id: blob_id(), blob_type: BlobPersistenceType::Permanent };
    let message = ProtocolMessage::new(Epoch(1), body);
    let signed: Vec<(u16, SignedMessage)> =
        keys.iter().enumerate().map(|(i, k)| (i as u16, SignedMessage::sign(k, &message))).collect();
    let certificate = Certificate::aggregate(signed[1..].to_vec()).expect("aggregates");
    assert_eq!(certificate.signers, vec![1, 2, 3]);
    let publics: Vec<BlsPublicKey> = keys[1..].iter().map(|k| *k.public()).collect();
    assert_eq!(certificate.verify_signature(&publics), Ok(()));
    assert!(certificate.verify_signature(&publics[..2]).is_err());
    let mut mixed = signed.clone();
    mixed[0].1 = SignedMessage::sign(&keys[0], &ProtocolMessage::new(Epoch(2), body));
    assert_eq!(Certificate::aggregate(mixed), Err(MessageError::WrongContents));
    let json = serde_json::to_value(&certificate).expect("serializable");
    assert!(json["serialized_message"].is_array() && json["signers"].is_array());
}

#[test]
fn signer_bitmaps_are_lsb_first() {
    assert_eq!(signers_to_bitmap(&[0, 3, 8]), vec![0b0000_1001, 0b0000_0001]);
    assert_eq!(bitmap_to_signers(&[0b0000_1001, 1], 9), Some(vec![0, 3, 8]));
    assert_eq!(bitmap_to_signers(&[0, 0b10], 9), None, "bit past the member count");
    assert_eq!(bitmap_to_signers(&[0, 0, 0], 9), None, "bitmap longer than needed");
    assert_eq!(bitmap_to_signers(&[1], 9), Some(vec![0]), "shorter bitmaps are fine");
}

#[test]
fn proofs_of_possession_bind_key_address_and_epoch() {
    let bls = BlsKeyPair::from_seed(&[21; 32]);
    let address = Ed25519KeyPair::from_seed(&[22; 32]).address();
    let pop = proof_of_possession(&bls, address, Epoch(0));
    assert_eq!(verify_proof_of_possession(bls.public(), address, Epoch(0), &pop), Ok(()));
    assert!(verify_proof_of_possession(bls.public(), Address([0; 32]), Epoch(0), &pop).is_err());
    assert!(verify_proof_of_possession(bls.public(), address, Epoch(1), &pop).is_err());
    let message = walrus_core::messages::ProtocolMessage::new(
        Epoch(0),
        walrus_core::messages::ProofOfPossessionBody { address, bls_public_key: *bls.public() },
    );
    assert_eq!(message.to_bytes().len(), 87, "7 + 32 + 48, key without a length prefix");
}

/// The vector `scripts/conformance-bls.mjs` checks with the official verifier: signatures are
/// deterministic, so re-signing must reproduce the committed bytes exactly.
#[test]
fn committed_bls_vector_is_reproduced() {
    let key = BlsKeyPair::from_seed(&[42; 32]);
    let object_id = ObjectId([0x5a; 32]);
    let address = Ed25519KeyPair::from_seed(&[43; 32]).address();
    let cases = [
        (
            "permanent",
            ProtocolMessage::new(
                Epoch(7),
                StorageConfirmation { blob_id: blob_id(), blob_type: BlobPersistenceType::Permanent },
            )
            .to_bytes(),
        ),
        (
            "deletable",
            ProtocolMessage::new(
                Epoch(7),
                StorageConfirmation {
                    blob_id: blob_id(),
                    blob_type: BlobPersistenceType::Deletable { object_id },
                },
            )
            .to_bytes(),
        ),
        ("invalidBlobId", ProtocolMessage::new(Epoch(7), InvalidBlobIdMsg(blob_id())).to_bytes()),
        (
            "proofOfPossession",
            ProtocolMessage::new(
                Epoch(0),
                walrus_core::messages::ProofOfPossessionBody { address, bls_public_key: *key.public() },
            )
            .to_bytes(),
        ),
    ];
    let vector = serde_json::json!({
        "generator": "crates/walrus-core/tests/messages.rs (committed_bls_vector_is_reproduced)",
        "publicKey": hex::encode(key.public().as_bytes()),
        "blobId": BLOB,
        "epoch": 7,
        "deletableObjectId": object_id.to_string(),
        "cases": cases.iter().map(|(name, message)| serde_json::json!({
            "name": name,
            "message": hex::encode(message),
            "signature": hex::encode(key.sign(message).as_bytes()),
        })).collect::<Vec<_>>(),
    });
    let path = format!(
        "{}/tests/vectors/bls_messages.json",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
    );
    let text = serde_json::to_string_pretty(&vector).expect("serializable") + "\n";
    if std::env::var_os("WALRUS_WRITE_VECTORS").is_some() {
        std::fs::write(&path, &text).expect("writable");
    }
    let committed = std::fs::read_to_string(&path).expect("vector is committed");
    assert_eq!(
        committed, text,
        "signatures or message bytes changed; the official verifier checked the committed ones"
    );
}
