//! `libeko.Store`: a store opened from Python, its operators as read-only NumPy arrays over the
//! mapped files, and its metadata as plain Python data.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use eko::store::{EvolutionPoint, FileKind, OperatorFile, Store as CoreStore};
use numpy::{PyArray4, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyType};

use crate::convert::{json_to_py, point_of, point_tuple, read_array4};
use crate::errors::{IntoPy, invalid, not_found};

/// The owner of one mapped file: the base object of every NumPy array over it. Frozen, so the
/// map is never replaced or dropped while an array (which holds a reference to it) lives.
#[pyclass(frozen, module = "libeko._libeko", name = "MappedFile")]
pub struct MappedFile {
    file: OperatorFile,
}

#[pymethods]
impl MappedFile {
    /// The mapped file's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.file.path().to_path_buf()
    }

    fn __repr__(&self) -> String {
        format!("<libeko mapped file {}>", self.file.path().display())
    }
}

/// A read-only NumPy array over `file`'s data, in the file's memory order, owned by a new
/// [`MappedFile`] (its base object).
pub fn mapped_array(py: Python<'_>, file: OperatorFile) -> PyResult<Bound<'_, PyArray4<f64>>> {
    let owner = Bound::new(py, MappedFile { file })?;
    let view = owner.get().file.view();
    // SAFETY: `view` is the read-only map owned by `owner`, a frozen object: its `file` is never
    // replaced, so the map stays at this address, unchanged in size, until `owner` is dropped.
    // The array takes `owner` as its base object and so keeps it alive for as long as the array
    // (or any view of it) lives.
    let array = unsafe { PyArray4::borrow_from_array(&view, owner.clone().into_any()) };
    // Read-only: NumPy refuses writes (the pages are mapped read-only, a write would fault).
    drop(array.readwrite().make_nonwriteable());
    Ok(array)
}

/// `libeko._operator.Operator`, imported once.
static OPERATOR_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Does at import what the first operator would otherwise pay for (about 0.3 ms): NumPy's C API
/// table and the `Operator` class are looked up, and an array is made over memory Rust owns.
pub fn warm_up(py: Python<'_>) -> PyResult<()> {
    operator_class(py)?;
    // The metadata's code paths (serialising and parsing a store's metadata.json).
    let point = EvolutionPoint::new(1.0, 4).py()?;
    let metadata = eko::store::Metadata::new(point, vec![0.5, 1.0], vec![21], Default::default());
    eko::store::Metadata::from_json(
        metadata.to_json().as_bytes(),
        &eko::Location::Buffer("warm-up".into()),
    )
    .py()?;
    let owned = numpy::PyArray1::<f64>::zeros(py, 1, false);
    drop(owned.readwrite().make_nonwriteable());
    Ok(())
}

fn operator_class(py: Python<'_>) -> PyResult<&Py<PyType>> {
    OPERATOR_CLASS.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            py.import("libeko._operator")?
                .getattr("Operator")?
                .cast_into::<PyType>()?
                .unbind(),
        )
    })
}

/// `array` as a `libeko.Operator` carrying its `error`.
fn as_operator<'py>(
    py: Python<'py>,
    array: Bound<'py, PyArray4<f64>>,
    error: Option<Bound<'py, PyArray4<f64>>>,
) -> PyResult<Bound<'py, PyAny>> {
    let class = operator_class(py)?;
    let operator = array.call_method1("view", (class.bind(py),))?;
    operator.setattr("_error", error)?;
    Ok(operator)
}

/// A libeko store: one directory, one `.npy` file per evolution point, opened without reading
/// any operator.
///
/// ``Store(path)`` opens an existing store; ``Store.create(path, ...)`` makes an empty one;
/// ``libeko.import_eko(tar, dest)`` makes one from an eko archive.
///
/// Reading: ``store[mu2, nf]`` (or ``store.operator(mu2, nf)``) is the final operator of that
/// evolution point as a read-only ``numpy.ndarray`` over the mapped file (a
/// :class:`libeko.Operator`, which also has eko's ``.operator`` and ``.error``); no byte is
/// copied, and the array stays valid however long it lives, even after the store is closed.
/// ``store.items()`` yields ``((mu2, nf), operator)`` in mu2 order, one mapped operator at a
/// time; ``iter(store)`` the points. ``(mu2, nf) in store`` and ``store.approx((mu2, nf))`` find
/// points; a point without a final operator raises ``libeko.NotFoundError`` (a ``LookupError``).
///
/// Writing: ``store.insert(mu2, nf, array, error=None)`` and ``insert_partial`` (any array-like,
/// converted once, written atomically), ``remove``. Threads may share a store: reads proceed
/// together, writes wait for them.
///
/// The names follow eko's ``EKO`` (``mu20``, ``mu2grid``, ``evolgrid``, ``xgrid``,
/// ``theory_card``, ``operator_card``, ``items()``, ``approx``); what differs: indexing gives
/// the array itself (an ``Operator``, which eko code reads as ``op.operator`` unchanged), points
/// come in mu2 order, the cards are dicts as eko wrote them (:class:`libeko.Card`, whose keys
/// also read as attributes), grids are NumPy arrays (:class:`libeko.XGrid`, with eko's
/// ``.raw``), and nothing is ever loaded into memory or needs unloading.
#[pyclass(frozen, module = "libeko._libeko", name = "Store")]
pub struct Store {
    /// The core store: read by every call, written (file list refreshed, files inserted or
    /// removed) under the write lock, so that threads sharing a `Store` wait for each other.
    inner: RwLock<CoreStore>,
}

impl Store {
    /// A `Store` over an opened core store.
    pub fn wrap(inner: CoreStore) -> Self {
        Store {
            inner: RwLock::new(inner),
        }
    }

    /// The core store, for reading. (A panic while the lock was held cannot leave the store
    /// half-changed: every core write completes or is undone, so a poisoned lock is still good.)
    pub fn read(&self) -> RwLockReadGuard<'_, CoreStore> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The core store, for changing.
    pub fn write(&self) -> RwLockWriteGuard<'_, CoreStore> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A point of this store with a final operator (or, with `partial`, a partial).
    fn find_in(
        &self,
        store: &CoreStore,
        key: &Bound<'_, PyAny>,
        main: FileKind,
    ) -> PyResult<EvolutionPoint> {
        let point = point_of(key)?;
        let files = store.files_of(&point);
        if !files.has(main) {
            let what = if main == FileKind::Partial {
                "partial"
            } else {
                "final operator"
            };
            let hint = match (main, files.has(FileKind::Partial)) {
                (FileKind::Operator, true) => " (it has a partial: run libeko.combine first)",
                _ => "",
            };
            return Err(not_found(format!(
                "{}: no {what} for {point}{hint}",
                store.dir().display()
            )));
        }
        Ok(point)
    }

    fn final_points(&self) -> Vec<EvolutionPoint> {
        self.read().points_with(FileKind::Operator).collect()
    }
}

/// The file kind of an operator (`partial` false) or partial, and of its error.
fn kinds(partial: bool) -> (FileKind, FileKind) {
    if partial {
        (FileKind::Partial, FileKind::PartialError)
    } else {
        (FileKind::Operator, FileKind::OperatorError)
    }
}

#[pymethods]
impl Store {
    /// Opens the store at ``path`` (reading its metadata and file list, no operator).
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        Ok(Store::wrap(CoreStore::open(&path).py()?))
    }

    /// Creates an empty store at ``path`` (a missing or empty directory) for operators on the
    /// grid ``xgrid`` (strictly increasing in (0, 1]) with flavours ``pids`` (default: eko's
    /// flavour basis 22, -6..-1, 21, 1..6), evolving from ``origin`` = ``(mu2, nf)``.
    /// ``matching`` gives the matching scales (mu2) as ``{"charm": ..., "bottom": ...,
    /// "top": ...}``; ``interpolation`` as ``(degree, log)`` (eko's default: ``(4, True)``);
    /// ``theory_card`` and ``operator_card`` as dicts (eko's raw cards: what ``export`` needs to
    /// give eko an archive it opens).
    #[classmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (path, xgrid, origin, *, pids=None, matching=None, interpolation=None, theory_card=None, operator_card=None))]
    fn create(
        _cls: &Bound<'_, PyType>,
        path: PathBuf,
        xgrid: &Bound<'_, PyAny>,
        origin: &Bound<'_, PyAny>,
        pids: Option<Vec<i32>>,
        matching: Option<&Bound<'_, PyAny>>,
        interpolation: Option<(u32, bool)>,
        theory_card: Option<&Bound<'_, PyAny>>,
        operator_card: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let metadata = crate::convert::metadata_of(
            xgrid,
            origin,
            pids,
            matching,
            interpolation,
            (theory_card, operator_card),
        )?;
        Ok(Store::wrap(CoreStore::create(&path, &metadata).py()?))
    }

    /// The store's directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.read().dir().to_path_buf()
    }

    /// The store's ``metadata.json`` as plain Python data (dicts, lists, numbers, strings).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.read().metadata().to_json())
    }

    /// The origin's mu2 (GeV²): every operator evolves from it (eko's ``mu20``).
    #[getter]
    fn mu20(&self) -> f64 {
        self.read().metadata().origin.mu2
    }

    /// The origin as ``(mu2, nf)``.
    #[getter]
    fn origin<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        point_tuple(py, self.read().metadata().origin)
    }

    /// The mu2 of every final operator, in mu2 order (a mu2 held with two nf appears twice).
    #[getter]
    fn mu2grid(&self) -> Vec<f64> {
        self.final_points().iter().map(|p| p.mu2).collect()
    }

    /// Every evolution point with a final operator, as ``(mu2, nf)``, in mu2 then nf order.
    #[getter]
    fn evolgrid<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.final_points()
            .into_iter()
            .map(|p| point_tuple(py, p))
            .collect()
    }

    /// Every evolution point with a partial (not yet combined), as ``(mu2, nf)``.
    #[getter]
    fn partials<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.read()
            .points_with(FileKind::Partial)
            .map(|p| point_tuple(py, p))
            .collect()
    }

    /// Whether the store holds threshold operators (``thresholds.npz``).
    #[getter]
    fn has_thresholds(&self) -> bool {
        self.read().has_thresholds()
    }

    /// The x grid of the store (eko's ``xgrid``; for a reshaped store, the grid it was computed
    /// on: see ``output_xgrid`` and ``input_xgrid``): a read-only :class:`libeko.XGrid`, a NumPy array
    /// with eko's ``.raw``.
    #[getter]
    fn xgrid<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        xgrid(py, &self.read().metadata().xgrid)
    }

    /// The flavour ids (PDG) of the grid.
    #[getter]
    fn pids(&self) -> Vec<i32> {
        self.read().metadata().pids.clone()
    }

    /// The final operators' output side x grid (``x_out``, eko's ``targetgrid``).
    #[getter]
    fn output_xgrid<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        xgrid(py, self.read().metadata().output_xgrid())
    }

    /// The final operators' output side pids (``pid_out``).
    #[getter]
    fn output_pids(&self) -> Vec<i32> {
        self.read().metadata().output_pids().to_vec()
    }

    /// The final operators' input side x grid (``x_in``, eko's ``inputgrid``).
    #[getter]
    fn input_xgrid<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        xgrid(py, self.read().metadata().input_xgrid())
    }

    /// The final operators' input side pids (``pid_in``).
    #[getter]
    fn input_pids(&self) -> Vec<i32> {
        self.read().metadata().input_pids().to_vec()
    }

    /// The final operators' shape ``(n_pid_out, n_x_out, n_pid_in, n_x_in)``.
    #[getter]
    fn shape(&self) -> (usize, usize, usize, usize) {
        let [a, b, c, d] = self.read().metadata().operator_shape();
        (a, b, c, d)
    }

    /// Whether the final operators were reshaped (other x grids or pids than the computed grid).
    #[getter]
    fn is_reshaped(&self) -> bool {
        self.read().metadata().is_reshaped()
    }

    /// The matching scales (mu2) as ``{"charm": ..., "bottom": ..., "top": ...}`` (``None``
    /// when not set).
    #[getter]
    fn matching<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.read();
        let m = &store.metadata().matching;
        let dict = pyo3::types::PyDict::new(py);
        dict.set_item("charm", m.charm)?;
        dict.set_item("bottom", m.bottom)?;
        dict.set_item("top", m.top)?;
        Ok(dict.into_any())
    }

    /// The interpolation the operators were computed with, as ``(degree, log)``, or ``None``
    /// when the store records none.
    #[getter]
    fn interpolation(&self) -> Option<(u32, bool)> {
        self.read()
            .metadata()
            .interpolation()
            .map(|i| (i.polynomial_degree, i.log))
    }

    /// The theory card as eko wrote it: a :class:`libeko.Card` (a dict whose keys also read as
    /// attributes); ``None`` when the store has none. eko returns a ``TheoryCard`` object.
    #[getter]
    fn theory_card<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_value(py, &self.read().metadata().theory)
    }

    /// The operator card as eko wrote it: a :class:`libeko.Card`; ``None`` when the store has
    /// none. eko returns an ``OperatorCard`` object.
    #[getter]
    fn operator_card<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_value(py, &self.read().metadata().operator)
    }

    /// The final operator of ``(mu2, nf)``: a read-only :class:`libeko.Operator` (a
    /// ``numpy.ndarray``) over the mapped file. Raises ``libeko.NotFoundError`` when the point
    /// has no final operator.
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::operator_of(slf, key, false)
    }

    /// Whether ``(mu2, nf)`` has a final operator (exact mu2; see ``approx``).
    fn __contains__(&self, key: &Bound<'_, PyAny>) -> bool {
        point_of(key).is_ok_and(|p| self.read().files_of(&p).has(FileKind::Operator))
    }

    /// The number of final operators.
    fn __len__(&self) -> usize {
        self.read().points_with(FileKind::Operator).count()
    }

    /// Iterates over the evolution points with a final operator, as ``(mu2, nf)``.
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.evolgrid(py)?
            .into_pyobject(py)?
            .try_iter()
            .map(Bound::into_any)
    }

    /// ``((mu2, nf), operator)`` for every final operator, in mu2 then nf order, each mapped
    /// when reached (eko's ``items()``; nothing to unload).
    fn items(slf: &Bound<'_, Self>) -> Items {
        Items {
            store: slf.clone().unbind(),
            points: slf.get().final_points(),
            next: 0,
        }
    }

    /// The final operator of ``(mu2, nf)``, as ``store[mu2, nf]``. (eko's ``operator`` is a
    /// context manager; here nothing needs unloading.)
    #[pyo3(signature = (*key))]
    fn operator<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::operator_of(slf, &one_key(key)?, false)
    }

    /// The error of the final operator of ``(mu2, nf)`` (read-only, mapped), or ``None`` when
    /// the store holds none for it.
    #[pyo3(signature = (*key))]
    fn error<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyTuple>,
    ) -> PyResult<Option<Bound<'py, PyArray4<f64>>>> {
        Self::error_file(slf, &one_key(key)?, false)
    }

    /// The partial of ``(mu2, nf)`` (the last segment of its evolution, not yet combined) as a
    /// read-only :class:`libeko.Operator`; its ``.error`` is the partial's error.
    #[pyo3(signature = (*key))]
    fn partial<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::operator_of(slf, &one_key(key)?, true)
    }

    /// The point in the store closest to ``(mu2, nf)``: same nf, and mu2 within
    /// ``atol + rtol * |mu2'|`` of a stored ``mu2'`` (eko's ``approx``, NumPy's ``isclose``).
    /// ``None`` when none is; ``libeko.InvalidArgumentError`` (a ``ValueError``) when several are.
    #[pyo3(signature = (ep, rtol = 1e-6, atol = 1e-10))]
    fn approx<'py>(
        &self,
        py: Python<'py>,
        ep: &Bound<'py, PyAny>,
        rtol: f64,
        atol: f64,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let (mu2, nf) = crate::convert::pair_of(ep)?;
        let Ok(nf) = u8::try_from(nf) else {
            return Ok(None);
        };
        self.read()
            .approx((mu2, nf), rtol, atol)
            .py()?
            .map(|p| point_tuple(py, p))
            .transpose()
    }

    /// Reads the store's file list again (after another process wrote to it).
    fn refresh(&self) -> PyResult<()> {
        self.write().refresh().py()
    }

    /// Writes ``operator`` (any array-like of the store's operator shape, converted once to
    /// float64) as the final operator of ``(mu2, nf)``, with its ``error`` if given, replacing
    /// what the point had. Atomic: the files appear complete or not at all.
    #[pyo3(signature = (mu2, nf, operator, *, error = None))]
    fn insert(
        &self,
        py: Python<'_>,
        mu2: f64,
        nf: i64,
        operator: &Bound<'_, PyAny>,
        error: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.insert_kind(py, mu2, nf, operator, error, FileKind::Operator)
    }

    /// Writes ``partial`` (an array-like, converted once to float64) as the partial of
    /// ``(mu2, nf)``: the last segment of its evolution, which ``libeko.combine`` multiplies by
    /// the threshold operators. Atomic.
    #[pyo3(signature = (mu2, nf, partial, *, error = None))]
    fn insert_partial(
        &self,
        py: Python<'_>,
        mu2: f64,
        nf: i64,
        partial: &Bound<'_, PyAny>,
        error: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.insert_kind(py, mu2, nf, partial, error, FileKind::Partial)
    }

    /// Removes the final operator (or with ``partial=True`` the partial) of ``(mu2, nf)`` and its
    /// error. Removing what is not there is not an error. Waits for another process writing to
    /// the store (``wait=False``: raise ``libeko.IoError`` instead).
    #[pyo3(signature = (mu2, nf, *, partial = false, wait = true))]
    fn remove(&self, py: Python<'_>, mu2: f64, nf: i64, partial: bool, wait: bool) -> PyResult<()> {
        let point = crate::convert::point(mu2, nf)?;
        py.detach(|| {
            let mut store = self.write();
            if !wait {
                store.lock_for_writing(eko::store::Wait::NoWait)?;
            }
            let removed = store.remove(&point, kinds(partial).0);
            if !wait {
                store.unlock();
            }
            removed
        })
        .py()
    }

    /// Context manager: ``with libeko.Store(path) as store: ...`` (as eko's ``EKO.read``).
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Leaves the ``with`` block; nothing to write back or unload.
    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        false
    }

    /// Does nothing: a store holds no operator in memory (arrays keep their own maps alive).
    fn close(&self) {}

    fn __repr__(&self) -> String {
        let store = self.read();
        let m = store.metadata();
        let [a, b, c, d] = m.operator_shape();
        format!(
            "libeko.Store('{}': {} final operators, {} partials{}, origin {}, operators {a} x {b} x {c} x {d})",
            store.dir().display(),
            store.points_with(FileKind::Operator).count(),
            store.points_with(FileKind::Partial).count(),
            if store.has_thresholds() {
                ", thresholds"
            } else {
                ""
            },
            m.origin,
        )
    }
}

impl Store {
    fn operator_of<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        partial: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (main, error_kind) = kinds(partial);
        // The operator and its error, mapped together (under one look at the file list): the
        // error an `Operator` carries is the one written with it, whatever happens to the store
        // later.
        let (file, error) = {
            let store = slf.get().read();
            let point = slf.get().find_in(&store, key, main)?;
            let error = if store.files_of(&point).has(error_kind) {
                Some(store.file(&point, error_kind).py()?)
            } else {
                None
            };
            (store.file(&point, main).py()?, error)
        };
        let py = slf.py();
        let array = mapped_array(py, file)?;
        let error = error.map(|e| mapped_array(py, e)).transpose()?;
        as_operator(py, array, error)
    }

    fn error_file<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        partial: bool,
    ) -> PyResult<Option<Bound<'py, PyArray4<f64>>>> {
        let (main, error_kind) = kinds(partial);
        let file = {
            let store = slf.get().read();
            let point = slf.get().find_in(&store, key, main)?;
            if !store.files_of(&point).has(error_kind) {
                return Ok(None);
            }
            store.file(&point, error_kind).py()?
        };
        mapped_array(slf.py(), file).map(Some)
    }

    fn insert_kind(
        &self,
        py: Python<'_>,
        mu2: f64,
        nf: i64,
        array: &Bound<'_, PyAny>,
        error: Option<&Bound<'_, PyAny>>,
        main: FileKind,
    ) -> PyResult<()> {
        let point = crate::convert::point(mu2, nf)?;
        let name = if main == FileKind::Partial {
            "partial"
        } else {
            "operator"
        };
        let array = read_array4(array, name)?;
        let error = error.map(|e| read_array4(e, "error")).transpose()?;
        let view = array.as_array();
        let error_view = error.as_ref().map(|e| e.as_array());
        py.detach(|| {
            let mut store = self.write();
            match main {
                FileKind::Partial => store.insert_partial(point, &view, error_view.as_ref()),
                _ => store.insert_operator(point, &view, error_view.as_ref()),
            }
        })
        .py()
    }
}

/// The single `(mu2, nf)` of `key` given as `f(mu2, nf)` or `f((mu2, nf))`.
fn one_key<'py>(key: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    match key.len() {
        1 => key.get_item(0),
        2 => Ok(key.clone().into_any()),
        n => Err(invalid(format!(
            "an evolution point is given as (mu2, nf) or mu2, nf; {n} arguments were given"
        ))),
    }
}

/// A short description of a Python value for messages: its type and repr.
pub fn describe(value: &Bound<'_, PyAny>) -> String {
    let type_name = value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    let repr = value
        .repr()
        .map_or_else(|_| "?".to_string(), |r| r.to_string());
    let repr: String = repr.chars().take(80).collect();
    format!("{type_name} {repr}")
}

/// A card as a `libeko.Card` (nested dicts too), or `None`.
fn json_value<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    let card = py.import("libeko._operator")?.getattr("card")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("object_hook", card)?;
    py.import("json")?
        .getattr("loads")?
        .call((value.to_string(),), Some(&kwargs))
}

/// `values` as a read-only `libeko.XGrid`.
fn xgrid<'py>(py: Python<'py>, values: &[f64]) -> PyResult<Bound<'py, PyAny>> {
    py.import("libeko._operator")?
        .getattr("xgrid")?
        .call1((values.to_vec(),))
}

/// The iterator of ``Store.items()``: ``((mu2, nf), operator)``, mapping one operator per step.
#[pyclass(module = "libeko._libeko", name = "Items")]
pub struct Items {
    store: Py<Store>,
    points: Vec<EvolutionPoint>,
    next: usize,
}

#[pymethods]
impl Items {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyTuple>, Bound<'py, PyAny>)>> {
        let Some(&point) = self.points.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let store = self.store.bind(py);
        let key = point_tuple(py, point)?;
        let operator = Store::operator_of(store, &key, false)?;
        Ok(Some((key, operator)))
    }

    fn __len__(&self) -> usize {
        self.points.len() - self.next
    }
}
