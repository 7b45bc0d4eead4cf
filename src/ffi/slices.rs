//! Slices from C: a store's final operators one scale at a time (`eko::slices`), chosen by a spec
//! built one call at a time, written into host memory, borrowed in place, and served to
//! pineappl's C API through its operator callback (`EKO_pineappl_operator`, the signature of
//! `pineappl_capi`'s `OperatorCallback`), which records errors in a state instead of unwinding.
//!
//! pineappl's C API names the sides the other way round: its "in" is the grid's side, eko's output
//! side (`pid_out`, `x_out`), and its "out" the FK table's side, eko's input side. The buffer it
//! hands the callback is eko's `[pid_out][x_out][pid_in][x_in]` in C order.

use std::ffi::c_void;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{Array4, ArrayView4, ArrayViewMut4};

use super::dataset::{order_of, point};
use super::status::*;
use super::store::{EKO_Store, EKO_View, copy_out, view_of};
use super::transform::{
    EKO_BASIS_EVOL, EKO_BASIS_FLAVOR, EKO_Transform, host_length, host_out, is_output, put_shape,
    shape_out,
};
use crate::error::Error;
use crate::slices::{SliceSelection, Slices, same_node};
use crate::store::{Basis, Side};

/// What `EKO_slices_basis` gives for a side whose pids are in neither eko's flavour basis nor the
/// evolution basis (a custom rotation, fewer flavours). pineappl has no name for such a basis.
/// Not accepted by `EKO_transform_spec_set_basis`.
pub const EKO_BASIS_CUSTOM: i32 = 3;

/// Which final operators of a store to serve as slices, set one call at a time: by default every
/// final operator; `EKO_slices_spec_set_scales` keeps only given scales, and
/// `EKO_slices_spec_set_nf` chooses the nf at a scale the store holds with two. Made by
/// `EKO_slices_spec_create`, freed by `EKO_slices_spec_destroy`. `EKO_slices_create` copies it.
/// Not to be used by two threads at once.
pub struct EKO_SlicesSpec {
    selection: SliceSelection,
}

/// A store's final operators as slices: one per scale, in ascending mu2, each mapped (reading
/// nothing until touched), optionally transformed as they are served. Made by
/// `EKO_slices_create`, freed by `EKO_slices_destroy`; it does not refer to the store, the spec
/// or the transform it was made from. `EKO_slices_write`, `EKO_pineappl_operator` and the
/// queries may run on several threads at once on one object (each with its own handle);
/// `EKO_slices_borrow`, `EKO_slices_release` and `EKO_slices_destroy` need it to themselves.
pub struct EKO_Slices {
    slices: Slices,
    /// The memory of every mapped operator (read-only: never a destination).
    mapped: Vec<Range<usize>>,
    /// The buffer a borrow of transformed slices is computed into, and the slice it holds.
    borrowed: Option<(usize, Array4<f64>)>,
}

impl EKO_Slices {
    /// Refuses a destination `out` in memory libeko owns: a mapped operator (read-only) or the
    /// buffer of a borrow.
    fn check_writable(&self, out: &[f64]) -> Outcome<()> {
        let o = out.as_ptr_range();
        let o = o.start as usize..o.end as usize;
        let overlaps = |r: Range<usize>| o.start < r.end && r.start < o.end;
        if self.mapped.iter().any(|r| overlaps(r.clone())) {
            return Err(Failure::new(
                EKO_ERROR_READ_ONLY,
                "buffer is memory of a mapped operator (a view from EKO_slices_borrow), which is \
                 read-only: give host memory",
            ));
        }
        if let Some((_, b)) = &self.borrowed
            && overlaps(memory_of(b.view()))
        {
            return Err(Failure::new(
                EKO_ERROR_OVERLAPPING,
                "buffer is the memory of a borrow of transformed slices (EKO_slices_borrow), \
                 which libeko computes into: give host memory",
            ));
        }
        Ok(())
    }
}

/// The addresses an operator's elements occupy (it is contiguous in one order or the other).
fn memory_of(view: ArrayView4<'_, f64>) -> Range<usize> {
    let start = view.as_ptr() as usize;
    start..start + view.len() * std::mem::size_of::<f64>()
}

/// Slice `index` (the argument `index`) of `s`, checked.
fn index_of(s: &Slices, index: i32) -> Outcome<usize> {
    usize::try_from(index)
        .ok()
        .filter(|&i| i < s.len())
        .ok_or_else(|| {
            Failure::invalid(format!(
                "index {index} is not below the {} slices (0-based)",
                s.len()
            ))
        })
}

/// Creates a spec asking for every final operator of the store (each scale once; a scale held
/// with two nf must then be resolved with `EKO_slices_spec_set_nf`). On success `*spec`
/// receives it; free it with `EKO_slices_spec_destroy`.
///
/// # Safety
/// `handle` NULL or live; `spec` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_spec_create(
    handle: *mut EKO_Handle,
    spec: *mut *mut EKO_SlicesSpec,
) -> i32 {
    call(handle, || {
        let out_ptr = out(spec, "spec")?;
        put(
            out_ptr,
            Box::into_raw(Box::new(EKO_SlicesSpec {
                selection: SliceSelection::default(),
            })),
        );
        Ok(())
    })
}

/// Frees a spec; NULL is accepted. Slices made from it are not affected.
///
/// # Safety
/// `spec` NULL or live, used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_spec_destroy(spec: *mut EKO_SlicesSpec) {
    // SAFETY: a pointer from EKO_slices_spec_create (a Box), not yet destroyed.
    unsafe { free_boxed(spec) }
}

/// Asks for the slices at the `n_mu2` scales `mu2` (GeV², copied) only, instead of every final
/// operator: for example the grid's factorisation scales (pineappl's `fac1`, from
/// `pineappl_grid_evolve_info`). Order and repeats do not matter: slices come in ascending mu2,
/// once per scale; a scale matches the store's within 4096 ulps (pineappl's tolerance). Each
/// must be a final operator of the store: `EKO_slices_create` names the missing ones. Replaces
/// the scales of an earlier call. `EKO_ERROR_INVALID_ARGUMENT` for `n_mu2` below 1 or a scale
/// that is not positive and finite.
///
/// # Safety
/// `handle`, `spec` NULL or live; `mu2` NULL or readable for `n_mu2` doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_spec_set_scales(
    handle: *mut EKO_Handle,
    spec: *mut EKO_SlicesSpec,
    mu2: *const f64,
    n_mu2: i32,
) -> i32 {
    call(handle, || {
        let spec = arg_mut(spec, "spec")?;
        let scales = slice(mu2, count(n_mu2.into(), "n_mu2", false)?, "mu2")?;
        if let Some((k, v)) = scales
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v > 0.0))
        {
            return Err(Failure::invalid(format!(
                "mu2[{k}] is {v}; scales are positive and finite (GeV^2)"
            )));
        }
        spec.selection.scales = Some(scales.to_vec());
        Ok(())
    })
}

/// Chooses `nf` at scale `mu2`, where the store holds final operators with two nf (at a matching
/// scale): an FK table takes one operator per scale, so `EKO_slices_create` refuses such a scale
/// unless told which (its message names every ambiguous scale and its nf). May be called for
/// several scales; a later call for the same scale replaces the earlier choice. The point must
/// be a final operator of the store (checked by `EKO_slices_create`); here: a valid point
/// (`EKO_ERROR_INVALID_ARGUMENT`).
///
/// # Safety
/// `handle`, `spec` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_spec_set_nf(
    handle: *mut EKO_Handle,
    spec: *mut EKO_SlicesSpec,
    mu2: f64,
    nf: i32,
) -> i32 {
    call(handle, || {
        let spec = arg_mut(spec, "spec")?;
        let choice = point(mu2, nf)?;
        let nf_at = &mut spec.selection.nf_at;
        match nf_at.iter_mut().find(|c| same_node(c.mu2, mu2)) {
            Some(earlier) => *earlier = choice,
            None => nf_at.push(choice),
        }
        Ok(())
    })
}

/// Makes the slices `spec` asks of `store`'s final operators (`spec` NULL: every final
/// operator), served through `transform` when it is not NULL (made by `EKO_transform_create`
/// from this store, or one of the same sides: for example reinterpolation onto a grid's x nodes,
/// the input side in the evolution basis; it is copied). Every chosen operator is mapped now,
/// read only when served. The slices do not refer to the store, the spec or the transform
/// afterwards: each may be destroyed. On success `*slices` receives them; free them with
/// `EKO_slices_destroy`.
///
/// Refused, with messages naming the problem: a wanted scale without a final operator (every
/// missing one named), or with only a partial (`EKO_ERROR_INVALID_ARGUMENT`); a scale held with
/// two nf and no `EKO_slices_spec_set_nf` choice (`EKO_ERROR_INVALID_ARGUMENT`, naming each scale
/// and its nf); a choice naming no final operator (`EKO_ERROR_INVALID_ARGUMENT`); a store without
/// final operators (`EKO_ERROR_INVALID_ARGUMENT`); a transform made for other sides
/// (`EKO_ERROR_INCOMPATIBLE`); a damaged operator file (`EKO_ERROR_MALFORMED_FILE`).
///
/// # Safety
/// `handle`, `store` NULL or live; `spec`, `transform` NULL or live; `slices` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_create(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    spec: *const EKO_SlicesSpec,
    transform: *const EKO_Transform,
    slices: *mut *mut EKO_Slices,
) -> i32 {
    call(handle, || {
        let s = arg(store, "store")?;
        // SAFETY: NULL (every final operator) or live, as documented.
        let spec = unsafe { spec.as_ref() };
        // SAFETY: NULL (no transform) or live, as documented.
        let t = unsafe { transform.as_ref() };
        let out_ptr = out(slices, "slices")?;
        let store = s.store();
        if let Some(t) = t {
            let m = store.metadata();
            let [output, input] = &t.source;
            if !(m.output_side().same_bits(output) && m.input_side().same_bits(input)) {
                return Err(Failure::new(
                    EKO_ERROR_INCOMPATIBLE,
                    format!(
                        "{}: the transform takes operators of shape {:?} on other sides (pids, x \
                         grids) than the store's final operators, of shape {:?}: make it from \
                         this store with EKO_transform_create",
                        store.dir().display(),
                        t.transform.source_shape(),
                        m.operator_shape(),
                    ),
                ));
            }
        }
        let selection = spec.map(|s| s.selection.clone()).unwrap_or_default();
        let made = Slices::new(store, &selection, t.map(|t| t.transform.clone()))?;
        let mapped = (0..made.len())
            .map(|i| memory_of(made.file(i).view()))
            .collect();
        put(
            out_ptr,
            Box::into_raw(Box::new(EKO_Slices {
                slices: made,
                mapped,
                borrowed: None,
            })),
        );
        Ok(())
    })
}

/// Frees slices; NULL is accepted. Every pointer `EKO_slices_borrow` gave becomes invalid (the
/// files are unmapped). An `EKO_PineapplState` made with them must not be used afterwards.
///
/// # Safety
/// `slices` NULL or live, used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_destroy(slices: *mut EKO_Slices) {
    // SAFETY: a pointer from EKO_slices_create (a Box), not yet destroyed.
    unsafe { free_boxed(slices) }
}

/// The number of slices, `*count` (at least 1): one per scale.
///
/// # Safety
/// `handle`, `slices` NULL or live; `count` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_len(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    count: *mut i32,
) -> i32 {
    call(handle, || {
        let s = arg(slices, "slices")?;
        let c = out(count, "count")?;
        put(c, s.slices.len() as i32);
        Ok(())
    })
}

/// The shape of every slice, `shape[4]` = `(n_pid_out, n_x_out, n_pid_in, n_x_in)`: the store's
/// final operators' (`EKO_store_operator_shape`), or the transform's result
/// (`EKO_transform_shape`). pineappl's `eko_shape` (its `pids_in`, `x_in`, `pids_out`, `x_out`
/// counts, in that order).
///
/// # Safety
/// `handle`, `slices` NULL or live; `shape` NULL or writable for 4 values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_shape(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    shape: *mut i64,
) -> i32 {
    call(handle, || {
        let s = arg(slices, "slices")?;
        let dst = shape_out(shape, "shape")?;
        put_shape(dst, s.slices.shape());
        Ok(())
    })
}

/// Checks that an array with the 4 extents `shape` (in index order, the same for both layouts,
/// as in `EKO_transform_check_shapes`) is a slice: `EKO_ERROR_BAD_SHAPE` naming the shapes
/// otherwise. `EKO_slices_write` sees only a length; a host that knows its array's extents (the
/// Fortran module does) calls this first.
///
/// # Safety
/// `handle`, `slices` NULL or live; `shape` NULL or readable for 4 values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_check_shape(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    shape: *const i64,
) -> i32 {
    call(handle, || {
        let s = arg(slices, "slices")?;
        let found = super::status::slice(shape, 4, "shape")?;
        let want = s.slices.shape();
        if found.iter().zip(want).any(|(&f, w)| f != w as i64) {
            return Err(Failure::new(
                EKO_ERROR_BAD_SHAPE,
                format!(
                    "the array has shape {found:?}; the slices have shape {want:?} (n_pid_out, \
                     n_x_out, n_pid_in, n_x_in), in that index order"
                ),
            ));
        }
        Ok(())
    })
}

/// Slice `index`'s evolution point (0 ≤ `index` < `EKO_slices_len`, ascending mu2): `*mu2`
/// (pineappl's `fac1`), `*nf`.
///
/// # Safety
/// `handle`, `slices` NULL or live; out-parameters NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_point(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    index: i32,
    mu2: *mut f64,
    nf: *mut i32,
) -> i32 {
    call(handle, || {
        let s = arg(slices, "slices")?;
        let (m, n) = (out(mu2, "mu2")?, out(nf, "nf")?);
        let i = index_of(&s.slices, index)?;
        let p = s.slices.points()[i];
        put(m, p.mu2);
        put(n, i32::from(p.nf));
        Ok(())
    })
}

/// The origin's scale `*fac0` (GeV²): pineappl's `fac0`, the FK table's scale (the store's
/// origin, `EKO_store_origin`).
///
/// # Safety
/// `handle`, `slices` NULL or live; `fac0` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_fac0(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    fac0: *mut f64,
) -> i32 {
    call(handle, || {
        let s = arg(slices, "slices")?;
        let f = out(fac0, "fac0")?;
        put(f, s.slices.origin().mu2);
        Ok(())
    })
}

/// The basis of the slices' input side (the FK table's side), `*basis`: `EKO_BASIS_FLAVOR`
/// (pineappl's `PINEAPPL_PID_BASIS_PDG`), `EKO_BASIS_EVOL` (`PINEAPPL_PID_BASIS_EVOL`), or
/// `EKO_BASIS_CUSTOM` for pids in neither (which pineappl cannot name).
///
/// # Safety
/// `handle`, `slices` NULL or live; `basis` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_basis(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    basis: *mut i32,
) -> i32 {
    call(handle, || {
        let s = arg(slices, "slices")?;
        let b = out(basis, "basis")?;
        put(
            b,
            match s.slices.basis() {
                Basis::Flavor => EKO_BASIS_FLAVOR,
                Basis::Evol => EKO_BASIS_EVOL,
                Basis::Custom => EKO_BASIS_CUSTOM,
            },
        );
        Ok(())
    })
}

fn slices_side(s: &EKO_Slices, side: i32) -> Outcome<(&Side, &'static str)> {
    Ok(if is_output(side)? {
        (s.slices.output_side(), "the slices' output side")
    } else {
        (s.slices.input_side(), "the slices' input side")
    })
}

/// Copies the pids of the slices' `side` into `pids`, which holds `n_pid` elements: exactly the
/// count `EKO_slices_shape` gives (element 0 for the output side, 2 for the input side), else
/// `EKO_ERROR_BAD_SHAPE`. `EKO_SIDE_OUTPUT` (`pid_out`) is the grid's side, pineappl's
/// `pids_in`; `EKO_SIDE_INPUT` (`pid_in`) the FK table's side, pineappl's `pids_out`.
///
/// # Safety
/// `handle`, `slices` NULL or live; `pids` NULL or writable for `n_pid` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_side_pids(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    side: i32,
    pids: *mut i32,
    n_pid: i32,
) -> i32 {
    call(handle, || {
        let (s, owner) = slices_side(arg(slices, "slices")?, side)?;
        copy_out(&s.pids, pids, n_pid, "pids", owner)
    })
}

/// Copies the x grid of the slices' `side` into `xgrid`, which holds `n_x` elements: exactly the
/// count `EKO_slices_shape` gives (element 1 for the output side, 3 for the input side), else
/// `EKO_ERROR_BAD_SHAPE`. `EKO_SIDE_OUTPUT` (`x_out`) is pineappl's `x_in`, `EKO_SIDE_INPUT`
/// (`x_in`) pineappl's `x_out`.
///
/// # Safety
/// `handle`, `slices` NULL or live; `xgrid` NULL or writable for `n_x` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_side_xgrid(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    side: i32,
    xgrid: *mut f64,
    n_x: i32,
) -> i32 {
    call(handle, || {
        let (s, owner) = slices_side(arg(slices, "slices")?, side)?;
        copy_out(&s.xgrid, xgrid, n_x, "xgrid", owner)
    })
}

/// Writes slice `index` into the host's `buffer` of `n_buffer` doubles in `layout`
/// (`EKO_LAYOUT_C`: `buffer[n_pid_out][n_x_out][n_pid_in][n_x_in]`; `EKO_LAYOUT_FORTRAN`:
/// `buffer(n_pid_out, n_x_out, n_pid_in, n_x_in)`), exactly `EKO_slices_shape`'s elements: one
/// copy of the mapped operator in one pass, or the transform writing straight into `buffer`
/// (bit for bit `EKO_transform_apply` of the stored operator). Then drops the slice's pages from
/// resident memory and reads the next slice's ahead, so a loop over the slices keeps about one
/// operator resident.
///
/// Checked before anything is written: `index` and `layout` (`EKO_ERROR_INVALID_ARGUMENT`),
/// `n_buffer` (`EKO_ERROR_BAD_SHAPE`), NULL, alignment (`EKO_ERROR_MISALIGNED`), `buffer` inside a
/// mapped operator (`EKO_ERROR_READ_ONLY`) or a borrow's buffer (`EKO_ERROR_OVERLAPPING`).
/// `buffer` is written only on success.
///
/// # Safety
/// `handle`, `slices` NULL or live; `buffer` NULL or writable for `n_buffer` doubles, used by
/// nothing else during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_write(
    handle: *mut EKO_Handle,
    slices: *const EKO_Slices,
    index: i32,
    buffer: *mut f64,
    n_buffer: i64,
    layout: i32,
) -> i32 {
    call(handle, || {
        let s = arg(slices, "slices")?;
        let i = index_of(&s.slices, index)?;
        let order = order_of(layout, "layout")?;
        let shape = s.slices.shape();
        let n = host_length(n_buffer, "n_buffer", shape, "the slices have shape")?;
        let dst = super::status::slice(buffer.cast_const(), n, "buffer")?;
        s.check_writable(dst)?;
        // SAFETY: `buffer` passed `slice` for `n` elements, which the caller guarantees writable
        // and unused elsewhere during the call; it is no memory of these slices (checked).
        let view = unsafe { host_out(buffer, n, shape, order) };
        s.slices.write_into(i, view)?;
        s.slices.release(i);
        s.slices.prefetch(i + 1);
        Ok(())
    })
}

/// Borrows slice `index` without copying: `*view` receives its address, shape
/// (`EKO_slices_shape`), strides in elements and layout, read-only.
///
/// Untransformed slices: the view is the mapped operator file itself (its layout is the file's:
/// `EKO_LAYOUT_C` for files written in C order, as eko and NumPy write them), whose pages are
/// read ahead now. It is valid until `EKO_slices_release(h, slices, index)` or
/// `EKO_slices_destroy`. Release drops the pages from resident memory; the pointer then still
/// reads the same values (faulting pages back in from the file), but by contract the host must
/// not use it after release: borrow again.
///
/// Transformed slices: the slice is computed into one buffer owned by the `EKO_Slices` (bit for
/// bit what `EKO_slices_write` gives), valid until the next borrow on this object (which reuses
/// the buffer), `EKO_slices_release` of this index (which frees it), or `EKO_slices_destroy`. A
/// failed borrow ends the previous one too.
///
/// # Safety
/// `handle`, `slices` NULL or live, used by no other thread during the call; `view` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_borrow(
    handle: *mut EKO_Handle,
    slices: *mut EKO_Slices,
    index: i32,
    view: *mut EKO_View,
) -> i32 {
    call(handle, || {
        let s = arg_mut(slices, "slices")?;
        let i = index_of(&s.slices, index)?;
        let out_ptr = out(view, "view")?;
        let result = if s.slices.transform().is_none() {
            s.slices.prefetch(i);
            view_of(s.slices.file(i).view())
        } else {
            let mut buffer = match s.borrowed.take() {
                Some((_, b)) => b,
                None => Array4::zeros(s.slices.shape()),
            };
            s.slices.write_into(i, buffer.view_mut())?;
            s.slices.release(i);
            // The buffer's heap memory does not move when the array moves into `borrowed`.
            let v = view_of(buffer.view());
            s.borrowed = Some((i, buffer));
            v
        };
        put(out_ptr, result);
        Ok(())
    })
}

/// Ends a borrow of slice `index` (`EKO_slices_borrow`): drops the slice's pages from resident
/// memory (the files stay mapped; a later borrow or write reads them back) and, for transformed
/// slices whose buffer holds this index, frees the buffer. The pointers of the borrow must not
/// be used afterwards. Releasing a slice never borrowed is harmless.
///
/// # Safety
/// `handle`, `slices` NULL or live, used by no other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_slices_release(
    handle: *mut EKO_Handle,
    slices: *mut EKO_Slices,
    index: i32,
) -> i32 {
    call(handle, || {
        let s = arg_mut(slices, "slices")?;
        let i = index_of(&s.slices, index)?;
        s.slices.release(i);
        if matches!(s.borrowed, Some((j, _)) if j == i) {
            s.borrowed = None;
        }
        Ok(())
    })
}

/// What `EKO_pineappl_operator` serves from and records into: one `EKO_Slices` per operator
/// pineappl asks for (its `op_index`), the first error, the number of slices served. Made by
/// `EKO_pineappl_state_create`, freed by `EKO_pineappl_state_destroy`; passed to
/// `pineappl_grid_evolve` as its `state`.
pub struct EKO_PineapplState {
    slices: Vec<*const EKO_Slices>,
    first_error: Mutex<Option<(i32, String)>>,
    served: AtomicU64,
}

impl EKO_PineapplState {
    /// Keeps `failure` unless an error is already recorded.
    fn record(&self, failure: Failure) {
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some((failure.status, failure.message));
        }
    }
}

/// Makes the state `EKO_pineappl_operator` needs: `slices[k]` serves pineappl's `op_index` k,
/// for `n_slices` operators (`pineappl_grid_evolve`'s `nb_slices`: one per EKO, i.e. per
/// convolution type of the grid; pineappl 1.3's C API gives all of them one shape and one pair of
/// sides). The state borrows the slices, which must outlive it: destroy the state first. On
/// success `*state` receives it, with no error recorded and nothing served; free it with
/// `EKO_pineappl_state_destroy`.
///
/// # Safety
/// `handle` NULL or live; `slices` NULL or readable for `n_slices` pointers, each NULL or live;
/// `state` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_pineappl_state_create(
    handle: *mut EKO_Handle,
    slices: *const *const EKO_Slices,
    n_slices: i64,
    state: *mut *mut EKO_PineapplState,
) -> i32 {
    call(handle, || {
        let n = count(n_slices, "n_slices", false)?;
        let list = super::status::slice(slices, n, "slices")?;
        let out_ptr = out(state, "state")?;
        if let Some(k) = list.iter().position(|p| p.is_null()) {
            return Err(Failure::null(&format!("slices[{k}]")));
        }
        put(
            out_ptr,
            Box::into_raw(Box::new(EKO_PineapplState {
                slices: list.to_vec(),
                first_error: Mutex::new(None),
                served: AtomicU64::new(0),
            })),
        );
        Ok(())
    })
}

/// Frees a state; NULL is accepted. The slices it borrowed are not affected.
///
/// # Safety
/// `state` NULL or live, used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_pineappl_state_destroy(state: *mut EKO_PineapplState) {
    // SAFETY: a pointer from EKO_pineappl_state_create (a Box), not yet destroyed.
    unsafe { free_boxed(state) }
}

/// `EKO_OK` when every call of `EKO_pineappl_operator` with `state` so far succeeded; otherwise
/// the status of the first error (`EKO_ERROR_EVOLVE`, or `EKO_ERROR_PANIC` for a bug in libeko),
/// its message copied into the handle. The record stays: a later check gives it again. Call it
/// after `pineappl_grid_evolve` returns: an FK table made while an error was recorded holds NaN
/// and must be discarded.
///
/// # Safety
/// `handle`, `state` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_pineappl_state_check(
    handle: *mut EKO_Handle,
    state: *const EKO_PineapplState,
) -> i32 {
    call(handle, || {
        let s = arg(state, "state")?;
        let first = s.first_error.lock().unwrap_or_else(|e| e.into_inner());
        match &*first {
            None => Ok(()),
            Some((status, message)) => Err(Failure::new(*status, message.clone())),
        }
    })
}

/// The number of slices `EKO_pineappl_operator` has served with `state` (filled without error):
/// after a successful `pineappl_grid_evolve`, the grid's number of scales times the number of
/// operators.
///
/// # Safety
/// `handle`, `state` NULL or live; `served` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_pineappl_state_served(
    handle: *mut EKO_Handle,
    state: *const EKO_PineapplState,
    served: *mut i64,
) -> i32 {
    call(handle, || {
        let s = arg(state, "state")?;
        let dst = out(served, "served")?;
        put(dst, s.served.load(Ordering::Relaxed) as i64);
        Ok(())
    })
}

/// pineappl's operator callback (`pineappl_capi`'s `OperatorCallback`, the C type
/// `pineappl_operator_callback`): pass it to `pineappl_grid_evolve` with an
/// `EKO_PineapplState*` as `state`. pineappl calls it once per operator (`op_index`) and scale
/// `fac1` with a zeroed C-order buffer of `shape[4]` = `(n_pid_out, n_x_out, n_pid_in, n_x_in)`
/// doubles (eko's order). In pineappl's names `pids_in`, `x_in` are the grid's side (eko's output
/// side, `EKO_SIDE_OUTPUT`) and `pids_out`, `x_out` the FK table's side (eko's input side): the
/// arrays the host passed to `pineappl_grid_evolve`, which should be the slices' sides
/// (`EKO_slices_side_pids`, `_side_xgrid`) and `eko_shape` `EKO_slices_shape`.
///
/// It finds the slices of `op_index`, the slice at `fac1` (within 4096 ulps, pineappl's
/// tolerance), checks `shape`, the pids (exactly) and the x values (within 4096 ulps) against the
/// slices' sides, writes the slice into `buffer` as `EKO_slices_write` does (one copy, or the
/// transform fused into the write), drops its pages from resident memory and reads the next
/// slice ahead.
///
/// It returns nothing and never unwinds (pineappl has no way to hear of an error): a failure (a
/// NULL pointer, `op_index` out of range, a `fac1` the slices do not hold, a shape, pid or x value
/// other than the slices', a bug inside libeko) is recorded in the state, the first one kept
/// (`EKO_ERROR_EVOLVE` with a message naming the value; `EKO_ERROR_PANIC` for a bug), and the
/// buffer is filled with NaN when `buffer` and `shape` are not NULL (and `buffer` is not memory
/// of the slices, such as a borrowed operator, which only a direct caller can pass), so the FK
/// table cannot pass for a good one. Check `EKO_pineappl_state_check` after
/// `pineappl_grid_evolve`. With a NULL `state` there is nowhere to record: the buffer is filled
/// with NaN.
///
/// # Safety
/// `state` NULL or a live `EKO_PineapplState` whose slices are live; `shape` NULL or readable for
/// 4 values; each side array NULL or readable for its count in `shape`; `buffer` NULL or writable
/// for the product of `shape` doubles. pineappl's `pineappl_grid_evolve` guarantees these when
/// given the slices' shape and sides.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn EKO_pineappl_operator(
    op_index: usize,
    fac1: f64,
    pids_in: *const i32,
    x_in: *const f64,
    pids_out: *const i32,
    x_out: *const f64,
    shape: *const usize,
    buffer: *mut f64,
    state: *mut c_void,
) {
    let state = state.cast::<EKO_PineapplState>().cast_const();
    let request = Request {
        libeko_memory: std::cell::Cell::new(false),
        op_index,
        fac1,
        pids_in,
        x_in,
        pids_out,
        x_out,
        shape,
        buffer,
    };
    // Nothing may unwind out of here: every step runs inside a panic boundary, and what remains
    // outside (NaN fill, record) is wrapped again.
    let outcome = catch_unwind(AssertUnwindSafe(|| serve(&request, state)));
    let failure = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(failure)) => failure,
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            Failure::new(
                EKO_ERROR_PANIC,
                format!(
                    "EKO_pineappl_operator: libeko panicked (a bug, please report it) serving \
                     op_index {op_index}, fac1 = {fac1}: {text}"
                ),
            )
        }
    };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !request.libeko_memory.get() {
            fill_nan(shape, buffer);
        }
        // SAFETY: NULL or a live state (the callback's contract).
        if let Some(s) = unsafe { state.as_ref() } {
            s.record(failure);
        }
    }));
}

/// The arguments of one callback.
struct Request {
    /// Set when `buffer` turned out to be libeko's memory (a mapped operator, read-only, or a
    /// borrow's buffer): no NaN goes there.
    libeko_memory: std::cell::Cell<bool>,
    op_index: usize,
    fac1: f64,
    pids_in: *const i32,
    x_in: *const f64,
    pids_out: *const i32,
    x_out: *const f64,
    shape: *const usize,
    buffer: *mut f64,
}

/// A failure of the callback: pineappl cannot go on with the FK table.
fn bad(reason: String) -> Failure {
    Failure::from(Error::Evolve {
        reason: format!("EKO_pineappl_operator: {reason}"),
    })
}

/// `n` values behind a pointer argument of the callback, or a failure naming it.
fn request_array<'a, T>(ptr: *const T, n: usize, name: &str) -> Outcome<&'a [T]> {
    if ptr.is_null() {
        return Err(bad(format!("{name} is NULL")));
    }
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(bad(format!("{name} is not aligned for its element type")));
    }
    // SAFETY: not NULL, aligned, and the callback's contract guarantees `n` readable elements
    // (pineappl passes arrays of the counts in `shape`).
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

fn serve(r: &Request, state: *const EKO_PineapplState) -> Outcome<()> {
    // SAFETY: NULL or a live state (the callback's contract).
    let Some(state) = (unsafe { state.as_ref() }) else {
        return Err(bad(
            "state is NULL: pass the EKO_PineapplState* from EKO_pineappl_state_create to \
             pineappl_grid_evolve"
                .into(),
        ));
    };
    let op = r.op_index;
    let Some(&ptr) = state.slices.get(op) else {
        return Err(bad(format!(
            "op_index {op} is out of range: the state holds {} slices (EKO_pineappl_state_create's \
             n_slices, one per EKO: pineappl_grid_evolve's nb_slices)",
            state.slices.len()
        )));
    };
    // SAFETY: checked not NULL by EKO_pineappl_state_create; the host keeps the slices alive
    // while the state is used (documented there).
    let s = unsafe { &*ptr };
    let slices = &s.slices;
    let want = slices.shape();
    let shape = request_array(r.shape, 4, "shape")?;
    if shape != want {
        return Err(bad(format!(
            "pineappl asks for an operator of shape {shape:?}; slices[{op}] have {want:?} \
             (n_pid_out, n_x_out, n_pid_in, n_x_in): give pineappl_grid_evolve EKO_slices_shape \
             as eko_shape"
        )));
    }
    let fac1 = r.fac1;
    let Some(i) = slices.position(fac1) else {
        let points = slices.points();
        let held: Vec<String> = points.iter().take(8).map(|p| p.mu2.to_string()).collect();
        return Err(bad(format!(
            "no slice at fac1 = {fac1} in slices[{op}] (the store {}): they hold {} scale(s), \
             mu2 = {}{}; make them from a store with the grid's scales \
             (pineappl_grid_evolve_info's fac1, EKO_slices_spec_set_scales)",
            slices.dir().display(),
            points.len(),
            held.join(", "),
            if points.len() > 8 { ", ..." } else { "" }
        )));
    };
    let (output, input) = (slices.output_side(), slices.input_side());
    let sides: [(&str, &str, *const i32, *const f64, &Side); 2] = [
        ("in", "output", r.pids_in, r.x_in, output),
        ("out", "input", r.pids_out, r.x_out, input),
    ];
    for (name, eko, pids, xs, side) in sides {
        let pids = request_array(pids, side.pids.len(), &format!("pids_{name}"))?;
        if let Some(k) = (0..pids.len()).find(|&k| pids[k] != side.pids[k]) {
            return Err(bad(format!(
                "pids_{name}[{k}] is {}; slices[{op}]'s {eko} side has pid {} there (pineappl's \
                 pids_{name} is eko's {eko} side: give pineappl_grid_evolve \
                 EKO_slices_side_pids(EKO_SIDE_{}))",
                pids[k],
                side.pids[k],
                eko.to_uppercase()
            )));
        }
        let xs = request_array(xs, side.xgrid.len(), &format!("x_{name}"))?;
        if let Some(k) = (0..xs.len()).find(|&k| !same_node(xs[k], side.xgrid[k])) {
            return Err(bad(format!(
                "x_{name}[{k}] is {}; slices[{op}]'s {eko} side has x = {} there (pineappl's \
                 x_{name} is eko's {eko} side: give pineappl_grid_evolve \
                 EKO_slices_side_xgrid(EKO_SIDE_{}))",
                xs[k],
                side.xgrid[k],
                eko.to_uppercase()
            )));
        }
    }
    let n: usize = want.iter().product();
    let dst = request_array(r.buffer.cast_const(), n, "buffer")?;
    s.check_writable(dst).map_err(|f| {
        r.libeko_memory.set(true);
        bad(format!("{} (op_index {op}, fac1 = {fac1})", f.message))
    })?;
    // SAFETY: `buffer` passed `request_array` for `n` elements, which the callback's contract
    // guarantees writable (pineappl's zeroed array of the slices' shape); it is no memory of the
    // slices (checked), and nothing else reads or writes it during the call.
    let data = unsafe { std::slice::from_raw_parts_mut(r.buffer, n) };
    let view = ArrayViewMut4::from_shape(want, data).expect("length checked");
    slices.write_into(i, view).map_err(|e| {
        bad(format!(
            "slice {i} {} of slices[{op}] (fac1 = {fac1}): {e}",
            slices.points()[i]
        ))
    })?;
    slices.release(i);
    slices.prefetch(i + 1);
    state.served.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Fills the callback's buffer with NaN, when `buffer` and `shape` are not NULL and the shape's
/// product is a size an array can have.
fn fill_nan(shape: *const usize, buffer: *mut f64) {
    if shape.is_null() || buffer.is_null() {
        return;
    }
    let n = (0..4).try_fold(1usize, |acc, k| {
        // SAFETY: not NULL; the callback's contract makes `shape` readable for 4 values (read
        // unaligned: a direct caller may pass any address).
        let extent = unsafe { shape.add(k).read_unaligned() };
        acc.checked_mul(extent)
    });
    let Some(n) = n.filter(|&n| n <= isize::MAX as usize / std::mem::size_of::<f64>()) else {
        return;
    };
    for k in 0..n {
        // SAFETY: the callback's contract makes `buffer` writable for the product of `shape`
        // doubles (written unaligned: a direct caller may pass any address).
        unsafe { buffer.add(k).write_unaligned(f64::NAN) };
    }
}
