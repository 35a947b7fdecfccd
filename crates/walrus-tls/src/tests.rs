//! Keys, certificates, the pinned handshake and node addresses.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;

#[test]
fn a_key_survives_its_pem_and_its_certificate_carries_it() {
    let key = NetworkKeyPair::generate().expect("key");
    let again = NetworkKeyPair::from_pem(&key.to_pem()).expect("PEM");
    assert_eq!(again.public(), key.public());
    let certificate = key.self_signed_certificate().expect("certificate");
    let point = certificate_p256_key(&certificate).expect("a P-256 key");
    assert_eq!(NetworkPublicKey::from_uncompressed(point).expect("point"), *key.public());
    assert!(key.certificate_name().ends_with(".network.walrus.alt"));
    assert!(
        NetworkKeyPair::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err()
    );
}

#[test]
fn a_cut_or_altered_certificate_yields_no_key_and_no_panic() {
    let key = NetworkKeyPair::generate().expect("key");
    let certificate = key.self_signed_certificate().expect("certificate").to_vec();
    for len in 0..certificate.len() {
        assert_eq!(certificate_p256_key(&certificate[..len]), None, "cut at {len}");
    }
    for i in 0..certificate.len() {
        let mut altered = certificate.clone();
        altered[i] ^= 0xff;
        // Whatever comes out is at most some point, never a panic.
        let _ = certificate_p256_key(&altered);
    }
}

/// A handshake over an in-memory pipe: the client pinned to `pinned`, the server on `key`.
/// Returns what the client read back, or the client's error.
async fn handshake(key: &NetworkKeyPair, pinned: NetworkPublicKey) -> Result<Vec<u8>, String> {
    handshake_with(key, None, pinned).await
}

/// [`handshake`], the server presenting `chain` (its self-signed certificate if `None`).
async fn handshake_with(
    key: &NetworkKeyPair,
    chain: Option<Vec<CertificateDer<'static>>>,
    pinned: NetworkPublicKey,
) -> Result<Vec<u8>, String> {
    let (client_end, server_end) = tokio::io::duplex(64 << 10);
    let acceptor = TlsAcceptor::from(key.server_config(chain).expect("server config"));
    let server = tokio::spawn(async move {
        let mut stream = acceptor.accept(server_end).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        stream.write_all(&buf).await.map_err(|e| e.to_string())?;
        stream.shutdown().await.map_err(|e| e.to_string())
    });
    let connector = TlsConnector::from(Arc::new(pinned_client_config(pinned).expect("client config")));
    let name = ServerName::try_from("node.example").expect("name");
    let result = async {
        let mut stream = connector.connect(name, client_end).await.map_err(|e| e.to_string())?;
        stream.write_all(b"hello").await.map_err(|e| e.to_string())?;
        let mut echoed = Vec::new();
        stream.read_to_end(&mut echoed).await.map_err(|e| e.to_string())?;
        Ok(echoed)
    }
    .await;
    let _ = server.await;
    result
}

#[tokio::test]
async fn a_client_accepts_exactly_the_registered_key() {
    let key = NetworkKeyPair::generate().expect("key");
    let other = NetworkKeyPair::generate().expect("key");
    // The certificate names neither "node.example" nor is it signed by anyone trusted: only
    // its key counts.
    assert_eq!(handshake(&key, *key.public()).await, Ok(b"hello".to_vec()));
    let refused = handshake(&key, *other.public()).await.expect_err("another key is refused");
    assert!(refused.contains("the chain registered"), "{refused}");
}

/// A CA and a certificate it issued for `key`'s public half, as PEM (leaf, then the CA).
fn ca_issued_chain(key: &NetworkKeyPair) -> String {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let leaf_params = rcgen::CertificateParams::new(vec!["node.example".to_string()]).expect("params");
    let leaf = leaf_params.signed_by(&key.key, &ca).expect("issued");
    format!("{}{}", leaf.pem(), ca.pem())
}

/// An operator's CA-issued certificate on the network key is served, and clients pinned to the
/// key accept it; a chain whose leaf carries another key is refused when it is loaded.
#[tokio::test]
async fn a_ca_issued_certificate_on_the_network_key_is_served_and_accepted() {
    let key = NetworkKeyPair::generate().expect("key");
    let chain = key.certificate_chain_from_pem(&ca_issued_chain(&key)).expect("the chain carries the key");
    assert_eq!(chain.len(), 2);
    assert_eq!(handshake_with(&key, Some(chain), *key.public()).await, Ok(b"hello".to_vec()));
    let other = NetworkKeyPair::generate().expect("key");
    let refused = key.certificate_chain_from_pem(&ca_issued_chain(&other)).expect_err("another key");
    assert!(refused.to_string().contains("not this node's network key"), "{refused}");
    assert!(key.certificate_chain_from_pem("no certificate here").is_err());
}

#[test]
fn plain_http_is_for_loopback_only() {
    assert_eq!(node_base_url("node.example:9185").expect("https"), "https://node.example:9185");
    assert_eq!(node_base_url("https://node.example:9185/").expect("https"), "https://node.example:9185");
    assert_eq!(node_base_url("http://127.0.0.1:9185").expect("loopback"), "http://127.0.0.1:9185");
    assert_eq!(node_base_url("http://localhost:1").expect("loopback"), "http://localhost:1");
    assert_eq!(node_base_url("http://[::1]:1").expect("loopback"), "http://[::1]:1");
    for address in ["http://10.0.0.1:9185", "http://node.example:9185", "http://127.0.0.1.example:1"] {
        assert!(matches!(node_base_url(address), Err(TlsError::PlainNotLoopback(_))), "{address}");
    }
}
