//! Helpers for the tests that run the real `walrus` binary as processes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub const WALRUS: &str = env!("CARGO_BIN_EXE_walrus");

/// Starts `walrus ARGS` and returns it once it prints a line starting with `prefix`, with the
/// word after the prefix.
pub fn spawn(args: &[&str], prefix: &str) -> (Child, String) {
    let mut child = Command::new(WALRUS)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("walrus starts");
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stderr).lines();
    let word = loop {
        let line = lines.next().expect("it prints its address").expect("utf-8");
        if let Some(rest) = line.split_once(prefix).map(|(_, rest)| rest) {
            break rest.split_whitespace().next().expect("a word").to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, word)
}

/// Runs `walrus ARGS` to completion; panics if it fails. Returns its standard output.
pub fn walrus(args: &[&str]) -> String {
    let output = Command::new(WALRUS).args(args).output().expect("walrus runs");
    assert!(output.status.success(), "walrus {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The blob ID of the first file of a `walrus store --json` answer that created a blob.
pub fn new_blob_id(stored: &serde_json::Value) -> String {
    stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"]
        .as_str()
        .expect("blob ID")
        .to_string()
}

/// A chain and its storage nodes, each its own `walrus` process; killed on drop.
pub struct Network {
    /// The chain directory.
    pub dir: PathBuf,
    /// The chain RPC.
    pub chain_url: String,
    /// The chain process.
    pub chain: Child,
    /// The node processes.
    pub nodes: Vec<Child>,
}

/// A block of `size` fixed ports for one test's processes, apart from every other block this
/// process takes (every file's tests run in one process, two at a time) and, by process ID, from
/// other processes'; below the ephemeral range (32768 and up), which clients draw from.
pub fn port_block(size: u16) -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let offset = NEXT.fetch_add(size, std::sync::atomic::Ordering::Relaxed) % 1_000;
    10_000 + (std::process::id() % 20) as u16 * 1_000 + offset
}

impl Network {
    /// `walrus chain init` with `nodes` nodes and `shards` shards in `dir`, then `chain run`
    /// and one `node run` per node (its config pointed at the chain).
    pub fn start(dir: &Path, nodes: usize, shards: u16) -> Network {
        Network::start_with_epochs(dir, nodes, shards, "1h")
    }

    /// The same with epochs of `epoch_duration` (`12s`, `1h`); the nodes serve HTTPS.
    pub fn start_with_epochs(dir: &Path, nodes: usize, shards: u16, epoch_duration: &str) -> Network {
        Network::launch(dir, nodes, shards, epoch_duration, false)
    }

    /// [`Network::start`] with nodes that serve plain HTTP, for tests that speak raw HTTP/1.
    pub fn start_plain(dir: &Path, nodes: usize, shards: u16) -> Network {
        Network::launch(dir, nodes, shards, "1h", true)
    }

    fn launch(dir: &Path, nodes: usize, shards: u16, epoch_duration: &str, plain: bool) -> Network {
        let first_port = port_block(10);
        let dir_text = dir.to_str().expect("utf-8 path");
        let nodes_text = nodes.to_string();
        let (shards, first_port) = (shards.to_string(), first_port.to_string());
        let mut init = vec![
            "chain",
            "init",
            "--dir",
            dir_text,
            "--shards",
            &shards,
            "--nodes",
            &nodes_text,
            "--first-node-port",
            &first_port,
            "--epoch-duration",
            epoch_duration,
        ];
        if plain {
            init.push("--plain-http");
        }
        walrus(&init);
        let (chain, chain_url) =
            spawn(&["chain", "run", "--dir", dir_text, "--listen", "127.0.0.1:0"], "chain RPC on ");
        // Built before the nodes start, so that a node that fails to start does not leave the
        // chain (or the nodes started before it) running: dropping the network kills them.
        let mut network = Network { dir: dir.to_path_buf(), chain_url, chain, nodes: Vec::new() };
        for i in 0..nodes {
            let path = dir.join(format!("nodes/{i}/node.yaml"));
            let mut config = walrus_node::NodeConfig::load(&path).expect("node.yaml");
            config.chain_url = network.chain_url.clone();
            config.storage_path = "db".into();
            config.bls_key = "bls.key".into();
            config.owner_key = "owner.key".into();
            config.network_key = "network.key".into();
            config.save(&path).expect("saved");
            let (child, _) = spawn(&["node", "run", "--config", path.to_str().expect("utf-8")], " on http");
            network.nodes.push(child);
        }
        network
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for child in self.nodes.iter_mut().chain(std::iter::once(&mut self.chain)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
