//! `.npy` files on disk: mapped read-only, created and mapped writable, or written from arrays.

use std::io::{self, Seek, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapMut};
use ndarray::{ArrayBase, ArrayD, ArrayView, ArrayViewD, ArrayViewMutD, Data, Dimension};

use super::dtype::{DType, Element};
use super::header::{
    Checksums, ErrorRecord, NpyHeader, Order, PAGE_ALIGN, data_range, parse_header,
};
use super::view::{self, InPlace};
use crate::atomic::PendingFile;
use crate::error::{Error, IoContext, Location, Result};
use crate::map::{map_file, map_new_file};

/// A `.npy` file mapped read-only.
///
/// Opening reads the header only; data pages are read by the kernel when a view touches them, so
/// a file larger than memory opens at once and is paged on demand.
///
/// # The mapping hazard
/// A mapped file that another process truncates or rewrites in place changes under the view
/// (in practice: SIGBUS or torn values). libeko never rewrites a file in place: every writer
/// creates a new file and renames it over the old one, which leaves existing maps intact. Other
/// programs sharing the directory must do the same.
#[derive(Debug)]
pub struct NpyFile {
    map: Mmap,
    header: NpyHeader,
    location: Location,
    path: PathBuf,
}

impl NpyFile {
    /// Maps `path` and parses its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let location = Location::file(path);
        let map = map_file(path, &location)?;
        let header = parse_header(&map, &location)?;
        data_range(&header, map.len() as u64, &location)?;
        Ok(NpyFile {
            map,
            header,
            location,
            path: path.to_path_buf(),
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw data bytes, in the file's byte and memory order.
    pub fn data_bytes(&self) -> &[u8] {
        let start = self.header.data_offset;
        &self.map[start..start + self.header.data_len()]
    }

    /// The checksums libeko recorded in the header's comment, if any (files NumPy or an older
    /// libeko wrote have none).
    pub fn recorded_checksums(&self) -> Option<Checksums> {
        Checksums::parse(&self.map[self.header.text_start()..self.header.data_offset])
    }

    /// The CRC-32 of the data bytes, as [`Checksums::data`] records it: reads the whole file.
    pub fn data_crc32(&self) -> u32 {
        crc32fast::hash(self.data_bytes())
    }

    /// Starts reading the file's pages in the background (`madvise(MADV_WILLNEED)`), so that a
    /// view read soon after does not wait on the disk.
    pub fn prefetch(&self) {
        crate::map::prefetch(&self.map);
    }

    /// Drops the file's pages from this process's resident memory (`madvise(MADV_DONTNEED)`);
    /// views stay valid and read the same values, faulting pages back in when touched. Iterating
    /// over many operators this way keeps resident memory at about one operator.
    pub fn release(&self) {
        crate::map::release(&self.map);
    }

    /// Whether [`NpyFile::view`] can work, and why not.
    pub fn in_place(&self) -> InPlace {
        view::in_place(&self.header, self.header.data_offset as u64)
    }

    /// A zero-copy view of the data. Refused, with an error naming the reason, when the element
    /// type differs, the data is misaligned or in foreign byte order (use [`NpyFile::read`]), or
    /// a `bool` array holds bytes other than 0 and 1 (checking that reads the data once).
    pub fn view<T: Element>(&self) -> Result<ArrayViewD<'_, T>> {
        view::view(
            &self.header,
            self.data_bytes(),
            &self.location,
            self.header.data_offset as u64,
        )
    }

    /// [`NpyFile::view`] with a fixed number of dimensions (for example `Ix4` for an operator).
    pub fn view_as<T: Element, D: Dimension>(&self) -> Result<ArrayView<'_, T, D>> {
        let v = self.view::<T>()?;
        let ndim = v.ndim();
        v.into_dimensionality::<D>()
            .map_err(|_| Error::DimensionMismatch {
                file: self.location.clone(),
                expected: D::NDIM.unwrap_or(ndim),
                found: ndim,
                shape: self.header.shape.clone(),
            })
    }

    /// A copy of the data in native byte order, whatever the alignment and byte order.
    pub fn read<T: Element>(&self) -> Result<ArrayD<T>> {
        view::copy(&self.header, self.data_bytes(), &self.location)
    }
}

/// Reads and checks only the header of the `.npy` at `path` (no map: one open and one or two
/// reads), and checks the file is long enough for its data. For checking many files quickly.
pub fn read_header(path: impl AsRef<Path>) -> Result<NpyHeader> {
    use std::io::Read;
    let path = path.as_ref();
    let location = Location::file(path);
    let mut file = std::fs::File::open(path).io_context(&location, "open")?;
    let len = file.metadata().io_context(&location, "stat")?.len();
    // Most headers fit in one page; the longest NumPy accepts is 12 + 40,000 bytes.
    let mut buffer = vec![0u8; (len as usize).min(4096)];
    file.read_exact(&mut buffer).io_context(&location, "read")?;
    let header = match parse_header(&buffer, &location) {
        Err(Error::Truncated { part: "header", .. }) if (buffer.len() as u64) < len => {
            let more = (len as usize).min(12 + 4 * super::header::MAX_HEADER_CHARS);
            buffer.resize(more, 0);
            file.read_exact(&mut buffer[4096..])
                .io_context(&location, "read")?;
            parse_header(&buffer, &location)?
        }
        other => other?,
    };
    data_range(&header, len, &location)?;
    Ok(header)
}

/// How [`write_npy`] lays a file out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Memory order of the stored elements. Default: C.
    pub order: Order,
    /// Alignment of the data start, a power of two from 64 to 4096. Default: 4096 (a page),
    /// so the data of several files can be mapped side by side into one strided view.
    pub align: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            order: Order::C,
            align: PAGE_ALIGN,
        }
    }
}

/// Writes `array` to `path` as a `.npy` NumPy loads (also with `mmap_mode='r'`).
///
/// The file is written under a temporary name in the same directory, synced, then renamed over
/// `path`: a reader sees the old file or the new one, never a part. On error nothing changes.
pub fn write_npy<T, S, D>(
    path: impl AsRef<Path>,
    array: &ArrayBase<S, D>,
    options: WriteOptions,
) -> Result<()>
where
    T: Element,
    S: Data<Elem = T>,
    D: Dimension,
{
    write_npy_pending(path.as_ref(), array, options)?.commit()
}

/// Writes `array` for `path` under a temporary name and syncs it; the caller commits. The header
/// records the data's CRC-32 (computed as the data is written) and `error`.
pub(crate) fn write_npy_pending<T, S, D>(
    path: &Path,
    array: &ArrayBase<S, D>,
    options: WriteOptions,
) -> Result<PendingFile>
where
    T: Element,
    S: Data<Elem = T>,
    D: Dimension,
{
    write_npy_recorded(path, array, options, ErrorRecord::NotRecorded, true).map(|(p, _)| p)
}

/// [`write_npy_pending`] recording `error` (a main file's error record) in the header, synced
/// when `sync`; returns the file and the data's CRC-32.
pub(crate) fn write_npy_recorded<T, S, D>(
    path: &Path,
    array: &ArrayBase<S, D>,
    options: WriteOptions,
    error: ErrorRecord,
    sync: bool,
) -> Result<(PendingFile, u32)>
where
    T: Element,
    S: Data<Elem = T>,
    D: Dimension,
{
    let location = Location::file(path);
    let header = NpyHeader::for_writing(
        DType::native(T::KIND),
        array.shape(),
        options.order,
        options.align,
        &location,
    )?;
    let mut pending = PendingFile::create(path)?;
    let data = {
        let mut hashing = Hashing {
            inner: io::BufWriter::with_capacity(1 << 16, pending.file()),
            hasher: crc32fast::Hasher::new(),
            header_left: header.data_offset,
        };
        write_npy_to(&mut hashing, &header, array).io_context(&location, "write")?;
        hashing.inner.flush().io_context(&location, "write")?;
        hashing.hasher.clone().finalize()
    };
    // The header again, now with the checksums, in the room reserved for them.
    let file = pending.file();
    file.seek(io::SeekFrom::Start(0))
        .and_then(|_| file.write_all(&header.encode_with(Some(Checksums { data, error }))))
        .io_context(&location, "write header")?;
    if sync {
        pending.sync()?;
    }
    Ok((pending, data))
}

/// A writer that hashes what it passes on after the first `header_left` bytes.
struct Hashing<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    header_left: usize,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let skip = self.header_left.min(n);
        self.header_left -= skip;
        self.hasher.update(&buf[skip..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the header and the elements of `array` in `header.order` to `out`.
pub(crate) fn write_npy_to<W, T, S, D>(
    out: &mut W,
    header: &NpyHeader,
    array: &ArrayBase<S, D>,
) -> io::Result<()>
where
    W: Write,
    T: Element,
    S: Data<Elem = T>,
    D: Dimension,
{
    out.write_all(&header.encode())?;
    // Fortran order of `array` is C order of its transpose.
    let logical = match header.order {
        Order::C => array.view().into_dyn(),
        Order::Fortran => array.t().into_dyn(),
    };
    if let Some(slice) = logical.as_slice() {
        return out.write_all(T::as_native_bytes(slice));
    }
    const CHUNK: usize = 1 << 14;
    let mut buffer = Vec::with_capacity(CHUNK);
    for &x in logical.iter() {
        buffer.push(x);
        if buffer.len() == CHUNK {
            out.write_all(T::as_native_bytes(&buffer))?;
            buffer.clear();
        }
    }
    out.write_all(T::as_native_bytes(&buffer))
}

/// A new `.npy` file mapped writable, for a producer to fill in place, then
/// [`commit`](NpyFileMut::commit) into its final name.
///
/// The file lives under a temporary name until committed; dropped uncommitted, it is removed.
/// The data starts zeroed, at a page-aligned offset.
#[derive(Debug)]
pub struct NpyFileMut<T: Element> {
    map: MmapMut,
    header: NpyHeader,
    pending: PendingFile,
    /// The data's CRC-32 once recorded in the header.
    recorded: Option<u32>,
    _element: PhantomData<T>,
}

impl<T: Element> NpyFileMut<T> {
    /// Creates the temporary file for `path` with room for `shape` in `order`, and maps it.
    pub fn create(path: impl AsRef<Path>, shape: &[usize], order: Order) -> Result<Self> {
        let path = path.as_ref();
        let location = Location::file(path);
        let header =
            NpyHeader::for_writing(DType::native(T::KIND), shape, order, PAGE_ALIGN, &location)?;
        let mut pending = PendingFile::create(path)?;
        let file = pending.file();
        file.write_all(&header.encode())
            .io_context(&location, "write header")?;
        let total = (header.data_offset + header.data_len()) as u64;
        file.set_len(total).io_context(&location, "set length")?;
        let map = map_new_file(file, &location)?;
        Ok(NpyFileMut {
            map,
            header,
            pending,
            recorded: None,
            _element: PhantomData,
        })
    }

    /// The header the file will have.
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }

    /// The data as a mutable view with the file's shape and memory order.
    pub fn view_mut(&mut self) -> ArrayViewMutD<'_, T> {
        let range = self.header.data_offset..self.header.data_offset + self.header.data_len();
        let offset = self.header.data_offset as u64;
        view::view_mut(
            &self.header,
            &mut self.map[range],
            self.pending.location(),
            offset,
        )
        .expect("native, page-aligned data of our own element type")
    }

    /// The data as a read-only view.
    pub fn view(&self) -> Result<ArrayViewD<'_, T>> {
        let range = self.header.data_offset..self.header.data_offset + self.header.data_len();
        view::view(
            &self.header,
            &self.map[range],
            self.pending.location(),
            self.header.data_offset as u64,
        )
    }

    /// Records the data's CRC-32 (one pass over the data in memory) and `error` in the header,
    /// in the room reserved for them; returns the CRC. Once the data is final: later writes to
    /// the data would not match. Done with [`ErrorRecord::NotRecorded`] by the commit when not
    /// done before.
    pub fn record_checksums(&mut self, error: ErrorRecord) -> u32 {
        let data = {
            let range = self.header.data_offset..self.header.data_offset + self.header.data_len();
            crc32fast::hash(&self.map[range])
        };
        let bytes = self.header.encode_with(Some(Checksums { data, error }));
        self.map[..bytes.len()].copy_from_slice(&bytes);
        self.recorded = Some(data);
        data
    }

    fn ensure_recorded(&mut self) {
        if self.recorded.is_none() {
            self.record_checksums(ErrorRecord::NotRecorded);
        }
    }

    /// Flushes the data, syncs, and renames the file into its final name.
    pub fn commit(self) -> Result<()> {
        self.into_pending()?.commit()
    }

    /// The first element of the data, for a host that fills the file through a pointer.
    pub(crate) fn data_ptr(&mut self) -> *mut T {
        self.view_mut().as_mut_ptr()
    }

    /// Makes the map read-only (same address) and returns it with the data's byte offset and
    /// the temporary file for the caller to commit. Pointers into the data stay valid for reading
    /// while the map lives; the commit's fsync writes the pages out.
    pub(crate) fn into_sealed(mut self) -> Result<(Mmap, usize, PendingFile)> {
        self.ensure_recorded();
        let map = crate::map::seal(self.map, self.pending.location())?;
        Ok((map, self.header.data_offset, self.pending))
    }

    /// Unmaps the data, returning the temporary file for the caller to commit (for example
    /// together with other files, or on another thread). No msync here: the data written through
    /// the map stays in the page cache as the file's dirty pages, and the commit's fsync writes
    /// them out.
    pub(crate) fn into_pending(mut self) -> Result<PendingFile> {
        self.ensure_recorded();
        drop(self.map);
        Ok(self.pending)
    }
}
