//! Python values to libeko's and back: evolution points, arrays, metadata.

use eko::store::{EvolutionPoint, Interpolation, MatchingScales, Metadata};
use numpy::{PyArray4, PyArrayMethods, PyReadonlyArray4, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

use crate::errors::{IntoPy, invalid};
use crate::store::describe;

/// A validated evolution point from Python numbers.
pub fn point(mu2: f64, nf: i64) -> PyResult<EvolutionPoint> {
    let nf = u8::try_from(nf).map_err(|_| {
        invalid(format!(
            "invalid evolution point (mu2={mu2}, nf={nf}): nf is not in 0..=6"
        ))
    })?;
    EvolutionPoint::new(mu2, nf).py()
}

/// The evolution point of a Python key: a pair `(mu2, nf)` (a tuple, list, or eko's `EPoint`).
pub fn point_of(key: &Bound<'_, PyAny>) -> PyResult<EvolutionPoint> {
    let (mu2, nf) = pair_of(key)?;
    point(mu2, nf)
}

/// The `(mu2, nf)` numbers of a Python key (a tuple, list, or eko's `EPoint`), unchecked.
pub fn pair_of(key: &Bound<'_, PyAny>) -> PyResult<(f64, i64)> {
    let pair = match key.cast::<pyo3::types::PyList>() {
        Ok(list) => list.to_tuple().into_any(),
        Err(_) => key.clone(),
    };
    pair.extract().map_err(|_| {
        invalid(format!(
            "an evolution point is a pair (mu2, nf) of a float and an int, not {}",
            describe(key)
        ))
    })
}

/// `(mu2, nf)` as a Python tuple of a float and an int (eko's `EPoint`).
pub fn point_tuple(py: Python<'_>, point: EvolutionPoint) -> PyResult<Bound<'_, PyTuple>> {
    PyTuple::new(
        py,
        [
            point.mu2.into_pyobject(py)?.into_any(),
            point.nf.into_pyobject(py)?.into_any(),
        ],
    )
}

/// Points from a Python iterable of `(mu2, nf)` pairs.
pub fn points_of(list: &Bound<'_, PyAny>) -> PyResult<Vec<EvolutionPoint>> {
    list.try_iter()
        .map_err(|_| {
            invalid(format!(
                "points are an iterable of (mu2, nf) pairs, not {}",
                describe(list)
            ))
        })?
        .map(|item| point_of(&item?))
        .collect()
}

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// JSON text as plain Python data (`json.loads`).
pub fn json_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let loads = JSON_LOADS.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("json")?.getattr("loads")?.unbind())
    })?;
    loads.bind(py).call1((text,))
}

/// A serializable report as plain Python data.
pub fn report<'py>(py: Python<'py>, report: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(report)
        .map_err(|e| invalid(format!("report cannot be converted: {e}")))?;
    json_to_py(py, &text)
}

static REQUIRE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `numpy.require(value, dtype=float64, requirements="A")`: any array-like, converted once to
/// an aligned array of native float64 (no copy when it is one already).
pub fn float_array<'py>(value: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let py = value.py();
    let require = REQUIRE.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("numpy")?.getattr("require")?.unbind())
    })?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", "float64")?;
    kwargs.set_item("requirements", "A")?;
    require.bind(py).call((value,), Some(&kwargs)).map_err(|e| {
        invalid(format!(
            "{name} cannot be read as an array of float64: {} ({e})",
            describe(value)
        ))
    })
}

/// A rank-4 float64 array from any array-like (`name` names it in errors).
pub fn read_array4<'py>(
    value: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<PyReadonlyArray4<'py, f64>> {
    let array = float_array(value, name)?;
    let array = array
        .cast_into::<numpy::PyUntypedArray>()
        .map_err(|_| invalid(format!("{name} is not an array")))?;
    if array.ndim() != 4 {
        return Err(invalid(format!(
            "{name} has {} dimensions (shape {:?}); an operator has 4: (pid_out, x_out, pid_in, x_in)",
            array.ndim(),
            array.shape()
        )));
    }
    let array = array
        .cast_into::<PyArray4<f64>>()
        .map_err(|_| invalid(format!("{name} is not a float64 array")))?;
    array
        .try_readonly()
        .map_err(|e| invalid(format!("{name} cannot be borrowed: {e}")))
}

/// Metadata for a new store from `Store.create`'s arguments.
pub fn metadata_of(
    xgrid: &Bound<'_, PyAny>,
    origin: &Bound<'_, PyAny>,
    pids: Option<Vec<i32>>,
    matching: Option<&Bound<'_, PyAny>>,
    interpolation: Option<(u32, bool)>,
    cards: (Option<&Bound<'_, PyAny>>, Option<&Bound<'_, PyAny>>),
) -> PyResult<Metadata> {
    let xgrid: Vec<f64> = xgrid
        .extract()
        .or_else(|_| {
            float_array(xgrid, "xgrid")?
                .call_method0("tolist")?
                .extract()
        })
        .map_err(|_| {
            invalid(format!(
                "xgrid is a sequence of floats, not {}",
                describe(xgrid)
            ))
        })?;
    let origin = point_of(origin)?;
    let pids = pids.unwrap_or_else(|| eko::store::FLAVOR_BASIS.to_vec());
    let mut scales = MatchingScales::default();
    if let Some(m) = matching {
        let m = m.cast::<PyDict>().map_err(|_| {
            invalid(format!(
                "matching is a dict {{'charm': mu2, 'bottom': mu2, 'top': mu2}}, not {}",
                describe(m)
            ))
        })?;
        for (key, value) in m.iter() {
            let name: String = key.extract()?;
            let mu2: Option<f64> = value.extract().map_err(|_| {
                invalid(format!(
                    "matching['{name}'] is a mu2 (float) or None, not {}",
                    describe(&value)
                ))
            })?;
            match name.as_str() {
                "charm" => scales.charm = mu2,
                "bottom" => scales.bottom = mu2,
                "top" => scales.top = mu2,
                other => {
                    return Err(invalid(format!(
                        "matching has '{other}'; the matching scales are 'charm', 'bottom' and 'top'"
                    )));
                }
            }
        }
    }
    let mut metadata = Metadata::new(origin, xgrid, pids, scales);
    if let Some((degree, log)) = interpolation {
        metadata.interpolation = Some(Interpolation {
            polynomial_degree: degree,
            log,
        });
    }
    metadata.theory = card(cards.0, "theory_card")?;
    metadata.operator = card(cards.1, "operator_card")?;
    // A bad grid is the caller's argument here, not a store's damaged metadata.
    metadata
        .validate(&eko::Location::Buffer("the grid".into()))
        .map_err(|e| invalid(e.to_string()))?;
    Ok(metadata)
}

static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A card given as a dict (eko's `raw` form, or a `libeko.Card`) as JSON for the metadata: the
/// form `export` gives eko back (non-finite floats as eko's YAML spells them, `.nan`, `.inf`).
fn card(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<serde_json::Value> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(serde_json::Value::Null);
    };
    let py = value.py();
    if value.cast::<PyDict>().is_err() {
        return Err(invalid(format!(
            "{name} is a dict (eko's raw card, as in its theory.yaml/operator.yaml), not {}",
            describe(value)
        )));
    }
    let dumps = JSON_DUMPS.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            py.import("libeko._operator")?
                .getattr("card_json")?
                .unbind(),
        )
    })?;
    let text: String = dumps.bind(py).call1((value,))?.extract()?;
    serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{name} cannot be stored as JSON: {e}")))
}
