//! Slices for pineappl's Python `Grid.evolve`: a store's final operators, one per scale in
//! ascending mu2, each with its `OperatorSliceInfo` (pineappl's own class when pineappl is
//! installed; libeko's `SliceInfo`, with the same fields, when it is not).

use eko::slices::{SliceSelection, Slices as CoreSlices};
use eko::store::{Basis, OperatorFile};
use numpy::{PyArray4, PyArrayMethods};
use pyo3::prelude::*;

use crate::convert::{point_tuple, points_of};
use crate::errors::{IntoPy, invalid};
use crate::operations::{StoreArg, threads};
use crate::store::mapped_array;
use crate::transform::spec_of;

/// What one slice is, in pineappl's terms (the fields of
/// ``pineappl.evolution.OperatorSliceInfo``): ``fac0`` the origin's mu2, ``pids0``/``x0`` the
/// input side (the FK table's), ``fac1`` the slice's mu2, ``pids1``/``x1`` the output side (the
/// grid's), ``pid_basis`` ``"Pdg"`` or ``"Evol"``, ``polarized`` and ``time_like`` (the
/// convolution type). ``point`` is the evolution point ``(mu2, nf)``.
#[pyclass(frozen, get_all, module = "libeko._libeko", name = "SliceInfo")]
pub struct SliceInfo {
    /// The slice's position (0-based).
    index: usize,
    /// The evolution point ``(mu2, nf)``.
    point: (f64, u8),
    /// The origin's mu2.
    fac0: f64,
    /// Input-side pids.
    pids0: Vec<i32>,
    /// Input-side x grid.
    x0: Vec<f64>,
    /// The slice's mu2.
    fac1: f64,
    /// Output-side pids.
    pids1: Vec<i32>,
    /// Output-side x grid.
    x1: Vec<f64>,
    /// ``"Pdg"`` or ``"Evol"``.
    pid_basis: String,
    /// Polarised (eko's operator card ``configs.polarized``).
    polarized: bool,
    /// Time-like: a fragmentation function (``configs.time_like``).
    time_like: bool,
}

#[pymethods]
impl SliceInfo {
    fn __repr__(&self) -> String {
        format!(
            "libeko.SliceInfo(index={}, point={:?}, fac0={}, fac1={}, pid_basis={}, {} x {} -> {} x {})",
            self.index,
            self.point,
            self.fac0,
            self.fac1,
            self.pid_basis,
            self.pids1.len(),
            self.x1.len(),
            self.pids0.len(),
            self.x0.len()
        )
    }
}

/// The iterator `libeko.slices` returns: ``(info, operator)`` per scale.
#[pyclass(module = "libeko._libeko", name = "Slices")]
pub struct Slices {
    inner: CoreSlices,
    next: usize,
    /// pineappl's `OperatorSliceInfo` class and the arguments its constructor takes that do not
    /// change between slices, or `None` to yield libeko's `SliceInfo`.
    pineappl: Option<(Py<PyAny>, Py<PyAny>, Py<PyAny>)>,
    polarized: bool,
    time_like: bool,
    pid_basis: &'static str,
}

#[pymethods]
impl Slices {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __len__(&self) -> usize {
        self.inner.len() - self.next
    }

    fn __next__<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let index = self.next;
        if index >= self.inner.len() {
            return Ok(None);
        }
        self.next += 1;
        let info = self.inner.info(index);
        let array = match self.inner.transform() {
            None => {
                // The mapped file itself: read-only, no copy.
                let file = self.inner.file(index);
                let file = OperatorFile::open(file.path(), self.inner.shape()).py()?;
                mapped_array(py, file)?
            }
            Some(_) => {
                let out = PyArray4::<f64>::zeros(py, self.inner.shape(), false);
                {
                    let mut guard = out.readwrite();
                    let target = guard.as_array_mut();
                    let slices = &self.inner;
                    py.detach(|| slices.write_into(index, target)).py()?;
                }
                out
            }
        };
        let output = self.inner.output_side();
        let input = self.inner.input_side();
        let info = match &self.pineappl {
            Some((class, basis, conv)) => class.bind(py).call1((
                info.fac0,
                input.pids.clone(),
                input.xgrid.clone(),
                info.fac1,
                output.pids.clone(),
                output.xgrid.clone(),
                basis.bind(py),
                conv.bind(py),
            ))?,
            None => Bound::new(
                py,
                SliceInfo {
                    index,
                    point: (info.point.mu2, info.point.nf),
                    fac0: info.fac0,
                    pids0: input.pids.clone(),
                    x0: input.xgrid.clone(),
                    fac1: info.fac1,
                    pids1: output.pids.clone(),
                    x1: output.xgrid.clone(),
                    pid_basis: self.pid_basis.to_string(),
                    polarized: self.polarized,
                    time_like: self.time_like,
                },
            )?
            .into_any(),
        };
        Ok(Some((info, array.into_any())))
    }

    /// The evolution points served, ``(mu2, nf)``, in order.
    #[getter]
    fn points<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, pyo3::types::PyTuple>>> {
        self.inner
            .points()
            .iter()
            .map(|p| point_tuple(py, *p))
            .collect()
    }
}

/// A store's final operators as slices for pineappl's Python ``Grid.evolve``: an iterator of
/// ``(info, operator)``, one per scale in ascending mu2, where ``info`` is
/// ``pineappl.evolution.OperatorSliceInfo`` when pineappl is installed (``pineappl=None``, the
/// default, uses it if it can be imported; ``True`` requires it; ``False`` gives libeko's
/// ``SliceInfo``, which has the same fields) and ``operator`` a read-only array over the mapped
/// file (no copy), or the transformed operator when transform options are given.
///
/// ``scales``: only these mu2 (those the grid needs: ``grid.evolve_info(order_mask).fac1``
/// times xif²), each of which the store must hold; a mu2 held with two nf must be chosen in
/// ``nf_at`` (``[(mu2, nf), ...]``). The transform options are those of :func:`reshape`: for
/// pineko's path, ``xgrid_out=evolve_info.x1, basis_in="evol"``.
#[pyfunction]
#[pyo3(signature = (store, *, scales = None, nf_at = None, xgrid_out = None, xgrid_in = None, basis_out = None, basis_in = None, interpolation = None, threads = None, pineappl = None))]
#[allow(clippy::too_many_arguments)]
pub fn slices(
    py: Python<'_>,
    store: StoreArg,
    scales: Option<Vec<f64>>,
    nf_at: Option<&Bound<'_, PyAny>>,
    xgrid_out: Option<&Bound<'_, PyAny>>,
    xgrid_in: Option<&Bound<'_, PyAny>>,
    basis_out: Option<&str>,
    basis_in: Option<&str>,
    interpolation: Option<(u32, bool)>,
    threads: Option<usize>,
    pineappl: Option<bool>,
) -> PyResult<Slices> {
    let core = store.open()?;
    let spec = spec_of(xgrid_out, xgrid_in, basis_out, basis_in, interpolation)?;
    let transform = if spec.is_empty() {
        None
    } else {
        Some(
            eko::transform::Transform::new(core.metadata(), &spec)
                .py()?
                .with_threads(self::threads(threads)?),
        )
    };
    let selection = SliceSelection {
        scales,
        nf_at: nf_at.map(points_of).transpose()?.unwrap_or_default(),
    };
    let inner = CoreSlices::new(&core, &selection, transform).py()?;
    let (polarized, time_like) = core.metadata().convolution();
    let pid_basis = match inner.input_side().basis() {
        Basis::Evol => "Evol",
        Basis::Flavor => "Pdg",
        _ => "Custom",
    };
    let module = match pineappl {
        Some(false) => None,
        Some(true) => Some(py.import("pineappl")?),
        None => py.import("pineappl").ok(),
    };
    let pineappl = match module {
        None => None,
        Some(_) => {
            if pid_basis == "Custom" {
                return Err(invalid(format!(
                    "the input side's pids {:?} are neither eko's flavour basis nor the \
                     evolution basis: pineappl knows only PidBasis.Pdg and PidBasis.Evol",
                    inner.input_side().pids
                )));
            }
            let class = py
                .import("pineappl.evolution")?
                .getattr("OperatorSliceInfo")?;
            let basis = py
                .import("pineappl.pids")?
                .getattr("PidBasis")?
                .getattr(pid_basis)?;
            let conv = py
                .import("pineappl.convolutions")?
                .getattr("ConvType")?
                .call1((polarized, time_like))?;
            Some((class.unbind(), basis.unbind(), conv.unbind()))
        }
    };
    Ok(Slices {
        inner,
        next: 0,
        pineappl,
        polarized,
        time_like,
        pid_basis,
    })
}
