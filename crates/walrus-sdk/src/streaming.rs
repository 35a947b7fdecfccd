//! Encoding a file in a memory budget, for stores of blobs larger than memory.
//!
//! A file whose in-memory encoding ([`in_memory_bytes`]) fits the budget is read and encoded in
//! memory, as [`Client::store`] does. A larger one is encoded by the streaming encoder
//! ([`walrus_core::encode::stream`]) straight from the file: its scratch areas (the repair
//! slivers, about 2.5 times the blob) are unnamed temporary files, gone when the last handle
//! closes, even after a crash. The upload then reads each sliver back when a request needs it,
//! from the file or the scratch (the page cache usually holds both).

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use walrus_core::encode::stream::{in_memory_bytes, EncodeIo, PlanError, Scratch, StreamLayout};
use walrus_core::encode::{compute_metadata, encode_blob};
use walrus_core::metadata::VerifiedBlobMetadataWithId;
use walrus_core::{EncodingParams, SliverIndex, SliverType};
use walrus_node_client::SliverSource;

/// The memory budget of a store from a file when none is given: fits a laptop, and encodes
/// blobs up to about 150 MiB in memory.
pub const MEMORY_BUDGET_DEFAULT: usize = 1 << 30;

/// What a client process holds besides the encoder (its runtime, connections, answers), taken
/// off the budget before the encoder's share.
pub const PROCESS_RESERVE_BYTES: usize = 48 << 20;

/// Why a file could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeFileError {
    /// Reading the file or using the scratch files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The budget does not fit the encoding, or the file is too large for the system.
    #[error("{path}: {source}")]
    Plan {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: PlanError,
    },
}

/// The encoder's share of a process budget.
fn encoder_budget(budget: usize) -> usize {
    budget.saturating_sub(PROCESS_RESERVE_BYTES)
}

/// Threads the encoder runs on (rayon's global pool, one per core).
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Whether a blob of `len` bytes is encoded in memory within `budget`.
pub fn fits_in_memory(params: EncodingParams, len: u64, budget: usize) -> bool {
    in_memory_bytes(params, len, threads()).is_ok_and(|bytes| bytes <= encoder_budget(budget) as u64)
}

/// Encodes the file at `path` within `budget` bytes of memory: in memory if it fits, else
/// streaming, with scratch files in `scratch_dir` (default: the system's temporary directory).
/// Blocks: run it off the async threads.
pub fn encode_file(
    params: EncodingParams,
    path: &Path,
    budget: usize,
    scratch_dir: Option<&Path>,
) -> Result<Arc<dyn SliverSource>, EncodeFileError> {
    let file = File::open(path).map_err(|source| EncodeFileError::Io { path: path.into(), source })?;
    encode_open_file(params, file, path, budget, scratch_dir)
}

/// [`encode_file`] of a file already open (say, an unnamed temporary file that holds a request
/// body or standard input), read from its start; `label` names it in errors.
pub fn encode_open_file(
    params: EncodingParams,
    file: File,
    label: &Path,
    budget: usize,
    scratch_dir: Option<&Path>,
) -> Result<Arc<dyn SliverSource>, EncodeFileError> {
    let path = label;
    match open(params, file, path, budget, scratch_dir, true)? {
        Opened::Whole(data) => Ok(Arc::new(
            encode_blob(params, &data)
                .map_err(|e| EncodeFileError::Plan { path: path.into(), source: e.into() })?,
        )),
        Opened::Streamed(layout, io) => {
            let metadata = layout
                .encode(&io, true)
                .map_err(|source| EncodeFileError::Io { path: path.into(), source })?;
            Ok(Arc::new(StreamedBlob { layout, io, metadata }))
        }
    }
}

/// The metadata (and blob ID) of the file at `path`, within `budget` bytes of memory (a
/// streaming encoding keeps only the repair columns, half the blob, in a scratch file).
pub fn file_metadata(
    params: EncodingParams,
    path: &Path,
    budget: usize,
    scratch_dir: Option<&Path>,
) -> Result<VerifiedBlobMetadataWithId, EncodeFileError> {
    let file = File::open(path).map_err(|source| EncodeFileError::Io { path: path.into(), source })?;
    match open(params, file, path, budget, scratch_dir, false)? {
        Opened::Whole(data) => compute_metadata(params, &data)
            .map_err(|e| EncodeFileError::Plan { path: path.into(), source: e.into() }),
        Opened::Streamed(layout, io) => {
            layout.encode(&io, false).map_err(|source| EncodeFileError::Io { path: path.into(), source })
        }
    }
}

/// A file to encode: read whole (its encoding fits the budget), or planned for the streaming
/// encoder with its scratch files (the repair rows too if `slivers`).
enum Opened {
    Whole(Vec<u8>),
    Streamed(StreamLayout, FileIo),
}

fn open(
    params: EncodingParams,
    mut file: File,
    path: &Path,
    budget: usize,
    scratch_dir: Option<&Path>,
    slivers: bool,
) -> Result<Opened, EncodeFileError> {
    let io_error = |source| EncodeFileError::Io { path: path.into(), source };
    let len = file.metadata().map_err(io_error)?.len();
    if fits_in_memory(params, len, budget) {
        let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        std::io::Seek::rewind(&mut file).map_err(io_error)?;
        std::io::Read::read_to_end(&mut file, &mut data).map_err(io_error)?;
        return Ok(Opened::Whole(data));
    }
    let layout = plan(params, path, len, budget)?;
    let io = FileIo::new(file, &layout, scratch_dir, slivers).map_err(io_error)?;
    Ok(Opened::Streamed(layout, io))
}

fn plan(
    params: EncodingParams,
    path: &Path,
    len: u64,
    budget: usize,
) -> Result<StreamLayout, EncodeFileError> {
    StreamLayout::new(params, len, encoder_budget(budget), threads()).map_err(|source| {
        let source = match source {
            // Say what the whole process needs, not the encoder's share.
            PlanError::BudgetTooSmall { needed, .. } => {
                PlanError::BudgetTooSmall { budget, needed: needed + PROCESS_RESERVE_BYTES }
            }
            other => other,
        };
        EncodeFileError::Plan { path: path.into(), source }
    })
}

/// The blob's file and the two scratch files.
struct FileIo {
    blob: File,
    columns: File,
    rows: Option<File>,
}

impl FileIo {
    fn new(blob: File, layout: &StreamLayout, dir: Option<&Path>, slivers: bool) -> std::io::Result<FileIo> {
        let scratch = |area| -> std::io::Result<File> {
            let file = match dir {
                Some(dir) => tempfile::tempfile_in(dir)?,
                None => tempfile::tempfile()?,
            };
            file.set_len(layout.scratch_len(area))?;
            Ok(file)
        };
        let rows = if slivers { Some(scratch(Scratch::Rows)?) } else { None };
        Ok(FileIo { blob, columns: scratch(Scratch::Columns)?, rows })
    }

    fn area(&self, area: Scratch) -> std::io::Result<&File> {
        match area {
            Scratch::Columns => Ok(&self.columns),
            Scratch::Rows => self.rows.as_ref().ok_or_else(|| std::io::Error::other("no repair rows kept")),
        }
    }
}

impl EncodeIo for FileIo {
    type Error = std::io::Error;

    fn read_blob(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.blob.read_exact_at(buf, offset).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => std::io::Error::other("the file shrank while it was stored"),
            _ => e,
        })
    }

    fn read_scratch(&self, area: Scratch, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.area(area)?.read_exact_at(buf, offset)
    }

    fn write_scratch(&self, area: Scratch, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.area(area)?.write_all_at(data, offset)
    }
}

/// A blob encoded by the streaming encoder: its metadata, and its slivers read back on demand.
struct StreamedBlob {
    layout: StreamLayout,
    io: FileIo,
    metadata: VerifiedBlobMetadataWithId,
}

impl SliverSource for StreamedBlob {
    fn metadata(&self) -> &VerifiedBlobMetadataWithId {
        &self.metadata
    }

    fn sliver(self: Arc<Self>, axis: SliverType, index: SliverIndex) -> std::io::Result<Bytes> {
        self.layout.read_sliver(&self.io, axis, index).map(Bytes::from)
    }

    fn held_in_memory(&self) -> bool {
        false
    }
}
