//! Payloads decoded straight from the archive into aligned memory, one ahead on a thread of its
//! own while the previous one is written.
//!
//! A payload is one LZ4 frame holding a `.npy` (the operator) or an uncompressed `.npz` (members
//! `operator.npy` and `error.npy`, as NumPy's `savez` writes them). The frame is decoded as a
//! stream: the `.npy` headers are parsed as they arrive, checked against the shape the store
//! needs before anything is allocated, and each array's bytes are read directly into an `f64`
//! buffer (aligned, reused from one payload to the next), so no scratch file and no second copy
//! are needed. What follows the arrays (the zip's central directory) is read to the frame's end,
//! which checks the frame, within the same limit.

use std::io::Read;

use ndarray::{ArrayView4, ShapeBuilder};

use crate::error::{Error, Location, Result};
use crate::npy::{ByteOrder, ElementKind, NpyHeader, Order, parse_header};

use super::bad;

/// One array read from a payload, in a reusable buffer.
#[derive(Debug, Default)]
pub(super) struct Array {
    pub data: Vec<f64>,
    pub shape: [usize; 4],
    pub fortran: bool,
}

impl Array {
    /// The array as a rank-4 view.
    pub fn view(&self) -> ArrayView4<'_, f64> {
        let shape = self.shape;
        let result = if self.fortran {
            ArrayView4::from_shape(shape.f(), &self.data)
        } else {
            ArrayView4::from_shape(shape, &self.data)
        };
        result.expect("length checked against the shape")
    }
}

/// An operator and, when the item has one, its error.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    pub operator: Array,
    pub error: Option<Array>,
    /// Bytes the frame decompressed to.
    pub bytes: u64,
}

/// A reader that counts bytes and refuses to go past a limit.
pub(super) struct Limited<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Limited<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Limited {
            inner,
            read: 0,
            limit,
        }
    }

    pub fn count(&self) -> u64 {
        self.read
    }
}

/// The marker of [`Limited`]'s refusal, told apart from the decoder's own errors.
const OVER_LIMIT: &str = "libeko: payload over its limit";

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read >= self.limit {
            // One byte more than allowed tells a bomb from a payload of exactly the limit.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(OVER_LIMIT)),
            };
        }
        let room = (self.limit - self.read).min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..room])?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Maps a read error of a payload stream to the archive member `at`.
pub(super) fn stream_error(at: &Location, limit: u64, e: std::io::Error) -> Error {
    if e.get_ref()
        .is_some_and(|inner| inner.to_string() == OVER_LIMIT)
    {
        return bad(
            at,
            format!(
                "decompresses to more than {limit} bytes, more than an operator and its error of \
                 the archive's grid take"
            ),
        );
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad(at, "payload ends early (truncated LZ4 frame)"),
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other => {
            bad(at, format!("not a valid LZ4 frame: {e}"))
        }
        _ => Error::Io {
            file: at.clone(),
            operation: "decompress",
            source: e,
        },
    }
}

/// Reads exactly `buf.len()` bytes, as an [`Error`] naming `at`.
fn read_exact(r: &mut impl Read, buf: &mut [u8], at: &Location, limit: u64) -> Result<()> {
    r.read_exact(buf).map_err(|e| stream_error(at, limit, e))
}

/// Reads a `.npy` header from the stream (magic, version, length, text).
pub(super) fn read_npy_header(r: &mut impl Read, at: &Location, limit: u64) -> Result<NpyHeader> {
    let mut prefix = vec![0u8; 8];
    read_exact(r, &mut prefix, at, limit)?;
    // The magic and version are checked by the parser on this prefix alone.
    if let Err(e) = parse_header(&prefix, at)
        && !matches!(e, Error::Truncated { .. })
    {
        return Err(e);
    }
    let field = if prefix[6] == 1 { 2 } else { 4 };
    let mut len_bytes = [0u8; 4];
    read_exact(r, &mut len_bytes[..field], at, limit)?;
    prefix.extend_from_slice(&len_bytes[..field]);
    let len = u32::from_le_bytes(len_bytes) as usize;
    let max = 12 + 4 * crate::npy::header::MAX_HEADER_CHARS;
    let take = len.min(max);
    let start = prefix.len();
    prefix.resize(start + take, 0);
    read_exact(r, &mut prefix[start..], at, limit)?;
    let header = parse_header(&prefix, at)?;
    debug_assert_eq!(header.data_offset, prefix.len());
    Ok(header)
}

/// Checks a header is an `f64` array of `shape`, `what` naming it in errors.
pub(super) fn check_header(
    header: &NpyHeader,
    shape: &[usize],
    what: &str,
    at: &Location,
) -> Result<()> {
    if header.shape != shape {
        return Err(bad(
            at,
            format!(
                "{what} has shape {:?}; the archive's grid needs {shape:?}",
                header.shape
            ),
        ));
    }
    if header.dtype.kind != ElementKind::F64 {
        return Err(bad(
            at,
            format!(
                "{what} holds {} values, not float64",
                header.dtype.kind.name()
            ),
        ));
    }
    Ok(())
}

/// Reads `count` values of a float64 array stored in `order` into `buf` (resized, reused).
pub(super) fn read_values(
    r: &mut impl Read,
    buf: &mut Vec<f64>,
    count: usize,
    order: ByteOrder,
    at: &Location,
    limit: u64,
) -> Result<()> {
    buf.clear();
    buf.resize(count, 0.0);
    read_exact(r, bytemuck::cast_slice_mut(buf.as_mut_slice()), at, limit)?;
    if !order.is_native() {
        for v in buf.iter_mut() {
            *v = f64::from_bits(v.to_bits().swap_bytes());
        }
    }
    Ok(())
}

/// Reads one `.npy` of `shape` into `array`.
fn read_npy(
    r: &mut impl Read,
    array: &mut Array,
    shape: [usize; 4],
    what: &str,
    at: &Location,
    limit: u64,
) -> Result<u64> {
    let header = read_npy_header(r, at, limit)?;
    check_header(&header, &shape, what, at)?;
    read_values(
        r,
        &mut array.data,
        header.len(),
        header.dtype.byte_order,
        at,
        limit,
    )?;
    array.shape = shape;
    array.fortran = header.order == Order::Fortran;
    Ok((header.data_offset + header.data_len()) as u64)
}

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_END: u32 = 0x0606_4b50;

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}

/// The stored size of a zip member, from its local header (`fixed`, after the signature) or its
/// zip64 extra field.
fn stored_size(fixed: &[u8], extra: &[u8]) -> Option<u64> {
    let size = u32_at(fixed, 14);
    if size != u32::MAX {
        return Some(size as u64);
    }
    let mut i = 0;
    while i + 4 <= extra.len() {
        let id = u16_at(extra, i);
        let len = u16_at(extra, i + 2) as usize;
        if id == 1 && i + 4 + 16 <= extra.len() {
            // Uncompressed size, then compressed size.
            return Some(u64::from_le_bytes(
                extra[i + 12..i + 20].try_into().expect("8 bytes"),
            ));
        }
        i += 4 + len;
    }
    None
}

/// Reads a payload: a `.npy` (operator only) or a stored `.npz` (operator and error), each of
/// `shape`, into `out` (its buffers reused). `limit` bounds the bytes decompressed.
pub(super) fn read_payload(
    reader: impl Read,
    npz: bool,
    shape: [usize; 4],
    out: &mut Decoded,
    at: &Location,
    limit: u64,
) -> Result<()> {
    let decoder = lz4_flex::frame::FrameDecoder::new(reader);
    let mut r = Limited::new(decoder, limit);
    if !npz {
        read_npy(&mut r, &mut out.operator, shape, "the operator", at, limit)?;
        out.error = None;
    } else {
        let mut error = out.error.take().unwrap_or_default();
        let (mut seen_operator, mut seen_error) = (false, false);
        let signature = loop {
            let mut sig = [0u8; 4];
            read_exact(&mut r, &mut sig, at, limit)?;
            let sig = u32::from_le_bytes(sig);
            if sig != LOCAL_HEADER {
                break sig;
            }
            let mut fixed = [0u8; 26];
            read_exact(&mut r, &mut fixed, at, limit)?;
            // `fixed` starts after the signature: version at 0, flags at 2, method at 4,
            // sizes at 14 (compressed) and 18 (uncompressed), name and extra lengths at 22, 24.
            let flags = u16_at(&fixed, 2);
            let method = u16_at(&fixed, 4);
            let mut name = vec![0u8; u16_at(&fixed, 22) as usize];
            let mut extra = vec![0u8; u16_at(&fixed, 24) as usize];
            read_exact(&mut r, &mut name, at, limit)?;
            read_exact(&mut r, &mut extra, at, limit)?;
            let name = String::from_utf8_lossy(&name).into_owned();
            let member = format!("npz member {name:?}");
            if method != 0 {
                return Err(bad(
                    at,
                    format!(
                        "{member} is compressed (zip method {method}); eko's payloads hold \
                         stored .npy members (NumPy's savez)"
                    ),
                ));
            }
            if flags & (1 << 3) != 0 || flags & 1 != 0 {
                return Err(bad(
                    at,
                    format!(
                        "{member} has {} (flags {flags:#x}), which NumPy's savez does not write",
                        if flags & 1 != 0 {
                            "encryption"
                        } else {
                            "a trailing data descriptor"
                        }
                    ),
                ));
            }
            let size = stored_size(&fixed, &extra);
            let (target, what, seen) = match name.as_str() {
                "operator.npy" => (&mut out.operator, "the operator", &mut seen_operator),
                "error.npy" => (&mut error, "the error", &mut seen_error),
                _ => {
                    return Err(bad(
                        at,
                        format!("{member}: an eko payload holds operator.npy and error.npy only"),
                    ));
                }
            };
            if *seen {
                return Err(bad(at, format!("{member} appears twice")));
            }
            *seen = true;
            let len = read_npy(&mut r, target, shape, what, at, limit)?;
            if size.is_some_and(|s| s != len) {
                return Err(bad(
                    at,
                    format!(
                        "{member} records {} bytes but its .npy holds {len}",
                        size.unwrap_or_default()
                    ),
                ));
            }
        };
        if !matches!(signature, CENTRAL_HEADER | END_OF_DIRECTORY | ZIP64_END) {
            return Err(bad(
                at,
                format!(
                    "not an npz as NumPy writes it: found {signature:#010x} where a zip header \
                     belongs"
                ),
            ));
        }
        for (seen, what) in [(seen_operator, "operator.npy"), (seen_error, "error.npy")] {
            if !seen {
                return Err(bad(at, format!("the npz has no {what}")));
            }
        }
        out.error = Some(error);
    }
    // The rest (the zip's directory) to the frame's end: checks the frame and the limit.
    std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| stream_error(at, limit, e))?;
    out.bytes = r.count();
    Ok(())
}
