//! `walrus aggregator`, `walrus publisher` and `walrus daemon` (both): the HTTP gateway.

use std::net::SocketAddr;

use anyhow::Result;
use walrus_gateway::{start, GatewayConfig};
use walrus_sdk::Client;

use crate::wallet::Account;
use crate::GlobalArgs;

/// Which endpoints to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads.
    Aggregator,
    /// Stores.
    Publisher,
    /// Both.
    Daemon,
}

/// `walrus aggregator|publisher|daemon`
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Where to listen (the reference's default).
    #[arg(long, default_value = "127.0.0.1:31415")]
    bind: SocketAddr,
    /// Largest blob a publisher takes, in KiB (the reference's default: 10 MiB).
    #[arg(long, default_value_t = 10_240)]
    max_body_size: usize,
    /// Largest quilt form (`PUT /v1/quilts`) a publisher takes, in KiB (the reference's
    /// default: 100 MiB).
    #[arg(long, default_value_t = 102_400)]
    max_quilt_body_size: usize,
    /// A YAML list of blob IDs neither read nor stored (451), re-read when the file changes.
    #[arg(long)]
    blocklist: Option<std::path::PathBuf>,
    /// Largest blob the aggregator serves, in bytes (larger: 403); give a larger value to serve
    /// larger blobs (the reference has no limit).
    #[arg(long, default_value_t = walrus_gateway::MAX_BLOB_SIZE_DEFAULT)]
    max_blob_size: u64,
    /// Most bytes the aggregator's reads in flight may hold, in MiB (a buffered read takes twice
    /// its length, a streamed one four pieces; beyond it, 429).
    #[arg(long, default_value_t = 1024)]
    max_read_memory: usize,
    /// Stores at once (more wait, up to the same number again; beyond that, 429).
    #[arg(long, default_value_t = 8)]
    max_concurrent_stores: usize,
    /// Require stores to carry a JWT (`Authorization: Bearer`) verified with this key, hex after
    /// `0x`, else the text's bytes: the HMAC secret (HS*), the 32-byte Ed25519 public key
    /// (EdDSA), the uncompressed point `04 || x || y` (ES256, ES384), or a PKCS#1 RSAPublicKey
    /// DER (RS*, PS*), as the reference reads it.
    #[arg(long, env = "WALRUS_JWT_DECODE_SECRET")]
    jwt_decode_secret: Option<String>,
    /// The tokens' algorithm: HS256 (default), HS384, HS512, EdDSA, ES256, ES384, RS256, RS384,
    /// RS512, PS256, PS384 or PS512.
    #[arg(long, default_value = "HS256", value_parser = clap::value_parser!(walrus_gateway::auth::JwtAlgorithm))]
    jwt_algorithm: walrus_gateway::auth::JwtAlgorithm,
    /// Tokens must carry `iat`, and `exp - iat` must equal this many seconds (0: no such check).
    /// Without `--jwt-decode-secret`, tokens are required but their signatures are not checked,
    /// as in the reference.
    #[arg(long, default_value_t = 0)]
    jwt_expiring_sec: u64,
    /// Check each store against the token's `epochs`/`max_epochs`, `size`/`max_size` and
    /// `send_object_to` claims. Without `--jwt-decode-secret`, tokens are required but their
    /// signatures are not checked, as in the reference.
    #[arg(long)]
    jwt_verify_upload: bool,
    /// Most unexpired token IDs (`jti`) remembered against replay; while it is full, new
    /// tokens are refused (429) until some expire.
    #[arg(long, default_value_t = 100_000)]
    jwt_cache_size: usize,
    #[command(flatten)]
    account: Account,
}

/// The publisher's authentication, enabled as the reference enables it: by a key, an expiring
/// time or `--jwt-verify-upload`.
fn jwt_config(args: &DaemonArgs) -> Result<Option<walrus_gateway::auth::JwtConfig>> {
    use walrus_gateway::auth::JwtConfig;
    let mut jwt = match &args.jwt_decode_secret {
        Some(secret) => JwtConfig::from_secret_text(args.jwt_algorithm, secret)
            .map_err(|e| anyhow::anyhow!("--jwt-decode-secret: {e}"))?,
        None if args.jwt_expiring_sec > 0 || args.jwt_verify_upload => {
            eprintln!("warning: no --jwt-decode-secret: JWT signatures are not checked, only their claims");
            JwtConfig::without_key()
        }
        None => return Ok(None),
    };
    jwt.verify_upload = args.jwt_verify_upload;
    jwt.expiring_secs = (args.jwt_expiring_sec > 0).then_some(args.jwt_expiring_sec);
    if args.jwt_cache_size == 0 {
        anyhow::bail!("--jwt-cache-size must be at least 1");
    }
    jwt.replay_cache_max = args.jwt_cache_size;
    Ok(Some(jwt))
}

/// Runs the gateway until interrupted.
pub fn run(args: DaemonArgs, global: &GlobalArgs, role: Role) -> Result<()> {
    let network = args.account.resolve(global)?;
    let writer = match role {
        Role::Aggregator => None,
        Role::Publisher | Role::Daemon => Some(Client::new(&network.chain_url, network.key()?)),
    };
    let mut config = GatewayConfig::new(args.bind);
    config.max_body_bytes =
        args.max_body_size.checked_mul(1024).ok_or_else(|| anyhow::anyhow!("--max-body-size too large"))?;
    config.max_quilt_body_bytes = args
        .max_quilt_body_size
        .checked_mul(1024)
        .ok_or_else(|| anyhow::anyhow!("--max-quilt-body-size too large"))?;
    config.max_concurrent_stores = args.max_concurrent_stores.max(1);
    config.store_queue = config.max_concurrent_stores;
    config.serve_reads = role != Role::Publisher;
    config.max_blob_size = args.max_blob_size;
    config.max_read_bytes = args
        .max_read_memory
        .checked_mul(1 << 20)
        .ok_or_else(|| anyhow::anyhow!("--max-read-memory too large"))?;
    config.blocklist = args
        .blocklist
        .as_ref()
        .map(walrus_sdk::Blocklist::load)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--blocklist: {e}"))?;
    config.jwt = jwt_config(&args)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let gateway = start(config, &network.chain_url, writer).await?;
        eprintln!("{role:?} on http://{} (chain {}); Ctrl-C to stop", gateway.addr, network.chain_url);
        Ok(gateway.run_until(crate::chain::shutdown_signal()).await?)
    })
}

/// `walrus upload-relay`
#[derive(Debug, clap::Args)]
pub struct RelayArgs {
    /// Where to listen (the reference's default).
    #[arg(long, alias = "server-address", default_value = walrus_sdk::relay::RELAY_ADDRESS_DEFAULT)]
    bind: SocketAddr,
    /// The relay's settings, YAML as the reference's `walrus_upload_relay_config.yaml`:
    /// `tip_config` (`no_tip`, or `send_tip: {address, kind: {const: FROST}}` or
    /// `kind: {linear: {base, encoded_size_mul_per_kib}}`), `tx_freshness_threshold_secs`,
    /// `tx_max_future_threshold_secs` [default: no tip].
    #[arg(long)]
    relay_config: Option<std::path::PathBuf>,
    /// Largest blob relayed (bytes, or with a KiB / MiB / GiB suffix).
    #[arg(long, default_value = "1GiB", value_parser = crate::bench::parse_size)]
    max_body_size: u64,
    /// Uploads at once; more are answered 429.
    #[arg(long, default_value_t = 4)]
    max_concurrent_uploads: usize,
    /// The memory each upload's encoding may use (a larger blob is encoded streaming).
    #[arg(long, default_value = "256MiB", value_parser = crate::bench::parse_size)]
    memory_budget: u64,
    /// Where request bodies and scratch files go (about 3.5 times each blob) [default: the
    /// temporary directory].
    #[arg(long)]
    scratch_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    account: Account,
}

/// Runs an upload relay until interrupted.
pub fn run_relay(args: RelayArgs, global: &GlobalArgs) -> Result<()> {
    use walrus_gateway::relay::{start_relay, RelayConfig, RelaySettings};
    let network = args.account.resolve(global)?;
    let settings: RelaySettings = match &args.relay_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--relay-config {}: {e}", path.display()))?;
            serde_yaml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("--relay-config {}: {e}", path.display()))?
        }
        None => RelaySettings::default(),
    };
    let mut config = RelayConfig::new(args.bind, settings);
    config.max_body_bytes = args.max_body_size;
    config.max_concurrent_uploads = args.max_concurrent_uploads.max(1);
    config.memory_budget = usize::try_from(args.memory_budget).unwrap_or(usize::MAX);
    config.scratch_dir = args.scratch_dir;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let relay = start_relay(config, &network.chain_url).await?;
        eprintln!("upload relay on http://{} (chain {}); Ctrl-C to stop", relay.addr, network.chain_url);
        Ok(relay.run_until(crate::chain::shutdown_signal()).await?)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use walrus_gateway::auth::JwtAlgorithm;

    use super::*;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        daemon: DaemonArgs,
    }

    fn jwt(args: &[&str]) -> Result<Option<walrus_gateway::auth::JwtConfig>> {
        let args = Args::try_parse_from(std::iter::once("publisher").chain(args.iter().copied()))?;
        jwt_config(&args.daemon)
    }

    #[test]
    fn authentication_is_enabled_as_the_reference_enables_it() {
        assert!(jwt(&[]).expect("parsed").is_none());
        let keyed = jwt(&["--jwt-decode-secret", "0x0102", "--jwt-algorithm", "HS512"]).expect("parsed");
        let keyed = keyed.expect("enabled");
        assert_eq!(
            (keyed.algorithm, keyed.key, keyed.verify_upload),
            (JwtAlgorithm::Hs512, Some(vec![1, 2]), false)
        );
        let unkeyed =
            jwt(&["--jwt-verify-upload", "--jwt-cache-size", "10"]).expect("parsed").expect("enabled");
        assert_eq!((unkeyed.key, unkeyed.verify_upload, unkeyed.replay_cache_max), (None, true, 10));
        let expiring = jwt(&["--jwt-expiring-sec", "300"]).expect("parsed").expect("enabled");
        assert_eq!((expiring.key, expiring.expiring_secs), (None, Some(300)));
        let wrong = jwt(&["--jwt-decode-secret", "0x0102", "--jwt-algorithm", "ES256"]).expect_err("refused");
        assert!(
            wrong.to_string().contains("--jwt-decode-secret: an ES256 key is the uncompressed point"),
            "{wrong}"
        );
        assert!(jwt(&["--jwt-algorithm", "none"]).is_err());
        assert!(jwt(&["--jwt-verify-upload", "--jwt-cache-size", "0"]).is_err());
    }
}
