//! `walrus wallet new|address|balance|transfer|faucet`: an ed25519 account on the chain.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use walrus_chain::amount::FROST_PER_WAL;
use walrus_chain::{Call, Frost};
use walrus_chain_client::ChainClient;
use walrus_chain_node::init::{random_seed, read_ed25519, wal, write_secret};
use walrus_core::keys::{Address, Ed25519KeyPair};

use crate::config::{default_wallet, ClientConfig, DEFAULT_CHAIN_URL};
use crate::GlobalArgs;

/// Where the chain RPC is, and which key file to use (wallet, store and read commands); what
/// these leave open comes from the configuration file (`crate::config`).
#[derive(Debug, clap::Args)]
pub struct Account {
    /// The wallet's key file [default: from the configuration, else ~/.walrus/wallet.key].
    #[arg(long, global = true, env = "WALRUS_WALLET")]
    pub wallet: Option<PathBuf>,
    /// The chain RPC (`--rpc-url` too, the reference's name) [default: from the configuration,
    /// else http://127.0.0.1:9184].
    #[arg(long, global = true, env = "WALRUS_CHAIN_URL", alias = "rpc-url")]
    pub chain_url: Option<String>,
}

/// Where the chain RPC is, for the commands that pay nothing (no wallet to name).
#[derive(Debug, clap::Args)]
pub struct ChainArg {
    /// The chain RPC (`--rpc-url` too, the reference's name) [default: from the configuration,
    /// else http://127.0.0.1:9184].
    #[arg(long, global = true, env = "WALRUS_CHAIN_URL", alias = "rpc-url")]
    pub chain_url: Option<String>,
    /// A wallet, which these commands do not use: taken (as the reference's global `--wallet`)
    /// so that a script's common flags work everywhere, but not shown.
    #[arg(long = "wallet", global = true, hide = true)]
    _wallet: Option<PathBuf>,
}

impl ChainArg {
    /// The chain RPC: the flag (before or after the subcommand), else the configuration's,
    /// else the default.
    pub fn resolve(&self, global: &GlobalArgs) -> Result<String> {
        Ok(Account { wallet: None, chain_url: self.chain_url.clone() }.resolve(global)?.chain_url)
    }
}

/// An [`Account`] with the configuration applied.
#[derive(Debug, Clone)]
pub struct Network {
    /// The chain RPC.
    pub chain_url: String,
    /// The wallet's key file.
    pub wallet: PathBuf,
}

impl Account {
    /// Flags (and their variables) first, then the configuration file, then the defaults.
    pub fn resolve(&self, global: &GlobalArgs) -> Result<Network> {
        let config = ClientConfig::find(global.config.as_deref(), global.context.as_deref())?;
        // Given before the subcommand or after it: the same flag (the one after it wins).
        let chain_url = self.chain_url.clone().or_else(|| global.chain_url.clone());
        let wallet = self.wallet.clone().or_else(|| global.wallet.clone());
        Ok(Network {
            chain_url: chain_url.or(config.chain_url).unwrap_or_else(|| DEFAULT_CHAIN_URL.to_string()),
            wallet: wallet.or(config.wallet).unwrap_or_else(default_wallet),
        })
    }
}

impl Account {
    /// A client paying with the wallet, and a runtime to drive it.
    pub fn client(&self, global: &GlobalArgs) -> Result<(walrus_sdk::Client, tokio::runtime::Runtime)> {
        let network = self.resolve(global)?;
        Ok((walrus_sdk::Client::new(&network.chain_url, network.key()?), tokio::runtime::Runtime::new()?))
    }
}

impl Network {
    /// The wallet's key.
    pub fn key(&self) -> Result<Ed25519KeyPair> {
        if !self.wallet.exists() {
            anyhow::bail!("no wallet at {}; create one with `walrus wallet new`", self.wallet.display());
        }
        read_ed25519(&self.wallet)
            .with_context(|| format!("cannot read the wallet at {}", self.wallet.display()))
    }
}

/// `walrus wallet ...`
#[derive(Debug, clap::Args)]
pub struct WalletArgs {
    #[command(flatten)]
    account: Account,
    #[command(subcommand)]
    command: WalletCommand,
}

/// The wallet subcommands.
#[derive(Debug, clap::Subcommand)]
enum WalletCommand {
    /// Create a new key file.
    New,
    /// Print the wallet's address.
    Address,
    /// Print the balance of the wallet (or of `--address`).
    Balance {
        /// Another account to look at.
        #[arg(long)]
        address: Option<Address>,
    },
    /// Send WAL to another account.
    Transfer {
        /// The recipient.
        to: Address,
        /// Amount in WAL (up to 9 decimals).
        amount: String,
    },
    /// Ask a local network's faucet for WAL.
    Faucet {
        /// Amount in WAL.
        #[arg(long, default_value = "100")]
        amount: String,
    },
}

/// Parses a WAL amount with up to 9 decimals into FROST.
pub fn parse_wal(text: &str) -> Result<Frost> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty()
        || !digits_ok(whole)
        || !digits_ok(fraction)
        || fraction.len() > 9
    {
        bail!("{text:?} is not an amount of WAL (for example 12 or 0.5)");
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().context("amount too large")? };
    let fraction: u64 = format!("{fraction:0<9}").parse().context("bad decimals")?;
    let frost =
        whole.checked_mul(FROST_PER_WAL).and_then(|w| w.checked_add(fraction)).context("amount too large")?;
    Ok(Frost(frost))
}

/// Runs a `walrus wallet` command.
pub fn run(args: WalletArgs, global: &GlobalArgs) -> Result<()> {
    let json = global.json;
    let network = args.account.resolve(global)?;
    if let WalletCommand::New = args.command {
        let seed = random_seed()?;
        let wallet = &network.wallet;
        write_secret(wallet, &seed)?;
        let address = Ed25519KeyPair::from_seed(&seed).address();
        print(json, serde_json::json!({ "address": address, "wallet": wallet }), || {
            format!("Created wallet {} with address {address}", wallet.display())
        });
        return Ok(());
    }
    let key = network.key()?;
    let client = ChainClient::new(&network.chain_url);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match args.command {
            WalletCommand::New => unreachable!("handled above"),
            WalletCommand::Address => {
                let address = key.address();
                print(json, serde_json::json!({ "address": address }), || address.to_string());
            }
            WalletCommand::Balance { address } => {
                let address = address.unwrap_or_else(|| key.address());
                let view = client.account(&address).await?;
                let balance = view.account.balance;
                print(json, serde_json::json!({ "address": address, "balanceFrost": balance.0 }), || {
                    format!("{address}: {}", wal(balance))
                });
            }
            WalletCommand::Transfer { to, amount } => {
                let amount = parse_wal(&amount)?;
                let executed = client.execute(&key, Call::Transfer { to, amount }).await?;
                let digest = executed.effects.digest;
                print(json, serde_json::json!({ "digest": digest, "height": executed.height }), || {
                    format!(
                        "Sent {} to {to} in transaction {digest} (block {})",
                        wal(amount),
                        executed.height
                    )
                });
            }
            WalletCommand::Faucet { amount } => {
                let amount = parse_wal(&amount)?;
                let executed = client.faucet(key.address(), amount.0).await?;
                print(
                    json,
                    serde_json::json!({ "digest": executed.effects.digest, "amountFrost": amount.0 }),
                    || format!("Received {} from the faucet", wal(amount)),
                );
            }
        }
        Ok(())
    })
}

/// `walrus get-wal`
#[derive(Debug, clap::Args)]
pub struct GetWalArgs {
    /// FROST to get (the reference's default: 0.5 WAL).
    #[arg(long, default_value_t = 500_000_000)]
    amount: u64,
    /// The reference's SUI-for-WAL exchange: this chain has none (WAL comes from the faucet of a
    /// local network), so it is not used.
    #[arg(long, hide = true)]
    exchange_id: Option<String>,
    #[command(flatten)]
    account: Account,
}

/// Gets WAL for the wallet: the reference swaps SUI for it on Testnet; here a local network's
/// faucet sends it.
pub fn get_wal(args: GetWalArgs, global: &GlobalArgs) -> Result<()> {
    let network = args.account.resolve(global)?;
    let key = network.key()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let sent = runtime.block_on(ChainClient::new(&network.chain_url).faucet(key.address(), args.amount));
    let executed = sent.map_err(|e| match e {
        walrus_chain_client::ClientError::Api { status: 404, .. } => anyhow::anyhow!(
            "the chain at {} has no faucet (only local networks do): get WAL from another account (`walrus wallet transfer`)",
            network.chain_url
        ),
        other => other.into(),
    })?;
    let amount = Frost(args.amount);
    print(
        global.json,
        serde_json::json!({ "amount": args.amount, "digest": executed.effects.digest }),
        || format!("Received {} from the faucet", wal(amount)),
    );
    Ok(())
}

/// Prints `value` as JSON, or `text()` for people.
pub fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_amounts_parse_to_frost() {
        assert_eq!(parse_wal("1").expect("valid"), Frost(FROST_PER_WAL));
        assert_eq!(parse_wal("0.5").expect("valid"), Frost(FROST_PER_WAL / 2));
        assert_eq!(parse_wal(".000000001").expect("valid"), Frost(1));
        assert_eq!(parse_wal("12.25").expect("valid"), Frost(12_250_000_000));
        for bad in ["", ".", "1.0000000001", "-1", "1e9", "abc", "99999999999999999999"] {
            assert!(parse_wal(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
