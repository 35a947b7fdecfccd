//! A publisher with JWT authentication: stores need a fresh, valid token whose upload claims
//! fit the request, refused with the reference's reasons and statuses; reads need none.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use walrus_core::keys::Ed25519KeyPair;
use walrus_gateway::auth::{hs256_token, token, JwtAlgorithm, JwtConfig, AUTH_DOMAIN};

use crate::common;

const SECRET: &[u8] = b"publisher secret";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// Status and reason of a store through `url` with `token`.
async fn store(
    url: &str,
    query: &str,
    token: Option<String>,
    body: &'static [u8],
) -> (u16, String, serde_json::Value) {
    let mut request =
        walrus_tls::http_client().build().expect("an HTTP client").put(format!("{url}{query}")).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("put");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("JSON");
    let reason = body["error"]["details"][0]["reason"].as_str().unwrap_or("").to_string();
    if status >= 400 && status != 429 {
        assert_eq!(body["error"]["details"][0]["domain"], AUTH_DOMAIN, "{body}");
    }
    if status == 400 {
        // The reference's FailedPrecondition.
        assert_eq!(body["error"]["status"], "FAILED_PRECONDITION", "{body}");
    }
    (status, reason, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_need_a_fresh_valid_token_that_fits_the_upload() {
    let (net, gateway, _) =
        common::daemon(13, |config| config.jwt = Some(JwtConfig::new(SECRET.to_vec()))).await;
    let url = format!("http://{}/v1/blobs", gateway.addr);
    let now = now();
    let refused = |query: &'static str, claims: serde_json::Value, body: &'static [u8]| {
        let url = url.clone();
        async move {
            let (status, reason, _) = store(&url, query, Some(hs256_token(SECRET, &claims)), body).await;
            (status, reason)
        }
    };

    assert_eq!(store(&url, "", None, b"no token").await.0, 400);
    let forged = hs256_token(b"another secret", &json!({ "exp": now + 60, "jti": "a" }));
    let (status, reason, _) = store(&url, "", Some(forged), b"forged").await;
    assert_eq!((status, reason.as_str()), (401, "INVALID_SIGNATURE"));
    // Expired beyond the 60 s leeway.
    let expired = refused("", json!({ "exp": now - 120, "jti": "b" }), b"expired").await;
    assert_eq!(expired, (504, "EXPIRED_SIGNATURE".to_string()));
    let no_jti = refused("", json!({ "exp": now + 60 }), b"no jti").await;
    assert_eq!(no_jti, (400, "INVALID_TOKEN".to_string()));
    let both = refused("", json!({ "exp": now + 60, "jti": "f", "size": 1, "max_size": 2 }), b"x").await;
    assert_eq!(both, (400, "iNVALID_SIZES".to_string()));

    // A valid token stores once; used again, it is refused.
    let token = hs256_token(SECRET, &json!({ "exp": now + 60, "jti": "c", "max_epochs": 2, "size": 5 }));
    let (status, _, body) = store(&url, "?epochs=2", Some(token.clone()), b"hello").await;
    assert_eq!(status, 200, "{body}");
    let blob_id = body["newlyCreated"]["blobObject"]["blobId"].as_str().expect("blob ID").to_string();
    let (status, reason, _) = store(&url, "?epochs=2", Some(token), b"hello").await;
    assert_eq!((status, reason.as_str()), (429, "TOKEN_ALREADY_USED"));

    // The upload claims bound the request; a refused request leaves its token usable.
    let sized = json!({ "exp": now + 60, "jti": "d", "size": 5 });
    assert_eq!(refused("", sized.clone(), b"longer body").await, (400, "SIZE_INCORRECT".to_string()));
    assert_eq!(refused("", sized, b"fits!").await.0, 200);
    let capped = json!({ "exp": now + 60, "jti": "e", "max_epochs": 1 });
    assert_eq!(refused("?epochs=3", capped, b"x").await, (400, "EPOCHS_ABOVE_MAX".to_string()));
    let exact = json!({ "exp": now + 60, "jti": "g", "epochs": 2 });
    assert_eq!(refused("?epochs=1", exact, b"x").await, (400, "INVALID_EPOCHS".to_string()));
    let small = json!({ "exp": now + 60, "jti": "h", "max_size": 2 });
    assert_eq!(refused("", small, b"xyz").await, (400, "MAX_SIZE_EXCEEDED".to_string()));
    let to = json!({ "exp": now + 60, "jti": "i", "send_object_to": format!("0x{}", "ab".repeat(32)) });
    assert_eq!(refused("", to, b"x").await, (400, "MISSING_SEND_OBJECT_TO".to_string()));
    // Addresses are compared as addresses: upper-case hex in the token names the same one.
    let upper = json!({ "exp": now + 60, "jti": "j", "send_object_to": format!("0x{}", "AB".repeat(32)) });
    let query = format!("?send_object_to=0x{}", "ab".repeat(32));
    let (status, _, body) = store(&url, &query, Some(hs256_token(SECRET, &upper)), b"to").await;
    assert_eq!(status, 200, "{body}");
    let other = json!({ "exp": now + 60, "jti": "k", "send_object_to": format!("0x{}", "cd".repeat(32)) });
    let (status, reason, _) = store(&url, &query, Some(hs256_token(SECRET, &other)), b"to").await;
    assert_eq!((status, reason.as_str()), (400, "INVALID_SEND_OBJECT_TO"));

    // Reads need no token.
    let read = reqwest::get(format!("{url}/{blob_id}")).await.expect("get");
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.expect("body").as_ref(), b"hello");
    gateway.stop().await.expect("stopped");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_tokens_and_an_exact_lifetime() {
    let issuer = Ed25519KeyPair::from_seed(&[7; 32]);
    let key = format!("0x{}", issuer.public().0.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let (net, gateway, _) = common::daemon(14, |config| {
        let mut jwt = JwtConfig::from_secret_text(JwtAlgorithm::EdDsa, &key).expect("key");
        jwt.expiring_secs = Some(300);
        config.jwt = Some(jwt);
    })
    .await;
    let url = format!("http://{}/v1/blobs", gateway.addr);
    let now = now();
    let signed = |claims: serde_json::Value| token("EdDSA", &claims, |bytes| issuer.sign(bytes).0.to_vec());

    let (status, _, body) =
        store(&url, "", Some(signed(json!({ "iat": now, "exp": now + 300, "jti": "a" }))), b"ed").await;
    assert_eq!(status, 200, "{body}");
    let (status, reason, _) =
        store(&url, "", Some(signed(json!({ "iat": now, "exp": now + 200, "jti": "b" }))), b"x").await;
    assert_eq!((status, reason.as_str()), (400, "INVALID_EXPIRATION"));
    let other = Ed25519KeyPair::from_seed(&[8; 32]);
    let forged =
        token("EdDSA", &json!({ "iat": now, "exp": now + 300, "jti": "c" }), |b| other.sign(b).0.to_vec());
    let (status, reason, _) = store(&url, "", Some(forged), b"x").await;
    assert_eq!((status, reason.as_str()), (401, "INVALID_SIGNATURE"));
    // An HS256 token is not accepted where EdDSA is configured.
    let hs = hs256_token(SECRET, &json!({ "iat": now, "exp": now + 300, "jti": "d" }));
    let (status, reason, _) = store(&url, "", Some(hs), b"x").await;
    assert_eq!((status, reason.as_str()), (400, "INVALID_TOKEN"));
    gateway.stop().await.expect("stopped");
    net.stop().await;
}
