//! Publishing and updating a site: upload what changed as quilts (a file too large for any
//! quilt as a blob of its own), then record it with `UpdateSite` batches; destroying a site.

use std::path::Path;

use walrus_chain::objects::ObjectBody;
use walrus_chain::site::{Resource, Site, SiteUpdate, QUILT_PATCH_HEADER, SITE_BATCH_MAX};
use walrus_chain::{Call, Frost};
use walrus_chain_client::{check_success, ClientError};
use walrus_core::quilt::{EncodedQuilt, PatchInput, QuiltError};
use walrus_core::{BlobId, EncodingParams, ObjectId};

use super::{plan, read_site_dir, LocalResource, SiteError, WsResources, WS_RESOURCES};
use crate::client::{BlobStoreResult, Client, StoreError, StoreOptions};

/// How to deploy.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// Epochs ahead to store new files for.
    pub epochs_ahead: u32,
    /// The site's name (else `site_name` of `ws-resources.json`, else the directory's name).
    pub site_name: Option<String>,
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployReport {
    /// The site.
    pub site: ObjectId,
    /// Whether it was created now.
    pub created: bool,
    /// Files uploaded.
    pub uploaded_files: usize,
    /// Their bytes.
    pub uploaded_bytes: u64,
    /// The blobs (quilts, or single files) that carried them.
    pub blobs: Vec<BlobId>,
    /// Unencoded bytes of those blobs (a quilt pads its files to whole columns).
    pub blob_bytes: u64,
    /// Resources recorded again with new headers (nothing uploaded).
    pub rerecorded: usize,
    /// Resources removed.
    pub removed: usize,
    /// Files left as they were.
    pub unchanged: usize,
    /// Chain transactions sent (stores and site updates).
    pub transactions: u64,
    /// WAL paid, in FROST (storage, writes and fees).
    pub paid: Frost,
}

/// Why a deploy failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The directory or its configuration.
    #[error(transparent)]
    Site(#[from] SiteError),
    /// Storing files.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A chain read or transaction.
    #[error(transparent)]
    Chain(#[from] ClientError),
    /// The object is not a site this wallet owns.
    #[error("{0} is not a site this wallet owns")]
    NotASite(ObjectId),
}

/// Most bytes of resources one `UpdateSite` carries (a transaction is at most 128 KiB).
const BATCH_BYTES_MAX: usize = 96 * 1024;

impl Client {
    /// Publishes the site in `dir` as a new site, and writes its object ID (and name) back into
    /// its `ws-resources.json`.
    pub async fn publish_site(&self, dir: &Path, options: &SiteOptions) -> Result<DeployReport, DeployError> {
        self.deploy_site(dir, None, options).await
    }

    /// Brings the site `site` to the contents of `dir`, uploading only what changed.
    pub async fn update_site(
        &self,
        dir: &Path,
        site: ObjectId,
        options: &SiteOptions,
    ) -> Result<DeployReport, DeployError> {
        self.deploy_site(dir, Some(site), options).await
    }

    async fn deploy_site(
        &self,
        dir: &Path,
        site: Option<ObjectId>,
        options: &SiteOptions,
    ) -> Result<DeployReport, DeployError> {
        let ws_path = dir.join(WS_RESOURCES);
        let mut ws = WsResources::read(&ws_path)?;
        let local = read_site_dir(dir, &ws)?;
        let me = self.wallet().address();
        let before = self.chain().account(&me).await?.account;
        let (current, existing) = match site {
            Some(id) => (Some(self.owned_site(id).await?), self.chain().site_resources(&id).await?),
            None => (None, Vec::new()),
        };
        let plan = plan(local, &existing);
        let dir_name =
            dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
        let name =
            options.site_name.clone().or_else(|| ws.site_name.clone()).or(dir_name).unwrap_or_default();

        let mut report = DeployReport {
            site: ObjectId([0; 32]),
            created: site.is_none(),
            uploaded_files: plan.upload.len(),
            uploaded_bytes: plan.upload.iter().map(|f| f.data.len() as u64).sum(),
            blobs: Vec::new(),
            blob_bytes: 0,
            rerecorded: plan.rerecord.len(),
            removed: plan.remove.len(),
            unchanged: plan.unchanged,
            transactions: 0,
            paid: Frost::ZERO,
        };
        let mut put = self.upload_files(&plan.upload, options.epochs_ahead, &mut report).await?;
        put.extend(plan.rerecord);

        let metadata = ws.metadata.clone().unwrap_or_default();
        let site = match site {
            Some(id) => id,
            None => {
                let call = Call::CreateSite { name: name.clone(), metadata: metadata.clone() };
                check_success(self.chain().execute(self.wallet(), call).await?)?.effects.created[0]
            }
        };
        report.site = site;
        // Routes, redirects, name and metadata go with the first batch, if they changed.
        let mut first = SiteUpdate { site, ..Default::default() };
        let routes = ws.routes.clone().unwrap_or_default();
        let redirects = ws.redirects.clone().unwrap_or_default();
        first.routes = (current.as_ref().map(|s| &s.routes) != Some(&routes)).then_some(routes);
        first.redirects = (current.as_ref().map(|s| &s.redirects) != Some(&redirects)).then_some(redirects);
        if let Some(current) = &current {
            first.name = (current.name != name).then_some(name.clone());
            first.metadata = (current.metadata != metadata).then_some(metadata);
        }
        for update in batches(first, plan.remove, put) {
            if update == (SiteUpdate { site, ..Default::default() }) {
                continue;
            }
            check_success(self.chain().execute(self.wallet(), Call::UpdateSite(update)).await?)?;
        }

        if ws.object_id != Some(site) || ws.site_name.as_deref() != Some(name.as_str()) {
            ws.object_id = Some(site);
            ws.site_name = Some(name);
            ws.write(&ws_path)?;
        }
        let after = self.chain().account(&me).await?.account;
        report.transactions = after.nonce - before.nonce;
        report.paid = Frost(before.balance.0.saturating_sub(after.balance.0));
        Ok(report)
    }

    /// The site `id`, checked to be owned by this wallet.
    async fn owned_site(&self, id: ObjectId) -> Result<Site, DeployError> {
        let view = self.chain().object(&id).await?;
        match view.object {
            walrus_chain::objects::Object {
                owner: walrus_chain::objects::Owner::Address(owner),
                body: ObjectBody::Site(site),
            } if owner == self.wallet().address() => Ok(site),
            _ => Err(DeployError::NotASite(id)),
        }
    }

    /// Stores `files` as quilts (as blobs, those too large for one) and returns their resources.
    async fn upload_files(
        &self,
        files: &[LocalResource],
        epochs_ahead: u32,
        report: &mut DeployReport,
    ) -> Result<Vec<Resource>, DeployError> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let params = self.network().await.map_err(|e| StoreError::Network(std::sync::Arc::new(e)))?.params;
        let store = StoreOptions { epochs_ahead, deletable: false, ..StoreOptions::default() };
        let mut resources = Vec::new();
        for chunk in quilt_chunks(params, files)? {
            let resource = |file: &LocalResource, blob_id: BlobId| Resource {
                path: file.path.clone(),
                headers: file.headers.clone(),
                blob_id,
                blob_hash: file.hash,
                range: None,
            };
            match chunk {
                Chunk::Quilt(quilt, files) => {
                    report.blob_bytes += quilt.blob.len() as u64;
                    let stored = self.store_encoded_quilt(quilt, store).await?;
                    let blob_id = *stored.blob_store_result.blob_id();
                    report.blobs.push(blob_id);
                    for file in files {
                        let patch = stored.stored_quilt_blobs.iter().find(|p| p.identifier == file.path);
                        let patch = patch.ok_or(StoreError::NoResult)?.patch_id;
                        let mut resource = resource(file, blob_id);
                        resource.headers.insert(
                            QUILT_PATCH_HEADER.into(),
                            format!("0x{}", hex::encode(&patch.to_bytes()[32..])),
                        );
                        resources.push(resource);
                    }
                }
                Chunk::Blob(file) => {
                    report.blob_bytes += file.data.len() as u64;
                    let stored = self.store(file.data.clone(), store).await?;
                    if let BlobStoreResult::MarkedInvalid { blob_id, .. } = stored {
                        return Err(StoreError::Blocked(blob_id).into());
                    }
                    report.blobs.push(*stored.blob_id());
                    resources.push(resource(file, *stored.blob_id()));
                }
            }
        }
        Ok(resources)
    }

    /// Removes every resource of the site `id` (in batches), then the site; returns the number
    /// of transactions. The blobs stay stored until they expire.
    pub async fn destroy_site(&self, id: ObjectId) -> Result<usize, DeployError> {
        self.owned_site(id).await?;
        let paths = self.chain().site_resources(&id).await?.into_iter().map(|r| r.path).collect();
        let mut sent = 0;
        for update in batches(SiteUpdate { site: id, ..Default::default() }, paths, Vec::new()) {
            if update.remove.is_empty() {
                continue;
            }
            check_success(self.chain().execute(self.wallet(), Call::UpdateSite(update)).await?)?;
            sent += 1;
        }
        check_success(self.chain().execute(self.wallet(), Call::DestroySite { site: id }).await?)?;
        Ok(sent + 1)
    }
}

/// Files as they go to Walrus.
enum Chunk<'a> {
    /// Some files in one quilt.
    Quilt(EncodedQuilt, Vec<&'a LocalResource>),
    /// A file too large for a quilt, alone.
    Blob(&'a LocalResource),
}

/// Splits `files` into quilts the network can hold: all in one if they fit, else halves.
fn quilt_chunks(params: EncodingParams, files: &[LocalResource]) -> Result<Vec<Chunk<'_>>, StoreError> {
    let as_quilt = |files: &[LocalResource]| {
        let inputs = files
            .iter()
            .map(|f| PatchInput { identifier: f.path.clone(), tags: Default::default(), data: &f.data })
            .collect();
        walrus_core::quilt::encode_quilt(params, inputs)
    };
    let mut chunks = Vec::new();
    let mut pending = vec![files];
    while let Some(part) = pending.pop() {
        match as_quilt(part) {
            Ok(quilt) => chunks.push(Chunk::Quilt(quilt, part.iter().collect())),
            Err(QuiltError::TooManyPatches { .. } | QuiltError::TooLarge { .. } | QuiltError::Index(_))
                if part.len() > 1 =>
            {
                let (a, b) = part.split_at(part.len() / 2);
                pending.extend([b, a]);
            }
            Err(QuiltError::TooLarge { .. } | QuiltError::PatchTooLarge { .. }) => {
                chunks.push(Chunk::Blob(&part[0]))
            }
            Err(e) => return Err(StoreError::Quilt(e)),
        }
    }
    Ok(chunks)
}

/// The updates that remove `remove` and put `put`, in batches within the call's and the
/// transaction's limits; `first` (with the site's other changes) is the first batch. Always at
/// least one batch.
fn batches(first: SiteUpdate, remove: Vec<String>, put: Vec<Resource>) -> Vec<SiteUpdate> {
    let site = first.site;
    let mut out = vec![first];
    let mut bytes = 0;
    let ops = remove.into_iter().map(Err).chain(put.into_iter().map(Ok));
    for op in ops {
        let size = match &op {
            Err(path) => path.len() + 8,
            Ok(r) => bcs::to_bytes(r).map(|b| b.len()).unwrap_or(BATCH_BYTES_MAX),
        };
        let last = out.last_mut().expect("one batch at least");
        if last.remove.len() + last.put.len() >= SITE_BATCH_MAX || bytes + size > BATCH_BYTES_MAX {
            out.push(SiteUpdate { site, ..Default::default() });
            bytes = 0;
        }
        let last = out.last_mut().expect("one batch at least");
        match op {
            Err(path) => last.remove.push(path),
            Ok(resource) => last.put.push(resource),
        }
        bytes += size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: String) -> Resource {
        Resource {
            path,
            headers: Default::default(),
            blob_id: BlobId([0; 32]),
            blob_hash: [0; 32],
            range: None,
        }
    }

    #[test]
    fn batches_stay_within_the_call_and_byte_limits() {
        let site = ObjectId([1; 32]);
        let put: Vec<Resource> = (0..2500).map(|i| resource(format!("/{i}"))).collect();
        let remove: Vec<String> = (0..10).map(|i| format!("/old/{i}")).collect();
        let out = batches(SiteUpdate { site, ..Default::default() }, remove, put);
        assert!(out.len() >= 3);
        assert_eq!(out.iter().map(|b| b.put.len() + b.remove.len()).sum::<usize>(), 2510);
        for batch in &out {
            assert_eq!(batch.site, site);
            assert!(batch.put.len() + batch.remove.len() <= SITE_BATCH_MAX);
            assert!(bcs::to_bytes(batch).expect("bcs").len() <= 100 * 1024);
        }
        let big = resource(format!("/{}", "x".repeat(1000)));
        let out = batches(SiteUpdate { site, ..Default::default() }, Vec::new(), vec![big; 300]);
        assert!(out.iter().all(|b| bcs::to_bytes(b).expect("bcs").len() <= 100 * 1024), "{}", out.len());
        assert_eq!(batches(SiteUpdate { site, ..Default::default() }, Vec::new(), Vec::new()).len(), 1);
    }
}
