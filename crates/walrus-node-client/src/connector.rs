//! Where a [`NodeClient`] gets its connections: one pool per node and network key, each
//! accepting only the certificate that carries the key the chain registered for the node
//! ([`walrus_tls::pinned_client_config`]); plain HTTP only for a loopback address written
//! `http://HOST:PORT`. Pools are made on first use and kept: a committee is at most a few
//! hundred nodes, and a node that leaves keeps its idle pool only until the pool's idle
//! timeout closes its connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use walrus_core::keys::NetworkPublicKey;

use crate::NodeClient;

/// The connection pools of the storage nodes a process talks to; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct NodeConnector {
    plain: reqwest::Client,
    pinned: Arc<Mutex<HashMap<(String, NetworkPublicKey), reqwest::Client>>>,
}

impl Default for NodeConnector {
    fn default() -> Self {
        NodeConnector::new()
    }
}

impl NodeConnector {
    /// No pools yet.
    pub fn new() -> Self {
        // Without a TLS configuration the builder has nothing that can fail.
        let plain = walrus_tls::http_client().build().expect("a plain HTTP client builds");
        NodeConnector { plain, pinned: Arc::default() }
    }

    /// A client of the node registered at `address` with `key`. An address that cannot be
    /// used (plain HTTP to another machine) gives a client whose every request fails with
    /// [`crate::NodeError::Unusable`], as a node that cannot be reached does.
    pub fn node(&self, address: &str, key: &NetworkPublicKey) -> NodeClient {
        let base = match walrus_tls::node_base_url(address) {
            Ok(base) => base,
            Err(e) => return NodeClient::unusable(address, e.to_string(), self.plain.clone()),
        };
        if base.starts_with("http://") {
            return NodeClient::new(&base, self.plain.clone());
        }
        let mut pinned = self.pinned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = (address.to_string(), *key);
        if let Some(http) = pinned.get(&entry) {
            return NodeClient::new(&base, http.clone());
        }
        let built = walrus_tls::pinned_client_config(*key).map_err(|e| e.to_string()).and_then(|tls| {
            walrus_tls::http_client().tls_backend_preconfigured(tls).build().map_err(|e| e.to_string())
        });
        match built {
            Ok(http) => {
                pinned.insert(entry, http.clone());
                NodeClient::new(&base, http)
            }
            Err(e) => {
                NodeClient::unusable(address, format!("cannot make a TLS client: {e}"), self.plain.clone())
            }
        }
    }
}
