//! The store: layout, lazy reading, atomic writes, rank-5 stacks, merge and split, bad input.

mod common;

use std::path::Path;

use eko::Error;
use eko::npy::{Order, WriteOptions, write_npy};
use eko::store::{
    EvolutionPoint, FileKind, MergeOptions, OnConflict, Store, Transfer, merge, split,
};
use ndarray::{Array4, s};

const NX: usize = 6;

fn pt(mu2: f64, nf: u8) -> EvolutionPoint {
    EvolutionPoint::new(mu2, nf).unwrap()
}

/// A store with operators (with errors on every other point) and partials.
fn filled(dir: &Path, points: &[EvolutionPoint], tag: f64) -> Store {
    let mut store = Store::create(dir, &common::metadata(NX)).unwrap();
    for (i, p) in points.iter().enumerate() {
        let op = common::operator(p, NX, tag);
        let err = op.mapv(|v| v.abs() * 1e-6);
        store
            .insert_operator(*p, &op, (i % 2 == 0).then_some(&err))
            .unwrap();
    }
    store
}

#[test]
fn layout_reading_and_removal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("eko");
    let points = [
        pt(10000.0, 5),
        pt(25.0, 4),
        pt(4.92f64.powi(2), 4),
        pt(4.92f64.powi(2), 5),
        pt(1.0, 3),
    ];
    let mut store = filled(&root, &points, 0.0);
    store
        .insert_partial(
            pt(100.0, 5),
            &common::operator(&pt(100.0, 5), NX, 1.0),
            None::<&Array4<f64>>,
        )
        .unwrap();

    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    assert!(names.contains(&"10000_nf5.npy".to_string()), "{names:?}");
    assert!(
        names.contains(&"10000_nf5.error.npy".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"24.2064_nf4.npy".to_string())
            && names.contains(&"24.2064_nf5.npy".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"100_nf5.part.npy".to_string()), "{names:?}");
    assert!(names.contains(&"metadata.json".to_string()));
    assert!(
        !names.iter().any(|n| n.starts_with(eko::TEMP_PREFIX)),
        "temporary files left: {names:?}"
    );

    let store = Store::open(&root).unwrap();
    assert_eq!(store.metadata(), &common::metadata(NX));
    let mut sorted = points.to_vec();
    sorted.sort();
    assert_eq!(
        store.points_with(FileKind::Operator).collect::<Vec<_>>(),
        sorted
    );
    for (p, op) in store.operators().map(Result::unwrap) {
        assert_eq!(op.view(), common::operator(&p, NX, 0.0));
        let i = points.iter().position(|q| *q == p).unwrap();
        assert_eq!(
            store.operator_error(&p).unwrap().is_some(),
            i % 2 == 0,
            "{p}"
        );
    }
    assert_eq!(
        store.partial(&pt(100.0, 5)).unwrap().view(),
        common::operator(&pt(100.0, 5), NX, 1.0)
    );
    assert!(store.partial_error(&pt(100.0, 5)).unwrap().is_none());
    assert!(matches!(
        store.operator(&pt(100.0, 5)),
        Err(Error::NoSuchPoint {
            kind: "operator",
            ..
        })
    ));

    // Replacing an operator that had an error with one that has none removes the old error.
    let mut store = store;
    store
        .insert_operator(
            points[0],
            &common::operator(&points[0], NX, 5.0),
            None::<&Array4<f64>>,
        )
        .unwrap();
    assert!(store.operator_error(&points[0]).unwrap().is_none());
    assert!(!store.path_of(&points[0], FileKind::OperatorError).exists());
    store.remove(&points[0], FileKind::Operator).unwrap();
    store.remove(&points[0], FileKind::Operator).unwrap(); // removing what is gone is fine
    let reopened = Store::open(&root).unwrap();
    assert!(
        !reopened
            .points_with(FileKind::Operator)
            .any(|p| p == points[0])
    );
    assert_eq!(
        reopened.points_with(FileKind::Operator).count(),
        points.len() - 1
    );
}

#[test]
fn opening_reads_no_operator_data() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("eko");
    filled(&root, &[pt(10.0, 4), pt(20.0, 4)], 0.0);
    // Corrupt an operator's header: opening and listing still work; reading it names the file.
    let path = root.join("10_nf4.npy");
    std::fs::write(&path, b"garbage").unwrap();
    let store = Store::open(&root).unwrap();
    assert_eq!(store.points().count(), 2);
    let err = store.operator(&pt(10.0, 4)).unwrap_err();
    assert!(
        matches!(err, Error::BadMagic { .. }) && err.to_string().contains("10_nf4.npy"),
        "{err}"
    );
    assert!(store.operator(&pt(20.0, 4)).is_ok());
    assert!(store.verify().is_err());
}

#[test]
fn bad_input_gets_its_own_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("eko");
    let mut store = filled(&root, &[pt(10.0, 4)], 0.0);
    let before = common::snapshot(&root);

    // NaN, negative and zero mu2, nf above 6.
    for (mu2, nf) in [(f64::NAN, 4), (-10.0, 4), (0.0, 4), (10.0, 7)] {
        let op = Array4::<f64>::zeros((14, NX, 14, NX));
        let p = EvolutionPoint { mu2, nf };
        assert!(matches!(
            store.insert_operator(p, &op, None::<&Array4<f64>>),
            Err(Error::InvalidPoint { .. })
        ));
    }
    // Wrong shape on insert.
    let wrong = Array4::<f64>::zeros((14, NX + 1, 14, NX));
    let err = store
        .insert_operator(pt(20.0, 4), &wrong, None::<&Array4<f64>>)
        .unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { .. }) && err.to_string().contains("20_nf4.npy"),
        "{err}"
    );
    assert_eq!(common::snapshot(&root), before);

    // Files put in the directory by someone else.
    let check = |name: &str, write: &dyn Fn(&Path), expect: &dyn Fn(&Error) -> bool| {
        let path = root.join(name);
        write(&path);
        let err = Store::open(&root).and_then(|s| {
            s.verify()?;
            Ok(s)
        });
        let err = err.unwrap_err();
        assert!(expect(&err), "{name}: {err}");
        assert!(
            err.to_string().contains(name),
            "{name}: {err} does not name the file"
        );
        std::fs::remove_file(&path).unwrap();
    };
    check("notes.txt", &|p| std::fs::write(p, "x").unwrap(), &|e| {
        matches!(e, Error::ForeignFile { .. })
    });
    check("1e1_nf4.npy", &|p| std::fs::write(p, "x").unwrap(), &|e| {
        matches!(e, Error::ForeignFile { .. })
    });
    check(
        "30_nf4.npy",
        &|p| {
            write_npy(
                p,
                &Array4::<f64>::zeros((14, NX, 14, NX + 1)),
                WriteOptions::default(),
            )
            .unwrap()
        },
        &|e| matches!(e, Error::ShapeMismatch { .. }),
    );
    check(
        "40_nf4.npy",
        &|p| {
            write_npy(
                p,
                &Array4::<f32>::zeros((14, NX, 14, NX)),
                WriteOptions::default(),
            )
            .unwrap()
        },
        &|e| matches!(e, Error::DtypeMismatch { .. }),
    );
    assert_eq!(common::snapshot(&root), before);

    // Missing and corrupt metadata.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(Store::open(&empty), Err(Error::NotAStore { .. })));
    let meta = root.join("metadata.json");
    let good = std::fs::read(&meta).unwrap();
    std::fs::write(&meta, b"{ not json").unwrap();
    let err = Store::open(&root).unwrap_err();
    assert!(
        matches!(err, Error::Metadata { .. }) && err.to_string().contains("metadata.json"),
        "{err}"
    );
    std::fs::write(
        &meta,
        String::from_utf8(good.clone())
            .unwrap()
            .replace("\"format_version\": 3", "\"format_version\": 9"),
    )
    .unwrap();
    assert!(
        Store::open(&root)
            .unwrap_err()
            .to_string()
            .contains("format_version 9 is not supported (this libeko reads versions 1 to 3)")
    );
    std::fs::write(&meta, &good).unwrap();
    assert_eq!(common::snapshot(&root), before);

    // Creating a store in a directory that holds other things.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("x"), b"x").unwrap();
    assert!(matches!(
        Store::create(&busy, &common::metadata(NX)),
        Err(Error::NotEmpty { .. })
    ));
    // Creating over an existing store with other metadata.
    let err = Store::create(&root, &common::metadata(NX + 1)).unwrap_err();
    assert!(
        matches!(err, Error::Incompatible { field: "xgrid", .. }),
        "{err}"
    );
    assert!(
        Store::create(&root, &common::metadata(NX)).is_ok(),
        "same metadata: opens"
    );
}

#[test]
fn merge_checks_metadata_and_conflicts_and_changes_nothing_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let c = dir.path().join("c");
    filled(&a, &[pt(10.0, 4), pt(20.0, 4)], 0.0);
    filled(&b, &[pt(20.0, 4), pt(30.0, 4)], 0.0); // 20 is an identical duplicate
    filled(&c, &[pt(30.0, 4)], 9.0); // 30 conflicts with b
    let other_grid = dir.path().join("other");
    let mut s = Store::create(&other_grid, &common::metadata(NX + 1)).unwrap();
    s.insert_operator(
        pt(40.0, 4),
        &Array4::<f64>::zeros((14, NX + 1, 14, NX + 1)),
        None::<&Array4<f64>>,
    )
    .unwrap();
    let all = |d: &Path| ["a", "b", "c", "other", "dest"].map(|n| common::snapshot(&d.join(n)));
    let before = all(dir.path());

    let dest = dir.path().join("dest");
    let err = merge(&dest, &[&a, &other_grid], MergeOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Incompatible { field: "xgrid", .. }),
        "{err}"
    );
    let err = merge(&dest, &[&a, &b, &c], MergeOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Conflict { .. }) && err.to_string().contains("(mu2=30, nf=4)"),
        "{err}"
    );
    assert_eq!(all(dir.path()), before, "a failed merge changed something");
    assert!(!dest.exists());

    // Identical duplicates are fine; policies resolve conflicts.
    let report = merge(&dest, &[&a, &b], MergeOptions::default()).unwrap();
    assert_eq!(report.identical, 1);
    let merged = Store::open(&dest).unwrap();
    assert_eq!(merged.points_with(FileKind::Operator).count(), 3);
    let keep = merge(
        &dest,
        &[&c],
        MergeOptions {
            on_conflict: OnConflict::KeepDestination,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((keep.kept, keep.linked), (1, 0));
    assert_eq!(
        Store::open(&dest)
            .unwrap()
            .operator(&pt(30.0, 4))
            .unwrap()
            .view(),
        common::operator(&pt(30.0, 4), NX, 0.0)
    );
    let replace = merge(
        &dest,
        &[&c],
        MergeOptions {
            on_conflict: OnConflict::TakeSource,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(replace.replaced, 1);
    let merged = Store::open(&dest).unwrap();
    assert_eq!(
        merged.operator(&pt(30.0, 4)).unwrap().view(),
        common::operator(&pt(30.0, 4), NX, 9.0)
    );
    // c's point 30 has an error (first point, tag 9); b's had one too: the pair came from c.
    assert_eq!(
        merged.operator_error(&pt(30.0, 4)).unwrap().unwrap().view(),
        common::operator(&pt(30.0, 4), NX, 9.0).mapv(|v| v.abs() * 1e-6)
    );
    assert_eq!(
        common::snapshot(&a),
        before[0],
        "linking left the sources as they were"
    );
    merged.verify().unwrap();
}

#[test]
fn merge_links_copies_or_moves() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    filled(&a, &[pt(10.0, 4), pt(20.0, 5)], 0.0);
    // Merging a store into itself finds everything identical and changes nothing.
    let before_self = common::snapshot(&a);
    let r = merge(&a, &[&a], MergeOptions::default()).unwrap();
    assert_eq!((r.identical, r.linked, r.copied), (2, 0, 0));
    assert_eq!(common::snapshot(&a), before_self);
    let linked = dir.path().join("linked");
    let r = merge(&linked, &[&a], MergeOptions::default()).unwrap();
    assert_eq!(
        (r.linked, r.copied),
        (4, 0),
        "metadata, 2 operators, 1 error"
    );
    assert_eq!(
        std::fs::metadata(linked.join("10_nf4.npy")).unwrap().ino(),
        std::fs::metadata(a.join("10_nf4.npy")).unwrap().ino()
    );
    let copied = dir.path().join("copied");
    let r = merge(
        &copied,
        &[&a],
        MergeOptions {
            transfer: Transfer::Copy,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((r.linked, r.copied), (0, 4));
    assert!(r.bytes_copied > 2 * 14 * 14 * NX as u64 * NX as u64 * 8);
    assert_eq!(common::snapshot(&copied), common::snapshot(&a));
    let moved = dir.path().join("moved");
    let before = common::snapshot(&a);
    let r = merge(
        &moved,
        &[&a],
        MergeOptions {
            transfer: Transfer::Move,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        r.unlinked_from_sources, 3,
        "the three point files leave; metadata stays"
    );
    assert_eq!(common::snapshot(&moved), before);
    assert_eq!(Store::open(&a).unwrap().points().count(), 0);
}

#[test]
fn split_then_merge_gives_back_the_original_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let points: Vec<_> = [1.0, 2.5, 10.0, 24.2064, 24.2064, 100.0, 1e4]
        .iter()
        .zip([3, 4, 4, 4, 5, 5, 5])
        .map(|(m, n)| pt(*m, n))
        .collect();
    let mut store = filled(&src, &points, 0.0);
    store
        .insert_partial(
            pt(50.0, 5),
            &common::operator(&pt(50.0, 5), NX, 2.0),
            Some(&common::operator(&pt(50.0, 5), NX, 3.0)),
        )
        .unwrap();
    let mut w = eko::npz::NpzWriter::create(src.join("thresholds.npz")).unwrap();
    w.add("segment", &common::operator(&pt(5.0, 4), NX, 0.0), Order::C)
        .unwrap();
    w.finish().unwrap();
    let original = common::snapshot(&src);

    let all: Vec<_> = Store::open(&src)
        .unwrap()
        .points()
        .map(|(p, _)| p)
        .collect();
    let parts: Vec<_> = eko::store::partition_even(&all, 3)
        .into_iter()
        .enumerate()
        .map(|(i, g)| (dir.path().join(format!("part{i}")), g))
        .collect();
    let report = split(&src, &parts, Transfer::Copy).unwrap();
    assert_eq!(report.points.iter().sum::<usize>(), all.len());
    for (d, _) in &parts {
        assert!(d.join("thresholds.npz").exists() && d.join("metadata.json").exists());
    }
    let back = dir.path().join("back");
    let part_dirs: Vec<&Path> = parts.iter().map(|(d, _)| d.as_path()).collect();
    merge(&back, &part_dirs, MergeOptions::default()).unwrap();
    assert_eq!(common::snapshot(&back), original);
    assert_eq!(
        common::snapshot(&src),
        original,
        "split by copy left the source as it was"
    );

    // Bad splits change nothing.
    let err = split(
        &src,
        &[(dir.path().join("x"), vec![pt(77.0, 4)])],
        Transfer::Link,
    )
    .unwrap_err();
    assert!(matches!(err, Error::NoSuchPoint { .. }), "{err}");
    let err = split(
        &src,
        &[
            (dir.path().join("x"), vec![points[0]]),
            (dir.path().join("y"), vec![points[0]]),
        ],
        Transfer::Link,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { .. })
            && err.to_string().contains("is assigned to two parts"),
        "{err}"
    );
    let err = split(
        &src,
        &[(parts[0].0.clone(), vec![points[0]])],
        Transfer::Link,
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");
    assert!(!dir.path().join("x").exists() && !dir.path().join("y").exists());
    assert_eq!(common::snapshot(&src), original);
}

#[test]
fn rank5_stacks_are_zero_copy_when_files_allow_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("eko");
    let points = [pt(10.0, 4), pt(20.0, 4), pt(30.0, 5)];
    let store = filled(&root, &points, 0.0);
    let stack = store.stack(&points, FileKind::Operator).unwrap();
    assert!(stack.is_zero_copy());
    let view = stack.view();
    assert_eq!(view.shape(), &[3, 14, NX, 14, NX]);
    for (i, p) in points.iter().enumerate() {
        assert_eq!(
            view.slice(s![i, .., .., .., ..]),
            common::operator(p, NX, 0.0)
        );
    }
    drop(stack);

    // A file with 64-byte alignment (written by another tool) makes it a copy, same values.
    write_npy(
        store.path_of(&points[1], FileKind::Operator),
        &common::operator(&points[1], NX, 0.0),
        WriteOptions {
            order: Order::C,
            align: 64,
        },
    )
    .unwrap();
    let stack = store.stack(&points, FileKind::Operator).unwrap();
    assert!(!stack.is_zero_copy());
    for (i, p) in points.iter().enumerate() {
        assert_eq!(
            stack.view().slice(s![i, .., .., .., ..]),
            common::operator(p, NX, 0.0)
        );
    }
    // Fortran-order files stack in place too.
    for p in &points {
        write_npy(
            store.path_of(p, FileKind::Operator),
            &common::operator(p, NX, 1.0),
            WriteOptions {
                order: Order::Fortran,
                align: 4096,
            },
        )
        .unwrap();
    }
    let stack = store.stack(&points, FileKind::Operator).unwrap();
    assert!(stack.is_zero_copy());
    for (i, p) in points.iter().enumerate() {
        assert_eq!(
            stack.view().slice(s![i, .., .., .., ..]),
            common::operator(p, NX, 1.0)
        );
    }
    assert!(matches!(
        store.stack(&[pt(99.0, 4)], FileKind::Operator),
        Err(Error::NoSuchPoint { .. })
    ));
}

#[test]
fn orphan_error_files_are_ignored_and_merge_replaces_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("eko");
    filled(&root, &[pt(10.0, 4)], 0.0);
    // An interrupted writer left an error file without its operator.
    write_npy(
        root.join("20_nf4.error.npy"),
        &common::operator(&pt(20.0, 4), NX, 0.0),
        WriteOptions::default(),
    )
    .unwrap();
    let store = Store::open(&root).unwrap();
    assert!(store.operator_error(&pt(20.0, 4)).unwrap().is_none());
    assert!(matches!(
        store.file(&pt(20.0, 4), FileKind::OperatorError),
        Err(Error::NoSuchPoint { .. })
    ));
    assert_eq!(store.points_with(FileKind::Operator).count(), 1);
    let src = dir.path().join("src");
    filled(&src, &[pt(20.0, 4)], 4.0); // first point: has an error
    merge(&root, &[&src], MergeOptions::default()).unwrap();
    let store = Store::open(&root).unwrap();
    assert_eq!(
        store.operator_error(&pt(20.0, 4)).unwrap().unwrap().view(),
        common::operator(&pt(20.0, 4), NX, 4.0).mapv(|v| v.abs() * 1e-6)
    );
}

#[test]
fn metadata_floats_round_trip_exactly_so_a_store_can_be_created_twice() {
    // serde_json's default float parser can be off by one ulp; every grid value must come back
    // bitwise, or a second job creating the same store is refused as incompatible.
    let dir = tempfile::tempdir().unwrap();
    let mut metadata = common::metadata(9);
    metadata.xgrid = (1..=200)
        .map(|i| (i as f64 / 200.0).powi(3) * 0.999_999_999_999_9)
        .collect();
    Store::create(dir.path(), &metadata).unwrap();
    let reopened = Store::create(dir.path(), &metadata).unwrap();
    for (a, b) in reopened.metadata().xgrid.iter().zip(&metadata.xgrid) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
}
