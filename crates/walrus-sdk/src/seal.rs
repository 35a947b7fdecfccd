//! Seal through the SDK: the registered key servers (their objects proven), a session key the
//! wallet certifies once, and the user secret keys of an identity fetched from key servers in
//! parallel, each opened with a fresh X25519 key and checked against its server's public key
//! (a server that answers a wrong key is skipped), until `threshold` of them are in hand.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use walrus_chain::access::KeyServerInfo;
use walrus_chain::objects::{Object, ObjectBody};
use walrus_chain::records::Tag;
use walrus_chain_client::ClientError;
use walrus_core::keys::Ed25519KeyPair;
use walrus_core::ObjectId;
use walrus_seal::bls::{G1, G2};
use walrus_seal::session::{open_key, Certificate, KeyRequest, KeyResponse};
use walrus_seal::{full_id, ibe, KeyServer};

use crate::client::Client;

/// How long a key server may take to answer.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest answer read from a key server.
const RESPONSE_BYTES_MAX: usize = 64 * 1024;

/// A registered key server, as read from the chain with a proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyServerView {
    /// Its object ID.
    pub object_id: ObjectId,
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its public key.
    pub public_key: [u8; 96],
}

impl KeyServerView {
    /// As encryption takes it.
    pub fn as_key_server(&self) -> KeyServer {
        KeyServer { object_id: self.object_id.0, public_key: self.public_key }
    }
}

/// Why keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SealClientError {
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] ClientError),
    /// Fewer key servers gave a valid key than the threshold.
    #[error("{got} of the {need} keys needed; {failures}")]
    NotEnoughKeys {
        /// Valid keys received.
        got: usize,
        /// The threshold.
        need: usize,
        /// What each failing server said.
        failures: String,
    },
    /// No randomness for a key.
    #[error("no randomness: {0}")]
    Random(String),
}

/// A session: a key the wallet certified for the chain's package for some minutes.
#[derive(Debug)]
pub struct SealSession {
    key: Ed25519KeyPair,
    certificate: Certificate,
}

fn random32() -> Result<[u8; 32], SealClientError> {
    let mut out = [0u8; 32];
    getrandom::fill(&mut out).map_err(|e| SealClientError::Random(e.to_string()))?;
    Ok(out)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Client {
    /// The chain's Seal package ID (its chain ID).
    pub async fn seal_package_id(&self) -> Result<[u8; 32], SealClientError> {
        Ok(walrus_chain::access::seal_package_id(&self.chain.trust().await?.chain_id))
    }

    /// Every registered key server, each object proven.
    pub async fn key_servers(&self) -> Result<Vec<KeyServerView>, SealClientError> {
        let ids = self.chain.key_server_ids().await?;
        let mut views = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(walrus_chain_client::wire::RECORD_KEYS_MAX) {
            let keys: Vec<(Tag, [u8; 32])> = chunk.iter().map(|id| (Tag::Object, id.0)).collect();
            let records = self.chain.proven_records(&keys).await?;
            for id in chunk {
                if let Some(Object {
                    body: ObjectBody::KeyServer(KeyServerInfo { name, url, public_key, .. }),
                    ..
                }) = records.get::<Object>(Tag::Object, &id.0)?
                {
                    let Ok(public_key) = public_key.try_into() else { continue };
                    views.push(KeyServerView { object_id: *id, name, url, public_key });
                }
            }
        }
        Ok(views)
    }

    /// A session of `ttl_min` minutes (1 to 30) for this wallet.
    pub async fn seal_session(&self, ttl_min: u32) -> Result<SealSession, SealClientError> {
        let key = Ed25519KeyPair::from_seed(&random32()?);
        let package = self.seal_package_id().await?;
        let certificate = Certificate::sign(&self.wallet, key.public(), package, (now_ms(), ttl_min));
        Ok(SealSession { key, certificate })
    }

    /// The user secret keys of `identity` from `servers`, asked in parallel; returns once
    /// `threshold` valid ones are in (each checked against its server's public key).
    pub async fn fetch_keys(
        &self,
        session: &SealSession,
        (identity, subscription): (&[u8], Option<ObjectId>),
        servers: &[KeyServerView],
        threshold: usize,
    ) -> Result<Vec<([u8; 32], [u8; 48])>, SealClientError> {
        let package = session.certificate.package_id;
        let full = full_id(&package, identity);
        let http = walrus_tls::http_client().build().map_err(|e| ClientError::Decode {
            url: String::new(),
            reason: format!("no HTTP client: {e}"),
        })?;
        let mut tasks = tokio::task::JoinSet::new();
        for server in servers {
            let rng = ring::rand::SystemRandom::new();
            let ephemeral = EphemeralPrivateKey::generate(&X25519, &rng)
                .map_err(|_| SealClientError::Random("X25519 key".into()))?;
            let enc_key: [u8; 32] = ephemeral
                .compute_public_key()
                .map_err(|_| SealClientError::Random("X25519 public key".into()))?
                .as_ref()
                .try_into()
                .map_err(|_| SealClientError::Random("X25519 key size".into()))?;
            let request = KeyRequest::sign(
                &session.key,
                session.certificate.clone(),
                (identity.to_vec(), subscription),
                (enc_key, random32()?, now_ms()),
            );
            let (http, server, full) = (http.clone(), server.clone(), full.clone());
            tasks.spawn(async move {
                let result = fetch_one(&http, &server, &request, ephemeral, &full).await;
                (server, result)
            });
        }
        let mut keys = Vec::new();
        let mut failures = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((server, Ok(key))) => keys.push((server.object_id.0, key)),
                Ok((server, Err(reason))) => {
                    failures.push(format!("{} ({}): {reason}", server.name, server.url))
                }
                Err(e) => failures.push(format!("a fetch task failed: {e}")),
            }
            if keys.len() >= threshold {
                tasks.abort_all();
                return Ok(keys);
            }
        }
        Err(SealClientError::NotEnoughKeys {
            got: keys.len(),
            need: threshold,
            failures: failures.join("; "),
        })
    }
}

/// One key server's key for `request`, opened and verified.
async fn fetch_one(
    http: &reqwest::Client,
    server: &KeyServerView,
    request: &KeyRequest,
    ephemeral: EphemeralPrivateKey,
    full_id: &[u8],
) -> Result<[u8; 48], String> {
    let url = format!("{}/v1/fetch_key", server.url.trim_end_matches('/'));
    let response =
        http.post(&url).json(request).timeout(FETCH_TIMEOUT).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if response.content_length().is_some_and(|len| len as usize > RESPONSE_BYTES_MAX) {
        return Err("the answer is too large".into());
    }
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if body.len() > RESPONSE_BYTES_MAX {
        return Err("the answer is too large".into());
    }
    if !status.is_success() {
        let reason: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        return Err(format!(
            "{status}: {}",
            reason["error"]["message"].as_str().unwrap_or("no reason given")
        ));
    }
    let answer: KeyResponse = serde_json::from_slice(&body).map_err(|e| format!("not a key answer: {e}"))?;
    if answer.key_server != server.object_id {
        return Err("the answer is from another key server".into());
    }
    let peer = UnparsedPublicKey::new(&X25519, answer.server_key);
    let key = agree_ephemeral(ephemeral, &peer, |shared| open_key(shared, request, &answer))
        .map_err(|_| "the server's X25519 key is invalid".to_string())?
        .ok_or("the key does not open")?;
    let (point, public) = (G1::from_bytes(&key), G2::from_bytes(&server.public_key));
    match (point, public) {
        (Some(point), Some(public)) if ibe::verify_user_secret_key(&point, full_id, &public) => Ok(key),
        _ => Err("the key is not this server's key for the identity (skipped)".into()),
    }
}

/// Why a sealed blob could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealBlobError {
    /// Keys or chain reads.
    #[error(transparent)]
    Client(#[from] SealClientError),
    /// The cryptography refused.
    #[error(transparent)]
    Seal(#[from] walrus_seal::SealError),
    /// Not enough key servers are registered for the threshold.
    #[error("{registered} key servers are registered; a threshold of {threshold} needs at least that many")]
    TooFewKeyServers {
        /// Registered.
        registered: usize,
        /// Asked for.
        threshold: usize,
    },
    /// The object's key servers are not (all) registered here.
    #[error("the object names key servers this chain does not know: {0}")]
    UnknownKeyServers(String),
}

impl Client {
    /// Encrypts `data` under the policy `policy` (a fresh random nonce makes the identity) for
    /// every registered key server, `threshold` of which give the key.
    pub async fn seal_encrypt(
        &self,
        policy: ObjectId,
        data: &[u8],
        threshold: usize,
    ) -> Result<walrus_seal::EncryptedObject, SealBlobError> {
        let servers = self.key_servers().await?;
        if threshold == 0 || threshold > servers.len() || threshold > 254 {
            return Err(SealBlobError::TooFewKeyServers { registered: servers.len(), threshold });
        }
        let package = self.seal_package_id().await?;
        let nonce = random32()?;
        let identity = [policy.0.as_slice(), &nonce[..16]].concat();
        let publics: Vec<KeyServer> = servers.iter().map(KeyServerView::as_key_server).collect();
        let dem = (walrus_seal::Dem::Aes256Gcm, &[][..]);
        let (object, _) =
            walrus_seal::encrypt((&package, &identity), &publics, threshold as u8, dem, data, &random32()?)?;
        Ok(object)
    }

    /// `data` as a Seal object of this chain's policies, if it is one.
    pub async fn sealed(&self, data: &[u8]) -> Result<Option<walrus_seal::EncryptedObject>, SealClientError> {
        let Ok(object) = walrus_seal::EncryptedObject::from_bytes(data) else { return Ok(None) };
        Ok((object.package_id == self.seal_package_id().await?).then_some(object))
    }

    /// The user secret keys of `object`'s identity for this wallet, from its key servers (the
    /// wallet's unexpired subscription to the policy is named if it holds one).
    pub async fn seal_keys(
        &self,
        object: &walrus_seal::EncryptedObject,
    ) -> Result<(Vec<KeyServerView>, Vec<([u8; 32], [u8; 48])>), SealBlobError> {
        let registered = self.key_servers().await?;
        let servers: Vec<KeyServerView> = registered
            .into_iter()
            .filter(|s| object.services.iter().any(|(id, _)| *id == s.object_id.0))
            .collect();
        if servers.len() < usize::from(object.threshold) {
            let ids: Vec<String> = object.services.iter().map(|(id, _)| hex::encode(id)).collect();
            return Err(SealBlobError::UnknownKeyServers(ids.join(", ")));
        }
        let subscription = match walrus_chain::access::policy_of_identity(&object.id) {
            Some(policy) => self.subscription_to(policy).await?,
            None => None,
        };
        let session = self.seal_session(10).await?;
        let keys = self
            .fetch_keys(&session, (&object.id, subscription), &servers, usize::from(object.threshold))
            .await?;
        Ok((servers, keys))
    }

    /// Decrypts a Seal object of this chain's policies with keys this wallet may have.
    pub async fn seal_decrypt(
        &self,
        object: &walrus_seal::EncryptedObject,
    ) -> Result<Vec<u8>, SealBlobError> {
        let (servers, keys) = self.seal_keys(object).await?;
        let publics: Vec<KeyServer> = servers.iter().map(KeyServerView::as_key_server).collect();
        Ok(walrus_seal::decrypt(object, &keys, Some(&publics))?)
    }

    /// The wallet's unexpired subscription to `policy`, if it holds one.
    pub async fn subscription_to(&self, policy: ObjectId) -> Result<Option<ObjectId>, SealClientError> {
        let epoch = self.chain.system().await?.system.epoch();
        let owned = self.chain.owned_objects(&self.wallet.address()).await?;
        Ok(owned.into_iter().find_map(|view| match view.object.body {
            ObjectBody::Subscription(s) if s.policy == policy && epoch < s.expires_epoch => Some(view.id),
            _ => None,
        }))
    }
}
