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
    let (client_end, server_end) = tokio::io::duplex(64 << 10);
    let acceptor = TlsAcceptor::from(key.server_config(None).expect("server config"));
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
