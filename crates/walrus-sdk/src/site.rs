//! Walrus Sites, the publisher's side (the reference's `site-builder`): a directory and its
//! `ws-resources.json` become resources (path, headers, SHA-256 of the bytes), compared with
//! what a site on chain holds, so that only what changed is uploaded (as quilts) and recorded
//! ([`deploy`]).

mod deploy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use walrus_chain::site::{pattern, Redirect, Resource, SiteMetadata, SITE_RESOURCES_MAX};
use walrus_core::hash::Digest;
use walrus_core::ObjectId;

pub use deploy::{DeployReport, SiteOptions};

/// The configuration file's name in a site's directory; it is never uploaded.
pub const WS_RESOURCES: &str = "ws-resources.json";

/// Largest `ws-resources.json` read.
pub const WS_RESOURCES_BYTES_MAX: u64 = 1 << 20;

/// Largest file of a site (a larger one is refused before anything is uploaded).
pub const SITE_FILE_BYTES_MAX: u64 = 1 << 30;

/// `ws-resources.json` as the reference reads it: every key optional, unknown keys refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsResources {
    /// Headers by path pattern; the most specific matching pattern's headers apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, BTreeMap<String, String>>>,
    /// Routes: pattern → resource path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<BTreeMap<String, String>>,
    /// Redirects: pattern → location and status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirects: Option<BTreeMap<String, Redirect>>,
    /// The site's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<SiteMetadata>,
    /// The site's name (on the site object; names that portals resolve are set apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// The site's object ID, written back after the first publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<ObjectId>,
    /// Path patterns of files not to upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<Vec<String>>,
}

/// Why a site directory cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `ws-resources.json` is not valid.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The directory breaks a limit or a rule.
    #[error("{0}")]
    Invalid(String),
}

impl WsResources {
    /// Reads `path`, or the defaults if there is no such file.
    pub fn read(path: &Path) -> Result<WsResources, SiteError> {
        let config = |reason: String| SiteError::Config { path: path.to_path_buf(), reason };
        let bytes = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WsResources::default()),
            Err(source) => return Err(SiteError::Io { path: path.to_path_buf(), source }),
            Ok(meta) if meta.len() > WS_RESOURCES_BYTES_MAX => {
                return Err(config(format!("larger than {WS_RESOURCES_BYTES_MAX} bytes")))
            }
            Ok(_) => {
                std::fs::read(path).map_err(|source| SiteError::Io { path: path.to_path_buf(), source })?
            }
        };
        let ws: WsResources = serde_json::from_slice(&bytes).map_err(|e| {
            let hint = if e.to_string().contains("site-name") { " (the key is `site_name`)" } else { "" };
            config(format!("{e}{hint}"))
        })?;
        ws.check().map_err(config)?;
        Ok(ws)
    }

    /// Writes the file (pretty JSON, as the reference does).
    pub fn write(&self, path: &Path) -> Result<(), SiteError> {
        let mut text = serde_json::to_string_pretty(self).expect("plain JSON");
        text.push('\n');
        std::fs::write(path, text).map_err(|source| SiteError::Io { path: path.to_path_buf(), source })
    }

    /// Checks the patterns, so that a bad one is refused before anything is uploaded.
    fn check(&self) -> Result<(), String> {
        let patterns = self.headers.iter().flat_map(|h| h.keys());
        let patterns = patterns.chain(self.routes.iter().flat_map(|r| r.keys()));
        let patterns = patterns.chain(self.redirects.iter().flat_map(|r| r.keys()));
        let patterns = patterns.chain(self.ignore.iter().flatten());
        for p in patterns {
            pattern::check(p).map_err(|e| format!("pattern {p:?}: {e}"))?;
        }
        for path in self.routes.iter().flat_map(|r| r.values()) {
            walrus_chain::site::check_path(path).map_err(|e| format!("route target {path:?}: {e}"))?;
        }
        Ok(())
    }

    /// Whether the resource at `path` is left out.
    pub fn is_ignored(&self, path: &str) -> bool {
        self.ignore.iter().flatten().any(|p| pattern::matches(p, path))
    }

    /// The headers of the resource at `path`: those of the most specific matching pattern
    /// (most `/`-separated segments; names in lower case), then `content-encoding: identity`
    /// and a `content-type` from the extension where the site set none.
    pub fn headers_for(&self, path: &str) -> BTreeMap<String, String> {
        let matching = self.headers.iter().flatten().filter(|(p, _)| pattern::matches(p, path));
        let chosen = matching.max_by_key(|(p, _)| p.split('/').count());
        let mut headers: BTreeMap<String, String> = chosen
            .into_iter()
            .flat_map(|(_, h)| h.iter())
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        headers.entry("content-encoding".into()).or_insert_with(|| "identity".into());
        headers.entry("content-type".into()).or_insert_with(|| content_type(path).into());
        headers
    }
}

/// The MIME type of a path by its extension (the reference site-builder's table; the whole
/// file name if it has no extension; unknown: `application/octet-stream`).
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit('.').next().unwrap_or(name);
    match extension {
        "aac" => "audio/aac",
        "abw" => "application/x-abiword",
        "apng" => "image/apng",
        "arc" => "application/x-freearc",
        "avif" => "image/avif",
        "avi" => "video/x-msvideo",
        "azw" => "application/vnd.amazon.ebook",
        "bmp" => "image/bmp",
        "bz" => "application/x-bzip",
        "bz2" => "application/x-bzip2",
        "cda" => "application/x-cdf",
        "csh" => "application/x-csh",
        "css" => "text/css",
        "csv" => "text/csv",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "eot" => "application/vnd.ms-fontobject",
        "epub" => "application/epub+zip",
        "gz" => "application/gzip",
        "gif" => "image/gif",
        "htm" | "html" => "text/html",
        "ico" => "image/vnd.microsoft.icon",
        "ics" => "text/calendar",
        "jar" => "application/java-archive",
        "jpeg" | "jpg" => "image/jpeg",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "jsonld" => "application/ld+json",
        "mid" | "midi" => "audio/midi",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "mpeg" => "video/mpeg",
        "mpkg" => "application/vnd.apple.installer+xml",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "oga" => "audio/ogg",
        "ogv" | "ogg" => "video/ogg",
        "ogx" => "application/ogg",
        "opus" => "audio/opus",
        "otf" => "font/otf",
        "png" => "image/png",
        "pdf" => "application/pdf",
        "php" => "application/x-httpd-php",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "rar" => "application/vnd.rar",
        "rtf" => "application/rtf",
        "sh" => "application/x-sh",
        "svg" => "image/svg+xml",
        "tar" => "application/x-tar",
        "tif" | "tiff" => "image/tiff",
        "ts" => "video/mp2t",
        "ttf" => "font/ttf",
        "txt" => "text/plain",
        "vsd" => "application/vnd.visio",
        "wav" => "audio/wav",
        "weba" => "audio/webm",
        "webm" => "video/webm",
        "webp" => "image/webp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "xhtml" => "application/xhtml+xml",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xml" => "application/xml",
        "xul" => "application/vnd.mozilla.xul+xml",
        "zip" => "application/zip",
        "7z" => "application/x-7z-compressed",
        _ => "application/octet-stream",
    }
}

/// One file of a site directory, ready to compare and upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResource {
    /// Its resource path (`/` and its path in the directory).
    pub path: String,
    /// Its headers.
    pub headers: BTreeMap<String, String>,
    /// SHA-256 of its bytes.
    pub hash: Digest,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// SHA-256 of `data`, as a resource's `blob_hash`.
pub fn sha256(data: &[u8]) -> Digest {
    Sha256::digest(data).into()
}

/// The site in `dir`: every regular file below it (in path order, symbolic links not
/// followed) except `ws-resources.json` at the top and the ignored ones.
pub fn read_site_dir(dir: &Path, ws: &WsResources) -> Result<Vec<LocalResource>, SiteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SiteError::Io { path, source }
    };
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).map_err(io(&at))? {
            let entry = entry.map_err(io(&at))?;
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    let mut resources = Vec::new();
    for file in files {
        let relative = file.strip_prefix(dir).expect("below the directory");
        if relative == Path::new(WS_RESOURCES) {
            continue;
        }
        let parts: Option<Vec<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
        let parts = parts.ok_or_else(|| SiteError::Invalid(format!("{}: not UTF-8", file.display())))?;
        let path = format!("/{}", parts.join("/"));
        if ws.is_ignored(&path) {
            continue;
        }
        walrus_chain::site::check_path(&path).map_err(|e| SiteError::Invalid(format!("{path}: {e}")))?;
        if std::fs::metadata(&file).map_err(io(&file))?.len() > SITE_FILE_BYTES_MAX {
            return Err(SiteError::Invalid(format!("{path}: larger than {SITE_FILE_BYTES_MAX} bytes")));
        }
        let data = std::fs::read(&file).map_err(io(&file))?;
        resources.push(LocalResource { headers: ws.headers_for(&path), hash: sha256(&data), path, data });
        if resources.len() as u64 > SITE_RESOURCES_MAX {
            return Err(SiteError::Invalid(format!("more than {SITE_RESOURCES_MAX} files")));
        }
    }
    resources.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(resources)
}

/// What a deploy must do to bring a site's resources to the directory's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SitePlan {
    /// Files whose bytes the site does not hold at their path: uploaded, then recorded.
    pub upload: Vec<LocalResource>,
    /// Resources whose bytes are on Walrus already but whose record changes (headers): recorded
    /// again with their blob and patch.
    pub rerecord: Vec<Resource>,
    /// Paths the site has and the directory no longer has.
    pub remove: Vec<String>,
    /// Resources that stay as they are.
    pub unchanged: usize,
}

/// Compares the directory's resources with the site's (`existing`): a file is unchanged when
/// the site has its path with its hash (its blob is kept; new headers are recorded again).
pub fn plan(local: Vec<LocalResource>, existing: &[Resource]) -> SitePlan {
    let on_chain: BTreeMap<&str, &Resource> = existing.iter().map(|r| (r.path.as_str(), r)).collect();
    let mut plan = SitePlan::default();
    let mut kept = std::collections::BTreeSet::new();
    for file in local {
        kept.insert(file.path.clone());
        match on_chain.get(file.path.as_str()) {
            Some(old) if old.blob_hash == file.hash => {
                let mut headers = file.headers.clone();
                if let Some(patch) = old.headers.get(walrus_chain::site::QUILT_PATCH_HEADER) {
                    headers.insert(walrus_chain::site::QUILT_PATCH_HEADER.into(), patch.clone());
                }
                if headers == old.headers {
                    plan.unchanged += 1;
                } else {
                    plan.rerecord.push(Resource { headers, ..(*old).clone() });
                }
            }
            _ => plan.upload.push(file),
        }
    }
    plan.remove = existing.iter().filter(|r| !kept.contains(&r.path)).map(|r| r.path.clone()).collect();
    plan
}

#[cfg(test)]
mod tests;
