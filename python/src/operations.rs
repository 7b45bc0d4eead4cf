//! What the command line does, as functions: import, export, merge, split, combine, clean,
//! recover, verify, apply, reshape. Each takes the CLI's options as keyword arguments with its
//! defaults, releases the GIL while it works, and returns the core's report as a dict (or the
//! new `Store`).

use std::path::PathBuf;

use eko::archive::ImportOptions;
use eko::archive::export::{Compression, ExportOptions};
use eko::combine::Kernel;
use eko::store::{
    EvolutionPoint, MergeOptions, OnConflict, Partition, Store as CoreStore, Transfer, Wait,
};
use numpy::{PyArray, PyArrayMethods};
use pyo3::prelude::*;

use crate::convert::{float_array, point_tuple, points_of, report};
use crate::errors::{IntoPy, invalid};
use crate::progress::Progress;
use crate::store::{Store, describe};
use crate::transform::spec_of;

/// A store argument: a `libeko.Store` or a path.
pub enum StoreArg {
    /// An open store.
    Open(Py<Store>),
    /// A directory.
    Path(PathBuf),
}

impl<'py> FromPyObject<'_, 'py> for StoreArg {
    type Error = PyErr;

    fn extract(value: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(store) = value.cast::<Store>() {
            return Ok(StoreArg::Open(store.to_owned().unbind()));
        }
        value.extract::<PathBuf>().map(StoreArg::Path).map_err(|_| {
            invalid(format!(
                "a store is a libeko.Store or a path, not {}",
                describe(&value.to_owned())
            ))
        })
    }
}

impl StoreArg {
    /// The store's directory.
    pub fn dir(&self) -> PathBuf {
        match self {
            StoreArg::Open(s) => s.get().read().dir().to_path_buf(),
            StoreArg::Path(p) => p.clone(),
        }
    }

    /// The store, opened afresh (its file list as it is now).
    pub fn open(&self) -> PyResult<CoreStore> {
        CoreStore::open(self.dir()).py()
    }
}

fn wait(wait: bool) -> Wait {
    if wait { Wait::Block } else { Wait::NoWait }
}

/// `threads`: at least one, every core by default.
pub fn threads(threads: Option<usize>) -> PyResult<usize> {
    match threads {
        Some(0) => Err(invalid("threads must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Refreshes an open `Store` argument after a call changed its directory.
fn refresh(store: &StoreArg) -> PyResult<()> {
    if let StoreArg::Open(s) = store {
        s.get().write().refresh().py()?;
    }
    Ok(())
}

/// Imports the eko archive ``archive`` (a ``.tar`` written by eko 0.13 or later; eko 0.8 with
/// ``nf``) into a new store at ``dest`` (missing or an empty directory) and returns it.
/// Streams one operator at a time; the store appears complete or not at all.
#[pyfunction]
#[pyo3(signature = (archive, dest, *, nf = None, progress = None))]
pub fn import_eko(
    py: Python<'_>,
    archive: PathBuf,
    dest: PathBuf,
    nf: Option<u8>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<Store> {
    let mut reporter = Progress::from_arg(progress, "import")?.reporter();
    let options = ImportOptions { nf };
    let result = py
        .detach(|| {
            eko::archive::import_with(&archive, &dest, &options, |p| {
                reporter.update(p.done, p.total)
            })
        })
        .py();
    reporter.finish(result)?;
    Ok(Store::wrap(CoreStore::open(&dest).py()?))
}

/// Writes ``store`` as an eko 0.15 archive at ``out`` (what ``eko.EKO.read`` opens), every
/// final operator bit for bit; ``with_parts=True`` adds partials and thresholds so that
/// ``import_eko`` gives the store back. ``compression`` is ``"lz4"`` (eko's) or ``"none"``.
/// Returns the report.
#[pyfunction]
#[pyo3(signature = (store, out, *, with_parts = false, compression = "lz4", overwrite = false, threads = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn export<'py>(
    py: Python<'py>,
    store: StoreArg,
    out: PathBuf,
    with_parts: bool,
    compression: &str,
    overwrite: bool,
    threads: Option<usize>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let compression = match compression {
        "lz4" => Compression::Lz4,
        "none" => Compression::None,
        other => {
            return Err(invalid(format!(
                "compression is \"lz4\" or \"none\", not {other:?}"
            )));
        }
    };
    let options = ExportOptions {
        with_parts,
        compression,
        overwrite,
        threads: threads.unwrap_or(0),
    };
    let core = store.open()?;
    let mut reporter = Progress::from_arg(progress, "export")?.reporter();
    let result = py
        .detach(|| {
            eko::archive::export::export(&core, &out, &options, |p| {
                reporter.update(p.done, p.total)
            })
        })
        .py();
    let done = reporter.finish(result)?;
    report(py, &done)
}

fn transfer_of(transfer: &str) -> PyResult<Transfer> {
    match transfer {
        "link" => Ok(Transfer::Link),
        "copy" => Ok(Transfer::Copy),
        "move" => Ok(Transfer::Move),
        other => Err(invalid(format!(
            "transfer is \"link\" (hard links, copies across filesystems), \"copy\" or \"move\", not {other:?}"
        ))),
    }
}

/// Merges the stores ``sources`` into ``dest`` (created with the first source's metadata when
/// missing or empty). Identical duplicates are fine; different data for one point is refused
/// (``on_conflict="error"``) unless ``on_conflict`` is ``"keep"`` (the destination's, or the
/// earlier source's) or ``"replace"`` (the later source's). ``transfer``: ``"link"``,
/// ``"copy"`` or ``"move"``. On failure nothing changes. Returns the report.
#[pyfunction]
#[pyo3(signature = (dest, sources, *, transfer = "link", on_conflict = "error", wait = true))]
pub fn merge<'py>(
    py: Python<'py>,
    dest: StoreArg,
    sources: Vec<StoreArg>,
    transfer: &str,
    on_conflict: &str,
    wait: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let options = MergeOptions {
        transfer: transfer_of(transfer)?,
        on_conflict: match on_conflict {
            "error" => OnConflict::Error,
            "keep" => OnConflict::KeepDestination,
            "replace" => OnConflict::TakeSource,
            other => {
                return Err(invalid(format!(
                    "on_conflict is \"error\", \"keep\" or \"replace\", not {other:?}"
                )));
            }
        },
        wait: self::wait(wait),
    };
    if sources.is_empty() {
        return Err(invalid("merge needs at least one source store"));
    }
    let dest_dir = dest.dir();
    let source_dirs: Vec<PathBuf> = sources.iter().map(|s| s.dir()).collect();
    let result = py.detach(|| {
        let sources: Vec<&std::path::Path> = source_dirs.iter().map(PathBuf::as_path).collect();
        eko::store::merge(&dest_dir, &sources, options)
    });
    let done = result.py()?;
    refresh(&dest)?;
    for s in &sources {
        refresh(s)?;
    }
    report(py, &done)
}

/// Splits ``source`` into the new stores ``dests`` (missing or empty directories): by default
/// into near-equal contiguous parts in mu2 order; ``at=[mu2, ...]`` cuts at those scales
/// (N values, N+1 parts); ``points=[[(mu2, nf), ...], ...]`` gives each part's points. Every
/// part gets the metadata and the thresholds. Returns the report.
#[pyfunction]
#[pyo3(signature = (source, dests, *, at = None, points = None, transfer = "link", wait = true))]
pub fn split<'py>(
    py: Python<'py>,
    source: StoreArg,
    dests: Vec<PathBuf>,
    at: Option<Vec<f64>>,
    points: Option<Vec<Bound<'py, PyAny>>>,
    transfer: &str,
    wait: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let partition = match (at, points) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "split takes at most one of at= and points= (neither: even parts)",
            ));
        }
        (Some(at), None) => Partition::At(at),
        (None, Some(lists)) => Partition::Points(
            lists
                .iter()
                .map(points_of)
                .collect::<PyResult<Vec<Vec<EvolutionPoint>>>>()?,
        ),
        (None, None) => Partition::Even,
    };
    let transfer = transfer_of(transfer)?;
    let dir = source.dir();
    let done = py
        .detach(|| eko::store::split_by(&dir, &dests, &partition, transfer, self::wait(wait)))
        .py()?;
    refresh(&source)?;
    report(py, &done)
}

/// Combines every partial of ``store`` with its threshold operators into its final operator
/// (errors propagated as eko does). Final files appear whole, then the partial is removed; an
/// interrupted combine is finished by calling it again. Returns the report.
#[pyfunction]
#[pyo3(signature = (store, *, threads = None, wait = true, progress = None))]
pub fn combine<'py>(
    py: Python<'py>,
    store: StoreArg,
    threads: Option<usize>,
    wait: bool,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let kernel = Kernel::new(self::threads(threads)?);
    let dir = store.dir();
    let mut reporter = Progress::from_arg(progress, "combine")?.reporter();
    let result = py
        .detach(|| {
            let (mut core, _) = CoreStore::open_for_writing(&dir, self::wait(wait))?;
            eko::combine::combine(&mut core, &kernel, |p| reporter.update(p.done, p.total))
        })
        .py();
    let done = reporter.finish(result)?;
    refresh(&store)?;
    report(py, &done)
}

/// Removes ``thresholds.npz`` once every partial is combined (refused while a partial still
/// needs it, unless ``force=True``). Returns the report.
#[pyfunction]
#[pyo3(signature = (store, *, force = false, wait = true))]
pub fn clean<'py>(
    py: Python<'py>,
    store: StoreArg,
    force: bool,
    wait: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let dir = store.dir();
    let done = py
        .detach(|| {
            let (mut core, _) = CoreStore::open_for_writing(&dir, self::wait(wait))?;
            eko::combine::clean(&mut core, force)
        })
        .py()?;
    refresh(&store)?;
    report(py, &done)
}

/// Brings ``store`` back to a consistent state after an interrupted call or command: finishes
/// what had passed its commit point, undoes the rest, removes dead temporary files. Every
/// writing call does this first. Returns what was done.
#[pyfunction]
#[pyo3(signature = (store, *, wait = true))]
pub fn recover<'py>(py: Python<'py>, store: StoreArg, wait: bool) -> PyResult<Bound<'py, PyAny>> {
    let dir = store.dir();
    let done = py
        .detach(|| eko::store::recover(&dir, self::wait(wait)))
        .py()?;
    refresh(&store)?;
    report(py, &done)
}

/// Reads every file of ``store`` once and checks it against its header, the grid and the
/// checksum libeko recorded; ``record=True`` adds checksums to files written before store
/// format 3 (waiting for another writer unless ``wait=False``). Returns the report and raises
/// nothing for damaged files (the command line exits with status 1): ``report["bad"]`` counts
/// them, each listed in ``report["files"]`` with its status.
#[pyfunction]
#[pyo3(signature = (store, *, record = false, wait = true, progress = None))]
pub fn verify<'py>(
    py: Python<'py>,
    store: StoreArg,
    record: bool,
    wait: bool,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let dir = store.dir();
    let mut reporter = Progress::from_arg(progress, "verify")?.reporter();
    let result = py
        .detach(|| {
            if record {
                let (mut core, _) = CoreStore::open_for_writing(&dir, self::wait(wait))?;
                eko::store::verify::record(&mut core, |d, t| reporter.update(d, t))
            } else {
                let core = CoreStore::open(&dir)?;
                eko::store::verify::verify(&core, |d, t| reporter.update(d, t))
            }
        })
        .py();
    let done = reporter.finish(result)?;
    report(py, &done)
}

/// Evolves ``pdf`` — ``(n_pid, n_x)``, or replicas ``(n_rep, n_pid, n_x)``, any array-like —
/// with the final operators of ``store``: to every point, or to ``points`` (``(mu2, nf)``
/// pairs, put in mu2 order, each once). Returns ``(evolved, points)``: ``evolved[p, [r,] a, j]
/// = sum over b, k of O_p[a, j, b, k] pdf[[r,] b, k]``, shape ``(n_points, [n_rep,] n_pid,
/// n_x)``, and the list of ``(mu2, nf)`` in that order. With the transform options of
/// :func:`reshape` each operator is transformed first (``xgrid_in`` evolves a PDF given on
/// another x grid). One operator is mapped at a time.
#[pyfunction]
#[pyo3(signature = (store, pdf, points = None, *, threads = None, progress = None, xgrid_out = None, xgrid_in = None, basis_out = None, basis_in = None, interpolation = None))]
#[allow(clippy::too_many_arguments)]
pub fn apply<'py>(
    py: Python<'py>,
    store: StoreArg,
    pdf: &Bound<'py, PyAny>,
    points: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
    progress: Option<&Bound<'py, PyAny>>,
    xgrid_out: Option<&Bound<'py, PyAny>>,
    xgrid_in: Option<&Bound<'py, PyAny>>,
    basis_out: Option<&str>,
    basis_in: Option<&str>,
    interpolation: Option<(u32, bool)>,
) -> PyResult<(Bound<'py, PyAny>, Vec<Bound<'py, pyo3::types::PyTuple>>)> {
    let threads = self::threads(threads)?;
    let core = store.open()?;
    let wanted = points.map(points_of).transpose()?;
    let spec = spec_of(xgrid_out, xgrid_in, basis_out, basis_in, interpolation)?;
    let array = float_array(pdf, "the PDF")?
        .cast_into::<numpy::PyArrayDyn<f64>>()
        .map_err(|_| invalid("the PDF is not a float64 array"))?;
    let pdf = array.readonly().as_array().to_owned();
    let mut reporter = Progress::from_arg(progress, "apply")?.reporter();
    let result = py
        .detach(|| {
            eko::apply::apply_in_memory(&core, pdf, wanted.as_deref(), &spec, threads, |d, t| {
                reporter.update(d, t)
            })
        })
        .py();
    let (evolved, selected) = reporter.finish(result)?;
    let evolved = PyArray::from_owned_array(py, evolved).into_any();
    let points = selected
        .into_iter()
        .map(|p| point_tuple(py, p))
        .collect::<PyResult<_>>()?;
    Ok((evolved, points))
}
