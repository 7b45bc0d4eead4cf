//! The grid manager: computing an EKO operator by operator, in one process or in many.
//!
//! A [`Grid`] is a store's metadata and a list of target points. It knows every operator the
//! targets need: the threshold operators (shared, see [`EvolutionPath`]) and one partial per
//! target. A *producer* (a closure computing one operator at a time) is called for each; the
//! manager writes each result to the store at once and drops it, so it never holds more than one
//! operator. Work can be split across processes:
//!
//! ```text
//! job 0:     grid.run_thresholds("out/thresholds", producer)       (thresholds.npz only)
//! job 1..n:  grid.run_partials("out/job-i", &points_i, producer)    (partials only)
//! then:      eko::store::merge("out/all", [...]) ; eko::combine::combine(...)
//! ```
//!
//! or all in one: [`Grid::run`]. Runs are resumable: partials already in the store are not
//! recomputed, nor are thresholds when the store's `thresholds.npz` already holds every one.

use std::collections::BTreeSet;
use std::path::Path;

use ndarray::Array4;

use crate::combine::{self, CombineReport, Kernel};
use crate::error::{Error, Result};
use crate::store::{Edge, EvolutionPath, EvolutionPoint, FileKind, Metadata, Segment, Store};

/// One operator a producer is asked for.
#[derive(Debug, Clone, Copy)]
pub enum Task {
    /// A threshold operator (a segment ending on a matching scale, or a matching).
    Threshold(Edge),
    /// The partial operator of a target: its last segment.
    Partial {
        /// The target point.
        point: EvolutionPoint,
        /// The segment to compute.
        segment: Segment,
    },
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Task::Threshold(e) => write!(f, "threshold {e}"),
            Task::Partial { point, segment } => write!(
                f,
                "partial of {point} (segment mu2 {} -> {}, nf={})",
                segment.origin, segment.target, segment.nf
            ),
        }
    }
}

/// What a producer returns: an operator and, optionally, its error.
#[derive(Debug, Clone)]
pub struct Computed {
    /// The operator `[pid_out, x_out, pid_in, x_in]`.
    pub operator: Array4<f64>,
    /// Its error, if known.
    pub error: Option<Array4<f64>>,
}

/// The error a producer may return.
pub type ProducerError = Box<dyn std::error::Error + Send + Sync>;

/// A grid to compute: metadata and target points, with their paths.
#[derive(Debug, Clone)]
pub struct Grid {
    metadata: Metadata,
    paths: Vec<EvolutionPath>,
}

impl Grid {
    /// A grid of `targets` (duplicates are ignored). Fails when the metadata is invalid or a
    /// target has no path from the origin.
    pub fn new(metadata: Metadata, targets: &[EvolutionPoint]) -> Result<Self> {
        metadata.validate(&crate::error::Location::Buffer("grid metadata".into()))?;
        let targets: BTreeSet<EvolutionPoint> = targets
            .iter()
            .map(|p| p.validate())
            .collect::<Result<_>>()?;
        let paths = targets
            .into_iter()
            .map(|t| EvolutionPath::new(metadata.origin, &metadata.matching, t))
            .collect::<Result<_>>()?;
        Ok(Grid { metadata, paths })
    }

    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The target points, in order.
    pub fn targets(&self) -> impl Iterator<Item = EvolutionPoint> + '_ {
        self.paths.iter().map(|p| p.target)
    }

    /// Every target's path.
    pub fn paths(&self) -> &[EvolutionPath] {
        &self.paths
    }

    /// The threshold operators the targets need, each once, in order.
    pub fn threshold_edges(&self) -> Vec<Edge> {
        let set: BTreeSet<Edge> = self
            .paths
            .iter()
            .flat_map(|p| p.thresholds.iter().copied())
            .collect();
        set.into_iter().collect()
    }

    /// Computes every threshold operator into the store at `dir` (created when missing) as its
    /// `thresholds.npz`, calling `producer` once per edge. Each operator goes to the file when
    /// returned; the archive appears when complete. Skipped if the store already holds them all.
    pub fn run_thresholds<F>(&self, dir: impl AsRef<Path>, mut producer: F) -> Result<Store>
    where
        F: FnMut(&Task) -> std::result::Result<Computed, ProducerError>,
    {
        let mut store = Store::create(dir, &self.metadata)?;
        // A rerun after a kill starts from what the killed run had finished.
        store.recover_once()?;
        let edges = self.threshold_edges();
        if edges.is_empty() {
            return Ok(store);
        }
        if let Some(existing) = store.thresholds()?
            && edges.iter().all(|e| existing.contains(e))
        {
            return Ok(store);
        }
        let mut writer = store.thresholds_writer()?;
        for edge in &edges {
            let task = Task::Threshold(*edge);
            let computed = call(&mut producer, &task)?;
            writer.add(edge, &computed.operator, computed.error.as_ref())?;
        }
        store.commit_thresholds(writer)?;
        Ok(store)
    }

    /// Computes the partials of `points` (each must be a target of the grid) into the store at
    /// `dir` (created when missing), each written when returned. Points whose partial (or final
    /// operator) the store already has are skipped.
    pub fn run_partials<F>(
        &self,
        dir: impl AsRef<Path>,
        points: &[EvolutionPoint],
        mut producer: F,
    ) -> Result<Store>
    where
        F: FnMut(&Task) -> std::result::Result<Computed, ProducerError>,
    {
        let mut store = Store::create(dir, &self.metadata)?;
        // A rerun after a kill starts from what the killed run had finished.
        store.recover_once()?;
        for point in points {
            let path = self
                .paths
                .iter()
                .find(|p| p.target == *point)
                .ok_or_else(|| Error::InvalidArgument {
                    reason: format!("{point} is not a target of the grid"),
                })?;
            let files = store.files_of(point);
            if files.has(FileKind::Partial) || files.has(FileKind::Operator) {
                continue;
            }
            let task = Task::Partial {
                point: *point,
                segment: path.partial,
            };
            let computed = call(&mut producer, &task)?;
            store.insert_partial(*point, &computed.operator, computed.error.as_ref())?;
        }
        Ok(store)
    }

    /// Everything in one process: thresholds, every partial, then combine into final operators
    /// (thresholds and partials stay until [`combine::clean`]).
    pub fn run<F>(
        &self,
        dir: impl AsRef<Path>,
        mut producer: F,
        kernel: &Kernel,
    ) -> Result<(Store, CombineReport)>
    where
        F: FnMut(&Task) -> std::result::Result<Computed, ProducerError>,
    {
        let dir = dir.as_ref();
        self.run_thresholds(dir, &mut producer)?;
        let targets: Vec<EvolutionPoint> = self.targets().collect();
        let mut store = self.run_partials(dir, &targets, &mut producer)?;
        let report = combine::combine(&mut store, kernel, |_| {})?;
        Ok((store, report))
    }
}

fn call<F>(producer: &mut F, task: &Task) -> Result<Computed>
where
    F: FnMut(&Task) -> std::result::Result<Computed, ProducerError>,
{
    producer(task).map_err(|source| Error::Producer {
        task: task.to_string(),
        source,
    })
}
