//! The EKO store: a directory with one `.npy` per evolution point and kind, read lazily.
//!
//! ```text
//! store/
//!   metadata.json                 grid, origin, matching scales, descriptions (Metadata)
//!   10000_nf5.npy                 final operator for (mu2 = 10000, nf = 5)
//!   10000_nf5.error.npy           its integration error (optional)
//!   2.7224999999999997_nf4.part.npy   a partial operator (the last evolution segment)
//!   2.7224999999999997_nf4.part.error.npy
//!   thresholds.npz                threshold operators (written by the combine step)
//! ```
//!
//! File names are a pure function of the point: see [`EvolutionPoint::stem`]. Only canonical
//! names are accepted, so names and points map one to one; any other file in the directory is an
//! error ([`Error::ForeignFile`]), except libeko's temporary (`.eko-tmp.*`) and lock (`.eko-lock`)
//! files.
//!
//! Opening reads `metadata.json` and lists the directory; operator files are mapped only when
//! asked for, one at a time. Writers create new files and rename them into place, and commit an
//! operator together with its error under a short store-wide lock: readers never see a partial
//! file, and two writers of one point never leave one's operator with the other's error.

mod edge;
pub(crate) mod metadata;
mod point;
mod recovery;
mod stack;
mod thresholds;
mod transfer;
pub mod verify;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{ArrayBase, ArrayView4, Data, Ix4};

pub use crate::atomic::TempEntry;
use crate::atomic::{PendingFile, TEMP_PREFIX, temp_name};
use crate::error::{Error, IoContext, Location, Result};
use crate::fault::fault_point;
use crate::npy::{
    ErrorRecord, NpyFile, NpyHeader, WriteOptions, check_in_place, read_header, write_npy_recorded,
};
pub use edge::{ERROR_SUFFIX, Edge, EvolutionPath, Matching, Segment};
pub use metadata::{
    Basis, EVOLUTION_BASIS, FLAVOR_BASIS, FORMAT_NAME, FORMAT_VERSION, Interpolation,
    MatchingScales, Metadata, OLDEST_FORMAT_VERSION, Side,
};
pub use point::{EvolutionPoint, FileKind};
pub use recovery::{
    INTENT_FILE, Leftovers, RecoveryReport, Resolution, Resolved, Wait, lock_holder, recover,
};
pub(crate) use recovery::{Intent, LockGuard, StoreLock};
pub use stack::Stack;
pub use thresholds::{Thresholds, ThresholdsWriter};
pub use transfer::{
    MergeOptions, MergeReport, OnConflict, Partition, SplitReport, Transfer, merge, partition_at,
    partition_even, split, split_by, split_with,
};

/// Name of the metadata file.
pub const METADATA_FILE: &str = "metadata.json";
/// Name of the threshold operators archive.
pub const THRESHOLDS_FILE: &str = "thresholds.npz";
/// Name of the lock file writers take while they commit.
pub const LOCK_FILE: &str = ".eko-lock";

/// Which files a point has in a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PointFiles(u8);

impl PointFiles {
    fn bit(kind: FileKind) -> u8 {
        1 << (kind as u8)
    }
    /// Whether the file of `kind` exists.
    pub fn has(self, kind: FileKind) -> bool {
        self.0 & Self::bit(kind) != 0
    }
    fn set(&mut self, kind: FileKind, present: bool) {
        if present {
            self.0 |= Self::bit(kind);
        } else {
            self.0 &= !Self::bit(kind);
        }
    }
    /// The kinds present, in [`FileKind::ALL`] order.
    pub fn kinds(self) -> impl Iterator<Item = FileKind> {
        FileKind::ALL.into_iter().filter(move |k| self.has(*k))
    }
    /// Error files whose operator or partial is missing (left by an interrupted writer; readers
    /// ignore them).
    pub fn orphans(self) -> impl Iterator<Item = FileKind> {
        self.kinds()
            .filter(move |k| k.is_error() && !self.has(k.companion()))
    }
}

/// A mapped operator-shaped file of a store, checked against the store's grid: `f64`, native
/// byte order, shape `(n_pid, n_x, n_pid, n_x)`, viewable in place.
#[derive(Debug)]
pub struct OperatorFile {
    npy: NpyFile,
}

impl OperatorFile {
    /// Maps `path` and checks it holds an operator of `shape`.
    pub fn open(path: &Path, shape: [usize; 4]) -> Result<Self> {
        let npy = NpyFile::open(path)?;
        check_operator_header(npy.header(), path, shape)?;
        Ok(OperatorFile { npy })
    }

    /// Checks, reading only the header, that `path` holds an operator of `shape` that can be
    /// viewed in place.
    pub fn check(path: &Path, shape: [usize; 4]) -> Result<()> {
        check_operator_header(&read_header(path)?, path, shape)
    }

    /// The operator, viewed in place: `[pid_out, x_out, pid_in, x_in]`.
    pub fn view(&self) -> ArrayView4<'_, f64> {
        self.npy.view_as::<f64, Ix4>().expect("checked on open")
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.npy.path()
    }

    /// The underlying mapped `.npy`.
    pub fn npy(&self) -> &NpyFile {
        &self.npy
    }
}

fn check_operator_header(header: &NpyHeader, path: &Path, shape: [usize; 4]) -> Result<()> {
    let location = Location::file(path);
    // f64, and viewable in place (native byte order, aligned): `view` cannot fail afterwards.
    check_in_place::<f64>(header, &location, header.data_offset as u64)?;
    if header.shape != shape {
        return Err(Error::ShapeMismatch {
            file: location,
            expected: shape.to_vec(),
            found: header.shape.clone(),
        });
    }
    Ok(())
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    metadata: Metadata,
    points: BTreeMap<EvolutionPoint, PointFiles>,
    thresholds: bool,
    /// The store's lock, held from [`lock_for_writing`](Store::lock_for_writing) until the
    /// store is dropped.
    writer: Option<Arc<StoreLock>>,
    /// Whether this `Store` has recovered the leftovers of dead writers (done once, before its
    /// first write).
    recovered: bool,
    /// Bulk mode ([`Store::start_bulk`]): the files written so far, to sync at the end.
    bulk: Option<Vec<PathBuf>>,
}

impl Store {
    /// Opens the store in `dir`: reads `metadata.json` and lists the files. Reads no operator.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        let metadata = read_metadata(&dir)?;
        let mut store = Store {
            dir,
            metadata,
            points: BTreeMap::new(),
            thresholds: false,
            writer: None,
            recovered: false,
            bulk: None,
        };
        store.refresh()?;
        Ok(store)
    }

    /// Opens the store in `dir` for a whole-store operation: [`open`](Self::open), then
    /// [`lock_for_writing`](Self::lock_for_writing).
    pub fn open_for_writing(dir: impl AsRef<Path>, wait: Wait) -> Result<(Store, RecoveryReport)> {
        let mut store = Store::open(dir)?;
        let report = store.lock_for_writing(wait)?;
        Ok((store, report))
    }

    /// Takes the store's lock until this `Store` is dropped, so that no other process writes to
    /// it meanwhile (their commits wait), and recovers what interrupted writers left (see
    /// [`recover`]); then lists the files again. Does nothing if this `Store` holds the lock
    /// already. With [`Wait::NoWait`], fails with [`Error::Busy`] instead of waiting.
    pub fn lock_for_writing(&mut self, wait: Wait) -> Result<RecoveryReport> {
        let mut report = RecoveryReport::default();
        if self.writer.is_none() {
            self.writer = Some(recovery::lock_recovering(&self.dir, wait, &mut report)?);
            self.recovered = true;
            self.metadata = read_metadata(&self.dir)?;
            self.refresh()?;
        }
        Ok(report)
    }

    /// Before this `Store`'s first write: recovers what dead writers left (see [`recover`]),
    /// holding the lock only for that.
    pub(crate) fn recover_once(&mut self) -> Result<()> {
        if !self.recovered && self.writer.is_none() {
            let mut report = RecoveryReport::default();
            drop(recovery::lock_recovering(
                &self.dir,
                Wait::Block,
                &mut report,
            )?);
            self.recovered = true;
            if !report.is_empty() {
                self.refresh()?;
            }
        }
        Ok(())
    }

    /// Runs `f` holding the store's lock (taken, waiting, and recovered as by
    /// [`lock_for_writing`](Self::lock_for_writing) unless this `Store` holds it already, and
    /// then released when `f` returns).
    pub(crate) fn while_locked<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let took = self.writer.is_none();
        self.lock_for_writing(Wait::Block)?;
        let out = f(self);
        if took {
            self.writer = None;
        }
        out
    }

    /// Releases the lock taken by [`lock_for_writing`](Self::lock_for_writing), if held.
    pub fn unlock(&mut self) {
        self.writer = None;
    }

    /// What interrupted writers left in the store: an unfinished operation, temporary files
    /// (with whether their writer still runs), orphan error files. Reads only.
    pub fn leftovers(&self) -> Result<Leftovers> {
        recovery::leftovers(&self.dir)
    }

    /// Creates a store in `dir` (created if missing; if it exists it must be empty) with
    /// `metadata`. If another process created the same store at the same moment, opens it when
    /// its metadata are compatible.
    pub fn create(dir: impl AsRef<Path>, metadata: &Metadata) -> Result<Store> {
        let dir = dir.as_ref();
        let meta_path = dir.join(METADATA_FILE);
        metadata.validate(&Location::file(&meta_path))?;
        if dir.exists() && !dir.is_dir() {
            return Err(Error::NotADirectory {
                file: Location::file(dir),
            });
        }
        fs::create_dir_all(dir).io_context(&Location::file(dir), "create directory")?;
        if !meta_path.exists() && !is_empty_dir(dir)? {
            return Err(Error::NotEmpty {
                file: Location::file(dir),
            });
        }
        let mut pending = PendingFile::create(&meta_path)?;
        std::io::Write::write_all(pending.file(), metadata.to_json().as_bytes())
            .io_context(&Location::file(&meta_path), "write")?;
        match pending.commit_new() {
            Ok(()) => {}
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                let existing = read_metadata(dir)?;
                if let Some((field, detail)) = existing.incompatibility(metadata) {
                    return Err(Error::Incompatible {
                        file: Location::file(&meta_path),
                        other: dir.to_path_buf(),
                        field,
                        detail: format!("the store exists with other metadata: {detail}"),
                    });
                }
            }
            Err(e) => return Err(e),
        }
        Store::open(dir)
    }

    /// Lists the directory again (other processes may have written points).
    pub fn refresh(&mut self) -> Result<()> {
        let location = Location::file(&self.dir);
        let mut points = BTreeMap::new();
        let mut thresholds = false;
        for entry in fs::read_dir(&self.dir).io_context(&location, "list directory")? {
            let entry = entry.io_context(&location, "list directory")?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(Error::ForeignFile {
                    file: Location::file(entry.path()),
                });
            };
            if name == METADATA_FILE || recovery::is_bookkeeping(name) {
                continue;
            }
            if name == THRESHOLDS_FILE {
                thresholds = true;
                continue;
            }
            match FileKind::parse_file_name(name) {
                Some((point, kind)) => points
                    .entry(point)
                    .or_insert_with(PointFiles::default)
                    .set(kind, true),
                None => {
                    return Err(Error::ForeignFile {
                        file: Location::file(entry.path()),
                    });
                }
            }
        }
        self.points = points;
        self.thresholds = thresholds;
        Ok(())
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store's metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Every point with any file, in order, with its files.
    pub fn points(&self) -> impl Iterator<Item = (EvolutionPoint, PointFiles)> + '_ {
        self.points.iter().map(|(p, f)| (*p, *f))
    }

    /// The points that have a file of `kind`, in order.
    pub fn points_with(&self, kind: FileKind) -> impl Iterator<Item = EvolutionPoint> + '_ {
        self.points
            .iter()
            .filter(move |(_, f)| f.has(kind))
            .map(|(p, _)| *p)
    }

    /// The point with a final operator closest to `wanted`: the same nf, and μ² within
    /// `atol + rtol · |μ²'|` of a stored μ²' (eko's `EKO.approx`, NumPy's `isclose`). `None`
    /// when there is none; an [`Error::InvalidArgument`] naming them when there are several.
    pub fn approx(
        &self,
        wanted: (f64, u8),
        rtol: f64,
        atol: f64,
    ) -> Result<Option<EvolutionPoint>> {
        let (mu2, nf) = wanted;
        let close: Vec<EvolutionPoint> = self
            .points_with(FileKind::Operator)
            .filter(|p| p.nf == nf && (mu2 - p.mu2).abs() <= atol + rtol * p.mu2.abs())
            .collect();
        match close.as_slice() {
            [] => Ok(None),
            [p] => Ok(Some(*p)),
            many => Err(Error::InvalidArgument {
                reason: format!(
                    "{}: several points are close to (mu2={mu2}, nf={nf}) within rtol={rtol}, \
                     atol={atol}: {}",
                    self.dir.display(),
                    many.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    /// The files `point` has (none if absent).
    pub fn files_of(&self, point: &EvolutionPoint) -> PointFiles {
        self.points.get(point).copied().unwrap_or_default()
    }

    /// Whether `thresholds.npz` exists.
    pub fn has_thresholds(&self) -> bool {
        self.thresholds
    }

    /// The path of `point`'s file of `kind` (whether or not it exists).
    pub fn path_of(&self, point: &EvolutionPoint, kind: FileKind) -> PathBuf {
        self.dir.join(kind.file_name(point))
    }

    /// The path of `thresholds.npz`.
    pub fn thresholds_path(&self) -> PathBuf {
        self.dir.join(THRESHOLDS_FILE)
    }

    /// Maps `point`'s file of `kind`, checked against the grid.
    pub fn file(&self, point: &EvolutionPoint, kind: FileKind) -> Result<OperatorFile> {
        let files = self.files_of(point);
        // An error file without its main file is an interrupted write: not there for readers.
        if !files.has(kind) || (kind.is_error() && !files.has(kind.companion())) {
            return Err(Error::NoSuchPoint {
                file: Location::file(&self.dir),
                point: point.to_string(),
                kind: kind.name(),
            });
        }
        OperatorFile::open(&self.path_of(point, kind), self.shape_of(kind))
    }

    /// The shape files of `kind` have: final operators (and errors) the store's
    /// [`operator_shape`](Metadata::operator_shape), partials the square shape they were
    /// computed in.
    pub fn shape_of(&self, kind: FileKind) -> [usize; 4] {
        match kind {
            FileKind::Operator | FileKind::OperatorError => self.metadata.operator_shape(),
            FileKind::Partial | FileKind::PartialError => self.metadata.square_shape(),
        }
    }

    /// Refuses a step that needs square operators (`what`) on a reshaped store.
    pub fn check_square(&self, what: &'static str) -> Result<()> {
        if self.metadata.is_reshaped() {
            return Err(Error::Reshaped {
                file: Location::file(&self.dir),
                shape: self.metadata.operator_shape(),
                what,
            });
        }
        Ok(())
    }

    /// The final operator of `point`, mapped.
    pub fn operator(&self, point: &EvolutionPoint) -> Result<OperatorFile> {
        self.file(point, FileKind::Operator)
    }

    /// The error of `point`'s operator, if it has one.
    pub fn operator_error(&self, point: &EvolutionPoint) -> Result<Option<OperatorFile>> {
        self.optional(point, FileKind::OperatorError)
    }

    /// The partial operator of `point`, mapped.
    pub fn partial(&self, point: &EvolutionPoint) -> Result<OperatorFile> {
        self.file(point, FileKind::Partial)
    }

    /// The error of `point`'s partial, if it has one.
    pub fn partial_error(&self, point: &EvolutionPoint) -> Result<Option<OperatorFile>> {
        self.optional(point, FileKind::PartialError)
    }

    fn optional(&self, point: &EvolutionPoint, kind: FileKind) -> Result<Option<OperatorFile>> {
        let files = self.files_of(point);
        if files.has(kind) && files.has(kind.companion()) {
            self.file(point, kind).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The final operators in μ² order, each mapped when reached and unmapped when the consumer
    /// drops it: memory stays flat however large the store.
    pub fn operators(&self) -> impl Iterator<Item = Result<(EvolutionPoint, OperatorFile)>> + '_ {
        self.points_with(FileKind::Operator)
            .map(move |p| self.operator(&p).map(|op| (p, op)))
    }

    /// Checks every file of the store against the grid (reads headers only).
    pub fn verify(&self) -> Result<()> {
        for (point, files) in self.points() {
            for kind in files.kinds() {
                OperatorFile::check(&self.path_of(&point, kind), self.shape_of(kind))?;
            }
        }
        if self.thresholds {
            crate::npz::NpzFile::open(self.thresholds_path())?;
        }
        Ok(())
    }

    /// Bulk mode, for a store being built in a private temporary directory that is renamed into
    /// place when complete (import, reshape): inserts write their files straight under their
    /// names, without a record of intent and without syncing each one, and
    /// [`finish_bulk`](Self::finish_bulk) syncs them all at the end, so the disk writes while
    /// the next operators are made instead of waiting for each file. Killed or failed, such a
    /// store is discarded whole, which is why the per-file guarantees are not needed. Only for
    /// points not yet in the store.
    pub(crate) fn start_bulk(&mut self) {
        self.bulk = Some(Vec::new());
    }

    /// Syncs every file written in bulk mode and the directory, and leaves bulk mode.
    pub(crate) fn finish_bulk(&mut self) -> Result<()> {
        for path in self.bulk.take().unwrap_or_default() {
            crate::fault::fault_point!("store.bulk-sync");
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .io_context(&Location::file(&path), "fsync")?;
        }
        crate::atomic::sync_dir(&self.dir).io_context(&Location::file(&self.dir), "fsync directory")
    }

    /// Writes `operator` (and its `error`, if any) as `point`'s final operator, replacing what the
    /// point had.
    pub fn insert_operator<S, E>(
        &mut self,
        point: EvolutionPoint,
        operator: &ArrayBase<S, Ix4>,
        error: Option<&ArrayBase<E, Ix4>>,
    ) -> Result<()>
    where
        S: Data<Elem = f64>,
        E: Data<Elem = f64>,
    {
        self.insert(point, FileKind::Operator, operator, error)
    }

    /// Writes `partial` (and its `error`, if any) as `point`'s partial operator.
    pub fn insert_partial<S, E>(
        &mut self,
        point: EvolutionPoint,
        partial: &ArrayBase<S, Ix4>,
        error: Option<&ArrayBase<E, Ix4>>,
    ) -> Result<()>
    where
        S: Data<Elem = f64>,
        E: Data<Elem = f64>,
    {
        self.insert(point, FileKind::Partial, partial, error)
    }

    fn insert<S, E>(
        &mut self,
        point: EvolutionPoint,
        main: FileKind,
        array: &ArrayBase<S, Ix4>,
        error: Option<&ArrayBase<E, Ix4>>,
    ) -> Result<()>
    where
        S: Data<Elem = f64>,
        E: Data<Elem = f64>,
    {
        let point = point.validate()?;
        if main == FileKind::Partial {
            self.check_square("storing a partial operator")?;
        }
        let shape = self.shape_of(main);
        let error_kind = main.companion();
        let main_path = self.path_of(&point, main);
        let error_path = self.path_of(&point, error_kind);
        for (path, found) in std::iter::once((&main_path, array.shape()))
            .chain(error.map(|e| (&error_path, e.shape())))
        {
            if found != shape {
                return Err(Error::ShapeMismatch {
                    file: Location::file(path),
                    expected: shape.to_vec(),
                    found: found.to_vec(),
                });
            }
        }
        // Write and sync both files under temporary names first; then commit both under the lock.
        // Each file keeps its array's memory order when that is Fortran order (a Fortran host's
        // buffer is written as it is), else C order.
        let options = |fortran: bool| WriteOptions {
            order: if fortran {
                crate::npy::Order::Fortran
            } else {
                crate::npy::Order::C
            },
            ..WriteOptions::default()
        };
        // In bulk mode the files are synced together at the end.
        let sync = self.bulk.is_none();
        // The error first: the main file's header records the error's checksum (or that there is
        // none), so that `verify` finds a missing or mismatched error file.
        let error_written = error
            .map(|e| {
                write_npy_recorded(
                    &error_path,
                    e,
                    options(is_fortran(e)),
                    ErrorRecord::NotRecorded,
                    sync,
                )
            })
            .transpose()?;
        let record = error_written
            .as_ref()
            .map_or(ErrorRecord::Absent, |(_, crc)| ErrorRecord::Crc(*crc));
        let (mut main_pending, _) =
            write_npy_recorded(&main_path, array, options(is_fortran(array)), record, sync)?;
        let error_pending = error_written.map(|(p, _)| p);
        if let Some(written) = &mut self.bulk {
            // A store under construction in a private directory: straight into place, error
            // first, synced at the end (finish_bulk).
            let has_error = error_pending.is_some();
            if let Some(mut e) = error_pending {
                crate::atomic::start_writeback(e.file());
                e.rename_into_place()?;
                written.push(error_path);
            }
            crate::atomic::start_writeback(main_pending.file());
            main_pending.rename_into_place()?;
            written.push(main_path);
            let files = self.points.entry(point).or_default();
            files.set(main, true);
            files.set(error_kind, has_error);
            return Ok(());
        }
        self.commit_pending(point, main, main_pending, error_pending)
    }

    /// Commits `point`'s `main` file and its error (or no error), written under temporary names,
    /// replacing what the point had for that kind: under the store lock, with a record of
    /// intent, the old files are set aside, the error is renamed into place, then the main file.
    /// On failure the old files are restored.
    pub(crate) fn commit_pending(
        &mut self,
        point: EvolutionPoint,
        main: FileKind,
        main_pending: PendingFile,
        error_pending: Option<PendingFile>,
    ) -> Result<()> {
        let has_error = error_pending.is_some();
        self.recover_once()?;
        self.files()
            .commit(point, main, main_pending, error_pending, None)?;
        let files = self.points.entry(point).or_default();
        files.set(main, true);
        files.set(main.companion(), has_error);
        Ok(())
    }

    /// Makes `point`'s partial its final operator (for a point that crosses no threshold), with
    /// its error: the final files are hard links to the partial's (copies where links are not
    /// supported) committed as by [`insert_operator`](Self::insert_operator), and the partial
    /// is removed in the same commit.
    pub fn promote_partial(&mut self, point: &EvolutionPoint) -> Result<()> {
        let files = self.files_of(point);
        if !files.has(FileKind::Partial) {
            return Err(Error::NoSuchPoint {
                file: Location::file(&self.dir),
                point: point.to_string(),
                kind: FileKind::Partial.name(),
            });
        }
        let main = PendingFile::from_existing(
            &self.path_of(point, FileKind::Partial),
            &self.path_of(point, FileKind::Operator),
        )?;
        let error = files
            .has(FileKind::PartialError)
            .then(|| {
                PendingFile::from_existing(
                    &self.path_of(point, FileKind::PartialError),
                    &self.path_of(point, FileKind::OperatorError),
                )
            })
            .transpose()?;
        let has_error = error.is_some();
        self.files().commit(
            *point,
            FileKind::Operator,
            main,
            error,
            Some(FileKind::Partial),
        )?;
        let entry = self.points.entry(*point).or_default();
        entry.set(FileKind::Operator, true);
        entry.set(FileKind::OperatorError, has_error);
        entry.set(FileKind::Partial, false);
        entry.set(FileKind::PartialError, false);
        Ok(())
    }

    /// The threshold operators, mapped; `None` when the store has no `thresholds.npz`.
    pub fn thresholds(&self) -> Result<Option<Thresholds>> {
        if !self.thresholds {
            return Ok(None);
        }
        Thresholds::open(self.thresholds_path(), self.metadata.square_shape()).map(Some)
    }

    /// Starts writing a new `thresholds.npz`; it replaces the store's on
    /// [`commit_thresholds`](Self::commit_thresholds).
    pub fn thresholds_writer(&self) -> Result<ThresholdsWriter> {
        self.check_square("storing thresholds.npz")?;
        ThresholdsWriter::create(self.thresholds_path(), self.metadata.square_shape())
    }

    /// Finishes `writer` (from [`thresholds_writer`](Self::thresholds_writer)) and puts the
    /// archive in place under the store lock.
    pub fn commit_thresholds(&mut self, writer: ThresholdsWriter) -> Result<()> {
        self.recover_once()?;
        let _lock = self.lock()?;
        writer.finish()?;
        self.thresholds = true;
        Ok(())
    }

    /// Removes `thresholds.npz` (nothing happens if there is none).
    pub(crate) fn remove_thresholds(&mut self) -> Result<()> {
        let _lock = self.lock()?;
        fault_point!("clean.remove-thresholds");
        remove_if_exists(&self.thresholds_path())?;
        crate::atomic::sync_dir(&self.dir)
            .io_context(&Location::file(&self.dir), "fsync directory")?;
        self.thresholds = false;
        Ok(())
    }

    /// Removes `point`'s `main` file (operator or partial) and its error. Removing what is not
    /// there is not an error.
    pub fn remove(&mut self, point: &EvolutionPoint, main: FileKind) -> Result<()> {
        let main = if main.is_error() {
            main.companion()
        } else {
            main
        };
        self.recover_once()?;
        self.files().remove(point, main)?;
        if let Some(files) = self.points.get_mut(point) {
            files.set(main, false);
            files.set(main.companion(), false);
            if *files == PointFiles::default() {
                self.points.remove(point);
            }
        }
        Ok(())
    }

    /// Takes the store lock for one step (a no-op guard while this `Store` holds it).
    fn lock(&self) -> Result<LockGuard> {
        self.files().lock()
    }

    /// A handle on the store's files that other threads can use to commit and remove.
    pub(crate) fn files(&self) -> StoreFiles {
        StoreFiles {
            dir: self.dir.clone(),
            held: self.writer.clone(),
        }
    }

    /// A subset of points as one rank-5 array `[point, pid_out, x_out, pid_in, x_in]`. See
    /// [`Stack`] for when this is a zero-copy view and what the copy costs otherwise.
    pub fn stack(&self, points: &[EvolutionPoint], kind: FileKind) -> Result<Stack> {
        let files = points
            .iter()
            .map(|p| self.file(p, kind))
            .collect::<Result<Vec<_>>>()?;
        Stack::new(&files, self.shape_of(kind))
    }
}

/// The file operations of a store that need no index: a `Send` handle (for example for a thread
/// that commits while another computes). The [`Store`] that made it must be
/// [`refresh`](Store::refresh)ed afterwards to see the changes.
#[derive(Debug, Clone)]
pub(crate) struct StoreFiles {
    dir: PathBuf,
    /// The lock of a whole-store operation, when one holds it.
    held: Option<Arc<StoreLock>>,
}

impl StoreFiles {
    /// Takes the store lock for one step (blocking), recovering a dead writer's unfinished
    /// operation first; a no-op guard when the store is held for a whole operation.
    pub(crate) fn lock(&self) -> Result<LockGuard> {
        if self.held.is_some() {
            return Ok(None);
        }
        Ok(Some(recovery::lock(&self.dir, Wait::Block)?.0))
    }

    /// Commits `point`'s `main` file and its error (or no error), written under temporary
    /// names, then removes `then_remove`'s files (a partial that the new final replaces), as one
    /// step: under the store lock, with a record of intent, the old files are set aside, the
    /// error is renamed into place, then the main file (the commit point), then the old and the
    /// removed files go. Killed or failed before the commit point, the point keeps its old
    /// files; after it, the step is finished (by recovery).
    pub(crate) fn commit(
        &self,
        point: EvolutionPoint,
        main: FileKind,
        mut main_pending: PendingFile,
        mut error_pending: Option<PendingFile>,
        then_remove: Option<FileKind>,
    ) -> Result<()> {
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let main_name = main.file_name(&point);
        let error_name = main.companion().file_name(&point);
        let _lock = self.lock()?;
        // The old files are set aside (the point disappears for a moment rather than pairing an
        // old error with a new operator).
        let mut set_aside = Vec::new();
        for file in [&main_name, &error_name] {
            if self.dir.join(file).exists() {
                let backup = temp_name(&self.dir.join(file), "old");
                set_aside.push((file.clone(), name(&backup)));
            }
        }
        let mut renames = Vec::new();
        if let Some(e) = &error_pending {
            renames.push((name(e.temp_path()), name(e.dest_path())));
        }
        renames.push((
            name(main_pending.temp_path()),
            name(main_pending.dest_path()),
        ));
        let remove = then_remove
            .map(|kind| vec![kind.file_name(&point), kind.companion().file_name(&point)])
            .unwrap_or_default();
        let intent = Intent::Commit {
            set_aside: set_aside.clone(),
            renames,
            remove,
        };
        recovery::write_intent(&self.dir, &intent)?;
        let done = (|| -> Result<()> {
            for (file, backup) in &set_aside {
                fault_point!("commit.set-aside");
                fs::rename(self.dir.join(file), self.dir.join(backup))
                    .io_context(&Location::file(self.dir.join(file)), "rename aside")?;
            }
            if let Some(e) = &mut error_pending {
                e.rename_into_place()?;
            }
            main_pending.rename_into_place()?;
            crate::atomic::sync_dir(&self.dir)
                .io_context(&Location::file(&self.dir), "fsync directory")
        })();
        if let Err(e) = done {
            // Undo (before the commit point) or finish (after): what recovery would do.
            recovery::settle(&self.dir, &intent);
            return Err(e);
        }
        recovery::complete(&self.dir, &intent)
    }

    /// Removes `point`'s `main` file and its error, under the store lock, with a record of
    /// intent (main first: a reader may briefly see an orphan error, which readers ignore,
    /// never an operator without its error).
    pub(crate) fn remove(&self, point: &EvolutionPoint, main: FileKind) -> Result<()> {
        let _lock = self.lock()?;
        let files = [main.file_name(point), main.companion().file_name(point)];
        if !files.iter().any(|f| self.dir.join(f).exists()) {
            return Ok(());
        }
        let intent = Intent::Commit {
            set_aside: Vec::new(),
            renames: Vec::new(),
            remove: files.to_vec(),
        };
        recovery::write_intent(&self.dir, &intent)?;
        recovery::complete(&self.dir, &intent)
    }
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    crate::atomic::parent_dir(path)
}

/// Refuses to write `path` inside a store (its parent holds `metadata.json`): a store holds only
/// its own files, and anything else in it makes every later command fail on a foreign file.
pub fn check_outside_store(path: &Path) -> Result<()> {
    let parent = crate::atomic::parent_dir(path);
    if parent.join(METADATA_FILE).is_file() {
        return Err(Error::InsideStore {
            file: Location::file(path),
            store: parent,
        });
    }
    Ok(())
}

/// Refuses, before anything changes, a store-changing operation on a store this process may
/// not write to.
pub(crate) fn check_writable(dir: &Path) -> Result<()> {
    match crate::atomic::write_access(dir) {
        Ok(()) => Ok(()),
        Err(e) => Err(Error::ReadOnly {
            file: Location::file(dir),
            reason: e.to_string(),
        }),
    }
}

fn read_metadata(dir: &Path) -> Result<Metadata> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::NotADirectory {
            file: Location::file(dir),
        });
    }
    let path = dir.join(METADATA_FILE);
    let location = Location::file(&path);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotAStore {
                file: Location::file(dir),
            });
        }
        Err(e) => return Err(e).io_context(&location, "read"),
    };
    Metadata::from_json(&bytes, &location)
}

/// Whether `array` is Fortran-contiguous and not C-contiguous.
fn is_fortran<S: Data<Elem = f64>>(array: &ArrayBase<S, Ix4>) -> bool {
    !array.is_standard_layout() && array.t().is_standard_layout()
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    let location = Location::file(dir);
    for entry in fs::read_dir(dir).io_context(&location, "list directory")? {
        let name = entry.io_context(&location, "list directory")?.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with(TEMP_PREFIX) && name != LOCK_FILE {
            return Ok(false);
        }
    }
    Ok(true)
}

fn remove_if_exists(path: &Path) -> Result<()> {
    fault_point!("remove");
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).io_context(&Location::file(path), "remove"),
    }
}
