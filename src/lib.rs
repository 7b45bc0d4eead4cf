//! # libeko
//!
//! A storage and combine engine for evolution kernel operators (EKOs): each operator — a rank-4
//! `f64` tensor `[pid_out, x_out, pid_in, x_in]` for one evolution point — lives in its own `.npy`
//! file, memory-mapped and viewed in place as an [`ndarray`] array.
//!
//! This crate's foundation is a NumPy-exact format layer:
//! - [`npy`]: `.npy` headers parsed by a linear, depth-bounded parser; zero-copy views of mapped
//!   files ([`npy::NpyFile`]); a copy path for misaligned or foreign-endian data; atomic writers
//!   ([`npy::write_npy`]) and writable maps for producers ([`npy::NpyFileMut`]).
//! - [`npz`]: `.npz` archives read through their central directory, stored members viewed in
//!   place, deflated members copied; an aligned-member writer.
//!
//! Every failure is an [`Error`] that names the file and the check that failed.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

/// cbindgen:ignore
pub mod apply;
/// cbindgen:ignore
pub mod archive;
/// cbindgen:ignore
mod atomic;
/// cbindgen:ignore
pub mod combine;
/// cbindgen:ignore
pub mod error;
/// cbindgen:ignore
mod fault;
pub mod ffi;
/// cbindgen:ignore
pub mod grid;
/// cbindgen:ignore
mod map;
/// cbindgen:ignore
pub mod npy;
/// cbindgen:ignore
pub mod npz;
/// cbindgen:ignore
pub mod store;
/// cbindgen:ignore
pub mod synthetic;

pub use atomic::{TEMP_PREFIX, WorkDir};
pub use error::{Error, Location, Result};
