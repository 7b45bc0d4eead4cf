//! Writing `.npz` archives whose members are stored uncompressed with 64-byte-aligned data.

use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use ndarray::{ArrayBase, Data, Dimension};

use super::zip::{
    CENTRAL_SIG, END_SIG, LOCAL_SIG, UTF8_FLAG, ZIP64_END_SIG, ZIP64_EXTRA_ID, ZIP64_LOCATOR_SIG,
};
use crate::atomic::PendingFile;
use crate::error::{Error, IoContext, Location, Result};
use crate::npy::{self, DType, Element, NpyHeader, Order, header::NUMPY_ALIGN};

/// Extra-field id of the padding that aligns member data (private range, ignored by readers).
const PADDING_EXTRA_ID: u16 = 0xA11E;
/// DOS date 1980-01-01, time 00:00: fixed, so equal content gives equal archives.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
const U32_MAX: u64 = u32::MAX as u64;

struct CentralRecord {
    name: String,
    crc32: u32,
    size: u64,
    local_offset: u64,
}

/// Writes an `.npz` archive that `np.load` reads and [`super::NpzFile`] views in place.
///
/// Members are stored (not compressed) and each array's data starts at a multiple of 64 bytes
/// in the archive. The archive is written under a temporary name and appears at its path only on
/// [`NpzWriter::finish`]; dropped before that, nothing appears.
pub struct NpzWriter {
    pending: PendingFile,
    records: Vec<CentralRecord>,
    offset: u64,
}

/// Counts and checksums what passes through.
struct Tracking<'a, W: Write> {
    inner: &'a mut W,
    crc: crc32fast::Hasher,
    count: u64,
}

impl<W: Write> Write for Tracking<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl NpzWriter {
    /// Starts an archive that will appear at `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Ok(NpzWriter {
            pending: PendingFile::create(path.as_ref())?,
            records: Vec::new(),
            offset: 0,
        })
    }

    /// Adds `array` as member `key` (stored as `key.npy`) in memory order `order`.
    pub fn add<T, S, D>(&mut self, key: &str, array: &ArrayBase<S, D>, order: Order) -> Result<()>
    where
        T: Element,
        S: Data<Elem = T>,
        D: Dimension,
    {
        let location = self.pending.location().clone();
        let invalid = |reason| Error::InvalidMemberName {
            file: location.clone(),
            name: key.to_string(),
            reason,
        };
        if key.is_empty() {
            return Err(invalid("it is empty"));
        }
        if key.contains('\0') {
            return Err(invalid("it contains a NUL character"));
        }
        if key.starts_with('/') || key.split('/').any(|part| part == "..") {
            return Err(invalid("it is an absolute path or climbs out with '..'"));
        }
        let name = format!("{key}.npy");
        if self.records.iter().any(|r| r.name == name) {
            return Err(Error::DuplicateMember {
                file: Location::member(location.to_string(), name),
            });
        }
        let member_location = Location::member(location.to_string(), name.clone());
        let header = NpyHeader::for_writing(
            DType::native(T::KIND),
            array.shape(),
            order,
            NUMPY_ALIGN,
            &member_location,
        )?;
        let size = (header.data_offset + header.data_len()) as u64;
        let local_offset = self.offset;

        let zip64 = size >= U32_MAX;
        let mut extra = Vec::new();
        if zip64 {
            extra.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
            extra.extend_from_slice(&16u16.to_le_bytes());
            extra.extend_from_slice(&size.to_le_bytes());
            extra.extend_from_slice(&size.to_le_bytes());
        }
        let unpadded = local_offset + 30 + name.len() as u64 + extra.len() as u64;
        let mut padding = unpadded.next_multiple_of(NUMPY_ALIGN as u64) - unpadded;
        if padding > 0 && padding < 4 {
            padding += NUMPY_ALIGN as u64;
        }
        if padding > 0 {
            extra.extend_from_slice(&PADDING_EXTRA_ID.to_le_bytes());
            extra.extend_from_slice(&((padding - 4) as u16).to_le_bytes());
            extra.resize(extra.len() + padding as usize - 4, 0);
        }

        let mut local = Vec::with_capacity(30 + name.len() + extra.len());
        local.extend_from_slice(&LOCAL_SIG.to_le_bytes());
        local.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        local.extend_from_slice(&flags(&name).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes()); // stored
        local.extend_from_slice(&DOS_TIME.to_le_bytes());
        local.extend_from_slice(&DOS_DATE.to_le_bytes());
        local.extend_from_slice(&0u32.to_le_bytes()); // CRC-32, patched below
        let size32 = if zip64 { u32::MAX } else { size as u32 };
        local.extend_from_slice(&size32.to_le_bytes());
        local.extend_from_slice(&size32.to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        local.extend_from_slice(name.as_bytes());
        local.extend_from_slice(&extra);

        let file = self.pending.file();
        let result = (|| -> io::Result<u32> {
            file.write_all(&local)?;
            let mut out = io::BufWriter::with_capacity(1 << 16, &mut *file);
            let mut tracking = Tracking {
                inner: &mut out,
                crc: crc32fast::Hasher::new(),
                count: 0,
            };
            npy::write_npy_to(&mut tracking, &header, array)?;
            let (crc, count) = (tracking.crc.finalize(), tracking.count);
            out.flush()?;
            drop(out);
            debug_assert_eq!(count, size);
            file.seek(SeekFrom::Start(local_offset + 14))?;
            file.write_all(&crc.to_le_bytes())?;
            file.seek(SeekFrom::End(0))?;
            Ok(crc)
        })();
        let crc32 = match result {
            Ok(crc) => crc,
            Err(e) => {
                // Leave the archive as it was before this call, so later members still line up.
                let file = self.pending.file();
                let _ = file
                    .set_len(local_offset)
                    .and_then(|()| file.seek(SeekFrom::End(0)));
                return Err(e).io_context(&location, "write");
            }
        };
        self.offset = local_offset + local.len() as u64 + size;
        self.records.push(CentralRecord {
            name,
            crc32,
            size,
            local_offset,
        });
        Ok(())
    }

    /// Writes the central directory and renames the archive into place.
    pub fn finish(mut self) -> Result<()> {
        let location = self.pending.location().clone();
        let mut out = Vec::new();
        for r in &self.records {
            let mut extra = Vec::new();
            let big_size = r.size >= U32_MAX;
            let big_offset = r.local_offset >= U32_MAX;
            if big_size || big_offset {
                extra.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
                let len = if big_size { 16u16 } else { 0 } + if big_offset { 8 } else { 0 };
                extra.extend_from_slice(&len.to_le_bytes());
                if big_size {
                    extra.extend_from_slice(&r.size.to_le_bytes());
                    extra.extend_from_slice(&r.size.to_le_bytes());
                }
                if big_offset {
                    extra.extend_from_slice(&r.local_offset.to_le_bytes());
                }
            }
            let version: u16 = if extra.is_empty() { 20 } else { 45 };
            out.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
            out.extend_from_slice(&(version | (3 << 8)).to_le_bytes()); // made by: Unix
            out.extend_from_slice(&version.to_le_bytes());
            out.extend_from_slice(&flags(&r.name).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&DOS_TIME.to_le_bytes());
            out.extend_from_slice(&DOS_DATE.to_le_bytes());
            out.extend_from_slice(&r.crc32.to_le_bytes());
            let size32 = r.size.min(U32_MAX) as u32;
            out.extend_from_slice(&size32.to_le_bytes());
            out.extend_from_slice(&size32.to_le_bytes());
            out.extend_from_slice(&(r.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // comment
            out.extend_from_slice(&0u16.to_le_bytes()); // disk
            out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            out.extend_from_slice(&(0o100644u32 << 16).to_le_bytes()); // regular file, rw-r--r--
            out.extend_from_slice(&(r.local_offset.min(U32_MAX) as u32).to_le_bytes());
            out.extend_from_slice(r.name.as_bytes());
            out.extend_from_slice(&extra);
        }
        let cd_offset = self.offset;
        let cd_size = out.len() as u64;
        let count = self.records.len() as u64;
        if count >= 0xFFFF || cd_offset >= U32_MAX || cd_size >= U32_MAX {
            let z64_offset = cd_offset + cd_size;
            out.extend_from_slice(&ZIP64_END_SIG.to_le_bytes());
            out.extend_from_slice(&44u64.to_le_bytes());
            out.extend_from_slice(&(45u16 | (3 << 8)).to_le_bytes());
            out.extend_from_slice(&45u16.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&cd_size.to_le_bytes());
            out.extend_from_slice(&cd_offset.to_le_bytes());
            out.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&z64_offset.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
        }
        out.extend_from_slice(&END_SIG.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        let count16 = count.min(0xFFFF) as u16;
        out.extend_from_slice(&count16.to_le_bytes());
        out.extend_from_slice(&count16.to_le_bytes());
        out.extend_from_slice(&(cd_size.min(U32_MAX) as u32).to_le_bytes());
        out.extend_from_slice(&(cd_offset.min(U32_MAX) as u32).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        self.pending
            .file()
            .write_all(&out)
            .io_context(&location, "write")?;
        self.pending.commit()
    }
}

fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { UTF8_FLAG }
}

/// Writes `arrays` (key, array) to `path` as an aligned `.npz`, in C order.
pub fn write_npz<'a, T, S, D, I>(path: impl AsRef<Path>, arrays: I) -> Result<()>
where
    T: Element,
    S: Data<Elem = T> + 'a,
    D: Dimension + 'a,
    I: IntoIterator<Item = (&'a str, &'a ArrayBase<S, D>)>,
{
    let mut writer = NpzWriter::create(path)?;
    for (key, array) in arrays {
        writer.add(key, array, Order::C)?;
    }
    writer.finish()
}
