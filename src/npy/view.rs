//! Turning the data bytes of a parsed `.npy` into `ndarray` arrays: in place, or by copy.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn, ShapeBuilder};

use super::dtype::{ByteOrder, Element};
use super::header::{NpyHeader, Order};
use crate::error::{Error, Location, Result};

/// Whether a stored array can be viewed in place, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InPlace {
    /// A zero-copy view works.
    Yes,
    /// The data address is not a multiple of the element alignment.
    Misaligned {
        /// Alignment the element type needs.
        align: usize,
    },
    /// The data is stored in the other byte order.
    ForeignByteOrder,
    /// The data is compressed (an `.npz` member written by `np.savez_compressed`).
    Compressed,
}

impl InPlace {
    /// Whether a zero-copy view works.
    pub fn is_yes(self) -> bool {
        self == InPlace::Yes
    }

    /// A short description (`yes`, `no: misaligned for 8-byte elements`, ...).
    pub fn describe(self) -> String {
        match self {
            InPlace::Yes => "yes".into(),
            InPlace::Misaligned { align } => {
                format!("no: data misaligned for {align}-byte elements")
            }
            InPlace::ForeignByteOrder => "no: foreign byte order".into(),
            InPlace::Compressed => "no: compressed".into(),
        }
    }
}

/// Whether data described by `header` and starting at absolute file offset `offset` (files are
/// mapped at page boundaries, so this is the address modulo any element alignment) can be viewed.
pub fn in_place(header: &NpyHeader, offset: u64) -> InPlace {
    let align = header.dtype.kind.align();
    if !header.dtype.byte_order.is_native() {
        InPlace::ForeignByteOrder
    } else if header.data_len() > 0 && !offset.is_multiple_of(align as u64) {
        InPlace::Misaligned { align }
    } else {
        InPlace::Yes
    }
}

fn shape_of(header: &NpyHeader) -> ndarray::Shape<IxDyn> {
    IxDyn(&header.shape).set_f(header.order == Order::Fortran)
}

fn check_kind<T: Element>(header: &NpyHeader, file: &Location) -> Result<()> {
    if header.dtype.kind != T::KIND {
        return Err(Error::DtypeMismatch {
            file: file.clone(),
            expected: T::KIND.name(),
            found: header.dtype.kind.name(),
        });
    }
    Ok(())
}

pub(crate) fn check_in_place<T: Element>(
    header: &NpyHeader,
    file: &Location,
    offset: u64,
) -> Result<()> {
    check_kind::<T>(header, file)?;
    match in_place(header, offset) {
        InPlace::Yes => Ok(()),
        InPlace::Misaligned { align } => Err(Error::Misaligned {
            file: file.clone(),
            offset,
            align,
        }),
        InPlace::ForeignByteOrder => Err(Error::ForeignByteOrder {
            file: file.clone(),
            order: header.dtype.byte_order.name(),
        }),
        InPlace::Compressed => Err(Error::Compressed { file: file.clone() }),
    }
}

fn cast_error(
    err: Option<usize>,
    data: &[u8],
    file: &Location,
    offset: u64,
    align: usize,
) -> Error {
    match err {
        Some(index) => Error::InvalidBool {
            file: file.clone(),
            index,
            value: data[index],
        },
        None => Error::Misaligned {
            file: file.clone(),
            offset,
            align,
        },
    }
}

/// A zero-copy view of `data` (exactly the array's bytes, starting at absolute offset `offset`).
pub(crate) fn view<'a, T: Element>(
    header: &NpyHeader,
    data: &'a [u8],
    file: &Location,
    offset: u64,
) -> Result<ArrayViewD<'a, T>> {
    check_in_place::<T>(header, file, offset)?;
    debug_assert_eq!(data.len(), header.data_len());
    let slice: &[T] = if data.is_empty() {
        &[]
    } else {
        T::cast_slice(data).map_err(|e| cast_error(e, data, file, offset, T::KIND.align()))?
    };
    Ok(ArrayViewD::from_shape(shape_of(header), slice).expect("length checked against the shape"))
}

/// A zero-copy mutable view of `data`.
pub(crate) fn view_mut<'a, T: Element>(
    header: &NpyHeader,
    data: &'a mut [u8],
    file: &Location,
    offset: u64,
) -> Result<ArrayViewMutD<'a, T>> {
    check_in_place::<T>(header, file, offset)?;
    debug_assert_eq!(data.len(), header.data_len());
    let slice: &mut [T] = if data.is_empty() {
        &mut []
    } else {
        // Decide the error before re-borrowing `data` mutably.
        let bad_bool = T::cast_slice(data).err();
        if let Some(e) = bad_bool {
            return Err(cast_error(e, data, file, offset, T::KIND.align()));
        }
        T::cast_slice_mut(data).expect("checked just above")
    };
    Ok(ArrayViewMutD::from_shape(shape_of(header), slice)
        .expect("length checked against the shape"))
}

/// A copy of the array into owned memory, converting byte order and tolerating misalignment.
/// The copy keeps the file's memory order.
pub(crate) fn copy<T: Element>(
    header: &NpyHeader,
    data: &[u8],
    file: &Location,
) -> Result<ArrayD<T>> {
    check_kind::<T>(header, file)?;
    let size = T::KIND.size();
    let order = header.dtype.byte_order;
    let values: Vec<T> = match T::cast_slice(data) {
        Ok(slice) if order.is_native() => slice.to_vec(),
        _ => data
            .chunks_exact(size)
            .map(|chunk| {
                T::decode(
                    chunk,
                    if order.is_native() {
                        ByteOrder::NATIVE
                    } else {
                        order
                    },
                )
            })
            .collect(),
    };
    Ok(ArrayD::from_shape_vec(shape_of(header), values).expect("length checked against the shape"))
}
