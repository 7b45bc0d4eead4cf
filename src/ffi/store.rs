//! Stores from C: open one and view its operators in place (or transformed into a host buffer);
//! merge, split, combine and clean store directories.

use std::collections::HashMap;
use std::ffi::c_char;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Mutex;

use ndarray::{Array4, ArrayView4};

use super::dataset::{
    EKO_LAYOUT_C, EKO_LAYOUT_FORTRAN, edge_between, is_error, kernel, kind, matching_of, order_of,
    point,
};
use super::status::*;
use super::transform::{
    EKO_Transform, EKO_TransformSpec, host_length, host_out, is_output, put_shape, shape_out,
};
use crate::combine;
use crate::store::{
    self, EvolutionPoint, FileKind, MergeOptions, Metadata, OnConflict, OperatorFile, Side, Store,
    Thresholds, Transfer,
};

/// The point has a final operator (`{mu2}_nf{nf}.npy`).
pub const EKO_FILE_OPERATOR: i32 = 1;
/// The final operator has an error.
pub const EKO_FILE_OPERATOR_ERROR: i32 = 2;
/// The point has a partial (`{mu2}_nf{nf}.part.npy`).
pub const EKO_FILE_PARTIAL: i32 = 4;
/// The partial has an error.
pub const EKO_FILE_PARTIAL_ERROR: i32 = 8;

/// A merge refuses points two stores hold with different data.
pub const EKO_ON_CONFLICT_ERROR: i32 = 1;
/// A merge keeps the destination's (or the earlier source's) data.
pub const EKO_ON_CONFLICT_KEEP_DESTINATION: i32 = 2;
/// A merge takes the later source's data.
pub const EKO_ON_CONFLICT_TAKE_SOURCE: i32 = 3;

/// Files are hard-linked (copied across filesystems); sources keep theirs.
pub const EKO_TRANSFER_LINK: i32 = 1;
/// Files leave the sources.
pub const EKO_TRANSFER_MOVE: i32 = 2;
/// Files are copied.
pub const EKO_TRANSFER_COPY: i32 = 3;

/// `EKO_store_export`: LZ4-compressed items, as eko writes them.
pub const EKO_COMPRESSION_LZ4: i32 = 1;
/// `EKO_store_export`: LZ4 frames of stored (uncompressed) blocks, read by eko all the same.
pub const EKO_COMPRESSION_NONE: i32 = 2;

/// An operator viewed in place, read-only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EKO_View {
    /// The element `[0][0][0][0]`. Valid until the store is destroyed; never to be written.
    pub data: *const f64,
    /// `[pid_out, x_out, pid_in, x_in]`: `(n_pid, n_x, n_pid, n_x)` of `EKO_store_grid` for
    /// partials, threshold elements and the final operators of a store that is not reshaped;
    /// `EKO_store_operator_shape` for a reshaped store's final operators (and their errors).
    pub shape: [i64; 4],
    /// Distance in elements between neighbours along each axis: element `(a, i, b, j)` is at
    /// `data[a*strides[0] + i*strides[1] + b*strides[2] + j*strides[3]]`.
    pub strides: [i64; 4],
    /// `EKO_LAYOUT_C` or `EKO_LAYOUT_FORTRAN`: the order the elements are contiguous in (as the
    /// file has them).
    pub layout: i32,
}

/// An open store: its index, and the files mapped for views so far. Made by `EKO_store_open`,
/// freed by `EKO_store_destroy`. Views may be taken from several threads at once (each with its
/// own handle).
pub struct EKO_Store {
    store: Store,
    thresholds: Option<Thresholds>,
    files: Mutex<HashMap<(EvolutionPoint, FileKind), OperatorFile>>,
    copies: Mutex<Vec<Array4<f64>>>,
    /// The memory of every view handed out (read-only: never a destination).
    viewed: Mutex<Vec<Range<usize>>>,
}

impl EKO_Store {
    /// The store's metadata.
    pub(super) fn metadata(&self) -> &Metadata {
        self.store.metadata()
    }

    /// The open store (for `EKO_slices_create`).
    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    /// Hands out `view`, remembering its memory.
    fn hand_out(&self, view: EKO_View) -> EKO_View {
        let len: i64 = view.shape.iter().product();
        let start = view.data as usize;
        let range = start..start + len as usize * std::mem::size_of::<f64>();
        let mut viewed = self.viewed.lock().unwrap_or_else(|e| e.into_inner());
        if !viewed.contains(&range) {
            viewed.push(range);
        }
        view
    }

    /// Refuses a destination `out` that is memory of a view handed out.
    fn check_not_viewed(&self, out: &[f64]) -> Outcome<()> {
        let o = out.as_ptr_range();
        let (start, end) = (o.start as usize, o.end as usize);
        let viewed = self.viewed.lock().unwrap_or_else(|e| e.into_inner());
        if viewed.iter().any(|v| start < v.end && v.start < end) {
            return Err(Failure::new(
                EKO_ERROR_READ_ONLY,
                "out is memory of a view of this store (EKO_store_view, \
                 EKO_store_threshold_view), which is read-only: give host memory",
            ));
        }
        Ok(())
    }
}

/// An operator view as C sees it: address, shape and strides in elements, memory order.
pub(super) fn view_of(array: ArrayView4<'_, f64>) -> EKO_View {
    let strides = array.strides();
    EKO_View {
        data: array.as_ptr(),
        shape: [0, 1, 2, 3].map(|i| array.shape()[i] as i64),
        strides: [0, 1, 2, 3].map(|i| strides[i] as i64),
        layout: if array.is_standard_layout() {
            EKO_LAYOUT_C
        } else {
            EKO_LAYOUT_FORTRAN
        },
    }
}

/// Opens the store in directory `dir` (NUL-terminated UTF-8), mapping nothing but
/// `thresholds.npz`'s directory until views are asked for. On success `*store` receives it.
///
/// # Safety
/// `handle` NULL or live; `dir` NULL or a NUL-terminated string; `store` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_open(
    handle: *mut EKO_Handle,
    dir: *const c_char,
    store: *mut *mut EKO_Store,
) -> i32 {
    call(handle, || {
        let out_ptr = out(store, "store")?;
        let opened = Store::open(text(dir, "dir")?)?;
        let thresholds = opened.thresholds()?;
        put(
            out_ptr,
            Box::into_raw(Box::new(EKO_Store {
                store: opened,
                thresholds,
                files: Mutex::default(),
                copies: Mutex::default(),
                viewed: Mutex::default(),
            })),
        );
        Ok(())
    })
}

/// Frees a store; NULL is accepted. Every view taken from it becomes invalid.
///
/// # Safety
/// `store` NULL or live, used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_destroy(store: *mut EKO_Store) {
    // SAFETY: a pointer from EKO_store_open (a Box), not yet destroyed.
    unsafe { free_boxed(store) }
}

/// The grid's size: `*n_pid` flavours, `*n_x` x values. This is the grid the operators were
/// computed on: the shape `(n_pid, n_x, n_pid, n_x)` of partials, threshold elements and the
/// final operators of a store that is not reshaped. A reshaped store's final operators have the
/// shape `EKO_store_operator_shape` gives, their sides `EKO_store_side_pids` and
/// `EKO_store_side_xgrid`.
///
/// # Safety
/// `handle`, `store` NULL or live; out-parameters NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_grid(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    n_pid: *mut i32,
    n_x: *mut i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let (p, x) = (out(n_pid, "n_pid")?, out(n_x, "n_x")?);
        let m = s.store.metadata();
        put(p, m.pids.len() as i32);
        put(x, m.xgrid.len() as i32);
        Ok(())
    })
}

/// Copies the grid's flavour ids into `pids`, which holds `n_pid` elements (exactly the grid's
/// count, else `EKO_ERROR_BAD_SHAPE`). The computed grid, as in `EKO_store_grid`.
///
/// # Safety
/// `handle`, `store` NULL or live; `pids` NULL or writable for `n_pid` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_pids(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    pids: *mut i32,
    n_pid: i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        copy_out(&s.store.metadata().pids, pids, n_pid, "pids", "the store")
    })
}

/// Copies the x grid into `xgrid`, which holds `n_x` elements (exactly the grid's count). The
/// computed grid, as in `EKO_store_grid`.
///
/// # Safety
/// `handle`, `store` NULL or live; `xgrid` NULL or writable for `n_x` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_xgrid(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    xgrid: *mut f64,
    n_x: i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        copy_out(&s.store.metadata().xgrid, xgrid, n_x, "xgrid", "the store")
    })
}

/// Copies `values` into the caller's `dst` of `n` elements (the argument `name`), which must be
/// exactly as many as `owner` has.
pub(super) fn copy_out<T: Copy>(
    values: &[T],
    dst: *mut T,
    n: i32,
    name: &str,
    owner: &str,
) -> Outcome {
    let dst = out(dst, name)?;
    if usize::try_from(n).ok() != Some(values.len()) {
        return Err(Failure::new(
            EKO_ERROR_BAD_SHAPE,
            format!("{name} holds {n} elements; {owner} has {}", values.len()),
        ));
    }
    if !(dst as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(Failure::new(
            EKO_ERROR_MISALIGNED,
            format!("{name} is not aligned for its element type"),
        ));
    }
    // SAFETY: not NULL, aligned, and the caller guarantees `n` writable elements, which is
    // `values.len()`; the store's memory and the caller's do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), dst, values.len()) };
    Ok(())
}

/// The shape of the store's final operators (and their errors), `shape[4]` =
/// `(n_pid_out, n_x_out, n_pid_in, n_x_in)`: `(n_pid, n_x, n_pid, n_x)` of `EKO_store_grid`
/// unless the store is reshaped (written by a transform: other x grids, another flavour basis,
/// on either side). The shape `EKO_store_view` gives for `EKO_KIND_OPERATOR`.
///
/// # Safety
/// `handle`, `store` NULL or live; `shape` NULL or writable for 4 values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_operator_shape(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    shape: *mut i64,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let dst = shape_out(shape, "shape")?;
        put_shape(dst, s.store.metadata().operator_shape());
        Ok(())
    })
}

fn operator_side(s: &EKO_Store, side: i32) -> Outcome<(Side, &'static str)> {
    let m = s.store.metadata();
    Ok(if is_output(side)? {
        (m.output_side(), "the store's final operators' output side")
    } else {
        (m.input_side(), "the store's final operators' input side")
    })
}

/// Copies the pids of `side` (`EKO_SIDE_OUTPUT`: `pid_out`, `EKO_SIDE_INPUT`: `pid_in`) of the
/// store's final operators into `pids`, which holds `n_pid` elements: exactly the count
/// `EKO_store_operator_shape` gives (element 0 or 2), else `EKO_ERROR_BAD_SHAPE`. For a store
/// that is not reshaped, both sides are `EKO_store_pids`.
///
/// # Safety
/// `handle`, `store` NULL or live; `pids` NULL or writable for `n_pid` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_side_pids(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    side: i32,
    pids: *mut i32,
    n_pid: i32,
) -> i32 {
    call(handle, || {
        let (side, owner) = operator_side(arg(store, "store")?, side)?;
        copy_out(&side.pids, pids, n_pid, "pids", owner)
    })
}

/// Copies the x grid of `side` (`EKO_SIDE_OUTPUT`: `x_out`, `EKO_SIDE_INPUT`: `x_in`) of the
/// store's final operators into `xgrid`, which holds `n_x` elements: exactly the count
/// `EKO_store_operator_shape` gives (element 1 or 3), else `EKO_ERROR_BAD_SHAPE`. For a store
/// that is not reshaped, both sides are `EKO_store_xgrid`.
///
/// # Safety
/// `handle`, `store` NULL or live; `xgrid` NULL or writable for `n_x` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_side_xgrid(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    side: i32,
    xgrid: *mut f64,
    n_x: i32,
) -> i32 {
    call(handle, || {
        let (side, owner) = operator_side(arg(store, "store")?, side)?;
        copy_out(&side.xgrid, xgrid, n_x, "xgrid", owner)
    })
}

/// The origin of every evolution: `*mu2` (GeV²), `*nf`.
///
/// # Safety
/// `handle`, `store` NULL or live; out-parameters NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_origin(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    mu2: *mut f64,
    nf: *mut i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let (m, n) = (out(mu2, "mu2")?, out(nf, "nf")?);
        let origin = s.store.metadata().origin;
        put(m, origin.mu2);
        put(n, i32::from(origin.nf));
        Ok(())
    })
}

/// The matching scale of `quark` (`EKO_QUARK_CHARM`, `_BOTTOM`, `_TOP`): `*present` is 1 and
/// `*mu2` the scale, or `*present` is 0 and `*mu2` 0 when the store has none.
///
/// # Safety
/// `handle`, `store` NULL or live; out-parameters NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_matching(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    quark: i32,
    mu2: *mut f64,
    present: *mut i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let (m, p) = (out(mu2, "mu2")?, out(present, "present")?);
        let mut scales = s.store.metadata().matching;
        let scale = *matching_of(&mut scales, quark)?;
        put(m, scale.unwrap_or(0.0));
        put(p, i32::from(scale.is_some()));
        Ok(())
    })
}

/// The number of evolution points with files in the store (as of `EKO_store_open`).
///
/// # Safety
/// `handle`, `store` NULL or live; `count` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_point_count(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    count: *mut i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let c = out(count, "count")?;
        put(c, s.store.points().count() as i32);
        Ok(())
    })
}

/// Point `index` (0 ≤ index < `EKO_store_point_count`, ordered by mu2 then nf): `*mu2`, `*nf`,
/// and in `*files` the `EKO_FILE_*` bits of the files it has.
///
/// # Safety
/// `handle`, `store` NULL or live; out-parameters NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_point(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    index: i32,
    mu2: *mut f64,
    nf: *mut i32,
    files: *mut i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let outs = (out(mu2, "mu2")?, out(nf, "nf")?, out(files, "files")?);
        let n = s.store.points().count();
        let (point, kinds) = usize::try_from(index)
            .ok()
            .and_then(|i| s.store.points().nth(i))
            .ok_or_else(|| {
                Failure::invalid(format!("index {index} is not below the {n} points"))
            })?;
        let bits = [
            (FileKind::Operator, EKO_FILE_OPERATOR),
            (FileKind::OperatorError, EKO_FILE_OPERATOR_ERROR),
            (FileKind::Partial, EKO_FILE_PARTIAL),
            (FileKind::PartialError, EKO_FILE_PARTIAL_ERROR),
        ]
        .iter()
        .filter(|(k, _)| kinds.has(*k))
        .fold(0, |acc, (_, bit)| acc | bit);
        put(outs.0, point.mu2);
        put(outs.1, i32::from(point.nf));
        put(outs.2, bits);
        Ok(())
    })
}

/// Views the `attribute` (`EKO_ATTRIBUTE_VALUE` or `_ERROR`) of point (`mu2`, `nf`)'s `kind`
/// (`EKO_KIND_OPERATOR` or `EKO_KIND_PARTIAL`) in place: no copy, the file is mapped and read
/// only where touched. `*view` receives the pointer, shape and strides, valid until
/// `EKO_store_destroy`: the shape is the grid's `(n_pid, n_x, n_pid, n_x)`, except for the final
/// operators of a reshaped store (`EKO_store_operator_shape`). `EKO_ERROR_NOT_FOUND` when the
/// store has no such file (a reshaped store has no partials). The file must not be modified in
/// place while viewed (libeko never does: it replaces files by renaming).
///
/// # Safety
/// `handle`, `store` NULL or live; `view` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_view(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    kind: i32,
    mu2: f64,
    nf: i32,
    attribute: i32,
    view: *mut EKO_View,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let out_ptr = out(view, "view")?;
        let point = point(mu2, nf)?;
        let main = self::kind(kind)?;
        let file_kind = if is_error(attribute)? {
            main.companion()
        } else {
            main
        };
        let mut files = s.files.lock().unwrap_or_else(|e| e.into_inner());
        let file = match files.entry((point, file_kind)) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(s.store.file(&point, file_kind)?)
            }
        };
        // The map lives in `s.files` until the store is destroyed: the pointer stays valid.
        put(out_ptr, s.hand_out(view_of(file.view())));
        Ok(())
    })
}

/// Views a threshold element of the store's `thresholds.npz` (from (`from_mu2`, `from_nf`) to
/// (`to_mu2`, `to_nf`), as in `EKO_dataset_add_threshold`) in place when the archive stores it
/// aligned (libeko's archives do), else as a copy kept with the store. Validity as in
/// `EKO_store_view`; `EKO_ERROR_NOT_FOUND` when the store has no such element.
///
/// # Safety
/// `handle`, `store` NULL or live; `view` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_threshold_view(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    from_mu2: f64,
    from_nf: i32,
    to_mu2: f64,
    to_nf: i32,
    attribute: i32,
    view: *mut EKO_View,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let out_ptr = out(view, "view")?;
        let error = is_error(attribute)?;
        let (from, to) = (point(from_mu2, from_nf)?, point(to_mu2, to_nf)?);
        let edge = edge_between(&s.store.metadata().matching, from, to)?;
        let not_found = |what: &str| {
            Failure::new(
                EKO_ERROR_NOT_FOUND,
                format!(
                    "{}: no {what} for the threshold element from {from} to {to}",
                    s.store.thresholds_path().display()
                ),
            )
        };
        let Some(thresholds) = &s.thresholds else {
            return Err(not_found("thresholds.npz"));
        };
        if !thresholds.contains(&edge) {
            return Err(not_found("operator"));
        }
        let array = if error {
            thresholds.error(&edge)?.ok_or_else(|| not_found("error"))?
        } else {
            thresholds.operator(&edge)?
        };
        let result = if array.is_view() {
            // A view into the archive's map, which lives as long as the store.
            view_of(array.view())
        } else {
            let owned = array.into_owned();
            let v = view_of(owned.view());
            // The copy's heap buffer does not move when the array is moved into the list.
            s.copies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(owned);
            v
        };
        put(out_ptr, s.hand_out(result));
        Ok(())
    })
}

/// Combines every partial of the store in `dir` into its final operator, on `threads` threads
/// (0: one per core), as `eko combine` does: checked first (`EKO_ERROR_MISSING_THRESHOLD`),
/// each final committed atomically, resumable after an interruption.
///
/// # Safety
/// `handle` NULL or live; `dir` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_combine(
    handle: *mut EKO_Handle,
    dir: *const c_char,
    threads: i32,
) -> i32 {
    call(handle, || {
        let mut store = Store::open(text(dir, "dir")?)?;
        combine::combine(&mut store, &kernel(threads)?, |_| {})?;
        Ok(())
    })
}

/// Evolves PDFs with point (`mu2`, `nf`)'s final operator:
/// `out[r][a][j] = sum over b, k of O[a][j][b][k] * pdf[r][b][k]` for `n_rep` replicas.
///
/// `pdf` and `out` hold `n_elements = n_rep * n_pid * n_x` doubles each, in C order
/// `[n_rep][n_pid][n_x]` (in Fortran, `pdf(n_x, n_pid, n_rep)`: the same memory). They must not
/// overlap. For a reshaped store `pdf` is on the final operators' input side
/// (`[n_rep][n_pid_in][n_x_in]`) and `out` on their output side; both must then hold as many
/// values per replica (a rotation, or x grids of equal length), else `EKO_ERROR_RESHAPED`:
/// `EKO_store_apply_transformed` takes each buffer with its own length (and a transform, or NULL).
/// The operator file is mapped for the call only and read in its memory order, with no
/// copy; loop over `EKO_store_point` to evolve to every point, one operator in memory at a time.
/// `out` inside a view of this store is `EKO_ERROR_READ_ONLY`.
/// `threads` 0 means one per core. `EKO_ERROR_NOT_FOUND` when the point has no final operator
/// (only a partial: combine first). `out` is written only on success.
///
/// # Safety
/// `handle`, `store` NULL or live; `pdf` NULL or readable and `out` NULL or writable for
/// `n_elements` doubles.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn EKO_store_apply(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    mu2: f64,
    nf: i32,
    pdf: *const f64,
    out: *mut f64,
    n_rep: i64,
    n_elements: i64,
    threads: i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let point = point(mu2, nf)?;
        let n_rep = count(n_rep, "n_rep", false)?;
        let n = count(n_elements, "n_elements", false)?;
        let threads = kernel(threads)?.threads();
        let shape = s.store.metadata().operator_shape();
        let [p_out, x_out, n_pid, n_x] = shape;
        if p_out * x_out != n_pid * n_x {
            return Err(Failure::new(
                EKO_ERROR_RESHAPED,
                format!(
                    "{}: the store is reshaped to final operators of shape {:?}, which take \
                     {n_pid} pids x {n_x} x values per replica and give {p_out} x {x_out}: \
                     EKO_store_apply needs pdf and out of one length; \
                     EKO_store_apply_transformed takes each with its own",
                    s.store.dir().display(),
                    shape
                ),
            ));
        }
        let (input_side, _) = apply_sides(s, None)?;
        check_length(n, "n_elements", n_rep, n_pid, n_x, input_side.1)?;
        evolve(s, None, point, (pdf, n), (out, n), n_rep, threads)
    })
}

/// Evolves PDFs with point (`mu2`, `nf`)'s final operator, transformed first by `transform`
/// when it is not NULL: `out[r][a][j] = sum over b, k of O'[a][j][b][k] * pdf[r][b][k]` for
/// `n_rep` replicas, `O'` the operator `EKO_store_transform` would give (into a scratch buffer
/// of the call, never the host's), or the stored operator when `transform` is NULL.
///
/// `pdf` holds `n_pdf = n_rep * n_pid_in * n_x_in` doubles in C order `[n_rep][n_pid_in][n_x_in]`
/// (Fortran `pdf(n_x_in, n_pid_in, n_rep)`), on the input side of the operators applied: the
/// transform's result (`EKO_transform_shape`, elements 2 and 3; `EKO_transform_side_pids` /
/// `_side_xgrid` with `EKO_SIDE_INPUT`), or the store's final operators
/// (`EKO_store_operator_shape`; `EKO_store_side_*`). `out` holds `n_out = n_rep * n_pid_out *
/// n_x_out` doubles on their output side, `[n_rep][n_pid_out][n_x_out]`. So a reshaped store
/// whose sides differ in length, and a PDF on another x grid or in another basis than the
/// store's (through a transform), are evolved directly. The values are those of the Rust
/// `eko::apply::apply_store` with the same transform, bit for bit.
///
/// The transform must take the store's final operators (their sides, bit for bit), as one made
/// by `EKO_transform_create` from this store does, else `EKO_ERROR_INCOMPATIBLE`. Also refused,
/// before anything is written: a bad point or count (`EKO_ERROR_INVALID_ARGUMENT`), `n_pdf` or
/// `n_out` not the sides' lengths (`EKO_ERROR_BAD_SHAPE`, naming the side), NULL, alignment
/// (`EKO_ERROR_MISALIGNED`), `pdf` and `out` overlapping (`EKO_ERROR_OVERLAPPING`), `out` inside
/// a view of this store (`EKO_ERROR_READ_ONLY`), a point without a final operator
/// (`EKO_ERROR_NOT_FOUND`). The operator file is mapped for the call only. `threads` 0 means
/// one per core (the product; the transform runs on the threads it was made with). `out` is
/// written only on success.
///
/// # Safety
/// `handle`, `store`, `transform` NULL or live; `pdf` NULL or readable for `n_pdf` doubles;
/// `out` NULL or writable for `n_out` doubles, used by nothing else during the call.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn EKO_store_apply_transformed(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    transform: *const EKO_Transform,
    mu2: f64,
    nf: i32,
    pdf: *const f64,
    n_pdf: i64,
    out: *mut f64,
    n_out: i64,
    n_rep: i64,
    threads: i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        // SAFETY: NULL (no transform) or live, as documented.
        let t = unsafe { transform.as_ref() };
        let point = point(mu2, nf)?;
        let n_pdf = count(n_pdf, "n_pdf", false)?;
        let n_out = count(n_out, "n_out", false)?;
        let n_rep = count(n_rep, "n_rep", false)?;
        let threads = kernel(threads)?.threads();
        let (input, output) = apply_sides(s, t)?;
        check_length(n_pdf, "n_pdf", n_rep, input.0[0], input.0[1], input.1)?;
        check_length(n_out, "n_out", n_rep, output.0[0], output.0[1], output.1)?;
        evolve(s, t, point, (pdf, n_pdf), (out, n_out), n_rep, threads)
    })
}

/// Checks that PDF arrays with the 3 extents `pdf_shape` and `out_shape`, each `(n_rep, n_pid,
/// n_x)` in C index order (a Fortran array `pdf(n_x, n_pid, n_rep)` passes its extents
/// reversed), are what `EKO_store_apply_transformed` takes and gives with `store` and
/// `transform` (NULL: none): the input and output sides' counts, one `n_rep`, positive.
/// `EKO_ERROR_BAD_SHAPE` naming the shapes otherwise; a transform not made for the store is
/// `EKO_ERROR_INCOMPATIBLE`. `EKO_store_apply_transformed` sees only lengths; a host that knows
/// its arrays' extents (the Fortran module does) calls this first, so that an array declared
/// with its dimensions in another order is refused.
///
/// # Safety
/// `handle`, `store`, `transform` NULL or live; `pdf_shape`, `out_shape` NULL or readable for 3
/// values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_apply_check_shapes(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    transform: *const EKO_Transform,
    pdf_shape: *const i64,
    out_shape: *const i64,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        // SAFETY: NULL (no transform) or live, as documented.
        let t = unsafe { transform.as_ref() };
        let pdf_shape = slice(pdf_shape, 3, "pdf_shape")?;
        let out_shape = slice(out_shape, 3, "out_shape")?;
        let (input, output) = apply_sides(s, t)?;
        let n_rep = pdf_shape[0];
        let has = |name: &str, f: &[i64]| {
            format!(
                "{name} has (n_rep, n_pid, n_x) = ({}, {}, {}) (in Fortran {name}({}, {}, {}))",
                f[0], f[1], f[2], f[2], f[1], f[0]
            )
        };
        if n_rep < 1 {
            return Err(Failure::new(
                EKO_ERROR_BAD_SHAPE,
                format!("{}: n_rep must be positive", has("pdf", pdf_shape)),
            ));
        }
        for (name, found, (counts, side)) in [("pdf", pdf_shape, input), ("out", out_shape, output)]
        {
            let [n_pid, n_x] = counts.map(|n| n as i64);
            if found != [n_rep, n_pid, n_x] {
                let (rep, note) = if name == "pdf" {
                    ("n_rep".to_string(), "")
                } else {
                    (n_rep.to_string(), ", n_rep as pdf's")
                };
                return Err(Failure::new(
                    EKO_ERROR_BAD_SHAPE,
                    format!(
                        "{}; {side} needs ({rep}, {n_pid}, {n_x}) (in Fortran {name}({n_x}, \
                         {n_pid}, {rep})){note}",
                        has(name, found)
                    ),
                ));
            }
        }
        Ok(())
    })
}

/// One side of the operators a PDF is evolved with: `[n_pid, n_x]` and its name for messages.
type ApplySide = ([usize; 2], &'static str);

/// The input and output sides of what `EKO_store_apply*` applies with store `s` and transform
/// `t`: the transform's result (checked to take the store's final operators), else the store's
/// final operators.
fn apply_sides(s: &EKO_Store, t: Option<&EKO_Transform>) -> Outcome<(ApplySide, ApplySide)> {
    Ok(match t {
        Some(t) => {
            check_fits(s, t, FileKind::Operator)?;
            let [p_out, x_out, p_in, x_in] = t.transform.shape();
            (
                ([p_in, x_in], "the transform's input side"),
                ([p_out, x_out], "the transform's output side"),
            )
        }
        None => {
            let m = s.store.metadata();
            let [p_out, x_out, p_in, x_in] = m.operator_shape();
            if m.is_reshaped() {
                (
                    ([p_in, x_in], "the store's final operators' input side"),
                    ([p_out, x_out], "the store's final operators' output side"),
                )
            } else {
                (
                    ([p_in, x_in], "the store's grid"),
                    ([p_out, x_out], "the store's grid"),
                )
            }
        }
    })
}

/// Refuses a buffer length `n` (the argument `name`) that is not `n_rep` replicas of `n_pid` x
/// `n_x` values on `side`.
fn check_length(
    n: usize,
    name: &str,
    n_rep: usize,
    n_pid: usize,
    n_x: usize,
    side: &str,
) -> Outcome<()> {
    if Some(n) != n_rep.checked_mul(n_pid * n_x) {
        return Err(Failure::new(
            EKO_ERROR_BAD_SHAPE,
            format!(
                "{name} is {n}; {n_rep} replica(s) of {n_pid} pids x {n_x} x values ({side}) \
                 take {}",
                n_rep.saturating_mul(n_pid * n_x)
            ),
        ));
    }
    Ok(())
}

/// The body of `EKO_store_apply*` once the lengths are checked: `pdf` (`n_rep` replicas on the
/// input side) evolved to `point` into `out` (on the output side), through `t` if given.
fn evolve(
    s: &EKO_Store,
    t: Option<&EKO_Transform>,
    point: EvolutionPoint,
    (pdf, n_pdf): (*const f64, usize),
    (out, n_out): (*mut f64, usize),
    n_rep: usize,
    threads: usize,
) -> Outcome<()> {
    let input = slice(pdf, n_pdf, "pdf")?;
    let output = slice(out.cast_const(), n_out, "out")?;
    let (a, b) = (input.as_ptr_range(), output.as_ptr_range());
    if a.start < b.end && b.start < a.end {
        return Err(Failure::new(
            EKO_ERROR_OVERLAPPING,
            "pdf and out overlap: evolve into separate memory".to_string(),
        ));
    }
    s.check_not_viewed(output)?;
    if !s.store.files_of(&point).has(FileKind::Operator) {
        return Err(Failure::new(
            EKO_ERROR_NOT_FOUND,
            format!(
                "{}: no final operator for {point}{}",
                s.store.dir().display(),
                if s.store.files_of(&point).has(FileKind::Partial) {
                    " (only its partial: combine first)"
                } else {
                    ""
                }
            ),
        ));
    }
    let [p_out, x_out, p_in, x_in] = match t {
        Some(t) => t.transform.shape(),
        None => s.store.metadata().operator_shape(),
    };
    let pdf = ndarray::ArrayView3::from_shape((n_rep, p_in, x_in), input).expect("length checked");
    // SAFETY: `out` passed `slice` (not NULL, aligned, `n_out` elements the caller guarantees
    // writable for the call) and does not overlap `pdf` (checked above); nothing else in this
    // call reads or writes it.
    let output = unsafe { std::slice::from_raw_parts_mut(out, n_out) };
    let dst =
        ndarray::ArrayViewMut3::from_shape((n_rep, p_out, x_out), output).expect("length checked");
    crate::apply::apply_point(&s.store, &point, pdf, dst, threads, t.map(|t| &t.transform))?;
    Ok(())
}

/// Refuses a transform that does not take the operators of `main`'s files in `s` (their sides,
/// bit for bit): partials have the computed grid's sides, final operators the store's.
fn check_fits(s: &EKO_Store, t: &EKO_Transform, main: FileKind) -> Outcome<()> {
    let m = s.store.metadata();
    let (sides, what) = if main == FileKind::Partial {
        let square = Side {
            xgrid: m.xgrid.clone(),
            pids: m.pids.clone(),
        };
        ([square.clone(), square], "partials")
    } else {
        ([m.output_side(), m.input_side()], "final operators")
    };
    if !(sides[0].same_bits(&t.source[0]) && sides[1].same_bits(&t.source[1])) {
        return Err(Failure::new(
            EKO_ERROR_INCOMPATIBLE,
            format!(
                "{}: the transform takes operators of shape {:?} on other sides (pids, x \
                 grids) than the store's {what}, of shape {:?}: make it from this store \
                 with EKO_transform_create",
                s.store.dir().display(),
                t.transform.source_shape(),
                s.store.shape_of(main),
            ),
        ));
    }
    Ok(())
}

/// Transforms the `attribute` (`EKO_ATTRIBUTE_VALUE` or `_ERROR`) of point (`mu2`, `nf`)'s
/// `kind` (`EKO_KIND_OPERATOR` or `EKO_KIND_PARTIAL`: what `EKO_store_view` takes) with
/// `transform` into the host's `out`: `n_out` doubles in `out_layout` (`EKO_LAYOUT_C` or
/// `EKO_LAYOUT_FORTRAN`) of `EKO_transform_shape`. The file is mapped for the call only and read
/// in place; the values are those of `EKO_transform_apply` on the viewed operator, bit for bit.
///
/// The transform must take operators of the file's sides (bit for bit), as one made by
/// `EKO_transform_create` from this store (or a store of the same grid) does, else
/// `EKO_ERROR_INCOMPATIBLE`; partials have the computed grid's sides, final operators the
/// store's (reshaped or not). Also refused, before anything is written: the enum values and a
/// bad point (`EKO_ERROR_INVALID_ARGUMENT`), `n_out` (`EKO_ERROR_BAD_SHAPE`), NULL,
/// alignment (`EKO_ERROR_MISALIGNED`), `out` inside a view of this store (`EKO_ERROR_READ_ONLY`),
/// a file the store does not have (`EKO_ERROR_NOT_FOUND`). `out` is written only on success.
/// Several threads may transform from one store at once, each with its own handle.
///
/// # Safety
/// `handle`, `store`, `transform` NULL or live; `out` NULL or writable for `n_out` doubles,
/// used by nothing else during the call.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn EKO_store_transform(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    transform: *const EKO_Transform,
    kind: i32,
    mu2: f64,
    nf: i32,
    attribute: i32,
    out: *mut f64,
    n_out: i64,
    out_layout: i32,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        let t = arg(transform, "transform")?;
        let point = point(mu2, nf)?;
        let main = self::kind(kind)?;
        let file_kind = if is_error(attribute)? {
            main.companion()
        } else {
            main
        };
        let order = order_of(out_layout, "out_layout")?;
        let shape = t.transform.shape();
        let n = host_length(
            n_out,
            "n_out",
            shape,
            "the transform makes operators of shape",
        )?;
        let output = slice(out.cast_const(), n, "out")?;
        check_fits(s, t, main)?;
        s.check_not_viewed(output)?;
        let file = s.store.file(&point, file_kind)?;
        // SAFETY: `out` passed `slice` for `n` elements, which the caller guarantees writable and
        // unused elsewhere during the call; the file is a fresh map of its own, and `out` is no
        // view of this store (checked).
        let dst = unsafe { host_out(out, n, shape, order) };
        t.transform.apply(file.view(), dst)?;
        Ok(())
    })
}

/// Writes the final operators of the store in `dir`, transformed as `spec` asks (each with its
/// error), as a new store in `dest`: the C form of `eko reshape` (and of the Rust
/// `eko::transform::reshape`), on `threads` threads per operator (0: one per core). `dest` must
/// not exist, or be an empty directory, outside any store; the new store is built in a
/// temporary directory beside it and renamed into place when complete, so on failure (or if the
/// process is killed) nothing appears at `dest` (`EKO_store_recover` of `dest` removes a killed
/// call's directory; so does the next reshape to `dest`). The new store records its sides, the
/// interpolation used, and under `reshaped_from` the transform, the source's absolute path and
/// that it was made through the C ABI. Open it with `EKO_store_open`: its final operators have
/// the shape and sides of `EKO_transform_create` with the same spec on the source store
/// (`EKO_store_operator_shape`, `EKO_store_side_*`); it has no partials or threshold elements.
///
/// Refused, with nothing written: NULL (`EKO_ERROR_NULL_ARGUMENT`); a spec asking for nothing,
/// a point with only a partial (combine first), a store without final operators, `dest` inside
/// a store (`EKO_ERROR_INVALID_ARGUMENT`); what the transform cannot do, as in
/// `EKO_transform_create` (`EKO_ERROR_TRANSFORM`); `dest` a non-empty directory
/// (`EKO_ERROR_NOT_EMPTY`) or a file (`EKO_ERROR_NOT_A_STORE`); `dir` not a store
/// (`EKO_ERROR_NOT_A_STORE`), an unreadable or damaged operator (`EKO_ERROR_IO`,
/// `EKO_ERROR_MALFORMED_FILE`).
///
/// # Safety
/// `handle`, `spec` NULL or live; `dir`, `dest` NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_reshape(
    handle: *mut EKO_Handle,
    dir: *const c_char,
    dest: *const c_char,
    spec: *const EKO_TransformSpec,
    threads: i32,
) -> i32 {
    call(handle, || {
        let dir = PathBuf::from(text(dir, "dir")?);
        let dest = PathBuf::from(text(dest, "dest")?);
        let spec = &arg(spec, "spec")?.spec;
        let threads = kernel(threads)?.threads();
        if spec.is_empty() {
            return Err(Failure::invalid(
                "nothing to reshape: the spec asks for no new x grid and no rotation on either \
                 side (EKO_transform_spec_set_xgrid, _set_basis, _set_rotation)",
            ));
        }
        let source = Store::open(&dir)?;
        let provenance = serde_json::json!({
            "source": std::path::absolute(&dir).unwrap_or_else(|_| dir.clone()),
            "by": format!("EKO_store_reshape, the C ABI (libeko {})", env!("CARGO_PKG_VERSION")),
        });
        crate::transform::reshape(&source, &dest, spec, threads, provenance, |_| {})?;
        Ok(())
    })
}

/// Writes the store in `dir` as an eko 0.15 archive at `out_path` (a `.tar` that Python eko's
/// `eko.EKO.read` opens), as `eko export` does: every final operator and error bit for bit, the
/// store's theory and operator cards (eko 0.13/0.14 cards converted as eko 0.15.7 converts them);
/// with `with_parts` non-zero also the partials and threshold operators as eko's parts, so that an
/// import gives the store back. `compression`: `EKO_COMPRESSION_LZ4` or `EKO_COMPRESSION_NONE`.
/// The archive appears complete or not at all. Refused: `out_path` inside the store
/// (`EKO_ERROR_INVALID_ARGUMENT`) or existing (`EKO_ERROR_IO`: remove it first); a store without
/// cards, with pids other than eko's flavour basis (`EKO_ERROR_INVALID_STORE`); a reshaped store
/// (`EKO_ERROR_RESHAPED`); partials without final operators unless `with_parts`, or without the
/// thresholds their paths need (`EKO_ERROR_INVALID_ARGUMENT`).
///
/// # Safety
/// `handle` NULL or live; `dir`, `out_path` NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_export(
    handle: *mut EKO_Handle,
    dir: *const c_char,
    out_path: *const c_char,
    with_parts: i32,
    compression: i32,
) -> i32 {
    call(handle, || {
        let dir = PathBuf::from(text(dir, "dir")?);
        let out = PathBuf::from(text(out_path, "out_path")?);
        let compression = match compression {
            EKO_COMPRESSION_LZ4 => crate::archive::export::Compression::Lz4,
            EKO_COMPRESSION_NONE => crate::archive::export::Compression::None,
            other => {
                return Err(Failure::invalid(format!(
                    "compression {other} is not EKO_COMPRESSION_LZ4 (1) or EKO_COMPRESSION_NONE (2)"
                )));
            }
        };
        let options = crate::archive::export::ExportOptions {
            with_parts: with_parts != 0,
            compression,
            ..Default::default()
        };
        let store = Store::open(&dir)?;
        crate::archive::export::export(&store, &out, &options, |_| {})?;
        Ok(())
    })
}

/// Reads every file of the store in `dir` once and checks it, as `eko verify` does: each
/// operator, partial and error against its header, the grid and the CRC-32 libeko recorded when
/// it wrote it (store format 3), each operator against what it recorded of its error file, each
/// member of `thresholds.npz` against its CRC-32. `*n_damaged` receives the number of damaged or
/// inconsistent files, `*n_without_checksum` the number written with no checksum (by an older
/// libeko or another program). `EKO_OK` when no file is damaged; else
/// `EKO_ERROR_MALFORMED_FILE`, the message naming the first damaged file and what is wrong (the
/// counts are written either way).
///
/// # Safety
/// `handle` NULL or live; `dir` NULL or a NUL-terminated string; the counts NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_verify(
    handle: *mut EKO_Handle,
    dir: *const c_char,
    n_damaged: *mut i32,
    n_without_checksum: *mut i32,
) -> i32 {
    call(handle, || {
        let dir = PathBuf::from(text(dir, "dir")?);
        let damaged = out(n_damaged, "n_damaged")?;
        let without = out(n_without_checksum, "n_without_checksum")?;
        let report = crate::store::verify::verify(&Store::open(&dir)?, |_, _| {})?;
        put(damaged, report.bad as i32);
        put(without, report.without_checksum as i32);
        match report.files.iter().find(|f| f.status.is_bad()) {
            None => Ok(()),
            Some(first) => Err(Failure::new(
                EKO_ERROR_MALFORMED_FILE,
                format!(
                    "{}: {} damaged or inconsistent file(s); the first, {}: {}",
                    dir.display(),
                    report.bad,
                    first.file,
                    serde_json::to_string(&first.status).unwrap_or_default()
                ),
            )),
        }
    })
}

/// Removes `thresholds.npz` from the store in `dir`; refuses (`EKO_ERROR_PARTIALS_REMAIN`) while
/// partials still need it, unless `force` is non-zero.
///
/// # Safety
/// `handle` NULL or live; `dir` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_clean(
    handle: *mut EKO_Handle,
    dir: *const c_char,
    force: i32,
) -> i32 {
    call(handle, || {
        let mut store = Store::open(text(dir, "dir")?)?;
        combine::clean(&mut store, force != 0)?;
        Ok(())
    })
}

/// Brings the store at `dir` back to a consistent state after an interrupted operation, as
/// `eko recover` does: waits for the store's lock, finishes an operation that had passed its
/// commit point or undoes one that had not, and removes the temporary files of processes that
/// are gone and orphan error files. Also removes a dead import's or reshape's leftovers beside
/// `dir` (then `dir` need not exist). Every store-changing call does this itself on the store it
/// changes; call it to clean up a store no one will write to again.
///
/// # Safety
/// `handle` NULL or live; `dir` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_recover(handle: *mut EKO_Handle, dir: *const c_char) -> i32 {
    call(handle, || {
        store::recover(std::path::Path::new(&text(dir, "dir")?), store::Wait::Block)?;
        Ok(())
    })
}

fn paths(list: *const *const c_char, n: i32, name: &str) -> Outcome<Vec<PathBuf>> {
    let items = slice(list, count(n.into(), &format!("n_{name}"), false)?, name)?;
    items
        .iter()
        .enumerate()
        .map(|(i, &p)| text(p, &format!("{name}[{i}]")).map(PathBuf::from))
        .collect()
}

fn transfer(transfer: i32) -> Outcome<Transfer> {
    match transfer {
        EKO_TRANSFER_LINK => Ok(Transfer::Link),
        EKO_TRANSFER_MOVE => Ok(Transfer::Move),
        EKO_TRANSFER_COPY => Ok(Transfer::Copy),
        other => Err(Failure::invalid(format!(
            "transfer {other} is not EKO_TRANSFER_LINK (1), _MOVE (2) or _COPY (3)"
        ))),
    }
}

/// Merges the `n_sources` stores `sources` into the store `dest` (created if missing), as
/// `eko merge` does: metadata must agree (`EKO_ERROR_INCOMPATIBLE`); a point two stores hold
/// with different data follows `on_conflict` (`EKO_ON_CONFLICT_*`); files move by `transfer`
/// (`EKO_TRANSFER_*`). All or nothing: on failure `dest` is as it was.
///
/// # Safety
/// `handle` NULL or live; `dest` and each of the `n_sources` strings of `sources`
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_merge(
    handle: *mut EKO_Handle,
    dest: *const c_char,
    sources: *const *const c_char,
    n_sources: i32,
    on_conflict: i32,
    transfer: i32,
) -> i32 {
    call(handle, || {
        let dest = PathBuf::from(text(dest, "dest")?);
        let sources = paths(sources, n_sources, "sources")?;
        let on_conflict = match on_conflict {
            EKO_ON_CONFLICT_ERROR => OnConflict::Error,
            EKO_ON_CONFLICT_KEEP_DESTINATION => OnConflict::KeepDestination,
            EKO_ON_CONFLICT_TAKE_SOURCE => OnConflict::TakeSource,
            other => {
                return Err(Failure::invalid(format!(
                    "on_conflict {other} is not EKO_ON_CONFLICT_ERROR (1), _KEEP_DESTINATION \
                     (2) or _TAKE_SOURCE (3)"
                )));
            }
        };
        let options = MergeOptions {
            transfer: self::transfer(transfer)?,
            on_conflict,
            wait: store::Wait::Block,
        };
        let refs: Vec<&std::path::Path> = sources.iter().map(PathBuf::as_path).collect();
        store::merge(&dest, &refs, options)?;
        Ok(())
    })
}

/// Splits the store `source` into `n_dests` new stores `dests` (missing or empty directories) by
/// mu2: part `i` gets the points with `boundaries[i-1] <= mu2 < boundaries[i]`, from the
/// `n_dests - 1` increasing `boundaries`; each part gets the metadata and `thresholds.npz`.
/// Files move by `transfer` (`EKO_TRANSFER_*`).
///
/// # Safety
/// `handle` NULL or live; `source` and each of the `n_dests` strings of `dests` NUL-terminated;
/// `boundaries` readable for `n_dests - 1` doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_store_split(
    handle: *mut EKO_Handle,
    source: *const c_char,
    dests: *const *const c_char,
    n_dests: i32,
    boundaries: *const f64,
    transfer: i32,
) -> i32 {
    call(handle, || {
        let source = PathBuf::from(text(source, "source")?);
        let dests = paths(dests, n_dests, "dests")?;
        let boundaries = slice(boundaries, dests.len() - 1, "boundaries")?;
        if boundaries.windows(2).any(|w| w[0] >= w[1]) || boundaries.iter().any(|b| !b.is_finite())
        {
            return Err(Failure::invalid(
                "boundaries must be finite and strictly increasing",
            ));
        }
        let transfer = self::transfer(transfer)?;
        let opened = Store::open(&source)?;
        let points: Vec<EvolutionPoint> = opened.points().map(|(p, _)| p).collect();
        let parts = store::partition_at(&points, boundaries);
        let parts: Vec<(PathBuf, Vec<EvolutionPoint>)> = dests.into_iter().zip(parts).collect();
        store::split(&source, &parts, transfer)?;
        Ok(())
    })
}
