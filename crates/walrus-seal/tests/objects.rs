//! Encryption here, decryption here: any `t` of `n` keys decrypt, fewer do not; bad parameters
//! and every kind of malformed or tampered object get a clear error, never a panic.

use walrus_seal::bls::Scalar;
use walrus_seal::{decrypt, encrypt, ibe, Dem, EncryptedObject, KeyServer, SealError};

struct Server {
    master: Scalar,
    public: KeyServer,
}

fn servers(n: u8) -> Vec<Server> {
    (1..=n)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[0] = 0x11;
            seed[31] = i;
            let master = Scalar::from_be_bytes(&seed).expect("a scalar");
            let public = KeyServer { object_id: [i; 32], public_key: ibe::public_key(&master).to_bytes() };
            Server { master, public }
        })
        .collect()
}

fn keys(servers: &[Server], object: &EncryptedObject, pick: &[usize]) -> Vec<([u8; 32], [u8; 48])> {
    let full = object.full_id();
    pick.iter()
        .map(|&i| (servers[i].public.object_id, ibe::user_secret_key(&servers[i].master, &full).to_bytes()))
        .collect()
}

#[test]
fn any_threshold_of_keys_decrypts_with_either_dem() {
    let servers = servers(5);
    let publics: Vec<KeyServer> = servers.iter().map(|s| s.public.clone()).collect();
    let package = [7u8; 32];
    for (dem, size) in
        [(Dem::Aes256Gcm, 0), (Dem::Aes256Gcm, 100_000), (Dem::Hmac256Ctr, 33), (Dem::Hmac256Ctr, 65_537)]
    {
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        let (object, _) =
            encrypt((&package, b"policy-nonce"), &publics, 3, (dem, b"aad"), &data, &[size as u8; 32])
                .expect("encrypts");
        let object = EncryptedObject::from_bytes(&object.to_bytes()).expect("round trip");
        for pick in [[0, 1, 2], [4, 2, 0], [1, 3, 4]] {
            assert_eq!(
                decrypt(&object, &keys(&servers, &object, &pick), Some(&publics)).expect("decrypts"),
                data
            );
        }
        let two = keys(&servers, &object, &[0, 1]);
        assert_eq!(decrypt(&object, &two, None), Err(SealError::NotEnoughKeys { have: 2, need: 3 }));
    }
}

#[test]
fn bad_parameters_are_refused() {
    let publics: Vec<KeyServer> = servers(3).into_iter().map(|s| s.public).collect();
    let encrypt_with = |servers: &[KeyServer], t: u8| {
        encrypt((&[0; 32], b"id"), servers, t, (Dem::Aes256Gcm, b""), b"x", &[0; 32])
    };
    assert!(matches!(encrypt_with(&publics, 0), Err(SealError::Invalid(_))));
    assert!(matches!(encrypt_with(&publics, 4), Err(SealError::Invalid(_))));
    let mut bad = publics.clone();
    bad[1].public_key = [0xff; 96];
    assert_eq!(encrypt_with(&bad, 2), Err(SealError::InvalidPoint("a key server's public key")));
}

#[test]
fn malformed_and_tampered_objects_get_clear_errors() {
    let servers = servers(3);
    let publics: Vec<KeyServer> = servers.iter().map(|s| s.public.clone()).collect();
    let (object, _) =
        encrypt((&[9; 32], b"id"), &publics, 2, (Dem::Aes256Gcm, b""), b"secret data", &[1; 32])
            .expect("encrypts");
    let bytes = object.to_bytes();
    let malformed = |b: &[u8]| matches!(EncryptedObject::from_bytes(b), Err(SealError::Malformed(_)));
    for cut in [0, 1, 33, 100, bytes.len() - 1] {
        assert!(malformed(&bytes[..cut]), "truncated at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(malformed(&longer), "trailing bytes");
    let mut version = bytes.clone();
    version[0] = 1;
    assert!(malformed(&version));
    let mut threshold = object.clone();
    threshold.threshold = 4;
    assert!(malformed(&threshold.to_bytes()));
    let mut repeated = object.clone();
    repeated.services[1].1 = repeated.services[0].1;
    assert!(malformed(&repeated.to_bytes()));
    let mut huge = bytes[..33].to_vec();
    huge.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(malformed(&huge), "a length past the input");

    let good = keys(&servers, &object, &[0, 2]);
    let mut data = object.clone();
    if let walrus_seal::Ciphertext::Aes256Gcm { blob, .. } = &mut data.ciphertext {
        blob[0] ^= 1;
    }
    assert_eq!(decrypt(&data, &good, None), Err(SealError::Decryption));
    let mut share = object.clone();
    share.encrypted_shares[0][5] ^= 1;
    assert_eq!(decrypt(&share, &good, None), Err(SealError::InvalidShares));
    let mut nonce = object.clone();
    nonce.nonce[10] ^= 1;
    assert!(matches!(
        decrypt(&nonce, &good, None),
        Err(SealError::InvalidPoint(_) | SealError::InvalidShares)
    ));
    let other = keys(&servers, &EncryptedObject { id: b"other".to_vec(), ..object.clone() }, &[0, 2]);
    assert_eq!(decrypt(&object, &other, None), Err(SealError::InvalidShares));
    assert_eq!(
        decrypt(&object, &[(good[0].0, [0u8; 48]), good[1]], None),
        Err(SealError::InvalidPoint("a user secret key"))
    );
}
