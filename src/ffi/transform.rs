//! Transforms from C: a spec built one call at a time (no structs, for Fortran), a transform
//! made from it for a store's final operators or for a host's buffers, its result's shape and
//! sides, and its application to host buffers in C or Fortran order.
//!
//! `EKO_store_transform` (in `store.rs`) applies a transform to a store's operator mapped for
//! the call.

use ndarray::{ArrayView4, ArrayViewMut4, ShapeBuilder};

use super::dataset::{kernel, order_of};
use super::status::*;
use super::store::EKO_Store;
use crate::npy::Order;
use crate::store::metadata::check_xgrid;
use crate::store::{Basis, Interpolation, Side};
use crate::transform::{Rotation, SideChange, Transform, TransformSpec};

/// The output side of operators: `pid_out`, `x_out` (eko's target side).
pub const EKO_SIDE_OUTPUT: i32 = 1;
/// The input side of operators: `pid_in`, `x_in` (the side of the PDF at the origin).
pub const EKO_SIDE_INPUT: i32 = 2;

/// eko's flavour basis: pids 22, -6 .. -1, 21, 1 .. 6.
pub const EKO_BASIS_FLAVOR: i32 = 1;
/// The evolution basis of eko, pineko and pineappl: pids 22, 100 (Σ), 21, 200 (V), 203, 208,
/// 215, 224, 235 (V3 .. V35), 103, 108, 115, 124, 135 (T3 .. T35).
pub const EKO_BASIS_EVOL: i32 = 2;

/// What a transform changes, set one call at a time: per side a new x grid and a rotation, and
/// the interpolation. Made by `EKO_transform_spec_create` (asking nothing), freed by
/// `EKO_transform_spec_destroy`. A transform copies it: the spec may be changed or destroyed
/// once the transform is made. Not to be used by two threads at once.
pub struct EKO_TransformSpec {
    pub(super) spec: TransformSpec,
}

/// A transform with its matrices precomputed, for operators of one pair of sides. Made by
/// `EKO_transform_create` or `EKO_transform_create_for_sides`, freed by
/// `EKO_transform_destroy`. Const: `EKO_transform_apply` and the queries may run on several
/// threads at once on one transform, each thread with its own handle.
pub struct EKO_Transform {
    pub(super) transform: Transform,
    /// The sides of the operators it takes (`[output, input]`).
    pub(super) source: [Side; 2],
}

/// Whether `side` (`EKO_SIDE_*`, the argument `side`) is the output side.
pub(super) fn is_output(side: i32) -> Outcome<bool> {
    match side {
        EKO_SIDE_OUTPUT => Ok(true),
        EKO_SIDE_INPUT => Ok(false),
        other => Err(Failure::invalid(format!(
            "side {other} is neither EKO_SIDE_OUTPUT ({EKO_SIDE_OUTPUT}) nor EKO_SIDE_INPUT \
             ({EKO_SIDE_INPUT})"
        ))),
    }
}

fn side_name(output: bool) -> &'static str {
    if output { "output" } else { "input" }
}

/// Checks a 4-element `int64_t` out-parameter (NULL, alignment); written with [`put_shape`].
pub(super) fn shape_out(ptr: *mut i64, name: &str) -> Outcome<*mut i64> {
    let ptr = out(ptr, name)?;
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<i64>()) {
        return Err(Failure::new(
            EKO_ERROR_MISALIGNED,
            format!("{name} is not aligned for int64_t"),
        ));
    }
    Ok(ptr)
}

/// Writes a shape through a pointer checked by [`shape_out`].
pub(super) fn put_shape(ptr: *mut i64, shape: [usize; 4]) {
    for (i, n) in shape.into_iter().enumerate() {
        // SAFETY: `ptr` passed `shape_out` (not NULL, aligned) and the caller guarantees 4
        // writable elements (documented on every function taking a shape out-parameter).
        unsafe { ptr.add(i).write(n as i64) };
    }
}

/// The number of elements of an operator of `shape`.
fn elements_of(shape: [usize; 4]) -> usize {
    shape.iter().product()
}

/// A host buffer's element count `n` (the argument `name`), which must hold one operator of
/// `shape`: `what` names the operator ("the transform takes operators of shape").
pub(super) fn host_length(n: i64, name: &str, shape: [usize; 4], what: &str) -> Outcome<usize> {
    let n = count(n, name, false)?;
    let want = elements_of(shape);
    if n != want {
        return Err(Failure::new(
            EKO_ERROR_BAD_SHAPE,
            format!("{name} is {n}; {what} {shape:?} ({want} doubles)"),
        ));
    }
    Ok(n)
}

/// Refuses two buffers that share memory.
pub(super) fn disjoint(a: &[f64], b: &[f64], names: (&str, &str)) -> Outcome<()> {
    let (a, b) = (a.as_ptr_range(), b.as_ptr_range());
    if a.start < b.end && b.start < a.end {
        return Err(Failure::new(
            EKO_ERROR_OVERLAPPING,
            format!(
                "{} and {} overlap: transform into separate memory",
                names.0, names.1
            ),
        ));
    }
    Ok(())
}

/// A writable view of the host's `out`, checked by `slice` and for overlap by the caller.
///
/// # Safety
/// `out` passed `slice` for `n` elements (not NULL, aligned), the caller guarantees them
/// writable for the call, and nothing else in the call reads or writes them.
pub(super) unsafe fn host_out<'a>(
    out: *mut f64,
    n: usize,
    shape: [usize; 4],
    order: Order,
) -> ArrayViewMut4<'a, f64> {
    // SAFETY: forwarded from the caller.
    let data = unsafe { std::slice::from_raw_parts_mut(out, n) };
    ArrayViewMut4::from_shape(shape.set_f(order == Order::Fortran), data).expect("length checked")
}

/// Creates an empty spec (it asks for nothing: a transform made from it changes nothing). On
/// success `*spec` receives it; free it with `EKO_transform_spec_destroy`.
///
/// # Safety
/// `handle` NULL or live; `spec` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_spec_create(
    handle: *mut EKO_Handle,
    spec: *mut *mut EKO_TransformSpec,
) -> i32 {
    call(handle, || {
        let out_ptr = out(spec, "spec")?;
        put(
            out_ptr,
            Box::into_raw(Box::new(EKO_TransformSpec {
                spec: TransformSpec::default(),
            })),
        );
        Ok(())
    })
}

/// Frees a spec; NULL is accepted. Transforms made from it are not affected.
///
/// # Safety
/// `spec` NULL or live, used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_spec_destroy(spec: *mut EKO_TransformSpec) {
    // SAFETY: a pointer from EKO_transform_spec_create (a Box), not yet destroyed.
    unsafe { free_boxed(spec) }
}

fn change(spec: &mut EKO_TransformSpec, side: i32) -> Outcome<(&mut SideChange, bool)> {
    let output = is_output(side)?;
    let change = if output {
        &mut spec.spec.output
    } else {
        &mut spec.spec.input
    };
    Ok((change, output))
}

/// Asks that `side` (`EKO_SIDE_OUTPUT` or `EKO_SIDE_INPUT`) be reinterpolated onto the `n_x`
/// values of `xgrid` (copied; strictly increasing in (0, 1], else `EKO_ERROR_TRANSFORM`),
/// replacing an x grid asked before for that side. Reinterpolation needs the interpolation the
/// operators were computed with: the store's metadata, or `EKO_transform_spec_set_interpolation`.
///
/// # Safety
/// `handle`, `spec` NULL or live; `xgrid` NULL or readable for `n_x` doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_spec_set_xgrid(
    handle: *mut EKO_Handle,
    spec: *mut EKO_TransformSpec,
    side: i32,
    xgrid: *const f64,
    n_x: i32,
) -> i32 {
    call(handle, || {
        let spec = arg_mut(spec, "spec")?;
        let (change, output) = change(spec, side)?;
        let xgrid = slice(xgrid, count(n_x.into(), "n_x", false)?, "xgrid")?;
        check_xgrid(xgrid, &format!("the new {} x grid", side_name(output))).map_err(|reason| {
            Failure::from(crate::Error::Transform {
                reason: format!(
                    "{reason} (x values must be strictly increasing in (0, 1], each once)"
                ),
            })
        })?;
        change.xgrid = Some(xgrid.to_vec());
        Ok(())
    })
}

/// Asks that `side` (`EKO_SIDE_*`) be rotated to `basis` (`EKO_BASIS_FLAVOR` or
/// `EKO_BASIS_EVOL`) from the basis its pids are in (a side already in `basis` is left as it
/// is; a side in neither basis is `EKO_ERROR_TRANSFORM` when the transform is made). Replaces a
/// basis or rotation asked before for that side.
///
/// # Safety
/// `handle`, `spec` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_spec_set_basis(
    handle: *mut EKO_Handle,
    spec: *mut EKO_TransformSpec,
    side: i32,
    basis: i32,
) -> i32 {
    call(handle, || {
        let spec = arg_mut(spec, "spec")?;
        let (change, _) = change(spec, side)?;
        let basis = match basis {
            EKO_BASIS_FLAVOR => Basis::Flavor,
            EKO_BASIS_EVOL => Basis::Evol,
            other => {
                return Err(Failure::invalid(format!(
                    "basis {other} is neither EKO_BASIS_FLAVOR ({EKO_BASIS_FLAVOR}) nor \
                     EKO_BASIS_EVOL ({EKO_BASIS_EVOL})"
                )));
            }
        };
        change.rotation = Some(Rotation::To(basis));
        Ok(())
    })
}

/// Asks that `side` (`EKO_SIDE_*`) be rotated by `matrix`, `n_pid` x `n_pid` doubles in row-major
/// order `M[new][old]` (a PDF in the new basis is `M` times the PDF in the old one), into the
/// `n_pid` new `pids`. Both are copied. `n_pid` must be the side's number of pids and `M`
/// invertible: checked when the transform is made (`EKO_ERROR_TRANSFORM`). Here: counts, NULL,
/// finite entries, distinct pids. Replaces a basis or rotation asked before for that side.
///
/// # Safety
/// `handle`, `spec` NULL or live; `matrix` NULL or readable for `n_pid * n_pid` doubles; `pids`
/// NULL or readable for `n_pid` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_spec_set_rotation(
    handle: *mut EKO_Handle,
    spec: *mut EKO_TransformSpec,
    side: i32,
    matrix: *const f64,
    pids: *const i32,
    n_pid: i32,
) -> i32 {
    call(handle, || {
        let spec = arg_mut(spec, "spec")?;
        let (change, output) = change(spec, side)?;
        let n = count(n_pid.into(), "n_pid", false)?;
        let matrix = slice(matrix, n * n, "matrix")?;
        let pids = slice(pids, n, "pids")?;
        let name = side_name(output);
        if let Some(v) = matrix.iter().find(|v| !v.is_finite()) {
            return Err(Failure::from(crate::Error::Transform {
                reason: format!("the {name} rotation has a non-finite entry ({v})"),
            }));
        }
        crate::store::metadata::check_pids(pids, &format!("the {name} rotation's pids"))
            .map_err(|reason| Failure::from(crate::Error::Transform { reason }))?;
        change.rotation = Some(Rotation::Matrix {
            matrix: matrix.to_vec(),
            pids: pids.to_vec(),
        });
        Ok(())
    })
}

/// Sets the interpolation to reinterpolate with: piecewise Lagrange polynomials of `degree`
/// (at least 1; eko's default is 4), in ln x when `is_log` is non-zero (eko's default), as
/// eko's operator card says (`interpolation_polynomial_degree`, `interpolation_is_log`). It
/// overrides the store's metadata; a spec for `EKO_transform_create_for_sides` that changes an x
/// grid needs it. A grid with no more than `degree` points is `EKO_ERROR_TRANSFORM` when the
/// transform is made.
///
/// # Safety
/// `handle`, `spec` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_spec_set_interpolation(
    handle: *mut EKO_Handle,
    spec: *mut EKO_TransformSpec,
    degree: i32,
    is_log: i32,
) -> i32 {
    call(handle, || {
        let spec = arg_mut(spec, "spec")?;
        let degree = count(degree.into(), "degree", false)?;
        spec.spec.interpolation = Some(Interpolation {
            polynomial_degree: u32::try_from(degree).expect("from an i32"),
            log: is_log != 0,
        });
        Ok(())
    })
}

fn make(
    source: [Side; 2],
    spec: &TransformSpec,
    threads: i32,
    out_ptr: *mut *mut EKO_Transform,
) -> Outcome<()> {
    let threads = kernel(threads)?.threads();
    let [output, input] = source.clone();
    let transform = Transform::for_sides(output, input, spec)?.with_threads(threads);
    put(
        out_ptr,
        Box::into_raw(Box::new(EKO_Transform { transform, source })),
    );
    Ok(())
}

/// Makes the transform `spec` asks of `store`'s final operators (their sides: the computed grid,
/// or the reshaped sides of a reshaped store; a store that is not reshaped has partials of the
/// same sides, which it transforms too), applied on `threads` threads (0: one per core).
/// Reinterpolation uses the spec's interpolation, else the store's metadata's.
/// `EKO_ERROR_TRANSFORM` (with a message naming the problem) when it cannot be made: a singular
/// rotation or one of the wrong size, a basis rotation of a side in neither basis, a degree the
/// grid cannot carry, no interpolation known. On success `*transform` receives it; free it with
/// `EKO_transform_destroy`. It does not refer to the store or the spec afterwards.
///
/// # Safety
/// `handle`, `store`, `spec` NULL or live; `transform` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_create(
    handle: *mut EKO_Handle,
    store: *const EKO_Store,
    spec: *const EKO_TransformSpec,
    threads: i32,
    transform: *mut *mut EKO_Transform,
) -> i32 {
    call(handle, || {
        let metadata = arg(store, "store")?.metadata();
        let spec = arg(spec, "spec")?;
        let out_ptr = out(transform, "transform")?;
        let mut spec = spec.spec.clone();
        if spec.interpolation.is_none() {
            spec.interpolation = metadata.interpolation();
        }
        make(
            [metadata.output_side(), metadata.input_side()],
            &spec,
            threads,
            out_ptr,
        )
    })
}

/// Makes the transform `spec` asks of operators whose output side has the `n_pid_out` pids
/// `pids_out` and the `n_x_out` x values `xgrid_out`, and whose input side has `pids_in` and
/// `xgrid_in` (a host's buffers, no store; arrays copied). Reinterpolation needs
/// `EKO_transform_spec_set_interpolation`. Sides that are not valid grids (x values not strictly
/// increasing in (0, 1], a pid twice) and everything `EKO_transform_create` refuses are
/// `EKO_ERROR_TRANSFORM`. `threads`, `*transform` as in `EKO_transform_create`.
///
/// # Safety
/// `handle`, `spec` NULL or live; each array NULL or readable for its count; `transform` NULL or
/// writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn EKO_transform_create_for_sides(
    handle: *mut EKO_Handle,
    spec: *const EKO_TransformSpec,
    pids_out: *const i32,
    n_pid_out: i32,
    xgrid_out: *const f64,
    n_x_out: i32,
    pids_in: *const i32,
    n_pid_in: i32,
    xgrid_in: *const f64,
    n_x_in: i32,
    threads: i32,
    transform: *mut *mut EKO_Transform,
) -> i32 {
    call(handle, || {
        let spec = arg(spec, "spec")?;
        let out_ptr = out(transform, "transform")?;
        let side = |pids, n_pid: i32, xgrid, n_x: i32, name: &str| -> Outcome<Side> {
            let pids = slice(
                pids,
                count(n_pid.into(), &format!("n_pid_{name}"), false)?,
                &format!("pids_{name}"),
            )?;
            let xgrid = slice(
                xgrid,
                count(n_x.into(), &format!("n_x_{name}"), false)?,
                &format!("xgrid_{name}"),
            )?;
            Ok(Side {
                xgrid: xgrid.to_vec(),
                pids: pids.to_vec(),
            })
        };
        let output = side(pids_out, n_pid_out, xgrid_out, n_x_out, "out")?;
        let input = side(pids_in, n_pid_in, xgrid_in, n_x_in, "in")?;
        make([output, input], &spec.spec, threads, out_ptr)
    })
}

/// Frees a transform; NULL is accepted.
///
/// # Safety
/// `transform` NULL or live, used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_destroy(transform: *mut EKO_Transform) {
    // SAFETY: a pointer from EKO_transform_create* (a Box), not yet destroyed.
    unsafe { free_boxed(transform) }
}

/// The shape of the operators the transform makes, `shape[4]` =
/// `(n_pid_out, n_x_out, n_pid_in, n_x_in)`: the extents of `out` in `EKO_transform_apply`
/// (`double out[n_pid_out][n_x_out][n_pid_in][n_x_in]` in C order, `out(n_pid_out, n_x_out,
/// n_pid_in, n_x_in)` in Fortran order).
///
/// # Safety
/// `handle`, `transform` NULL or live; `shape` NULL or writable for 4 values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_shape(
    handle: *mut EKO_Handle,
    transform: *const EKO_Transform,
    shape: *mut i64,
) -> i32 {
    call(handle, || {
        let t = arg(transform, "transform")?;
        let dst = shape_out(shape, "shape")?;
        put_shape(dst, t.transform.shape());
        Ok(())
    })
}

/// The shape of the operators the transform takes, `shape[4]`, as `EKO_transform_shape`.
///
/// # Safety
/// As `EKO_transform_shape`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_source_shape(
    handle: *mut EKO_Handle,
    transform: *const EKO_Transform,
    shape: *mut i64,
) -> i32 {
    call(handle, || {
        let t = arg(transform, "transform")?;
        let dst = shape_out(shape, "shape")?;
        put_shape(dst, t.transform.source_shape());
        Ok(())
    })
}

fn result_side(t: &EKO_Transform, side: i32) -> Outcome<(&Side, &'static str)> {
    Ok(if is_output(side)? {
        (t.transform.output_side(), "the transform's output side")
    } else {
        (t.transform.input_side(), "the transform's input side")
    })
}

/// Copies the pids of the result's `side` (`EKO_SIDE_*`) into `pids`, which holds `n_pid`
/// elements: exactly the count `EKO_transform_shape` gives (element 0 for the output side, 2
/// for the input side), else `EKO_ERROR_BAD_SHAPE`.
///
/// # Safety
/// `handle`, `transform` NULL or live; `pids` NULL or writable for `n_pid` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_side_pids(
    handle: *mut EKO_Handle,
    transform: *const EKO_Transform,
    side: i32,
    pids: *mut i32,
    n_pid: i32,
) -> i32 {
    call(handle, || {
        let (s, owner) = result_side(arg(transform, "transform")?, side)?;
        super::store::copy_out(&s.pids, pids, n_pid, "pids", owner)
    })
}

/// Copies the x grid of the result's `side` (`EKO_SIDE_*`) into `xgrid`, which holds `n_x`
/// elements: exactly the count `EKO_transform_shape` gives (element 1 for the output side, 3
/// for the input side), else `EKO_ERROR_BAD_SHAPE`.
///
/// # Safety
/// `handle`, `transform` NULL or live; `xgrid` NULL or writable for `n_x` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_side_xgrid(
    handle: *mut EKO_Handle,
    transform: *const EKO_Transform,
    side: i32,
    xgrid: *mut f64,
    n_x: i32,
) -> i32 {
    call(handle, || {
        let (s, owner) = result_side(arg(transform, "transform")?, side)?;
        super::store::copy_out(&s.xgrid, xgrid, n_x, "xgrid", owner)
    })
}

/// Checks that arrays with the 4 extents `op_shape` and `out_shape` (in index order, the same
/// for both layouts, as in `EKO_dataset_check_shape`) are the operators the transform takes and
/// makes: `EKO_ERROR_BAD_SHAPE` naming the shapes otherwise. `EKO_transform_apply` sees only
/// lengths; a host that knows its arrays' extents (the Fortran module does) calls this first,
/// so that an array declared with its dimensions in another order is refused.
///
/// # Safety
/// `handle`, `transform` NULL or live; `op_shape`, `out_shape` NULL or readable for 4 values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_transform_check_shapes(
    handle: *mut EKO_Handle,
    transform: *const EKO_Transform,
    op_shape: *const i64,
    out_shape: *const i64,
) -> i32 {
    call(handle, || {
        let t = arg(transform, "transform")?;
        let op_shape = slice(op_shape, 4, "op_shape")?;
        let out_shape = slice(out_shape, 4, "out_shape")?;
        for (name, found, want, verb) in [
            ("op", op_shape, t.transform.source_shape(), "takes"),
            ("out", out_shape, t.transform.shape(), "makes"),
        ] {
            if found.iter().zip(want).any(|(&f, w)| f != w as i64) {
                return Err(Failure::new(
                    EKO_ERROR_BAD_SHAPE,
                    format!(
                        "{name} has shape {found:?}; the transform {verb} operators of shape \
                         {want:?} (n_pid_out, n_x_out, n_pid_in, n_x_in), in that index order"
                    ),
                ));
            }
        }
        Ok(())
    })
}

/// Transforms the operator `op` (`n_op` doubles in `op_layout`, `EKO_LAYOUT_C` or
/// `EKO_LAYOUT_FORTRAN`, of `EKO_transform_source_shape`) into `out` (`n_out` doubles in
/// `out_layout`, of `EKO_transform_shape`): `out[c][i][d][l] = Σ P[c][a] R[i][j] op[a][j][b][k]
/// S[k][l] Q[b][d]` (the output side's rotation P and interpolation R, the input side's S and
/// inverse rotation Q). An operator's error array is transformed by the same call (the same
/// linear map, signed). The values are those of the Rust `Transform::apply`, bit for bit, in
/// either layout.
///
/// Checked before anything is written: the layouts (`EKO_ERROR_INVALID_ARGUMENT`), the lengths
/// (`EKO_ERROR_BAD_SHAPE`), NULL, alignment (`EKO_ERROR_MISALIGNED`), and that `out` does not
/// overlap `op` (`EKO_ERROR_OVERLAPPING`). `op` is only read (a view from `EKO_store_view` will
/// do); `out` must be the host's writable memory. `out` is written only on success.
///
/// # Safety
/// `handle`, `transform` NULL or live; `op` NULL or readable for `n_op` doubles; `out` NULL or
/// writable for `n_out` doubles, used by nothing else during the call.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn EKO_transform_apply(
    handle: *mut EKO_Handle,
    transform: *const EKO_Transform,
    op: *const f64,
    n_op: i64,
    op_layout: i32,
    out: *mut f64,
    n_out: i64,
    out_layout: i32,
) -> i32 {
    call(handle, || {
        let t = arg(transform, "transform")?;
        let op_order = order_of(op_layout, "op_layout")?;
        let out_order = order_of(out_layout, "out_layout")?;
        let (source, result) = (t.transform.source_shape(), t.transform.shape());
        let n_op = host_length(
            n_op,
            "n_op",
            source,
            "the transform takes operators of shape",
        )?;
        let n_out = host_length(
            n_out,
            "n_out",
            result,
            "the transform makes operators of shape",
        )?;
        let input = slice(op, n_op, "op")?;
        let output = slice(out.cast_const(), n_out, "out")?;
        disjoint(input, output, ("op", "out"))?;
        let src = ArrayView4::from_shape(source.set_f(op_order == Order::Fortran), input)
            .expect("length checked");
        // SAFETY: `out` passed `slice` for `n_out` elements, which the caller guarantees
        // writable and unused elsewhere during the call; it does not overlap `op` (checked).
        let dst = unsafe { host_out(out, n_out, result, out_order) };
        t.transform.apply(src, dst)?;
        Ok(())
    })
}
