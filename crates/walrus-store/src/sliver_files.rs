//! Sliver bytes in plain files, one directory per blob, located through the database.
//!
//! A batch of slivers is written once, into a new file of its blob's directory
//! (`slivers/<blob id, hex>/<file id, hex>.slv`), as the slivers' BCS forms back to back, and
//! synced (file, then directory) before the database records where each sliver is. A crash
//! between the two leaves an unreferenced file, collected with its blob. Reads check each
//! sliver's xxh3 checksum. A blob's data goes away with its directory.
//!
//! Writing through a key-value store instead costs the bytes twice (its journal, then its value
//! files) and several copies in memory; slivers are large, written once and never updated, so a
//! file per batch is the cheap shape.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use walrus_core::BlobId;

/// Where a sliver's bytes are: the database's value for a sliver key, a version byte (1) and 28
/// bytes, little endian. Values of 28 bytes without the version were written before versions
/// and are read as version 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) file: u64,
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) checksum: u64,
}

impl Location {
    pub(crate) const VERSION: u8 = 1;
    pub(crate) const LEN: usize = 29;

    pub(crate) fn to_bytes(self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = Self::VERSION;
        out[1..9].copy_from_slice(&self.file.to_le_bytes());
        out[9..17].copy_from_slice(&self.offset.to_le_bytes());
        out[17..21].copy_from_slice(&self.len.to_le_bytes());
        out[21..].copy_from_slice(&self.checksum.to_le_bytes());
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Location> {
        let bytes = match bytes {
            [Self::VERSION, rest @ ..] if rest.len() == Self::LEN - 1 => rest,
            unversioned if unversioned.len() == Self::LEN - 1 => unversioned,
            _ => return None,
        };
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Some(Location {
            file: u64_at(0),
            offset: u64_at(8),
            len: u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes")),
            checksum: u64_at(20),
        })
    }
}

/// Alignment of direct I/O (buffer address, length, file offset).
const DIRECT_ALIGN: usize = 4096;

pub(crate) struct SliverFiles {
    root: PathBuf,
    next_file: AtomicU64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `pieces` (`len` bytes in all) as the whole content of the new `file`, opened with
/// `O_DIRECT`, and syncs it. Direct I/O skips the page cache: copying slivers into freshly
/// allocated cache pages was the largest single cost of a node taking a large blob (on a VM,
/// every fresh page is a host fault). The pieces are gathered into one aligned buffer, the tail
/// padded, and the file cut back to `len`. File systems without direct I/O get a buffered write.
fn write_direct(file: File, path: &Path, pieces: &[&[u8]], len: u64, sync: bool) -> io::Result<()> {
    let len = usize::try_from(len).map_err(|_| io::Error::other("batch too large"))?;
    let padded = len.next_multiple_of(DIRECT_ALIGN);
    let mut buffer: Vec<u8> = Vec::with_capacity(padded + DIRECT_ALIGN);
    let start = buffer.as_ptr().align_offset(DIRECT_ALIGN);
    buffer.resize(start, 0);
    for piece in pieces {
        buffer.extend_from_slice(piece);
    }
    buffer.resize(start + padded, 0);
    let aligned = &buffer[start..];
    let file = match (&file).write_all(aligned) {
        Ok(()) => {
            if padded != len {
                file.set_len(len as u64)?;
            }
            file
        }
        // Direct I/O refused (tmpfs, some network file systems): write through the cache.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            drop(file);
            let mut file = OpenOptions::new().write(true).truncate(true).open(path)?;
            file.write_all(&aligned[..len])?;
            file
        }
        Err(e) => return Err(e),
    };
    if sync {
        file.sync_all()?;
    }
    Ok(())
}

impl SliverFiles {
    /// The sliver files under `root` (created if missing).
    pub(crate) fn open(root: PathBuf) -> io::Result<SliverFiles> {
        fs::create_dir_all(&root)?;
        // File IDs only need to be unique within a blob's directory, and a collision is caught
        // by `create_new`; starting from the clock keeps them fresh across restarts.
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX / 2));
        Ok(SliverFiles { root, next_file: AtomicU64::new(start) })
    }

    pub(crate) fn blob_dir(&self, blob_id: &BlobId) -> PathBuf {
        self.root.join(hex(blob_id.as_bytes()))
    }

    fn file_path(&self, blob_id: &BlobId, file: u64) -> PathBuf {
        self.blob_dir(blob_id).join(format!("{file:016x}.slv"))
    }

    /// Writes `pieces` back to back into a new file of `blob_id`'s directory and syncs it;
    /// returns each piece's location.
    pub(crate) fn write(&self, blob_id: &BlobId, pieces: &[&[u8]]) -> io::Result<Vec<Location>> {
        self.write_file(blob_id, pieces, true)
    }

    /// [`SliverFiles::write`] for several blobs at once, each batch into a new file of its
    /// blob's directory, all made durable together by one `syncfs` of the file system (one
    /// journal commit, where a file at a time costs three syncs: shard sync stores a page of a
    /// thousand blobs' slivers at once).
    pub(crate) fn write_many(&self, batches: &[(BlobId, Vec<&[u8]>)]) -> io::Result<Vec<Vec<Location>>> {
        let written = batches
            .iter()
            .map(|(blob_id, pieces)| self.write_file(blob_id, pieces, false))
            .collect::<io::Result<_>>()?;
        if !batches.is_empty() {
            rustix::fs::syncfs(File::open(&self.root)?)?;
        }
        Ok(written)
    }

    fn write_file(&self, blob_id: &BlobId, pieces: &[&[u8]], sync: bool) -> io::Result<Vec<Location>> {
        let dir = self.blob_dir(blob_id);
        if !dir.exists() {
            fs::create_dir_all(&dir)?;
            if sync {
                sync_dir(&self.root)?;
            }
        }
        let (file_id, path, file) = loop {
            let id = self.next_file.fetch_add(1, Ordering::Relaxed);
            let path = self.file_path(blob_id, id);
            match OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_DIRECT).open(&path) {
                Ok(file) => break (id, path, file),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let mut locations = Vec::with_capacity(pieces.len());
        let mut offset = 0u64;
        for piece in pieces {
            let len = u32::try_from(piece.len()).map_err(|_| io::Error::other("sliver over 4 GiB"))?;
            let checksum = xxhash_rust::xxh3::xxh3_64(piece);
            locations.push(Location { file: file_id, offset, len, checksum });
            offset += u64::from(len);
        }
        write_direct(file, &path, pieces, offset, sync)?;
        if sync {
            sync_dir(&dir)?;
        }
        Ok(locations)
    }

    /// The bytes at `location`, or `None` if the file is gone (its blob was collected).
    /// Errors with `InvalidData` if they do not match their checksum.
    /// Whether the file of `location` is there and long enough to hold it (its bytes are
    /// checked when read).
    pub(crate) fn holds(&self, blob_id: &BlobId, location: Location) -> io::Result<bool> {
        match fs::metadata(self.file_path(blob_id, location.file)) {
            Ok(meta) => Ok(meta.len() >= location.offset.saturating_add(u64::from(location.len))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn read(&self, blob_id: &BlobId, location: Location) -> io::Result<Option<Vec<u8>>> {
        let file = match File::open(self.file_path(blob_id, location.file)) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut bytes = vec![0u8; location.len as usize];
        file.read_exact_at(&mut bytes, location.offset)?;
        if xxhash_rust::xxh3::xxh3_64(&bytes) != location.checksum {
            return Err(io::Error::new(ErrorKind::InvalidData, "sliver bytes do not match their checksum"));
        }
        Ok(Some(bytes))
    }

    /// Removes every file of `blob_id`.
    pub(crate) fn remove_blob(&self, blob_id: &BlobId) -> io::Result<()> {
        match fs::remove_dir_all(self.blob_dir(blob_id)) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_round_trip() {
        let location =
            Location { file: u64::MAX - 3, offset: 1 << 40, len: 77, checksum: 0x0123_4567_89ab_cdef };
        assert_eq!(Location::from_bytes(&location.to_bytes()), Some(location));
        assert_eq!(Location::from_bytes(&[0; 27]), None);
        assert_eq!(Location::from_bytes(&location.to_bytes()[1..]), Some(location), "unversioned");
        let mut other = location.to_bytes();
        other[0] = 2;
        assert_eq!(Location::from_bytes(&other), None, "an unknown version");
    }

    #[test]
    fn pieces_read_back_checked_and_go_with_their_blob() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = SliverFiles::open(dir.path().join("slivers")).expect("open");
        let blob = BlobId([7; 32]);
        let big = vec![0xa5u8; 3 * DIRECT_ALIGN + 5];
        let pieces: [&[u8]; 3] = [b"small", &big, b""];
        let locations = files.write(&blob, &pieces).expect("write");
        for (piece, location) in pieces.iter().zip(&locations) {
            assert_eq!(files.read(&blob, *location).expect("read").as_deref(), Some(*piece));
        }
        let mut bad = locations[0];
        bad.checksum ^= 1;
        assert_eq!(files.read(&blob, bad).expect_err("checksum").kind(), ErrorKind::InvalidData);
        files.remove_blob(&blob).expect("remove");
        assert_eq!(files.read(&blob, locations[0]).expect("read"), None);
        files.remove_blob(&blob).expect("removing twice is fine");
    }
}
