//! Applying operators to parton distributions: `out[r, a, j] = Σ_{b,k} O[a, j, b, k] · pdf[r, b, k]`
//! for every replica `r`, one evolution point at a time.
//!
//! A PDF is given on the operators' input side as `(n_pid, n_x)`, or as replicas `(n_rep, n_pid,
//! n_x)`; the result for one point has the same shape on their output side (the same shape, for a
//! store that was not reshaped). A [`Transform`] may be applied to each operator on the way, so a
//! PDF on another x grid or basis is evolved directly. [`apply_operator`] evolves with one operator
//! (a mapped store file or any array); [`apply_store`] and [`apply_to_file`] walk the final
//! operators of a store, mapping one file at a time, so memory holds one operator's pages and the
//! output, whatever the number of points.
//!
//! [`apply_to_file`] writes `(n_points, [n_rep,] n_pid, n_x)` as an `.npy` file, and beside it
//! `{stem}.points.npy`: a `(n_points, 2)` `f64` array whose rows are `[mu2, nf]`, in the order
//! of the output's first axis. In NumPy: `pdf = np.load("out.npy")`,
//! `mu2, nf = np.load("out.points.npy").T`.
//!
//! The product is a dense matrix-vector (one PDF) or matrix-matrix (replicas) product of the
//! flattened `N x N` operator, `N = n_pid · n_x`, read once in its memory order (C or Fortran)
//! without copying it; rows are shared among threads. One PDF is bound by memory bandwidth: the
//! whole operator is read for `2 N²` flops.

use std::path::{Path, PathBuf};

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array3, Array4, ArrayView3, ArrayView4, ArrayViewMut3, Axis};
use serde::Serialize;

use crate::error::{Error, Location, Result};
use crate::npy::{NpyFileMut, Order, WriteOptions, write_npy};
use crate::store::{EvolutionPoint, FileKind, Store};
use crate::transform::Transform;

/// Checks `pdf` (`(n_rep, n_pid_in, n_x_in)`) and `out` (`(n_rep, n_pid_out, n_x_out)`) fit an
/// operator of `shape`.
fn check_shapes(shape: [usize; 4], pdf: &[usize], out: &[usize]) -> Result<()> {
    let [np, nx, np_in, nx_in] = shape;
    if pdf[1..] != [np_in, nx_in] {
        return Err(Error::InvalidArgument {
            reason: format!(
                "the PDF has {} pids and {} x values per replica; the operator needs ({np_in}, \
                 {nx_in})",
                pdf[1], pdf[2]
            ),
        });
    }
    let want = [pdf[0], np, nx];
    if out != want {
        return Err(Error::InvalidArgument {
            reason: format!(
                "the output has shape {out:?}; it must be {want:?} (replicas, the operator's \
                 output pids and x values)"
            ),
        });
    }
    Ok(())
}

/// Evolves `pdf` (`(n_rep, n_pid_in, n_x_in)`) with `operator` (`[pid_out, x_out, pid_in,
/// x_in]`) into `out` (`(n_rep, n_pid_out, n_x_out)`: the PDF's shape for a square operator), on
/// `threads` threads (at least one).
///
/// C-order and Fortran-order operators are read in place; any other layout is first copied.
/// Values are those of a plain product (no structure is skipped: `0 · inf` gives NaN).
pub fn apply_operator(
    operator: ArrayView4<'_, f64>,
    pdf: ArrayView3<'_, f64>,
    mut out: ArrayViewMut3<'_, f64>,
    threads: usize,
) -> Result<()> {
    let d = operator.dim();
    let shape = [d.0, d.1, d.2, d.3];
    check_shapes(shape, pdf.shape(), out.shape())?;
    let (np, nx, np_in, nx_in) = d;
    let (n, n_in) = (np * nx, np_in * nx_in);
    let n_rep = pdf.shape()[0];
    if n == 0 || n_rep == 0 {
        return Ok(());
    }
    if n_in == 0 {
        out.fill(0.0);
        return Ok(());
    }
    // The operator as an N x N_in matrix over flattened indices. C order: rows (a, j) ->
    // a·nx + j, columns (b, k) -> b·nx_in + k. Fortran order: the same memory is column-major
    // over x-major indices: rows (j, a) -> j·np + a, columns (k, b) -> k·np_in + b.
    let copied;
    let (data, x_major) = if let Some(s) = operator.as_slice() {
        (s, false)
    } else if let Some(s) = operator.as_slice_memory_order()
        && operator.t().is_standard_layout()
    {
        (s, true)
    } else {
        copied = operator.as_standard_layout().into_owned();
        (copied.as_slice().expect("standard layout"), false)
    };
    let matrix = if x_major {
        MatRef::from_column_major_slice(data, n, n_in)
    } else {
        MatRef::from_row_major_slice(data, n, n_in)
    };
    // Right-hand side (N_in x n_rep) and result (N x n_rep), column-major, in the operator's
    // index order.
    let flat_in = |b: usize, k: usize| {
        if x_major {
            k * np_in + b
        } else {
            b * nx_in + k
        }
    };
    let flat = |a: usize, j: usize| if x_major { j * np + a } else { a * nx + j };
    let mut rhs = vec![0.0; n_in * n_rep];
    for ((r, b, k), v) in pdf.indexed_iter() {
        rhs[r * n_in + flat_in(b, k)] = *v;
    }
    let rhs = MatRef::from_column_major_slice(&rhs, n_in, n_rep);
    let mut result = vec![0.0; n * n_rep];
    let dst = MatMut::from_column_major_slice_mut(&mut result, n, n_rep);
    multiply_rows(matrix, rhs, dst, threads.max(1));
    for ((r, a, j), v) in out.indexed_iter_mut() {
        *v = result[r * n + flat(a, j)];
    }
    Ok(())
}

/// `dst = matrix · rhs`, the rows of `matrix` shared among `threads` threads.
fn multiply_rows(
    matrix: MatRef<'_, f64>,
    rhs: MatRef<'_, f64>,
    dst: MatMut<'_, f64>,
    threads: usize,
) {
    let rows = matrix.nrows();
    // Below a few hundred rows per thread, threads cost more than they save.
    let threads = threads.min(rows / 256).max(1);
    if threads == 1 {
        faer::linalg::matmul::matmul(dst, Accum::Replace, matrix, rhs, 1.0, Par::Seq);
        return;
    }
    let chunk = rows.div_ceil(threads);
    std::thread::scope(|s| {
        let mut rest = dst;
        let mut start = 0;
        while start < rows {
            let len = chunk.min(rows - start);
            let (mine, later) = rest.split_at_row_mut(len);
            rest = later;
            let m = matrix.subrows(start, len);
            s.spawn(move || {
                faer::linalg::matmul::matmul(mine, Accum::Replace, m, rhs, 1.0, Par::Seq);
            });
            start += len;
        }
    });
}

/// A PDF read from an `.npy` file: `(n_pid, n_x)` or `(n_rep, n_pid, n_x)`, as replicas.
#[derive(Debug, Clone)]
pub struct Pdf {
    /// The values as `(n_rep, n_pid, n_x)`.
    pub replicas: Array3<f64>,
    /// Whether the input had a replica axis (the output keeps it, or leaves it out).
    pub has_replica_axis: bool,
}

impl Pdf {
    /// Reads a PDF from an `f64` `.npy` file of shape `(n_pid, n_x)` or `(n_rep, n_pid, n_x)`.
    pub fn read(path: impl AsRef<Path>) -> Result<Pdf> {
        let path = path.as_ref();
        let file = crate::npy::NpyFile::open(path)?;
        let array = file.read::<f64>()?;
        Pdf::from_array(array, &Location::file(path))
    }

    /// A PDF from an array of rank 2 or 3; `location` names it in errors.
    pub fn from_array(array: ndarray::ArrayD<f64>, location: &Location) -> Result<Pdf> {
        let shape = array.shape().to_vec();
        let (replicas, has_replica_axis) = match shape.len() {
            2 => (array.insert_axis(Axis(0)), false),
            3 => (array, true),
            _ => {
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "{location}: a PDF has shape (n_pid, n_x) or (n_rep, n_pid, n_x); this one \
                         has shape {shape:?}"
                    ),
                });
            }
        };
        let replicas = replicas
            .into_dimensionality()
            .expect("rank checked")
            .as_standard_layout()
            .into_owned();
        Ok(Pdf {
            replicas,
            has_replica_axis,
        })
    }

    /// Checks the PDF is on the operators' input side: `n_pid` pids and `n_x` x values. `side`
    /// names that side in the error ("the store's grid").
    pub fn check_grid(
        &self,
        n_pid: usize,
        n_x: usize,
        side: &str,
        location: &Location,
    ) -> Result<()> {
        let [_, p, x] = self.replicas.shape() else {
            unreachable!("rank 3")
        };
        if (*p, *x) != (n_pid, n_x) {
            let shape = if self.has_replica_axis {
                format!("{:?}", self.replicas.shape())
            } else {
                format!("{:?}", &self.replicas.shape()[1..])
            };
            return Err(Error::InvalidArgument {
                reason: format!(
                    "{location}: the PDF has shape {shape}, but {side} needs \
                     ({n_pid}, {n_x}) or (n_rep, {n_pid}, {n_x}) (n_pid = {n_pid} pids, n_x = \
                     {n_x} x values)"
                ),
            });
        }
        Ok(())
    }
}

/// The points to evolve to: the given ones, each of which must have a final operator in the
/// store, or every point with a final operator. Fails when a store point has only a partial (it
/// needs `combine` first) or when nothing is left.
pub fn select_points(
    store: &Store,
    wanted: Option<&[EvolutionPoint]>,
) -> Result<Vec<EvolutionPoint>> {
    let not_final = |p: &EvolutionPoint| !store.files_of(p).has(FileKind::Operator);
    let points: Vec<EvolutionPoint> = match wanted {
        Some([]) => {
            return Err(Error::InvalidArgument {
                reason: format!(
                    "no points were asked for (the store {} has {} final operators; leave the \
                     selection out to take them all)",
                    store.dir().display(),
                    store.points_with(FileKind::Operator).count()
                ),
            });
        }
        Some(list) => {
            let mut sorted = list.to_vec();
            sorted.sort();
            sorted.dedup();
            if let Some(p) = sorted
                .iter()
                .find(|p| store.files_of(p).kinds().next().is_none())
            {
                return Err(Error::InvalidArgument {
                    reason: format!("{p} is not a point of the store {}", store.dir().display()),
                });
            }
            sorted
        }
        None => store.points().map(|(p, _)| p).collect(),
    };
    let pending: Vec<String> = points
        .iter()
        .filter(|p| not_final(p))
        .map(|p| p.to_string())
        .collect();
    if !pending.is_empty() {
        return Err(Error::InvalidArgument {
            reason: format!(
                "{} of {} {} no final operator yet, only a partial: {} (run `eko combine` first, or libeko.combine)",
                if pending.len() == 1 {
                    "1 point".to_string()
                } else {
                    format!("{} points", pending.len())
                },
                store.dir().display(),
                if pending.len() == 1 { "has" } else { "have" },
                pending.join(", ")
            ),
        });
    }
    if points.is_empty() {
        return Err(Error::InvalidArgument {
            reason: format!(
                "the store {} has no operator to apply",
                store.dir().display()
            ),
        });
    }
    Ok(points)
}

/// The operators a store applies: its final operators, each transformed first when a
/// [`Transform`] is given (into one reused buffer).
struct Operators<'a> {
    store: &'a Store,
    transform: Option<&'a Transform>,
    buffer: Option<Array4<f64>>,
    /// `(n_pid_out, n_x_out, n_pid_in, n_x_in)` of what is applied.
    shape: [usize; 4],
}

impl<'a> Operators<'a> {
    fn new(store: &'a Store, transform: Option<&'a Transform>) -> Result<Self> {
        let stored = store.metadata().operator_shape();
        let shape = match transform {
            Some(t) if t.source_shape() != stored => {
                return Err(Error::Transform {
                    reason: format!(
                        "the transform takes operators of shape {:?}; the store {} has {stored:?}",
                        t.source_shape(),
                        store.dir().display()
                    ),
                });
            }
            Some(t) => {
                t.check_source(store.metadata(), store.dir())?;
                t.shape()
            }
            None => stored,
        };
        Ok(Operators {
            store,
            transform,
            buffer: transform.map(|t| Array4::zeros(t.shape())),
            shape,
        })
    }

    /// What the PDF must be on, for messages.
    fn input_side_name(&self) -> String {
        input_side_name(self.store, self.transform.is_some())
    }

    /// Evolves `pdf` to `point` into `out`; returns the bytes of operator read.
    fn apply(
        &mut self,
        point: &EvolutionPoint,
        pdf: ArrayView3<'_, f64>,
        out: ArrayViewMut3<'_, f64>,
        threads: usize,
    ) -> Result<u64> {
        let file = self.store.operator(point)?;
        let bytes = file.npy().data_bytes().len() as u64;
        match (self.transform, &mut self.buffer) {
            (Some(t), Some(buffer)) => {
                t.apply(file.view(), buffer.view_mut())?;
                apply_operator(buffer.view(), pdf, out, threads)?;
            }
            _ => apply_operator(file.view(), pdf, out, threads)?,
        }
        Ok(bytes)
    }
}

/// What a PDF applied with `store`'s operators (transformed or not) must be on, for messages:
/// "the store's grid", its input side when reshaped, or the transform's input side.
pub fn input_side_name(store: &Store, transformed: bool) -> String {
    if transformed {
        "the transformed operators' input side (after the input-side transform: --xgrid-in/--basis-in, Python xgrid_in=/basis_in=)".into()
    } else if store.metadata().is_reshaped() {
        "the reshaped store's input side".into()
    } else {
        "the store's grid".into()
    }
}

/// Evolves `pdf` (`(n_rep, n_pid_in, n_x_in)`) to each of `points` (see [`select_points`]), in
/// memory: `(n_points, n_rep, n_pid_out, n_x_out)`. With a `transform` (made for this store by
/// [`Transform::new`]), each operator is transformed first, so the PDF is on the transform's
/// input side and the result on its output side: a PDF on another x grid is evolved directly.
/// `progress` is called after each point with the count done.
pub fn apply_store(
    store: &Store,
    points: &[EvolutionPoint],
    pdf: ArrayView3<'_, f64>,
    threads: usize,
    transform: Option<&Transform>,
    mut progress: impl FnMut(usize),
) -> Result<Array4<f64>> {
    let mut operators = Operators::new(store, transform)?;
    let [np, nx, ..] = operators.shape;
    let mut out = Array4::zeros((points.len(), pdf.shape()[0], np, nx));
    for (i, (point, mut dst)) in points.iter().zip(out.outer_iter_mut()).enumerate() {
        operators.apply(point, pdf, dst.view_mut(), threads)?;
        progress(i + 1);
    }
    Ok(out)
}

/// Evolves `pdf` (`(n_rep, n_pid_in, n_x_in)`) to one `point` into `out` (`(n_rep, n_pid_out,
/// n_x_out)`), as [`apply_store`] does for each of its points: the point's final operator,
/// transformed first into a scratch buffer when a `transform` (made for this store) is given.
/// `out` is written only on success.
pub fn apply_point(
    store: &Store,
    point: &EvolutionPoint,
    pdf: ArrayView3<'_, f64>,
    out: ArrayViewMut3<'_, f64>,
    threads: usize,
    transform: Option<&Transform>,
) -> Result<()> {
    Operators::new(store, transform)?.apply(point, pdf, out, threads)?;
    Ok(())
}

/// Evolves the PDF `pdf` — `(n_pid, n_x)`, or replicas `(n_rep, n_pid, n_x)` — to the points
/// `wanted` (see [`select_points`]; `None`: every point), in memory, with each operator
/// transformed first by `spec` when it asks anything: the whole of `eko apply` but the files, for
/// the faces that return arrays. Returns the evolved PDFs, `(n_points, [n_rep,] n_pid_out,
/// n_x_out)` (the replica axis only when `pdf` has one), and the points in that order.
/// `progress` is called after each point with the count done and the total.
pub fn apply_in_memory(
    store: &Store,
    pdf: ndarray::ArrayD<f64>,
    wanted: Option<&[EvolutionPoint]>,
    spec: &crate::transform::TransformSpec,
    threads: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<(ndarray::ArrayD<f64>, Vec<EvolutionPoint>)> {
    let points = select_points(store, wanted)?;
    let transform = if spec.is_empty() {
        None
    } else {
        Some(Transform::new(store.metadata(), spec)?.with_threads(threads))
    };
    let location = Location::Buffer("the PDF".into());
    let pdf = Pdf::from_array(pdf, &location)?;
    let [_, _, n_pid_in, n_x_in] = transform
        .as_ref()
        .map_or_else(|| store.metadata().operator_shape(), Transform::shape);
    pdf.check_grid(
        n_pid_in,
        n_x_in,
        &input_side_name(store, transform.is_some()),
        &location,
    )?;
    let total = points.len();
    let evolved = apply_store(
        store,
        &points,
        pdf.replicas.view(),
        threads,
        transform.as_ref(),
        |done| progress(done, total),
    )?;
    let evolved = if pdf.has_replica_axis {
        evolved.into_dyn()
    } else {
        evolved.index_axis_move(Axis(1), 0).into_dyn()
    };
    Ok((evolved, points))
}

/// What [`apply_to_file`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// The evolved PDFs.
    pub output: PathBuf,
    /// The `[mu2, nf]` table beside it.
    pub points_file: PathBuf,
    /// The output's shape.
    pub shape: Vec<usize>,
    /// The points, in output order.
    pub points: Vec<EvolutionPoint>,
    /// Bytes of operators read.
    pub operator_bytes: u64,
}

/// The `[mu2, nf]` table's path beside an output `.npy`: `out.npy` -> `out.points.npy`.
pub fn points_path(output: &Path) -> PathBuf {
    let stem = output
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".npy").to_string())
        .unwrap_or_default();
    output.with_file_name(format!("{stem}.points.npy"))
}

/// Evolves `pdf` to each of `points` and writes `(n_points, [n_rep,] n_pid_out, n_x_out)` to
/// `output` (the replica axis only when `pdf.has_replica_axis`) and the `[mu2, nf]` table to
/// [`points_path`]. With a `transform`, each operator is transformed first (see
/// [`apply_store`]). Streams: one operator mapped at a time, each result written into the mapped
/// output. Both files appear complete (written under temporary names, then renamed: the table
/// first, so that an output never lacks its table) or not at all. A killed run's temporary files
/// are removed by the next run writing the same output. `progress` is called after each point
/// with the count done.
pub fn apply_to_file(
    store: &Store,
    points: &[EvolutionPoint],
    pdf: &Pdf,
    output: &Path,
    threads: usize,
    transform: Option<&Transform>,
    mut progress: impl FnMut(usize),
) -> Result<ApplyReport> {
    let mut operators = Operators::new(store, transform)?;
    let [np, nx, np_in, nx_in] = operators.shape;
    pdf.check_grid(
        np_in,
        nx_in,
        &operators.input_side_name(),
        &Location::Buffer("the PDF".into()),
    )?;
    let r = pdf.replicas.shape();
    let mut shape = vec![points.len()];
    if pdf.has_replica_axis {
        shape.push(r[0]);
    }
    shape.extend_from_slice(&[np, nx]);
    crate::store::check_outside_store(output)?;
    // What a killed earlier run left while writing the same files.
    crate::atomic::remove_dead_for(output)?;
    crate::atomic::remove_dead_for(&points_path(output))?;
    let mut file = NpyFileMut::<f64>::create(output, &shape, Order::C)?;
    let mut operator_bytes = 0u64;
    {
        let mut all = file.view_mut();
        let per_point = r[0] * np * nx;
        let flat = all
            .as_slice_mut()
            .expect("a new C-order file is contiguous");
        for (i, point) in points.iter().enumerate() {
            let dst = &mut flat[i * per_point..(i + 1) * per_point];
            let dst = ArrayViewMut3::from_shape((r[0], np, nx), dst).expect("sized");
            operator_bytes += operators.apply(point, pdf.replicas.view(), dst, threads)?;
            progress(i + 1);
        }
    }
    let table = ndarray::Array2::from_shape_fn((points.len(), 2), |(i, c)| {
        if c == 0 {
            points[i].mu2
        } else {
            f64::from(points[i].nf)
        }
    });
    let points_file = points_path(output);
    write_npy(&points_file, &table, WriteOptions::default())?;
    if let Err(e) = file.commit() {
        let _ = std::fs::remove_file(&points_file);
        return Err(e);
    }
    Ok(ApplyReport {
        output: output.to_path_buf(),
        points_file,
        shape,
        points: points.to_vec(),
        operator_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, ShapeBuilder};

    fn operator(np: usize, nx: usize) -> Array4<f64> {
        Array::from_shape_fn((np, nx, np, nx), |(a, j, b, k)| {
            ((a * 7 + j * 3 + b * 5 + k) % 11) as f64 - 5.0
                + if a == b && j == k { 10.0 } else { 0.0 }
        })
    }

    fn reference(op: &Array4<f64>, pdf: &Array3<f64>) -> Array3<f64> {
        let (np, nx) = (op.shape()[0], op.shape()[1]);
        Array3::from_shape_fn(pdf.dim(), |(r, a, j)| {
            let mut s = 0.0;
            for b in 0..np {
                for k in 0..nx {
                    s += op[[a, j, b, k]] * pdf[[r, b, k]];
                }
            }
            s
        })
    }

    #[test]
    fn matches_the_definition_in_c_fortran_and_strided_layouts() {
        let (np, nx, nrep) = (3, 5, 4);
        let op = operator(np, nx);
        let pdf = Array3::from_shape_fn((nrep, np, nx), |(r, b, k)| {
            (r + 2 * b + 3 * k) as f64 * 0.25
        });
        let want = reference(&op, &pdf);
        let fortran = {
            let mut f = Array4::zeros(op.raw_dim().f());
            f.assign(&op);
            f
        };
        let mut wide = Array4::zeros((np, nx, np, 2 * nx));
        wide.slice_mut(ndarray::s![.., .., .., ..;2]).assign(&op);
        let strided = wide.slice(ndarray::s![.., .., .., ..;2]);
        let mut permuted = Array4::zeros((np, np, nx, nx));
        permuted.assign(&op.view().permuted_axes([0, 2, 1, 3]));
        let odd = permuted.view().permuted_axes([0, 2, 1, 3]);
        for (name, view) in [
            ("C", op.view()),
            ("F", fortran.view()),
            ("strided", strided),
            ("odd", odd),
        ] {
            for threads in [1, 2, 3] {
                let mut out = Array3::zeros(pdf.dim());
                apply_operator(view, pdf.view(), out.view_mut(), threads).unwrap();
                assert_eq!(out, want, "{name} layout, {threads} threads");
            }
        }
    }

    #[test]
    fn threads_split_rows_exactly() {
        let (np, nx) = (14, 40);
        let op = operator(np, nx);
        let pdf = Array3::from_shape_fn((2, np, nx), |(r, b, k)| ((r + b * k) % 7) as f64);
        let mut one = Array3::zeros(pdf.dim());
        let mut two = Array3::zeros(pdf.dim());
        apply_operator(op.view(), pdf.view(), one.view_mut(), 1).unwrap();
        apply_operator(op.view(), pdf.view(), two.view_mut(), 2).unwrap();
        assert_eq!(one, two);
        assert_eq!(one, reference(&op, &pdf));
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let op = operator(3, 5);
        let pdf = Array3::<f64>::zeros((1, 3, 4));
        let mut out = Array3::zeros((1, 3, 4));
        let e = apply_operator(op.view(), pdf.view(), out.view_mut(), 1).unwrap_err();
        assert!(e.to_string().contains("needs (3, 5)"), "{e}");
        let pdf = Array3::<f64>::zeros((1, 3, 5));
        let mut out = Array3::zeros((2, 3, 5));
        let e = apply_operator(op.view(), pdf.view(), out.view_mut(), 1).unwrap_err();
        assert!(e.to_string().contains("it must be [1, 3, 5]"), "{e}");
    }

    #[test]
    fn non_square_operators_map_the_input_side_to_the_output_side() {
        // (2 pids, 3 x) out of (3 pids, 4 x), in C and Fortran order.
        let op = Array::from_shape_fn((2, 3, 3, 4), |(a, j, b, k)| {
            (a * 5 + j * 3 + b * 7 + k) as f64 * 0.5 - 3.0
        });
        let pdf = Array3::from_shape_fn((2, 3, 4), |(r, b, k)| (r + b * k) as f64 + 0.25);
        let want = Array3::from_shape_fn((2, 2, 3), |(r, a, j)| {
            let mut s = 0.0;
            for b in 0..3 {
                for k in 0..4 {
                    s += op[[a, j, b, k]] * pdf[[r, b, k]];
                }
            }
            s
        });
        let mut fortran = Array4::zeros(op.raw_dim().f());
        fortran.assign(&op);
        for view in [op.view(), fortran.view()] {
            let mut out = Array3::zeros((2, 2, 3));
            apply_operator(view, pdf.view(), out.view_mut(), 1).unwrap();
            assert_eq!(out, want);
        }
        let mut out = Array3::zeros((2, 3, 4));
        let e = apply_operator(op.view(), pdf.view(), out.view_mut(), 1).unwrap_err();
        assert!(e.to_string().contains("it must be [2, 2, 3]"), "{e}");
    }

    #[test]
    fn pdf_ranks() {
        let loc = Location::Buffer("test".into());
        let two = Pdf::from_array(ndarray::ArrayD::zeros(vec![3, 5]), &loc).unwrap();
        assert!(!two.has_replica_axis);
        assert_eq!(two.replicas.shape(), &[1, 3, 5]);
        assert!(two.check_grid(3, 5, "the store's grid", &loc).is_ok());
        let e = two
            .check_grid(14, 5, "the store's grid", &loc)
            .unwrap_err()
            .to_string();
        assert!(e.contains("shape [3, 5]") && e.contains("(14, 5)"), "{e}");
        let e = Pdf::from_array(ndarray::ArrayD::zeros(vec![3]), &loc).unwrap_err();
        assert!(e.to_string().contains("(n_rep, n_pid, n_x)"), "{e}");
        assert_eq!(
            points_path(Path::new("a/out.npy")),
            Path::new("a/out.points.npy")
        );
        assert_eq!(points_path(Path::new("out")), Path::new("out.points.npy"));
    }
}
