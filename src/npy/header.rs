//! The `.npy` header: parsed from a byte slice (a map, a buffer, an archive member), or encoded
//! for writing.

use super::dtype::{DType, DescrError, ElementKind};
use super::literal::{self, Encoding, LiteralError, Value};
use crate::error::{Error, Location, Result, escape_bytes};

/// `\x93NUMPY`.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy refuses headers longer than this many characters (its `max_header_size`).
pub const MAX_HEADER_CHARS: usize = 10_000;
/// Alignment NumPy >= 1.14 gives the data; the least libeko ever writes.
pub const NUMPY_ALIGN: usize = 64;
/// Page alignment: lets the data of several files be mapped side by side.
pub const PAGE_ALIGN: usize = 4096;

/// Format version of a `.npy` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// 1.0: 16-bit header length, latin1 header.
    V1,
    /// 2.0: 32-bit header length, latin1 header.
    V2,
    /// 3.0: 32-bit header length, UTF-8 header.
    V3,
}

impl Version {
    /// `(major, minor)`.
    pub fn number(self) -> (u8, u8) {
        match self {
            Version::V1 => (1, 0),
            Version::V2 => (2, 0),
            Version::V3 => (3, 0),
        }
    }

    fn length_field_size(self) -> usize {
        match self {
            Version::V1 => 2,
            _ => 4,
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (major, minor) = self.number();
        write!(f, "{major}.{minor}")
    }
}

/// Memory order of the elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Row-major: the last index varies fastest (`fortran_order: False`).
    #[default]
    C,
    /// Column-major: the first index varies fastest (`fortran_order: True`).
    Fortran,
}

impl Order {
    /// `C` or `Fortran`.
    pub fn name(self) -> &'static str {
        match self {
            Order::C => "C",
            Order::Fortran => "Fortran",
        }
    }
}

/// A parsed, validated `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NpyHeader {
    /// Format version.
    pub version: Version,
    /// Element type and byte order.
    pub dtype: DType,
    /// Memory order.
    pub order: Order,
    /// Shape; empty for a 0-d array.
    pub shape: Vec<usize>,
    /// Offset of the first data byte from the start of the `.npy` bytes.
    pub data_offset: usize,
}

impl NpyHeader {
    /// Number of elements (1 for a 0-d array).
    pub fn len(&self) -> usize {
        // Validated on parse/construction: cannot overflow.
        self.shape.iter().product()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the header's text (dict, comment, padding) starts: after magic, version and the
    /// length field.
    pub fn text_start(&self) -> usize {
        MAGIC.len() + 2 + self.version.length_field_size()
    }

    /// Bytes of element data.
    pub fn data_len(&self) -> usize {
        self.len() * self.dtype.kind.size()
    }

    /// The Python dict NumPy would write for this header, without padding.
    pub fn dict_text(&self) -> String {
        let shape = shape_text(&self.shape);
        let fortran = if self.order == Order::Fortran {
            "True"
        } else {
            "False"
        };
        format!(
            "{{'descr': '{}', 'fortran_order': {fortran}, 'shape': {shape}, }}",
            self.dtype.descr()
        )
    }

    /// Builds a header for writing, checking sizes. `align` is the data alignment (a power of two
    /// from 64 to 4096). The version is 1.0 unless the header needs 2.0.
    pub fn for_writing(
        dtype: DType,
        shape: &[usize],
        order: Order,
        align: usize,
        file: &Location,
    ) -> Result<Self> {
        assert!(
            align.is_power_of_two() && (NUMPY_ALIGN..=PAGE_ALIGN).contains(&align),
            "alignment must be a power of two in 64..=4096"
        );
        checked_data_len(shape, dtype.kind, file)?;
        let mut header = NpyHeader {
            version: Version::V1,
            dtype,
            order: if shape.len() <= 1 { Order::C } else { order },
            shape: shape.to_vec(),
            data_offset: 0,
        };
        // The dict, room for the checksum comment, the final newline.
        let text_len = header.dict_text().len() + CHECKSUM_ROOM + 1;
        let mut prefix = MAGIC.len() + 2 + 2;
        if prefix + text_len > usize::from(u16::MAX) {
            header.version = Version::V2;
            prefix += 2;
        }
        header.data_offset = (prefix + text_len).next_multiple_of(align);
        Ok(header)
    }

    /// The header bytes: magic, version, length, dict, space padding and newline, exactly
    /// `data_offset` bytes long.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(None)
    }

    /// [`encode`](Self::encode) with libeko's checksum comment after the dict, in the room
    /// [`for_writing`](Self::for_writing) reserves.
    pub fn encode_with(&self, checksums: Option<Checksums>) -> Vec<u8> {
        let (major, minor) = self.version.number();
        let mut out = Vec::with_capacity(self.data_offset);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[major, minor]);
        let field = self.version.length_field_size();
        let text_len = self.data_offset - MAGIC.len() - 2 - field;
        match self.version {
            Version::V1 => out.extend_from_slice(&(text_len as u16).to_le_bytes()),
            _ => out.extend_from_slice(&(text_len as u32).to_le_bytes()),
        }
        out.extend_from_slice(self.dict_text().as_bytes());
        if let Some(c) = checksums {
            out.extend_from_slice(c.comment().as_bytes());
            assert!(out.len() < self.data_offset, "room reserved by for_writing");
        }
        out.resize(self.data_offset - 1, b' ');
        out.push(b'\n');
        out
    }
}

/// Room reserved after the dict of every header libeko writes, for the checksum comment
/// ([`Checksums::comment`], at most ` # libeko crc32 xxxxxxxx error xxxxxxxx`).
pub const CHECKSUM_ROOM: usize = 39;

const CHECKSUM_TAG: &str = " # libeko crc32 ";

/// What a libeko header records of a main file's (operator's or partial's) error file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorRecord {
    /// Nothing: an error file itself, or a file that is not a store operator.
    NotRecorded,
    /// The point has no error file for this operator.
    Absent,
    /// The point's error file, with the CRC-32 of its data.
    Crc(u32),
}

/// The checksums a header libeko wrote records in its comment: the CRC-32 (IEEE 802.3, as zlib's
/// `crc32`) of the file's data bytes (everything after the header), and for an operator or a
/// partial, its error file's. NumPy reads the comment as a Python comment and ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksums {
    /// CRC-32 of the data bytes.
    pub data: u32,
    /// The error file's, for a main file.
    pub error: ErrorRecord,
}

impl Checksums {
    /// The comment: ` # libeko crc32 1a2b3c4d`, then ` error 5e6f7a8b` or ` error none` for a
    /// main file.
    pub fn comment(&self) -> String {
        let tail = match self.error {
            ErrorRecord::NotRecorded => String::new(),
            ErrorRecord::Absent => " error none".into(),
            ErrorRecord::Crc(c) => format!(" error {c:08x}"),
        };
        format!("{CHECKSUM_TAG}{:08x}{tail}", self.data)
    }

    /// The checksums recorded in a header's text (the bytes after the length field up to the
    /// data), if it ends with libeko's comment.
    pub fn parse(header_text: &[u8]) -> Option<Checksums> {
        let text = std::str::from_utf8(header_text).ok()?;
        let text = text.trim_end_matches([' ', '\n']);
        let at = text.rfind(CHECKSUM_TAG)?;
        let mut words = text[at + CHECKSUM_TAG.len()..].split(' ');
        let hex = |w: &str| {
            (w.len() == 8 && w.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u32::from_str_radix(w, 16).ok())
                .flatten()
        };
        let data = hex(words.next()?)?;
        let error = match (words.next(), words.next(), words.next()) {
            (None, _, _) => ErrorRecord::NotRecorded,
            (Some("error"), Some("none"), None) => ErrorRecord::Absent,
            (Some("error"), Some(w), None) => ErrorRecord::Crc(hex(w)?),
            _ => return None,
        };
        Some(Checksums { data, error })
    }
}

/// A shape as Python prints a tuple: `()`, `(3,)`, `(2, 3)`.
pub fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Element count and byte size of `shape`, overflow-checked (the byte size must fit `isize`).
pub(crate) fn checked_data_len(
    shape: &[usize],
    kind: ElementKind,
    file: &Location,
) -> Result<usize> {
    let overflow = || Error::SizeOverflow {
        file: file.clone(),
        shape: shape.iter().map(|&d| d as u64).collect(),
        item_size: kind.size(),
    };
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    let bytes = count.checked_mul(kind.size()).ok_or_else(overflow)?;
    if bytes > isize::MAX as usize {
        return Err(overflow());
    }
    // With a zero axis the product above is 0 whatever the others are; NumPy (and ndarray, whose
    // views would fail) still refuse the array when its non-zero axes could not be addressed.
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(kind.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    if nonzero > isize::MAX as usize {
        return Err(overflow());
    }
    Ok(bytes)
}

/// Parses the header at the start of `bytes`, which may hold the whole file or only a prefix.
///
/// Checks, in order: magic, version, header length (before reading the text), text encoding,
/// text length (NumPy's 10,000-character limit), literal syntax, keys, `shape`, `fortran_order`,
/// `descr`, and that the element count and byte size fit. Does not check that the data is there:
/// see [`data_range`].
pub fn parse_header(bytes: &[u8], file: &Location) -> Result<NpyHeader> {
    let truncated = |part, offset: usize, needed: usize| Error::Truncated {
        file: file.clone(),
        part,
        offset: offset as u64,
        needed: needed as u64,
        available: bytes.len().saturating_sub(offset) as u64,
    };
    if bytes.len() < MAGIC.len() + 2 {
        if !MAGIC.starts_with(&bytes[..bytes.len().min(MAGIC.len())]) {
            return Err(Error::BadMagic {
                file: file.clone(),
                found: escape_bytes(&bytes[..bytes.len().min(MAGIC.len())]),
            });
        }
        return Err(truncated("magic string", 0, MAGIC.len() + 2));
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(Error::BadMagic {
            file: file.clone(),
            found: escape_bytes(&bytes[..MAGIC.len()]),
        });
    }
    let version = match (bytes[6], bytes[7]) {
        (1, 0) => Version::V1,
        (2, 0) => Version::V2,
        (3, 0) => Version::V3,
        (major, minor) => {
            return Err(Error::UnsupportedVersion {
                file: file.clone(),
                major,
                minor,
            });
        }
    };
    let field = version.length_field_size();
    let text_start = 8 + field;
    if bytes.len() < text_start {
        return Err(truncated("header length", 8, field));
    }
    let text_len = match version {
        Version::V1 => usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
        _ => u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
    };
    // A character is at most 4 UTF-8 bytes (1 byte in latin1): refuse before touching the text.
    let max_bytes = match version {
        Version::V3 => MAX_HEADER_CHARS * 4,
        _ => MAX_HEADER_CHARS,
    };
    if text_len > max_bytes {
        return Err(Error::HeaderTooLong {
            file: file.clone(),
            length: text_len,
            unit: "bytes",
            limit: MAX_HEADER_CHARS,
        });
    }
    let text = bytes
        .get(text_start..text_start + text_len)
        .ok_or_else(|| truncated("header", text_start, text_len))?;
    let encoding = if version == Version::V3 {
        let s = std::str::from_utf8(text).map_err(|e| Error::HeaderEncoding {
            file: file.clone(),
            offset: e.valid_up_to(),
        })?;
        let chars = s.chars().count();
        if chars > MAX_HEADER_CHARS {
            return Err(Error::HeaderTooLong {
                file: file.clone(),
                length: chars,
                unit: "characters",
                limit: MAX_HEADER_CHARS,
            });
        }
        Encoding::Utf8
    } else {
        Encoding::Latin1
    };
    if text.contains(&0) {
        return Err(Error::HeaderSyntax {
            file: file.clone(),
            offset: text.iter().position(|&b| b == 0).unwrap_or(0),
            reason: "NUL byte in header".into(),
        });
    }
    // Python's literal_eval strips leading blanks; other leading whitespace is fine too.
    let value = literal::parse(text, encoding, version != Version::V3).map_err(|e| match e {
        LiteralError::Syntax { offset, reason } => Error::HeaderSyntax {
            file: file.clone(),
            offset,
            reason,
        },
        LiteralError::TooDeep => Error::HeaderNesting {
            file: file.clone(),
            limit: literal::MAX_DEPTH,
        },
    })?;
    let Value::Dict(pairs) = value else {
        return Err(Error::HeaderNotDict {
            file: file.clone(),
            found: value.type_name(),
        });
    };
    let (descr, fortran, shape) = dict_fields(&pairs, file)?;

    let shape = parse_shape(shape, file)?;
    let order = match fortran {
        Value::Bool(true) => Order::Fortran,
        Value::Bool(false) => Order::C,
        other => {
            return Err(Error::FortranOrderNotBool {
                file: file.clone(),
                found: other.type_name(),
            });
        }
    };
    let dtype = match descr {
        Value::Str(s) => {
            DType::from_descr(s).map_err(|e| descr_error(e, &format!("{s:?}"), file))?
        }
        // A tuple is a sub-array dtype and a list a structured one: NumPy reads both.
        Value::Tuple(_) | Value::List(_) => {
            return Err(Error::UnsupportedDtype {
                file: file.clone(),
                descr: format!("<structured or sub-array {}>", descr.type_name()),
            });
        }
        other => {
            return Err(Error::InvalidDescr {
                file: file.clone(),
                descr: other.repr(),
            });
        }
    };
    checked_data_len(&shape, dtype.kind, file)?;
    Ok(NpyHeader {
        version,
        dtype,
        order: if shape.len() <= 1 { Order::C } else { order },
        shape,
        data_offset: text_start + text_len,
    })
}

fn descr_error(e: DescrError, descr: &str, file: &Location) -> Error {
    match e {
        DescrError::Invalid => Error::InvalidDescr {
            file: file.clone(),
            descr: descr.to_string(),
        },
        DescrError::Unsupported => Error::UnsupportedDtype {
            file: file.clone(),
            descr: descr.to_string(),
        },
    }
}

/// The three values of a header dict; the set of keys must be exactly the expected one
/// (duplicated keys are allowed, the last one wins, as in a Python dict literal).
fn dict_fields<'v>(
    pairs: &'v [(Value, Value)],
    file: &Location,
) -> Result<(&'v Value, &'v Value, &'v Value)> {
    let lookup = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
            .map(|(_, v)| v)
    };
    let all_known = pairs
        .iter()
        .all(|(k, _)| matches!(k, Value::Str(s) if matches!(s.as_str(), "descr" | "fortran_order" | "shape")));
    match (lookup("descr"), lookup("fortran_order"), lookup("shape")) {
        (Some(d), Some(f), Some(s)) if all_known => Ok((d, f, s)),
        _ => {
            let mut found: Vec<String> = pairs.iter().map(|(k, _)| k.repr()).collect();
            found.sort();
            found.dedup();
            Err(Error::HeaderKeys {
                file: file.clone(),
                found,
            })
        }
    }
}

/// A tuple of non-negative ints. (NumPy's header check lets `True` through as an int, but the
/// reshape that follows refuses it: a bool dimension is refused.)
fn parse_shape(value: &Value, file: &Location) -> Result<Vec<usize>> {
    let invalid = |reason: String| Error::InvalidShape {
        file: file.clone(),
        reason,
    };
    let Value::Tuple(items) = value else {
        return Err(invalid(format!(
            "expected a tuple, found {}",
            value.type_name()
        )));
    };
    items
        .iter()
        .map(|item| match item {
            Value::Int(Some(d)) if *d >= 0 => {
                usize::try_from(*d).map_err(|_| invalid(format!("dimension {d} is too large")))
            }
            Value::Int(Some(d)) => Err(invalid(format!("dimension {d} is negative"))),
            Value::Int(None) => Err(invalid("a dimension is too large".into())),
            other => Err(invalid(format!("dimension {} is not an int", other.repr()))),
        })
        .collect()
}

/// The byte range of the data in a `.npy` of `total_len` bytes, or [`Error::Truncated`].
/// Bytes after the data are allowed (NumPy ignores them).
pub fn data_range(
    header: &NpyHeader,
    total_len: u64,
    file: &Location,
) -> Result<std::ops::Range<usize>> {
    let start = header.data_offset;
    let len = header.data_len();
    if (total_len as u128) < start as u128 + len as u128 {
        return Err(Error::Truncated {
            file: file.clone(),
            part: "array data",
            offset: start as u64,
            needed: len as u64,
            available: total_len.saturating_sub(start as u64),
        });
    }
    Ok(start..start + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::ByteOrder;

    fn loc() -> Location {
        Location::Buffer("test".into())
    }

    fn with_text(version: (u8, u8), text: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[version.0, version.1]);
        if version.0 == 1 {
            v.extend_from_slice(&(text.len() as u16).to_le_bytes());
        } else {
            v.extend_from_slice(&(text.len() as u32).to_le_bytes());
        }
        v.extend_from_slice(text.as_bytes());
        v
    }

    #[test]
    fn encode_then_parse() {
        for align in [64, 4096] {
            for shape in [vec![], vec![0], vec![3], vec![14, 50, 14, 50]] {
                let h = NpyHeader::for_writing(
                    DType::native(ElementKind::F64),
                    &shape,
                    Order::Fortran,
                    align,
                    &loc(),
                )
                .unwrap();
                let bytes = h.encode();
                assert_eq!(bytes.len(), h.data_offset);
                assert_eq!(h.data_offset % align, 0);
                assert_eq!(parse_header(&bytes, &loc()).unwrap(), h);
            }
        }
    }

    #[test]
    fn rejects_in_numpy_order() {
        let ok = "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3)}\n";
        let h = parse_header(&with_text((1, 0), ok), &loc()).unwrap();
        assert_eq!(h.dtype.byte_order, ByteOrder::Big);
        assert_eq!(h.order, Order::Fortran);
        type Check = fn(&Error) -> bool;
        let cases: &[(&str, Check)] = &[
            ("{'descr': '<f8', 'fortran_order': False}", |e| {
                matches!(e, Error::HeaderKeys { .. })
            }),
            ("{'descr': '<f8', 'fortran_order': 0, 'shape': ()}", |e| {
                matches!(e, Error::FortranOrderNotBool { .. })
            }),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': [3]}",
                |e| matches!(e, Error::InvalidShape { .. }),
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
                |e| matches!(e, Error::InvalidShape { .. }),
            ),
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': ()}",
                |e| matches!(e, Error::UnsupportedDtype { .. }),
            ),
            (
                "{'descr': 'nope', 'fortran_order': False, 'shape': ()}",
                |e| matches!(e, Error::InvalidDescr { .. }),
            ),
            ("[1]", |e| matches!(e, Error::HeaderNotDict { .. })),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2**70,)}",
                |e| matches!(e, Error::HeaderSyntax { .. }),
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952, 2)}",
                |e| matches!(e, Error::SizeOverflow { .. }),
            ),
            // No data, but axes no array could address (found by fuzzing: a panic in views).
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4)}",
                |e| matches!(e, Error::SizeOverflow { .. }),
            ),
        ];
        for (text, check) in cases {
            let err = parse_header(&with_text((1, 0), text), &loc()).unwrap_err();
            assert!(check(&err), "{text}: {err}");
        }
    }

    #[test]
    fn refuses_long_headers_before_reading_them() {
        // Claims a 4 GiB header in a 12-byte buffer: refused on the length alone.
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[2, 0]);
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            parse_header(&v, &loc()),
            Err(Error::HeaderTooLong { .. })
        ));
    }

    #[test]
    fn data_must_be_there() {
        let h = NpyHeader::for_writing(DType::native(ElementKind::F64), &[4], Order::C, 64, &loc())
            .unwrap();
        let end = (h.data_offset + 32) as u64;
        assert_eq!(
            data_range(&h, end + 5, &loc()).unwrap(),
            h.data_offset..h.data_offset + 32
        );
        assert!(matches!(
            data_range(&h, end - 1, &loc()),
            Err(Error::Truncated { .. })
        ));
    }
}
