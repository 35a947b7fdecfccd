//! Upload relays (the reference's `walrus-upload-relay`, `../shared/spec/protocol.md` §7.8): the
//! protocol's types, and stores that send the blob to a relay once instead of every sliver to
//! every node.
//!
//! A store through a relay encodes and registers the blob as any store does (the client needs
//! its blob ID and metadata for that), pays the relay's tip if it asks one, then sends the
//! unencoded blob in one `POST /v1/blob-upload-relay`; the relay encodes it again, sends the
//! slivers to the nodes and answers with the confirmation certificate, which the client puts on
//! chain. The relay takes no action on chain.
//!
//! **Tips.** `GET /v1/tip-config` says `"no_tip"` or where to send how much. The reference pays
//! in SUI with the commitment `BCS(sha256(blob) || sha256(nonce) || unencoded_length)` as the
//! paying transaction's first input; this chain has one coin and one call per transaction, so
//! the tip is a `TransferWithMemo` of WAL (FROST) whose memo is that commitment. The request
//! then carries the transaction's ID (base58, as the reference's; `0x` hex is taken too) and
//! the nonce (URL-safe base64 without padding), and the relay checks the transfer, its memo and
//! its age before it reads the body.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use walrus_chain::system::Committee;
use walrus_chain::tx::{Call, TxDigest};
use walrus_core::keys::Address;
use walrus_core::messages::Certificate;
use walrus_core::params::Quorum;
use walrus_core::{BlobId, EncodingParams, ObjectId};
use walrus_node_client::SliverSource;

use crate::client::{Client, StoreError};
use crate::upload::{Confirmed, Uploaded};

/// The relay's store endpoint.
pub const BLOB_UPLOAD_RELAY_ROUTE: &str = "/v1/blob-upload-relay";
/// The relay's tip configuration endpoint.
pub const TIP_CONFIG_ROUTE: &str = "/v1/tip-config";
/// Where a relay listens by default (the reference's).
pub const RELAY_ADDRESS_DEFAULT: &str = "0.0.0.0:57391";
/// Bytes of a digest (and of a nonce).
pub const DIGEST_LEN: usize = 32;

/// Largest answer read from a relay: a certificate of 1 000 signers is under 10 KiB of JSON.
const ANSWER_BYTES_MAX: usize = 1 << 20;
/// How long a relay may take over a tip configuration.
const TIP_CONFIG_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a relay may take over an upload: this, plus a second per MiB of blob.
const UPLOAD_TIMEOUT_BASE: Duration = Duration::from_secs(120);

/// What a relay asks for relaying a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TipConfig {
    /// Nothing.
    NoTip,
    /// A tip of `kind` to `address`.
    SendTip {
        /// Who is paid.
        address: Address,
        /// How much.
        kind: TipKind,
    },
}

/// How a tip is computed, in FROST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TipKind {
    /// The same for every blob.
    Const(u64),
    /// `base + encoded_size_mul_per_kib` for each KiB (rounded up) of the encoded blob.
    Linear {
        /// The fixed part.
        base: u64,
        /// Per KiB of encoded size.
        encoded_size_mul_per_kib: u64,
    },
}

impl TipKind {
    /// The tip for a blob of `unencoded_length` bytes, or `None` if the blob is too large for
    /// the system or the tip overflows.
    pub fn tip(&self, params: EncodingParams, unencoded_length: u64) -> Option<u64> {
        match *self {
            TipKind::Const(tip) => Some(tip),
            TipKind::Linear { base, encoded_size_mul_per_kib } => {
                let kib = params.encoded_blob_length(unencoded_length).ok()?.div_ceil(1024);
                kib.checked_mul(encoded_size_mul_per_kib)?.checked_add(base)
            }
        }
    }
}

/// The commitment a tip carries to the blob it pays for, as the reference's
/// `HashedAuthPackage`: its BCS form is the tip's memo (72 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedAuthPackage {
    /// SHA-256 of the blob.
    pub blob_digest: [u8; DIGEST_LEN],
    /// SHA-256 of the nonce the request will carry.
    pub nonce_digest: [u8; DIGEST_LEN],
    /// The blob's length in bytes.
    pub unencoded_length: u64,
}

impl HashedAuthPackage {
    /// The commitment to a blob of SHA-256 `blob_digest` and `unencoded_length` bytes, sent
    /// with `nonce`.
    pub fn new(blob_digest: [u8; DIGEST_LEN], nonce: &[u8; DIGEST_LEN], unencoded_length: u64) -> Self {
        HashedAuthPackage { blob_digest, nonce_digest: sha256(nonce), unencoded_length }
    }

    /// Its BCS bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("fixed-size fields serialize")
    }

    /// It from exactly its BCS bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bcs::from_bytes(bytes).ok()
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; DIGEST_LEN] {
    sha2::Sha256::digest(data).into()
}

/// The query of `POST /v1/blob-upload-relay`, as text (the reference's names; no others).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayQuery {
    /// The blob's ID.
    pub blob_id: String,
    /// The tip's transaction: base58 (the reference's form) or `0x` hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    /// The nonce committed to in the tip's memo: 32 bytes in URL-safe base64 without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The blob object, for a deletable blob (its confirmations name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletable_blob_object: Option<String>,
    /// `RS2`, the only encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
}

/// [`RelayQuery`] parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayParams {
    /// The blob's ID.
    pub blob_id: BlobId,
    /// The tip's transaction.
    pub tx_id: Option<TxDigest>,
    /// The tip's nonce.
    pub nonce: Option<[u8; DIGEST_LEN]>,
    /// The deletable blob's object.
    pub deletable_blob_object: Option<ObjectId>,
}

impl RelayQuery {
    /// The parameters, or what is wrong with them.
    pub fn parse(&self) -> Result<RelayParams, String> {
        let blob_id = self.blob_id.parse().map_err(|e| format!("blob_id {:?}: {e}", self.blob_id))?;
        let tx_id =
            match &self.tx_id {
                Some(text) => Some(parse_tx_id(text).ok_or_else(|| {
                    format!("tx_id {text:?} is not a transaction digest (base58 or 0x hex)")
                })?),
                None => None,
            };
        let nonce = match &self.nonce {
            Some(text) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(text)
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| format!("nonce {text:?} is not 32 bytes of URL-safe base64"))?,
            ),
            None => None,
        };
        let deletable_blob_object = match &self.deletable_blob_object {
            Some(text) => Some(text.parse().map_err(|e| format!("deletable_blob_object {text:?}: {e}"))?),
            None => None,
        };
        if let Some(encoding) = &self.encoding_type {
            if !encoding.eq_ignore_ascii_case("RS2") {
                return Err(format!("encoding_type {encoding:?}: only RS2 is supported"));
            }
        }
        Ok(RelayParams { blob_id, tx_id, nonce, deletable_blob_object })
    }
}

impl RelayParams {
    /// The URL of the upload to the relay at `relay`. Every value is URL-safe as it is
    /// (base64url, base58, hex), so nothing is escaped.
    pub fn url(&self, relay: &str) -> String {
        let query = self.to_query();
        let mut url = format!("{relay}{BLOB_UPLOAD_RELAY_ROUTE}?blob_id={}", query.blob_id);
        let optional = [("tx_id", query.tx_id), ("nonce", query.nonce)];
        let optional = optional.into_iter().chain([("deletable_blob_object", query.deletable_blob_object)]);
        for (name, value) in optional {
            if let Some(value) = value {
                url.push_str(&format!("&{name}={value}"));
            }
        }
        url
    }

    /// The query's text form.
    pub fn to_query(&self) -> RelayQuery {
        RelayQuery {
            blob_id: self.blob_id.to_string(),
            tx_id: self.tx_id.map(|digest| base58_encode(&digest.0)),
            nonce: self.nonce.map(|nonce| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce)),
            deletable_blob_object: self.deletable_blob_object.map(|id| id.to_string()),
            encoding_type: None,
        }
    }
}

/// A relay's answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayResponse {
    /// The blob's ID.
    pub blob_id: BlobId,
    /// The certificate over the nodes' storage confirmations.
    pub confirmation_certificate: Certificate,
}

/// A transaction digest from base58 or `0x` hex.
pub fn parse_tx_id(text: &str) -> Option<TxDigest> {
    if text.starts_with("0x") {
        return text.parse().ok();
    }
    let bytes: [u8; 32] = base58_decode(text)?.try_into().ok()?;
    Some(TxDigest(bytes))
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// `bytes` in base58 (Bitcoin's alphabet, as Sui's digests).
pub fn base58_encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // Base-58 digits, least significant first.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for digit in &mut digits {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut text = "1".repeat(zeros);
    text.extend(digits.iter().rev().map(|&d| char::from(BASE58[usize::from(d)])));
    text
}

/// The bytes of base58 `text` (at most 64 characters: digests, not arbitrary data).
pub fn base58_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() > 64 {
        return None;
    }
    let ones = text.bytes().take_while(|&c| c == b'1').count();
    // Base-256 digits, least significant first.
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes() {
        let mut carry = BASE58.iter().position(|&a| a == c)? as u32;
        for byte in &mut bytes {
            carry += u32::from(*byte) * 58;
            *byte = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push(carry as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0; ones];
    out.extend(bytes.iter().rev());
    Some(out)
}

/// The unencoded blob of a store, for a relay: in memory, or a file read as it is sent.
#[derive(Debug, Clone)]
pub(crate) enum Raw {
    Bytes(Bytes),
    File(PathBuf),
}

impl Raw {
    async fn sha256(&self) -> Result<[u8; DIGEST_LEN], StoreError> {
        match self {
            Raw::Bytes(data) => Ok(sha256(data)),
            Raw::File(path) => {
                let path = path.clone();
                let hash = tokio::task::spawn_blocking(move || {
                    let mut hasher = sha2::Sha256::new();
                    std::io::copy(&mut std::fs::File::open(&path)?, &mut hasher)?;
                    Ok::<_, std::io::Error>(hasher.finalize().into())
                });
                hash.await?.map_err(|e| StoreError::Relay { status: None, message: e.to_string() })
            }
        }
    }

    fn body(&self) -> reqwest::Body {
        match self {
            Raw::Bytes(data) => reqwest::Body::from(data.clone()),
            Raw::File(path) => reqwest::Body::wrap(FileBody::start(path.clone())),
        }
    }
}

/// What a store through a relay encodes: the metadata alone (the blob ID and what registers
/// it); the relay makes the slivers. A file is read in the memory budget, keeping only the
/// repair columns in scratch.
pub(crate) fn metadata_encoder(raw: Raw, budget: usize, scratch: Option<PathBuf>) -> crate::client::Encoder {
    Box::new(move |params| {
        let metadata = match &raw {
            Raw::Bytes(data) => walrus_core::encode::compute_metadata(params, data)?,
            Raw::File(path) => crate::streaming::file_metadata(params, path, budget, scratch.as_deref())?,
        };
        Ok(Arc::new(MetadataOnly(metadata)) as Arc<dyn SliverSource>)
    })
}

/// A blob whose slivers are made elsewhere (by a relay).
struct MetadataOnly(walrus_core::metadata::VerifiedBlobMetadataWithId);

impl SliverSource for MetadataOnly {
    fn metadata(&self) -> &walrus_core::metadata::VerifiedBlobMetadataWithId {
        &self.0
    }

    fn sliver(
        self: Arc<Self>,
        _axis: walrus_core::SliverType,
        _index: walrus_core::SliverIndex,
    ) -> std::io::Result<Bytes> {
        Err(std::io::Error::other("this store goes through an upload relay, which makes the slivers"))
    }
}

/// A file sent as a request body: read in 1 MiB pieces by a blocking task, a few ahead.
struct FileBody(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl FileBody {
    fn start(path: PathBuf) -> FileBody {
        let (send, receive) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) => return drop(send.blocking_send(Err(e))),
            };
            loop {
                let mut piece = vec![0; 1 << 20];
                let read = match std::io::Read::read(&mut file, &mut piece) {
                    Ok(0) => return,
                    Ok(read) => read,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return drop(send.blocking_send(Err(e))),
                };
                piece.truncate(read);
                if send.blocking_send(Ok(Bytes::from(piece))).is_err() {
                    return; // The request was dropped.
                }
            }
        });
        FileBody(receive)
    }
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|piece| piece.map(|piece| piece.map(http_body::Frame::data)))
    }
}

impl Client {
    /// The same client, storing through the upload relay at `url` (`http(s)://host:port`): the
    /// blob goes to the relay once, and the relay sends the slivers to the nodes.
    pub fn with_upload_relay(mut self, url: &str) -> Self {
        self.relay = Some(Arc::from(url.trim_end_matches('/')));
        self
    }

    /// The tip configuration of the relay at `url`.
    pub async fn relay_tip_config(&self, url: &str) -> Result<TipConfig, StoreError> {
        let response = self.relay_http()?.get(format!("{url}{TIP_CONFIG_ROUTE}")).timeout(TIP_CONFIG_TIMEOUT);
        let body = relay_answer(response.send().await).await?;
        serde_json::from_slice(&body).map_err(|e| relay_error(None, format!("a tip configuration: {e}")))
    }

    /// Uploads `blob` through the relay at `relay`: pays its tip, sends `raw`, and checks the
    /// certificate it answers against `committee`.
    pub(crate) async fn upload_via_relay(
        &self,
        relay: &str,
        raw: &Raw,
        blob: &Arc<dyn SliverSource>,
        committee: &Committee,
        deletable_blob_object: Option<ObjectId>,
    ) -> Result<Confirmed, StoreError> {
        let metadata = blob.metadata();
        let (blob_id, len) = (*metadata.blob_id(), metadata.unencoded_length());
        let mut params = RelayParams { blob_id, tx_id: None, nonce: None, deletable_blob_object };
        if let TipConfig::SendTip { address, kind } = self.relay_tip_config(relay).await? {
            let mut nonce = [0u8; DIGEST_LEN];
            getrandom::fill(&mut nonce).map_err(|e| relay_error(None, format!("no randomness: {e}")))?;
            let memo = HashedAuthPackage::new(raw.sha256().await?, &nonce, len).to_bytes();
            let amount = kind
                .tip(metadata.params(), len)
                .ok_or_else(|| relay_error(None, "the relay's tip overflows".into()))?;
            let tip =
                Call::TransferWithMemo { to: address, amount: walrus_chain::amount::Frost(amount), memo };
            let paid = self.execute(tip).await?;
            (params.tx_id, params.nonce) = (Some(paid.effects.digest), Some(nonce));
        }
        let timeout = UPLOAD_TIMEOUT_BASE + Duration::from_secs(len >> 20);
        let request = self
            .relay_http()?
            .post(params.url(relay))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(raw.body())
            .timeout(timeout);
        let body = relay_answer(request.send().await).await?;
        let answer: RelayResponse = serde_json::from_slice(&body)
            .map_err(|e| relay_error(None, format!("not an upload relay's answer: {e}")))?;
        if answer.blob_id != blob_id {
            return Err(relay_error(None, format!("the relay answered for blob {}", answer.blob_id)));
        }
        let certificate = answer.confirmation_certificate;
        let weight = certificate_weight(&certificate, committee)?;
        if !Quorum::new(metadata.params().n()).is_certificate_quorum(weight) {
            return Err(relay_error(None, format!("the relay's certificate covers only {weight} shards")));
        }
        let uploaded = Uploaded { sent_bytes: len, held_bytes: 0 };
        Ok(Confirmed { certificate, weight, tail: None, uploaded })
    }

    fn relay_http(&self) -> Result<reqwest::Client, StoreError> {
        walrus_tls::http_client()
            .build()
            .map_err(|e| relay_error(None, format!("cannot build an HTTP client: {e}")))
    }

    /// Uploads `blob` to the current committee and returns the certificate once the
    /// confirmations cover a quorum (an upload relay's work); the uploads to slower members
    /// go on for a short tail in the background.
    pub async fn upload_for_certificate(
        &self,
        blob: &Arc<dyn SliverSource>,
        deletable_blob_object: Option<ObjectId>,
    ) -> Result<Certificate, StoreError> {
        let network = self.network().await.map_err(|e| StoreError::Network(Arc::new(e)))?;
        let confirmed =
            self.upload_and_confirm(blob, &network.committee, deletable_blob_object, false).await?;
        tokio::spawn(Confirmed::tail_ends(confirmed.tail));
        Ok(confirmed.certificate)
    }
}

/// The shards the signers of `certificate` hold in `committee`, after checking its signature.
fn certificate_weight(certificate: &Certificate, committee: &Committee) -> Result<usize, StoreError> {
    let mut keys = Vec::with_capacity(certificate.signers.len());
    let mut weight = 0;
    for &signer in &certificate.signers {
        let member = committee
            .members
            .get(usize::from(signer))
            .ok_or_else(|| relay_error(None, format!("the relay's certificate names member {signer}")))?;
        keys.push(member.public_key);
        weight += member.shards.len();
    }
    certificate.verify_signature(&keys)?;
    Ok(weight)
}

/// A relay's answer body (at most [`ANSWER_BYTES_MAX`]) if it is a success, else its error.
async fn relay_answer(sent: reqwest::Result<reqwest::Response>) -> Result<Bytes, StoreError> {
    let mut response = sent.map_err(|e| relay_error(None, format!("the relay did not answer: {e}")))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| relay_error(Some(status.as_u16()), e.to_string()))?
    {
        if body.len() + chunk.len() > ANSWER_BYTES_MAX {
            return Err(relay_error(Some(status.as_u16()), "the relay's answer is too long".into()));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned();
        return Err(relay_error(Some(status.as_u16()), text));
    }
    Ok(Bytes::from(body))
}

fn relay_error(status: Option<u16>, message: String) -> StoreError {
    StoreError::Relay { status, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_matches_known_vectors_and_round_trips() {
        assert_eq!(base58_encode(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
        assert_eq!(base58_encode(&[0, 0, 1]), "112");
        assert_eq!(base58_decode("2NEpo7TZRRrLZSi2U").as_deref(), Some(&b"Hello World!"[..]));
        // The reference's example transaction ID is a 32-byte digest.
        let digest = parse_tx_id("EmcFpdozbobqH61w76T4UehhC4UGaAv32uZpv6c4CNyg").expect("a digest");
        assert_eq!(base58_encode(&digest.0), "EmcFpdozbobqH61w76T4UehhC4UGaAv32uZpv6c4CNyg");
        assert_eq!(parse_tx_id(&digest.to_string()), Some(digest), "0x hex too");
        assert_eq!(base58_decode("0OIl"), None, "not in the alphabet");
        assert_eq!(parse_tx_id("2NEpo7TZRRrLZSi2U"), None, "not 32 bytes");
    }

    #[test]
    fn tip_configurations_have_the_reference_json() {
        let address: Address =
            "0x2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a".parse().expect("address");
        let config = TipConfig::SendTip { address, kind: TipKind::Const(105) };
        let json = serde_json::json!({"send_tip": {"address": address.to_string(), "kind": {"const": 105}}});
        assert_eq!(serde_json::to_value(&config).expect("JSON"), json);
        assert_eq!(serde_json::to_value(TipConfig::NoTip).expect("JSON"), "no_tip");
        let linear: TipKind =
            serde_json::from_str(r#"{"linear": {"base": 101, "encoded_size_mul_per_kib": 42}}"#)
                .expect("parses");
        let params = EncodingParams::new(1000).expect("params");
        let kib = params.encoded_blob_length(1 << 20).expect("fits").div_ceil(1024);
        assert_eq!(linear.tip(params, 1 << 20), Some(101 + 42 * kib));
    }

    #[test]
    fn relay_queries_parse_and_refuse_what_is_wrong() {
        let blob_id = BlobId([3; 32]);
        let params = RelayParams {
            blob_id,
            tx_id: Some(TxDigest([13; 32])),
            nonce: Some([23; 32]),
            deletable_blob_object: Some(ObjectId([42; 32])),
        };
        assert_eq!(params.to_query().parse(), Ok(params.clone()));
        let bad_nonce = RelayQuery { nonce: Some("AAAA".into()), ..params.to_query() };
        assert!(bad_nonce.parse().expect_err("a short nonce").contains("nonce"));
        let bad_encoding = RelayQuery { encoding_type: Some("RS".into()), ..params.to_query() };
        assert!(bad_encoding.parse().expect_err("not RS2").contains("RS2"));
        let package = HashedAuthPackage::new([1; 32], &[2; 32], 7);
        assert_eq!(package.to_bytes().len(), 72);
        assert_eq!(HashedAuthPackage::from_bytes(&package.to_bytes()), Some(package));
        assert_eq!(HashedAuthPackage::from_bytes(&package.to_bytes()[..71]), None);
    }
}
