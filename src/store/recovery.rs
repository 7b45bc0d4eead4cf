//! Crash recovery: the store lock, records of intent, and what finishes or undoes an interrupted
//! operation.
//!
//! # The design
//!
//! - **One lock per store** (`.eko-lock`, an exclusive `flock`): a commit takes it for the few
//!   renames it makes; a whole-store operation (combine, clean, merge into the store, split out
//!   of it with `--move`, recover) holds it from start to end. The kernel releases it when its
//!   holder dies.
//! - **A record of intent** (`.eko-intent`, JSON) is written, synced and linked into place
//!   under the lock before an operation's first change, and removed after its last. It lists
//!   every file the operation will touch and how, so that whoever takes the lock next can tell,
//!   from what is on disk, how far the operation got and finish it (past its commit point) or
//!   undo it (before). Since intents live only while their writer holds the lock, an intent found
//!   by the lock's holder always belongs to a dead process. Every lock acquisition checks for one
//!   first (one `stat`), so nothing is ever written on top of an unfinished operation.
//! - **Temporary files and directories** (`.eko-tmp.*`) are locked by their writer (see
//!   `crate::atomic`): a later process removes those whose owner is gone.
//! - **Orphan errors** (an error file without its operator or partial) are the trace of an
//!   interrupted removal (which removes the main file first so that readers never see an
//!   operator without its error); recovery removes them.
//!
//! [`recover`] does all of this for a store; a whole-store operation does it on taking the lock.
//! Rerunning an interrupted command therefore first recovers, then does the whole job again,
//! which gives exactly the store an uninterrupted run gives.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{FileKind, LOCK_FILE, remove_if_exists};
use crate::atomic::{PendingFile, TEMP_PREFIX, TempEntry, remove_dead_beside, sync_dir};
use crate::error::{Error, IoContext, Location, Result};
use crate::fault::fault_point;

/// Name of the record of intent of an unfinished operation.
pub const INTENT_FILE: &str = ".eko-intent";

/// Whether taking a store's lock waits for another writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// Wait as long as it takes (the default).
    #[default]
    Block,
    /// Fail at once with [`Error::Busy`] when another process holds the lock.
    NoWait,
}

/// A held store lock; released on drop (and by the kernel when the process dies).
#[derive(Debug)]
pub(crate) struct StoreLock {
    file: Option<File>,
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let _ = file.unlock();
        }
    }
}

/// A lock taken for one step (`Some`, released when dropped), or `None` when a whole-store
/// operation around the step holds it already.
pub(crate) type LockGuard = Option<StoreLock>;

/// Takes `dir`'s lock. With [`Wait::NoWait`], fails with [`Error::Busy`] (naming the holder's
/// pid when known) if another process holds it. Filesystems without `flock` proceed unlocked.
/// Then finishes or undoes a dead writer's operation, if its intent is there.
pub(crate) fn lock(dir: &Path, wait: Wait) -> Result<(StoreLock, Option<Resolved>)> {
    let path = dir.join(LOCK_FILE);
    let location = Location::file(&path);
    let opened = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path);
    let mut file = match opened {
        Ok(f) => f,
        // A store this process may not write to (a read-only filesystem or directory): lock the
        // file read-only if it exists (readers of other processes still see the lock), else
        // proceed unlocked, since no one can write here either. Whatever then tries to change
        // the store fails with its own precise error.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EROFS | libc::EACCES | libc::EPERM)
            ) =>
        {
            match File::open(&path) {
                Ok(f) => f,
                Err(_) => return Ok((StoreLock { file: None }, None)),
            }
        }
        Err(e) => return Err(e).io_context(&location, "open lock file"),
    };
    let locked = match file.try_lock() {
        Ok(()) => true,
        Err(fs::TryLockError::WouldBlock) => match wait {
            Wait::NoWait => {
                return Err(Error::Busy {
                    file: Location::file(dir),
                    holder: holder(&mut file),
                });
            }
            Wait::Block => match file.lock() {
                Ok(()) => true,
                Err(e) => return Err(e).io_context(&location, "lock"),
            },
        },
        Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => false,
        Err(fs::TryLockError::Error(e)) => return Err(e).io_context(&location, "lock"),
    };
    if !locked {
        return Ok((StoreLock { file: None }, None));
    }
    // The holder's pid, for the message of a process that finds the store busy (best effort: a
    // read-only store can still be locked for reading).
    let _ = file
        .set_len(0)
        .and_then(|()| file.write_all_at_start(std::process::id()));
    let lock = StoreLock { file: Some(file) };
    let resolved = recover_intent(dir)?;
    Ok((lock, resolved))
}

/// Who holds a lock file, as far as it says.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

trait WritePid {
    fn write_all_at_start(&mut self, pid: u32) -> io::Result<()>;
}

impl WritePid for File {
    fn write_all_at_start(&mut self, pid: u32) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.write_all_at(pid.to_string().as_bytes(), 0)
    }
}

/// Whether another process holds `dir`'s lock right now: `Some(pid)` (the pid when the lock
/// file names it). The answer may be stale by the time it is read.
pub fn lock_holder(dir: &Path) -> Option<Option<u32>> {
    let mut file = File::open(dir.join(LOCK_FILE)).ok()?;
    match file.try_lock() {
        Err(fs::TryLockError::WouldBlock) => Some(holder(&mut file)),
        _ => None,
    }
}

/// A file an operation moves out of a source store, identified by inode so that recovery never
/// removes a file that replaced it since.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
}

impl SourceFile {
    pub(crate) fn of(path: &Path) -> Result<SourceFile> {
        let meta = fs::metadata(path).io_context(&Location::file(path), "stat")?;
        Ok(SourceFile {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Removes the file if it is still the one recorded.
    fn unlink(&self) -> Result<()> {
        match fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => remove_if_exists(&self.path),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).io_context(&Location::file(&self.path), "stat"),
        }
    }
}

/// One file a transfer puts in place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Placement {
    /// Where it comes from.
    pub src: PathBuf,
    /// Where it goes (absent when planned, unless `backup` is set).
    pub dst: PathBuf,
    /// Where the file `dst` held is set aside first, when it held one.
    pub backup: Option<PathBuf>,
}

/// What an unfinished operation was doing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "operation", rename_all = "kebab-case")]
pub(crate) enum Intent {
    /// Files of one unit (an operator or partial with its error) replaced, then others removed.
    /// Names are relative to the store. The last rename is the commit point.
    Commit {
        /// `(file, backup)`: files renamed aside first.
        set_aside: Vec<(String, String)>,
        /// `(temporary, destination)`: renamed into place in order.
        renames: Vec<(String, String)>,
        /// Removed once the renames are done, in order.
        remove: Vec<String>,
    },
    /// A merge or split: files linked or copied into place, then (for moves) removed from their
    /// sources. Paths are absolute. The commit point is `committed` turning true.
    Transfer {
        /// `merge` or `split`.
        command: String,
        /// The command's arguments, canonical: a rerun with the same arguments recognises its
        /// own interrupted run.
        arguments: String,
        /// Directories this operation created (removed by an undo).
        created_dirs: Vec<PathBuf>,
        /// Files put in place, unit by unit (an operator or partial with its error: error
        /// first, main last). A unit's old files are set aside main first, then its new files
        /// placed error first, so that no reader pairs an old file with a new one.
        units: Vec<Vec<Placement>>,
        /// Whether every placement is done and durable.
        committed: bool,
        /// Source files removed after the commit point (moves), in order.
        unlink: Vec<SourceFile>,
    },
}

/// How an unfinished operation was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// It had passed its commit point: finished.
    Finished,
    /// It had not: undone, as if it never started.
    RolledBack,
}

/// An unfinished operation found and resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// `commit`, `merge` or `split`.
    pub operation: String,
    /// What was done about it.
    pub resolution: Resolution,
    /// The command's canonical arguments, for merge and split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// What [`recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    /// The unfinished operation found, if any.
    pub operation: Option<Resolved>,
    /// Temporary files and directories of dead writers removed.
    pub temporaries: Vec<TempEntry>,
    /// Orphan error files removed.
    pub orphans: Vec<PathBuf>,
}

impl RecoveryReport {
    /// Whether there was nothing to do.
    pub fn is_empty(&self) -> bool {
        self.operation.is_none() && self.temporaries.is_empty() && self.orphans.is_empty()
    }
}

/// Writes `intent` as `dir`'s record of intent, which must not exist (the caller holds the lock,
/// which recovered any earlier one).
pub(crate) fn write_intent(dir: &Path, intent: &Intent) -> Result<()> {
    let path = dir.join(INTENT_FILE);
    let mut pending = PendingFile::create(&path)?;
    let json = serde_json::to_vec_pretty(intent).expect("intents serialise");
    pending
        .file()
        .write_all(&json)
        .io_context(&Location::file(&path), "write")?;
    fault_point!("intent.write");
    pending.commit_new()
}

/// Replaces `dir`'s record of intent (an operation marking its commit point).
pub(crate) fn rewrite_intent(dir: &Path, intent: &Intent) -> Result<()> {
    let path = dir.join(INTENT_FILE);
    let mut pending = PendingFile::create(&path)?;
    let json = serde_json::to_vec_pretty(intent).expect("intents serialise");
    pending
        .file()
        .write_all(&json)
        .io_context(&Location::file(&path), "write")?;
    fault_point!("intent.rewrite");
    pending.commit()
}

/// Removes `dir`'s record of intent: the operation is over.
pub(crate) fn remove_intent(dir: &Path) -> Result<()> {
    fault_point!("intent.remove");
    remove_if_exists(&dir.join(INTENT_FILE))?;
    if !dir.is_dir() {
        return Ok(()); // undone with the directory it created
    }
    sync_dir(dir).io_context(&Location::file(dir), "fsync directory")
}

/// After a failed step of the operation whose intent `intent` is in `dir`: resolves it at once
/// (undone before its commit point, finished after), as recovery would, so that a failure
/// leaves nothing for later. If even that fails, the intent stays for the next writer.
pub(crate) fn settle(dir: &Path, intent: &Intent) {
    if resolve(dir, intent).is_ok() {
        let _ = remove_intent(dir);
    }
}

/// Finishes an operation whose steps all succeeded: resolves its intent (removing backups and
/// what the operation removes) and removes it; on failure, [`settle`]s.
pub(crate) fn complete(dir: &Path, intent: &Intent) -> Result<()> {
    let done = resolve(dir, intent).and_then(|_| remove_intent(dir));
    if done.is_err() {
        settle(dir, intent);
    }
    done
}

fn read_intent(dir: &Path) -> Result<Option<Intent>> {
    let path = dir.join(INTENT_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).io_context(&Location::file(&path), "read"),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Metadata {
            file: Location::file(&path),
            reason: format!(
                "unreadable record of intent ({e}); move it away and inspect the store"
            ),
        })
}

/// Finishes or undoes the operation recorded in `dir`'s intent, if there is one, and removes the
/// intent. The caller holds `dir`'s lock.
pub(crate) fn recover_intent(dir: &Path) -> Result<Option<Resolved>> {
    let Some(intent) = read_intent(dir)? else {
        return Ok(None);
    };
    let resolved = resolve(dir, &intent)?;
    remove_intent(dir)?;
    Ok(Some(resolved))
}

/// Carries an intent to its end (past the commit point) or back to its start (before it).
pub(crate) fn resolve(dir: &Path, intent: &Intent) -> Result<Resolved> {
    let resolution = match intent {
        Intent::Commit {
            set_aside,
            renames,
            remove,
        } => {
            // Temporary files exist before the intent is written: a missing one was renamed.
            let committed = renames
                .last()
                .is_none_or(|(temp, _)| !dir.join(temp).exists());
            if committed {
                for (_, backup) in set_aside {
                    remove_if_exists(&dir.join(backup))?;
                }
                for name in remove {
                    fault_point!("recover.remove");
                    remove_if_exists(&dir.join(name))?;
                }
                Resolution::Finished
            } else {
                for (temp, dest) in renames.iter().rev() {
                    if dir.join(temp).exists() {
                        remove_if_exists(&dir.join(temp))?;
                    } else {
                        fault_point!("recover.unrename");
                        remove_if_exists(&dir.join(dest))?;
                    }
                }
                for (original, backup) in set_aside.iter().rev() {
                    restore(&dir.join(backup), &dir.join(original))?;
                }
                Resolution::RolledBack
            }
        }
        Intent::Transfer {
            created_dirs,
            units,
            committed,
            unlink,
            ..
        } => {
            if *committed {
                for p in units.iter().flatten() {
                    if let Some(backup) = &p.backup {
                        remove_if_exists(backup)?;
                    }
                }
                let mut dirs: Vec<PathBuf> = Vec::new();
                for src in unlink {
                    fault_point!("recover.unlink-source");
                    src.unlink()?;
                    let parent = crate::atomic::parent_dir(&src.path);
                    if !dirs.contains(&parent) {
                        dirs.push(parent);
                    }
                }
                for d in dirs {
                    sync_dir(&d).io_context(&Location::file(&d), "fsync directory")?;
                }
                Resolution::Finished
            } else {
                for unit in units.iter().rev() {
                    // The unit's new files go, main first; then its old ones come back, error
                    // first.
                    for p in unit.iter().rev() {
                        match &p.backup {
                            // Not yet set aside: `dst` still holds the old file.
                            Some(backup) if !backup.exists() => {}
                            // Set aside (what is at `dst` is new), or planned absent under the
                            // lock (whatever is there is ours).
                            _ => {
                                fault_point!("recover.unplace");
                                remove_if_exists(&p.dst)?;
                            }
                        }
                    }
                    for p in unit {
                        if let Some(backup) = &p.backup {
                            restore(backup, &p.dst)?;
                        }
                    }
                }
                for created in created_dirs.iter().rev() {
                    if created.as_path() != dir {
                        remove_tree(created)?;
                    }
                }
                // The intent's own directory goes last (with the intent in it).
                if created_dirs.iter().any(|d| d.as_path() == dir) {
                    remove_tree(dir)?;
                }
                Resolution::RolledBack
            }
        }
    };
    if dir.is_dir() {
        sync_dir(dir).io_context(&Location::file(dir), "fsync directory")?;
    }
    let (operation, arguments) = match intent {
        Intent::Commit { .. } => ("commit".to_string(), None),
        Intent::Transfer {
            command, arguments, ..
        } => (command.clone(), Some(arguments.clone())),
    };
    Ok(Resolved {
        operation,
        resolution,
        arguments,
    })
}

fn remove_tree(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).io_context(&Location::file(dir), "remove directory"),
    }
}

/// Renames `backup` back to `original` if it is still there.
fn restore(backup: &Path, original: &Path) -> Result<()> {
    fault_point!("recover.restore");
    match fs::rename(backup, original) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).io_context(&Location::file(original), "restore"),
    }
}

/// Brings the store (or store-to-be) at `dir` back to a consistent state after an interrupted
/// operation: takes its lock (waiting as `wait` says), finishes or undoes the unfinished
/// operation, removes the temporary files of dead writers and orphan error files. Also removes
/// the leftovers of a dead import or reshape that was building `dir` beside it, and empties the
/// directory of a killed demo. Changes nothing that a live writer owns. A `dir` that does not
/// exist is refused ([`Error::NotAStore`]) unless an import or reshape left something beside it;
/// a file is
/// [`Error::NotADirectory`].
pub fn recover(dir: &Path, wait: Wait) -> Result<RecoveryReport> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::NotADirectory {
            file: Location::file(dir),
        });
    }
    let mut temporaries = remove_dead_beside(dir, "import")?;
    temporaries.extend(remove_dead_beside(dir, "reshape")?);
    let mut report = RecoveryReport {
        temporaries,
        ..RecoveryReport::default()
    };
    if !dir.exists() {
        if report.temporaries.is_empty() {
            // Neither a store nor the destination of an import or reshape that left something:
            // a typo?
            return Err(Error::NotAStore {
                file: Location::file(dir),
            });
        }
        return Ok(report);
    }
    // The directory of a run that was killed (the demo's): its contents are that run's, half
    // done; the next run would empty it, and so does recovery.
    if crate::atomic::WorkDir::is_abandoned(dir)? {
        report.temporaries.extend(
            crate::atomic::list_temps(dir)?
                .into_iter()
                .filter(|t| !t.alive),
        );
        crate::atomic::WorkDir::empty(dir)?;
        return Ok(report);
    }
    // A directory that is not a store and holds nothing of libeko's is left alone (not even
    // given a lock file).
    let ours = dir.join(super::METADATA_FILE).exists()
        || dir.join(INTENT_FILE).exists()
        || (dir.is_dir() && !crate::atomic::list_temps(dir)?.is_empty());
    if !ours {
        return Ok(report);
    }
    let _lock = lock_recovering(dir, wait, &mut report)?;
    Ok(report)
}

/// Takes `dir`'s lock and recovers it fully (see [`recover`]), adding to `report`.
pub(crate) fn lock_recovering(
    dir: &Path,
    wait: Wait,
    report: &mut RecoveryReport,
) -> Result<Arc<StoreLock>> {
    let (lock, resolved) = lock(dir, wait)?;
    report.operation = resolved;
    // Undoing an operation that created the directory removes it.
    if dir.is_dir() {
        report
            .temporaries
            .extend(crate::atomic::remove_dead_temps(dir)?);
        report.orphans.extend(remove_orphans(dir)?);
    }
    Ok(Arc::new(lock))
}

/// Error files of `dir` without their operator or partial.
pub(crate) fn orphans(dir: &Path) -> Result<Vec<PathBuf>> {
    let location = Location::file(dir);
    let mut names = std::collections::BTreeSet::new();
    for entry in fs::read_dir(dir).io_context(&location, "list directory")? {
        let entry = entry.io_context(&location, "list directory")?;
        if let Some(name) = entry.file_name().to_str() {
            names.insert(name.to_string());
        }
    }
    Ok(names
        .iter()
        .filter_map(|name| {
            let (point, kind) = FileKind::parse_file_name(name)?;
            (kind.is_error() && !names.contains(&kind.companion().file_name(&point)))
                .then(|| dir.join(name))
        })
        .collect())
}

fn remove_orphans(dir: &Path) -> Result<Vec<PathBuf>> {
    let found = orphans(dir)?;
    for path in &found {
        fault_point!("recover.remove-orphan");
        remove_if_exists(path)?;
    }
    if !found.is_empty() {
        sync_dir(dir).io_context(&Location::file(dir), "fsync directory")?;
    }
    Ok(found)
}

/// What is left in a store by interrupted writers, for `inspect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Leftovers {
    /// An unfinished operation's record (`commit`, `merge`, `split`), when its writer is gone.
    pub unfinished: Option<String>,
    /// Temporary files and directories, with whether their writer still runs.
    pub temporaries: Vec<TempEntry>,
    /// Error files without their operator or partial.
    pub orphans: Vec<PathBuf>,
}

impl Leftovers {
    /// Whether anything needs `eko recover`.
    pub fn needs_recovery(&self) -> bool {
        self.unfinished.is_some()
            || self.temporaries.iter().any(|t| !t.alive)
            || !self.orphans.is_empty()
    }
}

/// What interrupted writers left in `dir` (reads only; a writer at work right now shows its
/// temporary files as alive and its operation as nothing unfinished).
pub(crate) fn leftovers(dir: &Path) -> Result<Leftovers> {
    let busy = lock_holder(dir).is_some();
    let unfinished = if busy {
        None
    } else {
        read_intent(dir)?.map(|i| match i {
            Intent::Commit { .. } => "commit".to_string(),
            Intent::Transfer { command, .. } => command,
        })
    };
    Ok(Leftovers {
        unfinished,
        temporaries: crate::atomic::list_temps(dir)?,
        orphans: if busy { Vec::new() } else { orphans(dir)? },
    })
}

/// Whether `name` is one of libeko's own bookkeeping names in a store directory (metadata
/// excluded): the lock, a record of intent, a temporary file.
pub(crate) fn is_bookkeeping(name: &str) -> bool {
    name == LOCK_FILE || name == INTENT_FILE || name.starts_with(TEMP_PREFIX)
}
