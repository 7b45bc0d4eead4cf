//! Combine: joining partial operators and threshold operators into final operators, and cleaning
//! up after.
//!
//! For every point with a partial `P` (`{stem}.part.npy`), [`combine`] writes the final operator
//! `O = P · M_k · E_k · ... · M_1 · E_1` (see [`EvolutionPath`]) as `{stem}.npy`, with the error
//! `err(AB) = |A|·|err B| + |err A|·|B|` applied as eko applies it, folding from the target side
//! (`((P · M_k) · E_k) · ...`), when every factor has one; then removes the partial. (The value
//! does not depend on the association beyond rounding; the first-order error does, by per cent.)
//!
//! - The product of the threshold operators up to each threshold (the *chain*) is computed once
//!   per run and shared by every point beyond that threshold; chains are built in order of
//!   length, each extending the previous one where it can.
//! - Each final operator is computed straight into its new mapped file, which appears (under the
//!   store lock, error first) only when complete; the partial is removed after. A combine that is
//!   killed leaves only finished points and untouched partials: running it again finishes the
//!   rest. A point found with both a final operator and a partial is such a finished point: its
//!   leftover partial is removed.
//! - Nothing is written before every partial is known to be combinable: a missing threshold
//!   operator is reported with the point and the edge, and the store is left as it was.
//! - Anonymous memory: the current chain (as computed and as a prepared right factor), a few row
//!   blocks of scratch per thread and, with errors, two factors per threshold operator plus the
//!   point's intermediate products (one per threshold operator): bounded by the number of
//!   thresholds, whatever the number of points.
//! - Errors cost more than values: eko's order needs the partial products `P · M_k`, `P · M_k ·
//!   E_k`, ... for each point, so a point with errors and k thresholds takes 4k + 1 products
//!   instead of 1.

mod kernel;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Instant;

use ndarray::{Array4, ArrayView4, CowArray, Ix4};
use serde::Serialize;

pub use kernel::{Factor, Kernel, Target};

use crate::atomic::PendingFile;
use crate::error::{Error, Location, Result};
use crate::npy::{ErrorRecord, NpyFileMut};
use crate::store::{Edge, EvolutionPath, EvolutionPoint, FileKind, Store, Thresholds};

/// What combine will do with one partial.
#[derive(Debug, Clone, Serialize)]
pub struct PartPlan {
    /// The point and its path from the origin.
    pub path: EvolutionPath,
    /// Whether the partial has an error.
    pub has_error: bool,
    /// Threshold operators the path needs that the store does not have.
    pub missing: Vec<Edge>,
    /// The point already has a final operator: an earlier combine finished it.
    pub finished: bool,
}

impl PartPlan {
    /// Whether the partial can be combined now.
    pub fn combinable(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Every partial of `store` with its path and what is missing for it. Fails only when a point has
/// no path at all (a matching scale the store lacks).
pub fn plan(store: &Store) -> Result<Vec<PartPlan>> {
    plan_with(store, store.thresholds()?.as_ref())
}

fn plan_with(store: &Store, thresholds: Option<&Thresholds>) -> Result<Vec<PartPlan>> {
    let metadata = store.metadata();
    store
        .points_with(FileKind::Partial)
        .map(|point| {
            let path = EvolutionPath::new(metadata.origin, &metadata.matching, point)?;
            let missing = path
                .thresholds
                .iter()
                .filter(|e| !thresholds.is_some_and(|t| t.contains(e)))
                .copied()
                .collect();
            let files = store.files_of(&point);
            Ok(PartPlan {
                path,
                has_error: files.has(FileKind::PartialError),
                missing,
                finished: files.has(FileKind::Operator),
            })
        })
        .collect()
}

/// Progress of a combine, reported after each point.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Points done (this run).
    pub done: usize,
    /// Points to do (this run).
    pub total: usize,
    /// The point just finished.
    pub point: EvolutionPoint,
}

/// What a combine did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CombineReport {
    /// Points whose partial was multiplied by its chain.
    pub combined: Vec<EvolutionPoint>,
    /// Points crossing no threshold: the partial became the final operator as it is.
    pub promoted: Vec<EvolutionPoint>,
    /// Points an earlier, interrupted combine had finished: only their partial was removed.
    pub finished_before: Vec<EvolutionPoint>,
    /// Chains (products of threshold operators) computed.
    pub chains: usize,
    /// Seconds spent on chains.
    pub chain_seconds: f64,
    /// Seconds spent on points (products, writing, committing).
    pub point_seconds: f64,
}

/// Combines every partial of `store` into its final operator (see the module documentation).
/// `progress` is called after each point.
pub fn combine(
    store: &mut Store,
    kernel: &Kernel,
    progress: impl FnMut(Progress),
) -> Result<CombineReport> {
    // The whole run holds the store (other writers wait) and starts from a recovered store.
    store.while_locked(|store| combine_locked(store, kernel, progress))
}

fn combine_locked(
    store: &mut Store,
    kernel: &Kernel,
    mut progress: impl FnMut(Progress),
) -> Result<CombineReport> {
    store.check_square("combine")?;
    crate::store::check_writable(store.dir())?;
    let thresholds = store.thresholds()?;
    let plans = plan_with(store, thresholds.as_ref())?;
    if let Some(p) = plans.iter().find(|p| !p.finished && !p.combinable()) {
        let edge = p.missing[0];
        return Err(Error::MissingEdge {
            file: Location::file(
                thresholds
                    .as_ref()
                    .map_or_else(|| store.thresholds_path(), |t| t.path().to_path_buf()),
            ),
            point: p.path.target.to_string(),
            edge: edge.to_string(),
            member: format!("{}.npy", edge.key()),
        });
    }
    let mut report = CombineReport::default();
    let total = plans.len();
    let mut done = 0;
    let mut tick = |point, progress: &mut dyn FnMut(Progress)| {
        done += 1;
        progress(Progress { done, total, point });
    };

    // Leftovers of an interrupted run, then points that need no product.
    // Points sharing a chain have the same nf; forward chains in growing length, then backward
    // ones, so that each chain extends the one before.
    let origin = store.metadata().origin;
    let mut groups: BTreeMap<(bool, u8), Vec<PartPlan>> = BTreeMap::new();
    for p in plans {
        let point = p.path.target;
        if p.finished {
            store.remove(&point, FileKind::Partial)?;
            report.finished_before.push(point);
            tick(point, &mut progress);
        } else if !p.path.crosses_threshold() {
            store.promote_partial(&point)?;
            report.promoted.push(point);
            tick(point, &mut progress);
        } else {
            groups
                .entry(chain_group(origin, point))
                .or_default()
                .push(p);
        }
    }
    let Some(thresholds) = thresholds else {
        return Ok(report);
    };

    // Products on this thread; fsync, rename and partial removal on a committer thread, one
    // point behind, so that the disk works while the next point is computed.
    let files = store.files();
    let (to_commit, jobs) = mpsc::sync_channel::<Finished>(1);
    let (committed, done) = mpsc::channel::<EvolutionPoint>();
    let outcome = std::thread::scope(|s| -> Result<()> {
        let committer = s.spawn(move || -> Result<()> {
            for job in jobs {
                files.commit(
                    job.point,
                    FileKind::Operator,
                    job.value,
                    job.error,
                    Some(FileKind::Partial),
                )?;
                let _ = committed.send(job.point);
            }
            Ok(())
        });
        let computed = (|| -> Result<()> {
            let mut chain: Option<Chain> = None;
            for plans in groups.into_values() {
                let edges = &plans[0].path.thresholds;
                let started = Instant::now();
                let next = Chain::build(&thresholds, edges, chain.take(), kernel)?;
                let with_errors = plans.iter().any(|p| p.has_error)
                    && edges.iter().all(|e| thresholds.has_error(e));
                let shared = Shared::prepare(&thresholds, &next, with_errors, kernel)?;
                report.chains += 1;
                report.chain_seconds += started.elapsed().as_secs_f64();
                let started = Instant::now();
                for p in plans {
                    let point = p.path.target;
                    let finished = combine_point(store, point, &shared, kernel)?;
                    if to_commit.send(finished).is_err() {
                        return Ok(()); // the committer failed: its error is reported below
                    }
                    report.combined.push(point);
                    while let Ok(point) = done.try_recv() {
                        tick(point, &mut progress);
                    }
                }
                report.point_seconds += started.elapsed().as_secs_f64();
                chain = Some(next);
            }
            Ok(())
        })();
        drop(to_commit);
        let waited = Instant::now();
        for point in done.iter() {
            tick(point, &mut progress);
        }
        report.point_seconds += waited.elapsed().as_secs_f64();
        let committer = committer
            .join()
            .expect("the committer thread does not panic");
        computed.and(committer)
    });
    // The committer changed files behind the store's index.
    store.refresh()?;
    outcome.map(|()| report)
}

/// Where combine reads threshold operators: a store's `thresholds.npz`, or (through the C ABI) a
/// host's buffers.
pub(crate) trait ThresholdOperators {
    /// The operator of `edge`.
    fn operator(&self, edge: &Edge) -> Result<CowArray<'_, f64, Ix4>>;
    /// The error of `edge`, if it has one.
    fn error(&self, edge: &Edge) -> Result<Option<CowArray<'_, f64, Ix4>>>;
}

impl ThresholdOperators for Thresholds {
    fn operator(&self, edge: &Edge) -> Result<CowArray<'_, f64, Ix4>> {
        Thresholds::operator(self, edge)
    }
    fn error(&self, edge: &Edge) -> Result<Option<CowArray<'_, f64, Ix4>>> {
        Thresholds::error(self, edge)
    }
}

/// Groups points by the chain they share: points sharing a chain have the same nf; forward
/// chains in growing length, then backward ones, so that each chain extends the one before.
pub(crate) fn chain_group(origin: EvolutionPoint, point: EvolutionPoint) -> (bool, u8) {
    (point.nf < origin.nf, point.nf.abs_diff(origin.nf))
}

/// A partial's value and error, and where the final's value and error go.
pub(crate) struct PointProduct<'a> {
    /// The partial; `None` when `value` is [`Target::InPlace`] over it.
    pub partial: Option<ArrayView4<'a, f64>>,
    /// Where the final's value goes.
    pub value: Target<'a>,
    /// The partial's error (`Separate`) or its memory to overwrite (`InPlace`) with the final's
    /// error; `None` when the final has no error.
    pub error: Option<Target<'a>>,
}

/// Computes one point's final value and error: the error first, since it reads the partial's
/// value, which an in-place value overwrites.
pub(crate) fn multiply_point(
    product: PointProduct<'_>,
    shared: &Shared,
    kernel: &Kernel,
) -> Result<()> {
    if let (Some(target), Some(errors)) = (product.error, &shared.errors) {
        let partial = match (&product.partial, &product.value) {
            (Some(p), _) => p.view(),
            (None, Target::InPlace(v)) => v.view(),
            (None, Target::Separate { left, .. }) => left.view(),
        };
        errors.propagate(partial, target, kernel)?;
    }
    kernel.multiply(product.value, &shared.value)
}

/// A computed final operator, in temporary files, for the committer.
struct Finished {
    point: EvolutionPoint,
    value: PendingFile,
    error: Option<PendingFile>,
}

/// `P · chain` for one point, and its error in eko's order, written to temporary files.
fn combine_point(
    store: &Store,
    point: EvolutionPoint,
    shared: &Shared,
    kernel: &Kernel,
) -> Result<Finished> {
    let shape = store.metadata().square_shape();
    let partial = store.partial(&point)?;
    let partial_error = match &shared.errors {
        Some(_) => store.partial_error(&point)?,
        None => None,
    };
    // A final keeps its partial's memory order (a Fortran host's files stay Fortran order, so a
    // store does not mix orders and its stacks stay zero-copy).
    let create = |kind, like: &crate::store::OperatorFile| {
        NpyFileMut::<f64>::create(
            store.path_of(&point, kind),
            &shape,
            like.npy().header().order,
        )
    };
    let mut out = create(FileKind::Operator, &partial)?;
    let mut out_error = match (&partial_error, &shared.errors) {
        (Some(pe), Some(_)) => Some(create(FileKind::OperatorError, pe)?),
        _ => None,
    };
    multiply_point(
        PointProduct {
            partial: Some(partial.view()),
            value: Target::Separate {
                left: partial.view(),
                out: as_4d(out.view_mut()),
            },
            error: match (&partial_error, &mut out_error) {
                (Some(pe), Some(oe)) => Some(Target::Separate {
                    left: pe.view(),
                    out: as_4d(oe.view_mut()),
                }),
                _ => None,
            },
        },
        shared,
        kernel,
    )?;
    drop((partial, partial_error));
    // The final's header records its error's checksum (or that it has none).
    let record = match &mut out_error {
        Some(e) => ErrorRecord::Crc(e.record_checksums(ErrorRecord::NotRecorded)),
        None => ErrorRecord::Absent,
    };
    out.record_checksums(record);
    Ok(Finished {
        point,
        error: out_error.map(NpyFileMut::into_pending).transpose()?,
        value: out.into_pending()?,
    })
}

fn as_4d(view: ndarray::ArrayViewMutD<'_, f64>) -> ndarray::ArrayViewMut4<'_, f64> {
    view.into_dimensionality::<Ix4>()
        .expect("created with a rank-4 shape")
}

/// The product of a path's threshold operators, `M_k · E_k · ... · M_1 · E_1`.
pub(crate) struct Chain {
    edges: Vec<Edge>,
    value: Array4<f64>,
}

impl Chain {
    /// The chain of `edges`, extending `previous` when it is a prefix.
    pub(crate) fn build(
        thresholds: &dyn ThresholdOperators,
        edges: &[Edge],
        previous: Option<Chain>,
        kernel: &Kernel,
    ) -> Result<Chain> {
        let (mut chain, start) = match previous {
            Some(c) if edges.starts_with(&c.edges) && !c.edges.is_empty() => {
                let n = c.edges.len();
                (c, n)
            }
            _ => (
                Chain {
                    edges: vec![edges[0]],
                    value: thresholds.operator(&edges[0])?.into_owned(),
                },
                1,
            ),
        };
        for edge in &edges[start..] {
            let left = thresholds.operator(edge)?;
            let mut value = Array4::zeros(chain.value.raw_dim());
            kernel.multiply(
                Target::Separate {
                    left: left.view(),
                    out: value.view_mut(),
                },
                &kernel.factor(chain.value.view()),
            )?;
            chain.edges.push(*edge);
            chain.value = value;
        }
        Ok(chain)
    }
}

/// What every point of one chain uses: the chain as a right factor and, with errors, the factors
/// of eko's error propagation.
pub(crate) struct Shared {
    value: Factor,
    errors: Option<ErrorFactors>,
}

impl Shared {
    pub(crate) fn prepare(
        thresholds: &dyn ThresholdOperators,
        chain: &Chain,
        with_errors: bool,
        kernel: &Kernel,
    ) -> Result<Shared> {
        Ok(Shared {
            value: kernel.factor(chain.value.view()),
            errors: with_errors
                .then(|| ErrorFactors::prepare(thresholds, &chain.edges, kernel))
                .transpose()?,
        })
    }
}

/// eko folds a product from the target side, `V_j = V_{j-1} · T_j` with `V_0 = P` and
/// `T_1 .. T_m = M_k, E_k, .., M_1, E_1`, and propagates errors at each step:
/// `err V_j = |V_{j-1}|·|err T_j| + |err V_{j-1}|·|T_j|`. Unrolled, with `A_j = |T_j|···|T_m|`
/// and `B_j = |err T_j| · A_{j+1}` (shared by every point of the chain):
///
/// `err O = |err P| · A_1 + Σ_{j=1..m} |V_{j-1}| · B_j`
///
/// which is the same sum, so the point's error equals eko's (to rounding) while only the
/// `V_j` are computed per point.
struct ErrorFactors {
    /// `T_1 .. T_{m-1}`.
    steps: Vec<Factor>,
    /// `A_1`.
    a1: Factor,
    /// `B_1 .. B_m`.
    b: Vec<Factor>,
}

impl ErrorFactors {
    fn prepare(
        thresholds: &dyn ThresholdOperators,
        edges: &[Edge],
        kernel: &Kernel,
    ) -> Result<Self> {
        // T_1 .. T_m are the edges from the target side: walk them from T_m (the first edge
        // applied) back to T_1, building A_j and B_j, and keep T_1 .. T_{m-1} as factors.
        let mut b_rev = Vec::with_capacity(edges.len());
        let mut steps_rev = Vec::with_capacity(edges.len());
        let mut a: Option<Array4<f64>> = None;
        for edge in edges {
            let value = thresholds.operator(edge)?;
            let error = thresholds
                .error(edge)?
                .expect("only prepared when every edge has an error");
            let (b_j, a_j) = match &a {
                None => (error.mapv(f64::abs), value.mapv(f64::abs)),
                Some(a_next) => {
                    steps_rev.push(kernel.factor(value.view()));
                    let right = kernel.factor(a_next.view());
                    let mut b_j = Array4::zeros(a_next.raw_dim());
                    let mut a_j = Array4::zeros(a_next.raw_dim());
                    for (left, out) in [(error.view(), &mut b_j), (value.view(), &mut a_j)] {
                        kernel.multiply_abs_sum(
                            Target::Separate {
                                left,
                                out: out.view_mut(),
                            },
                            &right,
                            &[],
                        )?;
                    }
                    (b_j, a_j)
                }
            };
            b_rev.push(kernel.factor(b_j.view()));
            a = Some(a_j);
        }
        let a1 = a.expect("a chain has at least one edge");
        b_rev.reverse();
        steps_rev.reverse();
        Ok(ErrorFactors {
            steps: steps_rev,
            a1: kernel.factor(a1.view()),
            b: b_rev,
        })
    }

    /// Writes the error of `partial · chain` into `target`, whose left factor is the partial's
    /// error (read from `left`, or overwritten in place).
    fn propagate(
        &self,
        partial: ArrayView4<'_, f64>,
        target: Target<'_>,
        kernel: &Kernel,
    ) -> Result<()> {
        let mut v: Vec<Array4<f64>> = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let left = v.last().map_or(partial, |x| x.view());
            let mut next = Array4::zeros(partial.raw_dim());
            kernel.multiply(
                Target::Separate {
                    left,
                    out: next.view_mut(),
                },
                step,
            )?;
            v.push(next);
        }
        let terms: Vec<(ArrayView4<'_, f64>, &Factor)> = std::iter::once(partial)
            .chain(v.iter().map(|x| x.view()))
            .zip(&self.b)
            .collect();
        kernel.multiply_abs_sum(target, &self.a1, &terms)
    }
}

/// What [`clean`] removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanReport {
    /// Whether `thresholds.npz` was removed.
    pub removed_thresholds: bool,
    /// Partials left that needed it (only when forced).
    pub stranded_partials: Vec<EvolutionPoint>,
}

/// Removes `thresholds.npz`. Refuses while partials that need it remain, unless `force` (they
/// then can no longer be combined). After [`combine`] and `clean`, the store holds exactly the
/// final operators.
pub fn clean(store: &mut Store, force: bool) -> Result<CleanReport> {
    store.while_locked(|store| clean_locked(store, force))
}

fn clean_locked(store: &mut Store, force: bool) -> Result<CleanReport> {
    crate::store::check_writable(store.dir())?;
    let needing: Vec<EvolutionPoint> = plan(store)?
        .into_iter()
        .filter(|p| p.path.crosses_threshold() && !p.finished)
        .map(|p| p.path.target)
        .collect();
    if !needing.is_empty() && !force {
        return Err(Error::PartialsRemain {
            file: Location::file(store.dir()),
            count: needing.len(),
            first: needing[0].to_string(),
        });
    }
    let removed_thresholds = store.has_thresholds();
    store.remove_thresholds()?;
    Ok(CleanReport {
        removed_thresholds,
        stranded_partials: needing,
    })
}

/// The final operator of a path from explicit factors, by plain products in eko's order (a
/// reference for tests and checks): `partial · M_k · E_k · ... · E_1`.
pub fn reference_product(
    partial: ArrayView4<'_, f64>,
    thresholds: &[ArrayView4<'_, f64>],
) -> Array4<f64> {
    let shape = partial.raw_dim();
    let n = shape[0] * shape[1];
    let flat = |a: ArrayView4<'_, f64>| a.to_shape((n, n)).expect("square operator").into_owned();
    let mut acc = flat(partial);
    for t in thresholds.iter().rev() {
        acc = acc.dot(&flat(t.view()));
    }
    acc.into_shape_with_order(shape).expect("same size")
}
