//! Several processes write into one store at once (one process per point, as on a cluster, plus
//! points written by every process), then a merge with another store: nothing is lost, and each
//! point's operator and error come from one writer, never a mix.

mod common;

use std::path::Path;
use std::process::Command;

use eko::store::{EvolutionPoint, FileKind, MergeOptions, Store, merge};
use ndarray::Array4;

const NX: usize = 30;
const WRITERS: usize = 4;
const OWN: usize = 6;
const SHARED: usize = 4;

fn points_of(writer: usize) -> Vec<EvolutionPoint> {
    let own =
        (0..OWN).map(move |i| EvolutionPoint::new(100.0 + (writer * OWN + i) as f64, 5).unwrap());
    let shared = (0..SHARED).map(|i| EvolutionPoint::new(10.0 + i as f64, 4).unwrap());
    own.chain(shared).collect()
}

/// The child process: writes its points, operator and error filled with its id.
#[test]
fn child_writer() {
    let Ok(spec) = std::env::var("EKO_TEST_WRITER") else {
        return; // run as a normal test: nothing to do
    };
    let (dir, id) = spec.split_once('|').unwrap();
    let id: usize = id.parse().unwrap();
    let mut store = Store::open(dir).unwrap();
    let value = id as f64 + 1.0;
    let op = Array4::from_elem((14, NX, 14, NX), value);
    for point in points_of(id) {
        store
            .insert_operator(point, &op, Some(&op.mapv(|v| -v)))
            .unwrap();
    }
}

fn spawn_writers(dir: &Path, ids: std::ops::Range<usize>) -> Vec<std::process::Child> {
    ids.map(|id| {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writer", "--test-threads=1", "--quiet"])
            .env("EKO_TEST_WRITER", format!("{}|{id}", dir.display()))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    })
    .collect()
}

#[test]
fn concurrent_writers_then_merge_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let shared_store = dir.path().join("shared");
    let other_store = dir.path().join("other");
    Store::create(&shared_store, &common::metadata(NX)).unwrap();
    Store::create(&other_store, &common::metadata(NX)).unwrap();
    // Writers 0..4 into one store, writers 4..6 into another, all at once.
    let mut children = spawn_writers(&shared_store, 0..WRITERS);
    children.extend(spawn_writers(&other_store, WRITERS..WRITERS + 2));
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer failed");
    }
    let dest = dir.path().join("all");
    // The shared points differ between the two stores (other writers): take either, keep dest's.
    merge(
        &dest,
        &[&shared_store, &other_store],
        MergeOptions {
            on_conflict: eko::store::OnConflict::KeepDestination,
            ..Default::default()
        },
    )
    .unwrap();

    let store = Store::open(&dest).unwrap();
    let mut expected: Vec<EvolutionPoint> = (0..WRITERS + 2).flat_map(points_of).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(
        store.points_with(FileKind::Operator).collect::<Vec<_>>(),
        expected,
        "points lost"
    );
    for point in &expected {
        let op = store.operator(point).unwrap();
        let err = store
            .operator_error(point)
            .unwrap()
            .expect("every writer wrote an error");
        let first = op.view()[[0, 0, 0, 0]];
        assert!(
            op.view().iter().all(|&v| v == first),
            "{point}: operator is a mix of writers"
        );
        assert!(
            err.view().iter().all(|&v| v == -first),
            "{point}: error from another writer than the operator"
        );
    }
    for d in [&shared_store, &other_store, &dest] {
        let leftovers: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(eko::TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty(), "{}: {leftovers:?}", d.display());
    }
}
