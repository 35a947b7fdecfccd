//! `walrus bench --site`: Walrus Sites on a running network with its portal (the localnet's).
//! A site of `--site-files` files (an `index.html` linking ten of them, and files of
//! `--quilt-file-size` fresh random bytes) is published, against one store per file as the
//! baseline; one file is changed and the site updated; the first page (the index and the ten
//! files it links) is loaded through the portal cold and warm. Wall time, WAL paid (the
//! wallet's balance before and after) and chain transactions (its nonce) for each.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use walrus_chain::site::base36;
use walrus_core::splitmix::splitmix_bytes;
use walrus_sdk::site::{DeployReport, SiteOptions};
use walrus_sdk::{Client, StoreOptions};

/// Files the first page links (loaded with it).
const LINKED: usize = 10;

/// What a site run measured.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteFigures {
    files: usize,
    file_size: u64,
    n_shards: u16,
    publish_s: f64,
    publish_frost: u64,
    publish_transactions: u64,
    publish_blobs: usize,
    separate_s: f64,
    separate_frost: u64,
    separate_transactions: u64,
    update_s: f64,
    update_uploaded_files: usize,
    update_uploaded_bytes: u64,
    update_frost: u64,
    update_transactions: u64,
    first_page_cold_s: f64,
    first_page_warm_s: f64,
    first_page_bytes: u64,
}

/// The wallet's balance and nonce.
fn account(runtime: &tokio::runtime::Runtime, client: &Client) -> Result<(u64, u64)> {
    let account = runtime.block_on(client.chain().account(&client.wallet().address()))?.account;
    Ok((account.balance.0, account.nonce))
}

fn write_site(dir: &Path, files: usize, len: usize, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir.join("assets"))?;
    let links: String =
        (1..=LINKED.min(files - 1)).map(|i| format!("<img src=\"/assets/file-{i:05}.bin\">\n")).collect();
    std::fs::write(dir.join("index.html"), format!("<!doctype html><title>bench</title>\n{links}"))?;
    for i in 1..files {
        std::fs::write(
            dir.join(format!("assets/file-{i:05}.bin")),
            splitmix_bytes(seed.wrapping_add(i as u64), len),
        )?;
    }
    Ok(())
}

/// The bytes of `url`, asked for with the site's `host`.
async fn fetch(http: reqwest::Client, url: String, host: String) -> Result<u64> {
    let response = http.get(&url).header("host", host).send().await?;
    if !response.status().is_success() {
        bail!("the portal answered {} for {url}", response.status());
    }
    Ok(response.bytes().await?.len() as u64)
}

/// Loads `/` and then the files it links at once, as a browser does, through the portal at
/// `portal` (`http://localhost:PORT`) for the site `label`; returns the time and the bytes.
async fn first_page(portal: &str, label: &str) -> Result<(f64, u64)> {
    let port = portal.rsplit(':').next().context("the portal URL has no port")?;
    let host = format!("{label}.localhost:{port}");
    let http = walrus_tls::http_client().build()?;
    let started = Instant::now();
    let mut bytes = fetch(http.clone(), format!("http://127.0.0.1:{port}/"), host.clone()).await?;
    let mut assets = tokio::task::JoinSet::new();
    for i in 1..=LINKED {
        let url = format!("http://127.0.0.1:{port}/assets/file-{i:05}.bin");
        assets.spawn(fetch(http.clone(), url, host.clone()));
    }
    while let Some(result) = assets.join_next().await {
        bytes += result??;
    }
    Ok((started.elapsed().as_secs_f64(), bytes))
}

/// A directory removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the case (see the module's documentation); the blobs stay stored (one epoch).
pub fn measure(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    n_shards: u16,
    (files, size): (usize, u64),
    portal: &str,
) -> Result<SiteFigures> {
    if files <= LINKED {
        bail!("--site-files must be more than {LINKED}");
    }
    let len = usize::try_from(size).context("file size")?;
    let seed = u64::from_le_bytes(walrus_chain_node::init::random_seed()?[..8].try_into().context("seed")?);
    let dir = ScratchDir(std::env::temp_dir().join(format!("walrus-bench-site-{seed:016x}")));
    write_site(dir.path(), files, len, seed)?;
    let options = SiteOptions { epochs_ahead: 1, site_name: Some("bench".into()) };

    let timed = |f: &dyn Fn() -> Result<DeployReport>| -> Result<(DeployReport, f64)> {
        let started = Instant::now();
        Ok((f()?, started.elapsed().as_secs_f64()))
    };
    let (published, publish_s) = timed(&|| Ok(runtime.block_on(client.publish_site(dir.path(), &options))?))?;
    eprintln!("published {files} files in {publish_s:.2} s: {published:?}");
    let label = base36::encode(&published.site);
    let (first_page_cold_s, first_page_bytes) = runtime.block_on(first_page(portal, &label))?;
    let (first_page_warm_s, _) = runtime.block_on(first_page(portal, &label))?;

    std::fs::write(dir.path().join("assets/file-00001.bin"), splitmix_bytes(!seed, len))?;
    let site = published.site;
    let (update, update_s) =
        timed(&|| Ok(runtime.block_on(client.update_site(dir.path(), site, &options))?))?;
    eprintln!("updated one file in {update_s:.2} s: {update:?}");

    let (balance, nonce) = account(runtime, client)?;
    let store = StoreOptions { force: true, ..StoreOptions::default() };
    let started = Instant::now();
    for i in 0..files {
        let data = splitmix_bytes(seed.wrapping_add(i as u64) ^ 0x5eed, len);
        runtime.block_on(client.store(data, store)).context("a separate store failed")?;
    }
    let separate_s = started.elapsed().as_secs_f64();
    let (after_balance, after_nonce) = account(runtime, client)?;
    eprintln!("{files} separate stores in {separate_s:.2} s");
    Ok(SiteFigures {
        files,
        file_size: size,
        n_shards,
        publish_s,
        publish_frost: published.paid.0,
        publish_transactions: published.transactions,
        publish_blobs: published.blobs.len(),
        separate_s,
        separate_frost: balance.saturating_sub(after_balance),
        separate_transactions: after_nonce - nonce,
        update_s,
        update_uploaded_files: update.uploaded_files,
        update_uploaded_bytes: update.uploaded_bytes,
        update_frost: update.paid.0,
        update_transactions: update.transactions,
        first_page_cold_s,
        first_page_warm_s,
        first_page_bytes,
    })
}

/// The figures as Markdown.
pub fn markdown(f: &SiteFigures, machine: &str) -> String {
    format!(
        "Measured by `walrus bench --site` (n = {} shards) on {machine}: a site of {} files of {} B.\n\n\
         | | Wall time | WAL paid (FROST) | Chain transactions |\n|---|---|---|---|\n\
         | `walrus site publish` ({} quilts) | {:.2} s | {} | {} |\n\
         | {} separate stores | {:.2} s | {} | {} |\n\
         | ratio | {:.1}x | {:.1}x | {:.1}x |\n\
         | update of one file ({} uploaded, {} B) | {:.2} s | {} | {} |\n\n\
         First page through the portal (the index and the {LINKED} files it links, {} B): {:.0} ms cold, \
         {:.0} ms warm.\n",
        f.n_shards,
        f.files,
        f.file_size,
        f.publish_blobs,
        f.publish_s,
        f.publish_frost,
        f.publish_transactions,
        f.files,
        f.separate_s,
        f.separate_frost,
        f.separate_transactions,
        f.separate_s / f.publish_s.max(1e-9),
        f.separate_frost as f64 / f.publish_frost.max(1) as f64,
        f.separate_transactions as f64 / f.publish_transactions.max(1) as f64,
        f.update_uploaded_files,
        f.update_uploaded_bytes,
        f.update_s,
        f.update_frost,
        f.update_transactions,
        f.first_page_bytes,
        f.first_page_cold_s * 1e3,
        f.first_page_warm_s * 1e3,
    )
}
