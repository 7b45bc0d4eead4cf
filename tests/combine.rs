//! Combine and clean on stores, the grid manager, interrupted and multi-process runs.

mod common;

use common::point;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use eko::Error;
use eko::combine::{Kernel, clean, combine, plan, reference_product};
use eko::grid::{Computed, Grid, ProducerError, Task};
use eko::store::{EvolutionPath, EvolutionPoint, FileKind, MergeOptions, Store, merge};
use eko::synthetic::Synthetic;
use ndarray::{Array4, ArrayView4};

/// Targets on every kind of path: no threshold (nf 4, including below the origin's mu2), one
/// threshold forward (nf 5, including below the bottom scale) and backward (nf 3), two forward
/// (nf 6), and the same Q² with two nf.
fn targets() -> Vec<EvolutionPoint> {
    let mb = 4.92f64.powi(2);
    vec![
        point(1.0, 4),
        point(10.0, 4),
        point(mb, 4),
        point(mb, 5),
        point(10.0, 5),
        point(100.0, 5),
        point(2.0, 3),
        point(2.0, 4),
        point(1e5, 6),
        point(1e6, 6),
    ]
}

fn producer(
    n_x: usize,
    errors: bool,
) -> impl FnMut(&Task) -> Result<Computed, ProducerError> + Clone {
    let synthetic = Synthetic::new(eko::store::FLAVOR_BASIS.to_vec(), n_x, 42);
    move |task: &Task| {
        let op = synthetic.task(task);
        Ok(Computed {
            operator: op.operator,
            error: errors.then_some(op.error),
        })
    }
}

fn max_rel(found: ArrayView4<'_, f64>, expected: ArrayView4<'_, f64>) -> f64 {
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = found
        .iter()
        .zip(expected.iter())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

/// eko's fold from the target side, with first-order errors.
fn reference(synthetic: &Synthetic, path: &EvolutionPath) -> (Array4<f64>, Array4<f64>) {
    let last = synthetic.segment(&path.partial);
    let (mut value, mut error) = (last.operator, last.error);
    for edge in path.thresholds.iter().rev() {
        let t = synthetic.edge(edge);
        let abs = |a: &Array4<f64>| a.mapv(f64::abs);
        error = reference_product(abs(&value).view(), &[abs(&t.error).view()])
            + reference_product(abs(&error).view(), &[abs(&t.operator).view()]);
        value = reference_product(value.view(), &[t.operator.view()]);
    }
    (value, error)
}

#[test]
fn combine_matches_reference_products_with_and_without_errors() {
    let n_x = 9;
    for errors in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let grid = Grid::new(common::metadata(n_x), &targets()).unwrap();
        let (store, report) = grid
            .run(dir.path(), producer(n_x, errors), &Kernel::new(2))
            .unwrap();
        assert_eq!(report.promoted.len(), 4, "{report:?}");
        assert_eq!(report.combined.len(), 6);
        // nf 5, nf 6 (extending nf 5), nf 3: three chains, each computed once.
        assert_eq!(report.chains, 3);
        let synthetic = Synthetic::new(eko::store::FLAVOR_BASIS.to_vec(), n_x, 42);
        for path in grid.paths() {
            let p = path.target;
            assert!(!store.files_of(&p).has(FileKind::Partial), "{p}");
            let (value, error) = reference(&synthetic, path);
            let op = store.operator(&p).unwrap();
            assert!(max_rel(op.view(), value.view()) < 1e-12, "{p}");
            match store.operator_error(&p).unwrap() {
                Some(e) => {
                    assert!(errors);
                    let r = max_rel(e.view(), error.view());
                    eprintln!("{p} err rel {r}");
                    assert!(r < 1e-12, "{p}");
                }
                None => assert!(!errors, "{p} lost its error"),
            }
        }
    }
}

/// A Fortran host's partials (Fortran-order files) give Fortran-order finals with the same values
/// as C-order ones, so a store never mixes memory orders.
#[test]
fn a_final_keeps_its_partials_memory_order() {
    use eko::npy::Order;
    use ndarray::ShapeBuilder;
    let n_x = 6;
    let grid = Grid::new(common::metadata(n_x), &targets()).unwrap();
    let c_dir = tempfile::tempdir().unwrap();
    let (c_store, _) = grid
        .run(c_dir.path(), producer(n_x, true), &Kernel::new(1))
        .unwrap();
    // The same partials, written from Fortran-order arrays.
    let f_dir = tempfile::tempdir().unwrap();
    grid.run_thresholds(f_dir.path(), producer(n_x, true))
        .unwrap();
    let mut f_store = Store::open(f_dir.path()).unwrap();
    let synthetic = Synthetic::new(eko::store::FLAVOR_BASIS.to_vec(), n_x, 42);
    let fortran = |a: &Array4<f64>| {
        let mut f = Array4::zeros(a.raw_dim().f());
        f.assign(a);
        f
    };
    for path in grid.paths() {
        let op = synthetic.segment(&path.partial);
        f_store
            .insert_partial(
                path.target,
                &fortran(&op.operator),
                Some(&fortran(&op.error)),
            )
            .unwrap();
    }
    combine(&mut f_store, &Kernel::new(1), |_| {}).unwrap();
    for path in grid.paths() {
        let p = path.target;
        for kind in [FileKind::Operator, FileKind::OperatorError] {
            let f = f_store.file(&p, kind).unwrap();
            assert_eq!(f.npy().header().order, Order::Fortran, "{p} {kind:?}");
            let c = c_store.file(&p, kind).unwrap();
            assert_eq!(c.npy().header().order, Order::C);
            assert!(max_rel(f.view(), c.view()) < 1e-13, "{p} {kind:?}");
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let n_x = 7;
    let grid = Grid::new(common::metadata(n_x), &targets()).unwrap();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (dir, threads) in dirs.iter().zip([1, 3]) {
        grid.run(dir.path(), producer(n_x, true), &Kernel::new(threads))
            .unwrap();
    }
    assert_eq!(
        common::snapshot(dirs[0].path()),
        common::snapshot(dirs[1].path())
    );
}

#[test]
fn a_missing_threshold_is_named_and_nothing_is_written() {
    let n_x = 5;
    let grid = Grid::new(common::metadata(n_x), &targets()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<_> = grid.targets().collect();
    let mut store = grid
        .run_partials(dir.path(), &all, producer(n_x, true))
        .unwrap();
    let before = common::snapshot(dir.path());
    let err = combine(&mut store, &Kernel::new(1), |_| {}).unwrap_err();
    match &err {
        Error::MissingEdge { point, member, .. } => {
            assert!(point.contains("nf="), "{err}");
            assert!(
                member.starts_with("segment_") && member.ends_with(".npy"),
                "{err}"
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(common::snapshot(dir.path()), before);

    // Thresholds for nf 5 only: the nf 6 points are named, with the top matching.
    let partial_grid = Grid::new(common::metadata(n_x), &[point(100.0, 5)]).unwrap();
    partial_grid
        .run_thresholds(dir.path(), producer(n_x, true))
        .unwrap();
    store.refresh().unwrap();
    let before = common::snapshot(dir.path());
    let err = combine(&mut store, &Kernel::new(1), |_| {}).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("nf=") && text.contains("thresholds.npz"),
        "{text}"
    );
    assert_eq!(common::snapshot(dir.path()), before);
    let plans = plan(&store).unwrap();
    let six = plans
        .iter()
        .find(|p| p.path.target == point(1e5, 6))
        .unwrap();
    assert!(!six.combinable());
    assert!(
        six.missing
            .iter()
            .any(|e| e.key().starts_with("matching_top_"))
    );
}

#[test]
fn clean_refuses_while_partials_need_thresholds_then_leaves_only_finals() {
    let n_x = 5;
    let grid = Grid::new(common::metadata(n_x), &targets()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    grid.run_thresholds(dir.path(), producer(n_x, false))
        .unwrap();
    let all: Vec<_> = grid.targets().collect();
    let mut store = grid
        .run_partials(dir.path(), &all, producer(n_x, false))
        .unwrap();
    let err = clean(&mut store, false).unwrap_err();
    assert!(
        matches!(err, Error::PartialsRemain { count: 6, .. }),
        "{err}"
    );
    assert!(store.has_thresholds());

    combine(&mut store, &Kernel::new(1), |_| {}).unwrap();
    let report = clean(&mut store, false).unwrap();
    assert!(report.removed_thresholds);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(names.len(), 1 + targets().len(), "{names:?}");
    assert!(
        names.iter().all(|n| n == "metadata.json"
            || FileKind::parse_file_name(n).is_some_and(|(_, k)| k == FileKind::Operator)),
        "{names:?}"
    );

    // Forced: partials are stranded, and say so.
    let dir = tempfile::tempdir().unwrap();
    grid.run_thresholds(dir.path(), producer(n_x, false))
        .unwrap();
    let mut store = grid
        .run_partials(dir.path(), &all, producer(n_x, false))
        .unwrap();
    let report = clean(&mut store, true).unwrap();
    assert_eq!(report.stranded_partials.len(), 6);
    assert!(!store.has_thresholds());
}

#[test]
fn a_point_finished_before_an_interruption_only_loses_its_partial() {
    let n_x = 5;
    let grid = Grid::new(common::metadata(n_x), &[point(100.0, 5)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = grid
        .run(dir.path(), producer(n_x, true), &Kernel::new(1))
        .unwrap();
    let done = common::snapshot(dir.path());
    // Put the partial back, as if the combine had been killed after the final's commit.
    let other = tempfile::tempdir().unwrap();
    let mut store = grid
        .run_partials(other.path(), &[point(100.0, 5)], producer(n_x, true))
        .unwrap();
    let part = store.path_of(&point(100.0, 5), FileKind::Partial);
    std::fs::copy(&part, dir.path().join(part.file_name().unwrap())).unwrap();
    store = Store::open(dir.path()).unwrap();
    let report = combine(&mut store, &Kernel::new(1), |_| {}).unwrap();
    assert_eq!(report.finished_before, [point(100.0, 5)]);
    assert_eq!(common::snapshot(dir.path()), done);
}

const KILL_NX: usize = 24;

fn kill_targets() -> Vec<EvolutionPoint> {
    (0..24)
        .map(|i| point(30.0 + 10.0 * i as f64, 5))
        .chain((0..6).map(|i| point(1e5 * (i + 1) as f64, 6)))
        .collect()
}

/// Child process for the interruption test: combines the store, printing each point done.
#[test]
fn child_combine() {
    let Ok(dir) = std::env::var("EKO_TEST_COMBINE") else {
        return;
    };
    let mut store = Store::open(dir).unwrap();
    combine(&mut store, &Kernel::new(1), |p| {
        println!("done {}", p.done);
    })
    .unwrap();
}

#[test]
fn a_killed_combine_resumes_and_finishes_identically() {
    let grid = Grid::new(common::metadata(KILL_NX), &kill_targets()).unwrap();
    let whole = tempfile::tempdir().unwrap();
    grid.run(whole.path(), producer(KILL_NX, true), &Kernel::new(1))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    grid.run_thresholds(dir.path(), producer(KILL_NX, true))
        .unwrap();
    let all: Vec<_> = grid.targets().collect();
    grid.run_partials(dir.path(), &all, producer(KILL_NX, true))
        .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_combine",
            "--test-threads=1",
            "--nocapture",
            "--quiet",
        ])
        .env("EKO_TEST_COMBINE", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        if line.unwrap().starts_with("done 5") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let finals = store.points_with(FileKind::Operator).count();
    let parts = store.points_with(FileKind::Partial).count();
    assert!(
        finals >= 5 && parts > 0,
        "killed too late: {finals} finals, {parts} partials"
    );
    let report = combine(&mut store, &Kernel::new(2), |_| {}).unwrap();
    assert_eq!(report.combined.len() + report.finished_before.len(), parts);
    let strip = |d: &Path| {
        let mut s = common::snapshot(d);
        s.retain(|name, _| !name.starts_with('.'));
        s
    };
    assert_eq!(strip(dir.path()), strip(whole.path()));
}

/// Child process for the multi-process test: thresholds, or the partials of some points.
#[test]
fn child_producer() {
    let Ok(spec) = std::env::var("EKO_TEST_PRODUCER") else {
        return;
    };
    let (dir, what) = spec.split_once('|').unwrap();
    let grid = Grid::new(common::metadata(KILL_NX), &kill_targets()).unwrap();
    if what == "thresholds" {
        grid.run_thresholds(dir, producer(KILL_NX, true)).unwrap();
    } else {
        let job: usize = what.parse().unwrap();
        let mine: Vec<_> = grid.targets().skip(job).step_by(3).collect();
        grid.run_partials(dir, &mine, producer(KILL_NX, true))
            .unwrap();
    }
}

#[test]
fn independent_processes_give_the_single_process_result() {
    let grid = Grid::new(common::metadata(KILL_NX), &kill_targets()).unwrap();
    let single = tempfile::tempdir().unwrap();
    grid.run(single.path(), producer(KILL_NX, true), &Kernel::new(1))
        .unwrap();

    let work = tempfile::tempdir().unwrap();
    let jobs = ["thresholds", "0", "1", "2"];
    let children: Vec<_> = jobs
        .iter()
        .map(|job| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "child_producer", "--test-threads=1", "--quiet"])
                .env(
                    "EKO_TEST_PRODUCER",
                    format!("{}|{job}", work.path().join(job).display()),
                )
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let all = work.path().join("all");
    let sources: Vec<_> = jobs.iter().map(|j| work.path().join(j)).collect();
    let sources: Vec<&Path> = sources.iter().map(|p| p.as_path()).collect();
    merge(&all, &sources, MergeOptions::default()).unwrap();
    let mut store = Store::open(&all).unwrap();
    combine(&mut store, &Kernel::new(2), |_| {}).unwrap();
    assert_eq!(common::snapshot(&all), common::snapshot(single.path()));
}
