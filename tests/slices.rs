//! [`Slices`]: a store's final operators one scale at a time, as FK-table producers take them.
//!
//! - ascending μ² whatever the insertion order; zero-copy views inside the mapped files, equal to
//!   the store's operators; slice descriptions (`fac0`, `fac1`, index, position within 4096 ulps);
//! - selection by scales (within 4096 ulps, order and repeats ignored), every missing scale named
//!   in one error, a partial-only scale told to run combine;
//! - a μ² held at two nf refused (naming μ², both nf and `--nf-at`) and resolved by `nf_at`; an
//!   `nf_at` naming no point refused;
//! - a transform served the same through `iter`, `cursor` (one reused buffer) and `write_into`
//!   as [`Transform::apply_owned`]; a transform for other operators refused;
//! - `release` keeps views valid and equal; iterating a store of 40 operators of 3.9 MB keeps
//!   resident file memory at about one operator, where the same loop without release holds them
//!   all (measured in a child process, alone).

mod common;

use std::path::Path;
use std::process::Command;

use eko::slices::{NODE_ULPS, SliceSelection, Slices, same_node};
use eko::store::{Basis, EVOLUTION_BASIS, EvolutionPoint, FLAVOR_BASIS, Store};
use eko::transform::{Rotation, SideChange, Transform, TransformSpec};
use ndarray::{Array4, ArrayView4, ShapeBuilder};

const N_X: usize = 10;

/// `mu2` moved by `ulps` units in the last place.
fn ulps_away(mu2: f64, ulps: i64) -> f64 {
    f64::from_bits((mu2.to_bits() as i64 + ulps) as u64)
}

/// A store at `dir` with final operators at `points` (inserted in the order given), each its own
/// values (`common::operator`).
fn store_with(dir: &Path, points: &[EvolutionPoint]) -> Store {
    let mut store = Store::create(dir, &common::metadata(N_X)).unwrap();
    for (n, p) in points.iter().enumerate() {
        let op = common::operator(p, N_X, n as f64);
        let err = op.mapv(|v| 1e-6 * v.abs());
        store.insert_operator(*p, &op, Some(&err)).unwrap();
    }
    store.refresh().unwrap();
    store
}

fn message<T: std::fmt::Debug>(result: eko::Result<T>) -> String {
    result.expect_err("should be refused").to_string()
}

/// The pointer range of a view's elements.
fn range_of(view: &ArrayView4<'_, f64>) -> std::ops::Range<usize> {
    let start = view.as_ptr() as usize;
    start..start + view.len() * 8
}

#[test]
fn slices_come_in_ascending_mu2_as_zero_copy_views_of_the_files() {
    let dir = tempfile::tempdir().unwrap();
    // Inserted out of order; 1.2 is below the origin (backward), nf differ.
    let points = [
        common::point(1000.0, 5),
        common::point(10.0, 4),
        common::point(1.2, 3),
        common::point(50.7, 5),
        common::point(3.0e4, 5),
    ];
    let store = store_with(dir.path(), &points);
    let slices = Slices::new(&store, &SliceSelection::default(), None).unwrap();
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.mu2.total_cmp(&b.mu2));
    assert_eq!(slices.points(), sorted.as_slice());
    assert_eq!(slices.len(), 5);
    assert!(!slices.is_empty());
    assert_eq!(slices.shape(), [14, N_X, 14, N_X]);
    assert_eq!(slices.basis(), Basis::Flavor);
    assert_eq!(slices.output_side().pids, FLAVOR_BASIS);
    assert_eq!(slices.input_side().xgrid, store.metadata().xgrid);
    assert!(slices.transform().is_none());
    assert_eq!(slices.origin(), store.metadata().origin);
    assert_eq!(slices.dir(), store.dir());

    let mut seen = 0;
    for (n, item) in slices.iter().enumerate() {
        let (info, array) = item.unwrap();
        assert_eq!(info.index, n);
        assert_eq!(info.point, sorted[n]);
        assert_eq!(info.fac0, 1.65 * 1.65);
        assert_eq!(info.fac1, sorted[n].mu2);
        assert_eq!(info, slices.info(n));
        // A view of the mapped file: its data pointer is the file's data, nothing copied.
        assert!(array.is_view(), "slice {n} was copied");
        let view = array.view();
        let data = slices.file(n).npy().data_bytes();
        let file_range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        let r = range_of(&view);
        assert!(
            file_range.start <= r.start && r.end <= file_range.end,
            "slice {n}'s data {r:?} is not inside its mapped file {file_range:?}"
        );
        assert_eq!(r.start, file_range.start);
        // Equal to the store's operator, and to what was inserted.
        let stored = store.operator(&sorted[n]).unwrap();
        assert_eq!(view, stored.view());
        let tag = points.iter().position(|p| *p == sorted[n]).unwrap() as f64;
        assert_eq!(view, common::operator(&sorted[n], N_X, tag));
        seen += 1;
    }
    assert_eq!(seen, 5);
    let mut it = slices.iter();
    assert_eq!(it.len(), 5);
    it.next();
    assert_eq!(it.size_hint(), (4, Some(4)));

    // get() and position() agree with iteration; position matches within 4096 ulps only.
    for (n, p) in sorted.iter().enumerate() {
        assert_eq!(
            slices.get(n).unwrap().view(),
            store.operator(p).unwrap().view()
        );
        assert_eq!(slices.position(p.mu2), Some(n));
        assert_eq!(slices.position(ulps_away(p.mu2, 4000)), Some(n));
        assert_eq!(slices.position(ulps_away(p.mu2, -4000)), Some(n));
        assert_eq!(slices.position(ulps_away(p.mu2, 5000)), None);
    }
    assert_eq!(slices.position(20.0), None);
}

#[test]
fn node_comparison_is_pineapples_4096_ulps() {
    assert_eq!(NODE_ULPS, 4096);
    assert!(same_node(100.0, ulps_away(100.0, 4096)));
    assert!(!same_node(100.0, ulps_away(100.0, 4097)));
    assert!(same_node(0.0, 1e-17));
    assert!(!same_node(1.0, -1.0));
    assert!(!same_node(f64::NAN, f64::NAN));
}

#[test]
fn selection_by_scales_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let points = [
        common::point(10.0, 4),
        common::point(100.0, 5),
        common::point(1000.0, 5),
        common::point(1.0e4, 5),
    ];
    let mut store = store_with(dir.path(), &points);

    // Order, repeats and a few ulps do not matter: ascending, once per scale.
    let selection = SliceSelection {
        scales: Some(vec![
            1.0e4,
            ulps_away(10.0, 3000),
            100.0,
            ulps_away(1.0e4, -100),
            10.0,
        ]),
        nf_at: vec![],
    };
    let slices = Slices::new(&store, &selection, None).unwrap();
    assert_eq!(
        slices.points(),
        &[points[0], points[1], points[3]],
        "selected points"
    );
    for (n, p) in slices.points().iter().enumerate() {
        assert_eq!(
            slices.get(n).unwrap().view(),
            store.operator(p).unwrap().view()
        );
    }

    // Beyond 4096 ulps a scale is another scale: missing. Every missing scale is named at once.
    let selection = SliceSelection {
        scales: Some(vec![10.0, 7.5, ulps_away(100.0, 5000), 20.0, 1000.0]),
        nf_at: vec![],
    };
    let text = message(Slices::new(&store, &selection, None));
    let missing = format!(
        "has no operator at mu2 = 7.5, 20, {} (3 of the 5 scales needed); it holds 4 scales from \
         mu2 = 10 to 10000",
        ulps_away(100.0, 5000)
    );
    assert!(text.contains(&missing), "{missing:?} not in: {text}");

    // A scale with only a partial: run combine.
    store
        .insert_partial(
            common::point(500.0, 5),
            &common::operator(&common::point(500.0, 5), N_X, 9.0),
            None::<&Array4<f64>>,
        )
        .unwrap();
    store.refresh().unwrap();
    let selection = SliceSelection {
        scales: Some(vec![100.0, 500.0]),
        nf_at: vec![],
    };
    let text = message(Slices::new(&store, &selection, None));
    assert!(
        text.contains("only partials at mu2 = 500") && text.contains("eko combine"),
        "{text}"
    );
    // Serving everything skips the partial-only scale.
    let all = Slices::new(&store, &SliceSelection::default(), None).unwrap();
    assert_eq!(all.points(), &points);

    // A store with partials only has nothing to serve.
    let empty_dir = tempfile::tempdir().unwrap();
    let mut empty = Store::create(empty_dir.path(), &common::metadata(N_X)).unwrap();
    let p = common::point(100.0, 5);
    empty
        .insert_partial(p, &common::operator(&p, N_X, 0.0), None::<&Array4<f64>>)
        .unwrap();
    empty.refresh().unwrap();
    let text = message(Slices::new(&empty, &SliceSelection::default(), None));
    assert!(text.contains("no final operator to serve"), "{text}");
}

#[test]
fn an_ambiguous_mu2_is_refused_and_resolved_by_nf_at() {
    let dir = tempfile::tempdir().unwrap();
    let mb2 = 4.92f64 * 4.92;
    let points = [
        common::point(10.0, 4),
        common::point(mb2, 4),
        common::point(mb2, 5),
        common::point(100.0, 5),
    ];
    let store = store_with(dir.path(), &points);

    for selection in [
        SliceSelection::default(),
        SliceSelection {
            scales: Some(vec![mb2, 100.0]),
            nf_at: vec![],
        },
    ] {
        let text = message(Slices::new(&store, &selection, None));
        for needle in [
            format!("mu2 = {mb2} has nf = 4 and 5"),
            format!("--nf-at {mb2}:4"),
            "ambiguous".to_string(),
        ] {
            assert!(text.contains(&needle), "{needle:?} not in: {text}");
        }
    }
    // A selection without the ambiguous scale needs no choice.
    let selection = SliceSelection {
        scales: Some(vec![10.0, 100.0]),
        nf_at: vec![],
    };
    assert_eq!(
        Slices::new(&store, &selection, None).unwrap().points(),
        &[points[0], points[3]]
    );

    // nf_at resolves it, either way, matched within a few ulps.
    for (nf, index) in [(4u8, 1usize), (5, 2)] {
        let selection = SliceSelection {
            scales: None,
            nf_at: vec![common::point(ulps_away(mb2, 7), nf)],
        };
        let slices = Slices::new(&store, &selection, None).unwrap();
        assert_eq!(
            slices.points(),
            &[points[0], points[index], points[3]],
            "nf_at {nf}"
        );
        assert_eq!(
            slices.get(1).unwrap().view(),
            store.operator(&points[index]).unwrap().view()
        );
        assert_ne!(
            slices.get(1).unwrap().view(),
            store.operator(&points[3 - index]).unwrap().view()
        );
    }

    // An nf_at naming no point: another nf at that mu2, or no such mu2.
    let selection = SliceSelection {
        scales: None,
        nf_at: vec![common::point(mb2, 3)],
    };
    let text = message(Slices::new(&store, &selection, None));
    assert!(
        text.contains(&format!("--nf-at {mb2}:3"))
            && text.contains("no final operator at that point")
            && text.contains("nf = 4 and 5"),
        "{text}"
    );
    let selection = SliceSelection {
        scales: None,
        nf_at: vec![common::point(mb2, 5), common::point(50.0, 5)],
    };
    let text = message(Slices::new(&store, &selection, None));
    assert!(
        text.contains("--nf-at 50:5") && text.contains("no such mu2"),
        "{text}"
    );
    let selection = SliceSelection {
        scales: None,
        nf_at: vec![common::point(100.0, 4)],
    };
    let text = message(Slices::new(&store, &selection, None));
    assert!(
        text.contains("--nf-at 100:4") && text.contains("nf = 5 only"),
        "{text}"
    );
}

#[test]
fn transformed_slices_equal_apply_owned_through_iter_cursor_and_write_into() {
    let dir = tempfile::tempdir().unwrap();
    let points = [
        common::point(5.0, 4),
        common::point(100.0, 5),
        common::point(1000.0, 5),
    ];
    let store = store_with(dir.path(), &points);
    let spec = TransformSpec {
        output: SideChange {
            xgrid: Some(vec![0.002, 0.01, 0.05, 0.3, 0.5, 0.9]),
            rotation: None,
        },
        input: SideChange {
            xgrid: None,
            rotation: Some(Rotation::To(Basis::Evol)),
        },
        interpolation: None,
    };
    let transform = Transform::new(store.metadata(), &spec).unwrap();
    let want: Vec<Array4<f64>> = points
        .iter()
        .map(|p| {
            transform
                .apply_owned(store.operator(p).unwrap().view())
                .unwrap()
        })
        .collect();
    let slices = Slices::new(&store, &SliceSelection::default(), Some(transform.clone())).unwrap();
    assert_eq!(slices.shape(), [14, 6, 14, N_X]);
    assert_eq!(slices.basis(), Basis::Evol);
    assert_eq!(slices.input_side().pids, EVOLUTION_BASIS);
    assert_eq!(
        slices.output_side().xgrid,
        vec![0.002, 0.01, 0.05, 0.3, 0.5, 0.9]
    );
    assert!(slices.transform().is_some());

    // iter: a new array per slice.
    let mut n = 0;
    for item in slices.iter() {
        let (info, array) = item.unwrap();
        assert!(array.is_owned());
        assert_eq!(array.view(), want[info.index].view(), "iter, slice {n}");
        n += 1;
    }
    assert_eq!(n, 3);
    // get: the same.
    for (n, w) in want.iter().enumerate() {
        assert_eq!(slices.get(n).unwrap().view(), w.view());
    }

    // cursor: one buffer, reused.
    let mut cursor = slices.cursor();
    let mut buffers = Vec::new();
    let mut n = 0;
    while let Some(item) = cursor.next() {
        let (info, view) = item.unwrap();
        assert_eq!(info.index, n);
        assert_eq!(view, want[n].view(), "cursor, slice {n}");
        buffers.push(view.as_ptr() as usize);
        n += 1;
    }
    assert_eq!(n, 3);
    assert!(cursor.next().is_none());
    assert!(
        buffers.windows(2).all(|w| w[0] == w[1]),
        "the cursor did not reuse its buffer: {buffers:?}"
    );

    // write_into: C order and Fortran order alike; a wrong shape refused.
    let [a, b, c, d] = slices.shape();
    for (n, w) in want.iter().enumerate() {
        let mut out = Array4::from_elem((a, b, c, d), f64::NAN);
        slices.write_into(n, out.view_mut()).unwrap();
        assert_eq!(out, *w);
        let mut out = Array4::from_elem((a, b, c, d).f(), f64::NAN);
        slices.write_into(n, out.view_mut()).unwrap();
        assert_eq!(out, *w);
    }
    let mut wrong = Array4::zeros((14, N_X, 14, N_X));
    let text = message(slices.write_into(0, wrong.view_mut()));
    assert!(
        text.contains("has shape [14, 10, 14, 10]") && text.contains("[14, 6, 14, 10]"),
        "{text}"
    );

    // Untransformed, the cursor serves views of the files and write_into copies them.
    let plain = Slices::new(&store, &SliceSelection::default(), None).unwrap();
    let mut cursor = plain.cursor();
    let mut n = 0;
    while let Some(item) = cursor.next() {
        let (_, view) = item.unwrap();
        assert_eq!(
            view.as_ptr() as usize,
            plain.file(n).npy().data_bytes().as_ptr() as usize
        );
        n += 1;
    }
    let mut out = Array4::zeros((14, N_X, 14, N_X).f());
    plain.write_into(2, out.view_mut()).unwrap();
    assert_eq!(out, store.operator(&points[2]).unwrap().view());

    // A transform made for other operators is refused.
    let other = Transform::new(&common::metadata(N_X + 2), &spec).unwrap();
    let text = message(Slices::new(&store, &SliceSelection::default(), Some(other)));
    assert!(
        text.contains("made for operators with other sides"),
        "{text}"
    );
}

#[test]
fn release_keeps_views_valid_and_equal() {
    let dir = tempfile::tempdir().unwrap();
    let points = [common::point(10.0, 4), common::point(100.0, 5)];
    let store = store_with(dir.path(), &points);
    let slices = Slices::new(&store, &SliceSelection::default(), None).unwrap();
    let views: Vec<_> = (0..slices.len()).map(|i| slices.get(i).unwrap()).collect();
    let copies: Vec<Array4<f64>> = views.iter().map(|v| v.to_owned()).collect();
    for round in 0..3 {
        for i in 0..slices.len() {
            slices.release(i);
            slices.prefetch(i);
            slices.release(i);
        }
        for (v, c) in views.iter().zip(&copies) {
            assert_eq!(v.view(), c.view(), "round {round}");
        }
    }
    // Out-of-range indices are ignored.
    slices.release(99);
    slices.prefetch(99);
    // And after a whole iteration (which releases every slice) too.
    for item in slices.iter() {
        item.unwrap();
    }
    for (v, p) in views.iter().zip(&points) {
        assert_eq!(v.view(), store.operator(p).unwrap().view());
    }
}

// --- resident memory: measured in a child process, alone ------------------------------------

const MEMORY_POINTS: usize = 40;
const MEMORY_NX: usize = 50; // 14 * 50 * 14 * 50 * 8 bytes = 3.9 MB per operator

/// Resident file-backed memory of this process, KiB (page-cache pages mapped here; `RssShmem`
/// counts them when the files are on tmpfs).
fn resident_file_kb() -> f64 {
    common::proc_status_kb("RssFile") + common::proc_status_kb("RssShmem")
}

#[test]
fn iterating_keeps_resident_memory_at_about_one_operator() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path(), &common::metadata(MEMORY_NX)).unwrap();
    for i in 0..MEMORY_POINTS {
        let p = common::point(10.0 * 1.2f64.powi(i as i32), 5);
        store
            .insert_operator(
                p,
                &common::operator(&p, MEMORY_NX, 0.0),
                None::<&Array4<f64>>,
            )
            .unwrap();
    }
    drop(store);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_memory",
            "--test-threads=1",
            "--nocapture",
            "--quiet",
        ])
        .env("EKO_TEST_SLICES_MEMORY", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("memory "))
        .unwrap_or_else(|| panic!("no report from the child:\n{stdout}"));
    let m: serde_json::Value = serde_json::from_str(line).unwrap();
    let op_kb = m["operator_kb"].as_f64().unwrap();
    let released = m["iter_peak_kb"].as_f64().unwrap() / op_kb;
    let held = m["held_peak_kb"].as_f64().unwrap() / op_kb;
    eprintln!(
        "resident file memory over {MEMORY_POINTS} operators of {:.1} MiB: iter() {released:.2} \
         operators at most; without release {held:.2}",
        op_kb / 1024.0
    );
    assert!(
        released < 3.0,
        "iter() held {released:.2} operators resident (of {MEMORY_POINTS})"
    );
    // The bound means something: the same reads without release keep most of them resident.
    assert!(
        held > 0.5 * MEMORY_POINTS as f64,
        "without release only {held:.2} operators were resident: the measurement sees nothing"
    );
    assert_eq!(m["sums_equal"], true);
}

/// The child of the memory test: iterates the store in `EKO_TEST_SLICES_MEMORY` with `iter()`,
/// then reads every slice again without releasing, reporting the largest growth of resident
/// file memory of each.
#[test]
fn child_memory() {
    let Some(dir) = std::env::var_os("EKO_TEST_SLICES_MEMORY") else {
        return;
    };
    let store = Store::open(&dir).unwrap();
    let slices = Slices::new(&store, &SliceSelection::default(), None).unwrap();
    assert_eq!(slices.len(), MEMORY_POINTS);
    let op_kb = (slices.file(0).npy().data_bytes().len() / 1024) as f64;

    let base = resident_file_kb();
    let mut iter_peak: f64 = 0.0;
    let mut sums = Vec::new();
    for item in slices.iter() {
        let (_, array) = item.unwrap();
        sums.push(common::sum8(array.as_slice().unwrap()));
        iter_peak = iter_peak.max(resident_file_kb() - base);
    }

    let base = resident_file_kb();
    let mut held_peak: f64 = 0.0;
    let mut held = Vec::new();
    let mut sums_again = Vec::new();
    for i in 0..slices.len() {
        let array = slices.get(i).unwrap();
        sums_again.push(common::sum8(array.as_slice().unwrap()));
        held.push(array);
        held_peak = held_peak.max(resident_file_kb() - base);
    }
    println!(
        "memory {}",
        serde_json::json!({
            "operator_kb": op_kb,
            "iter_peak_kb": iter_peak,
            "held_peak_kb": held_peak,
            "sums_equal": sums == sums_again,
        })
    );
}
