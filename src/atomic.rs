//! Files that appear whole or not at all: written under a temporary name in the destination's
//! directory, synced, then renamed over the destination.
//!
//! Every temporary file or directory libeko makes is named `.eko-tmp.*` and is held under an
//! exclusive `flock` by the process that made it, from its creation until it is committed or
//! removed. The kernel drops the lock when that process ends, however it ends, so a later
//! process tells a leftover of a dead writer (it can take the lock: [`remove_dead_temps`]) from
//! a file another process is still writing (it cannot). On filesystems without `flock` every
//! temporary file counts as alive and is never removed by others.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Location, Result};
use crate::fault::fault_point;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Prefix of every temporary name libeko creates; readers of a directory skip such names.
pub const TEMP_PREFIX: &str = ".eko-tmp.";

/// How many fresh names a creation tries before giving up (names collide only with leftovers of
/// a process that had the same pid, or when a cleaner removed the name between creation and
/// locking).
const ATTEMPTS: usize = 64;

/// A file being written under a temporary name. Dropped without [`PendingFile::commit`], the
/// temporary file is removed and the destination is untouched.
#[derive(Debug)]
pub struct PendingFile {
    file: File,
    temp: PathBuf,
    dest: PathBuf,
    location: Location,
    committed: bool,
}

impl PendingFile {
    /// Creates a new, empty temporary file next to `dest`, locked by this process.
    pub fn create(dest: &Path) -> Result<Self> {
        let location = Location::file(dest);
        for _ in 0..ATTEMPTS {
            let temp = temp_name(dest, "");
            fault_point!("temp.create");
            let file = match File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&temp)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).io_context(&location, "create temporary file"),
            };
            if claim(&file, &temp).io_context(&location, "lock temporary file")? {
                return Ok(PendingFile::new(file, temp, dest, location));
            }
        }
        Err(io::Error::other("no free temporary name"))
            .io_context(&location, "create temporary file")
    }

    fn new(file: File, temp: PathBuf, dest: &Path, location: Location) -> Self {
        PendingFile {
            file,
            temp,
            dest: dest.to_path_buf(),
            location,
            committed: false,
        }
    }

    /// A temporary file next to `dest` with the content of `source`: a hard link when the
    /// filesystem allows one (no bytes copied), a copy otherwise. `source` is left in place.
    pub fn from_existing(source: &Path, dest: &Path) -> Result<Self> {
        let location = Location::file(dest);
        for _ in 0..ATTEMPTS {
            let temp = temp_name(dest, "");
            fault_point!("temp.link");
            match fs::hard_link(source, &temp) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(_) => {
                    let mut pending = PendingFile::create(dest)?;
                    let mut from =
                        File::open(source).io_context(&Location::file(source), "open")?;
                    io::copy(&mut from, pending.file()).io_context(&location, "copy")?;
                    return Ok(pending);
                }
            }
            let file = File::options()
                .read(true)
                .write(true)
                .open(&temp)
                .io_context(&location, "open temporary file")?;
            if claim(&file, &temp).io_context(&location, "lock temporary file")? {
                return Ok(PendingFile::new(file, temp, dest, location));
            }
        }
        Err(io::Error::other("no free temporary name"))
            .io_context(&location, "create temporary file")
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Where the file will appear.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The temporary name.
    pub(crate) fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Where the file will appear, as a path.
    pub(crate) fn dest_path(&self) -> &Path {
        &self.dest
    }

    /// Flushes the data to disk (done again, cheaply, by the commits).
    pub fn sync(&mut self) -> Result<()> {
        fault_point!("temp.sync");
        self.file.sync_all().io_context(&self.location, "fsync")
    }

    /// Syncs the data, renames the file into place (replacing any file there) and syncs the
    /// directory entry.
    pub fn commit(mut self) -> Result<()> {
        self.sync()?;
        self.rename_into_place()?;
        sync_dir(&parent_dir(&self.dest)).io_context(&self.location, "fsync directory")?;
        Ok(())
    }

    /// Renames the (synced) file into place, without syncing the directory: for a caller that
    /// commits several files and syncs the directory once.
    pub(crate) fn rename_into_place(&mut self) -> Result<()> {
        fault_point!("temp.rename");
        fs::rename(&self.temp, &self.dest).io_context(&self.location, "rename into place")?;
        self.committed = true;
        Ok(())
    }

    /// Like [`commit`](Self::commit), but fails with an `AlreadyExists` I/O error, changing
    /// nothing, when the destination exists (a hard link never replaces a file).
    pub fn commit_new(mut self) -> Result<()> {
        self.sync()?;
        fault_point!("temp.link-into-place");
        fs::hard_link(&self.temp, &self.dest).io_context(&self.location, "link into place")?;
        // The destination is complete and durable once the directory is synced; the temporary
        // name is removed by `drop`.
        sync_dir(&parent_dir(&self.dest)).io_context(&self.location, "fsync directory")?;
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a name left behind is a dead writer's leftover for the next one.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// A directory being built under a temporary name beside its destination (an import, a demo),
/// locked by this process; removed with everything in it when dropped unless persisted.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
    _lock: Option<File>,
}

impl TempDir {
    /// Creates `.eko-tmp.{label}.{name}.{pid}.{n}` beside `dest` (after removing the leftovers
    /// of dead processes that built the same `dest` there).
    pub(crate) fn beside(dest: &Path, label: &str) -> Result<TempDir> {
        let location = Location::file(dest);
        remove_dead_beside(dest, label)?;
        for _ in 0..ATTEMPTS {
            let path = temp_name(dest, label);
            fault_point!("tempdir.create");
            match fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).io_context(&location, "create temporary directory"),
            }
            let dir = File::open(&path).io_context(&location, "open temporary directory")?;
            if claim(&dir, &path).io_context(&location, "lock temporary directory")? {
                return Ok(TempDir {
                    path,
                    _lock: Some(dir),
                });
            }
        }
        Err(io::Error::other("no free temporary name"))
            .io_context(&location, "create temporary directory")
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Checks that a new store can be built at `dest` (an import, a reshape): outside any store, not
/// a file, absent or an empty directory.
pub(crate) fn check_new_store_dir(dest: &Path) -> Result<()> {
    let location = Location::file(dest);
    crate::store::check_outside_store(dest)?;
    if dest.exists() && !dest.is_dir() {
        return Err(crate::error::Error::NotADirectory { file: location });
    }
    if dest.exists() {
        let empty = fs::read_dir(dest)
            .io_context(&location, "read directory")?
            .next()
            .is_none();
        if !empty {
            return Err(crate::error::Error::NotEmpty { file: location });
        }
    }
    Ok(())
}

/// Renames the finished directory `built` to `dest` (replacing the empty directory there, if
/// any) and syncs `dest`'s parent.
pub(crate) fn place_dir(built: &Path, dest: &Path) -> Result<()> {
    let location = Location::file(dest);
    if dest.exists() {
        fs::remove_dir(dest).io_context(&location, "replace the empty directory")?;
    }
    fs::rename(built, dest).io_context(&location, "rename the new store into place")?;
    sync_dir(&parent_dir(dest)).io_context(&location, "fsync directory")
}

/// Locks a file or directory this process just created at `path` (blocking: only a cleaner that
/// found the fresh name can hold it, and it removes the name before letting go). `Ok(false)` when
/// the name no longer refers to what was opened: the caller tries another name.
fn claim(file: &File, path: &Path) -> io::Result<bool> {
    match file.lock() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(true),
        Err(e) => return Err(e),
    }
    let held = file.metadata()?;
    Ok(match fs::symlink_metadata(path) {
        Ok(named) => named.ino() == held.ino() && named.dev() == held.dev(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    })
}

/// Takes the lock of a temporary file or directory whose owner is gone: `Some(file)` holding
/// the lock (keep it while removing the name), `None` while its owner lives (or where the
/// filesystem has no locks, or the name vanished).
fn claim_dead(path: &Path) -> io::Result<Option<File>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// A temporary file or directory found in a directory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TempEntry {
    /// Its path.
    pub path: PathBuf,
    /// Bytes it holds (for a directory, the files directly in it... and below).
    pub bytes: u64,
    /// Whether the process that made it is still running.
    pub alive: bool,
}

/// The temporary entries of `dir` (`.eko-tmp.*`), with whether their owner lives.
pub(crate) fn list_temps(dir: &Path) -> Result<Vec<TempEntry>> {
    let location = Location::file(dir);
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).io_context(&location, "list directory")? {
        let entry = entry.io_context(&location, "list directory")?;
        if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let path = entry.path();
        let alive = claim_dead(&path)
            .io_context(&Location::file(&path), "check owner")?
            .is_none()
            && path.exists();
        out.push(TempEntry {
            bytes: tree_bytes(&path),
            path,
            alive,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn tree_bytes(path: &Path) -> u64 {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| tree_bytes(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Removes the temporary files and directories in `dir` whose owner is gone; returns them.
pub(crate) fn remove_dead_temps(dir: &Path) -> Result<Vec<TempEntry>> {
    remove_dead_matching(dir, |_| true)
}

/// Removes the leftovers of dead processes that built `dest` under a temporary directory
/// labelled `label` beside it.
pub(crate) fn remove_dead_beside(dest: &Path, label: &str) -> Result<Vec<TempEntry>> {
    let prefix = format!("{TEMP_PREFIX}{label}.{}.", file_name(dest));
    let parent = parent_dir(dest);
    if !parent.is_dir() {
        return Ok(Vec::new());
    }
    remove_dead_matching(&parent, |name| name.starts_with(&prefix))
}

/// Removes the temporary files that dead processes left while writing `dest` (a file outside any
/// store, such as `eko apply`'s output), so that a rerun leaves nothing behind.
pub(crate) fn remove_dead_for(dest: &Path) -> Result<Vec<TempEntry>> {
    let prefix = format!("{TEMP_PREFIX}{}.", file_name(dest));
    let parent = parent_dir(dest);
    if !parent.is_dir() {
        return Ok(Vec::new());
    }
    remove_dead_matching(&parent, |name| name.starts_with(&prefix))
}

fn remove_dead_matching(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<TempEntry>> {
    let mut removed = Vec::new();
    for entry in list_temps(dir)? {
        let name = file_name(&entry.path);
        if entry.alive || !keep(&name) {
            continue;
        }
        let location = Location::file(&entry.path);
        let Some(_held) = claim_dead(&entry.path).io_context(&location, "check owner")? else {
            continue;
        };
        fault_point!("temp.remove-dead");
        let removed_ok = if entry.path.is_dir() {
            fs::remove_dir_all(&entry.path)
        } else {
            fs::remove_file(&entry.path)
        };
        match removed_ok {
            Ok(()) => removed.push(entry),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).io_context(&location, "remove leftover"),
        }
    }
    if !removed.is_empty() {
        sync_dir(dir).io_context(&Location::file(dir), "fsync directory")?;
    }
    Ok(removed)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A fresh temporary name in `dest`'s directory: `.eko-tmp.{label.}{name}.{pid}.{counter}`.
pub(crate) fn temp_name(dest: &Path, label: &str) -> PathBuf {
    let label = if label.is_empty() {
        String::new()
    } else {
        format!("{label}.")
    };
    parent_dir(dest).join(format!(
        "{TEMP_PREFIX}{label}{}.{}.{}",
        file_name(dest),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether this process may create and remove files in `dir` (`access(2)` with `W_OK | X_OK`:
/// a read-only filesystem or a directory that is not ours fails with its OS error).
pub(crate) fn write_access(dir: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Starts writing `file`'s dirty pages to disk without waiting (Linux `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`), so that a later fsync finds them written: a bulk writer overlaps the
/// disk with its next files instead of flushing everything at the end. Advice only: an error is
/// ignored (the fsync that follows is what guarantees durability).
pub(crate) fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: `file` is an open file, so its descriptor is valid for the call; the call only
    // queues writeback of the whole file (offset 0, length 0 = to the end) and touches no memory.
    let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}

/// Makes a rename or creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A directory a long command fills in place (the demo), marked as in use by a locked marker
/// file (`.eko-tmp.workdir.*`) until [`finish`](WorkDir::finish)ed. A run that fails empties
/// it when the `WorkDir` is dropped; a run that is killed leaves the marker with no owner, and
/// the next [`claim`](WorkDir::claim) of the directory (or `eko recover DIR`) knows the contents
/// are an abandoned run's, and empties it.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    marker: Option<PendingFile>,
}

impl WorkDir {
    /// Takes `path` for a run: it must be missing, empty, or hold an abandoned run (emptied
    /// here); a directory with other content, or a run still going, is [`Error::NotEmpty`].
    ///
    /// [`Error::NotEmpty`]: crate::Error::NotEmpty
    pub fn claim(path: &Path) -> Result<WorkDir> {
        let location = Location::file(path);
        crate::store::check_outside_store(path)?;
        if path.exists() && !path.is_dir() {
            return Err(crate::Error::NotADirectory { file: location });
        }
        if path.exists() {
            if WorkDir::is_abandoned(path)? {
                WorkDir::empty(path)?;
            } else if fs::read_dir(path)
                .io_context(&location, "list directory")?
                .next()
                .is_some()
            {
                return Err(crate::Error::NotEmpty { file: location });
            }
        }
        fs::create_dir_all(path).io_context(&location, "create directory")?;
        let marker = PendingFile::create(&path.join("workdir"))?;
        Ok(WorkDir {
            path: path.to_path_buf(),
            marker: Some(marker),
        })
    }

    /// Whether `path` holds the marker of a run whose process is gone.
    pub fn is_abandoned(path: &Path) -> Result<bool> {
        if !path.is_dir() {
            return Ok(false);
        }
        let prefix = format!("{TEMP_PREFIX}workdir.");
        let markers: Vec<TempEntry> = list_temps(path)?
            .into_iter()
            .filter(|t| file_name(&t.path).starts_with(&prefix))
            .collect();
        Ok(!markers.is_empty() && markers.iter().all(|t| !t.alive))
    }

    /// Removes everything in `path` (an abandoned run's files), keeping the directory.
    pub(crate) fn empty(path: &Path) -> Result<()> {
        let location = Location::file(path);
        for entry in fs::read_dir(path).io_context(&location, "list directory")? {
            let entry = entry.io_context(&location, "list directory")?.path();
            fault_point!("workdir.empty");
            let removed = if entry.is_dir() {
                fs::remove_dir_all(&entry)
            } else {
                fs::remove_file(&entry)
            };
            removed.io_context(&Location::file(&entry), "remove abandoned file")?;
        }
        Ok(())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run is complete: removes the marker.
    pub fn finish(mut self) {
        self.marker.take();
    }
}

impl Drop for WorkDir {
    /// Dropped without [`finish`](WorkDir::finish) (the run failed), the directory's contents
    /// are removed: they are a failed run's partial output. The directory itself stays.
    fn drop(&mut self) {
        if self.marker.is_some() {
            let _ = WorkDir::empty(&self.path);
            // The marker went with the contents.
            if let Some(mut marker) = self.marker.take() {
                marker.committed = true;
            }
        }
    }
}
