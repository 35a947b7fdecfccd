//! A chain directory: its layout, key files, and `walrus chain init`.
//!
//! ```text
//! D/genesis.json                  the genesis (its digest is the chain ID)
//! D/validators/<i>/validator.key  validator i's ed25519 key (consensus votes, p2p identity)
//! D/validators/<i>/chain/         validator i's block store
//! D/validators/<i>/consensus/     validator i's consensus storage (write-ahead log, archives)
//! D/faucet.key                    the faucet account's key (local networks only)
//! D/nodes/<i>/bls.key     storage node i's BLS key
//! D/nodes/<i>/owner.key   the account operating storage node i
//! ```
//!
//! Key files hold the 32-byte secret as hex on one line and are created with mode 0600.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use walrus_chain::amount::FROST_PER_WAL;
use walrus_chain::challenge::ChallengeParams;
use walrus_chain::system::Parameters;
use walrus_chain::{Frost, Genesis, GenesisNode, GenesisValidator};
use walrus_core::keys::{Address, BlsKeyPair, Ed25519KeyPair};
use walrus_core::messages::proof_of_possession;
use walrus_core::Epoch;
use walrus_tls::NetworkKeyPair;

/// Why a chain directory or a key file cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The genesis file cannot be read.
    #[error("cannot read {}: {source} (run `walrus chain init` first)", path.display())]
    NoGenesis {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The genesis file does not parse.
    #[error("{} is not a genesis file: {source}", path.display())]
    BadGenesis {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The genesis the spec describes is invalid.
    #[error("the genesis would be invalid: {0}")]
    Genesis(#[from] walrus_chain::genesis::GenesisError),
    /// An amount does not fit.
    #[error("an allocation does not fit: {0}")]
    Amount(#[from] walrus_chain::ExecError),
    /// The operating system gave no randomness.
    #[error("no randomness from the OS: {0}")]
    Random(getrandom::Error),
    /// A file or directory cannot be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key file does not hold a key.
    #[error("key file {} does not hold {what}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: String,
    },
    /// The directory already has a genesis.
    #[error("{} already exists; choose an empty directory", .0.display())]
    Exists(PathBuf),
    /// Not a possible number of validators.
    #[error("need between 1 and {max} validators, got {got}")]
    ValidatorCount {
        /// The most a genesis may name.
        max: usize,
        /// Validators asked for.
        got: usize,
    },
    /// Not a possible number of storage nodes.
    #[error("need between 1 and {n_shards} storage nodes, got {nodes}")]
    NodeCount {
        /// Shards.
        n_shards: usize,
        /// Nodes asked for.
        nodes: usize,
    },
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> InitError + '_ {
    move |source| InitError::Io { path: path.to_path_buf(), source }
}

/// Paths inside a chain directory.
#[derive(Debug, Clone)]
pub struct ChainDir(pub PathBuf);

impl ChainDir {
    /// The genesis file.
    pub fn genesis(&self) -> PathBuf {
        self.0.join("genesis.json")
    }
    /// Validator `i`'s directory.
    pub fn validator(&self, i: usize) -> PathBuf {
        self.0.join("validators").join(i.to_string())
    }
    /// Validator `i`'s key.
    pub fn validator_key(&self, i: usize) -> PathBuf {
        self.validator(i).join("validator.key")
    }
    /// Validator `i`'s block store.
    pub fn store(&self, i: usize) -> PathBuf {
        self.validator(i).join("chain")
    }
    /// Validator `i`'s consensus storage.
    pub fn consensus(&self, i: usize) -> PathBuf {
        self.validator(i).join("consensus")
    }
    /// The faucet key.
    pub fn faucet_key(&self) -> PathBuf {
        self.0.join("faucet.key")
    }
    /// Storage node `i`'s directory.
    pub fn node(&self, i: usize) -> PathBuf {
        self.0.join("nodes").join(i.to_string())
    }

    /// Reads the genesis file.
    pub fn read_genesis(&self) -> Result<Genesis, InitError> {
        let path = self.genesis();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(source) => return Err(InitError::NoGenesis { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| InitError::BadGenesis { path, source })
    }
}

/// A fresh random 32-byte seed from the operating system.
pub fn random_seed() -> Result<[u8; 32], InitError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(InitError::Random)?;
    Ok(seed)
}

/// Writes a 32-byte secret as hex, readable only by the owner; refuses to overwrite.
pub fn write_secret(path: &Path, secret: &[u8; 32]) -> Result<(), InitError> {
    write_private(path, &format!("{}\n", hex::encode(secret)))
}

/// Writes `text` to a new file readable only by the owner, synced; refuses to overwrite.
fn write_private(path: &Path, text: &str) -> Result<(), InitError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_at(parent))?;
    }
    let mut file =
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io_at(path))?;
    file.write_all(text.as_bytes()).map_err(io_at(path))?;
    file.sync_all().map_err(io_at(path))
}

/// Makes a network key (secp256r1, for the node's TLS certificate) and writes it to `path` as
/// a PEM `PRIVATE KEY`; refuses to overwrite.
pub fn write_network_key(path: &Path) -> Result<NetworkKeyPair, InitError> {
    let key = NetworkKeyPair::generate().map_err(|e| InitError::BadKey {
        path: path.to_path_buf(),
        what: format!("a new network key ({e})"),
    })?;
    write_private(path, &key.to_pem())?;
    Ok(key)
}

/// Reads a network key file (PEM `PRIVATE KEY`, PKCS#8, secp256r1).
pub fn read_network_key(path: &Path) -> Result<NetworkKeyPair, InitError> {
    let text = fs::read_to_string(path).map_err(io_at(path))?;
    NetworkKeyPair::from_pem(&text)
        .map_err(|e| InitError::BadKey { path: path.to_path_buf(), what: e.to_string() })
}

/// Reads a key file written by [`write_secret`].
pub fn read_secret(path: &Path) -> Result<[u8; 32], InitError> {
    let text = fs::read_to_string(path).map_err(io_at(path))?;
    let bytes = hex::decode(text.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
    bytes.ok_or_else(|| InitError::BadKey { path: path.to_path_buf(), what: "64 hex digits".into() })
}

/// Reads an ed25519 key file.
pub fn read_ed25519(path: &Path) -> Result<Ed25519KeyPair, InitError> {
    Ok(Ed25519KeyPair::from_seed(&read_secret(path)?))
}

/// Reads a BLS key file.
pub fn read_bls(path: &Path) -> Result<BlsKeyPair, InitError> {
    BlsKeyPair::from_secret_bytes(&read_secret(path)?)
        .map_err(|e| InitError::BadKey { path: path.to_path_buf(), what: format!("a BLS key ({e})") })
}

/// What `walrus chain init` creates.
#[derive(Debug, Clone)]
pub struct InitSpec {
    /// Chain name (part of the chain ID).
    pub chain_name: String,
    /// Genesis time (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// Shards, epoch length, prices, capacity, fee.
    pub params: Parameters,
    /// Storage node REST addresses (`host:port`), one per node; shards are split evenly.
    pub node_addresses: Vec<String>,
    /// WAL for the faucet account.
    pub faucet_wal: u64,
    /// WAL for each storage node's owner account (fees of the node's own transactions, such
    /// as invalid-blob certificates).
    pub node_owner_wal: u64,
    /// WAL each storage node's operator stakes with it at genesis, per shard it holds (so the
    /// first committee chosen by stake keeps the genesis shards).
    pub node_stake_wal_per_shard: u64,
    /// The genesis nodes' commission rate, in basis points.
    pub commission_rate: u16,
    /// WAL for each validator's account (its challenge commits' fees and bonds).
    pub validator_wal: u64,
    /// Further allocations.
    pub allocations: Vec<(Address, Frost)>,
    /// The validators' p2p addresses (`host:port`), one per validator; a chain of one may use
    /// port 0.
    pub validator_addresses: Vec<String>,
}

/// The shortest local-network epoch with storage challenges (ten minutes).
pub const LOCALNET_CHALLENGE_EPOCH_MIN_MS: u64 = 10 * 60 * 1000;

impl InitSpec {
    /// Local-network defaults: `n_shards` shards, 1 WAL per MiB-epoch-ish prices as in the
    /// reference's examples, 1 PB of capacity, 1 million WAL in the faucet.
    pub fn localnet(
        n_shards: u16,
        node_addresses: Vec<String>,
        epoch_duration_ms: u64,
        timestamp_ms: u64,
    ) -> Self {
        InitSpec {
            chain_name: format!("localnet-{timestamp_ms}"),
            timestamp_ms,
            params: Parameters {
                n_shards,
                epoch_duration_ms,
                max_epochs_ahead: 53,
                storage_price_per_unit: Frost(100_000),
                write_price_per_unit: Frost(20_000),
                total_capacity: 1 << 50,
                min_fee: Frost(1_000),
                active_set_size: 111,
                // A local network challenges 8 blobs an epoch, starting a minute before its
                // end, with half a minute for the certificates: the drawn blobs are unreadable
                // from the nodes for that half minute. Epochs shorter than ten minutes (tests,
                // demonstrations of epoch changes) would spend a large part of their time in a
                // challenge: they have none unless the spec is changed.
                challenge: ChallengeParams {
                    blobs: if epoch_duration_ms >= LOCALNET_CHALLENGE_EPOCH_MIN_MS { 8 } else { 0 },
                    lead_ms: 60_000,
                    reveal_window_ms: 5_000,
                    response_window_ms: 30_000,
                    ..ChallengeParams::default()
                },
                price_bounds: Default::default(),
            },
            node_addresses,
            faucet_wal: 1_000_000,
            node_owner_wal: 1_000,
            node_stake_wal_per_shard: 100,
            commission_rate: 6_000,
            validator_wal: 100,
            allocations: Vec::new(),
            validator_addresses: vec!["127.0.0.1:0".into()],
        }
    }
}

/// Creates a chain directory: keys for the faucet and every storage node, and the genesis.
/// Refuses a directory that already has a genesis.
pub fn init_dir(dir: &ChainDir, spec: &InitSpec) -> Result<Genesis, InitError> {
    if dir.genesis().exists() {
        return Err(InitError::Exists(dir.genesis()));
    }
    let k = spec.node_addresses.len();
    let n = usize::from(spec.params.n_shards);
    if k == 0 || k > n {
        return Err(InitError::NodeCount { n_shards: n, nodes: k });
    }
    let v = spec.validator_addresses.len();
    if v == 0 || v > walrus_chain::genesis::VALIDATORS_MAX {
        return Err(InitError::ValidatorCount { max: walrus_chain::genesis::VALIDATORS_MAX, got: v });
    }
    fs::create_dir_all(&dir.0).map_err(io_at(&dir.0))?;
    let mut validators = Vec::new();
    for (i, p2p_address) in spec.validator_addresses.iter().enumerate() {
        let seed = random_seed()?;
        write_secret(&dir.validator_key(i), &seed)?;
        let public_key = Ed25519KeyPair::from_seed(&seed).public();
        validators.push(GenesisValidator { public_key, p2p_address: p2p_address.clone() });
    }
    let faucet = random_seed()?;
    write_secret(&dir.faucet_key(), &faucet)?;
    let mut allocations =
        vec![(Ed25519KeyPair::from_seed(&faucet).address(), Frost::from_wal(spec.faucet_wal)?)];
    if spec.validator_wal > 0 {
        for validator in &validators {
            allocations
                .push((Address::from_ed25519(&validator.public_key), Frost::from_wal(spec.validator_wal)?));
        }
    }
    allocations.extend(spec.allocations.iter().copied());
    let mut nodes = Vec::new();
    for (i, network_address) in spec.node_addresses.iter().enumerate() {
        let (bls_seed, owner_seed) = (random_seed()?, random_seed()?);
        let bls = BlsKeyPair::from_seed(&bls_seed);
        let owner = Ed25519KeyPair::from_seed(&owner_seed).address();
        if spec.node_owner_wal > 0 {
            allocations.push((owner, Frost::from_wal(spec.node_owner_wal)?));
        }
        write_secret(&dir.node(i).join("bls.key"), &bls.secret_bytes())?;
        write_secret(&dir.node(i).join("owner.key"), &owner_seed)?;
        let network = write_network_key(&dir.node(i).join("network.key"))?;
        let shards = (n / k + usize::from(i < n % k)) as u16;
        nodes.push(GenesisNode {
            owner,
            public_key: *bls.public(),
            proof_of_possession: proof_of_possession(&bls, owner, Epoch(0)),
            network_address: network_address.clone(),
            network_public_key: *network.public(),
            shards,
            stake: Frost::from_wal(spec.node_stake_wal_per_shard)?.checked_mul(u64::from(shards))?,
            commission_rate: spec.commission_rate,
        });
    }
    let genesis = Genesis {
        chain_name: spec.chain_name.clone(),
        timestamp_ms: spec.timestamp_ms,
        params: spec.params.clone(),
        allocations,
        nodes,
        validators,
    };
    genesis.build()?;
    let text = serde_json::to_string_pretty(&genesis).expect("a genesis is plain JSON") + "\n";
    fs::write(dir.genesis(), text).map_err(io_at(&dir.genesis()))?;
    Ok(genesis)
}

/// `amount` WAL in FROST, for messages.
pub fn wal(frost: Frost) -> String {
    let whole = frost.0 / FROST_PER_WAL;
    let fraction = frost.0 % FROST_PER_WAL;
    if fraction == 0 {
        format!("{whole} WAL")
    } else {
        let digits = format!("{fraction:09}");
        format!("{whole}.{} WAL", digits.trim_end_matches('0'))
    }
}
