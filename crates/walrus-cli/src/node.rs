//! `walrus node run`: run one storage node.

use std::path::Path;

use anyhow::{Context, Result};
use walrus_node::NodeConfig;

/// `walrus node ...`
#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Run a storage node until interrupted.
    /// Its configuration is the global `--config D/nodes/<i>/node.yaml` (written by
    /// `walrus chain init`).
    Run,
}

/// Runs a `walrus node` command.
pub fn run(command: NodeCommand, config: Option<&Path>) -> Result<()> {
    match command {
        NodeCommand::Run => {
            let config = config.context("`walrus node run` needs --config D/nodes/<i>/node.yaml")?;
            let config = NodeConfig::load(config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let node = walrus_node::start(config).await?;
                let view = node.node.view();
                eprintln!(
                    "storage node {} on http://{} (epoch {}, {} shards); Ctrl-C to stop",
                    node.node.config.name,
                    node.addr,
                    view.epoch,
                    view.shards.len()
                );
                Ok(node.run_until(crate::chain::shutdown_signal()).await?)
            })
        }
    }
}
