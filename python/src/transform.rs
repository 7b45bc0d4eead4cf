//! Transforms: operators reinterpolated onto other x grids and rotated to another flavour basis
//! (`libeko.Transform`, `libeko.reshape`), with the options of `eko reshape`.

use std::path::PathBuf;

use eko::store::{Basis, Interpolation, Side, Store as CoreStore};
use eko::transform::{Rotation, SideChange, Transform as CoreTransform, TransformSpec};
use numpy::{PyArray4, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::convert::{float_array, read_array4};
use crate::errors::{IntoPy, invalid};
use crate::operations::{StoreArg, threads};
use crate::progress::Progress;
use crate::store::{Store, describe};

fn xgrid(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<Vec<f64>>> {
    value
        .filter(|v| !v.is_none())
        .map(|v| {
            float_array(v, name)?
                .call_method0("ravel")?
                .call_method0("tolist")?
                .extract()
                .map_err(|_| {
                    invalid(format!(
                        "{name} is a sequence of x values, not {}",
                        describe(v)
                    ))
                })
        })
        .transpose()
}

fn basis(value: Option<&str>, name: &str) -> PyResult<Option<Rotation>> {
    value
        .map(|b| match b {
            "evol" => Ok(Rotation::To(Basis::Evol)),
            "flavor" | "flavour" => Ok(Rotation::To(Basis::Flavor)),
            other => Err(invalid(format!(
                "{name} is \"evol\" (the evolution basis 22, 100, 21, 200, ...) or \"flavor\" \
                 (eko's flavour basis 22, -6..-1, 21, 1..6), not {other:?}"
            ))),
        })
        .transpose()
}

/// The transform the keyword arguments ask for: new x grids (array-likes), bases (`"evol"`,
/// `"flavor"`) and the interpolation `(degree, log)`, each `None` when not given.
pub fn spec_of(
    xgrid_out: Option<&Bound<'_, PyAny>>,
    xgrid_in: Option<&Bound<'_, PyAny>>,
    basis_out: Option<&str>,
    basis_in: Option<&str>,
    interpolation: Option<(u32, bool)>,
) -> PyResult<TransformSpec> {
    Ok(TransformSpec {
        output: SideChange {
            xgrid: xgrid(xgrid_out, "xgrid_out")?,
            rotation: basis(basis_out, "basis_out")?,
        },
        input: SideChange {
            xgrid: xgrid(xgrid_in, "xgrid_in")?,
            rotation: basis(basis_in, "basis_in")?,
        },
        interpolation: interpolation.map(|(degree, log)| Interpolation {
            polynomial_degree: degree,
            log,
        }),
    })
}

/// A side as `(pids, xgrid)` lists.
fn side(side: &Side) -> (Vec<i32>, Vec<f64>) {
    (side.pids.clone(), side.xgrid.clone())
}

/// A transform of a store's operators: ``O'[c,i,d,l] = sum P[c,a] R[i,j] O[a,j,b,k] S[k,l]
/// Q[b,d]``, with eko's interpolation (piecewise Lagrange of the store's degree, in ln x or x)
/// computed exactly and eko's evolution basis; eko's ``xgrid_reshape`` and ``to_evol``.
///
/// ``Transform(store, xgrid_out=None, xgrid_in=None, basis_out=None, basis_in=None,
/// interpolation=None)``: new x grids for the output (``x_out``, eko's target) and input side,
/// bases ``"evol"`` or ``"flavor"``, and ``(degree, log)`` when the store records no
/// interpolation. ``transform(operator)`` (or ``.apply``) returns the transformed array.
#[pyclass(frozen, module = "libeko._libeko", name = "Transform")]
pub struct Transform {
    inner: CoreTransform,
}

#[pymethods]
impl Transform {
    #[new]
    #[pyo3(signature = (store, *, xgrid_out = None, xgrid_in = None, basis_out = None, basis_in = None, interpolation = None, threads = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        store: StoreArg,
        xgrid_out: Option<&Bound<'_, PyAny>>,
        xgrid_in: Option<&Bound<'_, PyAny>>,
        basis_out: Option<&str>,
        basis_in: Option<&str>,
        interpolation: Option<(u32, bool)>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let spec = spec_of(xgrid_out, xgrid_in, basis_out, basis_in, interpolation)?;
        let metadata = match &store {
            StoreArg::Open(s) => s.get().read().metadata().clone(),
            StoreArg::Path(p) => CoreStore::open(p).py()?.metadata().clone(),
        };
        Ok(Transform {
            inner: CoreTransform::new(&metadata, &spec)
                .py()?
                .with_threads(self::threads(threads)?),
        })
    }

    /// The shape of the operators it takes, ``(n_pid_out, n_x_out, n_pid_in, n_x_in)``.
    #[getter]
    fn source_shape(&self) -> (usize, usize, usize, usize) {
        let [a, b, c, d] = self.inner.source_shape();
        (a, b, c, d)
    }

    /// The shape of the operators it makes.
    #[getter]
    fn shape(&self) -> (usize, usize, usize, usize) {
        let [a, b, c, d] = self.inner.shape();
        (a, b, c, d)
    }

    /// The new output side, ``(pids, xgrid)``.
    #[getter]
    fn output_side(&self) -> (Vec<i32>, Vec<f64>) {
        side(self.inner.output_side())
    }

    /// The new input side, ``(pids, xgrid)``.
    #[getter]
    fn input_side(&self) -> (Vec<i32>, Vec<f64>) {
        side(self.inner.input_side())
    }

    /// The transformed ``operator`` (any array-like of ``source_shape``; an error array too: it
    /// goes through the same linear map, as eko transforms errors), as a new C-order array.
    fn apply<'py>(
        &self,
        py: Python<'py>,
        operator: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray4<f64>>> {
        let operator = read_array4(operator, "operator")?;
        let source = self.inner.source_shape();
        if operator.shape() != source {
            return Err(crate::errors::incompatible(format!(
                "the operator has shape {:?}; the transform takes {source:?}",
                operator.shape()
            )));
        }
        let out = PyArray4::<f64>::zeros(py, self.inner.shape(), false);
        {
            let mut out_view = out.readwrite();
            let mut target = out_view.as_array_mut();
            let view = operator.as_array();
            py.detach(|| self.inner.apply(view, target.view_mut()))
                .py()?;
        }
        Ok(out)
    }

    fn __call__<'py>(
        &self,
        py: Python<'py>,
        operator: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray4<f64>>> {
        self.apply(py, operator)
    }

    fn __repr__(&self) -> String {
        let [a, b, c, d] = self.inner.source_shape();
        let [e, f, g, h] = self.inner.shape();
        format!("libeko.Transform(({a}, {b}, {c}, {d}) -> ({e}, {f}, {g}, {h}))")
    }
}

impl Transform {
    /// The core transform.
    pub fn core(&self) -> &CoreTransform {
        &self.inner
    }
}

/// Reinterpolates and rotates every final operator (and error) of ``store`` into a new store at
/// ``dest`` (``eko reshape``): ``xgrid_out``/``xgrid_in`` new x grids, ``basis_out``/``basis_in``
/// ``"evol"`` or ``"flavor"``, ``interpolation`` ``(degree, log)`` when the store records none.
/// One operator at a time; the new store appears complete or not at all. Returns it.
#[pyfunction]
#[pyo3(signature = (store, dest, *, xgrid_out = None, xgrid_in = None, basis_out = None, basis_in = None, interpolation = None, threads = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn reshape(
    py: Python<'_>,
    store: StoreArg,
    dest: PathBuf,
    xgrid_out: Option<&Bound<'_, PyAny>>,
    xgrid_in: Option<&Bound<'_, PyAny>>,
    basis_out: Option<&str>,
    basis_in: Option<&str>,
    interpolation: Option<(u32, bool)>,
    threads: Option<usize>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<Store> {
    let spec = spec_of(xgrid_out, xgrid_in, basis_out, basis_in, interpolation)?;
    let threads = self::threads(threads)?;
    let source = store.open()?;
    let provenance = serde_json::json!({
        "source": std::path::absolute(source.dir()).unwrap_or_else(|_| source.dir().to_path_buf()),
        "by": "libeko.reshape (Python)",
    });
    let mut reporter = Progress::from_arg(progress, "reshape")?.reporter();
    let result = py
        .detach(|| {
            eko::transform::reshape(&source, &dest, &spec, threads, provenance, |p| {
                reporter.update(p.done, p.total)
            })
        })
        .py();
    reporter.finish(result)?;
    Ok(Store::wrap(CoreStore::open(&dest).py()?))
}
