//! Where the client commands find their network.
//!
//! The configuration file is `--config FILE`, else the file `WALRUS_CONFIG` names, else the
//! first `client_config.yaml` of the reference's places (the working directory,
//! `$XDG_CONFIG_HOME/walrus/`, `~/.config/walrus/`, `~/.walrus/`), else the local network's
//! `~/.walrus/localnet/client_config.yaml` when it exists (written by `walrus localnet`). Flags
//! and their variables (`--chain-url` / `WALRUS_CHAIN_URL`, `--wallet` / `WALRUS_WALLET`) win
//! over the file; without either, the defaults are the localnet's chain port on 127.0.0.1 and
//! `~/.walrus/wallet.key`.
//!
//! ```yaml
//! chain_url: http://127.0.0.1:9184
//! wallet: /home/me/.walrus/wallet.key   # relative paths are relative to this file
//! ```
//!
//! As the reference's, a file may hold several networks side by side, one picked with
//! `--context NAME` (else `default_context`):
//!
//! ```yaml
//! contexts:
//!   localnet: { chain_url: "http://127.0.0.1:9184", wallet: localnet.key }
//!   other: { chain_url: "https://chain.example.org", wallet: other.key }
//! default_context: localnet
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
    pub fn find(explicit: Option<&Path>, context: Option<&str>) -> Result<ClientConfig> {
        if let Some(path) = explicit {
            return ClientConfig::load_context(path, context);
        }
        if let Some(path) = std::env::var_os("WALRUS_CONFIG").filter(|p| !p.is_empty()) {
            return ClientConfig::load_context(Path::new(&path), context).context("from WALRUS_CONFIG");
        }
        if let Some(found) = search_path().into_iter().find(|path| path.exists()) {
            return ClientConfig::load_context(&found, context);
        }
        if let Some(name) = context {
            bail!("--context {name}: no configuration file found (give --config)");
        }
        Ok(ClientConfig::default())
    }

    /// Reads `path`, and the context `context` of it (else its default one).
    pub fn load_context(path: &Path, context: Option<&str>) -> Result<ClientConfig> {
        let text = read_bounded(path)?;
        let value: serde_yaml::Value = serde_yaml::from_str(&text)
            .with_context(|| format!("{} is not a client configuration", path.display()))?;
        if value.get("contexts").is_none() {
            if let Some(name) = context {
                bail!("--context {name}: {} holds a single configuration, not `contexts`", path.display());
            }
            return ClientConfig::load(path);
        }
        let file: ContextsFile = serde_yaml::from_value(value.clone())
            .with_context(|| format!("{} is not a client configuration with contexts", path.display()))?;
        let name = context.unwrap_or(&file.default_context);
        let mut config = file.contexts.get(name).cloned().ok_or_else(|| {
            let names: Vec<&String> = file.contexts.keys().collect();
            anyhow::anyhow!("context {name:?} not found in {}; available: {names:?}", path.display())
        })?;
        config.relative_to(path);
        Ok(config)
    }

    /// Reads `path`; a relative wallet path is taken relative to the file's directory.
    pub fn load(path: &Path) -> Result<ClientConfig> {
        let text = read_bounded(path)?;
        let mut config: ClientConfig = if text.trim().is_empty() {
            ClientConfig::default()
        } else {
            serde_yaml::from_str(&text)
                .with_context(|| format!("{} is not a client configuration", path.display()))?
        };
        config.relative_to(path);
        Ok(config)
    }

    fn relative_to(&mut self, path: &Path) {
        if let (Some(wallet), Some(dir)) = (&self.wallet, path.parent()) {
            if wallet.is_relative() {
                self.wallet = Some(dir.join(wallet));
            }
        }
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

/// A file of several configurations, as the reference's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextsFile {
    contexts: std::collections::BTreeMap<String, ClientConfig>,
    default_context: String,
}

/// A file's text, at most [`CONFIG_BYTES_MAX`].
fn read_bounded(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    file.take(CONFIG_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if text.len() as u64 > CONFIG_BYTES_MAX {
        bail!("{} is larger than {CONFIG_BYTES_MAX} bytes", path.display());
    }
    Ok(text)
}

/// Where a configuration is looked for, in order: the reference's places, then the default
/// localnet's.
fn search_path() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()).map(PathBuf::from);
    let mut dirs = vec![PathBuf::from(".")];
    dirs.extend(xdg.map(|d| d.join("walrus")));
    dirs.extend(home.iter().map(|h| h.join(".config").join("walrus")));
    dirs.push(walrus_home());
    dirs.push(default_localnet_dir());
    dirs.into_iter().map(|d| d.join(CLIENT_CONFIG_FILE)).collect()
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

    #[test]
    fn contexts_pick_one_network_of_several() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(CLIENT_CONFIG_FILE);
        let text = "contexts:\n  local: { chain_url: \"http://127.0.0.1:1\", wallet: a.key }\n  other: { chain_url: \"http://10.0.0.1:2\" }\ndefault_context: local\n";
        std::fs::write(&path, text).expect("write");
        let local = ClientConfig::load_context(&path, None).expect("the default");
        assert_eq!(
            (local.chain_url.as_deref(), local.wallet),
            (Some("http://127.0.0.1:1"), Some(dir.path().join("a.key")))
        );
        let other = ClientConfig::load_context(&path, Some("other")).expect("named");
        assert_eq!(other.chain_url.as_deref(), Some("http://10.0.0.1:2"));
        let unknown =
            format!("{:#}", ClientConfig::load_context(&path, Some("mainnet")).expect_err("unknown"));
        assert!(unknown.contains("not found") && unknown.contains("\"other\""), "{unknown}");
        std::fs::write(&path, "chain_url: http://127.0.0.1:1\n").expect("write");
        let single = format!("{:#}", ClientConfig::load_context(&path, Some("local")).expect_err("single"));
        assert!(single.contains("single configuration"), "{single}");
    }
}
