//! Interchangeability with the official Seal SDK, live: objects this crate encrypts decrypt with
//! `seal.mjs decrypt` (every share checked against the servers' public keys), and objects
//! `seal.mjs encrypt` makes decrypt here, for both DEMs, with the vector's key servers.
//! Ignored by a plain `cargo test`: `.ci/run` sets `WALRUS_CONFORMANCE_DIR` (the official
//! packages) and runs it.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use walrus_seal::{decrypt, encrypt, Dem, EncryptedObject, KeyServer};

fn vector() -> Value {
    serde_json::from_str(include_str!("vectors/seal.json")).expect("the vector is JSON")
}

fn bytes<const N: usize>(value: &Value) -> [u8; N] {
    let text = value.as_str().expect("hex").trim_start_matches("0x");
    hex::decode(text).expect("hex").try_into().expect("length")
}

fn seal_mjs() -> (PathBuf, PathBuf) {
    let dir = std::env::var_os("WALRUS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .expect("WALRUS_CONFORMANCE_DIR names the official packages (.ci/run sets it)");
    (dir.join("seal.mjs"), dir)
}

fn node(args: &[String]) -> String {
    let (script, dir) = seal_mjs();
    let output = Command::new("node").arg(&script).args(args).current_dir(dir).output().expect("node runs");
    assert!(output.status.success(), "seal.mjs {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
#[ignore = "needs Node.js and the official packages; .ci/run sets WALRUS_CONFORMANCE_DIR and runs it"]
fn objects_decrypt_across_this_crate_and_the_official_sdk() {
    let v = vector();
    let servers: Vec<KeyServer> = v["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| KeyServer { object_id: bytes(&s["objectId"]), public_key: bytes(&s["publicKey"]) })
        .collect();
    let server_args: Vec<String> = v["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .flat_map(|s| {
            [
                "--server".to_string(),
                format!("{}={}", s["objectId"].as_str().expect("id"), s["publicKey"].as_str().expect("pk")),
            ]
        })
        .collect();
    let key_args = |pick: &[usize]| -> Vec<String> {
        pick.iter()
            .flat_map(|&i| {
                let s = &v["servers"][i];
                [
                    "--key".to_string(),
                    format!(
                        "{}={}",
                        s["objectId"].as_str().expect("id"),
                        s["userSecretKey"].as_str().expect("usk")
                    ),
                ]
            })
            .collect()
    };
    let keys: Vec<([u8; 32], [u8; 48])> = (0..3)
        .map(|i| (bytes(&v["servers"][i]["objectId"]), bytes(&v["servers"][i]["userSecretKey"])))
        .collect();
    let package: [u8; 32] = bytes(&v["packageId"]);
    let id = hex::decode(v["id"].as_str().expect("id")).expect("hex");
    let tmp = std::env::temp_dir().join(format!("walrus-seal-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("dir");
    let path = |name: &str| tmp.join(name).to_str().expect("utf-8").to_string();
    let plaintext: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(path("plain"), &plaintext).expect("write");

    for (dem, name, aad) in [(Dem::Aes256Gcm, "aes", &b""[..]), (Dem::Hmac256Ctr, "hmac", &b"associated"[..])]
    {
        // Ours, decrypted by the SDK with keys 1 and 3, every share checked.
        let (object, _) =
            encrypt((&package, &id), &servers, 2, (dem, aad), &plaintext, &[name.len() as u8; 32])
                .expect("encrypts");
        std::fs::write(path("ours"), object.to_bytes()).expect("write");
        let mut args: Vec<String> =
            ["decrypt", "--in", &path("ours"), "--out", &path("ours.plain")].map(String::from).to_vec();
        args.extend(key_args(&[0, 2]));
        args.extend(server_args.clone());
        node(&args);
        assert_eq!(
            std::fs::read(path("ours.plain")).expect("read"),
            plaintext,
            "{name}: the SDK decrypts ours"
        );

        // The SDK's, decrypted here with keys 2 and 3.
        let mut args: Vec<String> = [
            "encrypt",
            "--package-id",
            v["packageId"].as_str().expect("pkg"),
            "--id",
            v["id"].as_str().expect("id"),
            "--threshold",
            "2",
            "--dem",
            name,
        ]
        .map(String::from)
        .to_vec();
        if !aad.is_empty() {
            args.extend(["--aad".to_string(), hex::encode(aad)]);
        }
        args.extend(server_args.clone());
        args.extend(["--in", &path("plain"), "--out", &path("theirs")].map(String::from));
        node(&args);
        let theirs =
            EncryptedObject::from_bytes(&std::fs::read(path("theirs")).expect("read")).expect("parses");
        assert_eq!(
            decrypt(&theirs, &keys[1..], Some(&servers)).expect("decrypts"),
            plaintext,
            "{name}: we decrypt theirs"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
