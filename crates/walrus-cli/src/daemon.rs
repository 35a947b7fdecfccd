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
    /// Stores at once (more wait, up to the same number again; beyond that, 429).
    #[arg(long, default_value_t = 8)]
    max_concurrent_stores: usize,
    /// Require stores to carry a JWT (`Authorization: Bearer`) verified with this key: the
    /// HMAC secret, or for EdDSA the Ed25519 public key; hex after `0x`, else the text's bytes.
    #[arg(long, env = "WALRUS_JWT_DECODE_SECRET")]
    jwt_decode_secret: Option<String>,
    /// The tokens' algorithm: HS256 (default), HS384, HS512 or EdDSA.
    #[arg(long, default_value = "HS256", value_parser = clap::value_parser!(walrus_gateway::auth::JwtAlgorithm))]
    jwt_algorithm: walrus_gateway::auth::JwtAlgorithm,
    /// Tokens must carry `iat`, and `exp - iat` must equal this many seconds.
    #[arg(long)]
    jwt_expiring_sec: Option<u64>,
    /// Check each store against the token's `epochs`/`max_epochs`, `size`/`max_size` and
    /// `send_object_to` claims.
    #[arg(long)]
    jwt_verify_upload: bool,
    #[command(flatten)]
    account: Account,
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
    config.max_concurrent_stores = args.max_concurrent_stores.max(1);
    config.store_queue = config.max_concurrent_stores;
    config.serve_reads = role != Role::Publisher;
    config.jwt = args
        .jwt_decode_secret
        .map(|secret| -> Result<_> {
            let mut jwt = walrus_gateway::auth::JwtConfig::from_secret_text(args.jwt_algorithm, &secret)
                .map_err(anyhow::Error::msg)?;
            jwt.verify_upload = args.jwt_verify_upload;
            jwt.expiring_secs = args.jwt_expiring_sec.filter(|secs| *secs > 0);
            Ok(jwt)
        })
        .transpose()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let gateway = start(config, &network.chain_url, writer).await?;
        eprintln!("{role:?} on http://{} (chain {}); Ctrl-C to stop", gateway.addr, network.chain_url);
        gateway.run_until(crate::chain::shutdown_signal()).await
    })
}
