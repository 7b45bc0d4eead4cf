//! The C ABI called from Rust: datasets of host buffers in C and Fortran order, combine in place
//! against the store's combine, declare-then-bind, store-mapped buffers, store views, and the
//! error contract (codes, messages, nothing changed on failure).

mod common;

use common::point;

use std::ffi::{CStr, CString};
use std::ptr;

use eko::combine::{Kernel, combine};
use eko::ffi::*;
use eko::grid::Grid;
use eko::store::{EvolutionPoint, FileKind, Metadata, Store};
use eko::synthetic::Synthetic;
use ndarray::{Array4, ArrayView4, ShapeBuilder};

const N_X: usize = 12;

fn targets() -> Vec<EvolutionPoint> {
    let mb = 4.92f64.powi(2);
    vec![
        point(1.0, 4),
        point(10.0, 4),
        point(mb, 5),
        point(100.0, 5),
        point(2.0, 3),
        point(1e5, 6),
    ]
}

/// A handle that panics with its message on a failed call.
struct Handle(*mut EKO_Handle);

impl Handle {
    fn new() -> Self {
        Handle(EKO_handle_create())
    }
    fn ok(&self, status: i32) {
        assert_eq!(status, EKO_OK, "{}", self.message());
    }
    fn message(&self) -> String {
        // SAFETY: a live handle.
        unsafe { CStr::from_ptr(EKO_handle_message(self.0)) }
            .to_string_lossy()
            .into_owned()
    }
    /// Asserts `status` is `code` and the handle holds it with a message containing `words`.
    fn fails(&self, status: i32, code: i32, words: &str) {
        // SAFETY: static strings.
        let name = |c| unsafe { CStr::from_ptr(EKO_status_name(c)) }.to_string_lossy();
        assert_eq!(
            status,
            code,
            "expected {}, got {}: {}",
            name(code),
            name(status),
            self.message()
        );
        // SAFETY: a live handle.
        assert_eq!(unsafe { EKO_handle_status(self.0) }, code);
        let m = self.message();
        assert!(m.contains(words), "message {m:?} lacks {words:?}");
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by EKO_handle_create, destroyed once.
        unsafe { EKO_handle_destroy(self.0) }
    }
}

/// An operator's elements in `layout`, as a host would hold them.
fn host(op: &Array4<f64>, layout: i32) -> Vec<f64> {
    if layout == EKO_LAYOUT_FORTRAN {
        op.t().iter().copied().collect()
    } else {
        op.iter().copied().collect()
    }
}

fn view(data: &[f64], layout: i32, n_pid: usize) -> ArrayView4<'_, f64> {
    let shape = (n_pid, N_X, n_pid, N_X).set_f(layout == EKO_LAYOUT_FORTRAN);
    ArrayView4::from_shape(shape, data).unwrap()
}

fn dataset(h: &Handle, metadata: &Metadata) -> *mut EKO_Dataset {
    let mut ds = ptr::null_mut();
    // SAFETY: arrays of the stated lengths; out-pointer writable.
    unsafe {
        h.ok(EKO_dataset_create(
            h.0,
            metadata.pids.len() as i32,
            metadata.pids.as_ptr(),
            metadata.xgrid.len() as i32,
            metadata.xgrid.as_ptr(),
            metadata.origin.mu2,
            i32::from(metadata.origin.nf),
            &mut ds,
        ));
        let m = metadata.matching;
        for (quark, scale) in [
            (EKO_QUARK_CHARM, m.charm),
            (EKO_QUARK_BOTTOM, m.bottom),
            (EKO_QUARK_TOP, m.top),
        ] {
            h.ok(EKO_dataset_set_matching(h.0, ds, quark, scale.unwrap()));
        }
    }
    ds
}

fn cstr(path: &std::path::Path) -> CString {
    CString::new(path.to_str().unwrap()).unwrap()
}

/// A host's threshold element: from, to, layout, value, error.
type HostThreshold = (EvolutionPoint, EvolutionPoint, i32, Vec<f64>, Vec<f64>);

/// Host memory for every partial and threshold element of the targets, with errors, in
/// alternating layouts.
struct HostOperators {
    /// (point, layout, value, error)
    partials: Vec<(EvolutionPoint, i32, Vec<f64>, Vec<f64>)>,
    /// (from, to, layout, value, error)
    thresholds: Vec<HostThreshold>,
}

fn host_operators(metadata: &Metadata) -> HostOperators {
    let grid = Grid::new(metadata.clone(), &targets()).unwrap();
    let synthetic = Synthetic::new(metadata.pids.clone(), N_X, 7);
    let layout = |i: usize| {
        if i.is_multiple_of(2) {
            EKO_LAYOUT_C
        } else {
            EKO_LAYOUT_FORTRAN
        }
    };
    HostOperators {
        partials: grid
            .paths()
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let op = synthetic.segment(&path.partial);
                let l = layout(i);
                (path.target, l, host(&op.operator, l), host(&op.error, l))
            })
            .collect(),
        thresholds: grid
            .threshold_edges()
            .iter()
            .enumerate()
            .map(|(i, edge)| {
                let op = synthetic.edge(edge);
                let (from, to) = edge.endpoints();
                let l = layout(i + 1);
                (from, to, l, host(&op.operator, l), host(&op.error, l))
            })
            .collect(),
    }
}

fn register(h: &Handle, ds: *mut EKO_Dataset, ops: &mut HostOperators) {
    let n = ops.partials[0].2.len() as i64;
    let mut id = -1;
    // SAFETY: every buffer is a live Vec of `n` elements that outlives the dataset's use.
    unsafe {
        for (p, layout, value, error) in &mut ops.partials {
            h.ok(EKO_dataset_add_buffer(
                h.0,
                ds,
                EKO_KIND_PARTIAL,
                p.mu2,
                i32::from(p.nf),
                *layout,
                value.as_mut_ptr(),
                n,
                &mut id,
            ));
            h.ok(EKO_dataset_add_attribute_buffer(
                h.0,
                ds,
                id,
                EKO_ATTRIBUTE_ERROR,
                error.as_mut_ptr(),
                n,
            ));
        }
        for (from, to, layout, value, error) in &mut ops.thresholds {
            h.ok(EKO_dataset_add_threshold(
                h.0,
                ds,
                from.mu2,
                i32::from(from.nf),
                to.mu2,
                i32::from(to.nf),
                *layout,
                value.as_mut_ptr(),
                n,
                &mut id,
            ));
            h.ok(EKO_dataset_add_attribute_buffer(
                h.0,
                ds,
                id,
                EKO_ATTRIBUTE_ERROR,
                error.as_mut_ptr(),
                n,
            ));
        }
    }
}

#[test]
fn combine_in_place_equals_the_store_combine_bit_for_bit() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let h = Handle::new();
    let ds = dataset(&h, &metadata);
    let mut ops = host_operators(&metadata);
    register(&h, ds, &mut ops);

    // The dataset lists the threshold elements its partials need: exactly those registered.
    let mut n = 0;
    // SAFETY: live objects, writable out-parameters.
    unsafe { h.ok(EKO_dataset_threshold_count(h.0, ds, &mut n)) };
    assert_eq!(n as usize, ops.thresholds.len());

    // The Rust API's result: write the dataset as a store, combine it.
    let before = tmp.path().join("before");
    // SAFETY: as above; the path is a NUL-terminated string.
    unsafe { h.ok(EKO_dataset_write_store(h.0, ds, cstr(&before).as_ptr())) };
    let mut store = Store::open(&before).unwrap();
    combine(&mut store, &Kernel::new(1), |_| {}).unwrap();

    // In place, on two threads.
    // SAFETY: live objects.
    unsafe { h.ok(EKO_dataset_combine(h.0, ds, 2)) };
    let n_pid = metadata.pids.len();
    for (p, layout, value, error) in &ops.partials {
        let expected = store.operator(p).unwrap();
        assert_eq!(view(value, *layout, n_pid), expected.view(), "{p}");
        let expected_error = store.operator_error(p).unwrap().unwrap();
        assert_eq!(view(error, *layout, n_pid), expected_error.view(), "{p}");
    }
    // The partials became final operators: written out, the store has exactly the finals.
    let after = tmp.path().join("after");
    // SAFETY: as above.
    unsafe { h.ok(EKO_dataset_write_store(h.0, ds, cstr(&after).as_ptr())) };
    let written = Store::open(&after).unwrap();
    assert_eq!(written.points_with(FileKind::Partial).count(), 0);
    for p in targets() {
        assert_eq!(
            written.operator(&p).unwrap().view(),
            store.operator(&p).unwrap().view()
        );
    }
    // Combining again finds nothing to do and changes nothing.
    let snapshot: Vec<Vec<f64>> = ops.partials.iter().map(|o| o.2.clone()).collect();
    // SAFETY: as above.
    unsafe { h.ok(EKO_dataset_combine(h.0, ds, 1)) };
    assert!(ops.partials.iter().zip(&snapshot).all(|(o, s)| &o.2 == s));
    // SAFETY: destroyed once.
    unsafe { EKO_dataset_destroy(ds) };
}

#[test]
fn separate_final_buffers_receive_the_finals_and_release_the_partials() {
    let metadata = common::metadata(N_X);
    let h = Handle::new();
    let ds = dataset(&h, &metadata);
    let mut ops = host_operators(&metadata);
    register(&h, ds, &mut ops);
    let len = ops.partials[0].2.len();
    // A final buffer (Fortran order, no error) for the first two points.
    let mut finals = [vec![f64::NAN; len], vec![f64::NAN; len]];
    let mut ids = [0; 2];
    for (k, f) in finals.iter_mut().enumerate() {
        let p = ops.partials[k].0;
        // SAFETY: a live buffer of `len` elements.
        unsafe {
            h.ok(EKO_dataset_add_buffer(
                h.0,
                ds,
                EKO_KIND_OPERATOR,
                p.mu2,
                i32::from(p.nf),
                EKO_LAYOUT_FORTRAN,
                f.as_mut_ptr(),
                len as i64,
                &mut ids[k],
            ));
        }
    }
    let partial_before = ops.partials[1].2.clone();
    let tmp = tempfile::tempdir().unwrap();
    let before = tmp.path().join("before");
    // SAFETY: live objects.
    unsafe {
        h.ok(EKO_dataset_write_store(h.0, ds, cstr(&before).as_ptr()));
        h.ok(EKO_dataset_combine(h.0, ds, 1));
    }
    let mut store = Store::open(&before).unwrap();
    // The store has the NaN finals and the partials: combine them there for the reference.
    for k in 0..2 {
        store
            .remove(&ops.partials[k].0, FileKind::Operator)
            .unwrap();
    }
    combine(&mut store, &Kernel::new(1), |_| {}).unwrap();
    let n_pid = metadata.pids.len();
    for (k, f) in finals.iter().enumerate() {
        let p = ops.partials[k].0;
        assert_eq!(
            view(f, EKO_LAYOUT_FORTRAN, n_pid),
            store.operator(&p).unwrap().view()
        );
    }
    // The partial's memory was not written; its buffer id is gone.
    assert_eq!(ops.partials[1].2, partial_before);
    let mut spare = vec![0.0; len];
    // SAFETY: live objects; the buffer is valid.
    let status = unsafe {
        EKO_dataset_bind(
            h.0,
            ds,
            1,
            EKO_ATTRIBUTE_VALUE,
            spare.as_mut_ptr(),
            len as i64,
        )
    };
    h.fails(status, EKO_ERROR_INVALID_ARGUMENT, "released");
    // SAFETY: destroyed once.
    unsafe { EKO_dataset_destroy(ds) };
}

#[test]
fn a_declared_buffer_fails_combine_until_bound() {
    let metadata = common::metadata(N_X);
    let h = Handle::new();
    let ds = dataset(&h, &metadata);
    let mut ops = host_operators(&metadata);
    let len = ops.partials[0].2.len() as i64;
    let mut id = -1;
    let p = point(1e5, 6);
    ops.partials.retain(|o| o.0 != p);
    // SAFETY: NULL declares; later a live buffer of `len` elements.
    unsafe {
        h.ok(EKO_dataset_add_buffer(
            h.0,
            ds,
            EKO_KIND_PARTIAL,
            p.mu2,
            6,
            EKO_LAYOUT_C,
            ptr::null_mut(),
            0,
            &mut id,
        ));
        register(&h, ds, &mut ops);
        h.fails(
            EKO_dataset_combine(h.0, ds, 1),
            EKO_ERROR_UNBOUND,
            "the partial of (mu2=100000, nf=6)",
        );
        // Nothing was written by the failed combine.
        let fresh = host_operators(&metadata);
        assert!(
            ops.partials
                .iter()
                .all(|o| fresh.partials.iter().any(|f| f.2 == o.2))
        );
        let mut memory = vec![0.5; len as usize];
        h.ok(EKO_dataset_bind(
            h.0,
            ds,
            id,
            EKO_ATTRIBUTE_VALUE,
            memory.as_mut_ptr(),
            len,
        ));
        h.fails(
            EKO_dataset_bind(h.0, ds, id, EKO_ATTRIBUTE_VALUE, memory.as_mut_ptr(), len),
            EKO_ERROR_ALREADY_BOUND,
            "already has memory",
        );
        h.ok(EKO_dataset_combine(h.0, ds, 1));
        EKO_dataset_destroy(ds);
    }
}

#[test]
fn store_mapped_buffers_are_filled_in_place_committed_and_viewed() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let h = Handle::new();
    let ds = dataset(&h, &metadata);
    let p = point(100.0, 5);
    let n = 14 * N_X * 14 * N_X;
    let fill = |k: usize| (k % 97) as f64 * 0.25;
    let mut id = -1;
    // SAFETY: live objects; pointers from EKO_dataset_map are valid for `n` elements.
    unsafe {
        h.ok(EKO_dataset_add_buffer(
            h.0,
            ds,
            EKO_KIND_PARTIAL,
            p.mu2,
            5,
            EKO_LAYOUT_FORTRAN,
            ptr::null_mut(),
            0,
            &mut id,
        ));
        h.ok(EKO_dataset_add_attribute_buffer(
            h.0,
            ds,
            id,
            EKO_ATTRIBUTE_ERROR,
            ptr::null_mut(),
            0,
        ));
        let mut data = ptr::null_mut();
        h.fails(
            EKO_dataset_map(h.0, ds, id, EKO_ATTRIBUTE_VALUE, &mut data),
            EKO_ERROR_NOT_FOUND,
            "not attached",
        );
        assert!(data.is_null(), "out-parameter written on failure");
        h.ok(EKO_dataset_attach_store(h.0, ds, cstr(&dir).as_ptr()));
        h.ok(EKO_dataset_map(h.0, ds, id, EKO_ATTRIBUTE_VALUE, &mut data));
        let mut err = ptr::null_mut();
        h.ok(EKO_dataset_map(h.0, ds, id, EKO_ATTRIBUTE_ERROR, &mut err));
        for k in 0..n {
            *data.add(k) = fill(k);
            *err.add(k) = 1e-6;
        }
        // Not in the store before the commit.
        assert_eq!(Store::open(&dir).unwrap().points().count(), 0);
        h.ok(EKO_dataset_commit(h.0, ds, id));
        // Readable after, at the same address.
        assert_eq!(*data.add(5), fill(5));

        // A store file is read-only to combine: a point crossing a threshold needs a host
        // final buffer (here it fails first on the missing threshold elements).
        let status = EKO_dataset_combine(h.0, ds, 1);
        assert!(
            status == EKO_ERROR_MISSING_THRESHOLD || status == EKO_ERROR_READ_ONLY,
            "{}",
            h.message()
        );

        let mut store = ptr::null_mut();
        h.ok(EKO_store_open(h.0, cstr(&dir).as_ptr(), &mut store));
        let mut v = EKO_View {
            data: ptr::null(),
            shape: [0; 4],
            strides: [0; 4],
            layout: 0,
        };
        h.ok(EKO_store_view(
            h.0,
            store,
            EKO_KIND_PARTIAL,
            p.mu2,
            5,
            EKO_ATTRIBUTE_VALUE,
            &mut v,
        ));
        assert_eq!(v.layout, EKO_LAYOUT_FORTRAN);
        assert_eq!(v.shape, [14, N_X as i64, 14, N_X as i64]);
        assert_eq!(v.strides, [1, 14, 14 * N_X as i64, 14 * 14 * N_X as i64]);
        for k in [0, 1, 777, n - 1] {
            assert_eq!(*v.data.add(k), fill(k));
        }
        h.fails(
            EKO_store_view(
                h.0,
                store,
                EKO_KIND_OPERATOR,
                p.mu2,
                5,
                EKO_ATTRIBUTE_VALUE,
                &mut v,
            ),
            EKO_ERROR_NOT_FOUND,
            "no operator for (mu2=100, nf=5)",
        );
        let mut files = 0;
        let (mut mu2, mut nf) = (0.0, 0);
        h.ok(EKO_store_point(
            h.0, store, 0, &mut mu2, &mut nf, &mut files,
        ));
        assert_eq!(
            (mu2, nf, files),
            (100.0, 5, EKO_FILE_PARTIAL | EKO_FILE_PARTIAL_ERROR)
        );
        EKO_store_destroy(store);
        EKO_dataset_destroy(ds);
    }
    let reread = Store::open(&dir).unwrap();
    let partial = reread.partial(&p).unwrap();
    assert_eq!(
        partial
            .view()
            .t()
            .iter()
            .take(3)
            .copied()
            .collect::<Vec<_>>(),
        [0.0, 0.25, 0.5]
    );
}

#[test]
fn bad_registrations_are_refused_precisely_and_change_nothing() {
    let metadata = common::metadata(N_X);
    let h = Handle::new();
    let ds = dataset(&h, &metadata);
    let len = 14 * N_X * 14 * N_X;
    let mut memory = vec![0.0f64; 3 * len + 1];
    let base = memory.as_mut_ptr();
    let mut id = -1;
    // SAFETY: every pointer below is inside `memory` with room for the stated length (or is
    // refused before use).
    unsafe {
        let add = |data: *mut f64, n: i64, kind: i32, layout: i32, nf: i32, id: &mut i32| {
            EKO_dataset_add_buffer(h.0, ds, kind, 10.0, nf, layout, data, n, id)
        };
        h.ok(add(
            base,
            len as i64,
            EKO_KIND_PARTIAL,
            EKO_LAYOUT_C,
            4,
            &mut id,
        ));
        assert_eq!(id, 0);
        let free = base.add(len);
        let n = len as i64;
        h.fails(
            add(free, n - 1, EKO_KIND_OPERATOR, EKO_LAYOUT_C, 4, &mut id),
            EKO_ERROR_BAD_SHAPE,
            "the grid needs",
        );
        h.fails(
            add(
                base.add(len / 2),
                n,
                EKO_KIND_OPERATOR,
                EKO_LAYOUT_C,
                4,
                &mut id,
            ),
            EKO_ERROR_OVERLAPPING,
            "overlaps buffer 0 (the partial of (mu2=10, nf=4), value)",
        );
        h.fails(
            add(
                base.cast::<u8>().add(len * 8 + 4).cast(),
                n,
                EKO_KIND_OPERATOR,
                EKO_LAYOUT_C,
                4,
                &mut id,
            ),
            EKO_ERROR_MISALIGNED,
            "not aligned",
        );
        h.fails(
            add(free, n, EKO_KIND_PARTIAL, EKO_LAYOUT_C, 4, &mut id),
            EKO_ERROR_DUPLICATE,
            "already has the partial of (mu2=10, nf=4) (buffer 0)",
        );
        h.fails(
            add(free, n, 7, EKO_LAYOUT_C, 4, &mut id),
            EKO_ERROR_INVALID_ARGUMENT,
            "kind 7",
        );
        h.fails(
            add(free, n, EKO_KIND_OPERATOR, 0, 4, &mut id),
            EKO_ERROR_INVALID_ARGUMENT,
            "layout 0 is neither",
        );
        h.fails(
            add(free, n, EKO_KIND_OPERATOR, EKO_LAYOUT_C, -1, &mut id),
            EKO_ERROR_INVALID_ARGUMENT,
            "nf=-1",
        );
        h.fails(
            EKO_dataset_add_buffer(
                h.0,
                ds,
                EKO_KIND_OPERATOR,
                10.0,
                4,
                EKO_LAYOUT_C,
                free,
                n,
                ptr::null_mut(),
            ),
            EKO_ERROR_NULL_ARGUMENT,
            "buffer_id is NULL",
        );
        assert_eq!(id, 0, "out-parameter written on failure");
        // A success after failures clears the handle.
        h.ok(add(free, n, EKO_KIND_OPERATOR, EKO_LAYOUT_C, 4, &mut id));
        assert_eq!(id, 1, "failed calls added nothing");
        assert_eq!(EKO_handle_status(h.0), EKO_OK);
        assert_eq!(h.message(), "");
        // A NULL handle: the call does nothing and says so by its status.
        assert_eq!(
            EKO_dataset_add_buffer(
                ptr::null_mut(),
                ds,
                EKO_KIND_PARTIAL,
                20.0,
                4,
                EKO_LAYOUT_C,
                ptr::null_mut(),
                0,
                &mut id
            ),
            EKO_ERROR_NULL_ARGUMENT
        );
        assert_eq!(id, 1);
        h.fails(
            EKO_dataset_add_buffer(
                h.0,
                ptr::null_mut(),
                EKO_KIND_PARTIAL,
                20.0,
                4,
                EKO_LAYOUT_C,
                ptr::null_mut(),
                0,
                &mut id,
            ),
            EKO_ERROR_NULL_ARGUMENT,
            "dataset is NULL",
        );
        // A matching with the wrong scale, a threshold element that is neither kind.
        h.fails(
            EKO_dataset_add_threshold(
                h.0,
                ds,
                20.0,
                4,
                20.0,
                5,
                EKO_LAYOUT_C,
                ptr::null_mut(),
                0,
                &mut id,
            ),
            EKO_ERROR_INVALID_ARGUMENT,
            "the dataset's is mu2=24.2064",
        );
        h.fails(
            EKO_dataset_add_threshold(
                h.0,
                ds,
                2.0,
                4,
                20.0,
                5,
                EKO_LAYOUT_C,
                ptr::null_mut(),
                0,
                &mut id,
            ),
            EKO_ERROR_INVALID_ARGUMENT,
            "no threshold element goes from",
        );
        // Combine with a point needing a missing threshold element.
        h.ok(add(
            base.add(2 * len),
            n,
            EKO_KIND_PARTIAL,
            EKO_LAYOUT_C,
            5,
            &mut id,
        ));
        h.fails(
            EKO_dataset_combine(h.0, ds, 1),
            EKO_ERROR_MISSING_THRESHOLD,
            "cannot combine (mu2=10, nf=5): the dataset has no buffer for the threshold element",
        );
        assert!(memory.iter().all(|&v| v == 0.0), "a failed combine wrote");
        EKO_dataset_destroy(ds);
    }
}
