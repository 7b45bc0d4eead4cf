//! Operator slices: a store's final operators one scale at a time, in ascending μ², as FK-table
//! producers (pineappl's `Grid::evolve`, its C API's operator callback) consume them.
//!
//! A [`Slices`] is made once from a store: it picks the evolution points (every final operator,
//! or only the scales a grid needs), resolves the scales the store holds with two nf (pineappl
//! keys slices by scale alone, so an ambiguous μ² is refused unless the caller says which nf to
//! take), maps every chosen operator (lazily: a map costs a few microseconds and reads nothing)
//! and, optionally, holds a [`Transform`] (reinterpolation onto the grid's x nodes, rotation to
//! the evolution basis) applied to each operator as it is served.
//!
//! Serving, three ways:
//! - [`Slices::iter`]: an iterator of `(SliceInfo, CowArray)`. Untransformed, each array is a
//!   zero-copy view of the mapped file, valid as long as the `Slices`; transformed, a new array
//!   per slice (the form pineappl's `Grid::evolve` takes: its items must outlive the iterator).
//!   After each step the previous operator's pages are dropped from resident memory and the next
//!   one's are read ahead, so resident memory stays at about one operator however many slices.
//! - [`Slices::cursor`]: a lending iterator that transforms into one reused buffer.
//! - [`Slices::write_into`]: one slice into the caller's buffer (the C callback's form).
//!
//! Sides follow eko: the output side (`pid_out`, `x_out`, pineappl's `pids1`/`x1`, the grid's
//! side) and the input side (`pid_in`, `x_in`, pineappl's `pids0`/`x0`, the FK table's side).

use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayView4, ArrayViewMut4, CowArray, Ix4};

use crate::error::{Error, Result};
use crate::store::metadata::{Basis, Side};
use crate::store::{EvolutionPoint, FileKind, OperatorFile, Store};
use crate::transform::Transform;

/// How far apart (in units in the last place) two scales or x values may be and still be the
/// same node: pineappl's tolerance (`node_value_eq`, 4096 ulps, about 1e-12 relative).
pub const NODE_ULPS: u64 = 4096;

/// Whether `a` and `b` are the same node value within [`NODE_ULPS`] (or `f64::EPSILON`
/// absolute), as pineappl compares scales and x values.
pub fn same_node(a: f64, b: f64) -> bool {
    if a == b || (a - b).abs() <= f64::EPSILON {
        return true;
    }
    if a.is_sign_negative() != b.is_sign_negative() || !a.is_finite() || !b.is_finite() {
        return false;
    }
    a.to_bits().abs_diff(b.to_bits()) <= NODE_ULPS
}

/// Which points of a store to serve.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SliceSelection {
    /// Only these scales μ² (GeV²), each of which the store must hold as a final operator
    /// (matched within [`NODE_ULPS`]); `None` serves every final operator. Order and repeats do
    /// not matter: slices come in ascending μ², once per scale.
    pub scales: Option<Vec<f64>>,
    /// The nf to take at a μ² the store holds with several nf (at a matching scale): points
    /// `(μ², nf)`, the command line's `--nf-at MU2:NF`. Each must name a point of the store.
    pub nf_at: Vec<EvolutionPoint>,
}

/// What one slice is: the point, and pineappl's scales.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceInfo {
    /// Its position in the sequence (0-based).
    pub index: usize,
    /// The evolution point (μ², nf) it evolves to.
    pub point: EvolutionPoint,
    /// The origin's μ²: pineappl's `fac0`, the FK table's scale.
    pub fac0: f64,
    /// The point's μ²: pineappl's `fac1`, the grid's scale.
    pub fac1: f64,
}

/// A store's final operators as slices, chosen, mapped and ready; see the module docs.
#[derive(Debug)]
pub struct Slices {
    dir: PathBuf,
    origin: EvolutionPoint,
    points: Vec<EvolutionPoint>,
    files: Vec<OperatorFile>,
    transform: Option<Transform>,
    output: Side,
    input: Side,
}

impl Slices {
    /// The slices of `store` that `selection` asks for, transformed by `transform` when given
    /// (made for this store's final operators: [`Transform::new`] with its metadata).
    ///
    /// Fails, before mapping anything, when a wanted scale has no final operator (naming every
    /// missing one), when a scale has several nf and `selection.nf_at` does not choose one
    /// (naming each such scale and the option), when an `nf_at` entry names no point of the store,
    /// or when the transform was made for other operators.
    pub fn new(
        store: &Store,
        selection: &SliceSelection,
        transform: Option<Transform>,
    ) -> Result<Slices> {
        let metadata = store.metadata();
        if let Some(t) = &transform {
            t.check_source(metadata, store.dir())?;
        }
        let points = choose_points(store, selection)?;
        let files = points
            .iter()
            .map(|p| store.operator(p))
            .collect::<Result<Vec<_>>>()?;
        let (output, input) = match &transform {
            Some(t) => (t.output_side().clone(), t.input_side().clone()),
            None => (metadata.output_side(), metadata.input_side()),
        };
        Ok(Slices {
            dir: store.dir().to_path_buf(),
            origin: metadata.origin,
            points,
            files,
            transform,
            output,
            input,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The number of slices.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there is none (never, for a `Slices` that [`new`](Self::new) made).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The evolution points served, in order (ascending μ²).
    pub fn points(&self) -> &[EvolutionPoint] {
        &self.points
    }

    /// The store's origin: `fac0` is its μ².
    pub fn origin(&self) -> EvolutionPoint {
        self.origin
    }

    /// Slice `index`'s description.
    pub fn info(&self, index: usize) -> SliceInfo {
        let point = self.points[index];
        SliceInfo {
            index,
            point,
            fac0: self.origin.mu2,
            fac1: point.mu2,
        }
    }

    /// The index of the slice at scale `mu2` (within [`NODE_ULPS`]), if any.
    pub fn position(&self, mu2: f64) -> Option<usize> {
        self.points.iter().position(|p| same_node(p.mu2, mu2))
    }

    /// The served operators' output side (pineappl's `pids1`, `x1`: the grid's side).
    pub fn output_side(&self) -> &Side {
        &self.output
    }

    /// The served operators' input side (pineappl's `pids0`, `x0`: the FK table's side).
    pub fn input_side(&self) -> &Side {
        &self.input
    }

    /// The input side's basis (pineappl's `pid_basis`).
    pub fn basis(&self) -> Basis {
        self.input.basis()
    }

    /// The served operators' shape `(n_pid_out, n_x_out, n_pid_in, n_x_in)`.
    pub fn shape(&self) -> [usize; 4] {
        [
            self.output.pids.len(),
            self.output.xgrid.len(),
            self.input.pids.len(),
            self.input.xgrid.len(),
        ]
    }

    /// The transform applied to each operator, if any.
    pub fn transform(&self) -> Option<&Transform> {
        self.transform.as_ref()
    }

    /// Slice `index`'s mapped operator file (as stored, before any transform).
    pub fn file(&self, index: usize) -> &OperatorFile {
        &self.files[index]
    }

    /// Slice `index`: a view of the mapped file when untransformed, else a new array.
    pub fn get(&self, index: usize) -> Result<CowArray<'_, f64, Ix4>> {
        let stored = self.files[index].view();
        match &self.transform {
            None => Ok(CowArray::from(stored)),
            Some(t) => t.apply_owned(stored).map(CowArray::from),
        }
    }

    /// Writes slice `index` into `out` (of [`shape`](Self::shape), any memory layout): one copy
    /// of the mapped operator, or the transform writing straight into `out`.
    pub fn write_into(&self, index: usize, mut out: ArrayViewMut4<'_, f64>) -> Result<()> {
        let shape = self.shape();
        if out.shape() != shape {
            return Err(Error::InvalidArgument {
                reason: format!(
                    "the buffer for slice {} has shape {:?}; the slices have {shape:?}",
                    self.points[index],
                    out.shape()
                ),
            });
        }
        let stored = self.files[index].view();
        match &self.transform {
            None => out.assign(&stored),
            Some(t) => t.apply(stored, out)?,
        }
        Ok(())
    }

    /// Reads slice `index`'s file ahead in the background.
    pub fn prefetch(&self, index: usize) {
        if let Some(f) = self.files.get(index) {
            f.npy().prefetch();
        }
    }

    /// Drops slice `index`'s pages from resident memory; views stay valid (see
    /// [`NpyFile::release`](crate::npy::NpyFile::release)).
    pub fn release(&self, index: usize) {
        if let Some(f) = self.files.get(index) {
            f.npy().release();
        }
    }

    /// The slices in order, each a zero-copy view when untransformed (a new array per slice when
    /// transformed); see the module docs.
    pub fn iter(&self) -> SliceIter<'_> {
        SliceIter {
            slices: self,
            next: 0,
        }
    }

    /// The slices in order through one reused buffer when transformed (views of the mapped files
    /// otherwise).
    pub fn cursor(&self) -> SliceCursor<'_> {
        SliceCursor {
            slices: self,
            next: 0,
            buffer: self.transform.as_ref().map(|t| Array4::zeros(t.shape())),
        }
    }
}

/// The iterator of [`Slices::iter`].
#[derive(Debug)]
pub struct SliceIter<'a> {
    slices: &'a Slices,
    next: usize,
}

impl<'a> Iterator for SliceIter<'a> {
    type Item = Result<(SliceInfo, CowArray<'a, f64, Ix4>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.next;
        if index >= self.slices.len() {
            if let Some(last) = index.checked_sub(1) {
                self.slices.release(last);
            }
            return None;
        }
        self.next += 1;
        if let Some(previous) = index.checked_sub(1) {
            self.slices.release(previous);
        }
        self.slices.prefetch(index + 1);
        Some(
            self.slices
                .get(index)
                .map(|array| (self.slices.info(index), array)),
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.slices.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for SliceIter<'_> {}

/// The lending iterator of [`Slices::cursor`]: each slice borrows the cursor until the next call.
#[derive(Debug)]
pub struct SliceCursor<'a> {
    slices: &'a Slices,
    next: usize,
    buffer: Option<Array4<f64>>,
}

impl SliceCursor<'_> {
    /// The next slice, `None` after the last.
    #[allow(clippy::should_implement_trait)] // lending: the item borrows the cursor
    pub fn next(&mut self) -> Option<Result<(SliceInfo, ArrayView4<'_, f64>)>> {
        let index = self.next;
        let slices = self.slices;
        if let Some(previous) = index.checked_sub(1) {
            slices.release(previous);
        }
        if index >= slices.len() {
            return None;
        }
        self.next += 1;
        slices.prefetch(index + 1);
        let info = slices.info(index);
        let stored = slices.files[index].view();
        Some(match (&slices.transform, &mut self.buffer) {
            (Some(t), Some(buffer)) => t
                .apply(stored, buffer.view_mut())
                .map(|()| (info, buffer.view())),
            _ => Ok((info, stored)),
        })
    }
}

/// The points to serve: one per wanted scale, nf resolved; see [`Slices::new`].
fn choose_points(store: &Store, selection: &SliceSelection) -> Result<Vec<EvolutionPoint>> {
    let dir = store.dir().display();
    // Every point with any file, grouped by scale (points are sorted by μ², then nf).
    let mut groups: Vec<Vec<EvolutionPoint>> = Vec::new();
    for (point, _) in store.points() {
        match groups.last_mut() {
            Some(group) if same_node(group[0].mu2, point.mu2) => group.push(point),
            _ => groups.push(vec![point]),
        }
    }
    let is_final = |p: &EvolutionPoint| store.files_of(p).has(FileKind::Operator);
    for choice in &selection.nf_at {
        let group = groups.iter().find(|g| same_node(g[0].mu2, choice.mu2));
        match group {
            Some(g) if g.iter().any(|p| p.nf == choice.nf && is_final(p)) => {}
            _ => {
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "--nf-at {}:{} (nf_at ({}, {})): the store {dir} has no final operator at \
                         that point ({})",
                        choice.mu2,
                        choice.nf,
                        choice.mu2,
                        choice.nf,
                        match group {
                            Some(g) => format!("mu2 = {} has {}", g[0].mu2, describe_nfs(g)),
                            None => "no such mu2".into(),
                        }
                    ),
                });
            }
        }
    }
    let wanted: Vec<&Vec<EvolutionPoint>> = match &selection.scales {
        None => groups.iter().filter(|g| g.iter().any(is_final)).collect(),
        Some(scales) => {
            let mut scales = scales.clone();
            scales.sort_by(f64::total_cmp);
            scales.dedup_by(|a, b| same_node(*a, *b));
            let mut missing = Vec::new();
            let mut pending = Vec::new();
            let mut chosen = Vec::new();
            for mu2 in scales {
                match groups.iter().find(|g| same_node(g[0].mu2, mu2)) {
                    Some(g) if g.iter().any(is_final) => chosen.push(g),
                    Some(_) => pending.push(mu2),
                    None => missing.push(mu2),
                }
            }
            if !missing.is_empty() {
                let held: Vec<f64> = groups.iter().map(|g| g[0].mu2).collect();
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "the store {dir} has no operator at mu2 = {} ({} of the {} scales needed); \
                         it holds {}",
                        list(&missing),
                        missing.len(),
                        missing.len() + pending.len() + chosen.len(),
                        describe_scales(&held)
                    ),
                });
            }
            if !pending.is_empty() {
                return Err(Error::InvalidArgument {
                    reason: format!(
                        "the store {dir} has only partials at mu2 = {} (run `eko combine` first, or libeko.combine)",
                        list(&pending)
                    ),
                });
            }
            chosen
        }
    };
    if wanted.is_empty() {
        return Err(Error::InvalidArgument {
            reason: format!("the store {dir} has no final operator to serve"),
        });
    }
    let mut points = Vec::with_capacity(wanted.len());
    let mut ambiguous = Vec::new();
    for group in wanted {
        let finals: Vec<EvolutionPoint> = group.iter().copied().filter(is_final).collect();
        let chosen = selection
            .nf_at
            .iter()
            .find(|c| same_node(c.mu2, group[0].mu2))
            .and_then(|c| finals.iter().find(|p| p.nf == c.nf));
        match (chosen, finals.as_slice()) {
            (Some(p), _) => points.push(*p),
            (None, [only]) => points.push(*only),
            (None, _) => ambiguous.push(finals),
        }
    }
    if !ambiguous.is_empty() {
        let each: Vec<String> = ambiguous
            .iter()
            .map(|g| format!("mu2 = {} has {}", g[0].mu2, describe_nfs(g)))
            .collect();
        let example: Vec<String> = ambiguous
            .iter()
            .map(|g| format!("{}:{}", g[0].mu2, g[0].nf))
            .collect();
        let python: Vec<String> = ambiguous
            .iter()
            .map(|g| format!("({}, {})", g[0].mu2, g[0].nf))
            .collect();
        return Err(Error::InvalidArgument {
            reason: format!(
                "the store {dir} is ambiguous where a scale has several nf: {}; an FK table takes \
                 one operator per scale, so say which with --nf-at MU2:NF (for example --nf-at {}; \
                 Python nf_at=[{}], Rust SliceSelection::nf_at, C EKO_slices_spec_set_nf)",
                each.join("; "),
                example.join(","),
                python.join(", ")
            ),
        });
    }
    Ok(points)
}

fn describe_nfs(group: &[EvolutionPoint]) -> String {
    let nfs: Vec<String> = group.iter().map(|p| p.nf.to_string()).collect();
    match nfs.as_slice() {
        [one] => format!("nf = {one} only"),
        _ => format!("nf = {}", nfs.join(" and ")),
    }
}

fn list(values: &[f64]) -> String {
    const SHOWN: usize = 8;
    let mut text: Vec<String> = values.iter().take(SHOWN).map(|v| v.to_string()).collect();
    if values.len() > SHOWN {
        text.push(format!("... ({} more)", values.len() - SHOWN));
    }
    text.join(", ")
}

fn describe_scales(held: &[f64]) -> String {
    match held {
        [] => "no operator".into(),
        [one] => format!("only mu2 = {one}"),
        [first, .., last] => format!("{} scales from mu2 = {first} to {last}", held.len()),
    }
}
