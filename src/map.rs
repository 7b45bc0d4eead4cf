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

use crate::error::{Error, IoContext, Location, Result};

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

/// Turns a writable map of a file this process created into a read-only map of the same pages,
/// at the same address (`mprotect`): writes through old pointers fault instead of changing a file
/// that has been committed.
pub(crate) fn seal(map: MmapMut, location: &Location) -> Result<Mmap> {
    map.make_read_only().io_context(location, "mprotect")
}

/// Asks the kernel to read a read-only file map ahead (`madvise(MADV_WILLNEED)`): the pages
/// are loaded in the background while the caller works on something else. Advice only: an
/// error is ignored.
pub(crate) fn prefetch(map: &Mmap) {
    let _ = map.advise(memmap2::Advice::WillNeed);
}

/// Drops a read-only file map's pages from this process's resident memory
/// (`madvise(MADV_DONTNEED)`). The map stays valid: a later read faults the pages back in from
/// the page cache or the file, with the same contents. Advice only: an error is ignored.
pub(crate) fn release(map: &Mmap) {
    // SAFETY: `map` is a shared, read-only mapping of a file (`map_file`). For such a mapping
    // MADV_DONTNEED only discards this process's page-table entries: the data stays in the file
    // and the page cache, and the next access reads it back unchanged. (It zero-fills only
    // private or anonymous mappings, which `Mmap` from `map_file` never is.) No reference into
    // the map becomes dangling.
    let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
}

/// The system's page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// The data of several files mapped side by side, `stride` bytes apart, in one reserved region.
///
/// The region is reserved as readable anonymous memory (zeros), then each file's page-aligned
/// data range is mapped over its slot with `MAP_FIXED`. The gaps between slots read as zeros, so
/// the whole region is valid to view as bytes. The mapping hazard above applies to every file.
#[derive(Debug)]
pub(crate) struct StackedMap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the region is mapped read-only and never written through this type; sending or
// sharing it between threads is as safe as sharing a `&[u8]`.
unsafe impl Send for StackedMap {}
// SAFETY: as above.
unsafe impl Sync for StackedMap {}

impl StackedMap {
    /// Maps `len` bytes at `offset` (a multiple of the page size) of each file, file `i` at
    /// `i * stride` (`stride` a multiple of the page size, at least `len`).
    pub(crate) fn new(files: &[(&Path, u64)], len: usize, stride: usize) -> Result<Self> {
        let page = page_size();
        assert!(
            stride.is_multiple_of(page) && stride >= len,
            "stride must cover the data in whole pages"
        );
        let first = files
            .first()
            .map_or(Location::Buffer("stack".into()), |(p, _)| Location::file(p));
        let total = stride
            .checked_mul(files.len())
            .ok_or_else(|| Error::SizeOverflow {
                file: first.clone(),
                shape: vec![files.len() as u64, len as u64],
                item_size: 1,
            })?
            .max(page);
        // SAFETY: a new anonymous private read-only mapping at an address the kernel chooses;
        // no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .io_context(&first, "reserve address space");
        }
        let map = StackedMap {
            ptr: ptr.cast(),
            len: total,
        };
        for (i, (path, offset)) in files.iter().enumerate() {
            let location = Location::file(path);
            assert!(
                (*offset as usize).is_multiple_of(page),
                "file offsets must be page-aligned"
            );
            let file = File::open(path).io_context(&location, "open")?;
            let size = file.metadata().io_context(&location, "stat")?.len();
            if size < offset + len as u64 {
                return Err(Error::Truncated {
                    file: location,
                    part: "array data",
                    offset: *offset,
                    needed: len as u64,
                    available: size.saturating_sub(*offset),
                });
            }
            if len == 0 {
                continue;
            }
            // SAFETY: the target range [ptr + i*stride, + len rounded up to whole pages) lies
            // inside the region reserved above and owned by `map` (stride >= len, in whole
            // pages), so MAP_FIXED replaces only our own anonymous pages. The file holds at least
            // offset + len bytes, so no mapped page lies wholly past its end (the tail of the
            // last page reads as zeros). The descriptor may be closed once mmap returns.
            let slot = unsafe {
                libc::mmap(
                    map.ptr.add(i * stride).cast(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    std::os::fd::AsRawFd::as_raw_fd(&file),
                    *offset as libc::off_t,
                )
            };
            if slot == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error()).io_context(&location, "mmap");
            }
        }
        Ok(map)
    }

    /// The whole region, gaps included.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr + len` is one readable mapping owned by `self` for its lifetime.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for StackedMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `new`; no borrow of it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}
