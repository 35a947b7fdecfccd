//! Reading a blob back: metadata that verifies against the blob ID, then only the primary
//! slivers still missing, systematic ones first, verified per node batch; decoding with the
//! chosen consistency check.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use walrus_chain::system::Committee;
use walrus_chain_client::ClientError;
use walrus_core::decode::{decode_blob, decode_range, rows_for_range, ConsistencyCheck, DecodeError};
use walrus_core::metadata::VerifiedBlobMetadataWithId;
use walrus_core::recovery::{collect_symbols, recover_sliver, targets_per_request, CollectedSymbols};
use walrus_core::sliver::{verify_slivers, UnverifiedSliver, VerifiedSliver, BATCH_READ_BYTES_MAX};
use walrus_core::{BlobId, EncodingParams, ShardIndex, SliverIndex, SliverPairIndex, SliverType};

use crate::client::{Client, Progress};
use walrus_node_client::{NodeClient, NodeError, Reason};

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A chain request failed.
    #[error(transparent)]
    Chain(#[from] ClientError),
    /// No node served metadata that verifies against the blob ID.
    #[error("no storage node served valid metadata for {0} (not stored, expired, or invalid)")]
    NotFound(BlobId),
    /// Not enough verified primary slivers.
    #[error("only {have} of the {need} primary slivers needed were served and verified")]
    NotEnoughSlivers {
        /// Verified slivers.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// The nodes that hold the missing slivers pause serving this blob for a storage challenge
    /// (`CHALLENGE_IN_PROGRESS`), longer than the client waits ([`Client::with_challenge_wait`]).
    #[error(
        "blob {blob_id} is under a storage challenge: its slivers are paused; try again in {retry_after:?}"
    )]
    ChallengePaused {
        /// The blob.
        blob_id: BlobId,
        /// How long the nodes asked to wait.
        retry_after: Duration,
    },
    /// The blob was encoded inconsistently: it has no well-defined content.
    #[error("blob {0} is inconsistently encoded (invalid)")]
    Inconsistent(BlobId),
    /// A byte range reaches past the end of the blob.
    #[error("bytes {start}..{end} are outside the blob's {length} bytes")]
    RangeOutsideBlob {
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The blob's length.
        length: u64,
    },
    /// The blob ID is on this client's blocklist.
    #[error("blob {0} is blocked")]
    Blocked(BlobId),
    /// Decoding failed otherwise.
    #[error("decoding failed: {0}")]
    Decode(#[from] DecodeError),
    /// The blob is not a quilt, or not the quilt the read expected.
    #[error("{0}")]
    Quilt(walrus_core::quilt::QuiltError),
    /// A read task panicked or was cancelled.
    #[error("a read task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Client {
    /// Reads the blob `blob_id` back, with the reference's default consistency check.
    pub async fn read(&self, blob_id: &BlobId) -> Result<Vec<u8>, ReadError> {
        self.read_with(blob_id, ConsistencyCheck::Default).await
    }

    /// Reads the blob `blob_id` back with the given consistency check (`Strict` re-encodes the
    /// blob and compares the blob ID; `Skip` relies on the slivers' own verification).
    pub async fn read_with(&self, blob_id: &BlobId, check: ConsistencyCheck) -> Result<Vec<u8>, ReadError> {
        self.open(blob_id).await?.read(check).await
    }

    /// Waits out a `pause` the nodes named for `blob_id` (its slivers are paused for a storage
    /// challenge), unless the pauses of this read (`waited`) would pass the client's challenge
    /// wait: then [`ReadError::ChallengePaused`].
    pub(crate) async fn wait_for_pause(
        &self,
        blob_id: BlobId,
        pause: Duration,
        waited: &mut Duration,
    ) -> Result<(), ReadError> {
        let pause = pause.max(CHALLENGE_PAUSE_MIN);
        if *waited + pause > self.challenge_wait {
            return Err(ReadError::ChallengePaused { blob_id, retry_after: pause });
        }
        tracing::info!(
            "{blob_id}: its slivers are paused for a storage challenge; asking again in {pause:?}"
        );
        tokio::time::sleep(pause).await;
        *waited += pause;
        Ok(())
    }

    /// Reads and verifies the metadata of `blob_id`: the blob's length is then known, and all
    /// of it or a byte range can be read without fetching the metadata again.
    pub async fn open(&self, blob_id: &BlobId) -> Result<OpenBlob, ReadError> {
        if self.is_blocked(blob_id) {
            return Err(ReadError::Blocked(*blob_id));
        }
        let started = Instant::now();
        let (params, committee) = self.read_committee(blob_id).await?;
        let metadata = self.read_metadata(blob_id, params, &committee).await?;
        tracing::debug!("{blob_id}: metadata at {:?}", started.elapsed());
        let owners = committee
            .members
            .iter()
            .enumerate()
            .flat_map(|(index, member)| member.shards.iter().map(move |shard| (*shard, index)))
            .collect();
        Ok(OpenBlob {
            client: self.clone(),
            committee: Arc::new(committee),
            metadata: Arc::new(metadata),
            owners,
            whole: Arc::default(),
            failed: Arc::default(),
            bounded: false,
        })
    }

    /// The first metadata a member serves that verifies against the blob ID.
    async fn read_metadata(
        &self,
        blob_id: &BlobId,
        params: EncodingParams,
        committee: &Committee,
    ) -> Result<VerifiedBlobMetadataWithId, ReadError> {
        // One member at a time, the next one as soon as a request fails or after
        // `METADATA_HEDGE` without an answer: a hung member delays the read that long, not
        // the request timeout.
        let mut members = committee.members.iter();
        let mut asking = JoinSet::new();
        loop {
            if let Some(member) = members.next() {
                let node = self.nodes.node(&member.network_address, &member.network_public_key);
                let (id, address) = (*blob_id, member.network_address.clone());
                asking.spawn(async move { (address, node.metadata(&id).await) });
            } else if asking.is_empty() {
                return Err(ReadError::NotFound(*blob_id));
            }
            // While members remain, the next is asked if none answers within the hedge.
            let joined = if members.len() > 0 {
                match tokio::time::timeout(METADATA_HEDGE, asking.join_next()).await {
                    Ok(joined) => joined,
                    Err(_) => continue,
                }
            } else {
                asking.join_next().await
            };
            let Some(Ok((address, Ok(unverified)))) = joined else { continue };
            if unverified.blob_id != *blob_id {
                continue;
            }
            if let Ok(verified) = unverified.verify(params) {
                asking.abort_all();
                return Ok(verified);
            }
            tracing::warn!("{address} served metadata of {blob_id} that does not verify");
        }
    }
}

/// A blob whose metadata was read and verified against its blob ID (see [`Client::open`]).
#[derive(Debug, Clone)]
pub struct OpenBlob {
    client: Client,
    committee: Arc<Committee>,
    metadata: Arc<VerifiedBlobMetadataWithId>,
    owners: BTreeMap<ShardIndex, usize>,
    /// The whole blob, once a range read had to decode it: later ranges are cut from it.
    whole: Arc<tokio::sync::OnceCell<Arc<Vec<u8>>>>,
    /// Members that failed, lied or hung during a read of this blob: later reads (a stream's
    /// pieces) do not ask them again.
    failed: Arc<std::sync::Mutex<BTreeSet<usize>>>,
    /// Never decode the whole blob ([`OpenBlob::within_memory`]).
    bounded: bool,
}

/// How long a metadata request runs alone before the next member is asked too.
pub const METADATA_HEDGE: Duration = Duration::from_millis(500);

/// How much longer than the first answer of a round the other members get.
pub const HEDGE_FACTOR: u32 = 4;
/// The least time the other members of a round get after the first answer.
pub const HEDGE_MIN: Duration = Duration::from_secs(2);

/// How long a round of sliver requests waits for a first answer, beyond the transfer time.
pub const SILENCE_BASE: Duration = Duration::from_secs(5);
/// The slowest transfer a silent member is allowed before it counts as hung: 10 MB/s.
pub const SILENCE_RATE: u64 = 10_000_000;

/// How long, in all, a read waits by default ([`Client::with_challenge_wait`]) for members that
/// pause serving the blob's slivers during a storage challenge (they say for how long; a drawn
/// blob is paused until the challenge's deadline, 35 s on a localnet). The rounds of requests
/// between the pauses come on top.
pub const CHALLENGE_WAIT_MAX: Duration = Duration::from_secs(120);
/// The least pause before asking a pausing member again.
const CHALLENGE_PAUSE_MIN: Duration = Duration::from_secs(1);

/// Attempts of a piece of a stream within memory whose rows are not all had, and the first
/// pause between them (doubling).
pub const PIECE_ATTEMPTS: u32 = 4;
const PIECE_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Pieces of a [`OpenBlob::stream`] read at once, beyond the one being sent.
pub const STREAM_READ_AHEAD: usize = 2;

/// The primary slivers gathered for a read so far.
#[derive(Default)]
struct Gathered {
    slivers: BTreeMap<SliverPairIndex, VerifiedSliver>,
    /// Pairs asked for already (served or not).
    tried: BTreeSet<SliverPairIndex>,
    /// Members that failed or lied: not asked again.
    failed: BTreeSet<usize>,
    /// The shortest pause a member asked for while it serves none of the blob's slivers (a
    /// storage challenge): its pairs are asked again after it.
    paused: Option<Duration>,
}

/// One member's answer to a request for slivers.
struct Served {
    /// The slivers that verified.
    found: Vec<(SliverPairIndex, VerifiedSliver)>,
    /// It did not fail, and every sliver it served verified: it may be asked again.
    ask_again: bool,
    /// It pauses serving this blob for a storage challenge, for this long.
    paused: Option<Duration>,
}

impl OpenBlob {
    /// This blob, read in bounded memory: a range whose rows can be neither served nor rebuilt
    /// fails ([`ReadError::NotEnoughSlivers`]) instead of decoding the whole blob, and a
    /// [`OpenBlob::stream`] tries such a piece again (a few times, pausing, asking every
    /// member anew) before it gives up.
    pub fn within_memory(mut self) -> Self {
        self.bounded = true;
        self
    }

    /// The blob ID.
    pub fn blob_id(&self) -> &BlobId {
        self.metadata.blob_id()
    }

    /// The encoding parameters the blob was read with.
    pub fn params(&self) -> EncodingParams {
        self.metadata.params()
    }

    /// The blob's length in bytes.
    pub fn len(&self) -> u64 {
        self.metadata.unencoded_length()
    }

    /// Whether the blob is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole blob, decoded from `n - 2f` primary slivers and checked as `check` says.
    pub async fn read(&self, check: ConsistencyCheck) -> Result<Vec<u8>, ReadError> {
        self.read_gathered(self.gathered(), check).await
    }

    /// Bytes `range` of the blob. Only the systematic primary slivers (rows of the blob) that
    /// hold the range are fetched, each verified against the metadata; no further consistency
    /// check applies, as in the reference. If one of them cannot be had, the read falls back
    /// to decoding the whole blob (with the default check), keeping the slivers already fetched.
    pub async fn read_range(&self, range: Range<u64>) -> Result<Vec<u8>, ReadError> {
        let length = self.len();
        if range.start > range.end || range.end > length {
            return Err(ReadError::RangeOutsideBlob { start: range.start, end: range.end, length });
        }
        if let Some(whole) = self.whole.get() {
            return Ok(whole[range.start as usize..range.end as usize].to_vec());
        }
        let rows = rows_for_range(&self.metadata, &range);
        let mut gathered = self.gathered();
        let mut waited = Duration::ZERO;
        let pairs: Vec<SliverPairIndex> = rows.clone().map(|row| SliverPairIndex(row as u16)).collect();
        let missing = loop {
            let asks = self.pick(&gathered, pairs.iter().copied(), pairs.len());
            self.round(asks, &mut gathered, pairs.len()).await;
            let missing: Vec<SliverPairIndex> =
                pairs.iter().copied().filter(|pair| !gathered.slivers.contains_key(pair)).collect();
            if missing.is_empty() || !self.wait_out_pause(&mut gathered, &mut waited).await? {
                break missing;
            }
        };
        // A few rows missing: rebuilt from recovery symbols, which moves about a row's worth of
        // bytes per row; beyond half the rows, decoding the blob moves less.
        if !missing.is_empty() && missing.len() * 2 <= self.metadata.params().primary_source_symbols() {
            let rebuilt = self.recover_rows(&missing, &gathered.failed).await;
            tracing::debug!(
                "{}: {} of {} missing rows rebuilt",
                self.blob_id(),
                rebuilt.len(),
                missing.len()
            );
            self.client.report(Progress::Recovered { blob_id: *self.blob_id(), slivers: rebuilt.len() });
            gathered.slivers.extend(rebuilt);
        }
        let unserved = missing.iter().filter(|pair| !gathered.slivers.contains_key(pair)).count();
        if unserved == 0 {
            let metadata = Arc::clone(&self.metadata);
            let slivers: Vec<VerifiedSliver> = gathered.slivers.into_values().collect();
            return Ok(decode_range(&metadata, slivers, range)?);
        }
        if self.bounded {
            let need = rows.len();
            tracing::debug!("{}: {unserved} of {need} rows neither served nor rebuilt", self.blob_id());
            return Err(ReadError::NotEnoughSlivers { have: need - unserved, need });
        }
        tracing::debug!("{}: {unserved} rows neither served nor rebuilt; decoding the blob", self.blob_id());
        // Decoded once for every range of this `OpenBlob` (a stream's pieces among them).
        let whole = self
            .whole
            .get_or_try_init(|| async {
                self.read_gathered(gathered, ConsistencyCheck::Default).await.map(Arc::new)
            })
            .await?;
        Ok(whole[range.start as usize..range.end as usize].to_vec())
    }

    /// The secondary slivers `columns` (by sliver index: a quilt's columns), as their symbol
    /// bytes, each verified against the metadata, asked of their owners at once. If an owner
    /// does not serve one, the columns are cut from the whole blob instead, read and decoded
    /// once (the reference also falls back to the whole quilt).
    pub(crate) async fn columns(&self, columns: Range<u16>) -> Result<BTreeMap<u16, Vec<u8>>, ReadError> {
        let mut found = BTreeMap::new();
        let mut waited = Duration::ZERO;
        loop {
            let paused = self.columns_round(columns.clone(), &mut found).await;
            if columns.clone().all(|column| found.contains_key(&column)) {
                return Ok(found);
            }
            // Owners that pause the quilt for a storage challenge are asked again after it.
            let Some(pause) = paused else { break };
            self.client.wait_for_pause(*self.blob_id(), pause, &mut waited).await?;
        }
        tracing::debug!("{}: columns {columns:?} not all served; decoding the blob", self.blob_id());
        let whole = self
            .whole
            .get_or_try_init(|| async {
                self.read_gathered(self.gathered(), ConsistencyCheck::Default).await.map(Arc::new)
            })
            .await?;
        let quilt =
            walrus_core::quilt::QuiltBlob::new(self.metadata.params(), whole).map_err(ReadError::Quilt)?;
        let size = self.column_bytes() as usize;
        columns
            .map(|column| {
                use walrus_core::quilt::QuiltSource as _;
                Ok((column, quilt.read(usize::from(column), 0, size).map_err(ReadError::Quilt)?))
            })
            .collect()
    }

    /// One request per owner of the `columns` not in `found` (and not failed), at once; what
    /// verifies joins `found`. Returns the shortest pause an owner named, if any paused the
    /// blob for a storage challenge.
    async fn columns_round(
        &self,
        columns: Range<u16>,
        found: &mut BTreeMap<u16, Vec<u8>>,
    ) -> Option<Duration> {
        let n = self.metadata.params().n_shards();
        let failed = self.gathered().failed;
        let mut asks: BTreeMap<usize, Vec<SliverPairIndex>> = BTreeMap::new();
        for column in columns.clone().filter(|column| !found.contains_key(column)) {
            let pair = SliverIndex(column).to_pair_index(SliverType::Secondary, n);
            if let Some(member) = self.owners.get(&self.blob_id().shard_for_pair(pair, n)) {
                if !failed.contains(member) {
                    asks.entry(*member).or_default().push(pair);
                }
            }
        }
        let mut tasks = JoinSet::new();
        for (member, pairs) in asks {
            let node = {
                let member = &self.committee.members[member];
                self.client.nodes.node(&member.network_address, &member.network_public_key)
            };
            let metadata = Arc::clone(&self.metadata);
            tasks.spawn(async move {
                (member, slivers_from(&node, &metadata, SliverType::Secondary, pairs).await)
            });
        }
        let bytes = u64::from(columns.end - columns.start) * self.column_bytes();
        let silence = SILENCE_BASE + Duration::from_secs_f64(bytes as f64 / SILENCE_RATE as f64);
        let mut gathered = self.gathered();
        let mut paused: Option<Duration> = None;
        let deadline = Instant::now() + silence;
        while let Ok(Some(joined)) = tokio::time::timeout_at(deadline.into(), tasks.join_next()).await {
            let Ok((member, served)) = joined else { continue };
            for (pair, sliver) in served.found {
                found.insert(pair.to_sliver_index(SliverType::Secondary, n).0, sliver.data().to_vec());
            }
            if let Some(pause) = served.paused {
                paused = shortest(paused, pause);
            }
            if !served.ask_again {
                self.fail(&mut gathered, [member]);
            }
        }
        paused
    }

    /// Bytes of one systematic secondary sliver (a quilt's column): `(n - 2f) * symbol_size`.
    fn column_bytes(&self) -> u64 {
        self.metadata.params().primary_source_symbols() as u64 * u64::from(self.metadata.symbol_size())
    }

    /// A fresh gathering that already skips the members known to have failed.
    fn gathered(&self) -> Gathered {
        let failed = self.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        Gathered { failed, ..Gathered::default() }
    }

    /// Marks `members` failed for this read and for later reads of the blob.
    fn fail(&self, gathered: &mut Gathered, members: impl IntoIterator<Item = usize>) {
        let mut shared = self.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for member in members {
            gathered.failed.insert(member);
            shared.insert(member);
        }
    }

    /// Rebuilds the primary slivers of `pairs` from the recovery symbols of every member not
    /// in `failed`: each symbol is checked against the metadata (a lying member costs bandwidth,
    /// never correctness) and each sliver, decoded from `n - f` of them, against its hash.
    async fn recover_rows(
        &self,
        pairs: &[SliverPairIndex],
        failed: &BTreeSet<usize>,
    ) -> BTreeMap<SliverPairIndex, VerifiedSliver> {
        let n = self.metadata.params().n_shards();
        let targets: Vec<(SliverType, SliverIndex)> = pairs
            .iter()
            .map(|pair| (SliverType::Primary, pair.to_sliver_index(SliverType::Primary, n)))
            .collect();
        let mut tasks = JoinSet::new();
        let (params, symbol_size) = (self.metadata.params(), self.metadata.symbol_size());
        for (index, member) in self.committee.members.iter().enumerate() {
            if failed.contains(&index) {
                continue;
            }
            // Each request's answer fits the node's response cap.
            for chunk in targets.chunks(targets_per_request(params, symbol_size, member.shards.len())) {
                let node = self.client.nodes.node(&member.network_address, &member.network_public_key);
                let (blob_id, chunk) = (*self.blob_id(), chunk.to_vec());
                tasks.spawn(
                    async move { busy_retried(|| node.recovery_symbols(&blob_id, chunk.clone())).await },
                );
            }
        }
        let mut served = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(symbols)) => served.extend(symbols),
                Ok(Err(e)) => tracing::debug!("{}: recovery symbols: {e}", self.blob_id()),
                Err(_) => {}
            }
        }
        let metadata = Arc::clone(&self.metadata);
        let rebuild = move || {
            let mut collected = CollectedSymbols::new();
            collect_symbols(&metadata, &targets, served, &mut collected);
            collected
                .into_iter()
                .filter_map(|((axis, index), symbols)| {
                    let sliver = recover_sliver(&metadata, axis, index, symbols).ok()?;
                    Some((index.to_pair_index(axis, n), sliver))
                })
                .collect()
        };
        tokio::task::spawn_blocking(rebuild).await.unwrap_or_default()
    }

    /// Bytes in a row of the blob (a systematic primary sliver): ranges aligned to it fetch
    /// no sliver twice.
    pub fn row_bytes(&self) -> u64 {
        let params = self.metadata.params();
        (params.secondary_source_symbols() * usize::from(self.metadata.symbol_size())) as u64
    }

    /// Bytes `range` of the blob in order, in pieces of about `piece_bytes` (whole rows), each
    /// a [`OpenBlob::read_range`]; [`STREAM_READ_AHEAD`] pieces are read while one waits to be
    /// taken. The first error ends the stream; so does dropping the receiver, which aborts the
    /// reads under way (a whole decode that a missing row forced runs to its end).
    pub fn stream(&self, range: Range<u64>, piece_bytes: u64) -> mpsc::Receiver<Result<Vec<u8>, ReadError>> {
        let (sender, receiver) = mpsc::channel(1);
        let blob = self.clone();
        tokio::spawn(async move {
            let row = blob.row_bytes().max(1);
            let step = (piece_bytes / row).max(1) * row;
            let mut reads = VecDeque::new();
            let mut next = range.start;
            loop {
                while reads.len() < STREAM_READ_AHEAD && next < range.end {
                    let end = range.end.min((next / step + 1) * step);
                    let part = blob.clone();
                    reads.push_back(tokio::spawn(async move { part.read_piece(next..end).await }));
                    next = end;
                }
                let Some(mut read) = reads.pop_front() else { break };
                // A receiver that goes away (a client that hung up) stops the reads at once.
                let piece = tokio::select! {
                    joined = &mut read => joined.unwrap_or_else(|e| Err(ReadError::Task(e))),
                    () = sender.closed() => {
                        read.abort();
                        break;
                    }
                };
                let failed = piece.is_err();
                if sender.send(piece).await.is_err() || failed {
                    break;
                }
            }
            for read in reads {
                read.abort();
            }
        });
        receiver
    }

    /// A piece of a stream: [`OpenBlob::read_range`], tried again within memory (members that
    /// were busy or slow may serve on a second ask).
    async fn read_piece(&self, range: Range<u64>) -> Result<Vec<u8>, ReadError> {
        let mut pause = PIECE_RETRY_PAUSE;
        for _ in 1..PIECE_ATTEMPTS {
            match self.read_range(range.clone()).await {
                Err(ReadError::NotEnoughSlivers { .. }) if self.bounded => {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    self.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
                }
                other => return other,
            }
        }
        self.read_range(range).await
    }

    /// Asks for up to `count` of `candidates` not tried yet, grouped by owner, skipping failed
    /// members and shards without an owner.
    fn pick(
        &self,
        gathered: &Gathered,
        candidates: impl Iterator<Item = SliverPairIndex>,
        count: usize,
    ) -> BTreeMap<usize, Vec<SliverPairIndex>> {
        let n = self.metadata.params().n_shards();
        let mut asks: BTreeMap<usize, Vec<SliverPairIndex>> = BTreeMap::new();
        let owned = candidates.filter(|pair| !gathered.tried.contains(pair)).filter_map(|pair| {
            let member = *self.owners.get(&self.blob_id().shard_for_pair(pair, n))?;
            (!gathered.failed.contains(&member)).then_some((member, pair))
        });
        for (member, pair) in owned.take(count) {
            asks.entry(member).or_default().push(pair);
        }
        asks
    }

    /// One round of requests, all members at once; what verifies joins `gathered`.
    async fn round(&self, asks: BTreeMap<usize, Vec<SliverPairIndex>>, gathered: &mut Gathered, need: usize) {
        let started = Instant::now();
        let largest = asks.values().map(Vec::len).max().unwrap_or(0) as u64 * self.row_bytes();
        let mut tasks = JoinSet::new();
        let mut waiting: BTreeSet<usize> = BTreeSet::new();
        for (member, pairs) in asks {
            gathered.tried.extend(pairs.iter().copied());
            waiting.insert(member);
            let node = {
                let member = &self.committee.members[member];
                self.client.nodes.node(&member.network_address, &member.network_public_key)
            };
            let metadata = Arc::clone(&self.metadata);
            tasks.spawn(
                async move { (member, slivers_from(&node, &metadata, SliverType::Primary, pairs).await) },
            );
        }
        let blob_id = *self.blob_id();
        // Once a member has answered, the others get `HEDGE_FACTOR` times as long (at least
        // `HEDGE_MIN`); while none has, they get `SILENCE_BASE` plus the time the largest ask
        // takes at `SILENCE_RATE`. A member still silent then is treated as failed, so that a
        // hung node costs a read seconds, not the request timeout; its slivers are sought
        // elsewhere, and the blob's later reads do not ask it.
        let silence = SILENCE_BASE + Duration::from_secs_f64(largest as f64 / SILENCE_RATE as f64);
        let mut deadline = started + silence;
        let mut answered = false;
        loop {
            let joined = match tokio::time::timeout_at(deadline.into(), tasks.join_next()).await {
                Ok(Some(joined)) => joined,
                Ok(None) => return,
                Err(_) => {
                    tracing::debug!("{blob_id}: members {waiting:?} did not answer in time");
                    self.fail(gathered, waiting);
                    tasks.abort_all();
                    return;
                }
            };
            let Ok((member, served)) = joined else { continue };
            waiting.remove(&member);
            if !answered {
                answered = true;
                deadline = started + (started.elapsed() * HEDGE_FACTOR).max(HEDGE_MIN);
            }
            gathered.slivers.extend(served.found);
            if let Some(pause) = served.paused {
                gathered.paused = shortest(gathered.paused, pause);
            }
            let have = gathered.slivers.len().min(need);
            self.client.report(Progress::Slivers { blob_id, have, need });
            if !served.ask_again {
                self.fail(gathered, [member]);
            }
        }
    }

    /// After a round that left slivers missing: if members paused the blob for a storage
    /// challenge, waits the shortest pause they named and makes their pairs askable again
    /// (true); false if none did; [`ReadError::ChallengePaused`] once the client's challenge
    /// wait ([`Client::with_challenge_wait`]) would be passed.
    async fn wait_out_pause(
        &self,
        gathered: &mut Gathered,
        waited: &mut Duration,
    ) -> Result<bool, ReadError> {
        let Some(pause) = gathered.paused.take() else { return Ok(false) };
        self.client.wait_for_pause(*self.blob_id(), pause, waited).await?;
        let Gathered { tried, slivers, .. } = gathered;
        tried.retain(|pair| slivers.contains_key(pair));
        Ok(true)
    }

    /// Gathers `n - 2f` primary slivers (systematic ones first: decoding from them is a copy;
    /// each round asks only for what is still missing), then decodes.
    async fn read_gathered(
        &self,
        mut gathered: Gathered,
        check: ConsistencyCheck,
    ) -> Result<Vec<u8>, ReadError> {
        let started = Instant::now();
        let params = self.metadata.params();
        let need = params.primary_source_symbols();
        let blob_id = *self.blob_id();
        let mut waited = Duration::ZERO;
        loop {
            while gathered.slivers.len() < need {
                let all = (0..params.n_shards()).map(SliverPairIndex);
                let asks = self.pick(&gathered, all, need - gathered.slivers.len());
                if asks.is_empty() {
                    break;
                }
                self.round(asks, &mut gathered, need).await;
            }
            if gathered.slivers.len() >= need {
                break;
            }
            if !self.wait_out_pause(&mut gathered, &mut waited).await? {
                return Err(ReadError::NotEnoughSlivers { have: gathered.slivers.len(), need });
            }
        }
        tracing::debug!("{blob_id}: {} primary slivers at {:?}", gathered.slivers.len(), started.elapsed());
        let metadata = Arc::clone(&self.metadata);
        let slivers = gathered.slivers;
        tokio::task::spawn_blocking(move || decode_blob(&metadata, slivers.into_values(), check))
            .await?
            .map_err(|e| match e {
                DecodeError::InconsistentBlob => ReadError::Inconsistent(blob_id),
                other => ReadError::Decode(other),
            })
    }
}

/// The shorter of a pause so far and a new one.
fn shortest(so_far: Option<Duration>, pause: Duration) -> Option<Duration> {
    Some(so_far.map_or(pause, |other| other.min(pause)))
}

/// Attempts of a request that a node refuses as busy (`TOO_MANY_READS`: it is sending as many
/// bytes as its budget allows), and the first pause between them (doubling). A busy node is
/// not a failed one: the stream's next pieces still ask it.
const BUSY_ATTEMPTS: u32 = 6;
const BUSY_PAUSE: Duration = Duration::from_millis(50);

/// `request`, again after a pause while the node answers that it is busy.
async fn busy_retried<T, F: std::future::Future<Output = Result<T, NodeError>>>(
    request: impl Fn() -> F,
) -> Result<T, NodeError> {
    let mut pause = BUSY_PAUSE;
    for _ in 1..BUSY_ATTEMPTS {
        match request().await {
            Err(NodeError::Refused { status: 503, reason, .. }) if reason != Reason::ChallengeInProgress => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            other => return other,
        }
    }
    request().await
}

/// The `axis` slivers of `pairs` a member serves that verify against the metadata, whether
/// the member may be asked again (it did not fail, and every sliver it served verified), and
/// whether it pauses the blob for a storage challenge (not a failure: asked again after).
async fn slivers_from(
    node: &NodeClient,
    metadata: &Arc<VerifiedBlobMetadataWithId>,
    axis: SliverType,
    pairs: Vec<SliverPairIndex>,
) -> Served {
    let failed = Served { found: Vec::new(), ask_again: false, paused: None };
    let n = metadata.params().n_shards();
    let wanted: Vec<(SliverPairIndex, SliverType)> = pairs.iter().map(|pair| (*pair, axis)).collect();
    let blob_id = metadata.blob_id();
    // A node answers at most BATCH_READ_BYTES_MAX sliver bytes per request.
    let sliver_bytes =
        metadata.params().sliver_size(axis, metadata.unencoded_length()).map_or(1, |size| size.max(1) as u64);
    let per_request = usize::try_from(BATCH_READ_BYTES_MAX / sliver_bytes).unwrap_or(usize::MAX).max(1);
    let mut served = Vec::with_capacity(wanted.len());
    for chunk in wanted.chunks(per_request) {
        match busy_retried(|| node.slivers(blob_id, chunk)).await {
            Ok(part) if part.len() == chunk.len() => served.extend(part),
            Ok(part) => {
                tracing::debug!(
                    "{blob_id}: {} slivers asked of {}, {} answered",
                    chunk.len(),
                    node.base(),
                    part.len()
                );
                return failed;
            }
            Err(NodeError::Refused { reason: Reason::ChallengeInProgress, retry_after, .. }) => {
                tracing::debug!("{blob_id}: {} pauses it for a storage challenge", node.base());
                let paused = Some(retry_after.unwrap_or(CHALLENGE_PAUSE_MIN));
                return Served { found: Vec::new(), ask_again: true, paused };
            }
            Err(e) => {
                tracing::debug!("{blob_id}: {e}");
                return failed;
            }
        }
    }
    let absent = served.iter().filter(|sliver| sliver.is_none()).count();
    if absent > 0 {
        tracing::debug!("{blob_id}: {} lacks {absent} of the {} slivers asked", node.base(), wanted.len());
    }
    let (pairs, slivers): (Vec<SliverPairIndex>, Vec<UnverifiedSliver>) = pairs
        .into_iter()
        .zip(served)
        .filter_map(|(pair, sliver)| sliver.map(|sliver| (pair, sliver)))
        .unzip();
    let indices_match =
        pairs.iter().zip(&slivers).all(|(pair, sliver)| sliver.index == pair.to_sliver_index(axis, n));
    if !indices_match {
        return failed;
    }
    let metadata = Arc::clone(metadata);
    let verified = tokio::task::spawn_blocking(move || verify_slivers(axis, &metadata, slivers)).await;
    let Ok(verified) = verified else { return failed };
    let served = verified.len();
    let good: Vec<(SliverPairIndex, VerifiedSliver)> = pairs
        .into_iter()
        .zip(verified)
        .filter_map(|(pair, verified)| verified.ok().map(|v| (pair, v)))
        .collect();
    let honest = good.len() == served;
    if !honest {
        tracing::debug!(
            "{blob_id}: {} of the slivers {} served fail verification",
            served - good.len(),
            node.base()
        );
    }
    Served { found: good, ask_again: honest, paused: None }
}
