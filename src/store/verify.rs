//! Integrity of a store: every file read once and checked against its header, the grid and the
//! checksums libeko recorded when it wrote it (`eko verify`, the command to run after copying a
//! store between filesystems).
//!
//! Since store format 3 every `.npy` file libeko writes records the CRC-32 of its data in a
//! comment of its header (NumPy ignores it), and an operator or partial also its error file's, or
//! that it has none. Computing it costs one pass over the data in memory as it is written (about
//! 0.3 ms for a 4 MB operator, against milliseconds for the write and its fsync), no second read.
//! `thresholds.npz` is a zip archive, whose members carry their own CRC-32.

use std::path::Path;

use serde::Serialize;

use super::{FileKind, METADATA_FILE, OperatorFile, Store, THRESHOLDS_FILE};
use crate::error::{Error, Location, Result};
use crate::npy::{Checksums, ErrorRecord};

/// What `verify` found for one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileStatus {
    /// Readable, on the grid, its data matching the recorded checksum (and its error file the
    /// one its operator records).
    Good,
    /// Readable and on the grid, but written with no checksum (by NumPy, a host, or a libeko
    /// before store format 3): nothing to compare with. `eko verify --record` adds one.
    NoChecksum,
    /// The data does not match the recorded checksum: the file changed after libeko wrote it.
    Corrupt {
        /// The CRC-32 recorded in the header.
        recorded: String,
        /// The CRC-32 of the data now.
        found: String,
    },
    /// The file cannot be read as what it should be (truncated, a bad header, another shape).
    Unreadable {
        /// Why.
        reason: String,
    },
    /// The operator or partial records an error file that is not there.
    MissingError {
        /// The error file's name.
        error_file: String,
    },
    /// The error file is not the one its operator or partial was written with.
    ForeignError {
        /// The error file's name.
        error_file: String,
        /// What does not match.
        reason: String,
    },
}

impl FileStatus {
    /// Whether the file is damaged or inconsistent (a missing checksum is not).
    pub fn is_bad(&self) -> bool {
        !matches!(self, FileStatus::Good | FileStatus::NoChecksum)
    }
}

/// One file's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCheck {
    /// The file's name in the store (for a member of `thresholds.npz`, `thresholds.npz/NAME`).
    pub file: String,
    /// Bytes read.
    pub bytes: u64,
    /// The verdict.
    #[serde(flatten)]
    pub status: FileStatus,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Every file checked, in the store's order.
    pub files: Vec<FileCheck>,
    /// Files good.
    pub good: usize,
    /// Files with no checksum recorded.
    pub without_checksum: usize,
    /// Files damaged or inconsistent.
    pub bad: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Files `--record` rewrote with checksums.
    pub recorded: usize,
    /// Leftovers of interrupted writers (`eko recover` removes them), one line each.
    pub leftovers: Vec<String>,
}

impl VerifyReport {
    fn push(&mut self, file: String, bytes: u64, status: FileStatus) {
        match &status {
            FileStatus::Good => self.good += 1,
            FileStatus::NoChecksum => self.without_checksum += 1,
            _ => self.bad += 1,
        }
        self.bytes += bytes;
        self.files.push(FileCheck {
            file,
            bytes,
            status,
        });
    }
}

/// One `.npy` file opened and checked against its header and the grid, its data's CRC-32.
struct Read {
    file: OperatorFile,
    crc: u32,
    recorded: Option<Checksums>,
}

fn read(store: &Store, path: &Path, kind: FileKind) -> std::result::Result<Read, String> {
    let file = OperatorFile::open(path, store.shape_of(kind)).map_err(|e| e.to_string())?;
    let crc = file.npy().data_crc32();
    let recorded = file.npy().recorded_checksums();
    Ok(Read {
        file,
        crc,
        recorded,
    })
}

fn own_status(r: &Read) -> FileStatus {
    match r.recorded {
        None => FileStatus::NoChecksum,
        Some(c) if c.data == r.crc => FileStatus::Good,
        Some(c) => FileStatus::Corrupt {
            recorded: format!("{:08x}", c.data),
            found: format!("{:08x}", r.crc),
        },
    }
}

/// Reads every file of `store` once and checks it: each operator, partial and error file
/// against its header, the grid and its recorded checksum, each pair of operator (or partial)
/// and error against what the operator recorded of its error; every member of
/// `thresholds.npz` against its CRC-32. `progress(done, total)` after each point.
pub fn verify(store: &Store, mut progress: impl FnMut(usize, usize)) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let points: Vec<_> = store.points().collect();
    let total = points.len() + usize::from(store.has_thresholds());
    for (done, (point, files)) in points.iter().enumerate() {
        for main in [FileKind::Operator, FileKind::Partial] {
            let error_kind = main.companion();
            let (has_main, has_error) = (files.has(main), files.has(error_kind));
            if !has_main && !has_error {
                continue;
            }
            let main_name = main.file_name(point);
            let error_name = error_kind.file_name(point);
            let main_read = has_main.then(|| read(store, &store.path_of(point, main), main));
            let error_read =
                has_error.then(|| read(store, &store.path_of(point, error_kind), error_kind));
            let bytes = |r: &Option<std::result::Result<Read, String>>| {
                r.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .map_or(0, |r| r.file.npy().data_bytes().len() as u64)
            };
            // The main file: its own data, then what it says of its error.
            if let Some(r) = &main_read {
                let mut status = match r {
                    Err(reason) => FileStatus::Unreadable {
                        reason: reason.clone(),
                    },
                    Ok(r) => own_status(r),
                };
                if status == FileStatus::Good
                    && let Ok(r) = r
                {
                    let record = r.recorded.map_or(ErrorRecord::NotRecorded, |c| c.error);
                    status = pair_status(record, &error_read, &error_name);
                }
                report.push(main_name.clone(), bytes(&main_read), status);
            }
            if let Some(r) = &error_read {
                let status = match r {
                    Err(reason) => FileStatus::Unreadable {
                        reason: reason.clone(),
                    },
                    Ok(r) => own_status(r),
                };
                report.push(error_name, bytes(&error_read), status);
            }
        }
        progress(done + 1, total);
    }
    if store.has_thresholds() {
        let path = store.thresholds_path();
        match crate::npz::NpzFile::open(&path) {
            Err(e) => report.push(
                THRESHOLDS_FILE.into(),
                0,
                FileStatus::Unreadable {
                    reason: e.to_string(),
                },
            ),
            Ok(npz) => {
                for member in npz.members() {
                    let status = match npz.verify(&member.key) {
                        Ok(()) => FileStatus::Good,
                        Err(Error::ZipCrc {
                            expected, found, ..
                        }) => FileStatus::Corrupt {
                            recorded: format!("{expected:08x}"),
                            found: format!("{found:08x}"),
                        },
                        Err(e) => FileStatus::Unreadable {
                            reason: e.to_string(),
                        },
                    };
                    report.push(
                        format!("{THRESHOLDS_FILE}/{}", member.zip_name),
                        member.compressed_size,
                        status,
                    );
                }
            }
        }
        progress(total, total);
    }
    let left = store.leftovers()?;
    report
        .leftovers
        .extend(left.unfinished.map(|u| format!("an unfinished {u}")));
    report.leftovers.extend(
        left.temporaries
            .iter()
            .filter(|t| !t.alive)
            .map(|t| format!("temporary {} of a finished process", t.path.display())),
    );
    report.leftovers.extend(
        left.orphans
            .iter()
            .map(|p| format!("orphan error file {}", p.display())),
    );
    Ok(report)
}

/// What an operator (or partial) recorded of its error against the error file there is.
fn pair_status(
    record: ErrorRecord,
    error: &Option<std::result::Result<Read, String>>,
    error_name: &str,
) -> FileStatus {
    match (record, error) {
        (ErrorRecord::NotRecorded, _) => FileStatus::Good,
        (ErrorRecord::Absent, None) => FileStatus::Good,
        (ErrorRecord::Absent, Some(_)) => FileStatus::ForeignError {
            error_file: error_name.into(),
            reason: "the operator was written without an error file".into(),
        },
        (ErrorRecord::Crc(_), None) => FileStatus::MissingError {
            error_file: error_name.into(),
        },
        // An unreadable error file is reported as such on its own line.
        (ErrorRecord::Crc(_), Some(Err(_))) => FileStatus::Good,
        (ErrorRecord::Crc(want), Some(Ok(e))) => {
            let theirs = e.recorded.map(|c| c.data);
            if theirs == Some(want) || e.crc == want {
                FileStatus::Good
            } else {
                FileStatus::ForeignError {
                    error_file: error_name.into(),
                    reason: format!(
                        "the operator was written with an error file of CRC-32 {want:08x}; this \
                         one has {:08x}",
                        e.crc
                    ),
                }
            }
        }
    }
}

/// `eko verify --record`: verifies `store` (locked for writing), refuses if any file is bad,
/// then rewrites every operator and partial (with its error) that lacks a checksum with the same
/// data and memory order and their checksums, each pair committed as an insert is, and marks the
/// store format 3. Returns the report of the verification that preceded the rewrite, with
/// `recorded` set.
pub fn record(store: &mut Store, mut progress: impl FnMut(usize, usize)) -> Result<VerifyReport> {
    let mut report = verify(store, &mut progress)?;
    if report.bad > 0 {
        let first = report
            .files
            .iter()
            .find(|f| f.status.is_bad())
            .expect("counted");
        return Err(Error::InvalidArgument {
            reason: format!(
                "{}: {} damaged or inconsistent file(s) (first: {}); checksums are recorded only \
                 for good files: restore them first",
                store.dir().display(),
                report.bad,
                first.file
            ),
        });
    }
    let missing: std::collections::BTreeSet<String> = report
        .files
        .iter()
        .filter(|f| f.status == FileStatus::NoChecksum)
        .map(|f| f.file.clone())
        .collect();
    let points: Vec<_> = store.points().collect();
    for (point, files) in points {
        for main in [FileKind::Operator, FileKind::Partial] {
            if !files.has(main) {
                continue;
            }
            let error_kind = main.companion();
            let names = [main.file_name(&point), error_kind.file_name(&point)];
            if !names.iter().any(|n| missing.contains(n)) {
                continue;
            }
            let value = store.file(&point, main)?;
            let error = if files.has(error_kind) {
                Some(store.file(&point, error_kind)?)
            } else {
                None
            };
            let error_view = error.as_ref().map(OperatorFile::view);
            match main {
                FileKind::Operator => {
                    store.insert_operator(point, &value.view(), error_view.as_ref())?
                }
                _ => store.insert_partial(point, &value.view(), error_view.as_ref())?,
            }
            report.recorded += 1 + usize::from(error.is_some());
        }
    }
    if store.metadata().format_version < super::FORMAT_VERSION {
        let mut metadata = store.metadata().clone();
        metadata.format_version = super::FORMAT_VERSION;
        let path = store.dir().join(METADATA_FILE);
        let mut pending = crate::atomic::PendingFile::create(&path)?;
        std::io::Write::write_all(pending.file(), metadata.to_json().as_bytes()).map_err(|e| {
            Error::Io {
                file: Location::file(&path),
                operation: "write",
                source: e,
            }
        })?;
        pending.commit()?;
        store.refresh()?;
    }
    Ok(report)
}
