//! `walrus bench --seal`: Seal's key fetches on a running network with key servers (the
//! localnet's three). A private policy and one object are made; then `--runs` times, the keys
//! of its identity are fetched from the key servers (a threshold of them, in parallel, each
//! checked against its public key) and the p50 and max are taken; then one key server is
//! asked `--seal-requests` times, 16 requests in flight, for its throughput in requests per
//! second. Every request makes the server read the policy with a proof from the chain.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use walrus_chain::access::PolicyKind;
use walrus_sdk::Client;

/// What a Seal run measured.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealFigures {
    key_servers: usize,
    threshold: usize,
    fetches: usize,
    fetch_p50_ms: f64,
    fetch_max_ms: f64,
    server_requests: usize,
    server_requests_per_s: f64,
}

/// Runs the case (see the module's documentation).
pub fn measure(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    runs: usize,
    requests: usize,
) -> Result<SealFigures> {
    let servers = runtime.block_on(client.key_servers())?;
    if servers.is_empty() {
        bail!("no key servers are registered (a localnet runs three)");
    }
    let threshold = servers.len() / 2 + 1;
    let policy = runtime.block_on(crate::seal_cmd::create_policy(client, PolicyKind::Private))?;
    let object = runtime.block_on(client.seal_encrypt(policy, b"benchmark", threshold))?;
    let session = runtime.block_on(client.seal_session(10))?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let keys = runtime.block_on(client.fetch_keys(&session, (&object.id, None), &servers, threshold))?;
        times.push(started.elapsed());
        if keys.len() < threshold {
            bail!("{} keys of {threshold}", keys.len());
        }
    }
    times.sort();
    let p50 = times[times.len().saturating_sub(1) / 2];

    // One server, `requests` fetches, 16 in flight.
    let (session, identity) = (std::sync::Arc::new(session), std::sync::Arc::new(object.id.clone()));
    let one = vec![servers[0].clone()];
    let started = Instant::now();
    runtime.block_on(async {
        type Fetched = Result<Vec<([u8; 32], [u8; 48])>, walrus_sdk::seal::SealClientError>;
        let mut tasks = tokio::task::JoinSet::<Fetched>::new();
        for i in 0..requests {
            if i >= 16 {
                tasks
                    .join_next()
                    .await
                    .context("a task")?
                    .context("a fetch task")?
                    .context("a key fetch failed")?;
            }
            let (client, session, identity, one) =
                (client.clone(), session.clone(), identity.clone(), one.clone());
            tasks.spawn(async move { client.fetch_keys(&session, (&identity, None), &one, 1).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.context("a fetch task")?.context("a key fetch failed")?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    let elapsed = started.elapsed();
    Ok(SealFigures {
        key_servers: servers.len(),
        threshold,
        fetches: runs,
        fetch_p50_ms: p50.as_secs_f64() * 1e3,
        fetch_max_ms: times.last().map_or(0.0, Duration::as_secs_f64) * 1e3,
        server_requests: requests,
        server_requests_per_s: requests as f64 / elapsed.as_secs_f64().max(1e-9),
    })
}

/// The figures as Markdown.
pub fn markdown(f: &SealFigures, machine: &str) -> String {
    format!(
        "Measured by `walrus bench --seal` on {machine}: {} key servers, threshold {}.\n\n\
         - key fetch ({} servers in parallel, each key checked): p50 **{:.1} ms**, max {:.1} ms over {} fetches;\n\
         - one key server: **{:.0} requests/s** ({} requests, 16 in flight, each with a proven chain read).\n",
        f.key_servers,
        f.threshold,
        f.threshold,
        f.fetch_p50_ms,
        f.fetch_max_ms,
        f.fetches,
        f.server_requests_per_s,
        f.server_requests,
    )
}
