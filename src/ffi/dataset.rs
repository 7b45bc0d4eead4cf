//! Datasets: a host's buffers for one grid, registered per evolution point (final operators and
//! partials) and per threshold element, each with an optional error attribute; combined in
//! place; written out as a store; or filled through files a store maps for the host.

use std::collections::{BTreeMap, HashMap};
use std::ffi::c_char;
use std::ptr::NonNull;

use memmap2::Mmap;
use ndarray::{ArrayView4, ArrayViewMut4, CowArray, Ix4, ShapeBuilder};

use super::status::*;
use crate::combine::{
    Chain, Kernel, PointProduct, Shared, Target, ThresholdOperators, chain_group, multiply_point,
};
use crate::error::{Error, Location, Result};
use crate::npy::{ErrorRecord, NpyFileMut, Order};
use crate::store::{
    Edge, EvolutionPath, EvolutionPoint, FileKind, Matching, MatchingScales, Metadata, Segment,
    Store,
};

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
    metadata: Metadata,
    shape: [usize; 4],
    len: usize,
    buffers: Vec<Buffer>,
    store: Option<Store>,
}

/// What a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Point(EvolutionPoint, FileKind),
    Threshold(Edge),
    /// A partial that combine wrote into a separate final buffer: no longer part of the dataset.
    Released,
}

struct Buffer {
    slot: Slot,
    layout: Order,
    value: Memory,
    error: Option<Memory>,
}

/// Where an attribute's elements are.
enum Memory {
    /// Declared; memory comes later.
    Unbound,
    /// The host's memory (never copied, never freed by libeko).
    Host(NonNull<f64>),
    /// A new store file, mapped writable for the host to fill, not yet committed.
    Mapped(NpyFileMut<f64>, NonNull<f64>),
    /// A committed store file, still mapped (read-only) at the address the host was given.
    Committed {
        /// Keeps the pages mapped.
        _map: Mmap,
        ptr: NonNull<f64>,
    },
}

impl Memory {
    fn ptr(&self) -> Option<NonNull<f64>> {
        match self {
            Memory::Unbound => None,
            Memory::Host(p) | Memory::Mapped(_, p) | Memory::Committed { ptr: p, .. } => Some(*p),
        }
    }

    fn is_host(&self) -> bool {
        matches!(self, Memory::Host(_))
    }
}

impl Slot {
    fn describe(&self) -> String {
        match self {
            Slot::Point(p, FileKind::Partial) => format!("the partial of {p}"),
            Slot::Point(p, _) => format!("the final operator of {p}"),
            Slot::Threshold(e) => format!("the threshold operator {e}"),
            Slot::Released => "a released partial".to_string(),
        }
    }
}

fn attribute_name(error: bool) -> &'static str {
    if error { "error" } else { "value" }
}

impl EKO_Dataset {
    fn buffer(&self, id: i32) -> Outcome<&Buffer> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.buffers.get(i))
            .filter(|b| b.slot != Slot::Released)
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "buffer id {id} is not a buffer of this dataset (ids are 0..{}{})",
                    self.buffers.len(),
                    if self.buffers.iter().any(|b| b.slot == Slot::Released) {
                        "; partials combined into a separate final buffer are released"
                    } else {
                        ""
                    }
                ))
            })
    }

    fn describe(&self, id: usize, error: bool) -> String {
        format!(
            "buffer {id} ({}, {})",
            self.buffers[id].slot.describe(),
            attribute_name(error)
        )
    }

    /// Checks host memory for a new attribute: alignment, length, overlap with every bound
    /// attribute of the dataset.
    fn check_memory(&self, data: *mut f64, n_elements: i64, what: &str) -> Outcome<NonNull<f64>> {
        let Some(ptr) = NonNull::new(data) else {
            return Err(Failure::null(what));
        };
        check_length(n_elements, what)?;
        if n_elements != self.len as i64 {
            return Err(Failure::new(
                EKO_ERROR_BAD_SHAPE,
                format!(
                    "{what} has {n_elements} elements; the grid needs {} ({} x {} x {} x {})",
                    self.len, self.shape[0], self.shape[1], self.shape[2], self.shape[3]
                ),
            ));
        }
        if !(ptr.as_ptr() as usize).is_multiple_of(std::mem::align_of::<f64>()) {
            return Err(Failure::new(
                EKO_ERROR_MISALIGNED,
                format!(
                    "{what} at {:p} is not aligned for double ({} bytes)",
                    ptr.as_ptr(),
                    std::mem::align_of::<f64>()
                ),
            ));
        }
        let bytes = self.len * std::mem::size_of::<f64>();
        let start = ptr.as_ptr() as usize;
        let Some(end) = start.checked_add(bytes) else {
            return Err(Failure::new(
                EKO_ERROR_BAD_SHAPE,
                format!("{what} at {start:#x} wraps around the address space"),
            ));
        };
        for (i, b) in self.buffers.iter().enumerate() {
            for (error, memory) in
                std::iter::once((false, &b.value)).chain(b.error.iter().map(|e| (true, e)))
            {
                let Some(other) = memory.ptr() else { continue };
                let o_start = other.as_ptr() as usize;
                if start < o_start + bytes && o_start < end {
                    return Err(Failure::new(
                        EKO_ERROR_OVERLAPPING,
                        format!(
                            "{what} [{start:#x}, {end:#x}) overlaps {} [{o_start:#x}, {:#x})",
                            self.describe(i, error),
                            o_start + bytes
                        ),
                    ));
                }
            }
        }
        Ok(ptr)
    }

    fn memory(&self, data: *mut f64, n_elements: i64, what: &str) -> Outcome<Memory> {
        if data.is_null() {
            check_length(n_elements, what)?;
            // Declared: a length may be given (it must then be right), memory comes later.
            if n_elements != 0 && n_elements != self.len as i64 {
                return Err(Failure::new(
                    EKO_ERROR_BAD_SHAPE,
                    format!(
                        "{what} is declared with {n_elements} elements; the grid needs {}",
                        self.len
                    ),
                ));
            }
            return Ok(Memory::Unbound);
        }
        self.check_memory(data, n_elements, what).map(Memory::Host)
    }

    fn add(&mut self, slot: Slot, layout: i32, data: *mut f64, n_elements: i64) -> Outcome<i32> {
        let layout = order_of(layout, "layout")?;
        if let Some(id) = self.buffers.iter().position(|b| b.slot == slot) {
            return Err(Failure::new(
                EKO_ERROR_DUPLICATE,
                format!("the dataset already has {} (buffer {id})", slot.describe()),
            ));
        }
        let id = i32::try_from(self.buffers.len())
            .map_err(|_| Failure::invalid("the dataset has too many buffers"))?;
        let value = self.memory(data, n_elements, &slot.describe())?;
        self.buffers.push(Buffer {
            slot,
            layout,
            value,
            error: None,
        });
        Ok(id)
    }

    /// The attribute `attribute` of buffer `id`: its memory slot, and whether it is the error.
    fn attribute(&mut self, id: i32, attribute: i32) -> Outcome<(&mut Memory, String)> {
        let error = is_error(attribute)?;
        self.buffer(id)?;
        let what = self.describe(id as usize, error);
        let buffer = &mut self.buffers[id as usize];
        let memory = if error {
            buffer.error.as_mut().ok_or_else(|| {
                Failure::new(
                    EKO_ERROR_NOT_FOUND,
                    format!(
                        "{what}: no error attribute was added (EKO_dataset_add_attribute_buffer)"
                    ),
                )
            })?
        } else {
            &mut buffer.value
        };
        Ok((memory, what))
    }
}

/// The threshold element from `from` to `to`: a segment (same nf) or a matching at the scale in
/// `matching` (same mu2, nf one apart).
pub(super) fn edge_between(
    matching: &MatchingScales,
    from: EvolutionPoint,
    to: EvolutionPoint,
) -> Outcome<Edge> {
    let edge = if from.nf == to.nf {
        if from.mu2 == to.mu2 {
            return Err(Failure::invalid(format!(
                "a threshold element from {from} to {to} has no length"
            )));
        }
        Edge::Segment(Segment {
            origin: from.mu2,
            target: to.mu2,
            nf: from.nf,
        })
    } else if from.mu2 == to.mu2 && from.nf.abs_diff(to.nf) == 1 {
        let lower = from.nf.min(to.nf);
        let scale = match lower {
            3 => matching.charm,
            4 => matching.bottom,
            5 => matching.top,
            _ => None,
        };
        if scale != Some(from.mu2) {
            return Err(Failure::invalid(format!(
                "a matching from {from} to {to} needs the matching scale between nf={lower} \
                     and nf={} at mu2={}, but the dataset's is {}",
                lower + 1,
                from.mu2,
                scale.map_or("not set".to_string(), |s| format!("mu2={s}"))
            )));
        }
        Edge::Matching(Matching {
            scale: from.mu2,
            from_nf: from.nf,
            to_nf: to.nf,
        })
    } else {
        return Err(Failure::invalid(format!(
            "no threshold element goes from {from} to {to}: a segment keeps nf, a matching \
                 keeps mu2 and changes nf by one"
        )));
    };
    Ok(edge)
}

impl EKO_Dataset {
    /// A read-only view of bound memory.
    fn view(&self, memory: &Memory, layout: Order) -> Option<ArrayView4<'_, f64>> {
        let ptr = memory.ptr()?;
        let shape = self.shape.set_f(layout == Order::Fortran);
        // SAFETY: `ptr` is host memory checked on registration (aligned, `len` elements, not
        // overlapping any other registered memory; the host keeps it valid and does not write it
        // during calls on the dataset, as documented), or a live map of a file of exactly that
        // shape and layout owned by the dataset. The view borrows the dataset.
        Some(unsafe { ArrayView4::from_shape_ptr(shape, ptr.as_ptr()) })
    }

    /// The edges the dataset's partials need, in order.
    fn needed_edges(&self) -> Outcome<Vec<Edge>> {
        let mut edges = std::collections::BTreeSet::new();
        for b in &self.buffers {
            if let Slot::Point(point, FileKind::Partial) = b.slot {
                let path =
                    EvolutionPath::new(self.metadata.origin, &self.metadata.matching, point)?;
                edges.extend(path.thresholds);
            }
        }
        Ok(edges.into_iter().collect())
    }
}

/// A mutable view of host memory.
///
/// # Safety
/// `ptr` is host memory registered in a dataset (checked: aligned, the grid's length, disjoint
/// from every other registered memory) and no other view of it is alive.
unsafe fn view_mut<'a>(
    ptr: NonNull<f64>,
    shape: [usize; 4],
    layout: Order,
) -> ArrayViewMut4<'a, f64> {
    let shape = shape.set_f(layout == Order::Fortran);
    // SAFETY: forwarded from the caller.
    unsafe { ArrayViewMut4::from_shape_ptr(shape, ptr.as_ptr()) }
}

/// Checks a dataset's grid: a bad grid is the caller's argument, not a store's metadata.
fn validate(metadata: &Metadata) -> Outcome<()> {
    metadata
        .validate(&Location::Buffer("the dataset's grid".into()))
        .map_err(|e| Failure::invalid(e.to_string()))
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
    match quark {
        EKO_QUARK_CHARM => Ok(&mut scales.charm),
        EKO_QUARK_BOTTOM => Ok(&mut scales.bottom),
        EKO_QUARK_TOP => Ok(&mut scales.top),
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
        validate(&metadata)?;
        let shape = metadata.operator_shape();
        // One operator must fit in the address space: its bytes, not only its element count.
        let len = shape
            .iter()
            .try_fold(1usize, |a, &n| a.checked_mul(n))
            .filter(|&n| {
                n.checked_mul(std::mem::size_of::<f64>())
                    .is_some_and(|bytes| bytes <= isize::MAX as usize)
            })
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "the grid's operator ({n_pid} x {n_x} x {n_pid} x {n_x} doubles) is larger \
                     than the address space"
                ))
            })?;
        let dataset = Box::new(EKO_Dataset {
            metadata,
            shape,
            len,
            buffers: Vec::new(),
            store: None,
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
        let ds = arg_mut(dataset, "dataset")?;
        if !ds.buffers.is_empty() || ds.store.is_some() {
            return Err(Failure::invalid(
                "matching scales are set before any buffer is added or a store attached",
            ));
        }
        let mut matching = ds.metadata.matching;
        *matching_of(&mut matching, quark)? = Some(mu2);
        let mut metadata = ds.metadata.clone();
        metadata.matching = matching;
        validate(&metadata)?;
        ds.metadata = metadata;
        Ok(())
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
        let ds = arg_mut(dataset, "dataset")?;
        if !ds.buffers.is_empty() || ds.store.is_some() {
            return Err(Failure::invalid(
                "the interpolation is set before any buffer is added or a store attached",
            ));
        }
        let polynomial_degree =
            u32::try_from(degree)
                .ok()
                .filter(|d| *d >= 1)
                .ok_or_else(|| {
                    Failure::invalid(format!(
                        "degree is {degree}; the interpolation's polynomial degree is at least 1"
                    ))
                })?;
        ds.metadata.interpolation = Some(crate::store::Interpolation {
            polynomial_degree,
            log: is_log != 0,
        });
        Ok(())
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
        let ds = arg_mut(dataset, "dataset")?;
        let id_out = out(buffer_id, "buffer_id")?;
        let slot = Slot::Point(point(mu2, nf)?, self::kind(kind)?);
        let id = ds.add(slot, layout, data, n_elements)?;
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
        let ds = arg(dataset, "dataset")?;
        let shape = slice(shape, 4, "shape")?;
        order_of(layout, "layout")?;
        let expected: Vec<i64> = ds.shape.iter().map(|&n| n as i64).collect();
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
        let ds = arg_mut(dataset, "dataset")?;
        let id_out = out(buffer_id, "buffer_id")?;
        let edge = edge_between(
            &ds.metadata.matching,
            point(from_mu2, from_nf)?,
            point(to_mu2, to_nf)?,
        )?;
        let id = ds.add(Slot::Threshold(edge), layout, data, n_elements)?;
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
        let ds = arg_mut(dataset, "dataset")?;
        let error = is_error(attribute)?;
        let what = ds
            .buffer(buffer_id)
            .map(|_| ds.describe(buffer_id as usize, error))?;
        if !error {
            return Err(Failure::new(
                EKO_ERROR_DUPLICATE,
                format!(
                    "{what} was added with the buffer by EKO_dataset_add_buffer (give memory to a \
                     declared one with EKO_dataset_bind)"
                ),
            ));
        }
        if ds.buffers[buffer_id as usize].error.is_some() {
            return Err(Failure::new(
                EKO_ERROR_DUPLICATE,
                format!("{what} was already added"),
            ));
        }
        let memory = ds.memory(data, n_elements, &what)?;
        ds.buffers[buffer_id as usize].error = Some(memory);
        Ok(())
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
        let ds = arg_mut(dataset, "dataset")?;
        let (memory, what) = ds.attribute(buffer_id, attribute)?;
        if !matches!(memory, Memory::Unbound) {
            return Err(Failure::new(
                EKO_ERROR_ALREADY_BOUND,
                format!("{what} already has memory"),
            ));
        }
        let ptr = ds.check_memory(data, n_elements, &what)?;
        let (memory, _) = ds.attribute(buffer_id, attribute)?;
        *memory = Memory::Host(ptr);
        Ok(())
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
        let ds = arg(dataset, "dataset")?;
        let out_ptr = out(count, "count")?;
        let n = ds.needed_edges()?.len();
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
        let ds = arg(dataset, "dataset")?;
        let outs = (
            out(from_mu2, "from_mu2")?,
            out(from_nf, "from_nf")?,
            out(to_mu2, "to_mu2")?,
            out(to_nf, "to_nf")?,
        );
        let edges = ds.needed_edges()?;
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

/// One partial to combine, validated.
struct Job {
    point: EvolutionPoint,
    path: EvolutionPath,
    partial: usize,
    /// A separate final buffer, or `None`: in place into the partial.
    dest: Option<usize>,
    /// Whether the final's error is computed.
    with_error: bool,
}

struct HostThresholds<'a> {
    edges: HashMap<Edge, (ArrayView4<'a, f64>, Option<ArrayView4<'a, f64>>)>,
}

impl ThresholdOperators for HostThresholds<'_> {
    fn operator(&self, edge: &Edge) -> Result<CowArray<'_, f64, Ix4>> {
        self.edges
            .get(edge)
            .map(|(v, _)| CowArray::from(v.view()))
            .ok_or_else(|| Error::InvalidArgument {
                reason: format!("no buffer for {edge}"),
            })
    }
    fn error(&self, edge: &Edge) -> Result<Option<CowArray<'_, f64, Ix4>>> {
        Ok(self
            .edges
            .get(edge)
            .and_then(|(_, e)| e.as_ref().map(|e| CowArray::from(e.view()))))
    }
}

impl EKO_Dataset {
    fn bound(&self, id: usize, error: bool) -> Outcome<bool> {
        let b = &self.buffers[id];
        let memory = if error {
            b.error.as_ref()
        } else {
            Some(&b.value)
        };
        match memory {
            None => Ok(false),
            Some(Memory::Unbound) => Err(Failure::new(
                EKO_ERROR_UNBOUND,
                format!(
                    "{} was declared without memory and is not bound \
                     (EKO_dataset_bind, or EKO_dataset_map with a store)",
                    self.describe(id, error)
                ),
            )),
            Some(_) => Ok(true),
        }
    }

    fn writable(&self, id: usize, error: bool, step: &str) -> Outcome<()> {
        let b = &self.buffers[id];
        let memory = if error {
            b.error.as_ref()
        } else {
            Some(&b.value)
        };
        if memory.is_some_and(|m| !m.is_host()) {
            return Err(Failure::new(
                EKO_ERROR_READ_ONLY,
                format!(
                    "{} is a store file mapped by libeko, which {step} does not write; \
                     add a final buffer in host memory for it, or combine the store",
                    self.describe(id, error)
                ),
            ));
        }
        Ok(())
    }

    /// Every check of combine, before anything is written.
    fn plan(&self) -> Outcome<(Vec<Job>, HashMap<Edge, usize>)> {
        let mut finals: BTreeMap<EvolutionPoint, usize> = BTreeMap::new();
        let mut thresholds: HashMap<Edge, usize> = HashMap::new();
        for (i, b) in self.buffers.iter().enumerate() {
            match b.slot {
                Slot::Point(p, FileKind::Operator) => {
                    finals.insert(p, i);
                }
                Slot::Threshold(e) => {
                    thresholds.insert(e, i);
                }
                _ => {}
            }
        }
        let mut jobs = Vec::new();
        for (i, b) in self.buffers.iter().enumerate() {
            let Slot::Point(point, FileKind::Partial) = b.slot else {
                continue;
            };
            let path = EvolutionPath::new(self.metadata.origin, &self.metadata.matching, point)?;
            self.bound(i, false)?;
            let mut errors_available = self.bound(i, true)?;
            for edge in &path.thresholds {
                let Some(&t) = thresholds.get(edge) else {
                    return Err(Failure::new(
                        EKO_ERROR_MISSING_THRESHOLD,
                        format!(
                            "cannot combine {point}: the dataset has no buffer for the threshold \
                             element {edge}"
                        ),
                    ));
                };
                self.bound(t, false)?;
                errors_available &= self.bound(t, true)?;
            }
            let dest = finals.get(&point).copied();
            let with_error = match dest {
                Some(d) => {
                    self.bound(d, false)?;
                    self.writable(d, false, "combine")?;
                    let wants = self.bound(d, true)?;
                    if wants {
                        self.writable(d, true, "combine")?;
                        if !errors_available {
                            return Err(Failure::new(
                                EKO_ERROR_MISSING_ERROR,
                                format!(
                                    "{} has an error attribute, but the error of {point} cannot \
                                     be computed: the partial or a threshold element on its \
                                     path has no error",
                                    self.describe(d, false)
                                ),
                            ));
                        }
                    }
                    wants
                }
                None => {
                    self.writable(i, false, "combine")?;
                    if errors_available {
                        self.writable(i, true, "combine")?;
                    }
                    errors_available
                }
            };
            jobs.push(Job {
                point,
                path,
                partial: i,
                dest,
                with_error,
            });
        }
        Ok((jobs, thresholds))
    }

    fn combine(&mut self, kernel: &Kernel) -> Outcome<()> {
        let (jobs, threshold_ids) = self.plan()?;
        let value_ptr = |id: usize| self.buffers[id].value.ptr().expect("checked bound");
        let error_ptr = |id: usize| {
            self.buffers[id]
                .error
                .as_ref()
                .and_then(Memory::ptr)
                .expect("checked bound")
        };
        let host = HostThresholds {
            edges: threshold_ids
                .iter()
                .filter_map(|(e, &id)| {
                    let b = &self.buffers[id];
                    let value = self.view(&b.value, b.layout)?;
                    let error = b.error.as_ref().and_then(|m| self.view(m, b.layout));
                    Some((*e, (value, error)))
                })
                .collect(),
        };
        let mut groups: BTreeMap<(bool, u8), Vec<&Job>> = BTreeMap::new();
        for job in &jobs {
            if job.path.crosses_threshold() {
                groups
                    .entry(chain_group(self.metadata.origin, job.point))
                    .or_default()
                    .push(job);
            } else if let Some(d) = job.dest {
                // No threshold crossed: the partial is the final operator.
                let (from, to) = (&self.buffers[job.partial], &self.buffers[d]);
                let pairs = std::iter::once((&from.value, value_ptr(d))).chain(
                    job.with_error
                        .then(|| (from.error.as_ref().expect("checked"), error_ptr(d))),
                );
                for (src, dst) in pairs {
                    let src = self.view(src, from.layout).expect("checked bound");
                    // SAFETY: `dst` is host memory of the final buffer (checked writable),
                    // disjoint from every other registered memory; no other view of it exists.
                    let mut dst = unsafe { view_mut(dst, self.shape, to.layout) };
                    dst.assign(&src);
                }
            }
        }
        let mut chain: Option<Chain> = None;
        for group in groups.into_values() {
            let edges = &group[0].path.thresholds;
            let next = Chain::build(&host, edges, chain.take(), kernel)?;
            let with_errors = group.iter().any(|j| j.with_error);
            let shared = Shared::prepare(&host, &next, with_errors, kernel)?;
            for job in group {
                let partial = &self.buffers[job.partial];
                let product = match job.dest {
                    Some(d) => {
                        let dest = &self.buffers[d];
                        // SAFETY: the final buffer's memory is the host's (checked writable),
                        // disjoint from the partial's and every other registered memory.
                        let out = unsafe { view_mut(value_ptr(d), self.shape, dest.layout) };
                        let left = self.view(&partial.value, partial.layout).expect("bound");
                        PointProduct {
                            partial: self.view(&partial.value, partial.layout),
                            value: Target::Separate { left, out },
                            error: job.with_error.then(|| Target::Separate {
                                left: self
                                    .view(partial.error.as_ref().expect("checked"), partial.layout)
                                    .expect("bound"),
                                // SAFETY: as for the value, for the final's error memory.
                                out: unsafe { view_mut(error_ptr(d), self.shape, dest.layout) },
                            }),
                        }
                    }
                    None => PointProduct {
                        partial: None,
                        // SAFETY: the partial's memory is the host's (checked writable) and
                        // disjoint from all other registered memory; combine holds no other
                        // view of it.
                        value: Target::InPlace(unsafe {
                            view_mut(value_ptr(job.partial), self.shape, partial.layout)
                        }),
                        error: job.with_error.then(|| {
                            // SAFETY: as for the value, for the partial's error memory.
                            Target::InPlace(unsafe {
                                view_mut(error_ptr(job.partial), self.shape, partial.layout)
                            })
                        }),
                    },
                };
                multiply_point(product, &shared, kernel)?;
            }
            chain = Some(next);
        }
        drop(host);
        // The finals exist: partials combined into a separate final are released, those
        // combined in place become final operators (without their error if none was computed).
        for job in jobs {
            let b = &mut self.buffers[job.partial];
            match job.dest {
                Some(_) => {
                    b.slot = Slot::Released;
                    b.value = Memory::Unbound;
                    b.error = None;
                }
                None => {
                    b.slot = Slot::Point(job.point, FileKind::Operator);
                    if !job.with_error {
                        b.error = None;
                    }
                }
            }
        }
        Ok(())
    }

    fn write_store(&self, dir: &str) -> Outcome<()> {
        for (i, b) in self.buffers.iter().enumerate() {
            if b.slot != Slot::Released {
                self.bound(i, false)?;
                self.bound(i, true)?;
            }
        }
        let mut store = Store::create(dir, &self.metadata)?;
        let same_store = self.store.as_ref().is_some_and(|s| {
            std::fs::canonicalize(s.dir()).ok() == std::fs::canonicalize(store.dir()).ok()
        });
        let views = |b: &Buffer| {
            let value = self.view(&b.value, b.layout).expect("checked bound");
            let error = b.error.as_ref().and_then(|m| self.view(m, b.layout));
            (value, error)
        };
        let mut writer = None;
        for b in &self.buffers {
            if let Slot::Threshold(edge) = b.slot {
                let w = match &mut writer {
                    Some(w) => w,
                    None => writer.insert(store.thresholds_writer()?),
                };
                let (value, error) = views(b);
                w.add(&edge, &value, error.as_ref())?;
            }
        }
        if let Some(w) = writer {
            store.commit_thresholds(w)?;
        }
        for b in &self.buffers {
            let Slot::Point(point, kind) = b.slot else {
                continue;
            };
            if same_store && matches!(b.value, Memory::Committed { .. }) {
                continue; // already in this store
            }
            let (value, error) = views(b);
            match kind {
                FileKind::Partial => store.insert_partial(point, &value, error.as_ref())?,
                _ => store.insert_operator(point, &value, error.as_ref())?,
            }
        }
        Ok(())
    }
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
        let ds = arg_mut(dataset, "dataset")?;
        ds.combine(&kernel(threads)?)
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
        let ds = arg(dataset, "dataset")?;
        let dir = text(dir, "dir")?;
        ds.write_store(dir)
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
        let ds = arg_mut(dataset, "dataset")?;
        let dir = text(dir, "dir")?;
        if let Some(s) = &ds.store {
            return Err(Failure::new(
                EKO_ERROR_ALREADY_BOUND,
                format!("the dataset is already attached to {}", s.dir().display()),
            ));
        }
        ds.store = Some(Store::create(dir, &ds.metadata)?);
        Ok(())
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
        let ds = arg_mut(dataset, "dataset")?;
        let data_out = out(data, "data")?;
        let Some(store) = &ds.store else {
            return Err(Failure::new(
                EKO_ERROR_NOT_FOUND,
                "the dataset is not attached to a store (EKO_dataset_attach_store)",
            ));
        };
        let (slot, layout) = ds.buffer(buffer_id).map(|b| (b.slot, b.layout))?;
        let Slot::Point(point, kind) = slot else {
            return Err(Failure::invalid(format!(
                "{} is a threshold element: threshold elements are written together as \
                 thresholds.npz by EKO_dataset_write_store, from host memory",
                slot.describe()
            )));
        };
        let file_kind = if attribute == EKO_ATTRIBUTE_ERROR {
            kind.companion()
        } else {
            kind
        };
        let path = store.path_of(&point, file_kind);
        let shape = ds.shape;
        let (memory, what) = ds.attribute(buffer_id, attribute)?;
        if !matches!(memory, Memory::Unbound) {
            return Err(Failure::new(
                EKO_ERROR_ALREADY_BOUND,
                format!("{what} already has memory"),
            ));
        }
        let mut file = NpyFileMut::<f64>::create(path, &shape, layout)?;
        let ptr = NonNull::new(file.data_ptr()).expect("a mapped file is not at address 0");
        *memory = Memory::Mapped(file, ptr);
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
        let ds = arg_mut(dataset, "dataset")?;
        let slot = ds.buffer(buffer_id)?.slot;
        let id = buffer_id as usize;
        let b = &ds.buffers[id];
        let Slot::Point(point, kind) = slot else {
            return Err(Failure::invalid(format!(
                "{} is a threshold element, which is never mapped",
                slot.describe()
            )));
        };
        for (error, memory) in
            std::iter::once((false, &b.value)).chain(b.error.iter().map(|e| (true, e)))
        {
            if !matches!(memory, Memory::Mapped(..)) {
                return Err(Failure::new(
                    if matches!(memory, Memory::Unbound) {
                        EKO_ERROR_UNBOUND
                    } else {
                        EKO_ERROR_INVALID_ARGUMENT
                    },
                    format!(
                        "{} is not a store file mapped by EKO_dataset_map (or is committed)",
                        ds.describe(id, error)
                    ),
                ));
            }
        }
        let store = ds.store.as_mut().expect("mapped buffers imply a store");
        let b = &mut ds.buffers[id];
        // Checksums of the final data, the error's first: the value's header records it (or
        // that there is none), as every store write does.
        let error_crc = match &mut b.error {
            Some(Memory::Mapped(file, _)) => Some(file.record_checksums(ErrorRecord::NotRecorded)),
            _ => None,
        };
        if let Memory::Mapped(file, _) = &mut b.value {
            file.record_checksums(error_crc.map_or(ErrorRecord::Absent, ErrorRecord::Crc));
        }
        let seal = |memory: &mut Memory| -> Result<_> {
            let Memory::Mapped(file, ptr) = std::mem::replace(memory, Memory::Unbound) else {
                unreachable!("checked above")
            };
            let (map, _, pending) = file.into_sealed()?;
            *memory = Memory::Committed { _map: map, ptr };
            Ok(pending)
        };
        let committed = seal(&mut b.value).and_then(|value| {
            let error = b.error.as_mut().map(seal).transpose()?;
            store.commit_pending(point, kind, value, error)
        });
        if committed.is_err() {
            b.value = Memory::Unbound;
            if let Some(e) = &mut b.error {
                *e = Memory::Unbound;
            }
        }
        Ok(committed?)
    })
}
