//! Combine against NumPy: random operators, forward and backward, one and two thresholds, with
//! and without errors, the same Q² with two nf. NumPy rebuilds every path itself from the
//! metadata and the member names of thresholds.npz, and folds eko's einsum chain from the target
//! side; libeko's final operators must agree within 1e-12 (relative, max norm).

mod common;

use common::point;

use std::path::Path;

use eko::combine::{Kernel, combine};
use eko::grid::{Computed, Grid, ProducerError, Task};
use eko::store::{EvolutionPoint, Store};
use ndarray::Array4;

const N_X: usize = 10;

/// Dense random operators, identity plus noise (not the structured synthetic ones: every block
/// is full), seeded by the task so that reruns agree.
fn random_producer(
    errors_on: fn(&Task) -> bool,
) -> impl FnMut(&Task) -> Result<Computed, ProducerError> {
    move |task: &Task| {
        let mut state = task
            .to_string()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let operator = Array4::from_shape_fn((14, N_X, 14, N_X), |(a, i, b, k)| {
            (if a == b && i == k { 1.0 } else { 0.0 }) + 0.3 * next()
        });
        let error = errors_on(task).then(|| operator.mapv(|v| v.abs() * 1e-6 * (1.5 + next())));
        Ok(Computed { operator, error })
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn check(errors_on: fn(&Task) -> bool, expect_errors: &[(EvolutionPoint, bool)]) {
    let mb = 4.92f64.powi(2);
    let targets = [
        point(1e5, 6),   // forward, two thresholds
        point(1e3, 6),   // forward, two thresholds, below the top scale
        point(100.0, 5), // forward, one threshold
        point(mb, 5),    // the same Q² with two nf ...
        point(mb, 4),    // ... this one crosses nothing
        point(2.0, 3),   // backward, one threshold
        point(5.0, 3),   // backward, Q² above the origin
    ];
    let grid = Grid::new(common::metadata(N_X), &targets).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = (dir.path().join("before"), dir.path().join("after"));
    grid.run_thresholds(&before, random_producer(errors_on))
        .unwrap();
    grid.run_partials(&before, &targets, random_producer(errors_on))
        .unwrap();
    copy_dir(&before, &after);
    let mut store = Store::open(&after).unwrap();
    combine(&mut store, &Kernel::new(2), |_| {}).unwrap();

    let out = common::run_python("check_combine.py", &[&before, &after]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let report = report.as_object().unwrap();
    assert_eq!(report.len(), targets.len(), "{out}");
    for (stem, entry) in report {
        let value = entry[0].as_f64().unwrap();
        assert!(
            value < 1e-12,
            "{stem}: operator differs by {value:e} (relative)"
        );
        if let Some(e) = entry[1].as_f64() {
            assert!(e < 1e-12, "{stem}: error differs by {e:e} (relative)");
        }
    }
    for (p, has) in expect_errors {
        let entry = &report[&p.stem()];
        assert_eq!(!entry[1].is_null(), *has, "{p}: {entry}");
    }
    let used: Vec<u64> = targets
        .iter()
        .map(|p| report[&p.stem()][2].as_u64().unwrap())
        .collect();
    assert_eq!(used, [4, 4, 2, 2, 0, 2, 2]);
}

#[test]
fn combine_equals_numpy_einsum_chain_without_errors() {
    check(|_| false, &[(point(1e5, 6), false)]);
}

#[test]
fn combine_equals_numpy_einsum_chain_with_errors() {
    check(|_| true, &[(point(1e5, 6), true), (point(2.0, 3), true)]);
}

#[test]
fn a_factor_without_error_means_no_error() {
    // The top matching has no error: points beyond it have none; the others keep theirs.
    check(
        |t| !matches!(t, Task::Threshold(e) if e.key().starts_with("matching_top_")),
        &[
            (point(1e5, 6), false),
            (point(100.0, 5), true),
            (point(2.0, 3), true),
        ],
    );
}
