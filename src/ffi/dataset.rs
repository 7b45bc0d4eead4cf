//! Datasets from C: the `EKO_dataset_*` functions, each a thin wrapper of the safe core
//! [`crate::dataset::Dataset`] (which checks shapes, layouts, overlaps, duplicates and bindings,
//! plans and runs the in-place combine, writes stores and maps store files). This layer turns C
//! arguments into core ones: enum values, ids, and host pointers into array views, checked for
//! NULL, length and alignment before a view is made.

use std::ffi::c_char;
use std::path::Path;
use std::ptr::NonNull;

use ndarray::{ArrayViewMut4, ShapeBuilder};

use super::status::*;
use crate::combine::Kernel;
use crate::dataset::{Attribute, Dataset, HostArray, Slot, threshold_edge};
use crate::npy::Order;
use crate::store::{Edge, EvolutionPoint, FileKind, MatchingScales, Metadata};

/// A buffer holds a final operator (`{q2}.npy` in a store).
pub const EKO_KIND_OPERATOR: i32 = 1;
/// A buffer holds a partial operator (`{q2}.part.npy`): the last segment of a point's path.
pub const EKO_KIND_PARTIAL: i32 = 2;

/// The operator's values.
pub const EKO_ATTRIBUTE_VALUE: i32 = 1;
/// The operator's error (same shape and layout as the values).
pub const EKO_ATTRIBUTE_ERROR: i32 = 2;

/// C order (row-major): element `[a][i][b][j]` of `[pid_out][x_out][pid_in][x_in]` at
/// `((a*n_x + i)*n_pid + b)*n_x + j`.
pub const EKO_LAYOUT_C: i32 = 1;
/// Fortran order (column-major): a Fortran array `op(n_pid, n_x, n_pid, n_x)` indexed
/// `op(pid_out, x_out, pid_in, x_in)`, element `(a, i, b, j)` (0-based) at
/// `a + n_pid*(i + n_x*(b + n_pid*j))`.
pub const EKO_LAYOUT_FORTRAN: i32 = 2;

/// The charm quark (PDG id): matching between nf = 3 and 4.
pub const EKO_QUARK_CHARM: i32 = 4;
/// The bottom quark: matching between nf = 4 and 5.
pub const EKO_QUARK_BOTTOM: i32 = 5;
/// The top quark: matching between nf = 5 and 6.
pub const EKO_QUARK_TOP: i32 = 6;

/// One grid's operators in memory the host owns (or in store files libeko maps for the host).
/// Made by `EKO_dataset_create`, freed by `EKO_dataset_destroy`. Not to be used by two
/// threads at once.
pub struct EKO_Dataset {
    /// The core. Its lifetime is the host's promise: registered memory stays valid, as
    /// `EKO_dataset_add_buffer` documents, for as long as the dataset uses it.
    dataset: Dataset<'static>,
}

/// The threshold element from `from` to `to`: a segment (same nf) or a matching at the scale in
/// `matching` (same mu2, nf one apart).
pub(super) fn edge_between(
    matching: &MatchingScales,
    from: EvolutionPoint,
    to: EvolutionPoint,
) -> Outcome<Edge> {
    Ok(threshold_edge(matching, from, to)?)
}

/// A buffer length no memory can have: negative, or more bytes than an address space holds.
fn check_length(n_elements: i64, what: &str) -> Outcome<()> {
    let fits = usize::try_from(n_elements).is_ok_and(|n| {
        n.checked_mul(std::mem::size_of::<f64>())
            .is_some_and(|bytes| bytes <= isize::MAX as usize)
    });
    if fits {
        Ok(())
    } else {
        Err(Failure::invalid(format!(
            "{what}: n_elements {n_elements} is not a length a buffer can have (negative, or more \
             bytes than the address space)"
        )))
    }
}

/// The view of host memory `data` of `n_elements` doubles holding an operator of the dataset's
/// grid in `layout`, described by `what`: its length and alignment checked before the view is
/// made (the core checks the rest: overlap with registered memory).
///
/// The view's lifetime is the host's promise (every function registering memory documents it):
/// the memory stays valid, and untouched by the host during the calls that use it, for as long
/// as the dataset uses it.
fn host_array(
    ds: &Dataset<'_>,
    data: NonNull<f64>,
    n_elements: i64,
    layout: Order,
    what: &str,
) -> Outcome<HostArray<'static>> {
    check_length(n_elements, what)?;
    let shape = ds.shape();
    let len: usize = shape.iter().product();
    if n_elements != len as i64 {
        return Err(Failure::new(
            EKO_ERROR_BAD_SHAPE,
            format!(
                "{what} has {n_elements} elements; the grid needs {len} ({} x {} x {} x {})",
                shape[0], shape[1], shape[2], shape[3]
            ),
        ));
    }
    let start = data.as_ptr() as usize;
    if !start.is_multiple_of(std::mem::align_of::<f64>()) {
        return Err(Failure::new(
            EKO_ERROR_MISALIGNED,
            format!(
                "{what} at {:p} is not aligned for double ({} bytes)",
                data.as_ptr(),
                std::mem::align_of::<f64>()
            ),
        ));
    }
    if start
        .checked_add(len * std::mem::size_of::<f64>())
        .is_none()
    {
        return Err(Failure::new(
            EKO_ERROR_BAD_SHAPE,
            format!("{what} at {start:#x} wraps around the address space"),
        ));
    }
    // SAFETY: `data` is not NULL and aligned for f64 (checked just above), and the host
    // guarantees `n_elements` = the grid's `len` valid, writable doubles there (the contract of
    // the functions registering memory), which stay valid and are not used by the host during
    // the calls that read or write them, for as long as the dataset uses them ('static stands
    // for that). The view is not read or written before the core has checked it overlaps no
    // other registered memory; a view it refuses is dropped unused.
    let view = unsafe {
        ArrayViewMut4::from_shape_ptr(shape.set_f(layout == Order::Fortran), data.as_ptr())
    };
    Ok(HostArray::Writable(view))
}

/// The memory of a new buffer or attribute: `None` (declared) when `data` is NULL, then
/// `n_elements` is 0 or the grid's length; else the host's memory.
fn memory(
    ds: &Dataset<'_>,
    data: *mut f64,
    n_elements: i64,
    layout: Order,
    what: &str,
) -> Outcome<Option<HostArray<'static>>> {
    let Some(data) = NonNull::new(data) else {
        check_length(n_elements, what)?;
        let len: usize = ds.shape().iter().product();
        // Declared: a length may be given (it must then be right), memory comes later.
        if n_elements != 0 && n_elements != len as i64 {
            return Err(Failure::new(
                EKO_ERROR_BAD_SHAPE,
                format!("{what} is declared with {n_elements} elements; the grid needs {len}"),
            ));
        }
        return Ok(None);
    };
    host_array(ds, data, n_elements, layout, what).map(Some)
}

/// A buffer id from C: the core's index, or the core's refusal naming it.
fn buffer_index(ds: &Dataset<'_>, buffer_id: i32) -> Outcome<usize> {
    Ok(ds.check_id(buffer_id.into())?)
}

/// The memory order of buffer `id`, set when it was added.
fn layout_of(ds: &Dataset<'_>, id: usize) -> Outcome<Order> {
    Ok(ds.layout(id)?.unwrap_or_default())
}

/// A new buffer of `slot` in `layout`, with the memory `data` (NULL: declared), its id out.
fn add(
    ds: &mut Dataset<'static>,
    slot: Slot,
    layout: i32,
    data: *mut f64,
    n_elements: i64,
) -> Outcome<i32> {
    let layout = order_of(layout, "layout")?;
    let id = i32::try_from(ds.buffer_count())
        .map_err(|_| Failure::invalid("the dataset has too many buffers"))?;
    let memory = memory(ds, data, n_elements, layout, &slot.to_string())?;
    let declared = memory.is_none();
    let index = match slot {
        Slot::Point(point, kind) => ds.add_point(point, kind, memory)?,
        Slot::Threshold(edge) => {
            let (from, to) = edge.endpoints();
            ds.add_threshold(from, to, memory)?
        }
    };
    if declared {
        // Memory bound or mapped later takes the layout the host declared.
        ds.set_layout(index, layout)?;
    }
    Ok(id)
}

/// The attribute `EKO_ATTRIBUTE_*` value `attribute` stands for.
fn attribute_of(attribute: i32) -> Outcome<Attribute> {
    Ok(if is_error(attribute)? {
        Attribute::Error
    } else {
        Attribute::Value
    })
}

/// Whether `attribute` is the error (else the value).
pub(super) fn is_error(attribute: i32) -> Outcome<bool> {
    match attribute {
        EKO_ATTRIBUTE_VALUE => Ok(false),
        EKO_ATTRIBUTE_ERROR => Ok(true),
        other => Err(Failure::invalid(format!(
            "attribute {other} is neither EKO_ATTRIBUTE_VALUE ({EKO_ATTRIBUTE_VALUE}) nor \
             EKO_ATTRIBUTE_ERROR ({EKO_ATTRIBUTE_ERROR})"
        ))),
    }
}

/// The matching scale of `quark` in `scales`.
pub(super) fn matching_of(scales: &mut MatchingScales, quark: i32) -> Outcome<&mut Option<f64>> {
    Ok(match lower_nf(quark)? {
        3 => &mut scales.charm,
        4 => &mut scales.bottom,
        _ => &mut scales.top,
    })
}

/// The nf below the matching of `quark`: 3 for charm, 4 for bottom, 5 for top.
fn lower_nf(quark: i32) -> Outcome<u8> {
    match quark {
        EKO_QUARK_CHARM => Ok(3),
        EKO_QUARK_BOTTOM => Ok(4),
        EKO_QUARK_TOP => Ok(5),
        other => Err(Failure::invalid(format!(
            "quark {other} is not EKO_QUARK_CHARM ({EKO_QUARK_CHARM}), EKO_QUARK_BOTTOM \
             ({EKO_QUARK_BOTTOM}) or EKO_QUARK_TOP ({EKO_QUARK_TOP})"
        ))),
    }
}

/// The memory order `EKO_LAYOUT_*` value `layout` (the argument `name`) stands for.
pub(super) fn order_of(layout: i32, name: &str) -> Outcome<Order> {
    match layout {
        EKO_LAYOUT_C => Ok(Order::C),
        EKO_LAYOUT_FORTRAN => Ok(Order::Fortran),
        other => Err(Failure::invalid(format!(
            "{name} {other} is neither EKO_LAYOUT_C ({EKO_LAYOUT_C}) nor EKO_LAYOUT_FORTRAN \
             ({EKO_LAYOUT_FORTRAN})"
        ))),
    }
}

/// A kernel on `threads` threads, 0 meaning one per core.
pub(super) fn kernel(threads: i32) -> Outcome<Kernel> {
    Ok(match count(threads.into(), "threads", true)? {
        0 => Kernel::all_threads(),
        n => Kernel::new(n),
    })
}

/// An evolution point from C arguments.
pub(super) fn point(mu2: f64, nf: i32) -> Outcome<EvolutionPoint> {
    let nf = u8::try_from(nf)
        .map_err(|_| Failure::invalid(format!("nf={nf} is not a number of flavours (0..6)")))?;
    Ok(EvolutionPoint::new(mu2, nf)?)
}

/// A point buffer's kind from `EKO_KIND_*`.
pub(super) fn kind(kind: i32) -> Outcome<FileKind> {
    match kind {
        EKO_KIND_OPERATOR => Ok(FileKind::Operator),
        EKO_KIND_PARTIAL => Ok(FileKind::Partial),
        other => Err(Failure::invalid(format!(
            "kind {other} is neither EKO_KIND_OPERATOR ({EKO_KIND_OPERATOR}) nor \
             EKO_KIND_PARTIAL ({EKO_KIND_PARTIAL})"
        ))),
    }
}

/// Creates a dataset for one grid: `n_pid` flavour ids `pids` (PDG ids, distinct), `n_x`
/// x values `xgrid` (strictly increasing in (0, 1]), and the origin of every evolution
/// (`origin_mu2` in GeV², `origin_nf`). Matching scales are set with
/// `EKO_dataset_set_matching`. Arrays are copied; the caller keeps ownership.
///
/// On success `*dataset` receives the new dataset (free it with `EKO_dataset_destroy`); on
/// failure it is not written.
///
/// # Safety
/// `handle` is NULL or a live handle; `pids` and `xgrid` point to `n_pid` and `n_x` readable
/// elements; `dataset` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_create(
    handle: *mut EKO_Handle,
    n_pid: i32,
    pids: *const i32,
    n_x: i32,
    xgrid: *const f64,
    origin_mu2: f64,
    origin_nf: i32,
    dataset: *mut *mut EKO_Dataset,
) -> i32 {
    call(handle, || {
        let out_ptr = out(dataset, "dataset")?;
        let pids = slice(pids, count(n_pid.into(), "n_pid", false)?, "pids")?;
        let xgrid = slice(xgrid, count(n_x.into(), "n_x", false)?, "xgrid")?;
        let metadata = Metadata::new(
            point(origin_mu2, origin_nf)?,
            xgrid.to_vec(),
            pids.to_vec(),
            MatchingScales::default(),
        );
        let dataset = Box::new(EKO_Dataset {
            dataset: Dataset::new(metadata)?,
        });
        put(out_ptr, Box::into_raw(dataset));
        Ok(())
    })
}

/// Frees a dataset; NULL is accepted. The host's buffers are not touched. Store files mapped
/// for the host and not committed are removed; pointers to them become invalid.
///
/// # Safety
/// `dataset` is NULL or a live dataset, used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_destroy(dataset: *mut EKO_Dataset) {
    // SAFETY: a pointer from EKO_dataset_create (a Box), not yet destroyed. Dropping cannot
    // panic: it unmaps and removes temporary files, ignoring failures.
    unsafe { free_boxed(dataset) }
}

/// Sets the matching scale of `quark` (`EKO_QUARK_CHARM`, `_BOTTOM`, `_TOP`) to `mu2` (GeV²).
/// Only before any buffer is added and before a store is attached.
///
/// # Safety
/// `handle` and `dataset` are NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_set_matching(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    quark: i32,
    mu2: f64,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        // A fixed grid is refused whatever the quark: the core says why.
        let lower_nf = if ds.grid_is_open() {
            lower_nf(quark)?
        } else {
            3
        };
        Ok(ds.set_matching(lower_nf, mu2)?)
    })
}

/// Sets the interpolation the host computed its operators with: piecewise Lagrange polynomials
/// of `degree` (at least 1) in ln x when `is_log` is nonzero, else in x (eko's operator card
/// `interpolation_polynomial_degree`, `interpolation_is_log`). The default is eko's: degree 4 in
/// ln x. It is recorded in the store's metadata and used to reinterpolate its operators. Only
/// before any buffer is added and before a store is attached.
///
/// # Safety
/// `handle` and `dataset` are NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_set_interpolation(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    degree: i32,
    is_log: i32,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        // A fixed grid is refused whatever the degree: the core says why.
        let polynomial_degree = match u32::try_from(degree) {
            Ok(d) => d,
            Err(_) if ds.grid_is_open() => {
                return Err(Failure::invalid(format!(
                    "degree is {degree}; the interpolation's polynomial degree is at least 1"
                )));
            }
            Err(_) => 0,
        };
        Ok(ds.set_interpolation(polynomial_degree, is_log != 0)?)
    })
}

/// Adds a buffer for evolution point (`mu2`, `nf`) of `kind` (`EKO_KIND_OPERATOR` or
/// `EKO_KIND_PARTIAL`), in `layout` (`EKO_LAYOUT_C` or `EKO_LAYOUT_FORTRAN`).
///
/// `data` is the host's memory of `n_elements` doubles (the grid's n_pid² n_x²): checked for
/// length, alignment and overlap with every memory already in the dataset; never copied, never
/// freed. libeko reads a buffer's memory only inside `EKO_dataset_combine` (which also writes
/// into point buffers) and `EKO_dataset_write_store`; other calls compare addresses only. So the
/// memory must stay valid, untouched by the host during those two calls, until the last of them
/// the host makes on this dataset: after a combine the host may free its threshold buffers (and
/// any other) if it will not call `EKO_dataset_combine` or `EKO_dataset_write_store` on this
/// dataset again, and destroy the dataset later.
///
/// `data` NULL declares the buffer: the point exists, its memory comes later
/// (`EKO_dataset_bind`, or `EKO_dataset_map` with a store attached); `n_elements` is then 0 or
/// the grid's length.
///
/// On success `*buffer_id` receives the buffer's id (0, 1, ... in order of addition). On failure
/// the dataset is unchanged.
///
/// # Safety
/// `handle`, `dataset` NULL or live; `data` NULL or valid for `n_elements` doubles as above;
/// `buffer_id` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_add_buffer(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    kind: i32,
    mu2: f64,
    nf: i32,
    layout: i32,
    data: *mut f64,
    n_elements: i64,
    buffer_id: *mut i32,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        let id_out = out(buffer_id, "buffer_id")?;
        let slot = Slot::Point(point(mu2, nf)?, self::kind(kind)?);
        let id = add(ds, slot, layout, data, n_elements)?;
        put(id_out, id);
        Ok(())
    })
}

/// Checks that an array with the 4 extents `shape` (in index order, the same for
/// `EKO_LAYOUT_C`, `double op[n_pid][n_x][n_pid][n_x]`, and `EKO_LAYOUT_FORTRAN`,
/// `op(n_pid, n_x, n_pid, n_x)`) is an operator of the dataset's grid: `EKO_ERROR_BAD_SHAPE`
/// naming both shapes otherwise. The add and bind functions see only a length; a host that
/// knows its array's extents (the Fortran module does) calls this first, so that an array
/// declared with its dimensions in another order is refused (unless n_pid equals n_x).
///
/// # Safety
/// `handle`, `dataset` NULL or live; `shape` NULL or readable for 4 values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_check_shape(
    handle: *mut EKO_Handle,
    dataset: *const EKO_Dataset,
    shape: *const i64,
    layout: i32,
) -> i32 {
    call(handle, || {
        let ds = &arg(dataset, "dataset")?.dataset;
        let shape = slice(shape, 4, "shape")?;
        order_of(layout, "layout")?;
        let expected: Vec<i64> = ds.shape().iter().map(|&n| n as i64).collect();
        if shape != expected.as_slice() {
            return Err(Failure::new(
                EKO_ERROR_BAD_SHAPE,
                format!(
                    "an array of shape {shape:?} is not an operator of the dataset's grid: \
                     (n_pid, n_x, n_pid, n_x) = {expected:?} is needed, in that index order"
                ),
            ));
        }
        Ok(())
    })
}

/// Adds a buffer for the threshold element from (`from_mu2`, `from_nf`) to (`to_mu2`, `to_nf`):
/// an evolution segment when the nf are equal, a matching when the mu2 are equal (the dataset's
/// matching scale) and the nf differ by one (an inverse matching when nf decreases).
/// `EKO_dataset_threshold` lists the elements the dataset's partials need.
///
/// Memory, layout, NULL, `n_elements` and `buffer_id` as in `EKO_dataset_add_buffer`. libeko
/// never writes into threshold buffers.
///
/// # Safety
/// As `EKO_dataset_add_buffer`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_add_threshold(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    from_mu2: f64,
    from_nf: i32,
    to_mu2: f64,
    to_nf: i32,
    layout: i32,
    data: *mut f64,
    n_elements: i64,
    buffer_id: *mut i32,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        let id_out = out(buffer_id, "buffer_id")?;
        let edge = edge_between(
            &ds.metadata().matching,
            point(from_mu2, from_nf)?,
            point(to_mu2, to_nf)?,
        )?;
        let id = add(ds, Slot::Threshold(edge), layout, data, n_elements)?;
        put(id_out, id);
        Ok(())
    })
}

/// Adds an attribute buffer to buffer `buffer_id`: `attribute` is `EKO_ATTRIBUTE_ERROR`, the
/// integration error, same shape and layout as the values (the values themselves come with
/// `EKO_dataset_add_buffer`: `EKO_ATTRIBUTE_VALUE` here is `EKO_ERROR_DUPLICATE`). An operator
/// without an error is normal; one with an error gets its error propagated by combine. `data`
/// NULL declares the attribute (memory comes later, with `EKO_dataset_bind`). Memory rules as in
/// `EKO_dataset_add_buffer`.
///
/// # Safety
/// As `EKO_dataset_add_buffer`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_add_attribute_buffer(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    buffer_id: i32,
    attribute: i32,
    data: *mut f64,
    n_elements: i64,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        let attribute = attribute_of(attribute)?;
        let id = buffer_index(ds, buffer_id)?;
        let what = ds.describe(id, attribute)?;
        if attribute == Attribute::Value {
            return Err(Failure::new(
                EKO_ERROR_DUPLICATE,
                format!(
                    "{what} was added with the buffer by EKO_dataset_add_buffer (give memory to a \
                     declared one with EKO_dataset_bind)"
                ),
            ));
        }
        let memory = memory(ds, data, n_elements, layout_of(ds, id)?, &what)?;
        Ok(ds.add_error(id, memory)?)
    })
}

/// Binds host memory to an attribute (`EKO_ATTRIBUTE_VALUE` or `EKO_ATTRIBUTE_ERROR`) declared
/// without memory. `data` must not be NULL; checks and rules as in `EKO_dataset_add_buffer`.
/// Binding an attribute that has memory fails with `EKO_ERROR_ALREADY_BOUND`.
///
/// # Safety
/// As `EKO_dataset_add_buffer`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_bind(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    buffer_id: i32,
    attribute: i32,
    data: *mut f64,
    n_elements: i64,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        let attribute = attribute_of(attribute)?;
        let id = buffer_index(ds, buffer_id)?;
        let what = ds.describe(id, attribute)?;
        let data = NonNull::new(data).ok_or_else(|| Failure::null(&what))?;
        let memory = host_array(ds, data, n_elements, layout_of(ds, id)?, &what)?;
        Ok(ds.bind(id, attribute, memory)?)
    })
}

/// The number of threshold elements the dataset's partials need (each listed once), whether or
/// not the dataset has them. Fails with `EKO_ERROR_NO_PATH` if a partial's nf cannot be reached.
///
/// # Safety
/// `handle`, `dataset` NULL or live; `count` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_threshold_count(
    handle: *mut EKO_Handle,
    dataset: *const EKO_Dataset,
    count: *mut i32,
) -> i32 {
    call(handle, || {
        let ds = &arg(dataset, "dataset")?.dataset;
        let out_ptr = out(count, "count")?;
        let n = ds.needed_thresholds()?.len();
        put(out_ptr, i32::try_from(n).unwrap_or(i32::MAX));
        Ok(())
    })
}

/// The threshold element `index` (0 ≤ index < `EKO_dataset_threshold_count`) the dataset's
/// partials need: it goes from (`*from_mu2`, `*from_nf`) to (`*to_mu2`, `*to_nf`), the
/// arguments `EKO_dataset_add_threshold` takes. Ordered by their starting point (mu2, then nf),
/// then their end point.
///
/// # Safety
/// `handle`, `dataset` NULL or live; out-parameters NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_threshold(
    handle: *mut EKO_Handle,
    dataset: *const EKO_Dataset,
    index: i32,
    from_mu2: *mut f64,
    from_nf: *mut i32,
    to_mu2: *mut f64,
    to_nf: *mut i32,
) -> i32 {
    call(handle, || {
        let ds = &arg(dataset, "dataset")?.dataset;
        let outs = (
            out(from_mu2, "from_mu2")?,
            out(from_nf, "from_nf")?,
            out(to_mu2, "to_mu2")?,
            out(to_nf, "to_nf")?,
        );
        let edges = ds.needed_thresholds()?;
        let edge = usize::try_from(index)
            .ok()
            .and_then(|i| edges.get(i))
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "index {index} is not below the {} threshold elements needed",
                    edges.len()
                ))
            })?;
        let (from, to) = edge.endpoints();
        put(outs.0, from.mu2);
        put(outs.1, i32::from(from.nf));
        put(outs.2, to.mu2);
        put(outs.3, i32::from(to.nf));
        Ok(())
    })
}

/// Combines every partial of the dataset with the threshold elements on its path (eko's product
/// and error propagation, as the store's combine), using `threads` threads (0: one per core).
///
/// Where the dataset has a final buffer (`EKO_KIND_OPERATOR`) for the partial's point, the final
/// is written there (its error too, if it has an error attribute) and the partial is released:
/// its id is no longer valid, its memory no longer used. Otherwise the final is written in place
/// into the partial's own memory (scratch: a few row blocks per thread), which becomes the
/// point's final operator; its error attribute is overwritten with the final's error when every
/// factor has one, and dropped from the dataset otherwise. Points crossing no threshold are
/// copied (or relabelled, in place).
///
/// Everything is checked before anything is written: unbound memory (`EKO_ERROR_UNBOUND`), a
/// missing threshold element (`EKO_ERROR_MISSING_THRESHOLD`), a point beyond the matching
/// scales (`EKO_ERROR_NO_PATH`), a final error that cannot be computed
/// (`EKO_ERROR_MISSING_ERROR`), a store file as destination (`EKO_ERROR_READ_ONLY`). On failure
/// the dataset and its memory are unchanged.
///
/// # Safety
/// `handle`, `dataset` NULL or live; every registered host memory valid as documented in
/// `EKO_dataset_add_buffer`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_combine(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    threads: i32,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        Ok(ds.combine(&kernel(threads)?)?)
    })
}

/// Writes the dataset into the store in directory `dir` (NUL-terminated UTF-8): created with the
/// dataset's grid if missing or empty, else it must have the same grid
/// (`EKO_ERROR_INCOMPATIBLE`). Threshold buffers become `thresholds.npz` (replacing the
/// store's), point buffers `{mu2}_nf{nf}.npy` or `.part.npy` with their errors, replacing what
/// the point had. Point files keep their buffer's layout (C or Fortran order); threshold
/// elements are stored in C order. Each file appears atomically; a failure part
/// way leaves the files written so far. Every buffer must have memory (`EKO_ERROR_UNBOUND`,
/// checked before anything is written). Buffers committed into `dir` itself are skipped.
///
/// # Safety
/// `handle`, `dataset` NULL or live; `dir` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_write_store(
    handle: *mut EKO_Handle,
    dataset: *const EKO_Dataset,
    dir: *const c_char,
) -> i32 {
    call(handle, || {
        let ds = &arg(dataset, "dataset")?.dataset;
        let dir = text(dir, "dir")?;
        ds.write_store(Path::new(dir))?;
        Ok(())
    })
}

/// Attaches the dataset to the store in `dir` (created with the dataset's grid if missing or
/// empty, else it must have the same grid). Then `EKO_dataset_map` can create store files for
/// declared buffers. A dataset is attached once (`EKO_ERROR_ALREADY_BOUND`).
///
/// # Safety
/// `handle`, `dataset` NULL or live; `dir` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_attach_store(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    dir: *const c_char,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        let dir = text(dir, "dir")?;
        Ok(ds.attach_store(Path::new(dir))?)
    })
}

/// Creates, in the attached store, the file for a declared attribute of a point buffer (its
/// `.npy`, or `.error.npy` for `EKO_ATTRIBUTE_ERROR`), zero-filled, in the buffer's layout, under
/// a temporary name, maps it, and binds it: `*data` receives the pointer to fill (valid until
/// the dataset is destroyed). `EKO_dataset_commit` puts the files in place atomically.
///
/// Fails with `EKO_ERROR_NOT_FOUND` without an attached store, `EKO_ERROR_ALREADY_BOUND` if the
/// attribute has memory, `EKO_ERROR_INVALID_ARGUMENT` for a threshold buffer (threshold
/// elements are written together as `thresholds.npz` by `EKO_dataset_write_store`).
///
/// # Safety
/// `handle`, `dataset` NULL or live; `data` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_map(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    buffer_id: i32,
    attribute: i32,
    data: *mut *mut f64,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        let data_out = out(data, "data")?;
        let attribute = attribute_of(attribute)?;
        let id = buffer_index(ds, buffer_id)?;
        let ptr = ds.map(id, attribute)?;
        put(data_out, ptr.as_ptr());
        Ok(())
    })
}

/// Commits the mapped files of buffer `buffer_id` (its values and, if it has one, its error,
/// which must be mapped too) into the attached store: synced, then renamed into place under the
/// store lock, error first, replacing what the point had. The pointers stay valid for reading
/// until the dataset is destroyed; writing through them afterwards faults. If the commit fails
/// (`EKO_ERROR_IO`), the temporary files are removed and the attributes are declared again
/// (unbound; the old pointers are invalid): map and fill them again.
///
/// # Safety
/// `handle`, `dataset` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn EKO_dataset_commit(
    handle: *mut EKO_Handle,
    dataset: *mut EKO_Dataset,
    buffer_id: i32,
) -> i32 {
    call(handle, || {
        let ds = &mut arg_mut(dataset, "dataset")?.dataset;
        let id = buffer_index(ds, buffer_id)?;
        Ok(ds.commit(id)?)
    })
}
