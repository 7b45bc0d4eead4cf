//! Element types libeko reads and writes, and how NumPy spells them.

use num_complex::Complex64;

/// The element types libeko supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementKind {
    /// `float64` (`f8`): what operators are made of.
    F64,
    /// `float32` (`f4`).
    F32,
    /// `complex128` (`c16`).
    C128,
    /// `int64` (`i8`).
    I64,
    /// `int32` (`i4`).
    I32,
    /// `uint8` (`u1`).
    U8,
    /// `bool` (`b1`).
    Bool,
}

impl ElementKind {
    /// All supported kinds.
    pub const ALL: [ElementKind; 7] = [
        ElementKind::F64,
        ElementKind::F32,
        ElementKind::C128,
        ElementKind::I64,
        ElementKind::I32,
        ElementKind::U8,
        ElementKind::Bool,
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            ElementKind::F64 | ElementKind::I64 => 8,
            ElementKind::F32 | ElementKind::I32 => 4,
            ElementKind::C128 => 16,
            ElementKind::U8 | ElementKind::Bool => 1,
        }
    }

    /// Alignment of the Rust element type.
    pub fn align(self) -> usize {
        match self {
            ElementKind::C128 => 8,
            other => other.size(),
        }
    }

    /// NumPy's name of the type (`float64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ElementKind::F64 => "float64",
            ElementKind::F32 => "float32",
            ElementKind::C128 => "complex128",
            ElementKind::I64 => "int64",
            ElementKind::I32 => "int32",
            ElementKind::U8 => "uint8",
            ElementKind::Bool => "bool",
        }
    }

    /// The type code without byte order (`f8`, ...).
    pub fn code(self) -> &'static str {
        match self {
            ElementKind::F64 => "f8",
            ElementKind::F32 => "f4",
            ElementKind::C128 => "c16",
            ElementKind::I64 => "i8",
            ElementKind::I32 => "i4",
            ElementKind::U8 => "u1",
            ElementKind::Bool => "b1",
        }
    }
}

/// Byte order of stored elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Least significant byte first (`<`).
    Little,
    /// Most significant byte first (`>`).
    Big,
    /// Single-byte elements (`|`): order does not apply.
    NotApplicable,
}

impl ByteOrder {
    /// The order of this machine.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "little") {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    };

    /// Whether elements in this order can be read in place on this machine.
    pub fn is_native(self) -> bool {
        self == ByteOrder::NotApplicable || self == Self::NATIVE
    }

    /// `little`, `big` or `not applicable`.
    pub fn name(self) -> &'static str {
        match self {
            ByteOrder::Little => "little",
            ByteOrder::Big => "big",
            ByteOrder::NotApplicable => "not applicable",
        }
    }
}

/// A supported element type with its byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DType {
    /// The element type.
    pub kind: ElementKind,
    /// How its bytes are ordered.
    pub byte_order: ByteOrder,
}

/// Why a `descr` string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescrError {
    /// NumPy would refuse it too.
    Invalid,
    /// NumPy knows it, libeko does not read it.
    Unsupported,
}

impl DType {
    /// The native-order dtype of a kind.
    pub fn native(kind: ElementKind) -> Self {
        let byte_order = if kind.size() == 1 {
            ByteOrder::NotApplicable
        } else {
            ByteOrder::NATIVE
        };
        DType { kind, byte_order }
    }

    /// NumPy's canonical descriptor (`<f8`, `>c16`, `|b1`, ...), as `dtype.str` prints it.
    pub fn descr(self) -> String {
        let order = match self.byte_order {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::NotApplicable => '|',
        };
        format!("{order}{}", self.kind.code())
    }

    /// Reads a `descr` string the way `numpy.dtype(descr)` does on a little- or big-endian
    /// 64-bit Linux machine, for the supported kinds.
    ///
    /// Accepted: a byte-order prefix (`<`, `>`, `=`, `|`) followed by a sized code (`f8`, `f4`,
    /// `c16`, `i8`, `i4`, `u1`, `b1`) or a one-letter code (`d f D q l p n i B ?`); and, with no
    /// prefix, NumPy's names (`float64`, `double`, `int`, `bool`, ...). Anything `numpy.dtype`
    /// parses into another type is [`DescrError::Unsupported`]; the rest is
    /// [`DescrError::Invalid`].
    pub fn from_descr(descr: &str) -> Result<DType, DescrError> {
        use ElementKind::*;
        let named = match descr {
            "float64" | "double" | "float" => Some(F64),
            "float32" | "single" => Some(F32),
            "complex128" | "cdouble" | "complex" => Some(C128),
            "int64" | "longlong" | "int" | "int_" | "intp" | "long" => Some(I64),
            "int32" | "intc" => Some(I32),
            "uint8" | "ubyte" => Some(U8),
            "bool" | "bool_" => Some(Bool),
            _ => None,
        };
        if let Some(kind) = named {
            return Ok(DType::native(kind));
        }
        let (order, code) = match descr.as_bytes().first() {
            Some(b'<') => (Some(ByteOrder::Little), &descr[1..]),
            Some(b'>') => (Some(ByteOrder::Big), &descr[1..]),
            Some(b'=' | b'|') => (None, &descr[1..]),
            _ => (None, descr),
        };
        let kind = match code {
            "f8" | "d" => F64,
            "f4" | "f" => F32,
            "c16" | "D" => C128,
            "i8" | "q" | "l" | "p" | "n" => I64,
            "i4" | "i" => I32,
            "u1" | "B" => U8,
            "b1" | "?" => Bool,
            _ => return Err(classify_unknown(descr)),
        };
        let byte_order = if kind.size() == 1 {
            ByteOrder::NotApplicable
        } else {
            order.unwrap_or(ByteOrder::NATIVE)
        };
        Ok(DType { kind, byte_order })
    }
}

/// Tells a dtype NumPy knows but we do not read from a string that is no dtype at all.
fn classify_unknown(descr: &str) -> DescrError {
    const NAMES: &[&str] = &[
        "float16",
        "half",
        "longdouble",
        "float128",
        "complex64",
        "csingle",
        "clongdouble",
        "complex256",
        "int8",
        "byte",
        "int16",
        "short",
        "uint16",
        "ushort",
        "uint32",
        "uintc",
        "uint64",
        "ulonglong",
        "ulong",
        "uint",
        "uintp",
        "object",
        "str",
        "bytes",
        "void",
        "datetime64",
        "timedelta64",
        "object_",
        "str_",
        "bytes_",
    ];
    if NAMES.contains(&descr) {
        return DescrError::Unsupported;
    }
    let body = descr.trim_start_matches(['<', '>', '=', '|']);
    if descr.len() - body.len() > 1 {
        return DescrError::Invalid;
    }
    let mut chars = body.chars();
    let Some(kind) = chars.next() else {
        return DescrError::Invalid;
    };
    let rest: &str = chars.as_str();
    let sized = |sizes: &[&str]| sizes.contains(&rest);
    let known = match kind {
        // One-letter codes of other types.
        'e' | 'g' | 'F' | 'G' | 'h' | 'H' | 'I' | 'L' | 'Q' | 'P' | 'N' | 'b' | 'O' | 'c' | 'V'
            if rest.is_empty() =>
        {
            true
        }
        'f' => sized(&["2", "16"]),
        'c' => sized(&["8", "32"]),
        'i' => sized(&["1", "2"]),
        'u' => sized(&["2", "4", "8"]),
        'S' | 'U' | 'V' | 'a' => rest.is_empty() || rest.bytes().all(|b| b.is_ascii_digit()),
        'M' | 'm' => rest.is_empty() || rest.starts_with("8"),
        _ => false,
    };
    if known {
        DescrError::Unsupported
    } else {
        DescrError::Invalid
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that holds one supported element: `f64`, `f32`, [`Complex64`], `i64`, `i32`,
/// `u8` or `bool`.
pub trait Element: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The kind of element this type holds.
    const KIND: ElementKind;

    /// Reinterprets native-order bytes as elements without copying.
    ///
    /// Fails with `Err(Some(i))` when element `i` is not a valid value (only `bool`, whose bytes
    /// must be 0 or 1), and `Err(None)` when `bytes` is misaligned or not a whole number of
    /// elements.
    fn cast_slice(bytes: &[u8]) -> Result<&[Self], Option<usize>>;

    /// Mutable [`Element::cast_slice`].
    fn cast_slice_mut(bytes: &mut [u8]) -> Result<&mut [Self], Option<usize>>;

    /// Decodes one element from exactly `KIND.size()` bytes stored in `order`.
    /// (`bool` maps any non-zero byte to `true`, as NumPy's `astype(bool)` does.)
    fn decode(bytes: &[u8], order: ByteOrder) -> Self;

    /// The element's bytes in native order.
    fn as_native_bytes(values: &[Self]) -> &[u8];
}

macro_rules! pod_element {
    ($t:ty, $kind:ident) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const KIND: ElementKind = ElementKind::$kind;
            fn cast_slice(bytes: &[u8]) -> Result<&[Self], Option<usize>> {
                bytemuck::try_cast_slice(bytes).map_err(|_| None)
            }
            fn cast_slice_mut(bytes: &mut [u8]) -> Result<&mut [Self], Option<usize>> {
                bytemuck::try_cast_slice_mut(bytes).map_err(|_| None)
            }
            fn decode(bytes: &[u8], order: ByteOrder) -> Self {
                let array = bytes.try_into().expect("caller passes exactly one element");
                match order {
                    ByteOrder::Big => <$t>::from_be_bytes(array),
                    _ => <$t>::from_le_bytes(array),
                }
            }
            fn as_native_bytes(values: &[Self]) -> &[u8] {
                bytemuck::cast_slice(values)
            }
        }
    };
}

pod_element!(f64, F64);
pod_element!(f32, F32);
pod_element!(i64, I64);
pod_element!(i32, I32);
pod_element!(u8, U8);

impl sealed::Sealed for bool {}
impl Element for bool {
    const KIND: ElementKind = ElementKind::Bool;
    fn cast_slice(bytes: &[u8]) -> Result<&[Self], Option<usize>> {
        if let Some(i) = bytes.iter().position(|&b| b > 1) {
            return Err(Some(i));
        }
        bytemuck::checked::try_cast_slice(bytes).map_err(|_| None)
    }
    fn cast_slice_mut(bytes: &mut [u8]) -> Result<&mut [Self], Option<usize>> {
        if let Some(i) = bytes.iter().position(|&b| b > 1) {
            return Err(Some(i));
        }
        bytemuck::checked::try_cast_slice_mut(bytes).map_err(|_| None)
    }
    fn decode(bytes: &[u8], _order: ByteOrder) -> Self {
        bytes[0] != 0
    }
    fn as_native_bytes(values: &[Self]) -> &[u8] {
        bytemuck::cast_slice(values)
    }
}

impl sealed::Sealed for Complex64 {}
impl Element for Complex64 {
    const KIND: ElementKind = ElementKind::C128;
    fn cast_slice(bytes: &[u8]) -> Result<&[Self], Option<usize>> {
        let pairs: &[[f64; 2]] = bytemuck::try_cast_slice(bytes).map_err(|_| None)?;
        // SAFETY: `Complex<f64>` is `#[repr(C)] struct { re: f64, im: f64 }`: same size (16),
        // alignment (8) and field order as `[f64; 2]`, and every bit pattern is valid for both.
        // The length is the same element count and the lifetime is carried over unchanged.
        Ok(unsafe { std::slice::from_raw_parts(pairs.as_ptr().cast::<Complex64>(), pairs.len()) })
    }
    fn cast_slice_mut(bytes: &mut [u8]) -> Result<&mut [Self], Option<usize>> {
        let pairs: &mut [[f64; 2]] = bytemuck::try_cast_slice_mut(bytes).map_err(|_| None)?;
        // SAFETY: as in `cast_slice`; the unique borrow of `bytes` moves into the result.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(pairs.as_mut_ptr().cast::<Complex64>(), pairs.len())
        })
    }
    fn decode(bytes: &[u8], order: ByteOrder) -> Self {
        Complex64::new(
            f64::decode(&bytes[..8], order),
            f64::decode(&bytes[8..16], order),
        )
    }
    fn as_native_bytes(values: &[Self]) -> &[u8] {
        // SAFETY: see `cast_slice`: `[Complex64]` has the layout of `[[f64; 2]]`, which is plain
        // old data, so its bytes may be read; the length is computed from the element count.
        let pairs: &[[f64; 2]] =
            unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<[f64; 2]>(), values.len()) };
        bytemuck::cast_slice(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descr_table_follows_numpy() {
        let f8 = DType::native(ElementKind::F64);
        for s in [
            "<f8", "f8", "=f8", "|f8", "d", "<d", "float64", "double", "float",
        ] {
            assert_eq!(DType::from_descr(s), Ok(f8), "{s}");
        }
        assert_eq!(DType::from_descr(">f8").unwrap().byte_order, ByteOrder::Big);
        assert_eq!(
            DType::from_descr(">u1").unwrap().byte_order,
            ByteOrder::NotApplicable
        );
        assert_eq!(DType::from_descr("<float64"), Err(DescrError::Invalid));
        assert_eq!(DType::from_descr("!f8"), Err(DescrError::Invalid));
        assert_eq!(DType::from_descr("<f2"), Err(DescrError::Unsupported));
        assert_eq!(DType::from_descr("|O"), Err(DescrError::Unsupported));
        assert_eq!(DType::from_descr("<U5"), Err(DescrError::Unsupported));
        assert_eq!(DType::from_descr("f8 "), Err(DescrError::Invalid));
        assert_eq!(DType::from_descr("x"), Err(DescrError::Invalid));
    }

    #[test]
    fn canonical_descr() {
        assert_eq!(DType::native(ElementKind::C128).descr(), "<c16");
        assert_eq!(DType::native(ElementKind::Bool).descr(), "|b1");
    }

    #[test]
    fn bool_view_checks_bytes() {
        assert_eq!(bool::cast_slice(&[0, 1, 1]).unwrap(), &[false, true, true]);
        assert_eq!(bool::cast_slice(&[0, 2]), Err(Some(1)));
        assert!(bool::decode(&[7], ByteOrder::NotApplicable));
    }

    #[test]
    fn complex_roundtrip() {
        let v = [Complex64::new(1.0, -2.0)];
        let bytes = Complex64::as_native_bytes(&v).to_vec();
        let aligned: Vec<f64> = bytemuck::cast_slice(&bytes).to_vec();
        assert_eq!(
            Complex64::cast_slice(bytemuck::cast_slice(&aligned)).unwrap(),
            &v
        );
    }
}
