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
    let mut operator = Array4::zeros(transform.shape());
    let mut error = Array4::zeros(transform.shape());
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
    for (done, point) in points.iter().enumerate() {
        transform.apply(source.operator(point)?.view(), operator.view_mut())?;
        let has_error = match source.operator_error(point)? {
            Some(e) => {
                transform.apply(e.view(), error.view_mut())?;
                true
            }
            None => false,
        };
        store.insert_operator(*point, &operator, has_error.then_some(&error))?;
        fault_point!("reshape.point");
        report.points.push(*point);
        report.errors += usize::from(has_error);
        report.bytes_written += bytes * (1 + u64::from(has_error));
        progress(ReshapeProgress {
            done: done + 1,
            total: points.len(),
            point: *point,
        });
    }
    drop(store);
    fault_point!("reshape.rename-into-place");
    crate::atomic::place_dir(&store_dir, dest)?;
    drop(root);
    Ok(report)
}
