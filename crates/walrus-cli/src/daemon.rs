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
    #[arg(long, alias = "bind-address", default_value = "127.0.0.1:31415")]
    bind: SocketAddr,
    /// Where to serve Prometheus metrics (`GET /metrics`) [default: nowhere; the reference
    /// serves them on 127.0.0.1:27182].
    #[arg(short = 'a', long)]
    metrics_address: Option<SocketAddr>,
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
    /// Stores at once (`--max-concurrent-requests`, the reference's name).
    #[arg(long, alias = "max-concurrent-requests", default_value_t = 8)]
    max_concurrent_stores: usize,
    /// Stores waiting for a turn beyond those; more are answered 429.
    #[arg(long, default_value_t = 8)]
    max_buffer_size: usize,
    /// Reads at once (the aggregator).
    #[arg(long, default_value_t = 256)]
    aggregator_max_concurrent_requests: usize,
    /// Reads waiting for a turn beyond those; more are answered 429.
    #[arg(long, default_value_t = 320)]
    aggregator_max_buffer_size: usize,
    /// Blob attributes that `by-object-id` reads return as response headers.
    #[arg(long, num_args = 1.., default_values_t = walrus_gateway::GatewayConfig::new(([127, 0, 0, 1], 0).into()).allowed_headers)]
    allowed_headers: Vec<String>,
    #[command(flatten)]
    wallets: SubWalletArgs,
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
    /// How often the remembered IDs of expired tokens are let go (`5s`, `1m`).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    jwt_cache_refresh_interval: std::time::Duration,
    #[command(flatten)]
    account: Account,
}

/// The publisher's sub-wallets (the reference's flags).
#[derive(Debug, clap::Args)]
pub struct SubWalletArgs {
    /// Keep the sub-wallets' keys here (made on first use): stores then run from `--n-clients`
    /// accounts at once, funded by the wallet, which receives the blob objects [default: the
    /// wallet stores, one transaction at a time].
    #[arg(long)]
    sub_wallets_dir: Option<std::path::PathBuf>,
    /// Sub-wallets.
    #[arg(long, default_value_t = 8)]
    n_clients: usize,
    /// How often the sub-wallets' balances are looked at (`500ms`, `1s`, `2m`).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    refill_interval: std::time::Duration,
    /// What a sub-wallet below `--sub-wallets-min-balance` is sent, in FROST.
    #[arg(long, default_value_t = 500_000_000)]
    wal_refill_amount: u64,
    /// The balance under which a sub-wallet is refilled, in FROST.
    #[arg(long, default_value_t = 500_000_000)]
    sub_wallets_min_balance: u64,
    /// The reference's SUI refill: this chain has no gas coin (fees are WAL), so it is unused.
    #[arg(long, hide = true)]
    gas_refill_amount: Option<u64>,
    /// Burn the blob objects that stores create (unless `send_object_to` names a receiver):
    /// the blobs stay stored until they expire, but nobody can delete or extend them.
    #[arg(long)]
    burn_after_store: bool,
    /// The reference's deprecated `--keep` (objects are kept by default): no effect.
    #[arg(long, hide = true)]
    keep: bool,
}

impl SubWalletArgs {
    /// Opens (or makes) the sub-wallets' keys in `dir`.
    fn open(&self, dir: &std::path::Path, chain_url: &str) -> Result<walrus_gateway::wallets::SubWallets> {
        use walrus_chain_node::init::{random_seed, read_ed25519, write_secret};
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--sub-wallets-dir {}: {e}", dir.display()))?;
        let mut clients = Vec::with_capacity(self.n_clients);
        for i in 0..self.n_clients {
            let path = dir.join(format!("sub-wallet-{i}.key"));
            if !path.exists() {
                write_secret(&path, &random_seed()?)?;
            }
            clients.push(Client::new(chain_url, read_ed25519(&path)?));
        }
        Ok(walrus_gateway::wallets::SubWallets {
            clients,
            refill_interval: self.refill_interval,
            refill_amount: self.wal_refill_amount,
            min_balance: self.sub_wallets_min_balance,
        })
    }
}

/// A duration: a number with `ms`, `s`, `m` or `h` (seconds without one).
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 1s or 500ms"))?;
    let ms = match unit.trim() {
        "ms" => number,
        "" | "s" => number.saturating_mul(1000),
        "m" => number.saturating_mul(60_000),
        "h" => number.saturating_mul(3_600_000),
        _ => return Err(format!("{text:?}: the unit is ms, s, m or h")),
    };
    Ok(std::time::Duration::from_millis(ms))
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
    jwt.cache_refresh = args.jwt_cache_refresh_interval;
    Ok(Some(jwt))
}

/// Runs the gateway until interrupted.
pub fn run(args: DaemonArgs, global: &GlobalArgs, role: Role) -> Result<()> {
    let network = args.account.resolve(global)?;
    let writer = match role {
        Role::Aggregator => None,
        Role::Publisher | Role::Daemon => Some(Client::new(&network.chain_url, network.key()?)),
    };
    let sub_wallets = match (&writer, &args.wallets.sub_wallets_dir) {
        (Some(_), Some(dir)) => Some(args.wallets.open(dir, &network.chain_url)?),
        _ => None,
    };
    let mut config = GatewayConfig::new(args.bind);
    config.max_body_bytes =
        args.max_body_size.checked_mul(1024).ok_or_else(|| anyhow::anyhow!("--max-body-size too large"))?;
    config.max_quilt_body_bytes = args
        .max_quilt_body_size
        .checked_mul(1024)
        .ok_or_else(|| anyhow::anyhow!("--max-quilt-body-size too large"))?;
    config.max_concurrent_stores = args.max_concurrent_stores.max(1);
    config.store_queue = args.max_buffer_size;
    config.max_concurrent_reads =
        args.aggregator_max_concurrent_requests.max(1).saturating_add(args.aggregator_max_buffer_size);
    config.allowed_headers = args.allowed_headers.iter().map(|h| h.to_ascii_lowercase()).collect();
    config.burn_after_store = args.wallets.burn_after_store;
    config.metrics_bind = args.metrics_address;
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
    config.sub_wallets = sub_wallets;
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
