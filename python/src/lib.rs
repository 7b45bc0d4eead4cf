//! `libeko._libeko`: the Python face of libeko (the `eko` crate). Every function and class here
//! wraps the core in a few lines; the package `libeko` (`libeko/__init__.py`) re-exports them.
//!
//! - [`store`]: `Store`, operators as read-only NumPy arrays over the mapped files.
//! - [`operations`]: what the command line does (import, export, merge, split, combine, clean,
//!   recover, verify, apply).
//! - [`transform`]: `Transform` and `reshape`.
//! - [`slices`]: slices for pineappl's `Grid.evolve`.
//! - [`dataset`]: `Dataset`, a producer's NumPy arrays registered with no copy and combined in
//!   place.
//! - [`errors`]: libeko's errors as the exceptions of `libeko/_errors.py`.

mod convert;
mod dataset;
mod errors;
mod operations;
mod progress;
mod slices;
mod store;
mod transform;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _libeko(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<store::Store>()?;
    m.add_class::<store::MappedFile>()?;
    m.add_class::<store::Items>()?;
    m.add_class::<transform::Transform>()?;
    m.add_class::<slices::SliceInfo>()?;
    m.add_class::<slices::Slices>()?;
    m.add_class::<dataset::Dataset>()?;
    m.add_function(wrap_pyfunction!(operations::import_eko, m)?)?;
    m.add_function(wrap_pyfunction!(operations::export, m)?)?;
    m.add_function(wrap_pyfunction!(operations::merge, m)?)?;
    m.add_function(wrap_pyfunction!(operations::split, m)?)?;
    m.add_function(wrap_pyfunction!(operations::combine, m)?)?;
    m.add_function(wrap_pyfunction!(operations::clean, m)?)?;
    m.add_function(wrap_pyfunction!(operations::recover, m)?)?;
    m.add_function(wrap_pyfunction!(operations::verify, m)?)?;
    m.add_function(wrap_pyfunction!(operations::apply, m)?)?;
    m.add_function(wrap_pyfunction!(transform::reshape, m)?)?;
    m.add_function(wrap_pyfunction!(slices::slices, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    store::warm_up(m.py())?;
    Ok(())
}
