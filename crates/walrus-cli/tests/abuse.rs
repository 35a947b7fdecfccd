//! Abuse tests against real processes: each test starts a network of `walrus` processes (a
//! `walrus chain run` and four `walrus node run` on loopback, n = 10 shards, through
//! `common::Network`), attacks node 0 the way a hostile client could, and shows the attack
//! bounded. The node answers what it must (a refusal, a 503, a closed connection). Its resident
//! set (`VmRSS` now, `VmHWM` at its peak, from `/proc/<pid>/status`) stays below 512 MiB, and
//! `GET /v1/health` on a new connection answers within a second throughout.
//!
//! - A batch read naming one sliver 10,000 times: refused whole, 400 `INVALID_BATCH`.
//! - A recovery-symbols request naming one target 2,000 times: 400 `INVALID_RECOVERY_TARGETS`.
//! - 64 uploads that declare the largest body, send 1 MiB of it and go silent: the upload
//!   budget answers 503 beyond what it admits, and the body idle timeout closes the rest.
//! - Up to 10,000 connections holding half a request head: the header read timeout closes them.
//! - Uploads with `?pending=true` for blobs that are never registered: the buffer stops at its
//!   entry cap (`CACHE_SATURATED`).
//! - Shard-sync requests (`POST /v1/migrate/sync_shard`) from a key outside the committee, with
//!   a forged `Authorization`, for another epoch, with a body beyond the small-body limit: each
//!   refused (403, 403, 400, 413); 32 at once from a member asking for every sliver of a shard:
//!   each answered within the sync answer's bound, or 503 `TOO_MANY_READS`.
//! - A blob stored through the CLI during the upload attack: the attacked node holds all its
//!   slivers within 60 s of the attack's end.
//!
//! The tests take turns, one network at a time: they time one process's answers and measure
//! its memory, and the half-open connections use most of this process's file descriptors.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use walrus_core::encode::{compute_metadata, encode_blob};
use walrus_core::keys::{BlsKeyPair, BlsPublicKey};
use walrus_core::messages::{
    ProtocolMessage, SignedMessage, SyncShardRequest, SyncShardRequestV1, SyncShardResponse,
};
use walrus_core::recovery::{RecoveryRequest, RECOVERY_TARGETS_MAX};
use walrus_core::splitmix::splitmix_bytes;
use walrus_core::{BlobId, EncodingParams, Epoch, ShardIndex, SliverIndex, SliverPairIndex, SliverType};
use walrus_node::edge::SMALL_BODY_BYTES_MAX;
use walrus_node::pending::PENDING_ENTRIES_MAX;
use walrus_node::NodeConfig;
use walrus_node_client::client::SYNC_ANSWER_BYTES_MAX;

use common::{walrus, Network};

const NODES: usize = 4;
const SHARDS: u16 = 10;
/// The most resident memory the attacked node may reach, at its peak.
const RSS_MAX: u64 = 512 << 20;
/// How soon the node must answer `/v1/health` during an attack.
const HEALTH_WITHIN: Duration = Duration::from_secs(1);
/// How often health and memory are checked during an attack.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// How long the attacked node may take to hold a blob, after an attack or a store.
const HELD_WITHIN: Duration = Duration::from_secs(60);
/// Slack after a server timeout before the connections it ends must be closed.
const TIMEOUT_SLACK: Duration = Duration::from_secs(2);
/// Connections in the partial-upload attack.
const PARTIAL_UPLOADS: usize = 64;
/// Body bytes each partial upload sends before it goes silent.
const PARTIAL_BODY_BYTES: usize = 1 << 20;
/// Most half-open connections held at once.
const HALF_OPEN_MAX: usize = 10_000;
/// Concurrent clients of the pending flood.
const FLOOD_CLIENTS: u64 = 16;
/// Size of each never-registered blob of the pending flood.
const FLOOD_BLOB_BYTES: usize = 16 << 10;
/// The longest the pending flood runs.
const FLOOD_FOR: Duration = Duration::from_secs(20);

/// One network at a time (see the module docs).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The attacked node: where it listens, its process ID, and the configuration it runs with.
struct Target {
    addr: SocketAddr,
    url: String,
    pid: u32,
    config: NodeConfig,
}

impl Target {
    /// Node `i` of `net`, as its `node.yaml` describes it.
    fn of(net: &Network, i: usize) -> Target {
        let config = NodeConfig::load(&net.dir.join(format!("nodes/{i}/node.yaml"))).expect("node.yaml");
        let addr = config.rest_listen;
        Target { addr, url: format!("http://{addr}"), pid: net.nodes[i].id(), config }
    }
}

/// One test's own network with node 0 as the target. The tests take turns ([`SERIAL`]): the
/// fields drop in order, so the network is gone before the next test may start one.
struct Attack {
    node: Target,
    net: Network,
    tmp: tempfile::TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Attack {
    async fn start() -> Attack {
        let serial = SERIAL.lock().await;
        let tmp = tempfile::tempdir().expect("tempdir");
        // Plain HTTP: the attacks speak raw HTTP/1.
        let net = Network::start_plain(&tmp.path().join("net"), NODES, SHARDS);
        Attack { node: Target::of(&net, 0), net, tmp, _serial: serial }
    }
}

/// An HTTP client that gives up on an answer after 30 s, so a hung node fails a test instead of
/// stalling it.
fn http() -> reqwest::Client {
    walrus_tls::http_client().timeout(Duration::from_secs(30)).build().expect("HTTP client")
}

/// A process's resident set now and at its peak so far, in bytes (`VmRSS`, `VmHWM`).
fn memory(pid: u32) -> (u64, u64) {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).expect("the node process is still alive");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib << 10)
            .unwrap_or_else(|| panic!("no {name} in {path}"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Asserts that the node's resident set, now and at its peak, is below [`RSS_MAX`]; returns
/// the peak.
fn assert_memory_bounded(node: &Target, what: &str) -> u64 {
    let (now, peak) = memory(node.pid);
    assert!(peak < RSS_MAX, "{what}: node RSS peaked at {} MiB (now {} MiB)", peak >> 20, now >> 20);
    peak
}

/// Asserts that the node answers `GET /v1/health` with 200 within [`HEALTH_WITHIN`], on a new
/// connection (a new client, so the accept loop is part of what is timed).
/// The node answers health in time and its memory stayed bounded; returns its peak RSS.
async fn assert_unharmed(node: &Target, what: &str) -> u64 {
    assert_healthy(node, what).await;
    assert_memory_bounded(node, what)
}

async fn assert_healthy(node: &Target, what: &str) {
    let client = walrus_tls::http_client().timeout(HEALTH_WITHIN * 5).build().expect("HTTP client");
    let started = Instant::now();
    let status = client.get(format!("{}/v1/health", node.url)).send().await.map(|r| r.status().as_u16());
    let took = started.elapsed();
    assert!(
        matches!(status, Ok(200)) && took < HEALTH_WITHIN,
        "{what}: /v1/health answered {status:?} after {took:?}"
    );
}

/// Checks health and memory every [`CHECK_EVERY`] until `until`, always at least once;
/// returns how many checks passed.
async fn watch(node: &Target, until: Instant, what: &str) -> usize {
    let mut checks = 0;
    loop {
        assert_unharmed(node, what).await;
        checks += 1;
        if Instant::now() + CHECK_EVERY >= until {
            return checks;
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

/// Sleeps until `at` (not at all if it has passed).
async fn sleep_until(at: Instant) {
    tokio::time::sleep(at.saturating_duration_since(Instant::now())).await;
}

/// An answer's status and, for an error, its reason (`error.details[0].reason`; empty if none).
async fn answer(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    (status, json["error"]["details"][0]["reason"].as_str().unwrap_or_default().to_string())
}

/// Sends `copies` of one POST at once; the status and error reason of each answer.
async fn post_at_once(url: &str, body: Vec<u8>, copies: usize) -> Vec<(u16, String)> {
    let client = http();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..copies {
        let request = client.post(url).body(body.clone());
        tasks.spawn(async move { answer(request.send().await.expect("an answer")).await });
    }
    tasks.join_all().await
}

/// Opens `count` raw connections to `addr`. Each sends `head`, then `body`, then nothing more.
/// A connection the server has already refused may not take the whole body; what the server
/// did with it is checked later, with [`fate`].
fn hold_connections(addr: SocketAddr, count: usize, head: &[u8], body: &[u8]) -> Vec<TcpStream> {
    (0..count)
        .map(|i| {
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("connection {i} of {count} to {addr}: {e}"));
            stream.set_write_timeout(Some(Duration::from_secs(5))).expect("write timeout");
            let _ = stream.write_all(head).and_then(|()| stream.write_all(body));
            stream
        })
        .collect()
}

/// What the server did with a held connection, without waiting: whether it has closed it (end
/// of stream or reset), and the status line of whatever it answered first.
fn fate(stream: &mut TcpStream) -> (bool, String) {
    stream.set_nonblocking(true).expect("non-blocking");
    let (mut answered, mut buf) = (Vec::new(), [0u8; 4096]);
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => answered.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break true,
        }
    };
    let status_line = String::from_utf8_lossy(&answered).lines().next().unwrap_or_default().to_string();
    (closed, status_line)
}

/// The soft limit of open files of process `pid` ("self" for this one), from
/// `/proc/<pid>/limits`.
fn open_files_soft_limit(pid: &str) -> usize {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("/proc/<pid>/limits");
    let soft =
        limits.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(3));
    soft.map_or(usize::MAX, |soft| soft.parse().unwrap_or(usize::MAX))
}

/// How many connections both ends can hold: each process's soft limit of open files, less the
/// files it has open now and 200 to spare, at most [`HALF_OPEN_MAX`].
fn connection_budget(node: &Target) -> usize {
    let spare = |pid: &str| {
        let open = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |fds| fds.count());
        open_files_soft_limit(pid).saturating_sub(open + 200)
    };
    spare("self").min(spare(node.pid.to_string().as_str())).min(HALF_OPEN_MAX)
}

/// A new wallet with 100 WAL from the faucet; returns the CLI flags that name it.
fn fund(tmp: &Path, net: &Network) -> Vec<String> {
    let wallet = tmp.join("wallet.key");
    let wallet = wallet.to_str().expect("utf-8").to_string();
    let account = vec!["--wallet".to_string(), wallet, "--chain-url".to_string(), net.chain_url.clone()];
    cli(&["wallet", "new"], &account);
    cli(&["wallet", "faucet", "--amount", "100"], &account);
    account
}

/// `walrus COMMAND ACCOUNT`; its standard output.
fn cli(command: &[&str], account: &[String]) -> String {
    let args: Vec<&str> = command.iter().copied().chain(account.iter().map(String::as_str)).collect();
    walrus(&args)
}

/// Stores `data` as a permanent blob through the CLI; returns its blob ID.
fn store(tmp: &Path, account: &[String], data: &[u8]) -> BlobId {
    let file = tmp.join("blob.bin");
    std::fs::write(&file, data).expect("write the blob's file");
    let command = ["store", file.to_str().expect("utf-8"), "--epochs", "2", "--permanent", "--json"];
    let stored: serde_json::Value = serde_json::from_str(&cli(&command, account)).expect("JSON");
    let blob_id = stored[0]["blobStoreResult"]["newlyCreated"]["blobObject"]["blobId"].as_str();
    blob_id.unwrap_or_else(|| panic!("not newly created: {stored}")).parse().expect("a blob ID")
}

/// Whether `node` signs the permanent confirmation of `blob_id` within `within`. It signs only
/// once every shard it holds has both slivers. Asks every 250 ms.
async fn holds_blob(node: &Target, blob_id: &BlobId, within: Duration) -> bool {
    let client = http();
    let url = format!("{}/v1/blobs/{blob_id}/confirmation/permanent", node.url);
    let deadline = Instant::now() + within;
    loop {
        if client.get(&url).send().await.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Funds a wallet, stores 1 MiB permanently through the CLI, and waits until `node` holds all
/// its slivers. Returns the blob ID.
async fn store_held_blob(tmp: &Path, net: &Network, node: &Target) -> BlobId {
    let account = fund(tmp, net);
    let blob_id = store(tmp, &account, &splitmix_bytes(1, 1 << 20));
    assert!(holds_blob(node, &blob_id, HELD_WITHIN).await, "the node never held all slivers of {blob_id}");
    blob_id
}

/// The sliver pairs of `blob_id` that sit on `node`'s shards: the pairs whose sliver status
/// it answers. A pair on another node's shard gets 400 `SHARD_NOT_ASSIGNED`.
async fn held_pairs(node: &Target, blob_id: &BlobId) -> Vec<SliverPairIndex> {
    let client = http();
    let mut held = Vec::new();
    for p in 0..SHARDS {
        let url = format!("{}/v1/blobs/{blob_id}/slivers/{p}/primary/status", node.url);
        match answer(client.get(url).send().await.expect("sliver status")).await {
            (200, _) => held.push(SliverPairIndex(p)),
            (400, reason) if reason == "SHARD_NOT_ASSIGNED" => {}
            other => panic!("sliver status of pair {p}: {other:?}"),
        }
    }
    assert!(!held.is_empty(), "the node holds no shard");
    held
}

/// The ID of a blob that is never registered: the metadata's blob ID for 1 KiB of `seed`'s bytes.
fn unregistered_blob_id(seed: u64) -> BlobId {
    let params = EncodingParams::new(u64::from(SHARDS)).expect("params");
    *compute_metadata(params, &splitmix_bytes(seed, 1024)).expect("metadata").blob_id()
}

/// Starts the partial-upload attack on `node`. Each of [`PARTIAL_UPLOADS`] connections sends
/// `PUT /v1/blobs/{blob_id}/slivers` declaring the node's largest body, sends
/// [`PARTIAL_BODY_BYTES`] of it, and goes silent. Returns the connections and the moment the
/// last one went silent.
fn start_partial_uploads(node: &Target, blob_id: &BlobId) -> (Vec<TcpStream>, Instant) {
    let head = format!(
        "PUT /v1/blobs/{blob_id}/slivers HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        node.config.body_bytes_max
    );
    let held =
        hold_connections(node.addr, PARTIAL_UPLOADS, head.as_bytes(), &vec![0x5a_u8; PARTIAL_BODY_BYTES]);
    (held, Instant::now())
}

/// Waits out the body idle timeout after `silent_since`, then asserts that the server is done
/// with every partial upload: it either answered 503 at once (no upload budget left) or has
/// closed the connection.
async fn assert_partial_uploads_ended(node: &Target, mut held: Vec<TcpStream>, silent_since: Instant) {
    let idle = node.config.server.body_idle_timeout();
    sleep_until(silent_since + idle + TIMEOUT_SLACK).await;
    let (mut refused, mut timed_out) = (0, 0);
    for (i, stream) in held.iter_mut().enumerate() {
        let (closed, status_line) = fate(stream);
        if status_line.starts_with("HTTP/1.1 503") {
            refused += 1;
        } else {
            let waited = idle + TIMEOUT_SLACK;
            assert!(
                closed,
                "upload {i} is still open {waited:?} after it went silent (answer: {status_line:?})"
            );
            timed_out += 1;
        }
    }
    eprintln!(
        "partial uploads: {refused} refused at once (503), {timed_out} closed by the body idle timeout"
    );
}

/// A batch read (`POST /v1/blobs/{id}/slivers`) that names one held sliver 10,000 times, sent
/// as eight such requests at once. Each is refused whole with 400 `INVALID_BATCH` before any
/// sliver is read. Answering it would mean 10,000 copies of a sliver of a 1 MiB blob. The same
/// request naming the sliver once is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_read_duplicates_are_refused() {
    let attack = Attack::start().await;
    let (node, net, tmp) = (&attack.node, &attack.net, &attack.tmp);
    let blob_id = store_held_blob(tmp.path(), net, node).await;
    let pair = held_pairs(node, &blob_id).await.first().copied().expect("a held pair");
    let url = format!("{}/v1/blobs/{blob_id}/slivers", node.url);

    let once = bcs::to_bytes(&vec![(pair, SliverType::Primary)]).expect("BCS");
    assert_eq!(post_at_once(&url, once, 1).await, vec![(200, String::new())], "one entry is served");
    let duplicates = bcs::to_bytes(&vec![(pair, SliverType::Primary); 10_000]).expect("BCS");
    for refusal in post_at_once(&url, duplicates, 8).await {
        assert_eq!(refusal, (400, "INVALID_BATCH".to_string()), "10,000 copies of pair {}", pair.0);
    }
    let peak = assert_unharmed(node, "after the duplicate batch reads").await;
    eprintln!("duplicate batch reads refused; node peak RSS {} MiB", peak >> 20);
}

/// A recovery-symbols request (`POST /v1/blobs/{id}/recoverySymbols`) that names one target as
/// many times as a request may carry targets, so that only the repetition is wrong, sent as
/// eight such requests at once. Each is refused with 400 `INVALID_RECOVERY_TARGETS` before any
/// sliver is expanded. The same request naming the target once is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_symbol_duplicates_are_refused() {
    let attack = Attack::start().await;
    let (node, net, tmp) = (&attack.node, &attack.net, &attack.tmp);
    let blob_id = store_held_blob(tmp.path(), net, node).await;
    let url = format!("{}/v1/blobs/{blob_id}/recoverySymbols", node.url);
    let target = (SliverType::Primary, SliverIndex(0));

    let once = bcs::to_bytes(&RecoveryRequest { targets: vec![target] }).expect("BCS");
    assert_eq!(post_at_once(&url, once, 1).await, vec![(200, String::new())], "one target is served");
    let duplicates =
        bcs::to_bytes(&RecoveryRequest { targets: vec![target; RECOVERY_TARGETS_MAX] }).expect("BCS");
    for refusal in post_at_once(&url, duplicates, 8).await {
        assert_eq!(refusal, (400, "INVALID_RECOVERY_TARGETS".to_string()), "{RECOVERY_TARGETS_MAX} copies");
    }
    let peak = assert_unharmed(node, "after the duplicate recovery requests").await;
    eprintln!("duplicate recovery targets refused; node peak RSS {} MiB", peak >> 20);
}

/// 64 raw connections each declare a 64 MiB sliver upload, send 1 MiB and go silent. Together
/// they declare 4 GiB, against an upload budget of 256 MiB. While they are held, the node
/// answers health within a second and stays below 512 MiB. After the body idle timeout, every
/// connection has either been answered 503 at once (the budget was taken) or been closed by the
/// server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_upload_bodies_are_bounded() {
    let attack = Attack::start().await;
    let node = &attack.node;

    let (held, silent_since) = start_partial_uploads(node, &unregistered_blob_id(3));
    let idle = node.config.server.body_idle_timeout();
    let checks =
        watch(node, silent_since + idle.saturating_sub(CHECK_EVERY), "during the partial uploads").await;
    assert_partial_uploads_ended(node, held, silent_since).await;
    let peak = assert_unharmed(node, "after the partial uploads").await;
    eprintln!("{checks} health checks passed during the partial uploads; node peak RSS {} MiB", peak >> 20);
}

/// Up to 10,000 raw connections each send `GET /v1/health HTTP/1.1\r\nHost:` and never finish
/// the head. The number is what both processes' file limits allow, less 200 to spare. While
/// all are held, health answers within a second on a new connection and the node stays below
/// 512 MiB. After the header read timeout, the server has closed every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_bounded() {
    let attack = Attack::start().await;
    let node = &attack.node;
    let count = connection_budget(node);
    let timeout = node.config.server.header_read_timeout();

    let started = Instant::now();
    let mut held = hold_connections(node.addr, count, b"GET /v1/health HTTP/1.1\r\nHost:", &[]);
    let opened = Instant::now();
    // The first connection may be closed from `started + timeout` on; check before that.
    let checks =
        watch(node, started + timeout.saturating_sub(CHECK_EVERY * 2), "during the half-sent heads").await;
    assert!(
        started.elapsed() < timeout,
        "opening {count} connections took {:?}: the checks did not all run while every one was held",
        opened - started
    );
    sleep_until(opened + timeout + TIMEOUT_SLACK).await;
    let open = held.iter_mut().map(fate).filter(|(closed, _)| !closed).count();
    assert_eq!(
        open,
        0,
        "{open} of {count} half-sent heads still open {:?} after the last",
        timeout + TIMEOUT_SLACK
    );
    let peak = assert_unharmed(node, "after the half-sent heads").await;
    eprintln!(
        "{count} half-sent heads held and closed; {checks} health checks passed; node peak RSS {} MiB",
        peak >> 20
    );
}

/// What the pending flood's uploads were answered: 202 (buffered until the registration
/// arrives), 400 `CACHE_SATURATED`, 503 (busy, retry), or anything else (the first 20 kept).
#[derive(Default)]
struct Flood {
    stop: AtomicBool,
    accepted: AtomicUsize,
    saturated: AtomicUsize,
    busy: AtomicUsize,
    unexpected: Mutex<Vec<String>>,
}

impl Flood {
    fn count(&self, path: &str, answered: Result<(u16, String), String>) {
        match answered {
            Ok((202, _)) => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Ok((400, reason)) if reason == "CACHE_SATURATED" => {
                self.saturated.fetch_add(1, Ordering::Relaxed);
            }
            Ok((503, _)) => {
                self.busy.fetch_add(1, Ordering::Relaxed);
            }
            other => {
                let mut unexpected = self.unexpected.lock().expect("lock");
                if unexpected.len() < 20 {
                    unexpected.push(format!("{path}: {other:?}"));
                }
            }
        }
    }
}

/// One client of the pending flood, running until told to stop. It encodes fresh blobs of
/// [`FLOOD_BLOB_BYTES`], none of them registered. For each it uploads the metadata, then the
/// node's slivers on `shards`, all with `?pending=true`.
async fn flood(url: String, shards: Arc<Vec<ShardIndex>>, client: u64, stats: Arc<Flood>) {
    let http = http();
    let params = EncodingParams::new(u64::from(SHARDS)).expect("params");
    let mut seed = 1_000_000 + client;
    while !stats.stop.load(Ordering::Relaxed) {
        let blob = encode_blob(params, &splitmix_bytes(seed, FLOOD_BLOB_BYTES)).expect("encodable");
        seed += FLOOD_CLIENTS;
        let blob_id = *blob.metadata().blob_id();
        let mut uploads = vec![("metadata".to_string(), blob.metadata().metadata_bcs())];
        for shard in shards.iter() {
            let pair = blob_id.pair_for_shard(*shard, SHARDS);
            let (primary, secondary) = blob.sliver_pair(pair);
            uploads.push((format!("slivers/{}/primary", pair.0), primary.to_bcs()));
            uploads.push((format!("slivers/{}/secondary", pair.0), secondary.to_bcs()));
        }
        for (path, body) in uploads {
            let sent =
                http.put(format!("{url}/v1/blobs/{blob_id}/{path}?pending=true")).body(body).send().await;
            let answered = match sent {
                Ok(response) => Ok(answer(response).await),
                Err(e) => Err(e.to_string()),
            };
            stats.count(&path, answered);
        }
    }
}

/// Uploads with `?pending=true`, which the node buffers in memory until the blob's
/// registration arrives, for blobs that are never registered. Sixteen clients send valid
/// metadata and slivers of fresh 16 KiB blobs for 20 s, or until 2 s after the buffer first
/// answers 400 `CACHE_SATURATED`. Each upload is answered 202, `CACHE_SATURATED` or 503. The
/// node buffers no more than its entry cap (nothing expires within the flood), answers health
/// within a second and stays below 512 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_flood_is_bounded() {
    let attack = Attack::start().await;
    let node = &attack.node;
    let probe = unregistered_blob_id(5);
    let pairs = held_pairs(node, &probe).await;
    let shards: Arc<Vec<ShardIndex>> =
        Arc::new(pairs.iter().map(|p| probe.shard_for_pair(*p, SHARDS)).collect());

    let stats = Arc::new(Flood::default());
    let clients: Vec<_> = (0..FLOOD_CLIENTS)
        .map(|c| tokio::spawn(flood(node.url.clone(), Arc::clone(&shards), c, Arc::clone(&stats))))
        .collect();
    let deadline = Instant::now() + FLOOD_FOR;
    let mut saturated_at: Option<Instant> = None;
    loop {
        assert_unharmed(node, "during the pending flood").await;
        if saturated_at.is_none() && stats.saturated.load(Ordering::Relaxed) > 0 {
            saturated_at = Some(Instant::now());
        }
        if Instant::now() >= deadline || saturated_at.is_some_and(|at| at.elapsed() >= Duration::from_secs(2))
        {
            break;
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
    stats.stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("a flood client");
    }

    let unexpected = stats.unexpected.lock().expect("lock").clone();
    assert!(unexpected.is_empty(), "answers other than 202, CACHE_SATURATED and 503: {unexpected:?}");
    let accepted = stats.accepted.load(Ordering::Relaxed);
    assert!(
        accepted <= PENDING_ENTRIES_MAX,
        "the node buffered {accepted} uploads; its cap is {PENDING_ENTRIES_MAX}"
    );
    let peak = assert_unharmed(node, "after the pending flood").await;
    eprintln!(
        "pending flood: {accepted} buffered, {} CACHE_SATURATED, {} busy (503); node peak RSS {} MiB",
        stats.saturated.load(Ordering::Relaxed),
        stats.busy.load(Ordering::Relaxed),
        peak >> 20
    );
}

/// A 1 MiB blob is stored permanently through the CLI while the partial-upload attack holds
/// node 0's upload budget. The store certifies: the client retries the node's 503s, and the
/// other nodes make a quorum. Within 60 s of the attack's end, node 0 holds every sliver of its
/// shards and signs the blob's permanent confirmation, whether from the client's retries or
/// from its own recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_stored_during_an_attack_is_held() {
    let attack = Attack::start().await;
    let (node, net, tmp) = (&attack.node, &attack.net, &attack.tmp);
    let account = fund(tmp.path(), net);

    let (held, silent_since) = start_partial_uploads(node, &unregistered_blob_id(6));
    let (dir, data) = (tmp.path().to_path_buf(), splitmix_bytes(6, 1 << 20));
    let stored = tokio::task::spawn_blocking(move || store(&dir, &account, &data));
    let idle = node.config.server.body_idle_timeout();
    watch(node, silent_since + idle.saturating_sub(CHECK_EVERY), "while a blob is stored during the attack")
        .await;
    let blob_id = stored.await.expect("the store ran");
    assert_partial_uploads_ended(node, held, silent_since).await;

    let ended = Instant::now();
    assert!(
        holds_blob(node, &blob_id, HELD_WITHIN).await,
        "{HELD_WITHIN:?} after the attack, node 0 still lacks slivers of {blob_id}"
    );
    eprintln!("node 0 held the blob stored during the attack {:?} after the attack ended", ended.elapsed());
    assert_unharmed(node, "after the attack").await;
}

/// A signed shard-sync request for every primary sliver of `shard` from the first blob ID on.
fn sync_request(signer: &BlsKeyPair, shard: ShardIndex, epoch: Epoch, count: u64) -> Vec<u8> {
    let body = SyncShardRequest::V1(SyncShardRequestV1 {
        shard_index: shard,
        sliver_type: SliverType::Primary,
        starting_blob_id: BlobId([0; 32]),
        sliver_count: count,
        epoch,
    });
    bcs::to_bytes(&SignedMessage::sign(signer, &ProtocolMessage::new(epoch, body))).expect("BCS")
}

/// Sends `copies` of one shard-sync request at once, naming `requester` in `Authorization`
/// (none if `None`); each answer's status, error reason and body.
async fn sync_at_once(
    url: &str,
    body: Vec<u8>,
    requester: Option<&BlsPublicKey>,
    copies: usize,
) -> Vec<(u16, String, Vec<u8>)> {
    let client = http();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..copies {
        let mut request = client.post(url).body(body.clone());
        if let Some(key) = requester {
            request = request.header("Authorization", key.to_string());
        }
        tasks.spawn(async move {
            let response = request.send().await.expect("an answer");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("the answer's body");
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let reason = json["error"]["details"][0]["reason"].as_str().unwrap_or_default().to_string();
            (status, reason, bytes.to_vec())
        });
    }
    tasks.join_all().await
}

/// Shard sync is for members pulling the shards they gained, so node 0 refuses: a key outside
/// the committee (403 `REQUEST_UNAUTHORIZED`), a request signed by that key but naming node 0's
/// own key in `Authorization` (403), no `Authorization` (403), another epoch (400
/// `INVALID_EPOCH`), a body of more than the small-body limit (413), each sent 32 times at
/// once. Then node 0's own key, a member holding the shard, asks 32 times at once for up to
/// `u64::MAX` slivers: each answer is 200 with the held blob's sliver and no more than the
/// sync answer's bound, or 503 `TOO_MANY_READS` (the response budget). The node answers health
/// in time and stays below 512 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_sync_requests_are_bounded() {
    let attack = Attack::start().await;
    let (node, net, tmp) = (&attack.node, &attack.net, &attack.tmp);
    let blob_id = store_held_blob(tmp.path(), net, node).await;
    let own = walrus_chain_node::init::read_bls(&node.config.bls_key).expect("node 0's BLS key");
    let view = walrus_chain_client::ChainClient::new(&net.chain_url).system().await.expect("system");
    let epoch = view.system.epoch();
    let member = view.system.committee.members.iter().find(|m| m.public_key == *own.public());
    let shard = member.and_then(|m| m.shards.first().copied()).expect("node 0 holds a shard");
    let stranger = BlsKeyPair::from_seed(&[7; 32]);
    let url = format!("{}/v1/migrate/sync_shard", node.url);

    let by_stranger = sync_request(&stranger, shard, epoch, 1_000);
    let refusals = [
        ("a stranger", by_stranger.clone(), Some(stranger.public()), 403, "REQUEST_UNAUTHORIZED"),
        ("a forged Authorization", by_stranger.clone(), Some(own.public()), 403, "REQUEST_UNAUTHORIZED"),
        ("no Authorization", by_stranger, None, 403, "REQUEST_UNAUTHORIZED"),
        (
            "another epoch",
            sync_request(&own, shard, Epoch(epoch.0 + 1), 1_000),
            Some(own.public()),
            400,
            "INVALID_EPOCH",
        ),
        ("a large body", vec![0; SMALL_BODY_BYTES_MAX + 1], Some(own.public()), 413, "BODY_TOO_LARGE"),
    ];
    for (what, body, requester, status, reason) in refusals {
        for (got, got_reason, _) in sync_at_once(&url, body, requester, 32).await {
            assert_eq!((got, got_reason.as_str()), (status, reason), "{what}");
        }
        assert_unharmed(node, what).await;
    }

    let answers =
        sync_at_once(&url, sync_request(&own, shard, epoch, u64::MAX), Some(own.public()), 32).await;
    let mut served = 0;
    for (status, reason, body) in &answers {
        match status {
            200 => {
                let len = body.len();
                assert!(len as u64 <= SYNC_ANSWER_BYTES_MAX, "an answer of {len} bytes");
                let SyncShardResponse::V1(slivers) = bcs::from_bytes(body).expect("a sync answer");
                let ids: Vec<BlobId> = slivers.iter().map(|(id, _)| *id).collect();
                assert_eq!(ids, vec![blob_id], "the shard holds the one stored blob");
                served += 1;
            }
            503 => assert_eq!(reason, "TOO_MANY_READS"),
            _ => panic!("a member's sync answered {status} {reason}"),
        }
    }
    assert!(served > 0, "no sync request was served");
    let peak = assert_unharmed(node, "after the shard-sync requests").await;
    eprintln!("shard sync: {served} of 32 member requests served; node peak RSS {} MiB", peak >> 20);
}
