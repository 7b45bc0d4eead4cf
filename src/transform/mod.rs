//! Transforms: an operator reinterpolated onto other x grids and rotated to another flavour
//! basis, on its output side, its input side or both, one operator at a time.
//!
//! For an operator `O[a, j, b, k]` (`[pid_out, x_out, pid_in, x_in]`) the result is
//!
//! ```text
//! O'[c, i, d, l] = Σ  P[c, a] · R[i, j] · O[a, j, b, k] · S[k, l] · Q[b, d]
//! ```
//!
//! - `R[i, j] = p_j(x'_i)`: the output side's interpolation (basis functions `p_j` on the old
//!   output grid, evaluated at the new one); `S[k, l] = p'_l(x_k)`: the input side's (basis
//!   functions on the new input grid, evaluated at the old one). These are the matrices of
//!   `eko.io.manipulate.xgrid_reshape`, computed exactly (see the `lagrange` rules below): eko's
//!   own are accurate to about 1e-9. A new grid equal (bit for bit) to the old one changes nothing;
//!   a new point outside the old grid gets a zero row (eko does not extrapolate).
//! - `P`: the output side's rotation (new pids from old: the evolution basis is
//!   [`evolution_rotation`] times the flavour basis); `Q = M⁻¹` for an input-side rotation `M`, as
//!   `eko.io.manipulate.flavor_reshape` does, so that `O' · (M f) = O · f`.
//!
//! Interpolation rules (eko's `InterpolatorDispatcher`): piecewise Lagrange polynomials of the
//! store's [`Interpolation`] degree, in ln x when it says so; the interval `(u_i, u_{i+1}]`
//! interpolates through the `degree + 1` nodes of its block, which starts `degree / 2` nodes
//! below (one less for an even degree) and is shifted to stay on the grid.
//!
//! **Errors** go through the same linear map as the operator, as eko transforms them: the
//! result's error is `P R E S Q` for the error array `E`, signed. That is the error of the
//! reshaped operator if each integration error were a known signed shift; it is not a bound (a
//! bound would take absolute values of every factor).
//!
//! A [`Transform`] is built once per store (its matrices precomputed, a few kilobytes) and
//! applied to each operator into a caller's buffer ([`Transform::apply`]): the cost is two
//! banded x products and two sparse pid products per operator, rows shared among threads.
//! Exact zeros of the rotation matrices and of the output-side interpolation rows are skipped
//! (a dense product would spread `0 · inf` everywhere); the input-side interpolation multiplies
//! through the zeros inside its band. So an infinite or NaN operator entry spreads where the
//! transform connects it, and at most a band further.

mod lagrange;
mod reshape;
mod rotation;

use std::ops::Range;

use ndarray::{Array4, ArrayView2, ArrayView4, ArrayViewMut4, Axis, s};
use serde_json::json;

use crate::error::{Error, Result};
use crate::store::metadata::{check_pids, check_xgrid, same_values};
use crate::store::{Basis, EVOLUTION_BASIS, FLAVOR_BASIS, Interpolation, Metadata, Side};
use lagrange::Banded;
pub use reshape::{ReshapeProgress, ReshapeReport, reshape};
pub use rotation::evolution_rotation;
use rotation::{Square, check_rotation, evolution_square};

/// A flavour rotation of one side.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// To a named basis, from the side's present one: flavour ↔ evolution. Rotating a side to
    /// the basis it is in changes nothing.
    To(Basis),
    /// By a matrix `M` (`n_pid x n_pid`, row-major, invertible): the new basis's PDF is `M`
    /// times the old one's. The new side's pids are `pids`.
    Matrix {
        /// `M`, row-major `[new pid, old pid]`.
        matrix: Vec<f64>,
        /// The pids of the new basis, one per row of `M`.
        pids: Vec<i32>,
    },
}

/// What to change on one side of the operators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SideChange {
    /// Reinterpolate onto this x grid (strictly increasing in (0, 1]).
    pub xgrid: Option<Vec<f64>>,
    /// Rotate to another flavour basis.
    pub rotation: Option<Rotation>,
}

impl SideChange {
    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.xgrid.is_none() && self.rotation.is_none()
    }
}

/// What to change on both sides, and the interpolation to use when the store records none (or
/// to override it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransformSpec {
    /// The output side (`pid_out`, `x_out`): eko's target side, pineappl's grid side.
    pub output: SideChange,
    /// The input side (`pid_in`, `x_in`): eko's source side, the side of the PDF at the origin
    /// (pineappl's FK-table side).
    pub input: SideChange,
    /// The interpolation to reinterpolate with, instead of the metadata's.
    pub interpolation: Option<Interpolation>,
}

impl TransformSpec {
    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.output.is_empty() && self.input.is_empty()
    }
}

/// One side's precomputed matrices.
#[derive(Debug, Clone, Default)]
struct SidePlan {
    /// x: output side `R` (rows: new x); input side `Sᵀ` (rows: new x, over old x).
    x: Option<Banded>,
    /// pids: output side `P[c, a]`; input side `Q[b, d] = M⁻¹`.
    pids: Option<Square>,
    /// What was done, for the metadata.
    description: serde_json::Value,
}

/// A transform of operators of one shape, its matrices precomputed. Cheap to share between
/// threads (`&Transform` is `Sync`).
#[derive(Debug, Clone)]
pub struct Transform {
    source: [Side; 2],
    result: [Side; 2],
    interpolation: Option<Interpolation>,
    output: SidePlan,
    input: SidePlan,
    threads: usize,
}

impl Transform {
    /// The transform `spec` asks of a store with `metadata` (its final operators' sides, which a
    /// reshaped store has changed already). Reinterpolation uses `spec.interpolation`, else the
    /// metadata's ([`Metadata::interpolation`]).
    pub fn new(metadata: &Metadata, spec: &TransformSpec) -> Result<Transform> {
        let mut spec = spec.clone();
        if spec.interpolation.is_none() {
            spec.interpolation = metadata.interpolation();
        }
        Transform::for_sides(metadata.output_side(), metadata.input_side(), &spec)
    }

    /// The transform `spec` asks of operators whose sides are `output` and `input` (for example
    /// a host's buffers). Reinterpolation needs `spec.interpolation`.
    pub fn for_sides(output: Side, input: Side, spec: &TransformSpec) -> Result<Transform> {
        for (name, side) in [("output", &output), ("input", &input)] {
            check_xgrid(&side.xgrid, &format!("the operators' {name} x grid"))
                .and_then(|()| check_pids(&side.pids, &format!("the operators' {name} pids")))
                .map_err(|reason| Error::Transform { reason })?;
        }
        let x_changes = [&spec.output, &spec.input]
            .iter()
            .any(|c| c.xgrid.is_some());
        let interpolation = match spec.interpolation {
            Some(i) => Some(i),
            None if x_changes => {
                return Err(Error::Transform {
                    reason: "reinterpolation needs the interpolation the operators were computed \
                             with, and none is known: a store records it in metadata.json (field \
                             `interpolation`: polynomial degree and whether in ln x; eko's operator \
                             card `configs.interpolation_polynomial_degree` and \
                             `interpolation_is_log` also serve), and host operators have none; \
                             give it (eko reshape --interpolation log:4, Rust \
                             TransformSpec::interpolation, C EKO_transform_spec_set_interpolation)"
                        .into(),
                });
            }
            None => None,
        };
        let (out_plan, out_side) = plan_side(&output, &spec.output, interpolation, true)?;
        let (in_plan, in_side) = plan_side(&input, &spec.input, interpolation, false)?;
        let reinterpolates = out_plan.x.is_some() || in_plan.x.is_some();
        Ok(Transform {
            source: [output, input],
            result: [out_side, in_side],
            interpolation: interpolation.filter(|_| reinterpolates),
            output: out_plan,
            input: in_plan,
            threads: 1,
        })
    }

    /// Runs [`apply`](Self::apply) on `threads` threads (default 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The shape of the operators it takes: `(n_pid_out, n_x_out, n_pid_in, n_x_in)`.
    pub fn source_shape(&self) -> [usize; 4] {
        shape(&self.source)
    }

    /// The shape of the operators it makes.
    pub fn shape(&self) -> [usize; 4] {
        shape(&self.result)
    }

    /// Checks that it takes the final operators of a store with `metadata`: the same sides, bit
    /// for bit (a transform made for another store of the same shape would, for example, rotate
    /// an already rotated side again).
    pub fn check_source(&self, metadata: &Metadata, store: &std::path::Path) -> Result<()> {
        if !self.source[0].same_bits(&metadata.output_side())
            || !self.source[1].same_bits(&metadata.input_side())
        {
            return Err(Error::Transform {
                reason: format!(
                    "the transform was made for operators with other sides (x grids or pids) \
                     than those of the store {}: make it from this store's metadata",
                    store.display()
                ),
            });
        }
        Ok(())
    }

    /// The output side of its results.
    pub fn output_side(&self) -> &Side {
        &self.result[0]
    }

    /// The input side of its results.
    pub fn input_side(&self) -> &Side {
        &self.result[1]
    }

    /// The interpolation it reinterpolates with (`None` when no x grid changes).
    ///
    /// A store's interpolation is that of its input side (the basis functions an operator's
    /// columns stand for); the output side holds values at points.
    pub fn interpolation(&self) -> Option<Interpolation> {
        self.interpolation
    }

    /// Whether it changes nothing (every asked change was to what the operators have already).
    pub fn is_identity(&self) -> bool {
        [&self.output, &self.input]
            .iter()
            .all(|p| p.x.is_none() && p.pids.is_none())
    }

    /// What it does, as JSON: per side, the x grid change (point counts) and the basis change.
    pub fn description(&self) -> serde_json::Value {
        json!({
            "interpolation": self.interpolation,
            "output": self.output.description,
            "input": self.input.description,
        })
    }

    /// The metadata of a store holding the transformed final operators of a store with
    /// `source`: the new sides (format version 2), the interpolation (the input side's: the one
    /// used when the input x grid changed, else the source's, else the one given for a source
    /// that records none), and `reshaped_from`
    /// recording this transform and `provenance` (and the source's own `reshaped_from`, if it
    /// was reshaped before).
    pub fn metadata(&self, source: &Metadata, provenance: serde_json::Value) -> Metadata {
        let mut m = source.clone();
        m.format_version = crate::store::FORMAT_VERSION;
        // The operators' interpolation is their input side's: the one the new input grid was
        // reinterpolated with, else the source's (an output-side reinterpolation, whatever the
        // degree it used, leaves values at points), else, when the source records none, the
        // one the caller gave for it.
        m.interpolation = match (&self.input.x, self.interpolation) {
            (Some(_), Some(i)) => Some(i),
            _ => source.interpolation().or(self.interpolation),
        };
        m.set_sides(self.result[0].clone(), self.result[1].clone());
        let mut record = json!({ "transform": self.description() });
        if let (Some(r), serde_json::Value::Object(p)) = (record.as_object_mut(), provenance) {
            r.extend(p);
        }
        if !source.reshaped_from.is_null() {
            record["previously"] = source.reshaped_from.clone();
        }
        m.reshaped_from = record;
        m
    }

    /// Transforms `operator` (of [`source_shape`](Self::source_shape), any memory layout) into
    /// `out` (of [`shape`](Self::shape), any layout; fastest in C order). The error array of an
    /// operator is transformed by the same call.
    pub fn apply(&self, operator: ArrayView4<'_, f64>, mut out: ArrayViewMut4<'_, f64>) -> Result<()> {
        let check = |what: &str, found: &[usize], expected: [usize; 4]| {
            if found != expected {
                return Err(Error::Transform {
                    reason: format!(
                        "the {what} has shape {found:?}; this transform takes {:?} to {:?}",
                        self.source_shape(),
                        self.shape()
                    ),
                });
            }
            Ok(())
        };
        check("operator", operator.shape(), self.source_shape())?;
        check("destination", out.shape(), self.shape())?;
        let source = operator.as_standard_layout();
        let data = source.as_slice().expect("standard layout");
        let [_, x_out, ..] = self.shape();
        if x_out == 0 || out.is_empty() {
            return Ok(());
        }
        let threads = self.threads.min(x_out).max(1);
        if threads == 1 {
            self.rows(data, 0..x_out, out);
            return Ok(());
        }
        let chunk = x_out.div_ceil(threads);
        std::thread::scope(|scope| {
            for (n, part) in out.axis_chunks_iter_mut(Axis(1), chunk).enumerate() {
                let start = n * chunk;
                let range = start..(start + chunk).min(x_out);
                scope.spawn(move || self.rows(data, range, part));
            }
        });
        Ok(())
    }

    /// [`apply`](Self::apply) into a new C-order array.
    pub fn apply_owned(&self, operator: ArrayView4<'_, f64>) -> Result<Array4<f64>> {
        let mut out = Array4::zeros(self.shape());
        self.apply(operator, out.view_mut())?;
        Ok(out)
    }

    /// The result's rows `(c, i)` for the new output x values `range`, into `out` (whose axis 1
    /// is `range`). `op` is the source operator in C order.
    fn rows(&self, op: &[f64], range: Range<usize>, mut out: ArrayViewMut4<'_, f64>) {
        let [p, x, pin, xin] = self.source_shape();
        let [p2, _, pin2, xin2] = self.shape();
        let n_in = pin * xin;
        let row_of = |a: usize, j: usize| &op[(a * x + j) * n_in..(a * x + j + 1) * n_in];
        let mut b = vec![0.0; if self.output.x.is_some() { p * n_in } else { 0 }];
        let mut c = vec![0.0; if self.output.pids.is_some() { p2 * n_in } else { 0 }];
        let mut w = vec![0.0; pin * xin2];
        let mut row = vec![0.0; pin2 * xin2];
        for (li, i) in range.enumerate() {
            // 1. x_out: B[a] = Σ_j R[i, j] O[a, j]  (or the rows of x_out = i themselves).
            let b_rows: Vec<&[f64]> = match &self.output.x {
                None => (0..p).map(|a| row_of(a, i)).collect(),
                Some(r) => {
                    let (start, weights) = r.row(i);
                    let mut terms: Vec<(f64, &[f64])> = Vec::with_capacity(weights.len());
                    for (a, dst) in b.chunks_exact_mut(n_in).enumerate() {
                        terms.clear();
                        for (m, wt) in weights.iter().enumerate() {
                            if *wt != 0.0 {
                                terms.push((*wt, row_of(a, start + m)));
                            }
                        }
                        lincomb(dst, &terms);
                    }
                    b.chunks_exact(n_in).collect()
                }
            };
            // 2. pid_out: C[c] = Σ_a P[c, a] B[a].
            let c_rows: Vec<&[f64]> = match &self.output.pids {
                None => b_rows,
                Some(rot) => {
                    // In column blocks, so that the sources' blocks stay in L1 for every c.
                    const BLOCK: usize = 256;
                    let mut terms: Vec<(f64, &[f64])> = Vec::with_capacity(p);
                    for start in (0..n_in).step_by(BLOCK) {
                        let end = (start + BLOCK).min(n_in);
                        for (cc, dst) in c.chunks_exact_mut(n_in).enumerate() {
                            terms.clear();
                            for (a, src) in b_rows.iter().enumerate() {
                                let f = rot.get(cc, a);
                                if f != 0.0 {
                                    terms.push((f, &src[start..end]));
                                }
                            }
                            lincomb(&mut dst[start..end], &terms);
                        }
                    }
                    c.chunks_exact(n_in).collect()
                }
            };
            // 3. the input side of each row, into out[c, i].
            for (cc, v) in c_rows.iter().enumerate() {
                let mut dst = out.slice_mut(s![cc, li, .., ..]);
                match dst.as_slice_mut() {
                    Some(d) => self.input_row(v, &mut w, d),
                    None => {
                        self.input_row(v, &mut w, &mut row);
                        let src = ArrayView2::from_shape((pin2, xin2), &row).expect("sized");
                        dst.assign(&src);
                    }
                }
            }
        }
    }

    /// One row `v[b, k]` through the input side: `dst[d, l] = Σ_{b,k} v[b, k] S[k, l] Q[b, d]`.
    /// `w` is scratch of `n_pid_in · n_x_in'`.
    fn input_row(&self, v: &[f64], w: &mut [f64], dst: &mut [f64]) {
        let [_, _, pin, xin] = self.source_shape();
        let [.., xin2] = self.shape();
        let reinterpolate = |st: &Banded, w: &mut [f64]| {
            for (vb, wb) in v.chunks_exact(xin).zip(w.chunks_exact_mut(xin2)) {
                for (l, slot) in wb.iter_mut().enumerate() {
                    let (start, weights) = st.row(l);
                    *slot = weights
                        .iter()
                        .zip(&vb[start..start + weights.len()])
                        .map(|(a, b)| a * b)
                        .sum();
                }
            }
        };
        match (&self.input.x, &self.input.pids) {
            (None, None) => dst.copy_from_slice(v),
            (Some(st), None) => reinterpolate(st, dst),
            (x, Some(q)) => {
                let w: &[f64] = match x {
                    Some(st) => {
                        reinterpolate(st, w);
                        w
                    }
                    None => v,
                };
                let mut terms: Vec<(f64, &[f64])> = Vec::with_capacity(pin);
                for (d, out) in dst.chunks_exact_mut(xin2).enumerate() {
                    terms.clear();
                    for (bb, src) in w.chunks_exact(xin2).enumerate().take(pin) {
                        let f = q.get(bb, d);
                        if f != 0.0 {
                            terms.push((f, src));
                        }
                    }
                    lincomb(out, &terms);
                }
            }
        }
    }
}

/// eko's interpolation matrix `R[i, j] = p_j(points[i])`, dense: the basis functions `p_j` of
/// `grid` (piecewise Lagrange polynomials of `interpolation`) at `points`, so that values `f` on
/// `grid` interpolate to `R · f` at `points` (zero rows for points outside `grid`). What
/// `eko.interpolation.InterpolatorDispatcher(grid, degree, mode_N=False).get_interpolation(points)`
/// computes, exactly. Both grids must be strictly increasing in (0, 1].
pub fn interpolation_matrix(
    grid: &[f64],
    points: &[f64],
    interpolation: Interpolation,
) -> Result<ndarray::Array2<f64>> {
    for (name, g) in [("the grid", grid), ("the points", points)] {
        check_xgrid(g, name).map_err(|reason| Error::Transform { reason })?;
    }
    let m = lagrange::interpolation_matrix(grid, points, interpolation, "the grid")?;
    Ok(ndarray::Array2::from_shape_vec((points.len(), grid.len()), m.to_dense())
        .expect("sized"))
}

/// `dst = Σ_j f_j · x_j` over `terms` in their order: bit for bit what `dst.fill(0.0)` then
/// `y += f_j · x_j` for each term gives, with `dst` held in registers (blocks of 32).
#[inline]
fn lincomb(dst: &mut [f64], terms: &[(f64, &[f64])]) {
    const W: usize = 32;
    let n = dst.len();
    let full = n / W * W;
    for off in (0..full).step_by(W) {
        let mut acc = [0.0f64; W];
        for &(f, x) in terms {
            let x: &[f64; W] = x[off..off + W].try_into().expect("sized");
            for t in 0..W {
                acc[t] += f * x[t];
            }
        }
        dst[off..off + W].copy_from_slice(&acc);
    }
    if full < n {
        let d = &mut dst[full..];
        d.fill(0.0);
        for &(f, x) in terms {
            for (y, x) in d.iter_mut().zip(&x[full..]) {
                *y += f * x;
            }
        }
    }
}

fn shape(sides: &[Side; 2]) -> [usize; 4] {
    [
        sides[0].pids.len(),
        sides[0].xgrid.len(),
        sides[1].pids.len(),
        sides[1].xgrid.len(),
    ]
}

/// Plans one side: its matrices and the side it becomes.
fn plan_side(
    side: &Side,
    change: &SideChange,
    interpolation: Option<Interpolation>,
    is_output: bool,
) -> Result<(SidePlan, Side)> {
    let name = if is_output { "output" } else { "input" };
    let mut plan = SidePlan::default();
    let mut result = side.clone();
    let mut description = serde_json::Map::new();
    if let Some(new) = &change.xgrid {
        check_xgrid(new, &format!("the new {name} x grid")).map_err(|reason| {
            Error::Transform {
                reason: format!("{reason} (x values must be strictly increasing in (0, 1], each once)"),
            }
        })?;
        if !same_values(new, &side.xgrid) {
            let interpolation = interpolation.expect("checked by the caller");
            plan.x = Some(if is_output {
                lagrange::interpolation_matrix(
                    &side.xgrid,
                    new,
                    interpolation,
                    &format!("the operators' {name} x grid"),
                )?
            } else {
                lagrange::interpolation_matrix(
                    new,
                    &side.xgrid,
                    interpolation,
                    &format!("the new {name} x grid"),
                )?
                .transpose()
            });
            description.insert(
                "xgrid".into(),
                json!({"from": side.xgrid.len(), "to": new.len()}),
            );
            result.xgrid = new.clone();
        }
    }
    if let Some(rotation) = &change.rotation {
        let n = side.pids.len();
        let from = Basis::of(&side.pids);
        let rotated: Option<(Square, Square, Vec<i32>, String)> = match rotation {
            Rotation::To(to) if *to == from && *to != Basis::Custom => None,
            Rotation::To(Basis::Custom) => {
                return Err(Error::Transform {
                    reason: format!(
                        "custom is not a basis to rotate the {name} side to: give a matrix \
                         (Rotation::Matrix) instead"
                    ),
                });
            }
            Rotation::To(to) => {
                if from == Basis::Custom {
                    return Err(Error::Transform {
                        reason: format!(
                            "the {name} side's pids {:?} are neither eko's flavour basis {:?} \
                             nor the evolution basis {:?}: libeko cannot rotate them to the {to} \
                             basis (give a matrix instead)",
                            side.pids, FLAVOR_BASIS, EVOLUTION_BASIS
                        ),
                    });
                }
                let e = evolution_square();
                let e_inv = e.inverse().expect("the evolution rotation is invertible");
                let pids = match to {
                    Basis::Evol => EVOLUTION_BASIS.to_vec(),
                    _ => FLAVOR_BASIS.to_vec(),
                };
                Some(if *to == Basis::Evol {
                    (e, e_inv, pids, format!("{from} -> {to}"))
                } else {
                    (e_inv, e, pids, format!("{from} -> {to}"))
                })
            }
            Rotation::Matrix { matrix, pids } => {
                let (m, inv) = check_rotation(matrix, n, name)?;
                if pids.len() != n {
                    return Err(Error::Transform {
                        reason: format!(
                            "the {name} rotation gives {} pids; its matrix has {n} rows",
                            pids.len()
                        ),
                    });
                }
                check_pids(pids, &format!("the {name} rotation's pids"))
                    .map_err(|reason| Error::Transform { reason })?;
                Some((m, inv, pids.clone(), "matrix".to_string()))
            }
        };
        if let Some((m, inv, pids, text)) = rotated {
            if pids.len() != n {
                return Err(Error::Transform {
                    reason: format!(
                        "the {name} side has {n} pids; a rotation between the flavour and the \
                         evolution basis needs the 14 of eko's flavour basis"
                    ),
                });
            }
            // Output: P = M. Input: Q = M⁻¹ (eko's flavor_reshape).
            plan.pids = Some(if is_output { m } else { inv });
            description.insert(
                "basis".into(),
                json!({"from": from, "to": Basis::of(&pids), "rotation": text}),
            );
            result.pids = pids;
        }
    }
    plan.description = serde_json::Value::Object(description);
    Ok((plan, result))
}

#[cfg(test)]
mod tests;
