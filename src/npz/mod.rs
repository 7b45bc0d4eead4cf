//! `.npz` archives: zip files of `.npy` members, as `np.savez` and `np.savez_compressed` write.
//!
//! [`NpzFile`] maps an archive, reads its central directory (zip64 included) and every member's
//! `.npy` header, and refuses encrypted, overlapping or inconsistent entries. Stored members whose
//! data is aligned are viewed in place; other members are copied ([`NpzFile::read`]).
//! [`NpzWriter`] writes stored members whose data is 64-byte aligned, so they map in place.

mod write;
mod zip;

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::DeflateDecoder;
use memmap2::Mmap;
use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};

use crate::error::{Error, Location, Result};
use crate::map::map_file;
use crate::npy::{self, Element, InPlace, NpyHeader};
pub use write::{NpzWriter, write_npz};
use zip::{Bytes, Entry};

/// How a member's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed (`np.savez`): can be viewed in place.
    Stored,
    /// Deflate (`np.savez_compressed`): read by copy.
    Deflated,
}

impl Compression {
    /// `stored` or `deflated`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Stored => "stored",
            Compression::Deflated => "deflated",
        }
    }
}

/// One `.npy` member of an archive.
#[derive(Debug, Clone)]
pub struct NpzMember {
    /// The key NumPy uses: the member name without its `.npy` suffix.
    pub key: String,
    /// The member name in the zip directory.
    pub zip_name: String,
    /// Storage method.
    pub compression: Compression,
    /// Bytes in the archive.
    pub compressed_size: u64,
    /// Bytes of the `.npy` once decompressed.
    pub uncompressed_size: u64,
    /// The recorded CRC-32 of the `.npy` bytes.
    pub crc32: u32,
    /// Offset of the member's first byte (its `.npy` magic, when stored) in the archive.
    pub offset: u64,
    /// The member's `.npy` header.
    pub header: NpyHeader,
}

impl NpzMember {
    /// Whether the member can be viewed in place, and why not.
    pub fn in_place(&self) -> InPlace {
        match self.compression {
            Compression::Deflated => InPlace::Compressed,
            Compression::Stored => npy::in_place(&self.header, self.array_offset()),
        }
    }

    /// Offset of the array data in the archive (meaningful for stored members).
    pub fn array_offset(&self) -> u64 {
        self.offset + self.header.data_offset as u64
    }
}

/// Largest expansion deflate can achieve (about 1032:1), plus slack for tiny members.
fn max_inflated(compressed: u64) -> u64 {
    compressed.saturating_mul(1032).saturating_add(1024)
}

/// An `.npz` archive mapped read-only. The mapping hazard of [`npy::NpyFile`] applies.
#[derive(Debug)]
pub struct NpzFile {
    map: Mmap,
    path: PathBuf,
    members: Vec<NpzMember>,
}

impl NpzFile {
    /// Maps `path`, reads and checks its directory and every member's `.npy` header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let location = Location::file(path);
        let map = map_file(path, &location)?;
        let members = read_members(&map, path, &location)?;
        Ok(NpzFile {
            map,
            path: path.to_path_buf(),
            members,
        })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The members, in archive order.
    pub fn members(&self) -> &[NpzMember] {
        &self.members
    }

    /// The member with NumPy key `key` (`"a"` for `a.npy`).
    pub fn member(&self, key: &str) -> Result<&NpzMember> {
        self.members
            .iter()
            .find(|m| m.key == key)
            .ok_or_else(|| Error::NoSuchMember {
                file: Location::file(&self.path),
                name: key.to_string(),
                available: self.members.iter().map(|m| m.key.clone()).collect(),
            })
    }

    fn location(&self, member: &NpzMember) -> Location {
        Location::member(&self.path, member.zip_name.clone())
    }

    fn stored_bytes(&self, member: &NpzMember) -> &[u8] {
        &self.map[member.offset as usize..(member.offset + member.compressed_size) as usize]
    }

    /// A zero-copy view of a stored, aligned, native-order member.
    pub fn view<T: Element>(&self, key: &str) -> Result<ArrayViewD<'_, T>> {
        let member = self.member(key)?;
        let location = self.location(member);
        if member.compression == Compression::Deflated {
            return Err(Error::Compressed { file: location });
        }
        let bytes = self.stored_bytes(member);
        let range = member.header.data_offset..member.header.data_offset + member.header.data_len();
        npy::view(
            &member.header,
            &bytes[range],
            &location,
            member.array_offset(),
        )
    }

    /// A copy of a member in native byte order: decompressed if needed, CRC-32 checked.
    pub fn read<T: Element>(&self, key: &str) -> Result<ArrayD<T>> {
        let member = self.member(key)?;
        let location = self.location(member);
        let inflated;
        let bytes = match member.compression {
            Compression::Stored => self.stored_bytes(member),
            Compression::Deflated => {
                inflated = self.inflate(member, &location)?;
                &inflated
            }
        };
        let found = crc32fast::hash(bytes);
        if found != member.crc32 {
            return Err(Error::ZipCrc {
                file: location,
                expected: member.crc32,
                found,
            });
        }
        let range = member.header.data_offset..member.header.data_offset + member.header.data_len();
        npy::copy(&member.header, &bytes[range], &location)
    }

    /// A view where possible, a copy otherwise.
    pub fn load<T: Element>(&self, key: &str) -> Result<CowArray<'_, T, IxDyn>> {
        if self.member(key)?.in_place().is_yes() {
            self.view(key).map(CowArray::from)
        } else {
            self.read(key).map(CowArray::from)
        }
    }

    /// Checks a member's CRC-32 (reads all of its bytes).
    pub fn verify(&self, key: &str) -> Result<()> {
        let member = self.member(key)?;
        let location = self.location(member);
        let found = match member.compression {
            Compression::Stored => crc32fast::hash(self.stored_bytes(member)),
            Compression::Deflated => crc32fast::hash(&self.inflate(member, &location)?),
        };
        if found != member.crc32 {
            return Err(Error::ZipCrc {
                file: location,
                expected: member.crc32,
                found,
            });
        }
        Ok(())
    }

    fn inflate(&self, member: &NpzMember, location: &Location) -> Result<Vec<u8>> {
        inflate_prefix(
            self.stored_bytes(member),
            member.uncompressed_size,
            member.uncompressed_size,
            location,
        )
    }
}

/// Decompresses up to `want` bytes of a deflate stream whose total is `expected` bytes.
/// When `want == expected`, the stream must produce exactly `expected` bytes.
fn inflate_prefix(
    compressed: &[u8],
    expected: u64,
    want: u64,
    location: &Location,
) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::ZipInflate {
        file: location.clone(),
        expected,
        reason,
    };
    let mut out = Vec::new();
    let whole = want == expected;
    let limit = if whole {
        expected.saturating_add(1)
    } else {
        want
    };
    DeflateDecoder::new(compressed)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| fail(e.to_string()))?;
    if whole && out.len() as u64 != expected {
        return Err(fail(format!("it produced {} bytes", out.len())));
    }
    Ok(out)
}

fn read_members(map: &[u8], path: &Path, location: &Location) -> Result<Vec<NpzMember>> {
    let bytes = Bytes {
        data: map,
        location,
    };
    let dir = zip::find_directory(&bytes)?;
    let entries = zip::read_directory(&bytes, &dir)?;

    // Each member spans [local header, end of data); none may overlap another or the directory.
    let mut spans: Vec<(u64, u64, &Entry)> = Vec::with_capacity(entries.len());
    let mut data_starts = Vec::with_capacity(entries.len());
    for entry in &entries {
        let member = Location::member(path, entry.name.clone());
        let start = zip::check_local_header(&bytes, entry, &member)?;
        data_starts.push(start);
        spans.push((entry.local_offset, start + entry.compressed_size, entry));
    }
    spans.sort_by_key(|&(start, _, _)| start);
    for pair in spans.windows(2) {
        let ((_, end, first), (next, _, second)) = (pair[0], pair[1]);
        if end > next {
            return Err(Error::ZipOverlap {
                file: Location::member(path, second.name.clone()),
                other: first.name.clone(),
            });
        }
    }
    if let Some(&(_, end, last)) = spans.last()
        && end > dir.offset
    {
        return Err(Error::ZipStructure {
            file: Location::member(path, last.name.clone()),
            reason: "member data runs into the central directory".into(),
        });
    }

    let mut members: Vec<NpzMember> = Vec::with_capacity(entries.len());
    for (entry, data_start) in entries.iter().zip(data_starts) {
        let member_location = Location::member(path, entry.name.clone());
        if members.iter().any(|m| m.zip_name == entry.name) {
            return Err(Error::DuplicateMember {
                file: member_location,
            });
        }
        let Some(key) = entry.name.strip_suffix(".npy") else {
            return Err(Error::NotNpyMember {
                file: member_location,
            });
        };
        let compression = match entry.method {
            0 => Compression::Stored,
            8 => Compression::Deflated,
            method => {
                return Err(Error::ZipMethod {
                    file: member_location,
                    method,
                });
            }
        };
        let stored = &map[data_start as usize..(data_start + entry.compressed_size) as usize];
        let header = match compression {
            Compression::Stored => {
                if entry.compressed_size != entry.uncompressed_size {
                    return Err(Error::ZipStructure {
                        file: member_location,
                        reason: format!(
                            "stored member has compressed size {} but uncompressed size {}",
                            entry.compressed_size, entry.uncompressed_size
                        ),
                    });
                }
                npy::parse_header(stored, &member_location)?
            }
            Compression::Deflated => {
                if entry.uncompressed_size > max_inflated(entry.compressed_size) {
                    return Err(Error::ZipInflate {
                        file: member_location,
                        expected: entry.uncompressed_size,
                        reason: format!(
                            "deflate cannot expand {} bytes that far",
                            entry.compressed_size
                        ),
                    });
                }
                let want = entry
                    .uncompressed_size
                    .min((12 + 4 * npy::header::MAX_HEADER_CHARS) as u64);
                let prefix =
                    inflate_prefix(stored, entry.uncompressed_size, want, &member_location)?;
                npy::parse_header(&prefix, &member_location)?
            }
        };
        npy::header::data_range(&header, entry.uncompressed_size, &member_location)?;
        members.push(NpzMember {
            key: key.to_string(),
            zip_name: entry.name.clone(),
            compression,
            compressed_size: entry.compressed_size,
            uncompressed_size: entry.uncompressed_size,
            crc32: entry.crc32,
            offset: data_start,
            header,
        });
    }
    Ok(members)
}
