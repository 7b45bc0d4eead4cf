//! libeko's errors as Python exceptions: the classes live in `libeko/_errors.py` (so that each
//! can also derive from the built-in exception of its meaning); this maps each error's family,
//! decided by the core ([`eko::Error::family`]), to its class, with the core's message.

use eko::error::ErrorFamily;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The exception classes, imported once from `libeko._errors`.
struct Classes {
    base: Py<PyType>,
    not_found: Py<PyType>,
    incompatible: Py<PyType>,
    malformed: Py<PyType>,
    io: Py<PyType>,
    invalid: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let module = py.import("libeko._errors")?;
        let class = |name: &str| -> PyResult<Py<PyType>> {
            Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok(Classes {
            base: class("Error")?,
            not_found: class("NotFoundError")?,
            incompatible: class("IncompatibleError")?,
            malformed: class("MalformedFileError")?,
            io: class("IoError")?,
            invalid: class("InvalidArgumentError")?,
        })
    })
}

/// A Python exception of `class` (one of [`Classes`]) with `message`.
fn raise(py: Python<'_>, pick: impl FnOnce(&Classes) -> &Py<PyType>, message: String) -> PyErr {
    match classes(py) {
        Ok(c) => PyErr::from_type(pick(c).bind(py).clone(), message),
        Err(e) => e,
    }
}

/// The Python exception for a libeko error.
pub fn to_py(error: eko::Error) -> PyErr {
    Python::attach(|py| {
        let family = error.family();
        raise(
            py,
            |c| match family {
                ErrorFamily::NotFound => &c.not_found,
                ErrorFamily::Incompatible => &c.incompatible,
                ErrorFamily::MalformedFile => &c.malformed,
                ErrorFamily::Io => &c.io,
                ErrorFamily::InvalidArgument => &c.invalid,
                _ => &c.base,
            },
            error.to_string(),
        )
    })
}

/// An `InvalidArgumentError` with `message`: a Python argument libeko cannot use.
pub fn invalid(message: impl Into<String>) -> PyErr {
    Python::attach(|py| raise(py, |c| &c.invalid, message.into()))
}

/// A `NotFoundError` with `message`.
pub fn not_found(message: impl Into<String>) -> PyErr {
    Python::attach(|py| raise(py, |c| &c.not_found, message.into()))
}

/// `Result<T, eko::Error>` into a `PyResult`.
pub trait IntoPy<T> {
    /// The value, or the error as its Python exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for eko::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// An `IncompatibleError` with `message`.
pub fn incompatible(message: impl Into<String>) -> PyErr {
    Python::attach(|py| raise(py, |c| &c.incompatible, message.into()))
}
