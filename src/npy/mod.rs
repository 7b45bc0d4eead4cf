//! The `.npy` format: NumPy-exact header parsing, zero-copy mapped views, and writers.
//!
//! ```
//! use eko::npy::{NpyFile, WriteOptions, write_npy};
//! use ndarray::{Array4, Ix4};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("op.npy");
//! let op = Array4::<f64>::from_shape_fn((2, 3, 2, 3), |(a, i, b, j)| (a * 27 + i * 9 + b * 3 + j) as f64);
//! write_npy(&path, &op, WriteOptions::default())?;
//!
//! let file = NpyFile::open(&path)?; // reads the header only
//! let view = file.view_as::<f64, Ix4>()?; // zero copy
//! assert_eq!(view, op);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod dtype;
mod file;
pub mod header;
pub mod literal;
mod view;

pub use dtype::{ByteOrder, DType, Element, ElementKind};
pub use file::{NpyFile, NpyFileMut, WriteOptions, read_header, write_npy};
pub(crate) use file::{write_npy_recorded, write_npy_to};
pub use header::{Checksums, ErrorRecord, NpyHeader, Order, Version, parse_header};
pub use view::InPlace;
pub(crate) use view::{check_in_place, copy, in_place, view};
