//! A publisher with JWT authentication: stores need a fresh, valid HS256 token whose upload
//! claims fit the request; reads need none.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use walrus_gateway::auth::{hs256_token, JwtConfig};

mod common;

const SECRET: &[u8] = b"publisher secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_need_a_fresh_valid_token_that_fits_the_upload() {
    let (net, gateway, _) =
        common::daemon(3, 13, |config| config.jwt = Some(JwtConfig::new(SECRET.to_vec()))).await;
    let url = format!("http://{}/v1/blobs", gateway.addr);
    let http = reqwest::Client::new();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let put = |query: &str, token: Option<String>, body: &'static [u8]| {
        let mut request = http.put(format!("{url}{query}")).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let status = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("JSON");
        if status == 401 {
            assert_eq!(body["error"]["details"][0]["reason"], "UNAUTHORIZED", "{body}");
        }
        (status, body)
    };

    let (code, _) = status(put("", None, b"no token").await.expect("put")).await;
    assert_eq!(code, 401);
    let forged = hs256_token(b"another secret", &json!({ "exp": now + 60, "jti": "a" }));
    assert_eq!(status(put("", Some(forged), b"forged").await.expect("put")).await.0, 401);
    let expired = hs256_token(SECRET, &json!({ "exp": now - 1, "jti": "b" }));
    assert_eq!(status(put("", Some(expired), b"expired").await.expect("put")).await.0, 401);
    let no_jti = hs256_token(SECRET, &json!({ "exp": now + 60 }));
    assert_eq!(status(put("", Some(no_jti), b"no jti").await.expect("put")).await.0, 401);

    // A valid token stores once; used again, it is refused.
    let token = hs256_token(SECRET, &json!({ "exp": now + 60, "jti": "c", "max_epochs": 2, "size": 5 }));
    let (code, body) = status(put("?epochs=2", Some(token.clone()), b"hello").await.expect("put")).await;
    assert_eq!(code, 200, "{body}");
    let blob_id = body["newlyCreated"]["blobObject"]["blobId"].as_str().expect("blob ID").to_string();
    assert_eq!(status(put("?epochs=2", Some(token), b"hello").await.expect("put")).await.0, 401);

    // The upload claims bound the request.
    let sized = hs256_token(SECRET, &json!({ "exp": now + 60, "jti": "d", "size": 5 }));
    assert_eq!(status(put("", Some(sized), b"longer body").await.expect("put")).await.0, 401);
    let short = hs256_token(SECRET, &json!({ "exp": now + 60, "jti": "e", "max_epochs": 1 }));
    assert_eq!(status(put("?epochs=3", Some(short), b"x").await.expect("put")).await.0, 401);

    // Reads need no token.
    let read = http.get(format!("{url}/{blob_id}")).send().await.expect("get");
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.expect("body").as_ref(), b"hello");
    gateway.stop().await.expect("stopped");
    net.stop().await;
}
