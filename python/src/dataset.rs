//! `libeko.Dataset`: a producer's operators as NumPy arrays it owns, registered with no copy,
//! combined in place and written as a store. A thin face over [`eko::dataset`], as the C ABI's
//! `EKO_dataset_*` functions are.

use std::path::PathBuf;

use eko::dataset::{Attribute, Dataset as CoreDataset, HostArray};
use eko::store::{Edge, FileKind, Store as CoreStore};
use numpy::{PyArray4, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::{metadata_of, point, point_of, point_tuple};
use crate::errors::{IntoPy, invalid};
use crate::operations::threads;
use crate::store::{Store, describe};

/// One grid's operators in NumPy arrays the caller owns: a producer (eko computes each operator
/// as an array) registers its arrays with no copy, declares some without memory and binds them
/// later, combines partials with threshold operators in place, and writes a store.
///
/// ``Dataset(xgrid, origin, *, pids=None, matching=None, interpolation=None, theory_card=None,
/// operator_card=None)`` describes the grid as ``Store.create`` does. Buffers: ``add_operator(mu2, nf, array)`` (a final operator),
/// ``add_partial(mu2, nf, array)`` (the last segment of a point's evolution),
/// ``add_threshold((mu2, nf), (mu2, nf), array)`` (a segment up to a matching scale, or a
/// matching), each with ``error=`` an array, ``True`` (declared, bound later) or ``None``.
/// ``array=None`` declares the buffer; ``bind(id, array)`` gives it memory.
///
/// A registered array must be a ``numpy.ndarray`` of float64 with the grid's shape
/// ``(n_pid, n_x, n_pid, n_x)``, C- or Fortran-contiguous, overlapping no other registered array;
/// aligned, it is never copied. The dataset keeps a reference to it. Combine writes only into
/// writable arrays (the partials it combines in place, or final buffers). Do not resize
/// registered arrays (``resize(refcheck=False)``), and do not write to them from another thread
/// while ``combine`` or ``write_store`` runs (those release the GIL); another libeko call using
/// a registered array meanwhile (the same array in a second dataset, ``Store.insert`` of it) is
/// refused with ``libeko.IncompatibleError``.
#[pyclass(module = "libeko._libeko", name = "Dataset")]
pub struct Dataset {
    /// The core, over views of the arrays in `arrays`.
    inner: CoreDataset<'static>,
    /// Every array registered: kept alive, so their memory stays where the views point.
    arrays: Vec<Py<PyAny>>,
}

/// A held rust-numpy borrow of a registered array.
enum Borrow<'py> {
    /// Held for its drop: the array may be written.
    Exclusive(#[allow(dead_code)] numpy::PyReadwriteArray4<'py, f64>),
    /// Held for its drop: the array is only read.
    Shared(#[allow(dead_code)] numpy::PyReadonlyArray4<'py, f64>),
}

/// An attribute from `error`.
fn attribute(error: bool) -> Attribute {
    if error {
        Attribute::Error
    } else {
        Attribute::Value
    }
}

impl Dataset {
    /// A view of `array` (a float64 `numpy.ndarray` of rank 4) for the core, and the array to keep.
    fn host(
        &self,
        array: &Bound<'_, PyAny>,
        what: &str,
    ) -> PyResult<(HostArray<'static>, Py<PyAny>)> {
        let untyped = array.cast::<PyUntypedArray>().map_err(|_| {
            invalid(format!(
                "{what} is registered with no copy, so it must be a numpy.ndarray of float64, not \
                 {} (convert it first, e.g. numpy.ascontiguousarray(a, dtype=float))",
                describe(array)
            ))
        })?;
        if untyped.ndim() != 4 {
            return Err(crate::errors::incompatible(format!(
                "{what} has shape {:?}; an operator of this dataset has shape {:?}",
                untyped.shape(),
                self.inner.shape()
            )));
        }
        let typed = array.cast::<PyArray4<f64>>().map_err(|_| {
            invalid(format!(
                "{what} has dtype {}; it is registered with no copy, so it must be float64",
                untyped
                    .dtype()
                    .str()
                    .map_or_else(|_| "?".into(), |s| s.to_string())
            ))
        })?;
        let flags = array.getattr("flags")?;
        if !flags.getattr("aligned")?.extract::<bool>()? {
            return Err(invalid(format!(
                "{what} is not aligned for float64 (its data starts at an address that is not a \
                 multiple of 8): it is registered with no copy, so it must be aligned (copy it \
                 first, e.g. numpy.array(a))"
            )));
        }
        let writeable: bool = flags.getattr("writeable")?.extract()?;
        let host = if writeable {
            // SAFETY: checked above: a rank-4 float64 array, aligned. It stays alive while the
            // dataset does (the caller keeps the returned reference in `self.arrays`), and NumPy
            // does not move an array's data while another reference to it exists (`resize`
            // refuses; `refcheck=False` is documented as forbidden). The core checks that no two
            // memories of this dataset overlap and reads or writes them only in `combine` and
            // `write_store`, which hold rust-numpy borrows of every registered array
            // (`borrow_all`): another libeko call on the same array fails instead of racing.
            // Python code writing a registered array from another thread during those calls is
            // the one thing not prevented: the class documentation forbids it, as C hosts are.
            let view = unsafe { typed.as_array_mut() };
            // SAFETY: only the lifetime changes: the view's memory lives as long as `self`, see
            // above.
            HostArray::Writable(unsafe {
                std::mem::transmute::<
                    ndarray::ArrayViewMut4<'_, f64>,
                    ndarray::ArrayViewMut4<'static, f64>,
                >(view)
            })
        } else {
            // SAFETY: as above; this memory is only read.
            let view = unsafe { typed.as_array() };
            // SAFETY: only the lifetime changes, see above.
            HostArray::ReadOnly(unsafe {
                std::mem::transmute::<ndarray::ArrayView4<'_, f64>, ndarray::ArrayView4<'static, f64>>(
                    view,
                )
            })
        };
        Ok((host, array.clone().unbind()))
    }

    /// Borrows every registered array through rust-numpy's borrow tracking for the length of a
    /// call that releases the GIL: writable ones exclusively, read-only ones shared. An array in
    /// use by another such call (the same array in another dataset being combined, a libeko
    /// call reading it) is refused with an exception instead of being raced.
    fn borrow_all<'py>(&self, py: Python<'py>) -> PyResult<Vec<Borrow<'py>>> {
        self.arrays
            .iter()
            .map(|a| {
                let array = a.bind(py).cast::<PyArray4<f64>>()?.clone();
                let writeable: bool = array.getattr("flags")?.getattr("writeable")?.extract()?;
                let borrow = if writeable {
                    array.try_readwrite().map(Borrow::Exclusive)
                } else {
                    array.try_readonly().map(Borrow::Shared)
                };
                borrow.map_err(|e| {
                    crate::errors::incompatible(format!(
                        "a registered array is in use by another call ({e}): the same array in \
                         another dataset being combined or written, or a libeko call reading it; \
                         wait for it to finish"
                    ))
                })
            })
            .collect()
    }

    /// Registers `array` (or declares, for `None`) with `add`, then its error attribute.
    fn add(
        &mut self,
        slot: &str,
        array: Option<&Bound<'_, PyAny>>,
        error: Option<&Bound<'_, PyAny>>,
        add: impl FnOnce(&mut CoreDataset<'static>, Option<HostArray<'static>>) -> eko::Result<usize>,
    ) -> PyResult<usize> {
        let value = array
            .filter(|a| !a.is_none())
            .map(|a| self.host(a, slot))
            .transpose()?;
        let error = match error {
            None => None,
            Some(e) if e.is_none() => None,
            Some(e) => match e.extract::<bool>() {
                Ok(true) => Some(None),
                Ok(false) => None,
                Err(_) => Some(Some(self.host(e, &format!("{slot}'s error"))?)),
            },
        };
        let (memory, kept) = match value {
            Some((m, k)) => (Some(m), Some(k)),
            None => (None, None),
        };
        let id = add(&mut self.inner, memory).py()?;
        if let Some(error) = error {
            let (memory, error_kept) = match error {
                Some((m, k)) => (Some(m), Some(k)),
                None => (None, None),
            };
            if let Err(e) = self.inner.add_error(id, memory) {
                // One call, one change: a refused error takes its buffer back.
                self.inner.remove_last(id).py()?;
                return Err(crate::errors::to_py(e));
            }
            self.arrays.extend(error_kept);
        }
        self.arrays.extend(kept);
        Ok(id)
    }
}

#[pymethods]
impl Dataset {
    #[new]
    #[pyo3(signature = (xgrid, origin, *, pids = None, matching = None, interpolation = None, theory_card = None, operator_card = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        xgrid: &Bound<'_, PyAny>,
        origin: &Bound<'_, PyAny>,
        pids: Option<Vec<i32>>,
        matching: Option<&Bound<'_, PyAny>>,
        interpolation: Option<(u32, bool)>,
        theory_card: Option<&Bound<'_, PyAny>>,
        operator_card: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let metadata = metadata_of(
            xgrid,
            origin,
            pids,
            matching,
            interpolation,
            (theory_card, operator_card),
        )?;
        Ok(Dataset {
            inner: CoreDataset::new(metadata).py()?,
            arrays: Vec::new(),
        })
    }

    /// The shape of every operator of the grid, ``(n_pid, n_x, n_pid, n_x)``.
    #[getter]
    fn shape(&self) -> (usize, usize, usize, usize) {
        let [a, b, c, d] = self.inner.shape();
        (a, b, c, d)
    }

    /// The number of buffers (ids are ``0 .. len - 1``).
    fn __len__(&self) -> usize {
        self.inner.buffer_count()
    }

    /// Adds the final operator of ``(mu2, nf)`` in ``array`` (``None``: declared); returns its id.
    #[pyo3(signature = (mu2, nf, array = None, *, error = None))]
    fn add_operator(
        &mut self,
        mu2: f64,
        nf: i64,
        array: Option<&Bound<'_, PyAny>>,
        error: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let p = point(mu2, nf)?;
        self.add(
            &format!("the final operator of {p}"),
            array,
            error,
            |d, m| d.add_point(p, FileKind::Operator, m),
        )
    }

    /// Adds the partial of ``(mu2, nf)`` (its last evolution segment) in ``array`` (``None``:
    /// declared); returns its id. ``combine`` turns it into the point's final operator.
    #[pyo3(signature = (mu2, nf, array = None, *, error = None))]
    fn add_partial(
        &mut self,
        mu2: f64,
        nf: i64,
        array: Option<&Bound<'_, PyAny>>,
        error: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let p = point(mu2, nf)?;
        self.add(&format!("the partial of {p}"), array, error, |d, m| {
            d.add_point(p, FileKind::Partial, m)
        })
    }

    /// Adds the threshold operator from ``source`` to ``target`` (``(mu2, nf)`` pairs): a
    /// segment (same nf) or a matching (same mu2, a matching scale, nf one apart); returns its id.
    #[pyo3(signature = (source, target, array = None, *, error = None))]
    fn add_threshold(
        &mut self,
        source: &Bound<'_, PyAny>,
        target: &Bound<'_, PyAny>,
        array: Option<&Bound<'_, PyAny>>,
        error: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let (from, to) = (point_of(source)?, point_of(target)?);
        self.add(
            &format!("the threshold operator {from} -> {to}"),
            array,
            error,
            |d, m| d.add_threshold(from, to, m),
        )
    }

    /// Gives memory to buffer ``id``'s values (or, with ``error=True``, its error), declared
    /// without.
    #[pyo3(signature = (id, array, *, error = false))]
    fn bind(&mut self, id: i64, array: &Bound<'_, PyAny>, error: bool) -> PyResult<()> {
        let id = self.inner.check_id(id).py()?;
        let what = self.inner.describe(id, attribute(error)).py()?;
        let (memory, kept) = self.host(array, &what)?;
        self.inner.bind(id, attribute(error), memory).py()?;
        self.arrays.push(kept);
        Ok(())
    }

    /// What buffer ``id`` holds: ``("operator" | "partial", (mu2, nf))`` or ``("threshold",
    /// (mu2, nf), (mu2, nf))``.
    fn buffer<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyTuple>> {
        let id = self.inner.check_id(id).py()?;
        match self.inner.slot(id).py()? {
            eko::dataset::Slot::Point(p, kind) => {
                let name = if kind == FileKind::Partial {
                    "partial"
                } else {
                    "operator"
                };
                PyTuple::new(
                    py,
                    [
                        name.into_pyobject(py)?.into_any(),
                        point_tuple(py, p)?.into_any(),
                    ],
                )
            }
            eko::dataset::Slot::Threshold(edge) => {
                let (from, to) = edge.endpoints();
                PyTuple::new(
                    py,
                    [
                        "threshold".into_pyobject(py)?.into_any(),
                        point_tuple(py, from)?.into_any(),
                        point_tuple(py, to)?.into_any(),
                    ],
                )
            }
        }
    }

    /// The threshold operators the partials need, as ``[((mu2, nf), (mu2, nf)), ...]`` in order:
    /// what a producer must compute and add before ``combine``.
    #[getter]
    fn needed_thresholds<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.inner
            .needed_thresholds()
            .py()?
            .iter()
            .map(|edge: &Edge| {
                let (from, to) = edge.endpoints();
                PyTuple::new(py, [point_tuple(py, from)?, point_tuple(py, to)?])
            })
            .collect()
    }

    /// Joins every partial with the threshold operators on its path, as ``libeko.combine`` does
    /// for a store (bit for bit the same results): into the point's final buffer if it has one,
    /// else in place into the partial's array, which then holds the final operator (and its
    /// error, when every factor has one). Everything is checked before anything is written.
    #[pyo3(signature = (*, threads = None))]
    fn combine(&mut self, py: Python<'_>, threads: Option<usize>) -> PyResult<()> {
        let kernel = eko::combine::Kernel::new(self::threads(threads)?);
        let _borrows = self.borrow_all(py)?;
        let inner = &mut self.inner;
        py.detach(|| inner.combine(&kernel)).py()
    }

    /// Writes the dataset as a store in ``path`` (created if missing or empty, else it must have
    /// the same grid) and returns it: threshold buffers as ``thresholds.npz``, point buffers as
    /// their files (in their arrays' memory order), each file atomically.
    fn write_store(&self, py: Python<'_>, path: PathBuf) -> PyResult<Store> {
        let _borrows = self.borrow_all(py)?;
        let inner = &self.inner;
        let store: CoreStore = py.detach(|| inner.write_store(&path)).py()?;
        Ok(Store::wrap(store))
    }

    fn __repr__(&self) -> String {
        let [a, b, c, d] = self.inner.shape();
        format!(
            "libeko.Dataset({} buffers, operators {a} x {b} x {c} x {d})",
            self.inner.buffer_count()
        )
    }
}
