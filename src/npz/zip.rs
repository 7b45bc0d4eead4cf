//! The parts of the zip format an `.npz` needs: end records, central directory, local headers.
//! Every read is bounds-checked; every size is taken from the central directory (or its zip64
//! extra), never from a local header that may defer them to a data descriptor.

use crate::error::{Error, Location, Result};

pub(crate) const LOCAL_SIG: u32 = 0x0403_4b50;
pub(crate) const CENTRAL_SIG: u32 = 0x0201_4b50;
pub(crate) const END_SIG: u32 = 0x0605_4b50;
pub(crate) const ZIP64_END_SIG: u32 = 0x0606_4b50;
pub(crate) const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
pub(crate) const ZIP64_EXTRA_ID: u16 = 0x0001;
pub(crate) const LOCAL_LEN: usize = 30;
pub(crate) const CENTRAL_LEN: usize = 46;
pub(crate) const END_LEN: usize = 22;
pub(crate) const ZIP64_END_LEN: usize = 56;
pub(crate) const ZIP64_LOCATOR_LEN: usize = 20;

/// Flag bit 0: traditional encryption; bit 6: strong encryption; bit 13: encrypted directory.
const ENCRYPTION_FLAGS: u16 = 1 | (1 << 6) | (1 << 13);
/// Flag bit 3: sizes and CRC follow the data in a descriptor.
const DATA_DESCRIPTOR_FLAG: u16 = 1 << 3;
/// Flag bit 11: the name is UTF-8.
pub(crate) const UTF8_FLAG: u16 = 1 << 11;
/// Method 99 is WinZip AES encryption.
const AES_METHOD: u16 = 99;

/// Little-endian reads at absolute offsets of a byte slice, bounds-checked.
pub(crate) struct Bytes<'a> {
    pub data: &'a [u8],
    pub location: &'a Location,
}

impl Bytes<'_> {
    pub fn slice(&self, offset: u64, len: u64, what: &str) -> Result<&[u8]> {
        let end = offset.checked_add(len);
        match end {
            Some(end) if end <= self.data.len() as u64 => {
                Ok(&self.data[offset as usize..end as usize])
            }
            _ => Err(self.error(format!(
                "{what} at offset {offset} ({len} bytes) runs past the end of the {}-byte file",
                self.data.len()
            ))),
        }
    }

    pub fn error(&self, reason: String) -> Error {
        Error::ZipStructure {
            file: self.location.clone(),
            reason,
        }
    }
}

pub(crate) fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
pub(crate) fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}
pub(crate) fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// Where the central directory is, from the end records.
#[derive(Debug)]
pub(crate) struct Directory {
    pub entries: u64,
    pub offset: u64,
    pub size: u64,
    /// Where the end records start: the central directory must end here.
    pub end_offset: u64,
}

/// Finds the end of central directory record (and the zip64 one when present).
pub(crate) fn find_directory(bytes: &Bytes<'_>) -> Result<Directory> {
    let data = bytes.data;
    if data.len() < END_LEN {
        return Err(bytes.error(format!(
            "{} bytes is too short for a zip archive",
            data.len()
        )));
    }
    // The end record is followed only by its comment (at most 65535 bytes): search backwards.
    let lowest = data.len().saturating_sub(END_LEN + usize::from(u16::MAX));
    let pos = (lowest..=data.len() - END_LEN)
        .rev()
        .find(|&i| {
            u32_at(data, i) == END_SIG
                && i + END_LEN + usize::from(u16_at(data, i + 20)) <= data.len()
        })
        .ok_or_else(|| {
            bytes.error("no end of central directory record: not a zip archive".into())
        })?;
    let end = &data[pos..pos + END_LEN];
    let (disk, cd_disk) = (u16_at(end, 4), u16_at(end, 6));
    let (entries_disk, entries) = (u16_at(end, 8), u16_at(end, 10));
    let mut dir = Directory {
        entries: u64::from(entries),
        offset: u64::from(u32_at(end, 16)),
        size: u64::from(u32_at(end, 12)),
        end_offset: pos as u64,
    };
    if disk != 0 || cd_disk != 0 || entries_disk != entries {
        return Err(bytes.error("multi-disk archives are not supported".into()));
    }
    if pos >= ZIP64_LOCATOR_LEN && u32_at(data, pos - ZIP64_LOCATOR_LEN) == ZIP64_LOCATOR_SIG {
        let locator = &data[pos - ZIP64_LOCATOR_LEN..pos];
        if u32_at(locator, 4) != 0 || u32_at(locator, 16) > 1 {
            return Err(bytes.error("multi-disk zip64 archives are not supported".into()));
        }
        let z64_offset = u64_at(locator, 8);
        let record = bytes.slice(
            z64_offset,
            ZIP64_END_LEN as u64,
            "zip64 end of central directory",
        )?;
        if u32_at(record, 0) != ZIP64_END_SIG {
            return Err(bytes.error(format!(
                "no zip64 end of central directory record at offset {z64_offset}"
            )));
        }
        if u32_at(record, 16) != 0
            || u32_at(record, 20) != 0
            || u64_at(record, 24) != u64_at(record, 32)
        {
            return Err(bytes.error("multi-disk zip64 archives are not supported".into()));
        }
        dir = Directory {
            entries: u64_at(record, 32),
            size: u64_at(record, 40),
            offset: u64_at(record, 48),
            end_offset: z64_offset,
        };
    }
    if dir.offset.checked_add(dir.size) != Some(dir.end_offset) {
        return Err(bytes.error(format!(
            "central directory at offset {} of {} bytes does not end where the end records start ({})",
            dir.offset, dir.size, dir.end_offset
        )));
    }
    if dir.entries.saturating_mul(CENTRAL_LEN as u64) > dir.size {
        return Err(bytes.error(format!(
            "{} entries cannot fit in a central directory of {} bytes",
            dir.entries, dir.size
        )));
    }
    Ok(dir)
}

/// One central directory record, with zip64 values resolved.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub name_bytes: Vec<u8>,
    pub flags: u16,
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub local_offset: u64,
}

/// Reads all central directory records.
pub(crate) fn read_directory(bytes: &Bytes<'_>, dir: &Directory) -> Result<Vec<Entry>> {
    let mut entries = Vec::with_capacity(dir.entries as usize);
    let mut pos = dir.offset;
    let end = dir.offset + dir.size;
    for index in 0..dir.entries {
        let fixed = bytes.slice(pos, CENTRAL_LEN as u64, "central directory record")?;
        if u32_at(fixed, 0) != CENTRAL_SIG {
            return Err(bytes.error(format!(
                "central directory record {index} at offset {pos} has a bad signature"
            )));
        }
        let flags = u16_at(fixed, 8);
        let method = u16_at(fixed, 10);
        let (name_len, extra_len, comment_len) =
            (u16_at(fixed, 28), u16_at(fixed, 30), u16_at(fixed, 32));
        let var_len = u64::from(name_len) + u64::from(extra_len) + u64::from(comment_len);
        if pos + CENTRAL_LEN as u64 + var_len > end {
            return Err(bytes.error(format!(
                "central directory record {index} runs past the directory"
            )));
        }
        let name_bytes = bytes
            .slice(pos + CENTRAL_LEN as u64, u64::from(name_len), "name")?
            .to_vec();
        let extra = bytes.slice(
            pos + CENTRAL_LEN as u64 + u64::from(name_len),
            u64::from(extra_len),
            "extra",
        )?;
        let name = decode_name(&name_bytes, flags).ok_or_else(|| {
            bytes.error(format!(
                "member name {:?} is not valid text",
                name_bytes.escape_ascii().to_string()
            ))
        })?;
        let mut entry = Entry {
            name,
            name_bytes,
            flags,
            method,
            crc32: u32_at(fixed, 16),
            compressed_size: u64::from(u32_at(fixed, 20)),
            uncompressed_size: u64::from(u32_at(fixed, 24)),
            local_offset: u64::from(u32_at(fixed, 42)),
        };
        if u16_at(fixed, 34) != 0 && u16_at(fixed, 34) != u16::MAX {
            return Err(bytes.error(format!("member '{}' starts on another disk", entry.name)));
        }
        let member = Location::member(location_path(bytes.location), entry.name.clone());
        apply_zip64_extra(
            extra,
            &mut [
                &mut entry.uncompressed_size,
                &mut entry.compressed_size,
                &mut entry.local_offset,
            ],
        )
        .map_err(|reason| Error::ZipStructure {
            file: member.clone(),
            reason,
        })?;
        if flags & ENCRYPTION_FLAGS != 0 || method == AES_METHOD {
            return Err(Error::ZipEncrypted { file: member });
        }
        entries.push(entry);
        pos += CENTRAL_LEN as u64 + var_len;
    }
    Ok(entries)
}

/// UTF-8 when flagged; otherwise ASCII only (legacy code page 437 names are not supported).
fn decode_name(bytes: &[u8], flags: u16) -> Option<String> {
    if flags & UTF8_FLAG != 0 || bytes.is_ascii() {
        String::from_utf8(bytes.to_vec()).ok()
    } else {
        None
    }
}

/// Replaces 32-bit fields that read `0xFFFFFFFF` by their values from the zip64 extra field
/// (which lists them in the order uncompressed size, compressed size, local header offset).
pub(crate) fn apply_zip64_extra(
    extra: &[u8],
    fields: &mut [&mut u64],
) -> std::result::Result<(), String> {
    let mut i = 0;
    let mut zip64: Option<&[u8]> = None;
    while i + 4 <= extra.len() {
        let (id, len) = (u16_at(extra, i), usize::from(u16_at(extra, i + 2)));
        let body = extra
            .get(i + 4..i + 4 + len)
            .ok_or_else(|| "extra field runs past its record".to_string())?;
        if id == ZIP64_EXTRA_ID {
            zip64 = Some(body);
        }
        i += 4 + len;
    }
    let mut cursor = 0;
    for field in fields.iter_mut() {
        if **field == u64::from(u32::MAX) {
            let body = zip64.ok_or_else(|| {
                "a size or offset reads 0xFFFFFFFF but there is no zip64 extra field".to_string()
            })?;
            let value = body
                .get(cursor..cursor + 8)
                .ok_or_else(|| "zip64 extra field is too short".to_string())?;
            **field = u64::from_le_bytes(value.try_into().expect("8 bytes"));
            cursor += 8;
        }
    }
    Ok(())
}

/// Checks the local header of `entry` against it and returns where the member's data starts.
pub(crate) fn check_local_header(
    bytes: &Bytes<'_>,
    entry: &Entry,
    member: &Location,
) -> Result<u64> {
    let structure = |reason: String| Error::ZipStructure {
        file: member.clone(),
        reason,
    };
    let mismatch = |field| Error::ZipHeaderMismatch {
        file: member.clone(),
        field,
    };
    let fixed = bytes
        .slice(entry.local_offset, LOCAL_LEN as u64, "local header")
        .map_err(|_| {
            structure(format!(
                "local header offset {} is past the end of the file",
                entry.local_offset
            ))
        })?;
    if u32_at(fixed, 0) != LOCAL_SIG {
        return Err(structure(format!(
            "no local header signature at offset {}",
            entry.local_offset
        )));
    }
    let (name_len, extra_len) = (u64::from(u16_at(fixed, 26)), u64::from(u16_at(fixed, 28)));
    let start = entry.local_offset + LOCAL_LEN as u64;
    let name = bytes
        .slice(start, name_len, "local name")
        .map_err(|_| structure("local header runs past the end of the file".into()))?;
    if name != entry.name_bytes.as_slice() {
        return Err(mismatch("name"));
    }
    let extra = bytes
        .slice(start + name_len, extra_len, "local extra")
        .map_err(|_| structure("local header runs past the end of the file".into()))?;
    let flags = u16_at(fixed, 6);
    if flags & ENCRYPTION_FLAGS != 0 {
        return Err(Error::ZipEncrypted {
            file: member.clone(),
        });
    }
    if u16_at(fixed, 8) != entry.method {
        return Err(mismatch("compression method"));
    }
    if flags & DATA_DESCRIPTOR_FLAG == 0 && entry.flags & DATA_DESCRIPTOR_FLAG == 0 {
        let mut uncompressed = u64::from(u32_at(fixed, 22));
        let mut compressed = u64::from(u32_at(fixed, 18));
        apply_zip64_extra(extra, &mut [&mut uncompressed, &mut compressed]).map_err(structure)?;
        if u32_at(fixed, 14) != entry.crc32 {
            return Err(mismatch("CRC-32"));
        }
        if compressed != entry.compressed_size {
            return Err(mismatch("compressed size"));
        }
        if uncompressed != entry.uncompressed_size {
            return Err(mismatch("uncompressed size"));
        }
    }
    let data_start = start + name_len + extra_len;
    bytes
        .slice(data_start, entry.compressed_size, "member data")
        .map_err(|_| {
            structure(format!(
                "{} bytes of data at offset {data_start} run past the end of the file",
                entry.compressed_size
            ))
        })?;
    Ok(data_start)
}

fn location_path(location: &Location) -> std::path::PathBuf {
    match location {
        Location::File(p) => p.clone(),
        Location::Member { archive, .. } => archive.clone(),
        Location::Buffer(what) => std::path::PathBuf::from(what),
    }
}
