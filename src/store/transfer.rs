//! Merging stores and splitting them, file by file, all or nothing.
//!
//! Both first open and check every store involved (metadata compatibility, every file's header
//! against the grid) and plan every file operation, detecting conflicts, before changing
//! anything. They then carry the plan out under the destination's commit lock, keeping a journal:
//! if any step fails (a full disk, a vanished file), the journal is undone and every store is
//! left as it was. Files are linked by default (cost grows with the number of files, not their
//! bytes), copied where links are impossible (another filesystem), or moved on request.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{
    EvolutionPoint, FileKind, METADATA_FILE, Store, THRESHOLDS_FILE, is_empty_dir,
    remove_if_exists, set_aside,
};
use crate::atomic::{PendingFile, sync_dir};
use crate::error::{Error, IoContext, Location, Result};

/// How files get from one store to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transfer {
    /// Hard links: instant, sources keep their files. Falls back to copying across filesystems
    /// or where the filesystem refuses links. The default.
    #[default]
    Link,
    /// Files leave the source: linked, then unlinked from the source once everything succeeded
    /// (copied then unlinked across filesystems). Files that were not transferred (identical
    /// duplicates, conflicts resolved in favour of the destination) stay in the source.
    Move,
    /// Byte copies, streamed (the kernel's `copy_file_range` where available).
    Copy,
}

/// What to do when two stores hold different data for one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Refuse the whole merge with an error naming the point. The default.
    #[default]
    Error,
    /// Keep what the destination (or the earlier source) has.
    KeepDestination,
    /// Take the later source's files.
    TakeSource,
}

/// Options of [`merge`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeOptions {
    /// How files are transferred.
    pub transfer: Transfer,
    /// What a conflicting duplicate does.
    pub on_conflict: OnConflict,
}

/// What a merge or split did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeReport {
    /// Files hard-linked into the destination.
    pub linked: usize,
    /// Files copied.
    pub copied: usize,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Files removed from sources after a move.
    pub unlinked_from_sources: usize,
    /// Operators, partials or thresholds found identical in several stores (transferred once).
    pub identical: usize,
    /// Conflicts resolved by keeping the destination's (or earlier source's) data.
    pub kept: usize,
    /// Conflicts resolved by taking the later source's data.
    pub replaced: usize,
}

/// What [`split`] did: the points of each part, and the transfers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SplitReport {
    /// Points per part, in the order given.
    pub points: Vec<usize>,
    /// File transfers.
    pub transfers: MergeReport,
}

/// A unit that moves as a whole: a main file (operator or partial) with its error, or the
/// thresholds archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Point(EvolutionPoint, FileKind),
    Thresholds,
}

impl Unit {
    fn describe(self) -> String {
        match self {
            Unit::Point(p, kind) => format!("{} of {p}", kind.name()),
            Unit::Thresholds => "thresholds".into(),
        }
    }
}

/// One store's files for a unit.
#[derive(Debug, Clone)]
struct Files {
    main: PathBuf,
    error: Option<PathBuf>,
}

/// The units of a store and their files (orphan error files are left out).
fn units(store: &Store) -> BTreeMap<Unit, Files> {
    let mut out = BTreeMap::new();
    for (point, files) in store.points() {
        for main in [FileKind::Operator, FileKind::Partial] {
            if files.has(main) {
                let error = files
                    .has(main.companion())
                    .then(|| store.path_of(&point, main.companion()));
                out.insert(
                    Unit::Point(point, main),
                    Files {
                        main: store.path_of(&point, main),
                        error,
                    },
                );
            }
        }
    }
    if store.has_thresholds() {
        out.insert(
            Unit::Thresholds,
            Files {
                main: store.thresholds_path(),
                error: None,
            },
        );
    }
    out
}

/// Whether two files hold the same bytes (same inode, or same length and content).
fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let (ma, mb) = (
        fs::metadata(a).io_context(&Location::file(a), "stat")?,
        fs::metadata(b).io_context(&Location::file(b), "stat")?,
    );
    if ma.dev() == mb.dev() && ma.ino() == mb.ino() {
        return Ok(true);
    }
    if ma.len() != mb.len() {
        return Ok(false);
    }
    let (fa, fb) = (
        crate::map::map_file(a, &Location::file(a))?,
        crate::map::map_file(b, &Location::file(b))?,
    );
    Ok(fa[..] == fb[..])
}

enum Comparison {
    Same,
    /// Same main data, but the other one also has an error array.
    OtherRicher,
    Different,
}

fn compare(ours: &Files, theirs: &Files) -> Result<Comparison> {
    if !same_bytes(&ours.main, &theirs.main)? {
        return Ok(Comparison::Different);
    }
    Ok(match (&ours.error, &theirs.error) {
        (Some(a), Some(b)) if same_bytes(a, b)? => Comparison::Same,
        (Some(_), Some(_)) => Comparison::Different,
        (None, Some(_)) => Comparison::OtherRicher,
        _ => Comparison::Same,
    })
}

/// One step of an executed plan, for undoing it.
enum Done {
    /// A file created in a destination.
    Added(PathBuf),
    /// A destination file renamed aside (original, backup).
    SetAside(PathBuf, PathBuf),
    /// A directory this operation created.
    CreatedDir(PathBuf),
}

/// Carries out file operations, remembering how to undo them.
struct Journal {
    transfer: Transfer,
    done: Vec<Done>,
    report: MergeReport,
    /// Source files to unlink once everything succeeded (moves).
    to_unlink: Vec<PathBuf>,
}

impl Journal {
    fn new(transfer: Transfer) -> Self {
        Journal {
            transfer,
            done: Vec::new(),
            report: MergeReport::default(),
            to_unlink: Vec::new(),
        }
    }

    /// Puts `src` at `dst` (which must not exist) by link or copy.
    fn install(&mut self, src: &Path, dst: &Path, movable: bool) -> Result<()> {
        let location = Location::file(dst);
        let linked = self.transfer != Transfer::Copy && {
            match fs::hard_link(src, dst) {
                Ok(()) => true,
                Err(e) if link_impossible(&e) => false,
                Err(e) => return Err(e).io_context(&location, "link"),
            }
        };
        if linked {
            self.report.linked += 1;
        } else {
            let mut pending = PendingFile::create(dst)?;
            let mut from = fs::File::open(src).io_context(&Location::file(src), "open")?;
            let bytes = io::copy(&mut from, pending.file()).io_context(&location, "copy")?;
            pending.commit_new()?;
            self.report.copied += 1;
            self.report.bytes_copied += bytes;
        }
        self.done.push(Done::Added(dst.to_path_buf()));
        if movable && self.transfer == Transfer::Move {
            self.to_unlink.push(src.to_path_buf());
        }
        Ok(())
    }

    /// Renames an existing destination file aside (undone by renaming it back).
    fn set_aside(&mut self, path: &Path) -> Result<()> {
        if let Some(backup) = set_aside(path)? {
            self.done.push(Done::SetAside(path.to_path_buf(), backup));
        }
        Ok(())
    }

    fn create_dir(&mut self, dir: &Path) -> Result<()> {
        if !dir.exists() {
            fs::create_dir_all(dir).io_context(&Location::file(dir), "create directory")?;
            self.done.push(Done::CreatedDir(dir.to_path_buf()));
        }
        Ok(())
    }

    /// Undoes everything, newest first. Best effort: the original error is what gets reported.
    fn undo(self) {
        for step in self.done.into_iter().rev() {
            let _ = match step {
                Done::Added(path) => fs::remove_file(path),
                Done::SetAside(original, backup) => fs::rename(backup, original),
                Done::CreatedDir(dir) => fs::remove_dir_all(dir),
            };
        }
    }

    /// Makes the result durable and drops what the undo log kept.
    fn finish(mut self, dirs: &[&Path]) -> Result<MergeReport> {
        for dir in dirs {
            sync_dir(dir).io_context(&Location::file(dir), "fsync directory")?;
        }
        for step in &self.done {
            if let Done::SetAside(_, backup) = step {
                remove_if_exists(backup)?;
            }
        }
        let mut source_dirs: Vec<PathBuf> = Vec::new();
        for src in &self.to_unlink {
            remove_if_exists(src)?;
            self.report.unlinked_from_sources += 1;
            if let Some(parent) = src.parent()
                && !source_dirs.iter().any(|d| d == parent)
            {
                source_dirs.push(parent.to_path_buf());
            }
        }
        for dir in source_dirs {
            sync_dir(&dir).io_context(&Location::file(&dir), "fsync directory")?;
        }
        Ok(self.report)
    }
}

/// Errors after which a copy can still succeed where a link failed.
fn link_impossible(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EXDEV | libc::EPERM | libc::EMLINK | libc::EOPNOTSUPP | libc::ENOSYS)
    )
}

/// Opens a store and checks every file's header against its grid.
fn open_checked(dir: &Path) -> Result<Store> {
    let store = Store::open(dir)?;
    store.verify()?;
    Ok(store)
}

fn check_compatible(reference: &Store, other: &Store) -> Result<()> {
    match reference.metadata().incompatibility(other.metadata()) {
        None => Ok(()),
        Some((field, detail)) => Err(Error::Incompatible {
            file: Location::file(reference.dir().join(METADATA_FILE)),
            other: other.dir().to_path_buf(),
            field,
            detail,
        }),
    }
}

/// Merges the stores in `sources` into `dest`.
///
/// `dest` may be an existing store (whose metadata every source must be compatible with), or a
/// missing or empty directory, which becomes a store with the first source's `metadata.json`
/// (copied byte for byte). Identical duplicates are transferred once; conflicting ones follow
/// `options.on_conflict`. On error, every store is left as it was.
pub fn merge(dest: &Path, sources: &[&Path], options: MergeOptions) -> Result<MergeReport> {
    let sources: Vec<Store> = sources
        .iter()
        .map(|s| open_checked(s))
        .collect::<Result<_>>()?;
    let existing = if dest.join(METADATA_FILE).exists() {
        Some(open_checked(dest)?)
    } else {
        if dest.exists() && !is_empty_dir(dest)? {
            return Err(Error::NotAStore {
                file: Location::file(dest),
            });
        }
        None
    };
    let reference = existing.as_ref().or(sources.first());
    if let Some(reference) = reference {
        for source in &sources {
            check_compatible(reference, source)?;
        }
    }

    // Plan: for every unit, which store's files the destination ends up with.
    let mut report = MergeReport::default();
    let mut chosen: BTreeMap<Unit, (Files, bool)> = existing
        .as_ref()
        .map(|d| units(d).into_iter().map(|(u, f)| (u, (f, true))).collect())
        .unwrap_or_default();
    for source in &sources {
        for (unit, files) in units(source) {
            let Some((current, _)) = chosen.get(&unit) else {
                chosen.insert(unit, (files, false));
                continue;
            };
            match compare(current, &files)? {
                Comparison::Same => report.identical += 1,
                Comparison::OtherRicher => {
                    report.identical += 1;
                    chosen.insert(unit, (files, false));
                }
                Comparison::Different => match options.on_conflict {
                    OnConflict::Error => {
                        return Err(Error::Conflict {
                            file: Location::file(&current.main),
                            other: files.main.clone(),
                            what: unit.describe(),
                        });
                    }
                    OnConflict::KeepDestination => report.kept += 1,
                    OnConflict::TakeSource => {
                        report.replaced += 1;
                        chosen.insert(unit, (files, false));
                    }
                },
            }
        }
    }

    // Execute.
    let mut journal = Journal::new(options.transfer);
    journal.report = report;
    let result = (|| -> Result<()> {
        let created;
        let dest_store = match &existing {
            Some(d) => d,
            None => {
                journal.create_dir(dest)?;
                if let Some(first) = sources.first() {
                    journal.install(
                        &first.dir().join(METADATA_FILE),
                        &dest.join(METADATA_FILE),
                        false,
                    )?;
                }
                if sources.is_empty() {
                    return Ok(());
                }
                created = Store::open(dest)?;
                &created
            }
        };
        let _lock = dest_store.lock()?;
        for (unit, (files, in_dest)) in &chosen {
            if *in_dest {
                continue;
            }
            let (main_dst, error_dst) = match unit {
                Unit::Point(point, main) => (
                    dest_store.path_of(point, *main),
                    dest_store.path_of(point, main.companion()),
                ),
                Unit::Thresholds => (dest_store.thresholds_path(), PathBuf::new()),
            };
            // Whatever the destination has under these names (the unit being replaced, or an
            // orphan error file left by an interrupted writer) is set aside, restored on undo.
            for path in [&main_dst, &error_dst] {
                if !path.as_os_str().is_empty() && path.exists() {
                    journal.set_aside(path)?;
                }
            }
            // Error first, then the main file: readers never see a main file without its error.
            if let Some(error) = &files.error {
                journal.install(error, &error_dst, true)?;
            }
            journal.install(&files.main, &main_dst, true)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => journal.finish(&[dest]),
        Err(e) => {
            journal.undo();
            Err(e)
        }
    }
}

/// Splits `source` into stores, one per `(directory, points)` part, each a missing or empty
/// directory. Every part gets the source's `metadata.json` and `thresholds.npz` (linked or
/// copied, never moved), and every file of its points. A point may be in one part only; points
/// in no part stay where they are. Merging the parts gives back the source, byte for byte.
pub fn split(
    source: &Path,
    parts: &[(PathBuf, Vec<EvolutionPoint>)],
    transfer: Transfer,
) -> Result<SplitReport> {
    let store = open_checked(source)?;
    let all = units(&store);
    let mut owner: BTreeMap<EvolutionPoint, usize> = BTreeMap::new();
    for (i, (dir, points)) in parts.iter().enumerate() {
        if dir.exists() && !is_empty_dir(dir)? {
            return Err(Error::NotEmpty {
                file: Location::file(dir),
            });
        }
        for point in points {
            if !store.points().any(|(p, f)| {
                p == *point && (f.has(FileKind::Operator) || f.has(FileKind::Partial))
            }) {
                return Err(Error::NoSuchPoint {
                    file: Location::file(source),
                    point: point.to_string(),
                    kind: "operator or partial",
                });
            }
            if let Some(other) = owner.insert(*point, i)
                && other != i
            {
                return Err(Error::Conflict {
                    file: Location::file(dir),
                    other: parts[other].0.clone(),
                    what: format!("{point} is assigned to both parts"),
                });
            }
        }
    }

    let mut journal = Journal::new(transfer);
    let result = (|| -> Result<()> {
        for (dir, points) in parts {
            journal.create_dir(dir)?;
            journal.install(&source.join(METADATA_FILE), &dir.join(METADATA_FILE), false)?;
            if store.has_thresholds() {
                journal.install(&store.thresholds_path(), &dir.join(THRESHOLDS_FILE), false)?;
            }
            for point in points {
                for main in [FileKind::Operator, FileKind::Partial] {
                    if let Some(files) = all.get(&Unit::Point(*point, main)) {
                        if let Some(error) = &files.error {
                            journal.install(
                                error,
                                &dir.join(main.companion().file_name(point)),
                                true,
                            )?;
                        }
                        journal.install(&files.main, &dir.join(main.file_name(point)), true)?;
                    }
                }
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            let mut dirs: Vec<&Path> = parts.iter().map(|(d, _)| d.as_path()).collect();
            dirs.push(source);
            let transfers = journal.finish(&dirs)?;
            Ok(SplitReport {
                points: parts.iter().map(|(_, p)| p.len()).collect(),
                transfers,
            })
        }
        Err(e) => {
            journal.undo();
            Err(e)
        }
    }
}

/// `points` (in order) cut into `n` contiguous parts of near-equal size.
pub fn partition_even(points: &[EvolutionPoint], n: usize) -> Vec<Vec<EvolutionPoint>> {
    let n = n.max(1);
    let (base, extra) = (points.len() / n, points.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(points[start..start + len].to_vec());
        start += len;
    }
    out
}

/// `points` cut at μ² `boundaries` (increasing): part `i` holds the points with
/// `boundaries[i-1] <= mu2 < boundaries[i]`, so there are `boundaries.len() + 1` parts.
pub fn partition_at(points: &[EvolutionPoint], boundaries: &[f64]) -> Vec<Vec<EvolutionPoint>> {
    let mut out = vec![Vec::new(); boundaries.len() + 1];
    for p in points {
        let i = boundaries.iter().take_while(|b| p.mu2 >= **b).count();
        out[i].push(*p);
    }
    out
}
