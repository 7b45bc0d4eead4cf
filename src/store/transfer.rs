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

use std::sync::Arc;

use super::recovery::{self, Intent, Placement, RecoveryReport, SourceFile, StoreLock};
use super::{
    EvolutionPoint, FileKind, INTENT_FILE, METADATA_FILE, Resolution, Store, THRESHOLDS_FILE, Wait,
    is_empty_dir,
};
use crate::atomic::{PendingFile, sync_dir, temp_name};
use crate::error::{Error, IoContext, Location, Result};
use crate::fault::fault_point;
use crate::npy::NpyFile;

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
    /// Whether to wait for another writer of the destination (or of a source files move out
    /// of) to finish.
    pub wait: Wait,
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
    /// This run found its own interrupted run (same source, parts and transfer) past its commit
    /// point and finished it (then `points` is empty and no transfers are counted).
    pub resumed: bool,
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

/// Whether two `.npy` files hold the same array: dtype, memory order, shape and data bytes. Their
/// headers' comments may differ (what an operator records of its error, a checksum only one of
/// them has).
fn same_array(a: &Path, b: &Path) -> Result<bool> {
    if same_bytes(a, b)? {
        return Ok(true);
    }
    let (fa, fb) = (NpyFile::open(a)?, NpyFile::open(b)?);
    let (ha, hb) = (fa.header(), fb.header());
    Ok(ha.dtype == hb.dtype
        && ha.order == hb.order
        && ha.shape == hb.shape
        && fa.data_bytes() == fb.data_bytes())
}

fn compare(ours: &Files, theirs: &Files) -> Result<Comparison> {
    if !same_array(&ours.main, &theirs.main)? {
        return Ok(Comparison::Different);
    }
    Ok(match (&ours.error, &theirs.error) {
        (Some(a), Some(b)) if same_array(a, b)? => Comparison::Same,
        (Some(_), Some(_)) => Comparison::Different,
        (None, Some(_)) => Comparison::OtherRicher,
        _ => Comparison::Same,
    })
}

/// Carries out a transfer recorded as an intent in `home` (a locked directory): sets aside and
/// places each file, syncs, marks the commit point, then removes the backups and, for moves,
/// the sources. Fails, or is killed, before the commit point: every store is as it was (the
/// in-process undo and recovery are the same code). After it: finished (by recovery if need be).
struct Executor {
    transfer: Transfer,
    report: MergeReport,
}

impl Executor {
    fn run(mut self, home: &Path, mut intent: Intent) -> Result<MergeReport> {
        let Intent::Transfer { units, .. } = &intent else {
            unreachable!("a transfer intent")
        };
        let units = units.clone();
        let placed = (|| -> Result<()> {
            let mut dirs: Vec<PathBuf> = Vec::new();
            for unit in &units {
                // Old files aside, main first (the unit disappears for a moment rather than
                // pairing an old file with a new one), then the new ones, error first.
                for p in unit.iter().rev() {
                    if let Some(backup) = &p.backup {
                        fault_point!("transfer.set-aside");
                        fs::rename(&p.dst, backup)
                            .io_context(&Location::file(&p.dst), "rename aside")?;
                    }
                }
                for p in unit {
                    // An empty source: a file of the destination's unit that the new unit lacks
                    // (an error), only set aside.
                    if !p.src.as_os_str().is_empty() {
                        self.install(&p.src, &p.dst)?;
                    }
                    let parent = crate::atomic::parent_dir(&p.dst);
                    if !dirs.contains(&parent) {
                        dirs.push(parent);
                    }
                }
            }
            for dir in &dirs {
                sync_dir(dir).io_context(&Location::file(dir), "fsync directory")?;
            }
            if let Intent::Transfer { committed, .. } = &mut intent {
                *committed = true;
            }
            recovery::rewrite_intent(home, &intent)
        })();
        if let Err(e) = placed {
            // Before the commit point (or while marking it): undo.
            if let Intent::Transfer { committed, .. } = &mut intent {
                *committed = home.join(INTENT_FILE).exists() && self::committed(home);
            }
            recovery::settle(home, &intent);
            return Err(e);
        }
        recovery::complete(home, &intent)?;
        if let Intent::Transfer { unlink, .. } = &intent {
            self.report.unlinked_from_sources = unlink.len();
        }
        Ok(self.report)
    }

    /// Puts `src` at `dst` (which must not exist) by link or copy.
    fn install(&mut self, src: &Path, dst: &Path) -> Result<()> {
        let location = Location::file(dst);
        fault_point!("transfer.place");
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
        Ok(())
    }
}

/// Whether the intent in `home` says its commit point was passed.
fn committed(home: &Path) -> bool {
    fs::read(home.join(INTENT_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Intent>(&b).ok())
        .is_some_and(|i| {
            matches!(
                i,
                Intent::Transfer {
                    committed: true,
                    ..
                }
            )
        })
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

/// `path` made absolute with its parent resolved (the path itself may not exist yet), so that a
/// record of intent means the same from any working directory.
fn absolute(path: &Path) -> Result<PathBuf> {
    let location = Location::file(path);
    if path.exists() {
        return fs::canonicalize(path).io_context(&location, "resolve path");
    }
    let parent = crate::atomic::parent_dir(path);
    let name = path.file_name().ok_or_else(|| Error::InvalidArgument {
        reason: format!("{} does not name a directory", path.display()),
    })?;
    Ok(fs::canonicalize(&parent)
        .io_context(&Location::file(&parent), "resolve path")?
        .join(name))
}

/// Refuses a move out of `dir` unless this process may remove files there, before anything
/// changes.
fn check_movable(dir: &Path) -> Result<()> {
    crate::atomic::write_access(dir).map_err(|e| Error::CannotMove {
        file: Location::file(dir),
        reason: e.to_string(),
    })
}

/// Takes `dir`'s lock and recovers it, if `dir` is a directory; `None` otherwise (or when
/// recovery undid an operation that had created it).
fn lock_existing(dir: &Path, wait: Wait) -> Result<(Option<Arc<StoreLock>>, RecoveryReport)> {
    let mut report = RecoveryReport::default();
    if !dir.is_dir() {
        return Ok((None, report));
    }
    let lock = recovery::lock_recovering(dir, wait, &mut report)?;
    Ok((dir.is_dir().then_some(lock), report))
}

/// Creates `dir` if missing and takes its lock; says whether this call created it.
fn create_locked(dir: &Path, wait: Wait) -> Result<(Arc<StoreLock>, bool)> {
    let created = !dir.exists();
    if created {
        fault_point!("transfer.create-dir");
        fs::create_dir_all(dir).io_context(&Location::file(dir), "create directory")?;
    }
    Ok((Arc::new(recovery::lock(dir, wait)?.0), created))
}

/// Merges the stores in `sources` into `dest`.
///
/// `dest` may be an existing store (whose metadata every source must be compatible with), or a
/// missing or empty directory, which becomes a store with the first source's `metadata.json`
/// (copied byte for byte). Identical duplicates are transferred once; conflicting ones follow
/// `options.on_conflict`. The destination (and, for moves, every source) is locked for the
/// whole merge, and an interrupted operation found there is recovered first. On error every store
/// is left as it was; killed, the record of intent in `dest` lets the next writer (or
/// [`recover`](super::recover)) finish or undo it. A move first checks that every source lets it
/// remove files.
pub fn merge(dest: &Path, sources: &[&Path], options: MergeOptions) -> Result<MergeReport> {
    if dest.exists() && !dest.is_dir() {
        return Err(Error::NotADirectory {
            file: Location::file(dest),
        });
    }
    let dest = absolute(dest)?;
    let source_dirs: Vec<PathBuf> = sources.iter().map(|s| absolute(s)).collect::<Result<_>>()?;
    // Locks: the destination, and the sources files leave.
    let (mut dest_lock, _) = lock_existing(&dest, options.wait)?;
    let mut _source_locks = Vec::new();
    if options.transfer == Transfer::Move {
        let mut dirs: Vec<&PathBuf> = source_dirs.iter().filter(|d| **d != dest).collect();
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            _source_locks.push(lock_existing(dir, options.wait)?.0);
        }
    }
    let sources: Vec<Store> = source_dirs
        .iter()
        .map(|s| open_checked(s))
        .collect::<Result<_>>()?;
    let existing = if dest.join(METADATA_FILE).exists() {
        super::check_writable(&dest)?;
        Some(open_checked(&dest)?)
    } else {
        super::check_outside_store(&dest)?;
        if dest.exists() && !is_empty_dir(&dest)? {
            return Err(Error::NotAStore {
                file: Location::file(&dest),
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
    let Some(first) = sources.first() else {
        // Nothing to merge: an empty or missing destination stays as it is.
        return Ok(report);
    };

    let mut units = Vec::new();
    let mut unlink = Vec::new();
    if existing.is_none() {
        units.push(vec![Placement {
            src: first.dir().join(METADATA_FILE),
            dst: dest.join(METADATA_FILE),
            backup: None,
        }]);
    }
    for (unit, (files, in_dest)) in &chosen {
        if *in_dest {
            continue;
        }
        let (main_dst, error_dst) = match unit {
            Unit::Point(point, main) => (
                dest.join(main.file_name(point)),
                Some(dest.join(main.companion().file_name(point))),
            ),
            Unit::Thresholds => (dest.join(THRESHOLDS_FILE), None),
        };
        // Whatever the destination has under these names (the unit being replaced, or an
        // error file a unit without error leaves behind) is set aside, restored on undo.
        let place = |src: &Path, dst: &Path| Placement {
            src: src.to_path_buf(),
            dst: dst.to_path_buf(),
            backup: dst.exists().then(|| temp_name(dst, "old")),
        };
        let mut placements = Vec::new();
        if let Some(error_dst) = &error_dst {
            match &files.error {
                Some(error) => placements.push(place(error, error_dst)),
                None if error_dst.exists() => placements.push(place(Path::new(""), error_dst)),
                None => {}
            }
        }
        placements.push(place(&files.main, &main_dst));
        units.push(placements);
        if options.transfer == Transfer::Move {
            // Main first out of the source: it never shows a unit without its error.
            unlink.push(SourceFile::of(&files.main)?);
            if let Some(error) = &files.error {
                unlink.push(SourceFile::of(error)?);
            }
        }
    }
    if options.transfer == Transfer::Move {
        for dir in unlink
            .iter()
            .map(|f| crate::atomic::parent_dir(&f.path))
            .collect::<std::collections::BTreeSet<_>>()
        {
            check_movable(&dir)?;
        }
    }
    if units.is_empty() {
        return Ok(report);
    }

    let (lock, created) = match dest_lock.take() {
        Some(lock) => (lock, false),
        None => create_locked(&dest, options.wait)?,
    };
    let intent = Intent::Transfer {
        command: "merge".into(),
        arguments: format!(
            "{} <- {} ({:?}, {:?})",
            dest.display(),
            source_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            options.transfer,
            options.on_conflict
        ),
        created_dirs: if created {
            vec![dest.clone()]
        } else {
            Vec::new()
        },
        units,
        committed: false,
        unlink,
    };
    if let Err(e) = recovery::write_intent(&dest, &intent) {
        if created {
            let _ = fs::remove_dir_all(&dest);
        }
        return Err(e);
    }
    let executor = Executor {
        transfer: options.transfer,
        report,
    };
    let report = executor.run(&dest, intent);
    drop(lock);
    report
}

/// Splits `source` into stores, one per `(directory, points)` part, each a missing or empty
/// directory; see [`split_with`]. Waits for locks.
pub fn split(
    source: &Path,
    parts: &[(PathBuf, Vec<EvolutionPoint>)],
    transfer: Transfer,
) -> Result<SplitReport> {
    split_with(source, parts, transfer, Wait::Block)
}

/// Splits `source` into stores, one per `(directory, points)` part, each a missing or empty
/// directory. Every part gets the source's `metadata.json` and `thresholds.npz` (linked or
/// copied, never moved), and every file of its points. A point may be in one part only; points
/// in no part stay where they are. Merging the parts gives back the source, byte for byte.
///
/// The record of intent lives in the source for a move (which changes it; every file must be
/// removable from it, checked first), else in the first part. Rerun with the same arguments
/// after a kill, a split recovers its own interrupted run: undone before its commit point (then
/// done again), finished after it (then reported with [`SplitReport::resumed`]).
pub fn split_with(
    source: &Path,
    parts: &[(PathBuf, Vec<EvolutionPoint>)],
    transfer: Transfer,
    wait: Wait,
) -> Result<SplitReport> {
    let dests: Vec<PathBuf> = parts.iter().map(|(d, _)| d.clone()).collect();
    split_by(
        source,
        &dests,
        &Partition::Points(parts.iter().map(|(_, p)| p.clone()).collect()),
        transfer,
        wait,
    )
}

/// How [`split_by`] assigns a store's points (those with an operator or a partial, in μ²
/// order) to its parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Partition {
    /// Contiguous parts of near-equal size ([`partition_even`]).
    Even,
    /// Cut at these μ² values, finite and strictly increasing ([`partition_at`]): N values, N+1
    /// parts.
    At(Vec<f64>),
    /// Explicit point lists, one per part.
    Points(Vec<Vec<EvolutionPoint>>),
}

/// Splits `source` into the stores `dests` by `partition`: [`split_with`] with the points
/// chosen after the source is locked and recovered, so that a rerun after a kill computes the
/// same parts.
pub fn split_by(
    source: &Path,
    dests: &[PathBuf],
    partition: &Partition,
    transfer: Transfer,
    wait: Wait,
) -> Result<SplitReport> {
    let source = absolute(source)?;
    let dests: Vec<PathBuf> = dests.iter().map(|d| absolute(d)).collect::<Result<_>>()?;
    let arguments = format!(
        "{} -> {} ({transfer:?})",
        source.display(),
        dests
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Locks (recovering what a dead run left): the source for a move, every existing part.
    let mut locks = Vec::new();
    let mut resolved = Vec::new();
    if transfer == Transfer::Move {
        let (lock, report) = lock_existing(&source, wait)?;
        locks.push(lock);
        resolved.extend(report.operation);
    }
    for dir in &dests {
        let (lock, report) = lock_existing(dir, wait)?;
        locks.push(lock);
        resolved.extend(report.operation);
    }
    if resolved.iter().any(|r| {
        r.operation == "split"
            && r.resolution == Resolution::Finished
            && r.arguments.as_deref() == Some(arguments.as_str())
    }) {
        return Ok(SplitReport {
            points: Vec::new(),
            transfers: MergeReport::default(),
            resumed: true,
        });
    }
    let store = open_checked(&source)?;
    let points: Vec<EvolutionPoint> = store
        .points()
        .filter(|(_, f)| f.has(FileKind::Operator) || f.has(FileKind::Partial))
        .map(|(p, _)| p)
        .collect();
    let groups = match partition {
        Partition::Even => partition_even(&points, dests.len()),
        Partition::At(at) => {
            if at.iter().any(|b| !b.is_finite()) || at.windows(2).any(|w| w[0] >= w[1]) {
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "split boundaries {} must be finite and strictly increasing",
                        at.iter().map(f64::to_string).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            partition_at(&points, at)
        }
        Partition::Points(lists) => lists.clone(),
    };
    if groups.len() != dests.len() {
        return Err(Error::InvalidArgument {
            reason: format!(
                "{} part(s) of points for {} destination(s)",
                groups.len(),
                dests.len()
            ),
        });
    }
    let parts: Vec<(PathBuf, Vec<EvolutionPoint>)> = dests.into_iter().zip(groups).collect();
    let all = units(&store);
    let mut owner: BTreeMap<EvolutionPoint, usize> = BTreeMap::new();
    for (i, (dir, points)) in parts.iter().enumerate() {
        super::check_outside_store(dir)?;
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
                    file: Location::file(&source),
                    point: point.to_string(),
                    kind: "operator or partial",
                });
            }
            if let Some(other) = owner.insert(*point, i)
                && other != i
            {
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "{point} is assigned to two parts, {} and {}: a point goes to one part",
                        parts[other].0.display(),
                        dir.display()
                    ),
                });
            }
        }
    }
    let Some((home_part, _)) = parts.first() else {
        return Ok(SplitReport::default());
    };

    let mut created_dirs = Vec::new();
    let mut units = Vec::new();
    let mut unlink = Vec::new();
    let place = |src: &Path, dst: PathBuf| Placement {
        src: src.to_path_buf(),
        dst,
        backup: None,
    };
    for (dir, points) in &parts {
        if !dir.exists() {
            created_dirs.push(dir.clone());
        }
        units.push(vec![place(
            &source.join(METADATA_FILE),
            dir.join(METADATA_FILE),
        )]);
        if store.has_thresholds() {
            units.push(vec![place(
                &store.thresholds_path(),
                dir.join(THRESHOLDS_FILE),
            )]);
        }
        for point in points {
            for main in [FileKind::Operator, FileKind::Partial] {
                if let Some(files) = all.get(&Unit::Point(*point, main)) {
                    let mut unit = Vec::new();
                    if let Some(error) = &files.error {
                        unit.push(place(error, dir.join(main.companion().file_name(point))));
                    }
                    unit.push(place(&files.main, dir.join(main.file_name(point))));
                    units.push(unit);
                    if transfer == Transfer::Move {
                        unlink.push(SourceFile::of(&files.main)?);
                        if let Some(error) = &files.error {
                            unlink.push(SourceFile::of(error)?);
                        }
                    }
                }
            }
        }
    }
    if transfer == Transfer::Move && !unlink.is_empty() {
        check_movable(&source)?;
    }
    // Create and lock the parts (the first one first: it may be the intent's home).
    for (dir, _) in &parts {
        if !dir.exists() {
            locks.push(Some(create_locked(dir, wait)?.0));
        }
    }
    let home = if transfer == Transfer::Move {
        source.clone()
    } else {
        home_part.clone()
    };
    let intent = Intent::Transfer {
        command: "split".into(),
        arguments,
        created_dirs: created_dirs.clone(),
        units,
        committed: false,
        unlink,
    };
    if let Err(e) = recovery::write_intent(&home, &intent) {
        for dir in &created_dirs {
            let _ = fs::remove_dir_all(dir);
        }
        return Err(e);
    }
    let transfers = Executor {
        transfer,
        report: MergeReport::default(),
    }
    .run(&home, intent)?;
    drop(locks);
    Ok(SplitReport {
        points: parts.iter().map(|(_, p)| p.len()).collect(),
        transfers,
        resumed: false,
    })
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
