//! `walrus site`: publish a directory as a Walrus Site, update it (only what changed is
//! uploaded), show its sitemap, list and destroy sites, and register names for portals.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;
use walrus_chain::objects::ObjectBody;
use walrus_chain::site::base36;
use walrus_chain::Call;
use walrus_chain_client::check_success;
use walrus_core::ObjectId;
use walrus_sdk::site::{DeployReport, SiteOptions, WsResources, WS_RESOURCES};
use walrus_sdk::Client;

use crate::config::ClientConfig;
use crate::epochs::epochs_ahead;
use crate::wallet::{print, Account};
use crate::GlobalArgs;

/// `walrus site …`
#[derive(Debug, clap::Subcommand)]
pub enum SiteCommand {
    /// Publish a directory as a new site (files stored as quilts); writes the site's object ID
    /// into the directory's `ws-resources.json`.
    Publish(PublishArgs),
    /// Bring a site to a directory's contents: only changed files are uploaded.
    Update(UpdateArgs),
    /// List a site's resources, routes and redirects.
    Sitemap(IdArgs),
    /// Remove a site's resources and delete it (its blobs stay until they expire).
    Destroy(IdArgs),
    /// List the wallet's sites.
    List(ListArgs),
    /// Register names that portals resolve (`http://NAME.localhost:PORT/`).
    #[command(subcommand)]
    Name(NameCommand),
    /// Print a site's object ID as the base36 label portals read (and back).
    Convert {
        /// `0x…` hex or a base36 label.
        id: String,
    },
}

/// `walrus site name …`
#[derive(Debug, clap::Subcommand)]
pub enum NameCommand {
    /// Point NAME at a site (registering it to the wallet if it is free).
    Set {
        /// A DNS label: 1 to 40 of a-z, 0-9 and '-', from a letter.
        name: String,
        /// The site.
        site: ObjectId,
        #[command(flatten)]
        account: Account,
    },
    /// Release a name the wallet holds.
    Release {
        /// The name.
        name: String,
        #[command(flatten)]
        account: Account,
    },
}

/// `walrus site publish`
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    deploy: DeployArgs,
}

/// `walrus site update`
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// The site [default: `object_id` of the directory's ws-resources.json].
    #[arg(long)]
    object_id: Option<ObjectId>,
    #[command(flatten)]
    deploy: DeployArgs,
}

/// What publish and update take.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The site's directory.
    dir: PathBuf,
    /// Epochs ahead to store new or changed files for: a number, or `max`.
    #[arg(long, default_value = "1")]
    epochs: String,
    /// The site's name [default: `site_name` of ws-resources.json, else the directory's name].
    #[arg(long)]
    site_name: Option<String>,
    #[command(flatten)]
    account: Account,
}

/// A site by its object ID.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The site's object ID (`0x…` or base36).
    site: String,
    #[command(flatten)]
    account: Account,
}

/// `walrus site list`
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    account: Account,
}

/// Runs a `walrus site` command.
pub fn run(command: SiteCommand, global: &GlobalArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match command {
        SiteCommand::Publish(PublishArgs { deploy: args }) => {
            let client = client(&args.account, global)?;
            let options = options(&runtime, &client, &args.epochs, args.site_name)?;
            let report = runtime.block_on(client.publish_site(&args.dir, &options))?;
            render(&report, global)
        }
        SiteCommand::Update(UpdateArgs { object_id, deploy: args }) => {
            let client = client(&args.account, global)?;
            let ws = args.dir.join(WS_RESOURCES);
            let site = match object_id {
                Some(id) => id,
                None => WsResources::read(&ws)?
                    .object_id
                    .with_context(|| format!("no --object-id, and no object_id in {}", ws.display()))?,
            };
            let options = options(&runtime, &client, &args.epochs, args.site_name)?;
            let report = runtime.block_on(client.update_site(&args.dir, site, &options))?;
            render(&report, global)
        }
        SiteCommand::Sitemap(args) => sitemap(&runtime, &args, global),
        SiteCommand::Destroy(args) => {
            let client = client(&args.account, global)?;
            let site = parse_site(&args.site)?;
            let transactions = runtime.block_on(client.destroy_site(site))?;
            print(global.json, json!({ "site": site.to_string(), "transactions": transactions }), || {
                format!("Destroyed site {site} ({transactions} transactions)")
            });
            Ok(())
        }
        SiteCommand::List(args) => list(&runtime, &args, global),
        SiteCommand::Name(command) => name(&runtime, command, global),
        SiteCommand::Convert { id } => {
            let site = parse_site(&id)?;
            let label = base36::encode(&site);
            print(global.json, json!({ "objectId": site.to_string(), "base36": label }), || {
                format!("{site}\n{label}")
            });
            Ok(())
        }
    }
}

fn client(account: &Account, global: &GlobalArgs) -> Result<Client> {
    let network = account.resolve(global)?;
    Ok(Client::new(&network.chain_url, network.key()?))
}

fn options(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    epochs: &str,
    site_name: Option<String>,
) -> Result<SiteOptions> {
    let system = runtime.block_on(client.chain().system())?.system;
    Ok(SiteOptions { epochs_ahead: epochs_ahead(epochs, &system)?, site_name })
}

/// A site's ID from `0x…` hex or a base36 label.
fn parse_site(text: &str) -> Result<ObjectId> {
    if let Ok(id) = text.parse() {
        return Ok(id);
    }
    base36::decode(text).with_context(|| format!("{text:?} is neither a 0x object ID nor a base36 one"))
}

/// The address of the site `label` (base36 ID or name) on the configured portal, if any.
fn portal_url(global: &GlobalArgs, label: &str) -> Option<String> {
    let portal = ClientConfig::find(global.config.as_deref(), global.context.as_deref()).ok()?.portal_url?;
    let (scheme, host) = portal.split_once("://")?;
    Some(format!("{scheme}://{label}.{host}/"))
}

fn render(report: &DeployReport, global: &GlobalArgs) -> Result<()> {
    let url = portal_url(global, &base36::encode(&report.site));
    let value = json!({
        "site": report.site.to_string(),
        "base36": base36::encode(&report.site),
        "created": report.created,
        "uploadedFiles": report.uploaded_files,
        "uploadedBytes": report.uploaded_bytes,
        "blobs": report.blobs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "blobBytes": report.blob_bytes,
        "rerecorded": report.rerecorded,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "transactions": report.transactions,
        "paidFrost": report.paid.0,
        "url": url,
    });
    print(global.json, value, || {
        let verb = if report.created { "Published" } else { "Updated" };
        let mut text = format!(
            "{verb} site {}\n  uploaded {} files ({} B) in {} blobs ({} B); {} re-recorded, {} removed, {} unchanged\n  {} transactions, paid {} FROST",
            report.site,
            report.uploaded_files,
            report.uploaded_bytes,
            report.blobs.len(),
            report.blob_bytes,
            report.rerecorded,
            report.removed,
            report.unchanged,
            report.transactions,
            report.paid.0,
        );
        text.push_str(&format!("\n  base36 {}", base36::encode(&report.site)));
        if let Some(url) = url {
            text.push_str(&format!("\n  browse {url}"));
        }
        text
    });
    Ok(())
}

fn sitemap(runtime: &tokio::runtime::Runtime, args: &IdArgs, global: &GlobalArgs) -> Result<()> {
    let network = args.account.resolve(global)?;
    let chain = walrus_chain_client::ChainClient::new(&network.chain_url);
    let id = parse_site(&args.site)?;
    let view = runtime.block_on(chain.object(&id))?;
    let ObjectBody::Site(site) = view.object.body else { bail!("{id} is not a site") };
    let resources = runtime.block_on(chain.site_resources(&id))?;
    let value = json!({ "site": site, "resources": resources });
    print(global.json, value, || {
        let mut text = format!("Site {id} {:?}: {} resources", site.name, resources.len());
        for r in &resources {
            let patch = r.quilt_patch().map(|(s, e)| format!(" patch {s}..{e}")).unwrap_or_default();
            text.push_str(&format!(
                "\n  {}  blob {}{patch}  sha256 {}",
                r.path,
                r.blob_id,
                hex::encode(r.blob_hash)
            ));
        }
        for (pattern, path) in &site.routes {
            text.push_str(&format!("\n  route {pattern} -> {path}"));
        }
        for (pattern, r) in &site.redirects {
            text.push_str(&format!("\n  redirect {pattern} -> {} ({})", r.location, r.status_code));
        }
        text
    });
    Ok(())
}

fn list(runtime: &tokio::runtime::Runtime, args: &ListArgs, global: &GlobalArgs) -> Result<()> {
    let client = client(&args.account, global)?;
    let objects = runtime.block_on(client.chain().owned_objects(&client.wallet().address()))?;
    let sites: Vec<_> = objects
        .into_iter()
        .filter_map(|o| match o.object.body {
            ObjectBody::Site(site) => Some(site),
            _ => None,
        })
        .collect();
    let value = json!(sites
        .iter()
        .map(|s| json!({ "id": s.id.to_string(), "base36": base36::encode(&s.id), "name": s.name, "resources": s.resources }))
        .collect::<Vec<_>>());
    print(global.json, value, || {
        let mut text = format!("{} sites", sites.len());
        for s in &sites {
            text.push_str(&format!(
                "\n  {} {:?} ({} resources) {}",
                s.id,
                s.name,
                s.resources,
                base36::encode(&s.id)
            ));
        }
        text
    });
    Ok(())
}

fn name(runtime: &tokio::runtime::Runtime, command: NameCommand, global: &GlobalArgs) -> Result<()> {
    let (account, name, site) = match command {
        NameCommand::Set { name, site, account } => (account, name, Some(site)),
        NameCommand::Release { name, account } => (account, name, None),
    };
    walrus_chain::site::check_name(&name).map_err(|e| anyhow::anyhow!("{name:?}: {e}"))?;
    let client = client(&account, global)?;
    let call = Call::SetSiteName { name: name.clone(), site };
    check_success(runtime.block_on(client.chain().execute(client.wallet(), call))?)?;
    let url = site.and_then(|_| portal_url(global, &name));
    print(
        global.json,
        json!({ "name": name, "site": site.map(|s| s.to_string()), "url": url }),
        || match site {
            Some(site) => {
                format!("{name} -> {site}{}", url.map(|u| format!("\n  browse {u}")).unwrap_or_default())
            }
            None => format!("Released {name}"),
        },
    );
    Ok(())
}

/// `walrus portal`
#[derive(Debug, clap::Args)]
pub struct PortalArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3000")]
    bind: std::net::SocketAddr,
    /// The aggregator that serves the sites' bytes.
    #[arg(long, default_value = "http://127.0.0.1:31415")]
    aggregator: String,
    /// The portal's domain: sites are served at `http://SITE.DOMAIN:PORT/`.
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// A file of sites not to serve: object IDs (hex or base36) or names, one per line (`#`
    /// starts a comment).
    #[arg(long)]
    blocklist: Option<PathBuf>,
    /// Largest resource served, in MiB.
    #[arg(long, default_value_t = 64)]
    max_resource_size: u64,
    #[command(flatten)]
    account: Account,
}

/// Most bytes of a blocklist file.
const BLOCKLIST_BYTES_MAX: u64 = 16 << 20;

/// Runs the portal until Ctrl-C.
pub fn portal(args: PortalArgs, global: &GlobalArgs) -> Result<()> {
    let network = args.account.resolve(global)?;
    let mut config =
        walrus_gateway::portal::PortalConfig::new(args.bind, &network.chain_url, &args.aggregator);
    config.domain = args.domain.trim_matches('.').to_ascii_lowercase();
    config.max_resource_bytes =
        args.max_resource_size.checked_mul(1 << 20).context("--max-resource-size too large")?;
    if let Some(path) = &args.blocklist {
        let size = std::fs::metadata(path).with_context(|| format!("--blocklist {}", path.display()))?.len();
        if size > BLOCKLIST_BYTES_MAX {
            bail!("--blocklist {} is larger than {BLOCKLIST_BYTES_MAX} bytes", path.display());
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("--blocklist {}", path.display()))?;
        for line in
            text.lines().map(|l| l.split('#').next().unwrap_or_default().trim()).filter(|l| !l.is_empty())
        {
            let entry = match line.parse::<ObjectId>() {
                Ok(id) => id.to_string(),
                Err(_) => line.to_ascii_lowercase(),
            };
            config.blocklist.insert(entry);
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let portal = walrus_gateway::portal::start_portal(config).await?;
        let port = portal.addr.port();
        eprintln!(
            "Portal on http://{} serving sites at http://SITE.{}:{port}/ (chain {}, aggregator {}); Ctrl-C to stop",
            portal.addr, args.domain, network.chain_url, args.aggregator
        );
        Ok(portal.run_until(crate::chain::shutdown_signal()).await?)
    })
}
