//! `reshape`: a store's final operators transformed into a new, complete store.

use std::path::{Path, PathBuf};

use ndarray::Array4;
use serde::Serialize;

use super::{Transform, TransformSpec};
use crate::error::{Error, Result};
use crate::fault::fault_point;
use crate::store::{EvolutionPoint, FileKind, Store};

/// Progress of a [`reshape`]: operators done of the total, and the last point done.
#[derive(Debug, Clone, Copy)]
pub struct ReshapeProgress {
    /// Operators written.
    pub done: usize,
    /// Operators to write.
    pub total: usize,
    /// The point just written.
    pub point: EvolutionPoint,
}

/// What [`reshape`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ReshapeReport {
    /// The source store.
    pub source: PathBuf,
    /// The new store.
    pub store: PathBuf,
    /// The points, each a final operator (with its error when the source had one).
    pub points: Vec<EvolutionPoint>,
    /// How many of them have an error.
    pub errors: usize,
    /// The source's operator shape.
    pub shape_before: [usize; 4],
    /// The new store's operator shape.
    pub shape_after: [usize; 4],
    /// Bytes of operators (and errors) written.
    pub bytes_written: u64,
    /// What the transform did (also recorded in the new store's `reshaped_from`).
    pub transform: serde_json::Value,
}

/// One point on its way to the writer: the transformed operator and error, in buffers that
/// go back and forth.
struct Job {
    point: EvolutionPoint,
    operator: Array4<f64>,
    error: Array4<f64>,
    has_error: bool,
}

impl Job {
    fn new(shape: [usize; 4]) -> Self {
        Job {
            point: EvolutionPoint { mu2: 1.0, nf: 0 },
            operator: Array4::zeros(shape),
            error: Array4::zeros(shape),
            has_error: false,
        }
    }
}

/// The writer's step: one point's operator and error into the new store.
fn write(store: &mut Store, job: &Job) -> Result<()> {
    store.insert_operator(
        job.point,
        &job.operator,
        job.has_error.then_some(&job.error),
    )?;
    fault_point!("reshape.point");
    Ok(())
}

/// The writer ended without reporting every point (it cannot: it reports each, failures
/// included, before stopping).
fn writer_gone() -> Error {
    Error::InvalidArgument {
        reason: "reshape: the writer thread stopped before writing every operator".into(),
    }
}

/// Writes the final operators of `source`, transformed as `spec` asks (see [`Transform`]), with
/// their errors, as a new store at `dest` (which must not exist, or be an empty directory,
/// outside any store). The new store's metadata records the new sides, the interpolation and,
/// under `reshaped_from`, the transform and `provenance` (for example the source's path and the
/// files the new grids came from); it holds final operators only (partials and thresholds are
/// square and stay in the source).
///
/// Streams: one operator mapped and one transformed buffer at a time, whatever the number of
/// points. Atomic: the store is built in a locked temporary directory beside `dest`
/// (`.eko-tmp.reshape.{name}.*`) and renamed into place when complete; on error, or killed,
/// nothing appears at `dest` (a killed run's directory is removed by the next reshape to `dest`
/// or by [`recover`](crate::store::recover) of `dest`'s leftovers). `threads` transform each
/// operator. `progress` is called after each operator.
pub fn reshape(
    source: &Store,
    dest: &Path,
    spec: &TransformSpec,
    threads: usize,
    provenance: serde_json::Value,
    mut progress: impl FnMut(ReshapeProgress),
) -> Result<ReshapeReport> {
    if spec.is_empty() {
        return Err(Error::InvalidArgument {
            reason: "nothing to reshape: ask for a new output or input x grid, or a basis (eko \
                     reshape --xgrid-out/--xgrid-in/--basis-out/--basis-in)"
                .into(),
        });
    }
    let only_partial: Vec<String> = source
        .points_with(FileKind::Partial)
        .filter(|p| !source.files_of(p).has(FileKind::Operator))
        .map(|p| p.to_string())
        .collect();
    if !only_partial.is_empty() {
        return Err(Error::InvalidArgument {
            reason: format!(
                "{}: {} {} only a partial, {}: reshape transforms final operators; run `eko \
                 combine` first",
                source.dir().display(),
                if only_partial.len() == 1 {
                    "1 point".to_string()
                } else {
                    format!("{} points", only_partial.len())
                },
                if only_partial.len() == 1 { "has" } else { "have" },
                only_partial.join(", ")
            ),
        });
    }
    let points: Vec<EvolutionPoint> = source.points_with(FileKind::Operator).collect();
    if points.is_empty() {
        return Err(Error::InvalidArgument {
            reason: format!(
                "{}: the store has no final operator to reshape",
                source.dir().display()
            ),
        });
    }
    let transform = Transform::new(source.metadata(), spec)?.with_threads(threads);
    crate::atomic::check_new_store_dir(dest)?;
    let root = crate::atomic::TempDir::beside(dest, "reshape")?;
    let store_dir = root.path().join("store");
    let metadata = transform.metadata(source.metadata(), provenance);
    let mut store = Store::create(&store_dir, &metadata)?;
    // A private directory, placed whole or discarded: files are synced together at the end.
    store.start_bulk();
    let mut report = ReshapeReport {
        source: source.dir().to_path_buf(),
        store: dest.to_path_buf(),
        points: Vec::with_capacity(points.len()),
        errors: 0,
        shape_before: transform.source_shape(),
        shape_after: transform.shape(),
        bytes_written: 0,
        transform: transform.description(),
    };
    let bytes = (transform.shape().iter().product::<usize>() * 8) as u64;
    let total = points.len();
    // A writer thread writes point k while this thread transforms point k + 1: two buffer pairs
    // circulate between them, so memory stays flat. Only the writer reaches fault points here
    // (the transform only reads), so their order is that of the points.
    let (to_writer, jobs) = std::sync::mpsc::sync_channel::<Job>(1);
    let (to_main, written) = std::sync::mpsc::channel::<(Job, Result<()>)>();
    let store = std::thread::scope(|scope| -> Result<Store> {
        let writer = scope.spawn(move || {
            let mut store = store;
            for job in jobs {
                let result = write(&mut store, &job);
                let failed = result.is_err();
                if to_main.send((job, result)).is_err() || failed {
                    break;
                }
            }
            store
        });
        let mut free = vec![Job::new(transform.shape()), Job::new(transform.shape())];
        let mut finish = |(job, result): (Job, Result<()>), free: &mut Vec<Job>| {
            result?;
            report.points.push(job.point);
            report.errors += usize::from(job.has_error);
            report.bytes_written += bytes * (1 + u64::from(job.has_error));
            progress(ReshapeProgress {
                done: report.points.len(),
                total,
                point: job.point,
            });
            free.push(job);
            Ok::<(), Error>(())
        };
        let produced = (|| -> Result<()> {
            for point in &points {
                let mut job = match free.pop() {
                    Some(job) => job,
                    None => {
                        // The writer holds both pairs: wait for the older one.
                        let done = written.recv().map_err(|_| writer_gone())?;
                        finish(done, &mut free)?;
                        free.pop().expect("just freed")
                    }
                };
                job.point = *point;
                transform.apply(source.operator(point)?.view(), job.operator.view_mut())?;
                job.has_error = match source.operator_error(point)? {
                    Some(e) => {
                        transform.apply(e.view(), job.error.view_mut())?;
                        true
                    }
                    None => false,
                };
                if to_writer.send(job).is_err() {
                    // The writer stopped on a failure: its report says which.
                    break;
                }
            }
            Ok(())
        })();
        // No more jobs: the writer finishes what it has, reports each, and returns the store.
        drop(to_writer);
        let mut outcome = produced;
        for done in written.iter() {
            if outcome.is_ok() {
                outcome = finish(done, &mut free);
            }
        }
        let store = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        outcome?;
        if report.points.len() != total {
            return Err(writer_gone());
        }
        Ok(store)
    })?;
    let mut store = store;
    store.finish_bulk()?;
    drop(store);
    fault_point!("reshape.rename-into-place");
    crate::atomic::place_dir(&store_dir, dest)?;
    drop(root);
    Ok(report)
}
