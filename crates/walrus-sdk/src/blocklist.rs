//! Blob IDs a client refuses to store or read: the reference's `--blocklist`, a YAML list of
//! blob IDs in a file that the operator edits while the service runs.
//!
//! The file is read when the list is loaded (an error then is the caller's to report), and
//! again whenever its modification time or length changes, looked at no more often than
//! [`Blocklist::recheck_every`] says (5 s by default). A later read that fails (the file
//! removed, half-written, or not a list of blob IDs) keeps the previous list and logs a warning:
//! an edit never opens what was blocked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use walrus_core::BlobId;

/// Largest blocklist file read (about 370 000 blob IDs).
pub const BLOCKLIST_BYTES_MAX: u64 = 16 << 20;

/// A shared, reloading set of blocked blob IDs.
#[derive(Debug, Clone)]
pub struct Blocklist {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    ids: Arc<BTreeSet<BlobId>>,
    /// The version of the file the list was read from.
    version: Option<Version>,
    checked: Instant,
    recheck: Duration,
}

impl Blocklist {
    /// Reads the blocklist at `path`: a YAML sequence of blob IDs (an empty file is an empty
    /// list).
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, String> {
        let path = path.into();
        let (ids, version) = read(&path)?;
        let recheck = Duration::from_secs(5);
        let state = State { ids: Arc::new(ids), version, checked: Instant::now(), recheck };
        Ok(Blocklist { inner: Arc::new(Inner { path, state: Mutex::new(state) }) })
    }

    /// This list, looking at its file for changes at most once per `interval`.
    pub fn recheck_every(self, interval: Duration) -> Self {
        if let Ok(mut state) = self.inner.state.lock() {
            state.recheck = interval;
        }
        self
    }

    /// Whether `blob_id` is blocked, after re-reading the file if it changed.
    pub fn contains(&self, blob_id: &BlobId) -> bool {
        self.inner.refresh();
        self.inner.ids().contains(blob_id)
    }

    /// How many blob IDs are blocked now.
    pub fn len(&self) -> usize {
        self.inner.refresh();
        self.inner.ids().len()
    }

    /// Whether nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn ids(&self) -> Arc<BTreeSet<BlobId>> {
        self.state.lock().map(|state| Arc::clone(&state.ids)).unwrap_or_default()
    }

    fn refresh(&self) {
        let Ok(mut state) = self.state.lock() else { return };
        if state.checked.elapsed() < state.recheck {
            return;
        }
        state.checked = Instant::now();
        let now = version(&self.path).ok();
        if now.is_some() && now == state.version {
            return;
        }
        match read(&self.path) {
            Ok((ids, version)) => {
                tracing::info!("blocklist {}: {} blob IDs", self.path.display(), ids.len());
                state.ids = Arc::new(ids);
                state.version = version;
            }
            Err(e) => tracing::warn!("blocklist kept as it was ({} blob IDs): {e}", state.ids.len()),
        }
    }
}

/// A file's modification time and length: what tells that it changed.
type Version = (SystemTime, u64);

fn version(path: &Path) -> std::io::Result<Version> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.modified()?, metadata.len()))
}

fn read(path: &Path) -> Result<(BTreeSet<BlobId>, Option<Version>), String> {
    let shown = path.display();
    let before = version(path).map_err(|e| format!("cannot read the blocklist {shown}: {e}"))?;
    if before.1 > BLOCKLIST_BYTES_MAX {
        return Err(format!(
            "the blocklist {shown} has {} bytes; at most {BLOCKLIST_BYTES_MAX} are read",
            before.1
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the blocklist {shown}: {e}"))?;
    let ids = parse(&text).map_err(|e| format!("the blocklist {shown}: {e}"))?;
    Ok((ids, Some(before)))
}

/// The blob IDs of a blocklist's text: a YAML sequence of blob IDs (URL-safe base64).
pub fn parse(text: &str) -> Result<BTreeSet<BlobId>, String> {
    if text.trim().is_empty() {
        return Ok(BTreeSet::new());
    }
    let entries: Option<Vec<String>> =
        serde_yaml::from_str(text).map_err(|e| format!("not a YAML list of blob IDs: {e}"))?;
    entries
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            entry.trim().parse().map_err(|e| format!("entry {} ({entry:?}) is not a blob ID: {e}", index + 1))
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
        assert!(parse("- not-a-blob-id\n").expect_err("refused").contains("entry 1"));
        assert!(parse("blob: x\n").is_err());
    }

    #[test]
    fn edits_are_picked_up_and_a_broken_edit_keeps_the_list() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("blocklist.yaml");
        assert!(Blocklist::load(&path).is_err(), "a missing file is an error at load");
        std::fs::write(&path, format!("- {}\n", id(1))).expect("write");
        let list = Blocklist::load(&path).expect("loaded").recheck_every(Duration::ZERO);
        assert!(list.contains(&id(1)) && !list.contains(&id(2)));
        std::fs::write(&path, format!("- {}\n- {}\n", id(1), id(2))).expect("write");
        assert!(list.contains(&id(2)), "the edit was not picked up");
        std::fs::write(&path, "- half-writ").expect("write");
        assert!(list.contains(&id(1)) && list.contains(&id(2)), "a broken edit unblocked blobs");
        std::fs::remove_file(&path).expect("removed");
        assert_eq!(list.len(), 2);
        std::fs::write(&path, "").expect("write");
        assert!(list.is_empty());
    }
}
