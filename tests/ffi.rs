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
fn a_dataset_records_the_hosts_interpolation() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let h = Handle::new();
    let ds = dataset(&h, &metadata);
    // SAFETY: live objects; NUL-terminated paths.
    unsafe {
        h.fails(
            EKO_dataset_set_interpolation(h.0, ds, 0, 1),
            EKO_ERROR_INVALID_ARGUMENT,
            "degree is 0; the interpolation's polynomial degree is at least 1",
        );
        h.fails(
            EKO_dataset_set_interpolation(h.0, ptr::null_mut(), 2, 0),
            EKO_ERROR_NULL_ARGUMENT,
            "dataset",
        );
        h.ok(EKO_dataset_set_interpolation(h.0, ds, 2, 0));
        let empty = tmp.path().join("empty");
        h.ok(EKO_dataset_write_store(h.0, ds, cstr(&empty).as_ptr()));
        let recorded = Store::open(&empty).unwrap().metadata().interpolation;
        assert_eq!(
            recorded,
            Some(eko::store::Interpolation {
                polynomial_degree: 2,
                log: false
            })
        );
    }
    let mut ops = host_operators(&metadata);
    register(&h, ds, &mut ops);
    // SAFETY: live objects.
    unsafe {
        h.fails(
            EKO_dataset_set_interpolation(h.0, ds, 4, 1),
            EKO_ERROR_INVALID_ARGUMENT,
            "before any buffer is added",
        );
        EKO_dataset_destroy(ds);
    }
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

// ---- Transforms: the spec builder, transforms from a store or for host sides, applied to host
// buffers and to store operators; reshaped stores' views and sides.

use eko::store::{Basis, EVOLUTION_BASIS, FLAVOR_BASIS, Interpolation, Side};
use eko::transform::{Rotation, SideChange, Transform, TransformSpec};

/// A spec made through the C ABI, destroyed on drop.
struct Spec(*mut EKO_TransformSpec);

impl Spec {
    fn new(h: &Handle) -> Self {
        let mut spec = ptr::null_mut();
        // SAFETY: a live handle, a writable out-parameter.
        h.ok(unsafe { EKO_transform_spec_create(h.0, &mut spec) });
        assert!(!spec.is_null());
        Spec(spec)
    }
    fn xgrid(self, h: &Handle, side: i32, xgrid: &[f64]) -> Self {
        // SAFETY: live objects; `xgrid` readable for its length.
        h.ok(unsafe {
            EKO_transform_spec_set_xgrid(h.0, self.0, side, xgrid.as_ptr(), xgrid.len() as i32)
        });
        self
    }
    fn basis(self, h: &Handle, side: i32, basis: i32) -> Self {
        // SAFETY: live objects.
        h.ok(unsafe { EKO_transform_spec_set_basis(h.0, self.0, side, basis) });
        self
    }
}

impl Drop for Spec {
    fn drop(&mut self) {
        // SAFETY: from EKO_transform_spec_create, destroyed once.
        unsafe { EKO_transform_spec_destroy(self.0) }
    }
}

/// A transform made through the C ABI, destroyed on drop.
struct Tf(*mut EKO_Transform);

impl Tf {
    fn from_store(h: &Handle, store: *const EKO_Store, spec: &Spec, threads: i32) -> Self {
        let mut t = ptr::null_mut();
        // SAFETY: live objects, a writable out-parameter.
        h.ok(unsafe { EKO_transform_create(h.0, store, spec.0, threads, &mut t) });
        Tf(t)
    }
    fn shape(&self, h: &Handle) -> [usize; 4] {
        let mut shape = [0i64; 4];
        // SAFETY: live objects; 4 writable values.
        h.ok(unsafe { EKO_transform_shape(h.0, self.0, shape.as_mut_ptr()) });
        shape.map(|n| n as usize)
    }
    fn source_shape(&self, h: &Handle) -> [usize; 4] {
        let mut shape = [0i64; 4];
        // SAFETY: as above.
        h.ok(unsafe { EKO_transform_source_shape(h.0, self.0, shape.as_mut_ptr()) });
        shape.map(|n| n as usize)
    }
    fn side(&self, h: &Handle, side: i32) -> Side {
        let shape = self.shape(h);
        let (n_pid, n_x) = if side == EKO_SIDE_OUTPUT {
            (shape[0], shape[1])
        } else {
            (shape[2], shape[3])
        };
        let mut pids = vec![0; n_pid];
        let mut xgrid = vec![0.0; n_x];
        // SAFETY: live objects; arrays of the stated lengths.
        unsafe {
            h.ok(EKO_transform_side_pids(
                h.0,
                self.0,
                side,
                pids.as_mut_ptr(),
                n_pid as i32,
            ));
            h.ok(EKO_transform_side_xgrid(
                h.0,
                self.0,
                side,
                xgrid.as_mut_ptr(),
                n_x as i32,
            ));
        }
        Side { xgrid, pids }
    }
}

impl Drop for Tf {
    fn drop(&mut self) {
        // SAFETY: from EKO_transform_create*, destroyed once (NULL accepted).
        unsafe { EKO_transform_destroy(self.0) }
    }
}

fn geomspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (a.ln() + (b.ln() - a.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

fn bits(a: ArrayView4<'_, f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn open_store(h: &Handle, dir: &std::path::Path) -> *mut EKO_Store {
    let mut store = ptr::null_mut();
    // SAFETY: a live handle, a NUL-terminated path, a writable out-parameter.
    h.ok(unsafe { EKO_store_open(h.0, cstr(dir).as_ptr(), &mut store) });
    store
}

/// A store with final operators (with errors) at two points and a partial at a third.
fn transform_store(dir: &std::path::Path, metadata: &Metadata) -> Vec<EvolutionPoint> {
    let mut store = Store::create(dir, metadata).unwrap();
    let points = vec![point(10.0, 4), point(100.0, 5)];
    for (k, p) in points.iter().enumerate() {
        let op = common::operator(p, N_X, k as f64);
        let err = op.mapv(|v| 1e-4 * v.sin());
        store.insert_operator(*p, &op, Some(&err)).unwrap();
    }
    let partial = common::operator(&point(1e4, 5), N_X, 7.0);
    store
        .insert_partial(point(1e4, 5), &partial, None::<&Array4<f64>>)
        .unwrap();
    points
}

/// The transform the C tests ask for: both sides reinterpolated, the output side rotated to
/// the evolution basis.
fn reshaping_spec() -> TransformSpec {
    TransformSpec {
        output: SideChange {
            xgrid: Some(geomspace(1e-3, 1.0, 9)),
            rotation: Some(Rotation::To(Basis::Evol)),
        },
        input: SideChange {
            xgrid: Some(geomspace(2e-3, 0.9, 7)),
            rotation: None,
        },
        interpolation: None,
    }
}

#[test]
fn store_and_host_transforms_equal_the_rust_transform_bit_for_bit() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let points = transform_store(&dir, &metadata);
    let rust_spec = reshaping_spec();
    let rust = Transform::new(&metadata, &rust_spec).unwrap();

    let h = Handle::new();
    let store = open_store(&h, &dir);
    let spec = Spec::new(&h)
        .xgrid(
            &h,
            EKO_SIDE_OUTPUT,
            rust_spec.output.xgrid.as_ref().unwrap(),
        )
        .basis(&h, EKO_SIDE_OUTPUT, EKO_BASIS_EVOL)
        .xgrid(&h, EKO_SIDE_INPUT, rust_spec.input.xgrid.as_ref().unwrap());
    let t = Tf::from_store(&h, store, &spec, 2);
    // The spec may go: the transform copied it.
    drop(spec);
    assert_eq!(t.shape(&h), rust.shape());
    assert_eq!(t.shape(&h), [14, 9, 14, 7]);
    assert_eq!(t.source_shape(&h), rust.source_shape());
    assert_eq!(&t.side(&h, EKO_SIDE_OUTPUT), rust.output_side());
    assert_eq!(&t.side(&h, EKO_SIDE_INPUT), rust.input_side());
    assert_eq!(t.side(&h, EKO_SIDE_OUTPUT).pids, EVOLUTION_BASIS);

    let shape = rust.shape();
    let n = shape.iter().product::<usize>();
    let reread = Store::open(&dir).unwrap();
    for layout in [EKO_LAYOUT_C, EKO_LAYOUT_FORTRAN] {
        let f = layout == EKO_LAYOUT_FORTRAN;
        // The store form: final operators, their errors, a partial.
        let cases = points
            .iter()
            .flat_map(|p| {
                [
                    (*p, EKO_KIND_OPERATOR, EKO_ATTRIBUTE_VALUE),
                    (*p, EKO_KIND_OPERATOR, EKO_ATTRIBUTE_ERROR),
                ]
            })
            .chain([(point(1e4, 5), EKO_KIND_PARTIAL, EKO_ATTRIBUTE_VALUE)]);
        for (p, kind, attribute) in cases {
            let source = match (kind, attribute) {
                (EKO_KIND_PARTIAL, _) => reread.partial(&p).unwrap(),
                (_, EKO_ATTRIBUTE_ERROR) => reread.operator_error(&p).unwrap().unwrap(),
                _ => reread.operator(&p).unwrap(),
            };
            let want = rust.apply_owned(source.view()).unwrap();
            let mut out = vec![f64::NAN; n];
            // SAFETY: live objects; `out` writable for `n` doubles.
            h.ok(unsafe {
                EKO_store_transform(
                    h.0,
                    store,
                    t.0,
                    kind,
                    p.mu2,
                    i32::from(p.nf),
                    attribute,
                    out.as_mut_ptr(),
                    n as i64,
                    layout,
                )
            });
            let got = ArrayView4::from_shape(shape.set_f(f), &out).unwrap();
            assert_eq!(
                bits(got),
                bits(want.view()),
                "{p} {kind} {attribute} {layout}"
            );
        }
        // The host form: the operator in either layout, into either layout.
        let op = reread.operator(&points[1]).unwrap().view().to_owned();
        let want = rust.apply_owned(op.view()).unwrap();
        for op_layout in [EKO_LAYOUT_C, EKO_LAYOUT_FORTRAN] {
            let host_op = host(&op, op_layout);
            let mut out = vec![f64::NAN; n];
            // SAFETY: live objects; buffers of the stated lengths.
            h.ok(unsafe {
                EKO_transform_apply(
                    h.0,
                    t.0,
                    host_op.as_ptr(),
                    host_op.len() as i64,
                    op_layout,
                    out.as_mut_ptr(),
                    n as i64,
                    layout,
                )
            });
            let got = ArrayView4::from_shape(shape.set_f(f), &out).unwrap();
            assert_eq!(bits(got), bits(want.view()), "{op_layout} -> {layout}");
        }
    }
    // SAFETY: destroyed once.
    unsafe { EKO_store_destroy(store) };
}

#[test]
fn transforms_for_host_sides_rotate_by_a_matrix_and_to_the_evolution_basis() {
    let h = Handle::new();
    // Host buffers of 3 pids on the output side and 14 on the input side, no store.
    let out_side = Side {
        xgrid: geomspace(1e-4, 1.0, 6),
        pids: vec![21, 1, 2],
    };
    let in_side = Side {
        xgrid: geomspace(1e-4, 1.0, 5),
        pids: FLAVOR_BASIS.to_vec(),
    };
    let matrix = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, -1.0];
    let new_pids = [21, 901, 902];
    let rust_spec = TransformSpec {
        output: SideChange {
            xgrid: Some(geomspace(1e-3, 1.0, 4)),
            rotation: Some(Rotation::Matrix {
                matrix: matrix.to_vec(),
                pids: new_pids.to_vec(),
            }),
        },
        input: SideChange {
            xgrid: None,
            rotation: Some(Rotation::To(Basis::Evol)),
        },
        interpolation: Some(Interpolation {
            polynomial_degree: 2,
            log: false,
        }),
    };
    let rust = Transform::for_sides(out_side.clone(), in_side.clone(), &rust_spec).unwrap();
    let spec = Spec::new(&h)
        .xgrid(
            &h,
            EKO_SIDE_OUTPUT,
            rust_spec.output.xgrid.as_ref().unwrap(),
        )
        .basis(&h, EKO_SIDE_INPUT, EKO_BASIS_EVOL);
    let mut t = ptr::null_mut();
    // SAFETY: live objects; arrays of the stated lengths; writable out-parameter.
    unsafe {
        h.ok(EKO_transform_spec_set_rotation(
            h.0,
            spec.0,
            EKO_SIDE_OUTPUT,
            matrix.as_ptr(),
            new_pids.as_ptr(),
            3,
        ));
        h.ok(EKO_transform_spec_set_interpolation(h.0, spec.0, 2, 0));
        h.ok(EKO_transform_create_for_sides(
            h.0,
            spec.0,
            out_side.pids.as_ptr(),
            3,
            out_side.xgrid.as_ptr(),
            6,
            in_side.pids.as_ptr(),
            14,
            in_side.xgrid.as_ptr(),
            5,
            1,
            &mut t,
        ));
    }
    let t = Tf(t);
    assert_eq!(t.shape(&h), [3, 4, 14, 5]);
    assert_eq!(t.source_shape(&h), [3, 6, 14, 5]);
    assert_eq!(&t.side(&h, EKO_SIDE_OUTPUT), rust.output_side());
    assert_eq!(t.side(&h, EKO_SIDE_INPUT).pids, EVOLUTION_BASIS);
    let op = Array4::from_shape_fn((3, 6, 14, 5), |(a, i, b, j)| {
        ((a * 31 + i * 7 + b * 3 + j) as f64 * 0.37).sin()
    });
    let want = rust.apply_owned(op.view()).unwrap();
    let mut out = vec![0.0; 3 * 4 * 14 * 5];
    let host_op = host(&op, EKO_LAYOUT_FORTRAN);
    // SAFETY: live objects; buffers of the stated lengths.
    h.ok(unsafe {
        EKO_transform_apply(
            h.0,
            t.0,
            host_op.as_ptr(),
            host_op.len() as i64,
            EKO_LAYOUT_FORTRAN,
            out.as_mut_ptr(),
            out.len() as i64,
            EKO_LAYOUT_C,
        )
    });
    let got = ArrayView4::from_shape((3, 4, 14, 5), &out).unwrap();
    assert_eq!(bits(got), bits(want.view()));
    // The matrix is row-major M[new][old]: at an output x that is an old node (x = 1, where the
    // interpolation weights are exactly 1 and 0), row 902 (d - u) is the difference of what
    // rows d and u alone become in row 901 (d + u).
    let (i_new, i_old) = (3, 5);
    let alone = |op: &Array4<f64>, a: usize, i: usize| {
        let mut single = Array4::zeros((3, 6, 14, 5));
        single
            .slice_mut(ndarray::s![a, i, .., ..])
            .assign(&op.slice(ndarray::s![a, i, .., ..]));
        rust.apply_owned(single.view()).unwrap()
    };
    let u = alone(&op, 2, i_old);
    let d = alone(&op, 1, i_old);
    for b in 0..14 {
        for j in 0..5 {
            let want = d[[1, i_new, b, j]] - u[[1, i_new, b, j]];
            let got = got[[2, i_new, b, j]];
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "{got} {want}"
            );
        }
    }
}

#[test]
fn the_spec_builder_refuses_bad_input_and_keeps_what_it_had() {
    let h = Handle::new();
    let spec = Spec::new(&h);
    let good = [0.1, 0.5, 1.0];
    let m = [1.0, 0.0, 0.0, 1.0];
    let pids = [21, 22];
    // SAFETY: live objects, or NULL where a NULL is the point; arrays of the stated lengths.
    unsafe {
        // NULL handle: nothing happens, the status says why.
        let mut other = ptr::null_mut();
        assert_eq!(
            EKO_transform_spec_create(ptr::null_mut(), &mut other),
            EKO_ERROR_NULL_ARGUMENT
        );
        assert!(other.is_null());
        assert_eq!(
            EKO_transform_spec_set_xgrid(
                ptr::null_mut(),
                spec.0,
                EKO_SIDE_OUTPUT,
                good.as_ptr(),
                3
            ),
            EKO_ERROR_NULL_ARGUMENT
        );
        assert_eq!(
            EKO_transform_spec_set_basis(ptr::null_mut(), spec.0, EKO_SIDE_OUTPUT, EKO_BASIS_EVOL),
            EKO_ERROR_NULL_ARGUMENT
        );
        assert_eq!(
            EKO_transform_spec_set_rotation(
                ptr::null_mut(),
                spec.0,
                EKO_SIDE_OUTPUT,
                m.as_ptr(),
                pids.as_ptr(),
                2
            ),
            EKO_ERROR_NULL_ARGUMENT
        );
        assert_eq!(
            EKO_transform_spec_set_interpolation(ptr::null_mut(), spec.0, 4, 1),
            EKO_ERROR_NULL_ARGUMENT
        );
        h.fails(
            EKO_transform_spec_create(h.0, ptr::null_mut()),
            EKO_ERROR_NULL_ARGUMENT,
            "spec is NULL",
        );
        // NULL spec.
        h.fails(
            EKO_transform_spec_set_xgrid(h.0, ptr::null_mut(), EKO_SIDE_INPUT, good.as_ptr(), 3),
            EKO_ERROR_NULL_ARGUMENT,
            "spec is NULL",
        );
        h.fails(
            EKO_transform_spec_set_basis(h.0, ptr::null_mut(), EKO_SIDE_INPUT, EKO_BASIS_EVOL),
            EKO_ERROR_NULL_ARGUMENT,
            "spec is NULL",
        );
        h.fails(
            EKO_transform_spec_set_rotation(
                h.0,
                ptr::null_mut(),
                EKO_SIDE_INPUT,
                m.as_ptr(),
                pids.as_ptr(),
                2,
            ),
            EKO_ERROR_NULL_ARGUMENT,
            "spec is NULL",
        );
        h.fails(
            EKO_transform_spec_set_interpolation(h.0, ptr::null_mut(), 4, 1),
            EKO_ERROR_NULL_ARGUMENT,
            "spec is NULL",
        );
        // Unknown enum values.
        h.fails(
            EKO_transform_spec_set_xgrid(h.0, spec.0, 0, good.as_ptr(), 3),
            EKO_ERROR_INVALID_ARGUMENT,
            "side 0 is neither EKO_SIDE_OUTPUT (1) nor EKO_SIDE_INPUT (2)",
        );
        h.fails(
            EKO_transform_spec_set_basis(h.0, spec.0, 3, EKO_BASIS_EVOL),
            EKO_ERROR_INVALID_ARGUMENT,
            "side 3",
        );
        h.fails(
            EKO_transform_spec_set_basis(h.0, spec.0, EKO_SIDE_OUTPUT, 7),
            EKO_ERROR_INVALID_ARGUMENT,
            "basis 7 is neither EKO_BASIS_FLAVOR (1) nor EKO_BASIS_EVOL (2)",
        );
        // Counts, NULL arrays, bad x grids.
        h.fails(
            EKO_transform_spec_set_xgrid(h.0, spec.0, EKO_SIDE_OUTPUT, good.as_ptr(), 0),
            EKO_ERROR_INVALID_ARGUMENT,
            "n_x is 0, it must be positive",
        );
        h.fails(
            EKO_transform_spec_set_xgrid(h.0, spec.0, EKO_SIDE_OUTPUT, good.as_ptr(), -2),
            EKO_ERROR_INVALID_ARGUMENT,
            "n_x is -2",
        );
        h.fails(
            EKO_transform_spec_set_xgrid(h.0, spec.0, EKO_SIDE_OUTPUT, ptr::null(), 3),
            EKO_ERROR_NULL_ARGUMENT,
            "xgrid is NULL",
        );
        for (bad, words) in [
            (
                [0.5, 0.1, 1.0],
                "the new output x grid is not strictly increasing (0.5 then 0.1)",
            ),
            (
                [0.1, 0.5, 1.5],
                "the new output x grid value 1.5 is outside (0, 1]",
            ),
            ([0.0, 0.5, 1.0], "value 0 is outside (0, 1]"),
            ([0.1, f64::NAN, 1.0], "value NaN is outside"),
            ([0.1, 0.1, 1.0], "not strictly increasing (0.1 then 0.1)"),
        ] {
            h.fails(
                EKO_transform_spec_set_xgrid(h.0, spec.0, EKO_SIDE_OUTPUT, bad.as_ptr(), 3),
                EKO_ERROR_TRANSFORM,
                words,
            );
        }
        let misaligned = (good.as_ptr() as *const u8).add(1).cast::<f64>();
        h.fails(
            EKO_transform_spec_set_xgrid(h.0, spec.0, EKO_SIDE_OUTPUT, misaligned, 2),
            EKO_ERROR_MISALIGNED,
            "xgrid is not aligned",
        );
        // Rotations: counts, NULL, non-finite entries, a pid twice.
        h.fails(
            EKO_transform_spec_set_rotation(
                h.0,
                spec.0,
                EKO_SIDE_INPUT,
                m.as_ptr(),
                pids.as_ptr(),
                0,
            ),
            EKO_ERROR_INVALID_ARGUMENT,
            "n_pid is 0",
        );
        h.fails(
            EKO_transform_spec_set_rotation(
                h.0,
                spec.0,
                EKO_SIDE_INPUT,
                ptr::null(),
                pids.as_ptr(),
                2,
            ),
            EKO_ERROR_NULL_ARGUMENT,
            "matrix is NULL",
        );
        h.fails(
            EKO_transform_spec_set_rotation(
                h.0,
                spec.0,
                EKO_SIDE_INPUT,
                m.as_ptr(),
                ptr::null(),
                2,
            ),
            EKO_ERROR_NULL_ARGUMENT,
            "pids is NULL",
        );
        let inf = [1.0, f64::INFINITY, 0.0, 1.0];
        h.fails(
            EKO_transform_spec_set_rotation(
                h.0,
                spec.0,
                EKO_SIDE_INPUT,
                inf.as_ptr(),
                pids.as_ptr(),
                2,
            ),
            EKO_ERROR_TRANSFORM,
            "the input rotation has a non-finite entry (inf)",
        );
        let twice = [21, 21];
        h.fails(
            EKO_transform_spec_set_rotation(
                h.0,
                spec.0,
                EKO_SIDE_INPUT,
                m.as_ptr(),
                twice.as_ptr(),
                2,
            ),
            EKO_ERROR_TRANSFORM,
            "the input rotation's pids: pid 21 appears twice",
        );
        // Interpolation degrees.
        h.fails(
            EKO_transform_spec_set_interpolation(h.0, spec.0, 0, 1),
            EKO_ERROR_INVALID_ARGUMENT,
            "degree is 0, it must be positive",
        );
        h.fails(
            EKO_transform_spec_set_interpolation(h.0, spec.0, -3, 1),
            EKO_ERROR_INVALID_ARGUMENT,
            "degree is -3",
        );
        // Every failure left the spec asking nothing: its transform changes nothing.
        let side = Side {
            xgrid: good.to_vec(),
            pids: pids.to_vec(),
        };
        let mut t = ptr::null_mut();
        h.ok(EKO_transform_create_for_sides(
            h.0,
            spec.0,
            side.pids.as_ptr(),
            2,
            side.xgrid.as_ptr(),
            3,
            side.pids.as_ptr(),
            2,
            side.xgrid.as_ptr(),
            3,
            1,
            &mut t,
        ));
        let t = Tf(t);
        assert_eq!(t.shape(&h), [2, 3, 2, 3]);
        assert_eq!(t.side(&h, EKO_SIDE_INPUT), side);
        // Destroying NULL does nothing.
        EKO_transform_spec_destroy(ptr::null_mut());
        EKO_transform_destroy(ptr::null_mut());
    }
}

#[test]
fn transforms_that_cannot_be_made_say_why() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    transform_store(&dir, &metadata);
    let h = Handle::new();
    let store = open_store(&h, &dir);
    let sentinel = ptr::dangling_mut::<EKO_Transform>();
    let mut t = sentinel;
    let create = |spec: &Spec, threads: i32, t: &mut *mut EKO_Transform| {
        // SAFETY: live objects, a writable out-parameter.
        unsafe { EKO_transform_create(h.0, store, spec.0, threads, t) }
    };
    // NULL handle, store, spec, out-parameter.
    let spec = Spec::new(&h).basis(&h, EKO_SIDE_OUTPUT, EKO_BASIS_EVOL);
    // SAFETY: NULL where a NULL is the point; otherwise live objects.
    unsafe {
        assert_eq!(
            EKO_transform_create(ptr::null_mut(), store, spec.0, 1, &mut t),
            EKO_ERROR_NULL_ARGUMENT
        );
        h.fails(
            EKO_transform_create(h.0, ptr::null(), spec.0, 1, &mut t),
            EKO_ERROR_NULL_ARGUMENT,
            "store is NULL",
        );
        h.fails(
            EKO_transform_create(h.0, store, ptr::null(), 1, &mut t),
            EKO_ERROR_NULL_ARGUMENT,
            "spec is NULL",
        );
        h.fails(
            EKO_transform_create(h.0, store, spec.0, 1, ptr::null_mut()),
            EKO_ERROR_NULL_ARGUMENT,
            "transform is NULL",
        );
    }
    h.fails(
        create(&spec, -1, &mut t),
        EKO_ERROR_INVALID_ARGUMENT,
        "threads is -1",
    );
    // A singular rotation.
    let singular = [0.0; 14 * 14];
    // SAFETY: arrays of the stated lengths.
    h.ok(unsafe {
        EKO_transform_spec_set_rotation(
            h.0,
            spec.0,
            EKO_SIDE_INPUT,
            singular.as_ptr(),
            FLAVOR_BASIS.as_ptr(),
            14,
        )
    });
    h.fails(
        create(&spec, 1, &mut t),
        EKO_ERROR_TRANSFORM,
        "cannot transform: the input rotation is singular (not invertible)",
    );
    // A rotation for another number of pids.
    let small = [1.0, 0.0, 0.0, 1.0];
    // SAFETY: arrays of the stated lengths.
    h.ok(unsafe {
        EKO_transform_spec_set_rotation(
            h.0,
            spec.0,
            EKO_SIDE_INPUT,
            small.as_ptr(),
            [21, 22].as_ptr(),
            2,
        )
    });
    h.fails(
        create(&spec, 1, &mut t),
        EKO_ERROR_TRANSFORM,
        "a side of 14 pids needs a 14 x 14 matrix",
    );
    // A degree the grid cannot carry.
    let spec = Spec::new(&h).xgrid(&h, EKO_SIDE_OUTPUT, &geomspace(1e-3, 1.0, 5));
    // SAFETY: a live spec.
    h.ok(unsafe { EKO_transform_spec_set_interpolation(h.0, spec.0, 20, 1) });
    h.fails(
        create(&spec, 1, &mut t),
        EKO_ERROR_TRANSFORM,
        "degree 20 needs at least 21 x values; the operators' output x grid has 12",
    );
    assert_eq!(t, sentinel, "out-parameter written on failure");
    // No interpolation known: a store that records none, host sides without one.
    let mut old = metadata.clone();
    old.interpolation = None;
    let old_dir = tmp.path().join("old");
    transform_store(&old_dir, &old);
    let old_store = open_store(&h, &old_dir);
    let spec = Spec::new(&h).xgrid(&h, EKO_SIDE_INPUT, &geomspace(1e-3, 1.0, 5));
    let words = "none is known: a store records it in metadata.json (field `interpolation`";
    // SAFETY: live objects, a writable out-parameter.
    unsafe {
        h.fails(
            EKO_transform_create(h.0, old_store, spec.0, 1, &mut t),
            EKO_ERROR_TRANSFORM,
            words,
        );
        assert!(
            h.message().contains("EKO_transform_spec_set_interpolation"),
            "{}",
            h.message()
        );
        let (pids, xgrid) = (&metadata.pids, &metadata.xgrid);
        let for_sides = |spec: &Spec, xgrid_out: &[f64], t: &mut *mut EKO_Transform| {
            EKO_transform_create_for_sides(
                h.0,
                spec.0,
                pids.as_ptr(),
                14,
                xgrid_out.as_ptr(),
                xgrid_out.len() as i32,
                pids.as_ptr(),
                14,
                xgrid.as_ptr(),
                N_X as i32,
                1,
                t,
            )
        };
        h.fails(for_sides(&spec, xgrid, &mut t), EKO_ERROR_TRANSFORM, words);
        // Host sides that are not grids.
        let backwards: Vec<f64> = xgrid.iter().rev().copied().collect();
        h.fails(
            for_sides(&Spec::new(&h), &backwards, &mut t),
            EKO_ERROR_TRANSFORM,
            "the operators' output x grid is not strictly increasing",
        );
        h.fails(
            EKO_transform_create_for_sides(
                h.0,
                spec.0,
                pids.as_ptr(),
                0,
                xgrid.as_ptr(),
                N_X as i32,
                pids.as_ptr(),
                14,
                xgrid.as_ptr(),
                N_X as i32,
                1,
                &mut t,
            ),
            EKO_ERROR_INVALID_ARGUMENT,
            "n_pid_out is 0",
        );
        h.fails(
            EKO_transform_create_for_sides(
                h.0,
                spec.0,
                pids.as_ptr(),
                14,
                xgrid.as_ptr(),
                N_X as i32,
                pids.as_ptr(),
                14,
                ptr::null(),
                N_X as i32,
                1,
                &mut t,
            ),
            EKO_ERROR_NULL_ARGUMENT,
            "xgrid_in is NULL",
        );
        // A side in neither basis cannot be rotated to one.
        let spec = Spec::new(&h).basis(&h, EKO_SIDE_OUTPUT, EKO_BASIS_EVOL);
        let few = [21, 1, 2];
        h.fails(
            EKO_transform_create_for_sides(
                h.0,
                spec.0,
                few.as_ptr(),
                3,
                xgrid.as_ptr(),
                N_X as i32,
                pids.as_ptr(),
                14,
                xgrid.as_ptr(),
                N_X as i32,
                1,
                &mut t,
            ),
            EKO_ERROR_TRANSFORM,
            "neither eko's flavour basis",
        );
        assert_eq!(t, sentinel, "out-parameter written on failure");
        EKO_store_destroy(old_store);
        EKO_store_destroy(store);
    }
}

#[test]
fn applying_a_transform_checks_every_argument_and_writes_nothing_on_failure() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let points = transform_store(&dir, &metadata);
    let h = Handle::new();
    let store = open_store(&h, &dir);
    let spec = Spec::new(&h)
        .xgrid(&h, EKO_SIDE_OUTPUT, &geomspace(1e-3, 1.0, 9))
        .basis(&h, EKO_SIDE_INPUT, EKO_BASIS_EVOL);
    let t = Tf::from_store(&h, store, &spec, 0);
    let n_op = (14 * N_X * 14 * N_X) as i64;
    let n_out = (14 * 9 * 14 * N_X) as i64;
    let op = vec![0.5; n_op as usize];
    let mut out = vec![-7.0; n_out as usize + 1];
    let o = out.as_mut_ptr();
    let p = points[0];
    let nf = i32::from(p.nf);
    // SAFETY: every pointer is NULL, or inside `op`/`out` with room for the stated length, or
    // refused before use.
    unsafe {
        let apply = |op: *const f64, n_op, op_layout, out, n_out, out_layout| {
            EKO_transform_apply(h.0, t.0, op, n_op, op_layout, out, n_out, out_layout)
        };
        let c = EKO_LAYOUT_C;
        assert_eq!(
            EKO_transform_apply(ptr::null_mut(), t.0, op.as_ptr(), n_op, c, o, n_out, c),
            EKO_ERROR_NULL_ARGUMENT
        );
        h.fails(
            EKO_transform_apply(h.0, ptr::null(), op.as_ptr(), n_op, c, o, n_out, c),
            EKO_ERROR_NULL_ARGUMENT,
            "transform is NULL",
        );
        h.fails(
            apply(ptr::null(), n_op, c, o, n_out, c),
            EKO_ERROR_NULL_ARGUMENT,
            "op is NULL",
        );
        h.fails(
            apply(op.as_ptr(), n_op, c, ptr::null_mut(), n_out, c),
            EKO_ERROR_NULL_ARGUMENT,
            "out is NULL",
        );
        h.fails(
            apply(op.as_ptr(), n_op - 1, c, o, n_out, c),
            EKO_ERROR_BAD_SHAPE,
            "n_op is 28223; the transform takes operators of shape [14, 12, 14, 12] (28224 doubles)",
        );
        h.fails(
            apply(op.as_ptr(), n_op, c, o, n_op, c),
            EKO_ERROR_BAD_SHAPE,
            "n_out is 28224; the transform makes operators of shape [14, 9, 14, 12] (21168 doubles)",
        );
        h.fails(
            apply(op.as_ptr(), -1, c, o, n_out, c),
            EKO_ERROR_INVALID_ARGUMENT,
            "n_op is -1",
        );
        h.fails(
            apply(op.as_ptr(), n_op, 3, o, n_out, c),
            EKO_ERROR_INVALID_ARGUMENT,
            "op_layout 3 is neither EKO_LAYOUT_C (1) nor EKO_LAYOUT_FORTRAN (2)",
        );
        h.fails(
            apply(op.as_ptr(), n_op, c, o, n_out, 0),
            EKO_ERROR_INVALID_ARGUMENT,
            "out_layout 0 is neither",
        );
        h.fails(
            apply(op.as_ptr(), n_op, c, o.cast::<u8>().add(4).cast(), n_out, c),
            EKO_ERROR_MISALIGNED,
            "out is not aligned",
        );
        // In place, or partly: out overlapping op.
        let mut both = vec![0.5; (n_op + n_out) as usize];
        let b = both.as_mut_ptr();
        h.fails(
            apply(b, n_op, c, b.add(n_op as usize - 1), n_out, c),
            EKO_ERROR_OVERLAPPING,
            "op and out overlap",
        );
        h.fails(
            apply(b.add(n_out as usize - 1), n_op, c, b, n_out, c),
            EKO_ERROR_OVERLAPPING,
            "op and out overlap",
        );
        // Adjacent is fine.
        h.ok(apply(b, n_op, c, b.add(n_op as usize), n_out, c));
        assert!(out.iter().all(|&v| v == -7.0), "a failed apply wrote");

        // The store form.
        let st = |store: *const EKO_Store, kind, mu2, nf, attribute, out, n_out, layout| {
            EKO_store_transform(
                h.0, store, t.0, kind, mu2, nf, attribute, out, n_out, layout,
            )
        };
        let (k, v) = (EKO_KIND_OPERATOR, EKO_ATTRIBUTE_VALUE);
        assert_eq!(
            EKO_store_transform(ptr::null_mut(), store, t.0, k, p.mu2, nf, v, o, n_out, c),
            EKO_ERROR_NULL_ARGUMENT
        );
        h.fails(
            st(ptr::null(), k, p.mu2, nf, v, o, n_out, c),
            EKO_ERROR_NULL_ARGUMENT,
            "store is NULL",
        );
        h.fails(
            EKO_store_transform(h.0, store, ptr::null(), k, p.mu2, nf, v, o, n_out, c),
            EKO_ERROR_NULL_ARGUMENT,
            "transform is NULL",
        );
        h.fails(
            st(store, k, p.mu2, nf, v, ptr::null_mut(), n_out, c),
            EKO_ERROR_NULL_ARGUMENT,
            "out is NULL",
        );
        h.fails(
            st(store, 5, p.mu2, nf, v, o, n_out, c),
            EKO_ERROR_INVALID_ARGUMENT,
            "kind 5",
        );
        h.fails(
            st(store, k, p.mu2, nf, 4, o, n_out, c),
            EKO_ERROR_INVALID_ARGUMENT,
            "attribute 4",
        );
        h.fails(
            st(store, k, p.mu2, 9, v, o, n_out, c),
            EKO_ERROR_INVALID_ARGUMENT,
            "nf",
        );
        h.fails(
            st(store, k, p.mu2, nf, v, o, n_out, 7),
            EKO_ERROR_INVALID_ARGUMENT,
            "out_layout 7",
        );
        h.fails(
            st(store, k, p.mu2, nf, v, o, n_out + 1, c),
            EKO_ERROR_BAD_SHAPE,
            "n_out is 21169",
        );
        h.fails(
            st(store, k, 11.0, nf, v, o, n_out, c),
            EKO_ERROR_NOT_FOUND,
            "(mu2=11, nf=4)",
        );
        h.fails(
            st(store, EKO_KIND_PARTIAL, p.mu2, nf, v, o, n_out, c),
            EKO_ERROR_NOT_FOUND,
            "no partial",
        );
        // A view of the store is read-only memory: never a destination.
        let mut view = EKO_View {
            data: ptr::null(),
            shape: [0; 4],
            strides: [0; 4],
            layout: 0,
        };
        h.ok(EKO_store_view(h.0, store, k, p.mu2, nf, v, &mut view));
        h.fails(
            st(store, k, p.mu2, nf, v, view.data.cast_mut(), n_out, c),
            EKO_ERROR_READ_ONLY,
            "out is memory of a view of this store",
        );
        let pdf = vec![0.5; 14 * N_X];
        h.fails(
            EKO_store_apply(
                h.0,
                store,
                p.mu2,
                nf,
                pdf.as_ptr(),
                view.data.cast_mut(),
                1,
                (14 * N_X) as i64,
                1,
            ),
            EKO_ERROR_READ_ONLY,
            "out is memory of a view of this store",
        );
        // A transform for other sides (same shape, another grid).
        let other_x = geomspace(1e-2, 1.0, N_X);
        let mut other = ptr::null_mut();
        let rotate = Spec::new(&h).basis(&h, EKO_SIDE_INPUT, EKO_BASIS_EVOL);
        h.ok(EKO_transform_create_for_sides(
            h.0,
            rotate.0,
            metadata.pids.as_ptr(),
            14,
            other_x.as_ptr(),
            N_X as i32,
            metadata.pids.as_ptr(),
            14,
            metadata.xgrid.as_ptr(),
            N_X as i32,
            1,
            &mut other,
        ));
        let other = Tf(other);
        let n_other = (14 * N_X * 14 * N_X) as i64;
        let mut other_out = vec![-7.0; n_other as usize];
        h.fails(
            EKO_store_transform(
                h.0,
                store,
                other.0,
                k,
                p.mu2,
                nf,
                v,
                other_out.as_mut_ptr(),
                n_other,
                c,
            ),
            EKO_ERROR_INCOMPATIBLE,
            "the transform takes operators of shape [14, 12, 14, 12] on other sides",
        );
        assert!(
            out.iter().all(|&v| v == -7.0),
            "a failed store transform wrote"
        );
        assert!(
            other_out.iter().all(|&v| v == -7.0),
            "a failed store transform wrote"
        );

        // Getters: NULL, sides, counts.
        let mut shape = [0i64; 4];
        h.fails(
            EKO_transform_shape(h.0, t.0, ptr::null_mut()),
            EKO_ERROR_NULL_ARGUMENT,
            "shape is NULL",
        );
        h.fails(
            EKO_transform_source_shape(h.0, ptr::null(), shape.as_mut_ptr()),
            EKO_ERROR_NULL_ARGUMENT,
            "transform is NULL",
        );
        let mut pids = [0; 14];
        let mut xs = [0.0; 9];
        h.fails(
            EKO_transform_side_pids(h.0, t.0, 0, pids.as_mut_ptr(), 14),
            EKO_ERROR_INVALID_ARGUMENT,
            "side 0",
        );
        h.fails(
            EKO_transform_side_pids(h.0, t.0, EKO_SIDE_INPUT, pids.as_mut_ptr(), 13),
            EKO_ERROR_BAD_SHAPE,
            "pids holds 13 elements; the transform's input side has 14",
        );
        h.fails(
            EKO_transform_side_xgrid(h.0, t.0, EKO_SIDE_INPUT, xs.as_mut_ptr(), 9),
            EKO_ERROR_BAD_SHAPE,
            "xgrid holds 9 elements; the transform's input side has 12",
        );
        h.fails(
            EKO_transform_side_xgrid(h.0, t.0, EKO_SIDE_OUTPUT, ptr::null_mut(), 9),
            EKO_ERROR_NULL_ARGUMENT,
            "xgrid is NULL",
        );
        h.ok(EKO_transform_side_xgrid(
            h.0,
            t.0,
            EKO_SIDE_OUTPUT,
            xs.as_mut_ptr(),
            9,
        ));
        h.ok(EKO_transform_side_pids(
            h.0,
            t.0,
            EKO_SIDE_INPUT,
            pids.as_mut_ptr(),
            14,
        ));
        assert_eq!(pids, EVOLUTION_BASIS);
        // The shape check the Fortran module makes before applying.
        let (good_op, good_out) = ([14i64, 12, 14, 12], [14i64, 9, 14, 12]);
        h.ok(EKO_transform_check_shapes(
            h.0,
            t.0,
            good_op.as_ptr(),
            good_out.as_ptr(),
        ));
        h.fails(
            EKO_transform_check_shapes(h.0, t.0, good_op.as_ptr(), [14i64, 12, 14, 9].as_ptr()),
            EKO_ERROR_BAD_SHAPE,
            "out has shape [14, 12, 14, 9]; the transform makes operators of shape [14, 9, 14, 12]",
        );
        h.fails(
            EKO_transform_check_shapes(h.0, t.0, [12i64, 14, 12, 14].as_ptr(), good_out.as_ptr()),
            EKO_ERROR_BAD_SHAPE,
            "op has shape [12, 14, 12, 14]; the transform takes",
        );
        h.fails(
            EKO_transform_check_shapes(h.0, t.0, ptr::null(), good_out.as_ptr()),
            EKO_ERROR_NULL_ARGUMENT,
            "op_shape is NULL",
        );
        EKO_store_destroy(store);
    }
}

#[test]
fn a_reshaped_stores_views_and_sides_have_the_final_operators_shape() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let square_dir = tmp.path().join("square");
    let points = transform_store(&square_dir, &metadata);
    let square = Store::open(&square_dir).unwrap();
    // Reshaped by the Rust API: one store with both sides changed, one only rotated.
    let reshape = |spec: &TransformSpec, name: &str| {
        let t = Transform::new(&metadata, spec).unwrap();
        let dir = tmp.path().join(name);
        let mut store = Store::create(&dir, &t.metadata(&metadata, serde_json::json!({}))).unwrap();
        for p in &points {
            let op = t.apply_owned(square.operator(p).unwrap().view()).unwrap();
            store
                .insert_operator(*p, &op, None::<&Array4<f64>>)
                .unwrap();
        }
        (dir, t)
    };
    let (dir, t) = reshape(&reshaping_spec(), "reshaped");
    let rotation = TransformSpec {
        output: SideChange {
            xgrid: None,
            rotation: Some(Rotation::To(Basis::Evol)),
        },
        ..TransformSpec::default()
    };
    let (rotated_dir, _) = reshape(&rotation, "rotated");

    let h = Handle::new();
    let store = open_store(&h, &dir);
    let square_store = open_store(&h, &square_dir);
    // SAFETY: live objects; arrays of the stated lengths.
    unsafe {
        // The grid is still the computed one (partials, thresholds).
        let (mut n_pid, mut n_x) = (0, 0);
        h.ok(EKO_store_grid(h.0, store, &mut n_pid, &mut n_x));
        assert_eq!((n_pid, n_x), (14, N_X as i32));
        let mut xgrid = vec![0.0; N_X];
        h.ok(EKO_store_xgrid(h.0, store, xgrid.as_mut_ptr(), N_X as i32));
        assert_eq!(xgrid, metadata.xgrid);
        // The final operators' shape and sides.
        let mut shape = [0i64; 4];
        h.ok(EKO_store_operator_shape(h.0, store, shape.as_mut_ptr()));
        assert_eq!(shape, [14, 9, 14, 7]);
        let side = |store, side: i32, n_pid: usize, n_x: usize| {
            let mut pids = vec![0; n_pid];
            let mut xgrid = vec![0.0; n_x];
            h.ok(EKO_store_side_pids(
                h.0,
                store,
                side,
                pids.as_mut_ptr(),
                n_pid as i32,
            ));
            h.ok(EKO_store_side_xgrid(
                h.0,
                store,
                side,
                xgrid.as_mut_ptr(),
                n_x as i32,
            ));
            Side { xgrid, pids }
        };
        assert_eq!(&side(store, EKO_SIDE_OUTPUT, 14, 9), t.output_side());
        assert_eq!(&side(store, EKO_SIDE_INPUT, 14, 7), t.input_side());
        assert_eq!(side(store, EKO_SIDE_OUTPUT, 14, 9).pids, EVOLUTION_BASIS);
        h.fails(
            EKO_store_side_xgrid(h.0, store, EKO_SIDE_INPUT, xgrid.as_mut_ptr(), N_X as i32),
            EKO_ERROR_BAD_SHAPE,
            "xgrid holds 12 elements; the store's final operators' input side has 7",
        );
        h.fails(
            EKO_store_side_pids(h.0, store, EKO_SIDE_OUTPUT, ptr::null_mut(), 14),
            EKO_ERROR_NULL_ARGUMENT,
            "pids is NULL",
        );
        h.fails(
            EKO_store_side_pids(h.0, store, 9, [0; 14].as_mut_ptr(), 14),
            EKO_ERROR_INVALID_ARGUMENT,
            "side 9",
        );
        h.fails(
            EKO_store_operator_shape(h.0, store, ptr::null_mut()),
            EKO_ERROR_NULL_ARGUMENT,
            "shape is NULL",
        );
        h.fails(
            EKO_store_operator_shape(h.0, ptr::null(), shape.as_mut_ptr()),
            EKO_ERROR_NULL_ARGUMENT,
            "store is NULL",
        );
        // A square store: both sides are its grid, the shape is the grid's.
        h.ok(EKO_store_operator_shape(
            h.0,
            square_store,
            shape.as_mut_ptr(),
        ));
        assert_eq!(shape, [14, N_X as i64, 14, N_X as i64]);
        let grid = Side {
            xgrid: metadata.xgrid.clone(),
            pids: metadata.pids.clone(),
        };
        assert_eq!(side(square_store, EKO_SIDE_OUTPUT, 14, N_X), grid);
        assert_eq!(side(square_store, EKO_SIDE_INPUT, 14, N_X), grid);

        // A view has the reshaped shape and the reshaped values.
        let mut v = EKO_View {
            data: ptr::null(),
            shape: [0; 4],
            strides: [0; 4],
            layout: 0,
        };
        let p = points[1];
        h.ok(EKO_store_view(
            h.0,
            store,
            EKO_KIND_OPERATOR,
            p.mu2,
            i32::from(p.nf),
            EKO_ATTRIBUTE_VALUE,
            &mut v,
        ));
        assert_eq!(v.shape, [14, 9, 14, 7]);
        assert_eq!(v.strides, [9 * 14 * 7, 14 * 7, 7, 1]);
        let want = t.apply_owned(square.operator(&p).unwrap().view()).unwrap();
        let viewed = ArrayView4::from_shape(
            (14, 9, 14, 7),
            std::slice::from_raw_parts(v.data, 14 * 9 * 14 * 7),
        )
        .unwrap();
        assert_eq!(bits(viewed), bits(want.view()));
        // A reshaped store has no partials to view.
        h.fails(
            EKO_store_view(
                h.0,
                store,
                EKO_KIND_PARTIAL,
                p.mu2,
                i32::from(p.nf),
                EKO_ATTRIBUTE_VALUE,
                &mut v,
            ),
            EKO_ERROR_NOT_FOUND,
            "no partial",
        );

        // Transforming a reshaped store again, from its own sides: back to the flavour basis.
        let spec = Spec::new(&h).basis(&h, EKO_SIDE_OUTPUT, EKO_BASIS_FLAVOR);
        let back = Tf::from_store(&h, store, &spec, 1);
        assert_eq!(back.source_shape(&h), [14, 9, 14, 7]);
        assert_eq!(back.side(&h, EKO_SIDE_OUTPUT).pids, FLAVOR_BASIS);
        let reshaped = Store::open(&dir).unwrap();
        let rust_back = Transform::new(
            reshaped.metadata(),
            &TransformSpec {
                output: SideChange {
                    xgrid: None,
                    rotation: Some(Rotation::To(Basis::Flavor)),
                },
                ..TransformSpec::default()
            },
        )
        .unwrap();
        let mut out = vec![0.0; 14 * 9 * 14 * 7];
        h.ok(EKO_store_transform(
            h.0,
            store,
            back.0,
            EKO_KIND_OPERATOR,
            p.mu2,
            i32::from(p.nf),
            EKO_ATTRIBUTE_VALUE,
            out.as_mut_ptr(),
            out.len() as i64,
            EKO_LAYOUT_C,
        ));
        let want = rust_back
            .apply_owned(reshaped.operator(&p).unwrap().view())
            .unwrap();
        let got = ArrayView4::from_shape((14, 9, 14, 7), &out).unwrap();
        assert_eq!(bits(got), bits(want.view()));
        // A transform of the square store's sides does not fit the reshaped store.
        let square_t = Tf::from_store(&h, square_store, &spec, 1);
        h.fails(
            EKO_store_transform(
                h.0,
                store,
                square_t.0,
                EKO_KIND_OPERATOR,
                p.mu2,
                i32::from(p.nf),
                EKO_ATTRIBUTE_VALUE,
                out.as_mut_ptr(),
                (14 * N_X * 14 * N_X) as i64,
                EKO_LAYOUT_C,
            ),
            EKO_ERROR_INCOMPATIBLE,
            "than the store's final operators, of shape [14, 9, 14, 7]",
        );

        // Evolving PDFs: the reshaped store's sides differ in length, the rotated one's do not.
        let pdf = vec![0.25; 14 * 7];
        let mut evolved = vec![0.0; 14 * 9];
        h.fails(
            EKO_store_apply(
                h.0,
                store,
                p.mu2,
                i32::from(p.nf),
                pdf.as_ptr(),
                evolved.as_mut_ptr(),
                1,
                14 * 7,
                1,
            ),
            EKO_ERROR_RESHAPED,
            "take 14 pids x 7 x values per replica and give 14 x 9",
        );
        let rotated = open_store(&h, &rotated_dir);
        let pdf: Vec<f64> = (0..14 * N_X).map(|k| (k as f64 * 0.3).cos()).collect();
        let mut evolved = vec![0.0; 14 * N_X];
        h.ok(EKO_store_apply(
            h.0,
            rotated,
            p.mu2,
            i32::from(p.nf),
            pdf.as_ptr(),
            evolved.as_mut_ptr(),
            1,
            (14 * N_X) as i64,
            1,
        ));
        let op = Store::open(&rotated_dir).unwrap().operator(&p).unwrap();
        let op = op.view();
        for a in 0..14 {
            for i in 0..N_X {
                let want: f64 = (0..14)
                    .flat_map(|b| (0..N_X).map(move |k| (b, k)))
                    .map(|(b, k)| op[[a, i, b, k]] * pdf[b * N_X + k])
                    .sum();
                let got = evolved[a * N_X + i];
                assert!(
                    (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                    "{got} {want}"
                );
            }
        }
        EKO_store_destroy(rotated);
        EKO_store_destroy(square_store);
        EKO_store_destroy(store);
    }
}

// ---- Evolving through a transform (EKO_store_apply_transformed) and reshaping from C
// (EKO_store_reshape).

use eko::apply::apply_store;
use ndarray::Array3;

/// PDF replicas on a side of `n_pid` x `n_x`, varied by `tag`.
fn pdfs(n_rep: usize, n_pid: usize, n_x: usize, tag: f64) -> Array3<f64> {
    Array3::from_shape_fn((n_rep, n_pid, n_x), |(r, b, k)| {
        0.5 + (tag + 0.37 * (r * 31 + b * 7 + k) as f64).sin()
    })
}

fn bits3(a: &[f64]) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

/// `EKO_store_apply_transformed` into a new buffer of `n_out` doubles (NaN where unwritten).
#[allow(clippy::too_many_arguments)]
fn apply_c(
    h: &Handle,
    store: *const EKO_Store,
    t: *const EKO_Transform,
    p: EvolutionPoint,
    pdf: &Array3<f64>,
    n_out: usize,
    threads: i32,
) -> Vec<f64> {
    let mut out = vec![f64::NAN; n_out];
    let input = pdf.as_slice().unwrap();
    // SAFETY: live objects (or a NULL transform); buffers of the stated lengths.
    h.ok(unsafe {
        EKO_store_apply_transformed(
            h.0,
            store,
            t,
            p.mu2,
            i32::from(p.nf),
            input.as_ptr(),
            input.len() as i64,
            out.as_mut_ptr(),
            n_out as i64,
            pdf.shape()[0] as i64,
            threads,
        )
    });
    out
}

/// A store with final operators (with errors) only, at the points of [`transform_store`].
fn final_store(dir: &std::path::Path, metadata: &Metadata) -> Vec<EvolutionPoint> {
    let mut store = Store::create(dir, metadata).unwrap();
    let points = vec![point(10.0, 4), point(100.0, 5)];
    for (k, p) in points.iter().enumerate() {
        let op = common::operator(p, N_X, k as f64);
        let err = op.mapv(|v| 1e-4 * v.sin());
        store.insert_operator(*p, &op, Some(&err)).unwrap();
    }
    points
}

/// What `EKO_store_reshape` records of itself, for a Rust reshape to write the same metadata.
fn c_provenance(source: &std::path::Path) -> serde_json::Value {
    serde_json::json!({
        "source": std::path::absolute(source).unwrap(),
        "by": format!("EKO_store_reshape, the C ABI (libeko {})", env!("CARGO_PKG_VERSION")),
    })
}

/// The C spec of [`reshaping_spec`].
fn c_reshaping_spec(h: &Handle) -> Spec {
    let rust = reshaping_spec();
    Spec::new(h)
        .xgrid(h, EKO_SIDE_OUTPUT, rust.output.xgrid.as_ref().unwrap())
        .basis(h, EKO_SIDE_OUTPUT, EKO_BASIS_EVOL)
        .xgrid(h, EKO_SIDE_INPUT, rust.input.xgrid.as_ref().unwrap())
}

#[test]
fn applying_through_a_transform_equals_the_rust_apply_bit_for_bit() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let points = transform_store(&dir, &metadata);
    let square = Store::open(&dir).unwrap();
    let rust = Transform::new(&metadata, &reshaping_spec()).unwrap();
    let h = Handle::new();
    let store = open_store(&h, &dir);
    let t = Tf::from_store(&h, store, &c_reshaping_spec(&h), 2);
    assert_eq!(t.shape(&h), [14, 9, 14, 7]);
    let n_rep = 3;

    // Through the transform: the PDF on its input side (14 x 7), the result on its output side
    // (14 x 9), equal to the Rust apply with the same transform, on any number of threads.
    let pdf = pdfs(n_rep, 14, 7, 0.1);
    for p in &points {
        let want = apply_store(&square, &[*p], pdf.view(), 1, Some(&rust), |_| {}).unwrap();
        for threads in [0, 1, 2] {
            let got = apply_c(&h, store, t.0, *p, &pdf, n_rep * 14 * 9, threads);
            assert_eq!(
                bits3(&got),
                bits3(want.as_slice().unwrap()),
                "{p}, {threads} threads"
            );
        }
    }

    // Without a transform, on a square store: the Rust apply, and EKO_store_apply, bit for bit.
    let pdf = pdfs(n_rep, 14, N_X, 0.2);
    let p = points[1];
    let want = apply_store(&square, &[p], pdf.view(), 1, None, |_| {}).unwrap();
    let got = apply_c(&h, store, ptr::null(), p, &pdf, n_rep * 14 * N_X, 1);
    assert_eq!(bits3(&got), bits3(want.as_slice().unwrap()));
    let mut plain = vec![f64::NAN; got.len()];
    // SAFETY: live objects; buffers of the stated lengths.
    h.ok(unsafe {
        EKO_store_apply(
            h.0,
            store,
            p.mu2,
            i32::from(p.nf),
            pdf.as_ptr(),
            plain.as_mut_ptr(),
            n_rep as i64,
            plain.len() as i64,
            2,
        )
    });
    assert_eq!(bits3(&plain), bits3(&got));

    // A reshaped store whose sides differ in length: EKO_store_apply refuses it and points to
    // EKO_store_apply_transformed, which evolves it, with no transform or with one made from
    // the reshaped store (back to the flavour basis on the output side, the evolution basis on
    // the input side).
    let reshaped_dir = tmp.path().join("reshaped");
    let finals = tmp.path().join("finals");
    final_store(&finals, &metadata);
    eko::transform::reshape(
        &Store::open(&finals).unwrap(),
        &reshaped_dir,
        &reshaping_spec(),
        1,
        serde_json::json!({}),
        |_| {},
    )
    .unwrap();
    let reshaped = Store::open(&reshaped_dir).unwrap();
    let rstore = open_store(&h, &reshaped_dir);
    let pdf = pdfs(1, 14, 7, 0.3);
    let mut evolved = vec![0.0; 14 * 9];
    // SAFETY: live objects; `evolved` holds 14 * 9 doubles, more than the length given.
    h.fails(
        unsafe {
            EKO_store_apply(
                h.0,
                rstore,
                p.mu2,
                i32::from(p.nf),
                pdf.as_ptr(),
                evolved.as_mut_ptr(),
                1,
                14 * 7,
                1,
            )
        },
        EKO_ERROR_RESHAPED,
        "EKO_store_apply needs pdf and out of one length; EKO_store_apply_transformed takes each \
         with its own",
    );
    let want = apply_store(&reshaped, &[p], pdf.view(), 1, None, |_| {}).unwrap();
    let got = apply_c(&h, rstore, ptr::null(), p, &pdf, 14 * 9, 2);
    assert_eq!(bits3(&got), bits3(want.as_slice().unwrap()));
    // The reshaped store evolves as the square store through the transform, bit for bit: the
    // same transformed operator, applied by the same code.
    let through = apply_c(&h, store, t.0, p, &pdf, 14 * 9, 1);
    assert_eq!(bits3(&through), bits3(&got));
    let back_spec = TransformSpec {
        output: SideChange {
            xgrid: None,
            rotation: Some(Rotation::To(Basis::Flavor)),
        },
        input: SideChange {
            xgrid: None,
            rotation: Some(Rotation::To(Basis::Evol)),
        },
        interpolation: None,
    };
    let rust_back = Transform::new(reshaped.metadata(), &back_spec).unwrap();
    let back = Tf::from_store(
        &h,
        rstore,
        &Spec::new(&h)
            .basis(&h, EKO_SIDE_OUTPUT, EKO_BASIS_FLAVOR)
            .basis(&h, EKO_SIDE_INPUT, EKO_BASIS_EVOL),
        1,
    );
    assert_eq!(back.side(&h, EKO_SIDE_INPUT).pids, EVOLUTION_BASIS);
    let pdf = pdfs(2, 14, 7, 0.4);
    let want = apply_store(&reshaped, &[p], pdf.view(), 1, Some(&rust_back), |_| {}).unwrap();
    let got = apply_c(&h, rstore, back.0, p, &pdf, 2 * 14 * 9, 0);
    assert_eq!(bits3(&got), bits3(want.as_slice().unwrap()));

    // A PDF in a store view (read-only memory) is a fine input.
    let mut v = EKO_View {
        data: ptr::null(),
        shape: [0; 4],
        strides: [0; 4],
        layout: 0,
    };
    // SAFETY: live objects; `v` writable; the view holds 14 * 9 * 14 * 7 doubles.
    unsafe {
        h.ok(EKO_store_view(
            h.0,
            rstore,
            EKO_KIND_OPERATOR,
            p.mu2,
            i32::from(p.nf),
            EKO_ATTRIBUTE_VALUE,
            &mut v,
        ));
        let mut out = vec![0.0; 9 * 14 * 9];
        h.ok(EKO_store_apply_transformed(
            h.0,
            rstore,
            ptr::null(),
            p.mu2,
            i32::from(p.nf),
            v.data,
            9 * 14 * 7,
            out.as_mut_ptr(),
            out.len() as i64,
            9,
            1,
        ));
        let as_pdf = Array3::from_shape_vec(
            (9, 14, 7),
            std::slice::from_raw_parts(v.data, 9 * 14 * 7).to_vec(),
        )
        .unwrap();
        let want = apply_store(&reshaped, &[p], as_pdf.view(), 1, None, |_| {}).unwrap();
        assert_eq!(bits3(&out), bits3(want.as_slice().unwrap()));
        EKO_store_destroy(rstore);
        EKO_store_destroy(store);
    }
}

#[test]
fn applying_through_a_transform_checks_every_argument_and_writes_nothing_on_failure() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let points = transform_store(&dir, &metadata);
    let h = Handle::new();
    let store = open_store(&h, &dir);
    let t = Tf::from_store(&h, store, &c_reshaping_spec(&h), 1);
    let p = points[0];
    let (mu2, nf) = (p.mu2, i32::from(p.nf));
    let n_rep = 2i64;
    let n_pdf = n_rep * 14 * 7;
    let n_out = n_rep * 14 * 9;
    let pdf = vec![0.5; n_pdf as usize];
    let mut out = vec![-7.0; n_out as usize];
    let o = out.as_mut_ptr();
    let i = pdf.as_ptr();
    // A transform made for another store: another x grid, the same shape.
    let other_dir = tmp.path().join("other");
    let mut other_metadata = metadata.clone();
    other_metadata.xgrid = geomspace(1e-2, 1.0, N_X);
    final_store(&other_dir, &other_metadata);
    let other_store = open_store(&h, &other_dir);
    let other = Tf::from_store(&h, other_store, &c_reshaping_spec(&h), 1);
    assert_eq!(other.source_shape(&h), t.source_shape(&h));
    // SAFETY: every pointer is NULL, or inside `pdf`/`out`/`both` with room for the stated
    // length, or refused before use.
    unsafe {
        let apply = |t: *const EKO_Transform, mu2, nf, pdf, n_pdf, out, n_out, n_rep, threads| {
            EKO_store_apply_transformed(
                h.0, store, t, mu2, nf, pdf, n_pdf, out, n_out, n_rep, threads,
            )
        };
        assert_eq!(
            EKO_store_apply_transformed(
                ptr::null_mut(),
                store,
                t.0,
                mu2,
                nf,
                i,
                n_pdf,
                o,
                n_out,
                n_rep,
                1
            ),
            EKO_ERROR_NULL_ARGUMENT
        );
        h.fails(
            EKO_store_apply_transformed(
                h.0,
                ptr::null(),
                t.0,
                mu2,
                nf,
                i,
                n_pdf,
                o,
                n_out,
                n_rep,
                1,
            ),
            EKO_ERROR_NULL_ARGUMENT,
            "store is NULL",
        );
        h.fails(
            apply(t.0, mu2, nf, ptr::null(), n_pdf, o, n_out, n_rep, 1),
            EKO_ERROR_NULL_ARGUMENT,
            "pdf is NULL",
        );
        h.fails(
            apply(t.0, mu2, nf, i, n_pdf, ptr::null_mut(), n_out, n_rep, 1),
            EKO_ERROR_NULL_ARGUMENT,
            "out is NULL",
        );
        h.fails(
            apply(t.0, mu2, nf, i, n_pdf - 1, o, n_out, n_rep, 1),
            EKO_ERROR_BAD_SHAPE,
            "n_pdf is 195; 2 replica(s) of 14 pids x 7 x values (the transform's input side) \
             take 196",
        );
        h.fails(
            apply(t.0, mu2, nf, i, n_pdf, o, n_pdf, n_rep, 1),
            EKO_ERROR_BAD_SHAPE,
            "n_out is 196; 2 replica(s) of 14 pids x 9 x values (the transform's output side) \
             take 252",
        );
        // One replica's worth of out for two replicas' PDF.
        h.fails(
            apply(t.0, mu2, nf, i, n_pdf, o, n_out, 1, 1),
            EKO_ERROR_BAD_SHAPE,
            "n_pdf is 196; 1 replica(s) of 14 pids x 7 x values",
        );
        // Without a transform, the store's grid on both sides.
        h.fails(
            apply(ptr::null(), mu2, nf, i, n_pdf, o, n_out, n_rep, 1),
            EKO_ERROR_BAD_SHAPE,
            "n_pdf is 196; 2 replica(s) of 14 pids x 12 x values (the store's grid) take 336",
        );
        h.fails(
            apply(t.0, mu2, nf, i, n_pdf, o, n_out, 0, 1),
            EKO_ERROR_INVALID_ARGUMENT,
            "n_rep is 0, it must be positive",
        );
        h.fails(
            apply(t.0, mu2, nf, i, -3, o, n_out, n_rep, 1),
            EKO_ERROR_INVALID_ARGUMENT,
            "n_pdf is -3",
        );
        h.fails(
            apply(t.0, mu2, nf, i, n_pdf, o, 0, n_rep, 1),
            EKO_ERROR_INVALID_ARGUMENT,
            "n_out is 0",
        );
        h.fails(
            apply(t.0, mu2, nf, i, n_pdf, o, n_out, n_rep, -1),
            EKO_ERROR_INVALID_ARGUMENT,
            "threads is -1",
        );
        h.fails(
            apply(t.0, mu2, 7, i, n_pdf, o, n_out, n_rep, 1),
            EKO_ERROR_INVALID_ARGUMENT,
            "nf",
        );
        h.fails(
            apply(other.0, mu2, nf, i, n_pdf, o, n_out, n_rep, 1),
            EKO_ERROR_INCOMPATIBLE,
            "the transform takes operators of shape [14, 12, 14, 12] on other sides (pids, x \
             grids) than the store's final operators",
        );
        h.fails(
            apply(
                t.0,
                mu2,
                nf,
                i,
                n_pdf,
                o.cast::<u8>().add(4).cast(),
                n_out,
                n_rep,
                1,
            ),
            EKO_ERROR_MISALIGNED,
            "out is not aligned",
        );
        h.fails(
            apply(
                t.0,
                mu2,
                nf,
                i.cast::<u8>().add(1).cast(),
                n_pdf,
                o,
                n_out,
                n_rep,
                1,
            ),
            EKO_ERROR_MISALIGNED,
            "pdf is not aligned",
        );
        let mut both = vec![0.5; (n_pdf + n_out) as usize];
        let b = both.as_mut_ptr();
        h.fails(
            apply(
                t.0,
                mu2,
                nf,
                b,
                n_pdf,
                b.add(n_pdf as usize - 1),
                n_out,
                n_rep,
                1,
            ),
            EKO_ERROR_OVERLAPPING,
            "pdf and out overlap: evolve into separate memory",
        );
        h.fails(
            apply(
                t.0,
                mu2,
                nf,
                b.add(n_out as usize - 1),
                n_pdf,
                b,
                n_out,
                n_rep,
                1,
            ),
            EKO_ERROR_OVERLAPPING,
            "pdf and out overlap",
        );
        assert!(both.iter().all(|&v| v == 0.5), "a failed apply wrote");
        // Adjacent is fine.
        h.ok(apply(
            t.0,
            mu2,
            nf,
            b,
            n_pdf,
            b.add(n_pdf as usize),
            n_out,
            n_rep,
            1,
        ));
        // A view of the store is read-only memory.
        let mut view = EKO_View {
            data: ptr::null(),
            shape: [0; 4],
            strides: [0; 4],
            layout: 0,
        };
        h.ok(EKO_store_view(
            h.0,
            store,
            EKO_KIND_OPERATOR,
            mu2,
            nf,
            EKO_ATTRIBUTE_VALUE,
            &mut view,
        ));
        h.fails(
            apply(
                t.0,
                mu2,
                nf,
                i,
                n_pdf,
                view.data.cast_mut(),
                n_out,
                n_rep,
                1,
            ),
            EKO_ERROR_READ_ONLY,
            "out is memory of a view of this store",
        );
        // Points without a final operator.
        h.fails(
            apply(t.0, 11.0, nf, i, n_pdf, o, n_out, n_rep, 1),
            EKO_ERROR_NOT_FOUND,
            "no final operator for (mu2=11, nf=4)",
        );
        h.fails(
            apply(t.0, 1e4, 5, i, n_pdf, o, n_out, n_rep, 1),
            EKO_ERROR_NOT_FOUND,
            "(only its partial: combine first)",
        );
        assert!(out.iter().all(|&v| v == -7.0), "a failed apply wrote");

        // The extents check the Fortran module makes first: (n_rep, n_pid, n_x) per buffer.
        let check = |t: *const EKO_Transform, pdf_shape: [i64; 3], out_shape: [i64; 3]| {
            EKO_store_apply_check_shapes(h.0, store, t, pdf_shape.as_ptr(), out_shape.as_ptr())
        };
        h.ok(check(t.0, [2, 14, 7], [2, 14, 9]));
        h.ok(check(ptr::null(), [3, 14, 12], [3, 14, 12]));
        h.fails(
            check(t.0, [2, 7, 14], [2, 14, 9]),
            EKO_ERROR_BAD_SHAPE,
            "pdf has (n_rep, n_pid, n_x) = (2, 7, 14) (in Fortran pdf(14, 7, 2)); the \
             transform's input side needs (n_rep, 14, 7) (in Fortran pdf(7, 14, n_rep))",
        );
        h.fails(
            check(t.0, [2, 14, 7], [1, 14, 9]),
            EKO_ERROR_BAD_SHAPE,
            "out has (n_rep, n_pid, n_x) = (1, 14, 9) (in Fortran out(9, 14, 1)); the \
             transform's output side needs (2, 14, 9) (in Fortran out(9, 14, 2)), n_rep as pdf's",
        );
        h.fails(
            check(ptr::null(), [1, 14, 7], [1, 14, 9]),
            EKO_ERROR_BAD_SHAPE,
            "the store's grid needs (n_rep, 14, 12)",
        );
        h.fails(
            check(t.0, [0, 14, 7], [0, 14, 9]),
            EKO_ERROR_BAD_SHAPE,
            "pdf has (n_rep, n_pid, n_x) = (0, 14, 7) (in Fortran pdf(7, 14, 0)): n_rep must be \
             positive",
        );
        h.fails(
            check(other.0, [2, 14, 7], [2, 14, 9]),
            EKO_ERROR_INCOMPATIBLE,
            "on other sides",
        );
        h.fails(
            EKO_store_apply_check_shapes(h.0, store, t.0, ptr::null(), [2i64, 14, 9].as_ptr()),
            EKO_ERROR_NULL_ARGUMENT,
            "pdf_shape is NULL",
        );
        h.fails(
            EKO_store_apply_check_shapes(
                h.0,
                ptr::null(),
                t.0,
                [2i64, 14, 7].as_ptr(),
                ptr::null(),
            ),
            EKO_ERROR_NULL_ARGUMENT,
            "store is NULL",
        );
        assert_eq!(
            EKO_store_apply_check_shapes(
                ptr::null_mut(),
                store,
                t.0,
                [2i64, 14, 7].as_ptr(),
                [2i64, 14, 9].as_ptr()
            ),
            EKO_ERROR_NULL_ARGUMENT
        );
        EKO_store_destroy(other_store);
        EKO_store_destroy(store);
    }
}

#[test]
fn a_store_reshaped_from_c_equals_the_rust_reshape_file_for_file() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let points = final_store(&dir, &metadata);
    let h = Handle::new();
    let spec = c_reshaping_spec(&h);
    // Into a missing directory and into an empty one.
    let from_c = tmp.path().join("from-c");
    let into_empty = tmp.path().join("empty");
    std::fs::create_dir(&into_empty).unwrap();
    for (dest, threads) in [(&from_c, 2), (&into_empty, 0)] {
        // SAFETY: a live handle and spec; NUL-terminated paths.
        h.ok(unsafe {
            EKO_store_reshape(
                h.0,
                cstr(&dir).as_ptr(),
                cstr(dest).as_ptr(),
                spec.0,
                threads,
            )
        });
    }
    let from_rust = tmp.path().join("from-rust");
    let report = eko::transform::reshape(
        &Store::open(&dir).unwrap(),
        &from_rust,
        &reshaping_spec(),
        1,
        c_provenance(&dir),
        |_| {},
    )
    .unwrap();
    assert_eq!(report.points, points);
    assert_eq!(report.errors, 2);
    let want = common::snapshot(&from_rust);
    assert!(
        want.contains_key("metadata.json") && want.len() >= 5,
        "{:?}",
        want.keys()
    );
    assert_eq!(common::snapshot(&from_c), want);
    assert_eq!(common::snapshot(&into_empty), want);
    // Nothing left beside the destinations.
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["empty", "from-c", "from-rust", "store"]);
    // The new store says where it came from, and that the C ABI made it.
    let reshaped = Store::open(&from_c).unwrap();
    let record = &reshaped.metadata().reshaped_from;
    assert_eq!(
        record["source"],
        serde_json::json!(std::path::absolute(&dir).unwrap())
    );
    assert!(
        record["by"]
            .as_str()
            .unwrap()
            .contains("EKO_store_reshape, the C ABI"),
        "{record}"
    );
    assert_eq!(reshaped.metadata().operator_shape(), [14, 9, 14, 7]);

    // Opened from C: the transform's sides, and PDFs evolve through it.
    let store = open_store(&h, &from_c);
    let source = open_store(&h, &dir);
    let t = Tf::from_store(&h, source, &spec, 1);
    let mut shape = [0i64; 4];
    // SAFETY: live objects; 4 writable values.
    h.ok(unsafe { EKO_store_operator_shape(h.0, store, shape.as_mut_ptr()) });
    assert_eq!(shape, [14, 9, 14, 7]);
    let pdf = pdfs(2, 14, 7, 0.5);
    for p in &points {
        let got = apply_c(&h, store, ptr::null(), *p, &pdf, 2 * 14 * 9, 1);
        let through = apply_c(&h, source, t.0, *p, &pdf, 2 * 14 * 9, 1);
        assert_eq!(bits3(&got), bits3(&through), "{p}");
    }
    // SAFETY: destroyed once.
    unsafe {
        EKO_store_destroy(source);
        EKO_store_destroy(store);
    }
}

#[test]
fn reshaping_from_c_refuses_bad_input_and_writes_nothing() {
    let metadata = common::metadata(N_X);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    final_store(&dir, &metadata);
    let with_partial = tmp.path().join("with-partial");
    transform_store(&with_partial, &metadata);
    let h = Handle::new();
    let spec = c_reshaping_spec(&h);
    let empty = Spec::new(&h);
    let too_high = c_reshaping_spec(&h);
    // SAFETY: a live handle and spec.
    h.ok(unsafe { EKO_transform_spec_set_interpolation(h.0, too_high.0, 20, 1) });
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep.txt"), "mine").unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let dest = tmp.path().join("new");
    let before = common::snapshot(tmp.path());
    let (d, n) = (cstr(&dir), cstr(&dest));
    // SAFETY: live objects or NULL; NUL-terminated paths or NULL.
    unsafe {
        let reshape = |dir: &CString, dest: &CString, spec: &Spec| {
            EKO_store_reshape(h.0, dir.as_ptr(), dest.as_ptr(), spec.0, 1)
        };
        assert_eq!(
            EKO_store_reshape(ptr::null_mut(), d.as_ptr(), n.as_ptr(), spec.0, 1),
            EKO_ERROR_NULL_ARGUMENT
        );
        h.fails(
            EKO_store_reshape(h.0, ptr::null(), n.as_ptr(), spec.0, 1),
            EKO_ERROR_NULL_ARGUMENT,
            "dir is NULL",
        );
        h.fails(
            EKO_store_reshape(h.0, d.as_ptr(), ptr::null(), spec.0, 1),
            EKO_ERROR_NULL_ARGUMENT,
            "dest is NULL",
        );
        h.fails(
            EKO_store_reshape(h.0, d.as_ptr(), n.as_ptr(), ptr::null(), 1),
            EKO_ERROR_NULL_ARGUMENT,
            "spec is NULL",
        );
        h.fails(
            EKO_store_reshape(h.0, d.as_ptr(), n.as_ptr(), spec.0, -2),
            EKO_ERROR_INVALID_ARGUMENT,
            "threads is -2",
        );
        h.fails(
            reshape(&d, &n, &empty),
            EKO_ERROR_INVALID_ARGUMENT,
            "nothing to reshape: the spec asks for no new x grid and no rotation on either side \
             (EKO_transform_spec_set_xgrid, _set_basis, _set_rotation)",
        );
        h.fails(
            reshape(&d, &cstr(&full), &spec),
            EKO_ERROR_NOT_EMPTY,
            "full",
        );
        h.fails(
            reshape(&d, &cstr(&file), &spec),
            EKO_ERROR_NOT_A_STORE,
            "a-file",
        );
        h.fails(
            reshape(&d, &cstr(&dir.join("inside")), &spec),
            EKO_ERROR_INVALID_ARGUMENT,
            "inside",
        );
        h.fails(
            reshape(&cstr(&tmp.path().join("missing")), &n, &spec),
            EKO_ERROR_NOT_A_STORE,
            "missing",
        );
        h.fails(
            reshape(&cstr(&with_partial), &n, &spec),
            EKO_ERROR_INVALID_ARGUMENT,
            "1 point has only a partial, (mu2=10000, nf=5): reshape transforms final operators",
        );
        h.fails(
            reshape(&d, &n, &too_high),
            EKO_ERROR_TRANSFORM,
            "degree 20 needs at least 21 x values",
        );
    }
    assert!(!dest.exists());
    assert_eq!(
        common::snapshot(tmp.path()),
        before,
        "a failed reshape wrote"
    );
}
