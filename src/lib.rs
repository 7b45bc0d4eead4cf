//! # libeko
//!
//! A storage and combine engine for evolution kernel operators (EKOs). One operator, for one
//! evolution point (Q², nf), is a rank-4 `f64` tensor `[pid_out, x_out, pid_in, x_in]`; libeko
//! keeps each in its own NumPy `.npy` file in a directory, the *store*, memory-mapped and viewed
//! in place as an [`ndarray`] array, one point at a time.
//!
//! - [`store`]: the store ([`store::Store`]: open, `operator(&point)` as a zero-copy view,
//!   insert, stack), [`store::merge`] and [`store::split`], and crash recovery
//!   ([`store::recover`]): every write path completes or is brought back exactly.
//! - [`combine`]: partial operators times threshold operators into final operators, with eko's
//!   error propagation, on a structure-skipping kernel; [`combine::clean`] after.
//! - [`dataset`]: a grid's operators in the caller's memory (C or Fortran order, declared now
//!   and bound later), combined in place, written as a store: the core of the C ABI's and the
//!   Python binding's datasets.
//! - [`grid`]: compute an EKO with your own producer, in one process or many.
//! - [`apply`]: evolve PDFs (or replicas) with a store's operators.
//! - [`archive`]: import the archives Python eko writes.
//! - [`npy`] and [`npz`]: the NumPy-exact format layer (a linear, depth-bounded header parser;
//!   zero-copy views of mapped files; atomic writers).
//! - [`ffi`]: the C ABI (`include/eko.h`; Fortran: `include/eko.f90`).
//! - [`synthetic`]: operators shaped like real ones, for demos and tests.
//!
//! Every failure is an [`Error`] that names the file and the check that failed. The README has
//! the command line, the file layouts and the design.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

/// Declares the modules that make the Rust API. cbindgen does not expand macros, so it never
/// scans them: only [`ffi`], declared plainly below, reaches the C header (`include/eko.h`).
macro_rules! rust_only {
    ($($vis:vis mod $name:ident;)*) => { $($vis mod $name;)* };
}

rust_only! {
    pub mod apply;
    pub mod archive;
    mod atomic;
    pub mod combine;
    pub mod dataset;
    pub mod error;
    mod fault;
    pub mod grid;
    mod map;
    pub mod npy;
    pub mod npz;
    pub mod slices;
    pub mod store;
    pub mod synthetic;
    pub mod transform;
}
pub mod ffi;
#[cfg(feature = "pineappl")]
pub mod pineappl;

pub use atomic::{TEMP_PREFIX, WorkDir};
pub use error::{Error, Location, Result};
