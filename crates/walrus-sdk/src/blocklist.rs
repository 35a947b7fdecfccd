//! Blob IDs a client refuses to store or read: the reference's `--blocklist`, a YAML list of
//! blob IDs in a file that the operator edits while the service runs.
//!
//! The file is read when the list is loaded (an error then is the caller's to report). A
//! thread of its own then looks at the file every few seconds (5 s by default) and re-reads it
//! when its modification time, length or inode changed; lookups only read the current set and
//! never touch the file. A version that cannot be taken (the file removed, not a list of blob
//! IDs, empty where it was not, or changing while it was read) keeps the previous list and logs
//! a warning. The safe way to edit is to write a new file and rename it over the old one.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime};

use walrus_core::ids::ParseIdError;
use walrus_core::BlobId;

/// Largest blocklist file read (about 370 000 blob IDs).
pub const BLOCKLIST_BYTES_MAX: u64 = 16 << 20;
/// How often the file is looked at by default.
pub const BLOCKLIST_RECHECK: Duration = Duration::from_secs(5);

/// Why a blocklist could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum BlocklistError {
    /// The file cannot be read.
    #[error("cannot read the blocklist {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`BLOCKLIST_BYTES_MAX`].
    #[error("the blocklist {} has {bytes} bytes; at most {BLOCKLIST_BYTES_MAX} are read", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The file changed while it was read.
    #[error("the blocklist {} changed while it was read", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The file became empty (likely a write under way).
    #[error("the blocklist {} is empty (an empty list is written `[]`)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The text is not a list of blob IDs.
    #[error("the blocklist {}: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: ParseError,
    },
    /// The thread that watches the file could not start.
    #[error("cannot start the blocklist's watcher: {0}")]
    Watcher(std::io::Error),
}

/// Why a blocklist's text is not a list of blob IDs.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not a YAML sequence of strings.
    #[error("not a YAML list of blob IDs: {0}")]
    NotAList(serde_yaml::Error),
    /// An entry (counted from 1) is not a blob ID.
    #[error("entry {entry} is not a blob ID: {source}")]
    NotABlobId {
        /// Which entry, from 1.
        entry: usize,
        /// Why.
        source: ParseIdError,
    },
}

/// A shared, reloading set of blocked blob IDs.
#[derive(Debug, Clone)]
pub struct Blocklist {
    ids: Arc<RwLock<Arc<BTreeSet<BlobId>>>>,
}

impl Blocklist {
    /// Reads the blocklist at `path`, a YAML sequence of blob IDs (an empty file is an empty
    /// list), and watches it every [`BLOCKLIST_RECHECK`].
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, BlocklistError> {
        Blocklist::load_with(path, BLOCKLIST_RECHECK)
    }

    /// The same, looking at the file every `interval` (at least every 10 ms).
    pub fn load_with(path: impl Into<PathBuf>, interval: Duration) -> Result<Self, BlocklistError> {
        let path = path.into();
        let (ids, version) = read(&path, true)?;
        let ids = Arc::new(RwLock::new(Arc::new(ids)));
        let watched = Arc::downgrade(&ids);
        let interval = interval.max(Duration::from_millis(10));
        std::thread::Builder::new()
            .name("blocklist".into())
            .spawn(move || watch(&path, watched, version, interval))
            .map_err(BlocklistError::Watcher)?;
        Ok(Blocklist { ids })
    }

    /// Whether `blob_id` is blocked.
    pub fn contains(&self, blob_id: &BlobId) -> bool {
        self.current().contains(blob_id)
    }

    /// How many blob IDs are blocked now.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    /// Whether nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn current(&self) -> Arc<BTreeSet<BlobId>> {
        Arc::clone(&self.ids.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Re-reads the file when it changes, until every [`Blocklist`] of it is gone.
fn watch(path: &Path, ids: Weak<RwLock<Arc<BTreeSet<BlobId>>>>, mut version: Version, interval: Duration) {
    loop {
        std::thread::sleep(interval);
        let Some(ids) = ids.upgrade() else { return };
        if file_version(path).ok() == Some(version) {
            continue;
        }
        let kept = || ids.read().unwrap_or_else(PoisonError::into_inner).len();
        match read(path, false) {
            Ok((fresh, read_version)) => {
                tracing::info!("blocklist {}: {} blob IDs", path.display(), fresh.len());
                *ids.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
                version = read_version;
            }
            Err(e) => tracing::warn!("blocklist kept as it was ({} blob IDs): {e}", kept()),
        }
    }
}

/// A file's modification time, length and inode: what tells that it changed.
type Version = (SystemTime, u64, u64);

fn file_version(path: &Path) -> std::io::Result<Version> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.modified()?, metadata.len(), metadata.ino()))
}

/// The list in the file at `path` and the version it was read at; an empty file is an empty
/// list only if `empty_ok` (when loading: later, an empty file is more likely a write under
/// way, and an empty list is written `[]`).
fn read(path: &Path, empty_ok: bool) -> Result<(BTreeSet<BlobId>, Version), BlocklistError> {
    let path_buf = || path.to_path_buf();
    let unreadable = |source| BlocklistError::Unreadable { path: path_buf(), source };
    let before = file_version(path).map_err(unreadable)?;
    if before.1 > BLOCKLIST_BYTES_MAX {
        return Err(BlocklistError::TooLarge { path: path_buf(), bytes: before.1 });
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    if file_version(path).map_err(unreadable)? != before {
        return Err(BlocklistError::Changed { path: path_buf() });
    }
    if !empty_ok && text.trim().is_empty() {
        return Err(BlocklistError::Empty { path: path_buf() });
    }
    let ids = parse(&text).map_err(|source| BlocklistError::Invalid { path: path_buf(), source })?;
    Ok((ids, before))
}

/// The blob IDs of a blocklist's text: a YAML sequence of blob IDs (URL-safe base64).
pub fn parse(text: &str) -> Result<BTreeSet<BlobId>, ParseError> {
    if text.trim().is_empty() {
        return Ok(BTreeSet::new());
    }
    let entries: Option<Vec<String>> = serde_yaml::from_str(text).map_err(ParseError::NotAList)?;
    entries
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            entry.trim().parse().map_err(|source| ParseError::NotABlobId { entry: index + 1, source })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> BlobId {
        BlobId([byte; 32])
    }

    #[test]
    fn the_file_is_a_yaml_list_of_blob_ids() {
        assert_eq!(parse("").expect("empty"), BTreeSet::new());
        assert_eq!(parse("[]\n").expect("empty list"), BTreeSet::new());
        let text = format!("# blocked by the operator\n- {}\n- \"{}\"\n", id(1), id(2));
        assert_eq!(parse(&text).expect("list"), BTreeSet::from([id(1), id(2)]));
        assert!(matches!(parse("- not-a-blob-id\n"), Err(ParseError::NotABlobId { entry: 1, .. })));
        assert!(parse("blob: x\n").is_err());
    }

    /// Polls `check` for up to 2 s.
    fn soon(check: impl Fn() -> bool) -> bool {
        (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            check()
        })
    }

    #[test]
    fn edits_are_picked_up_and_a_broken_edit_keeps_the_list() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("blocklist.yaml");
        assert!(Blocklist::load(&path).is_err(), "a missing file is an error at load");
        std::fs::write(&path, format!("- {}\n", id(1))).expect("write");
        let list = Blocklist::load_with(&path, Duration::ZERO).expect("loaded");
        assert!(list.contains(&id(1)) && !list.contains(&id(2)));
        // Replaced by rename, as an operator should.
        let next = dir.path().join("next.yaml");
        std::fs::write(&next, format!("- {}\n- {}\n", id(1), id(2))).expect("write");
        std::fs::rename(&next, &path).expect("rename");
        assert!(soon(|| list.contains(&id(2))), "the edit was not picked up");
        // Half-written, emptied, removed: the list stays.
        for broken in ["- half-writ", "", "  \n"] {
            std::fs::write(&path, broken).expect("write");
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(list.len(), 2, "{broken:?} changed the list");
        }
        std::fs::remove_file(&path).expect("removed");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(list.len(), 2);
        std::fs::write(&path, "[]\n").expect("write");
        assert!(soon(|| list.is_empty()), "an explicit empty list was not taken");
    }
}
