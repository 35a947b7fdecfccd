//! Where the client commands find their network.
//!
//! The configuration file is `--config FILE`, else the file `WALRUS_CONFIG` names, else the
//! local network's `~/.walrus/localnet/client_config.yaml` when it exists (written by
//! `walrus localnet`). Flags and their variables (`--chain-url` / `WALRUS_CHAIN_URL`,
//! `--wallet` / `WALRUS_WALLET`) win over the file; without either, the defaults are the
//! localnet's chain port on 127.0.0.1 and `~/.walrus/wallet.key`.
//!
//! ```yaml
//! chain_url: http://127.0.0.1:9184
//! wallet: /home/me/.walrus/wallet.key   # relative paths are relative to this file
//! ```

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The chain RPC when nothing else says where it is.
pub const DEFAULT_CHAIN_URL: &str = "http://127.0.0.1:9184";
/// Largest configuration file read.
const CONFIG_BYTES_MAX: u64 = 1 << 20;
/// The file name `walrus localnet` writes in its directory.
pub const CLIENT_CONFIG_FILE: &str = "client_config.yaml";

/// A client configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The chain RPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_url: Option<String>,
    /// The wallet's key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<PathBuf>,
    /// The Walrus Sites portal (`http://localhost:PORT`); sites are its subdomains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_url: Option<String>,
}

impl ClientConfig {
    /// The configuration in force: `explicit`, else `WALRUS_CONFIG`, else the default
    /// localnet's file if it exists, else none (all defaults).
    pub fn find(explicit: Option<&Path>) -> Result<ClientConfig> {
        if let Some(path) = explicit {
            return ClientConfig::load(path);
        }
        if let Some(path) = std::env::var_os("WALRUS_CONFIG").filter(|p| !p.is_empty()) {
            return ClientConfig::load(Path::new(&path)).context("from WALRUS_CONFIG");
        }
        let default = default_localnet_dir().join(CLIENT_CONFIG_FILE);
        if default.exists() {
            return ClientConfig::load(&default);
        }
        Ok(ClientConfig::default())
    }

    /// Reads `path`; a relative wallet path is taken relative to the file's directory.
    pub fn load(path: &Path) -> Result<ClientConfig> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut text = String::new();
        file.take(CONFIG_BYTES_MAX + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if text.len() as u64 > CONFIG_BYTES_MAX {
            bail!("{} is larger than {CONFIG_BYTES_MAX} bytes", path.display());
        }
        let mut config: ClientConfig = if text.trim().is_empty() {
            ClientConfig::default()
        } else {
            serde_yaml::from_str(&text)
                .with_context(|| format!("{} is not a client configuration", path.display()))?
        };
        if let (Some(wallet), Some(dir)) = (&config.wallet, path.parent()) {
            if wallet.is_relative() {
                config.wallet = Some(dir.join(wallet));
            }
        }
        Ok(config)
    }

    /// Writes the file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = format!(
            "# The walrus client's configuration: found by `walrus store`, `read` and the rest through\n\
             # --config, WALRUS_CONFIG, or (for ~/.walrus/localnet) by itself.\n{}",
            serde_yaml::to_string(self)?
        );
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// `~/.walrus/localnet`, where `walrus localnet` keeps its network by default.
pub fn default_localnet_dir() -> PathBuf {
    walrus_home().join("localnet")
}

/// `~/.walrus/wallet.key`.
pub fn default_wallet() -> PathBuf {
    walrus_home().join("wallet.key")
}

fn walrus_home() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".walrus")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_wallets_are_relative_to_the_file_and_bad_files_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(CLIENT_CONFIG_FILE);
        ClientConfig {
            chain_url: Some("http://127.0.0.1:1".into()),
            wallet: Some("w.key".into()),
            portal_url: Some("http://localhost:1".into()),
        }
        .save(&path)
        .expect("save");
        let loaded = ClientConfig::load(&path).expect("load");
        assert_eq!(loaded.chain_url.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(loaded.wallet, Some(dir.path().join("w.key")));

        std::fs::write(&path, "chain_url: [1, 2]\n").expect("write");
        let error = format!("{:#}", ClientConfig::load(&path).expect_err("bad type"));
        assert!(error.contains("is not a client configuration"), "{error}");
        std::fs::write(&path, "gateway_url: x\n").expect("write");
        assert!(ClientConfig::load(&path).is_err(), "unknown fields are refused");
        let missing =
            format!("{:#}", ClientConfig::load(&dir.path().join("none.yaml")).expect_err("missing"));
        assert!(missing.contains("cannot open"), "{missing}");
    }
}
