//! Files that appear whole or not at all: written under a temporary name in the destination's
//! directory, synced, then renamed over the destination.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Location, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Prefix of every temporary name libeko creates; readers of a directory skip such names.
pub const TEMP_PREFIX: &str = ".eko-tmp.";

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
    /// Creates a new, empty temporary file next to `dest`.
    pub fn create(dest: &Path) -> Result<Self> {
        let location = Location::file(dest);
        let temp = temp_name(dest);
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
            .io_context(&location, "create temporary file")?;
        Ok(PendingFile::new(file, temp, dest, location))
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
        let temp = temp_name(dest);
        if fs::hard_link(source, &temp).is_err() {
            fs::copy(source, &temp).io_context(&Location::file(source), "copy")?;
        }
        let file = File::options()
            .read(true)
            .write(true)
            .open(&temp)
            .io_context(&location, "open temporary file")?;
        Ok(PendingFile::new(file, temp, dest, location))
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Where the file will appear.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Flushes the data to disk (done again, cheaply, by the commits).
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_all().io_context(&self.location, "fsync")
    }

    /// Syncs the data, renames the file into place (replacing any file there) and syncs the
    /// directory entry.
    pub fn commit(mut self) -> Result<()> {
        self.sync()?;
        fs::rename(&self.temp, &self.dest).io_context(&self.location, "rename into place")?;
        self.committed = true;
        sync_dir(&parent_dir(&self.dest)).io_context(&self.location, "fsync directory")?;
        Ok(())
    }

    /// Like [`commit`](Self::commit), but fails with an `AlreadyExists` I/O error, changing
    /// nothing, when the destination exists (a hard link never replaces a file).
    pub fn commit_new(mut self) -> Result<()> {
        self.sync()?;
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
            // Best effort: the temporary name is ignored by readers anyway.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// A fresh temporary name in `dest`'s directory: `.eko-tmp.{name}.{pid}.{counter}`.
fn temp_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_dir(dest).join(format!(
        "{TEMP_PREFIX}{name}.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes a rename or creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
