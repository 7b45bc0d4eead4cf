//! The one place that maps files.
//!
//! # The mapping hazard
//! A mapped file that another process truncates or rewrites in place changes under every view of
//! the map (in practice: SIGBUS or torn values). libeko never rewrites a file in place: every
//! writer creates a new file and renames it over the old one, which leaves existing maps intact.
//! Programs sharing a directory with libeko must do the same.

use std::fs::File;
use std::path::Path;

use memmap2::{Mmap, MmapMut};

use crate::error::{IoContext, Location, Result};

/// Maps all of `path` read-only. An empty file gives an empty map.
pub(crate) fn map_file(path: &Path, location: &Location) -> Result<Mmap> {
    let file = File::open(path).io_context(location, "open")?;
    // SAFETY: the map is read-only and owned by its caller's type, which documents the hazard
    // above; libeko's own writers never modify a mapped file in place.
    unsafe { Mmap::map(&file) }.io_context(location, "mmap")
}

/// Maps all of a file this process has just created under a unique temporary name, writable.
pub(crate) fn map_new_file(file: &File, location: &Location) -> Result<MmapMut> {
    // SAFETY: the caller created `file` with `create_new` under a unique temporary name; nothing
    // else writes or truncates it while the map is alive, and the map is dropped before the file
    // is renamed into place.
    unsafe { MmapMut::map_mut(file) }.io_context(location, "mmap")
}
