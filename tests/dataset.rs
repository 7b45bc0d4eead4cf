//! The dataset core (`eko::dataset`) from Rust, without the C ABI: arrays in C and Fortran order
//! registered, declared then bound, combined in place and into separate finals (with and
//! without errors) against the store's combine of the same operators, written as a store and
//! reopened; store files mapped and committed; and every refusal by its problem and message,
//! leaving the dataset and the memory as they were.

mod common;

use common::point;

use std::path::Path;

use eko::Error;
use eko::combine::{Kernel, combine};
use eko::dataset::{Attribute, Dataset, DatasetProblem, MemoryState, Slot};
use eko::grid::Grid;
use eko::npy::Order;
use eko::store::{Edge, EvolutionPoint, FileKind, MatchingScales, Metadata, Store};
use eko::synthetic::Synthetic;
use ndarray::{Array4, ShapeBuilder, s};

const PIDS: [i32; 4] = [21, -1, 1, 2];
const N_X: usize = 5;

/// A small grid: 4 pids, 5 x points, every matching scale.
fn metadata() -> Metadata {
    Metadata::new(
        point(1.65 * 1.65, 4),
        (1..=N_X).map(|i| (i as f64 / N_X as f64).powi(3)).collect(),
        PIDS.to_vec(),
        MatchingScales {
            charm: Some(1.51f64.powi(2)),
            bottom: Some(4.92f64.powi(2)),
            top: Some(172.5f64.powi(2)),
        },
    )
}

/// Points crossing no threshold, one, and two (forward and backward).
fn targets() -> Vec<EvolutionPoint> {
    vec![
        point(10.0, 4),
        point(100.0, 5),
        point(4.92f64.powi(2), 5),
        point(2.0, 3),
        point(1e5, 6),
    ]
}

/// An operator and its error.
#[derive(Clone)]
struct Operator {
    value: Array4<f64>,
    error: Array4<f64>,
}

/// The partials of the targets and the threshold elements they need, as a producer makes them.
struct Operators {
    partials: Vec<(EvolutionPoint, Operator)>,
    thresholds: Vec<(Edge, Operator)>,
}

fn operators() -> Operators {
    let grid = Grid::new(metadata(), &targets()).unwrap();
    let synthetic = Synthetic::new(PIDS.to_vec(), N_X, 11);
    let operator = |op: eko::synthetic::SyntheticOperator| Operator {
        value: op.operator,
        error: op.error,
    };
    Operators {
        partials: grid
            .paths()
            .iter()
            .map(|path| (path.target, operator(synthetic.segment(&path.partial))))
            .collect(),
        thresholds: grid
            .threshold_edges()
            .iter()
            .map(|edge| (*edge, operator(synthetic.edge(edge))))
            .collect(),
    }
}

/// `a` in `order`: the same elements, in memory C- or Fortran-contiguous.
fn in_order(a: &Array4<f64>, order: Order) -> Array4<f64> {
    let mut out = Array4::zeros(a.raw_dim().set_f(order == Order::Fortran));
    out.assign(a);
    out
}

/// C order for even `i`, Fortran order for odd.
fn alternate(i: usize) -> Order {
    if i.is_multiple_of(2) {
        Order::C
    } else {
        Order::Fortran
    }
}

/// The store's combine of `ops` (with their errors where `errors`): the reference.
fn reference(dir: &Path, ops: &Operators, errors: bool) -> Store {
    let mut store = Store::create(dir, &metadata()).unwrap();
    let error = |op: &Operator| errors.then(|| op.error.clone());
    for (p, op) in &ops.partials {
        store
            .insert_partial(*p, &op.value, error(op).as_ref())
            .unwrap();
    }
    let mut writer = store.thresholds_writer().unwrap();
    for (edge, op) in &ops.thresholds {
        writer.add(edge, &op.value, error(op).as_ref()).unwrap();
    }
    store.commit_thresholds(writer).unwrap();
    combine(&mut store, &Kernel::new(1), |_| {}).unwrap();
    store
}

/// Asserts `result` is the dataset's refusal of `problem`, with a message containing `words`.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: eko::Result<T>, problem: DatasetProblem, words: &str) {
    match result {
        Err(Error::Dataset {
            problem: found,
            reason,
        }) => {
            assert_eq!(found, problem, "{reason}");
            assert!(reason.contains(words), "message {reason:?} lacks {words:?}");
        }
        other => panic!("expected {problem:?} ({words:?}), got {other:?}"),
    }
}

/// A dataset of the small grid.
fn dataset<'a>() -> Dataset<'a> {
    Dataset::new(metadata()).unwrap()
}

#[test]
fn a_dataset_moves_between_threads() {
    fn send<T: Send>() {}
    send::<Dataset<'static>>();
}

#[test]
fn combine_in_place_equals_the_store_combine_in_either_order() {
    let ops = operators();
    let tmp = tempfile::tempdir().unwrap();
    let store = reference(&tmp.path().join("reference"), &ops, true);
    // Host memory in alternating layouts, values and errors.
    let mut partials: Vec<Operator> = (ops.partials.iter().enumerate())
        .map(|(i, (_, op))| Operator {
            value: in_order(&op.value, alternate(i)),
            error: in_order(&op.error, alternate(i)),
        })
        .collect();
    let thresholds: Vec<Operator> = (ops.thresholds.iter().enumerate())
        .map(|(i, (_, op))| Operator {
            value: in_order(&op.value, alternate(i + 1)),
            error: in_order(&op.error, alternate(i + 1)),
        })
        .collect();
    let mut ds = dataset();
    let mut ids = Vec::new();
    for ((p, _), op) in ops.partials.iter().zip(&mut partials) {
        let id = ds
            .add_point(*p, FileKind::Partial, Some(op.value.view_mut().into()))
            .unwrap();
        ds.add_error(id, Some(op.error.view_mut().into())).unwrap();
        ids.push(id);
    }
    assert_eq!(
        ds.needed_thresholds().unwrap(),
        ops.thresholds.iter().map(|(e, _)| *e).collect::<Vec<_>>()
    );
    for ((edge, _), op) in ops.thresholds.iter().zip(&thresholds) {
        let (from, to) = edge.endpoints();
        // Threshold elements are only read: read-only memory will do.
        let id = ds
            .add_threshold(from, to, Some(op.value.view().into()))
            .unwrap();
        ds.add_error(id, Some(op.error.view().into())).unwrap();
        assert_eq!(ds.slot(id).unwrap(), Slot::Threshold(*edge));
    }
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(ds.layout(id).unwrap(), Some(alternate(i)));
        assert_eq!(
            ds.memory_state(id, Attribute::Error).unwrap(),
            MemoryState::Writable
        );
    }

    ds.combine(&Kernel::new(2)).unwrap();
    // The partials became the final operators, their errors the finals' errors.
    for ((p, _), &id) in ops.partials.iter().zip(&ids) {
        assert_eq!(ds.slot(id).unwrap(), Slot::Point(*p, FileKind::Operator));
        assert_eq!(
            ds.view(id, Attribute::Value).unwrap(),
            store.operator(p).unwrap().view()
        );
    }
    // Written out, the store holds exactly the finals, each file in its buffer's order.
    let written = ds.write_store(&tmp.path().join("written")).unwrap();
    assert_eq!(written.points_with(FileKind::Partial).count(), 0);
    for (i, p) in targets().iter().enumerate() {
        let file = written.operator(p).unwrap();
        assert_eq!(file.view(), store.operator(p).unwrap().view(), "{p}");
        let k = ops.partials.iter().position(|(q, _)| q == p).unwrap();
        assert_eq!(file.npy().header().order, alternate(k), "{i}");
    }
    // Combining again finds nothing to do.
    ds.combine(&Kernel::new(1)).unwrap();
    drop(ds);
    for ((p, _), op) in ops.partials.iter().zip(&partials) {
        assert_eq!(op.value, store.operator(p).unwrap().view(), "{p}");
        assert_eq!(
            op.error,
            store.operator_error(p).unwrap().unwrap().view(),
            "{p}"
        );
    }
}

#[test]
fn separate_finals_receive_the_finals_and_release_the_partials() {
    let ops = operators();
    let tmp = tempfile::tempdir().unwrap();
    let store = reference(tmp.path(), &ops, true);
    let shape = metadata().square_shape();
    // Finals in Fortran order: with an error for even points, without for odd ones.
    let mut finals: Vec<Operator> = (0..ops.partials.len())
        .map(|_| Operator {
            value: Array4::from_elem(shape.f(), f64::NAN),
            error: Array4::from_elem(shape.f(), f64::NAN),
        })
        .collect();
    let mut ds = dataset();
    let mut partial_ids = Vec::new();
    for (i, ((p, op), fin)) in ops.partials.iter().zip(&mut finals).enumerate() {
        // The partials are only read when a final buffer takes the product.
        let id = ds
            .add_point(*p, FileKind::Partial, Some(op.value.view().into()))
            .unwrap();
        ds.add_error(id, Some(op.error.view().into())).unwrap();
        partial_ids.push(id);
        let f = ds
            .add_point(*p, FileKind::Operator, Some(fin.value.view_mut().into()))
            .unwrap();
        if i.is_multiple_of(2) {
            ds.add_error(f, Some(fin.error.view_mut().into())).unwrap();
        }
    }
    for (edge, op) in &ops.thresholds {
        let (from, to) = edge.endpoints();
        let id = ds
            .add_threshold(from, to, Some(op.value.view().into()))
            .unwrap();
        ds.add_error(id, Some(op.error.view().into())).unwrap();
    }
    ds.combine(&Kernel::new(1)).unwrap();
    for &id in &partial_ids {
        refused(
            ds.slot(id),
            DatasetProblem::InvalidArgument,
            "partials combined into a separate final buffer are released",
        );
    }
    // The dataset now holds the finals and the threshold elements.
    let written = ds.write_store(&tmp.path().join("written")).unwrap();
    assert_eq!(written.points_with(FileKind::Partial).count(), 0);
    drop(ds);
    for (i, ((p, _), fin)) in ops.partials.iter().zip(&finals).enumerate() {
        assert_eq!(fin.value, store.operator(p).unwrap().view(), "{p}");
        let error = store.operator_error(p).unwrap().unwrap();
        if i.is_multiple_of(2) {
            assert_eq!(fin.error, error.view(), "{p}");
            assert_eq!(
                written.operator_error(p).unwrap().unwrap().view(),
                error.view()
            );
        } else {
            assert!(fin.error.iter().all(|v| v.is_nan()), "not asked for: {p}");
            assert!(written.operator_error(p).unwrap().is_none());
        }
    }
}

#[test]
fn without_errors_the_finals_have_none() {
    let ops = operators();
    let tmp = tempfile::tempdir().unwrap();
    let store = reference(tmp.path(), &ops, false);
    let mut partials: Vec<Array4<f64>> = ops
        .partials
        .iter()
        .map(|(_, op)| op.value.clone())
        .collect();
    let mut errors: Vec<Array4<f64>> = ops
        .partials
        .iter()
        .map(|(_, op)| op.error.clone())
        .collect();
    let mut ds = dataset();
    let mut ids = Vec::new();
    for (((p, _), value), error) in ops.partials.iter().zip(&mut partials).zip(&mut errors) {
        let id = ds
            .add_point(*p, FileKind::Partial, Some(value.view_mut().into()))
            .unwrap();
        // Partials with errors, threshold elements without: no final error can be computed.
        ds.add_error(id, Some(error.view_mut().into())).unwrap();
        ids.push(id);
    }
    for (edge, op) in &ops.thresholds {
        let (from, to) = edge.endpoints();
        ds.add_threshold(from, to, Some(op.value.view().into()))
            .unwrap();
    }
    ds.combine(&Kernel::new(1)).unwrap();
    for ((p, _), &id) in ops.partials.iter().zip(&ids) {
        // A point crossing no threshold keeps its partial's error as the final's.
        let expected = if p.nf != 4 {
            MemoryState::Absent
        } else {
            MemoryState::Writable
        };
        assert_eq!(
            ds.memory_state(id, Attribute::Error).unwrap(),
            expected,
            "{p}"
        );
    }
    drop(ds);
    for ((p, _), value) in ops.partials.iter().zip(&partials) {
        assert_eq!(value, store.operator(p).unwrap().view(), "{p}");
    }
}

#[test]
fn declared_buffers_are_bound_later() {
    let ops = operators();
    let tmp = tempfile::tempdir().unwrap();
    let store = reference(tmp.path(), &ops, true);
    let (p, op) = ops
        .partials
        .iter()
        .find(|(p, _)| p.nf == 6)
        .cloned()
        .unwrap();
    let mut value = in_order(&op.value, Order::Fortran);
    let mut error = in_order(&op.error, Order::Fortran);
    let mut ds = dataset();
    let id = ds.add_point(p, FileKind::Partial, None).unwrap();
    ds.add_error(id, None).unwrap();
    assert_eq!(ds.layout(id).unwrap(), None);
    let mut threshold_ids = Vec::new();
    for edge in ds.needed_thresholds().unwrap() {
        let (from, to) = edge.endpoints();
        threshold_ids.push((edge, ds.add_threshold(from, to, None).unwrap()));
    }
    refused(
        ds.combine(&Kernel::new(1)),
        DatasetProblem::Unbound,
        "buffer 0 (the partial of (mu2=100000, nf=6), value) was declared without memory and is \
         not bound",
    );
    refused(
        ds.write_store(&tmp.path().join("never")).map(drop),
        DatasetProblem::Unbound,
        "not bound",
    );
    assert!(!tmp.path().join("never").exists(), "nothing written");
    assert_eq!(
        ds.memory_state(id, Attribute::Value).unwrap(),
        MemoryState::Unbound
    );
    ds.bind(id, Attribute::Error, error.view_mut().into())
        .unwrap();
    // The error fixed the buffer's layout: values in another order are refused.
    let wrong = op.value.clone();
    refused(
        ds.bind(id, Attribute::Value, wrong.view().into()),
        DatasetProblem::Layout,
        "buffer 0 (the partial of (mu2=100000, nf=6), value) is in C order, but the buffer's \
         memory is in Fortran order",
    );
    ds.bind(id, Attribute::Value, value.view_mut().into())
        .unwrap();
    refused(
        ds.bind(id, Attribute::Value, wrong.view().into()),
        DatasetProblem::AlreadyBound,
        "buffer 0 (the partial of (mu2=100000, nf=6), value) already has memory",
    );
    for (edge, t) in &threshold_ids {
        let (_, op) = ops.thresholds.iter().find(|(e, _)| e == edge).unwrap();
        ds.bind(*t, Attribute::Value, op.value.view().into())
            .unwrap();
        refused(
            ds.bind(*t, Attribute::Error, op.error.view().into()),
            DatasetProblem::NoErrorAttribute,
            "no error attribute was added",
        );
    }
    // The threshold elements have no error attribute: the final has no error.
    ds.combine(&Kernel::new(1)).unwrap();
    assert_eq!(
        ds.memory_state(id, Attribute::Error).unwrap(),
        MemoryState::Absent
    );
    drop(ds);
    assert_eq!(value, store.operator(&p).unwrap().view());
}

#[test]
fn a_written_store_reopens_with_every_buffer() {
    let ops = operators();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut ds = dataset();
    ds.set_interpolation(2, false).unwrap();
    let partials: Vec<Operator> = (ops.partials.iter().enumerate())
        .map(|(i, (_, op))| Operator {
            value: in_order(&op.value, alternate(i)),
            error: in_order(&op.error, alternate(i)),
        })
        .collect();
    for ((p, _), op) in ops.partials.iter().zip(&partials) {
        let id = ds
            .add_point(*p, FileKind::Partial, Some(op.value.view().into()))
            .unwrap();
        ds.add_error(id, Some(op.error.view().into())).unwrap();
    }
    for (edge, op) in &ops.thresholds {
        let (from, to) = edge.endpoints();
        ds.add_threshold(from, to, Some(op.value.view().into()))
            .unwrap();
    }
    ds.write_store(&dir).unwrap();
    let store = Store::open(&dir).unwrap();
    assert_eq!(
        store.metadata().interpolation,
        Some(eko::store::Interpolation {
            polynomial_degree: 2,
            log: false
        })
    );
    for (i, ((p, _), op)) in ops.partials.iter().zip(&partials).enumerate() {
        let file = store.partial(p).unwrap();
        assert_eq!(file.view(), op.value, "{p}");
        assert_eq!(file.npy().header().order, alternate(i), "{p}");
        assert_eq!(store.partial_error(p).unwrap().unwrap().view(), op.error);
    }
    let thresholds = store.thresholds().unwrap().unwrap();
    for (edge, op) in &ops.thresholds {
        assert_eq!(thresholds.operator(edge).unwrap(), op.value, "{edge}");
        assert!(thresholds.error(edge).unwrap().is_none());
    }
}

#[test]
fn store_files_are_mapped_filled_and_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let p = point(10.0, 4);
    let mut ds = dataset();
    let id = ds.add_point(p, FileKind::Partial, None).unwrap();
    ds.set_layout(id, Order::Fortran).unwrap();
    refused(
        ds.map(id, Attribute::Value),
        DatasetProblem::NoStore,
        "the dataset is not attached to a store",
    );
    ds.attach_store(&dir).unwrap();
    refused(
        ds.attach_store(&dir),
        DatasetProblem::AlreadyBound,
        "already attached",
    );
    refused(
        ds.map(id, Attribute::Error),
        DatasetProblem::NoErrorAttribute,
        "buffer 0 (the partial of (mu2=10, nf=4), error): no error attribute was added",
    );
    let ptr = ds.map(id, Attribute::Value).unwrap();
    let len: usize = ds.shape().iter().product();
    // SAFETY: `map` gave `len` writable doubles, valid until the commit; nothing else refers
    // to them during this loop.
    let data = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) };
    for (k, v) in data.iter_mut().enumerate() {
        *v = k as f64 * 0.5;
    }
    assert_eq!(
        ds.memory_state(id, Attribute::Value).unwrap(),
        MemoryState::Mapped
    );
    assert_eq!(
        Store::open(&dir).unwrap().points().count(),
        0,
        "not before the commit"
    );
    ds.commit(id).unwrap();
    assert_eq!(
        ds.memory_state(id, Attribute::Value).unwrap(),
        MemoryState::Committed
    );
    let committed = ds.view(id, Attribute::Value).unwrap();
    assert_eq!(
        committed.as_ptr(),
        ptr.as_ptr().cast_const(),
        "same address"
    );
    assert_eq!(committed.t().iter().nth(3), Some(&1.5));
    // Combine does not write a store file: the point needs a final buffer of its own.
    refused(
        ds.combine(&Kernel::new(1)),
        DatasetProblem::ReadOnly,
        "buffer 0 (the partial of (mu2=10, nf=4), value) is a store file mapped by libeko",
    );
    let reopened = Store::open(&dir).unwrap();
    let file = reopened.partial(&p).unwrap();
    assert_eq!(file.npy().header().order, Order::Fortran);
    assert_eq!(file.view(), ds.view(id, Attribute::Value).unwrap());
}

#[test]
fn memory_is_checked_for_shape_layout_and_overlap() {
    let mut ds = dataset();
    let shape = ds.shape();
    let len: usize = shape.iter().product();
    let block = vec![0.0; 2 * len];
    let first = ndarray::ArrayView4::from_shape(shape, &block[..len]).unwrap();
    let id = ds
        .add_point(point(10.0, 4), FileKind::Partial, Some(first.into()))
        .unwrap();
    // Overlapping registered memory: the input and output of an in-place step would alias.
    let shifted = ndarray::ArrayView4::from_shape(shape, &block[len / 2..len / 2 + len]).unwrap();
    refused(
        ds.add_error(id, Some(shifted.into())),
        DatasetProblem::Overlapping,
        "buffer 0 (the partial of (mu2=10, nf=4), error) [",
    );
    refused(
        ds.add_point(point(10.0, 4), FileKind::Operator, Some(shifted.into())),
        DatasetProblem::Overlapping,
        "overlaps buffer 0 (the partial of (mu2=10, nf=4), value)",
    );
    // Not the grid's shape: one x point more, or the dimensions in another order.
    let longer = Array4::<f64>::zeros((PIDS.len(), N_X, PIDS.len(), N_X + 1));
    refused(
        ds.add_point(
            point(20.0, 4),
            FileKind::Partial,
            Some(longer.view().into()),
        ),
        DatasetProblem::BadShape,
        "the partial of (mu2=20, nf=4) has shape [4, 5, 4, 6]; the grid needs [4, 5, 4, 5]",
    );
    let swapped = Array4::<f64>::zeros((N_X, PIDS.len(), N_X, PIDS.len()));
    refused(
        ds.add_point(
            point(20.0, 4),
            FileKind::Partial,
            Some(swapped.view().into()),
        ),
        DatasetProblem::BadShape,
        "has shape [5, 4, 5, 4]",
    );
    // Neither C- nor Fortran-contiguous: every other x of a larger array, axes permuted.
    let wide = Array4::<f64>::zeros((PIDS.len(), N_X, PIDS.len(), 2 * N_X));
    refused(
        ds.add_point(
            point(20.0, 4),
            FileKind::Partial,
            Some(wide.slice(s![.., .., .., ..;2]).into()),
        ),
        DatasetProblem::Layout,
        "the partial of (mu2=20, nf=4) is neither C- nor Fortran-contiguous (strides \
         [200, 40, 10, 2]): a dataset takes memory in C order (row-major) or Fortran order \
         (column-major)",
    );
    let square = Array4::<f64>::zeros((PIDS.len(), PIDS.len(), N_X, N_X));
    refused(
        ds.add_error(id, Some(square.view().permuted_axes([0, 2, 1, 3]).into())),
        DatasetProblem::Layout,
        "buffer 0 (the partial of (mu2=10, nf=4), error) is neither C- nor Fortran-contiguous",
    );
    // The value is in C order: an error in Fortran order is refused.
    let fortran = Array4::<f64>::zeros(shape.f());
    refused(
        ds.add_error(id, Some(fortran.view().into())),
        DatasetProblem::Layout,
        "is in Fortran order, but the buffer's memory is in C order",
    );
    // Every failed call left the dataset as it was.
    assert_eq!(ds.buffer_count(), 1);
    assert_eq!(
        ds.memory_state(id, Attribute::Error).unwrap(),
        MemoryState::Absent
    );
    let fine = Array4::<f64>::zeros(shape);
    ds.add_error(id, Some(fine.view().into())).unwrap();
}

#[test]
fn duplicates_ids_and_a_fixed_grid_are_refused() {
    let spare = Array4::<f64>::zeros(metadata().square_shape());
    let mut ds = dataset();
    let p = point(10.0, 4);
    let id = ds.add_point(p, FileKind::Partial, None).unwrap();
    refused(
        ds.add_point(p, FileKind::Partial, None),
        DatasetProblem::Duplicate,
        "the dataset already has the partial of (mu2=10, nf=4) (buffer 0)",
    );
    ds.add_error(id, None).unwrap();
    refused(
        ds.add_error(id, None),
        DatasetProblem::Duplicate,
        "buffer 0 (the partial of (mu2=10, nf=4), error) was already added",
    );
    let (origin, bottom) = (point(1.65 * 1.65, 4), point(4.92f64.powi(2), 4));
    let t = ds.add_threshold(origin, bottom, None).unwrap();
    refused(
        ds.add_threshold(origin, bottom, None),
        DatasetProblem::Duplicate,
        &format!(
            "the dataset already has {} (buffer {t})",
            ds.slot(t).unwrap()
        ),
    );
    refused(
        ds.add_threshold(point(20.0, 4), point(20.0, 5), None),
        DatasetProblem::InvalidArgument,
        "the dataset's is mu2=24.2064",
    );
    refused(
        ds.add_point(p, FileKind::OperatorError, None),
        DatasetProblem::InvalidArgument,
        "an error is an attribute of its buffer",
    );
    refused(
        ds.bind(t, Attribute::Error, spare.view().into()),
        DatasetProblem::NoErrorAttribute,
        "buffer 1 (the threshold operator",
    );
    refused(
        ds.slot(7),
        DatasetProblem::InvalidArgument,
        "buffer id 7 is not a buffer of this dataset (ids are 0..2)",
    );
    refused(
        ds.check_id(-1),
        DatasetProblem::InvalidArgument,
        "buffer id -1 is not a buffer",
    );
    assert_eq!(ds.check_id(1).unwrap(), 1);
    assert!(!ds.grid_is_open());
    refused(
        ds.set_matching(4, 20.0),
        DatasetProblem::InvalidArgument,
        "matching scales are set before any buffer is added",
    );
    refused(
        ds.set_interpolation(3, true),
        DatasetProblem::InvalidArgument,
        "the interpolation is set before any buffer is added",
    );
    assert_eq!(ds.buffer_count(), 2);

    let mut fresh = Dataset::new(metadata()).unwrap();
    refused(
        fresh.set_matching(6, 1e6),
        DatasetProblem::InvalidArgument,
        "no heavy quark is matched between nf=6 and nf=7",
    );
    refused(
        fresh.set_interpolation(0, true),
        DatasetProblem::InvalidArgument,
        "degree is 0",
    );
    fresh.set_matching(4, 30.0).unwrap();
    assert_eq!(fresh.metadata().matching.bottom, Some(30.0));
    let mut bad = metadata();
    bad.xgrid.reverse();
    refused(
        Dataset::new(bad).map(drop),
        DatasetProblem::InvalidArgument,
        "xgrid is not strictly increasing",
    );
}

#[test]
fn combine_checks_everything_before_writing() {
    let ops = operators();
    let shape = metadata().square_shape();
    let (p, op) = ops
        .partials
        .iter()
        .find(|(p, _)| *p == point(100.0, 5))
        .cloned()
        .unwrap();
    let threshold = |edge: &Edge| &ops.thresholds.iter().find(|(e, _)| e == edge).unwrap().1;
    let read_only_final = Array4::<f64>::zeros(shape);
    let mut value = Array4::<f64>::zeros(shape);
    let mut error = Array4::<f64>::zeros(shape);

    // A read-only partial cannot hold its final, nor can a read-only final buffer.
    let mut ds = dataset();
    ds.add_point(p, FileKind::Partial, Some(op.value.view().into()))
        .unwrap();
    refused(
        ds.combine(&Kernel::new(1)),
        DatasetProblem::MissingThreshold,
        "cannot combine (mu2=100, nf=5): the dataset has no buffer for the threshold element",
    );
    let needed = ds.needed_thresholds().unwrap();
    assert_eq!(needed.len(), 2);
    for edge in &needed {
        let (from, to) = edge.endpoints();
        ds.add_threshold(from, to, Some(threshold(edge).value.view().into()))
            .unwrap();
    }
    refused(
        ds.combine(&Kernel::new(1)),
        DatasetProblem::ReadOnly,
        "buffer 0 (the partial of (mu2=100, nf=5), value) is read-only memory, which combine does \
         not write: register it writable, or add a final buffer",
    );
    ds.add_point(p, FileKind::Operator, Some(read_only_final.view().into()))
        .unwrap();
    refused(
        ds.combine(&Kernel::new(1)),
        DatasetProblem::ReadOnly,
        "buffer 3 (the final operator of (mu2=100, nf=5), value) is read-only memory",
    );

    // A final asking for an error that cannot be computed: the partial has none.
    let mut ds = dataset();
    ds.add_point(p, FileKind::Partial, Some(op.value.view().into()))
        .unwrap();
    for edge in &needed {
        let (from, to) = edge.endpoints();
        let id = ds
            .add_threshold(from, to, Some(threshold(edge).value.view().into()))
            .unwrap();
        ds.add_error(id, Some(threshold(edge).error.view().into()))
            .unwrap();
    }
    let f = ds
        .add_point(p, FileKind::Operator, Some(value.view_mut().into()))
        .unwrap();
    ds.add_error(f, Some(error.view_mut().into())).unwrap();
    refused(
        ds.combine(&Kernel::new(1)),
        DatasetProblem::MissingError,
        "buffer 3 (the final operator of (mu2=100, nf=5), value) has an error attribute, but the \
         error of (mu2=100, nf=5) cannot be computed",
    );
    drop(ds);
    // The refused combines wrote nothing.
    assert!(value.iter().chain(&error).all(|&v| v == 0.0));

    // A point beyond the matching scales has no path.
    let mut no_top = metadata();
    no_top.matching.top = None;
    let mut ds = Dataset::new(no_top).unwrap();
    ds.add_point(point(1e5, 6), FileKind::Partial, None)
        .unwrap();
    assert!(matches!(ds.needed_thresholds(), Err(Error::NoPath { .. })));
    assert!(matches!(
        ds.combine(&Kernel::new(1)),
        Err(Error::NoPath { .. })
    ));
}
