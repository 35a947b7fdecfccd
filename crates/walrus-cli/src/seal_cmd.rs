//! `walrus key-server`, `walrus policy` and `walrus seal`: run a Seal key server, manage access
//! policies on chain, and encrypt, fetch keys for and decrypt Seal objects (docs/access-control.md).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;
use walrus_chain::access::{key_server_object_id, PolicyKind};
use walrus_chain::objects::ObjectBody;
use walrus_chain::{Call, Frost};
use walrus_chain_client::check_success;
use walrus_core::keys::Address;
use walrus_core::ObjectId;
use walrus_sdk::Client;
use walrus_seal::bls::Scalar;
use walrus_seal::{ibe, EncryptedObject};

use crate::wallet::{print, Account};
use crate::GlobalArgs;

/// `walrus key-server …`
#[derive(Debug, clap::Subcommand)]
pub enum KeyServerCommand {
    /// Make a master key and a configuration in DIR, and register the server on chain (paid and
    /// operated by the wallet).
    Init(InitArgs),
    /// Run a key server from its configuration.
    Run {
        /// The configuration file (`key-server.yaml`).
        #[arg(long)]
        config: PathBuf,
    },
}

/// `walrus key-server init`
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where the master key and the configuration go.
    #[arg(long)]
    pub dir: PathBuf,
    /// Where it listens.
    #[arg(long, default_value = "127.0.0.1:9300")]
    pub listen: std::net::SocketAddr,
    /// The URL clients use [default: http:// and the listen address].
    #[arg(long)]
    pub url: Option<String>,
    /// Its name on chain.
    #[arg(long, default_value = "key-server")]
    pub name: String,
    #[command(flatten)]
    pub account: Account,
}

/// A key server's configuration file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyServerFile {
    /// Where it listens.
    pub listen: std::net::SocketAddr,
    /// The chain RPC.
    pub chain_url: String,
    /// The master key file (relative to the configuration's directory).
    pub master_key: PathBuf,
    /// Its object ID on chain.
    pub object_id: ObjectId,
    /// Its URL.
    pub url: String,
}

/// `walrus policy …`
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Create a policy: `private`, `allowlist`, `timelock --unlock RFC3339`, or `subscription
    /// --price WAL --epochs N`.
    Create {
        /// `private`, `allowlist`, `timelock` or `subscription`.
        kind: String,
        /// When a time-lock opens (RFC 3339, UTC: `2026-12-31T23:59:59Z`).
        #[arg(long)]
        unlock: Option<String>,
        /// A subscription's price, in WAL.
        #[arg(long)]
        price: Option<u64>,
        /// Epochs a subscription lasts.
        #[arg(long)]
        epochs: Option<u32>,
        #[command(flatten)]
        account: Account,
    },
    /// Allowlists: `create`, `add ID ADDRESS...`, `remove ID ADDRESS...`.
    #[command(subcommand)]
    Allowlist(AllowlistCommand),
    /// Subscriptions for sale: `create --price WAL --epochs N`.
    #[command(subcommand)]
    Subscription(SubscriptionCommand),
    /// Buy a subscription to a subscription policy.
    Subscribe {
        /// The policy.
        policy: ObjectId,
        #[command(flatten)]
        account: Account,
    },
    /// Show a policy.
    Show {
        /// The policy.
        policy: ObjectId,
        #[command(flatten)]
        account: Account,
    },
}

/// `walrus policy allowlist …`
#[derive(Debug, clap::Subcommand)]
pub enum AllowlistCommand {
    /// Create an empty allowlist owned by the wallet.
    Create {
        #[command(flatten)]
        account: Account,
    },
    /// Add addresses.
    Add {
        /// The policy.
        policy: ObjectId,
        /// The addresses.
        #[arg(required = true)]
        addresses: Vec<Address>,
        #[command(flatten)]
        account: Account,
    },
    /// Remove addresses: they cannot fetch keys anymore.
    Remove {
        /// The policy.
        policy: ObjectId,
        /// The addresses.
        #[arg(required = true)]
        addresses: Vec<Address>,
        #[command(flatten)]
        account: Account,
    },
}

/// `walrus policy subscription …`
#[derive(Debug, clap::Subcommand)]
pub enum SubscriptionCommand {
    /// Sell access: a subscription costs `--price` WAL (paid to the wallet) for `--epochs`.
    Create {
        /// The price, in WAL.
        #[arg(long)]
        price: u64,
        /// Epochs a subscription lasts.
        #[arg(long)]
        epochs: u32,
        #[command(flatten)]
        account: Account,
    },
}

/// `walrus seal …`
#[derive(Debug, clap::Subcommand)]
pub enum SealCommand {
    /// The registered key servers: object IDs, public keys (hex), URLs.
    KeyServers {
        #[command(flatten)]
        account: Account,
    },
    /// The verified user secret key of each key server for a Seal object's identity (hex), for
    /// any Seal-compatible decryptor.
    FetchKeys {
        /// A stored blob holding the object.
        #[arg(long, conflicts_with = "file")]
        blob_id: Option<walrus_core::BlobId>,
        /// A file holding the object.
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        account: Account,
    },
    /// Encrypt a file under a policy for the registered key servers.
    Encrypt {
        /// The policy.
        #[arg(long)]
        policy: ObjectId,
        /// Key servers needed to decrypt [default: a majority].
        #[arg(long)]
        threshold: Option<usize>,
        /// The file.
        #[arg(long = "in")]
        input: PathBuf,
        /// Where the object goes.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        account: Account,
    },
    /// Decrypt a Seal object file with keys this wallet may have.
    Decrypt {
        /// The object.
        #[arg(long = "in")]
        input: PathBuf,
        /// Where the plaintext goes.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        account: Account,
    },
}

fn client(account: &Account, global: &GlobalArgs) -> Result<Client> {
    let network = account.resolve(global)?;
    Ok(Client::new(&network.chain_url, network.key()?))
}

/// A fresh master key (a uniform non-zero scalar).
fn new_master() -> Result<Scalar> {
    loop {
        let seed = walrus_chain_node::init::random_seed()?;
        if let Some(master) = Scalar::from_be_bytes(&seed) {
            return Ok(master);
        }
    }
}

/// Makes (or reuses) the master key in `dir`, writes the configuration and registers the key
/// server on chain if it is not yet; returns the configuration's path and the object ID.
pub async fn init(args: &InitArgs, chain_url: &str, client: &Client) -> Result<(PathBuf, ObjectId)> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let key_path = args.dir.join("master.key");
    let master = if key_path.exists() {
        let secret = walrus_chain_node::init::read_secret(&key_path)?;
        Scalar::from_be_bytes(&secret).context("master.key is not a scalar")?
    } else {
        let master = new_master()?;
        walrus_chain_node::init::write_secret(&key_path, &master.to_be_bytes())?;
        master
    };
    let public = ibe::public_key(&master).to_bytes();
    let object_id = key_server_object_id(&public);
    let url = args.url.clone().unwrap_or_else(|| format!("http://{}", args.listen));
    if client.chain().object(&object_id).await.is_err() {
        let call = Call::RegisterKeyServer {
            name: args.name.clone(),
            url: url.clone(),
            public_key: public.to_vec(),
            pop: ibe::proof_of_possession(&master, &object_id.0).to_bytes().to_vec(),
        };
        check_success(client.chain().execute(client.wallet(), call).await?)?;
    }
    let file = KeyServerFile {
        listen: args.listen,
        chain_url: chain_url.to_string(),
        master_key: PathBuf::from("master.key"),
        object_id,
        url,
    };
    let config = args.dir.join("key-server.yaml");
    std::fs::write(&config, serde_yaml::to_string(&file)?)
        .with_context(|| format!("cannot write {}", config.display()))?;
    Ok((config, object_id))
}

/// Runs `walrus key-server …`.
pub fn key_server(command: KeyServerCommand, global: &GlobalArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match command {
        KeyServerCommand::Init(args) => {
            let network = args.account.resolve(global)?;
            let client = Client::new(&network.chain_url, network.key()?);
            let (config, id) = runtime.block_on(init(&args, &network.chain_url, &client))?;
            print(global.json, json!({ "objectId": id.to_string(), "config": config }), || {
                format!(
                    "Key server {id} registered; run it with `walrus key-server run --config {}`",
                    config.display()
                )
            });
            Ok(())
        }
        KeyServerCommand::Run { config } => run(&config, &runtime),
    }
}

fn run(config: &Path, runtime: &tokio::runtime::Runtime) -> Result<()> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("cannot read {}", config.display()))?;
    let file: KeyServerFile = serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not a key server configuration", config.display()))?;
    let key_path = config.parent().unwrap_or(Path::new(".")).join(&file.master_key);
    let secret = walrus_chain_node::init::read_secret(&key_path)?;
    let master = Scalar::from_be_bytes(&secret).context("the master key is not a scalar")?;
    let settings = walrus_keyserver::KeyServerConfig::new(file.listen, &file.chain_url);
    runtime.block_on(async {
        let server = walrus_keyserver::start(settings, master).await?;
        if server.object_id != file.object_id {
            bail!(
                "the master key's object ID is {}, the configuration says {}",
                server.object_id,
                file.object_id
            );
        }
        eprintln!(
            "Key server {} on http://{} (chain {}); Ctrl-C to stop",
            server.object_id, server.server.addr, file.chain_url
        );
        Ok(server.server.run_until(crate::chain::shutdown_signal()).await?)
    })
}

/// A policy kind from its name and flags.
pub fn policy_kind(
    kind: &str,
    unlock: Option<&str>,
    price: Option<u64>,
    epochs: Option<u32>,
) -> Result<PolicyKind> {
    Ok(match kind {
        "private" => PolicyKind::Private,
        "allowlist" => PolicyKind::Allowlist { members: Default::default() },
        "timelock" => PolicyKind::TimeLock {
            unlock_ms: crate::epochs::parse_rfc3339(unlock.context("a time-lock needs --unlock")?)?,
        },
        "subscription" => PolicyKind::Subscription {
            price: Frost::from_wal(price.context("a subscription needs --price WAL")?)?,
            epochs: epochs.context("a subscription needs --epochs N")?,
        },
        other => bail!("unknown policy kind {other:?}: private, allowlist, timelock or subscription"),
    })
}

/// Creates a policy; returns its ID.
pub async fn create_policy(client: &Client, kind: PolicyKind) -> Result<ObjectId> {
    let done = check_success(client.chain().execute(client.wallet(), Call::CreatePolicy { kind }).await?)?;
    done.effects.created.first().copied().context("no policy was created")
}

/// Runs `walrus policy …`.
pub fn policy(command: PolicyCommand, global: &GlobalArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match command {
        PolicyCommand::Create { kind, unlock, price, epochs, account } => {
            let client = client(&account, global)?;
            let id = runtime
                .block_on(create_policy(&client, policy_kind(&kind, unlock.as_deref(), price, epochs)?))?;
            print(global.json, json!({ "policy": id.to_string() }), || format!("Created {kind} policy {id}"));
        }
        PolicyCommand::Allowlist(AllowlistCommand::Create { account }) => {
            let client = client(&account, global)?;
            let id = runtime.block_on(create_policy(&client, policy_kind("allowlist", None, None, None)?))?;
            print(global.json, json!({ "policy": id.to_string() }), || format!("Created allowlist {id}"));
        }
        PolicyCommand::Allowlist(AllowlistCommand::Add { policy, addresses, account }) => {
            update_allowlist(&runtime, global, (&account, policy), (addresses, Vec::new()))?;
        }
        PolicyCommand::Allowlist(AllowlistCommand::Remove { policy, addresses, account }) => {
            update_allowlist(&runtime, global, (&account, policy), (Vec::new(), addresses))?;
        }
        PolicyCommand::Subscription(SubscriptionCommand::Create { price, epochs, account }) => {
            let client = client(&account, global)?;
            let kind = policy_kind("subscription", None, Some(price), Some(epochs))?;
            let id = runtime.block_on(create_policy(&client, kind))?;
            print(global.json, json!({ "policy": id.to_string() }), || {
                format!("Created subscription policy {id}: {price} WAL for {epochs} epochs")
            });
        }
        PolicyCommand::Subscribe { policy, account } => {
            let client = client(&account, global)?;
            let done = check_success(
                runtime.block_on(client.chain().execute(client.wallet(), Call::Subscribe { policy }))?,
            )?;
            let id = done.effects.created.first().copied().context("no subscription was created")?;
            print(global.json, json!({ "subscription": id.to_string() }), || {
                format!("Subscribed to {policy}: {id}")
            });
        }
        PolicyCommand::Show { policy, account } => {
            let client = client(&account, global)?;
            let view = runtime.block_on(client.chain().object(&policy))?;
            let ObjectBody::Policy(found) = &view.object.body else { bail!("{policy} is not a policy") };
            print(global.json, serde_json::to_value(&view)?, || {
                format!("Policy {policy} ({:?}): {:?}", view.object.owner, found.kind)
            });
        }
    }
    Ok(())
}

fn update_allowlist(
    runtime: &tokio::runtime::Runtime,
    global: &GlobalArgs,
    (account, policy): (&Account, ObjectId),
    (add, remove): (Vec<Address>, Vec<Address>),
) -> Result<()> {
    let client = client(account, global)?;
    let call = Call::UpdateAllowlist { policy, add, remove };
    check_success(runtime.block_on(client.chain().execute(client.wallet(), call))?)?;
    print(global.json, json!({ "policy": policy.to_string() }), || format!("Updated allowlist {policy}"));
    Ok(())
}

/// Runs `walrus seal …`.
pub fn seal(command: SealCommand, global: &GlobalArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match command {
        SealCommand::KeyServers { account } => {
            let client = client(&account, global)?;
            let servers = runtime.block_on(client.key_servers())?;
            let value = json!(servers
                .iter()
                .map(|s| json!({ "objectId": s.object_id.to_string(), "name": s.name, "url": s.url, "publicKey": hex::encode(s.public_key) }))
                .collect::<Vec<_>>());
            print(global.json, value, || {
                let lines: Vec<String> = servers
                    .iter()
                    .map(|s| format!("{} {} {} {}", s.object_id, s.name, s.url, hex::encode(s.public_key)))
                    .collect();
                format!("{} key servers\n{}", servers.len(), lines.join("\n"))
            });
        }
        SealCommand::FetchKeys { blob_id, file, account } => {
            let client = client(&account, global)?;
            let bytes = match (blob_id, file) {
                (Some(id), _) => runtime.block_on(client.read(&id))?,
                (None, Some(path)) => {
                    std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
                }
                (None, None) => bail!("give --blob-id or --file"),
            };
            let object = EncryptedObject::from_bytes(&bytes)?;
            let (_, keys) = runtime.block_on(client.seal_keys(&object))?;
            let value = json!({
                "packageId": format!("0x{}", hex::encode(object.package_id)),
                "id": hex::encode(&object.id),
                "keys": keys.iter().map(|(id, key)| json!({ "objectId": format!("0x{}", hex::encode(id)), "userSecretKey": hex::encode(key) })).collect::<Vec<_>>(),
            });
            print(global.json, value, || {
                keys.iter()
                    .map(|(id, key)| format!("0x{}={}", hex::encode(id), hex::encode(key)))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SealCommand::Encrypt { policy, threshold, input, out, account } => {
            let client = client(&account, global)?;
            let data = std::fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?;
            let threshold = match threshold {
                Some(t) => t,
                None => runtime.block_on(client.key_servers())?.len() / 2 + 1,
            };
            let object = runtime.block_on(client.seal_encrypt(policy, &data, threshold))?;
            std::fs::write(&out, object.to_bytes())
                .with_context(|| format!("cannot write {}", out.display()))?;
            print(global.json, json!({ "out": out, "threshold": threshold }), || {
                format!(
                    "Encrypted {} under policy {policy} ({threshold} key servers needed)",
                    input.display()
                )
            });
        }
        SealCommand::Decrypt { input, out, account } => {
            let client = client(&account, global)?;
            let bytes = std::fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?;
            let object = EncryptedObject::from_bytes(&bytes)?;
            let plain = runtime.block_on(client.seal_decrypt(&object))?;
            std::fs::write(&out, &plain).with_context(|| format!("cannot write {}", out.display()))?;
            print(global.json, json!({ "out": out, "bytes": plain.len() }), || {
                format!("Decrypted {} B into {}", plain.len(), out.display())
            });
        }
    }
    Ok(())
}
