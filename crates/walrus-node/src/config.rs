//! The node's configuration file (`node.yaml`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a configuration file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read or written.
    #[error("node config {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("node config {} is invalid: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_yaml::Error,
    },
}

/// Largest request body: a sliver of the largest blob at the smallest shard count, plus room.
pub const BODY_BYTES_MAX_DEFAULT: usize = 64 << 20;

/// How to run one storage node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// A name for logs and health.
    pub name: String,
    /// The node's database directory.
    pub storage_path: PathBuf,
    /// Where the REST API listens.
    pub rest_listen: SocketAddr,
    /// The chain RPC.
    pub chain_url: String,
    /// The BLS key file (protocol key: confirmations, certificates).
    pub bls_key: PathBuf,
    /// The operator's ed25519 key file (chain transactions on the node's behalf).
    pub owner_key: PathBuf,
    /// The network key file (secp256r1, PEM PKCS#8): the key of the REST API's TLS
    /// certificate, registered on chain; clients accept no other.
    #[serde(default = "network_key_default")]
    pub network_key: PathBuf,
    /// A certificate chain in PEM (leaf first) for the network key, issued by a CA, to serve
    /// instead of the self-signed certificate (clients and peers still pin the key; browsers
    /// and `curl` then check the chain as usual). None: self-signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_certificate: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS: allowed only on a loopback address (a localnet whose
    /// nodes registered `http://` addresses).
    #[serde(default)]
    pub plain_http: bool,
    /// Largest request body in bytes.
    #[serde(default = "body_bytes_max_default")]
    pub body_bytes_max: usize,
    /// Most uploads handled at once.
    #[serde(default = "concurrent_uploads_max_default")]
    pub concurrent_uploads_max: usize,
    /// How long to wait after a certification before recovering missing slivers, so that
    /// the uploader's last writes can land first (the reference waits 15 s or more).
    #[serde(default = "recovery_delay_ms_default")]
    pub recovery_delay_ms: u64,
    /// Most blobs recovered at once.
    #[serde(default = "concurrent_recoveries_max_default")]
    pub concurrent_recoveries_max: usize,
    /// Most bytes of request bodies being received at once (uploads take their declared size
    /// before the body is read; beyond it, 503).
    #[serde(default = "upload_bytes_max_default")]
    pub upload_bytes_max: usize,
    /// Most bytes that responses being built or streamed (batch reads, recovery symbols) may
    /// hold at once (beyond it, 503).
    #[serde(default = "response_bytes_max_default")]
    pub response_bytes_max: usize,
    /// Most recovery-symbol requests computed at once (each expands the slivers it cuts
    /// symbols from); the others wait their turn.
    #[serde(default = "concurrent_symbol_requests_max_default")]
    pub concurrent_symbol_requests_max: usize,
    /// The REST server's connection and timeout limits.
    #[serde(default)]
    pub server: walrus_http::ServerLimits,
    /// Whether the node refuses slivers while a storage challenge runs (docs/challenges.md).
    /// Only to show what the freeze prevents: a node without it serves the drawn blobs to a
    /// cheater that rebuilds what it lost on demand. Never turn it off in a real network.
    #[serde(default = "challenge_freeze_default")]
    pub challenge_freeze: bool,
}

fn challenge_freeze_default() -> bool {
    true
}

fn body_bytes_max_default() -> usize {
    BODY_BYTES_MAX_DEFAULT
}

fn concurrent_uploads_max_default() -> usize {
    256
}

fn recovery_delay_ms_default() -> u64 {
    2_000
}

fn concurrent_recoveries_max_default() -> usize {
    8
}

fn upload_bytes_max_default() -> usize {
    256 << 20
}

fn response_bytes_max_default() -> usize {
    128 << 20
}

fn network_key_default() -> PathBuf {
    "network.key".into()
}

fn concurrent_symbol_requests_max_default() -> usize {
    2
}

impl NodeConfig {
    /// A configuration with the default limits.
    pub fn new(
        name: String,
        storage_path: PathBuf,
        rest_listen: SocketAddr,
        chain_url: String,
    ) -> NodeConfig {
        NodeConfig {
            name,
            storage_path,
            rest_listen,
            chain_url,
            bls_key: "bls.key".into(),
            owner_key: "owner.key".into(),
            network_key: network_key_default(),
            tls_certificate: None,
            plain_http: false,
            body_bytes_max: body_bytes_max_default(),
            concurrent_uploads_max: concurrent_uploads_max_default(),
            recovery_delay_ms: recovery_delay_ms_default(),
            concurrent_recoveries_max: concurrent_recoveries_max_default(),
            upload_bytes_max: upload_bytes_max_default(),
            response_bytes_max: response_bytes_max_default(),
            concurrent_symbol_requests_max: concurrent_symbol_requests_max_default(),
            server: walrus_http::ServerLimits::default(),
            challenge_freeze: challenge_freeze_default(),
        }
    }

    /// Reads a configuration file; relative paths in it are relative to the file's directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        let mut config: NodeConfig = serde_yaml::from_str(&text)
            .map_err(|source| ConfigError::Invalid { path: path.to_path_buf(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in
            [&mut config.storage_path, &mut config.bls_key, &mut config.owner_key, &mut config.network_key]
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(config)
    }

    /// Writes the configuration as YAML.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = serde_yaml::to_string(self)
            .map_err(|source| ConfigError::Invalid { path: path.to_path_buf(), source })?;
        std::fs::write(path, text).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })
    }
}
