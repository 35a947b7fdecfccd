//! Seal's cryptography against vectors from the official SDK (`@mysten/seal` 1.4.12, through
//! `../shared/conformance/seal.mjs` and the SDK's own BLS helpers; `tests/vectors/seal.json`):
//! three key servers' master keys give the SDK's public keys and user secret keys; the SDK's
//! AES-256-GCM and HMAC-256-CTR objects parse and re-serialize to the same bytes and decrypt
//! with any two of the keys to the SDK's plaintext and DEM key, through the SDK's intermediate
//! values (pairing bytes, KDF outputs, shares, base key, randomness); a wrong key is refused.

use serde_json::Value;
use walrus_seal::bls::{pairing, Scalar, G1, G2};
use walrus_seal::ibe::{self, hash_identity};
use walrus_seal::{decrypt, dem_key, full_id, EncryptedObject, KeyServer, SealError};

fn vector() -> Value {
    serde_json::from_str(include_str!("vectors/seal.json")).expect("the vector is JSON")
}

fn bytes<const N: usize>(value: &Value) -> [u8; N] {
    let text = value.as_str().expect("hex").trim_start_matches("0x");
    hex::decode(text).expect("hex").try_into().expect("length")
}

fn servers(v: &Value) -> Vec<KeyServer> {
    v["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| KeyServer { object_id: bytes(&s["objectId"]), public_key: bytes(&s["publicKey"]) })
        .collect()
}

fn keys(v: &Value) -> Vec<([u8; 32], [u8; 48])> {
    v["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| (bytes(&s["objectId"]), bytes(&s["userSecretKey"])))
        .collect()
}

#[test]
fn master_keys_give_the_sdks_public_and_user_secret_keys() {
    let v = vector();
    let full = hex::decode(v["fullId"].as_str().expect("hex")).expect("hex");
    assert_eq!(
        full,
        full_id(&bytes(&v["packageId"]), &hex::decode(v["id"].as_str().expect("id")).expect("hex"))
    );
    assert_eq!(hash_identity(&full).to_bytes(), bytes::<48>(&v["hashToG1_fullId"]));
    for server in v["servers"].as_array().expect("servers") {
        let master = Scalar::from_be_bytes(&bytes(&server["masterSecretKey"])).expect("a scalar");
        let public = ibe::public_key(&master);
        assert_eq!(public.to_bytes(), bytes::<96>(&server["publicKey"]));
        let key = ibe::user_secret_key(&master, &full);
        assert_eq!(key.to_bytes(), bytes::<48>(&server["userSecretKey"]));
        assert!(ibe::verify_user_secret_key(&key, &full, &public));
        assert!(!ibe::verify_user_secret_key(&key, b"another identity", &public));
        let object_id = bytes(&server["objectId"]);
        let pop = ibe::proof_of_possession(&master, &object_id);
        assert!(ibe::verify_proof_of_possession(&pop, &public, &object_id));
        assert!(!ibe::verify_proof_of_possession(&pop, &public, &[0; 32]));
    }
}

#[test]
fn the_sdks_objects_round_trip_and_decrypt_with_any_two_keys() {
    let v = vector();
    let plaintext = hex::decode(v["plaintext_hex"].as_str().expect("hex")).expect("hex");
    let (servers, keys) = (servers(&v), keys(&v));
    for dem in ["aes", "hmac"] {
        let case = &v["encryptions"][dem];
        let encoded = hex::decode(case["encryptedObject"].as_str().expect("hex")).expect("hex");
        let object = EncryptedObject::from_bytes(&encoded).expect("parses");
        assert_eq!(object.to_bytes(), encoded, "{dem}: the same bytes back");
        for pair in [[0, 1], [0, 2], [1, 2]] {
            let chosen: Vec<_> = pair.iter().map(|&i| keys[i]).collect();
            assert_eq!(
                dem_key(&object, &chosen, Some(&servers)).expect("decrypts"),
                bytes::<32>(&case["demKey"])
            );
            assert_eq!(decrypt(&object, &chosen, None).expect("decrypts"), plaintext, "{dem} {pair:?}");
        }
        // The SDK's intermediate values, server by server.
        let nonce = G2::from_bytes(&object.nonce).expect("a nonce");
        let full = object.full_id();
        for (i, server) in case["intermediates"]["perServer"].as_array().expect("servers").iter().enumerate()
        {
            let key = G1::from_bytes(&keys[i].1).expect("a key");
            let gt = pairing(&key, &nonce);
            let expected = hex::decode(server["gt_e_usk_nonce"].as_str().expect("hex")).expect("hex");
            assert_eq!(gt.to_bytes().to_vec(), expected, "{dem}: GT bytes of server {i}");
            let index = server["index"].as_u64().expect("index") as u8;
            let mask = ibe::kdf(&gt, &nonce, &hash_identity(&full), &keys[i].0, index);
            assert_eq!(mask, bytes::<32>(&server["kdf"]), "{dem}: KDF of server {i}");
            assert_eq!(ibe::xor(&object.encrypted_shares[i], &mask), bytes::<32>(&server["share"]));
        }
        // One key is not enough; a wrong key is caught.
        assert_eq!(decrypt(&object, &keys[..1], None), Err(SealError::NotEnoughKeys { have: 1, need: 2 }));
        let wrong = [keys[0], (keys[1].0, keys[2].1)];
        assert_eq!(decrypt(&object, &wrong, None), Err(SealError::InvalidShares));
    }
}
