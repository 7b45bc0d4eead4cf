//! Datasets: one grid's operators in memory the caller owns, combined in place.
//!
//! A [`Dataset`] describes one grid (pids, x grid, origin, matching scales) and holds *buffers*,
//! each for one evolution point and kind (a final operator, [`FileKind::Operator`], or a partial,
//! [`FileKind::Partial`]) or for one threshold element (a segment up to a matching scale, or a
//! matching). A buffer's values and its error are two *attributes* ([`Attribute`]); an operator
//! without an error is normal.
//!
//! Memory is the caller's: a [`HostArray`], a view of exactly the grid's shape, C- or
//! Fortran-contiguous, writable or read-only. libeko never copies it and never frees it; it checks
//! its shape, its layout and that it overlaps no memory already registered (the input and output
//! of the in-place combine cannot alias). An attribute may be *declared* without memory and
//! [bound](Dataset::bind) later; a step that needs its memory fails until then.
//!
//! [`Dataset::combine`] joins each partial with the threshold elements on its path, exactly as the
//! store's [`combine`](crate::combine::combine) does (same chains, kernel and error propagation,
//! so the results are bit for bit the same): into the point's final buffer if it has one, else in
//! place into the partial's own memory, which then holds the point's final operator.
//! [`Dataset::write_store`] writes the dataset as a store. With a store attached
//! ([`Dataset::attach_store`]), [`Dataset::map`] creates a point's file for a producer to fill
//! through a pointer, and [`Dataset::commit`] puts it in place.
//!
//! The dataset reads registered memory only in [`combine`](Dataset::combine),
//! [`write_store`](Dataset::write_store) and [`view`](Dataset::view), and writes it only in
//! [`combine`](Dataset::combine) (never a [`HostArray::ReadOnly`] array, never a store file);
//! every other call compares addresses only.
//!
//! This is the core that the C ABI (`EKO_dataset_*`, [`crate::ffi`]) and the Python binding
//! wrap. Its refusals are [`Error::Dataset`] with a [`DatasetProblem`] saying which check failed;
//! their messages name the buffer, the point and the attribute, but no function of either face:
//! a face may add how its own functions fix the problem.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::ptr::NonNull;

use memmap2::Mmap;
use ndarray::{ArrayView4, ArrayViewMut4, CowArray, Ix4};

use crate::combine::{
    Chain, Kernel, PointProduct, Shared, Target, ThresholdOperators, chain_group, multiply_point,
};
pub use crate::error::DatasetProblem;
use crate::error::{Error, Location, Result};
use crate::npy::{ErrorRecord, NpyFileMut, NpyHeader, Order};
use crate::store::{
    Edge, EvolutionPath, EvolutionPoint, FileKind, Interpolation, Matching, MatchingScales,
    Metadata, Segment, Store,
};

/// One of a buffer's two attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// The operator's values.
    Value,
    /// The operator's integration error: same shape and layout as the values.
    Error,
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Attribute::Value => "value",
            Attribute::Error => "error",
        })
    }
}

/// Host memory of one attribute: a view of exactly the grid's shape `(n_pid, n_x, n_pid, n_x)`,
/// C-contiguous (row-major) or Fortran-contiguous (column-major); other layouts are refused.
#[derive(Debug)]
pub enum HostArray<'a> {
    /// Memory combine may write: a partial combined in place, a final buffer.
    Writable(ArrayViewMut4<'a, f64>),
    /// Memory libeko only reads (combine refuses to write it, [`DatasetProblem::ReadOnly`]).
    ReadOnly(ArrayView4<'a, f64>),
}

impl HostArray<'_> {
    /// The memory, for reading.
    pub fn view(&self) -> ArrayView4<'_, f64> {
        match self {
            HostArray::Writable(v) => v.view(),
            HostArray::ReadOnly(v) => v.view(),
        }
    }

    /// Whether combine may write into it.
    pub fn is_writable(&self) -> bool {
        matches!(self, HostArray::Writable(_))
    }
}

impl<'a> From<ArrayViewMut4<'a, f64>> for HostArray<'a> {
    fn from(view: ArrayViewMut4<'a, f64>) -> Self {
        HostArray::Writable(view)
    }
}

impl<'a> From<ArrayView4<'a, f64>> for HostArray<'a> {
    fn from(view: ArrayView4<'a, f64>) -> Self {
        HostArray::ReadOnly(view)
    }
}

/// What a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// An evolution point's final operator ([`FileKind::Operator`]) or partial
    /// ([`FileKind::Partial`]).
    Point(EvolutionPoint, FileKind),
    /// A threshold element: a segment up to a matching scale, or a matching.
    Threshold(Edge),
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Point(p, FileKind::Partial) => write!(f, "the partial of {p}"),
            Slot::Point(p, _) => write!(f, "the final operator of {p}"),
            Slot::Threshold(e) => write!(f, "the threshold operator {e}"),
        }
    }
}

/// Where an attribute's elements are, as [`Dataset::memory_state`] tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryState {
    /// The buffer has no such attribute (an error never added).
    Absent,
    /// Declared: no memory yet.
    Unbound,
    /// The caller's memory, which combine may write.
    Writable,
    /// The caller's memory, read-only.
    ReadOnly,
    /// A store file mapped for the caller to fill ([`Dataset::map`]), not yet committed.
    Mapped,
    /// A committed store file, still mapped, read-only.
    Committed,
}

/// A refusal of `problem`.
fn refused(problem: DatasetProblem, reason: impl Into<String>) -> Error {
    Error::Dataset {
        problem,
        reason: reason.into(),
    }
}

/// A refusal of an argument.
fn invalid(reason: impl Into<String>) -> Error {
    refused(DatasetProblem::InvalidArgument, reason)
}

fn order_name(order: Order) -> &'static str {
    match order {
        Order::C => "C",
        Order::Fortran => "Fortran",
    }
}

/// A committed store file, still mapped (read-only) at the address the producer was given.
struct CommittedFile {
    map: Mmap,
    header: NpyHeader,
    file: Location,
}

impl CommittedFile {
    fn view(&self) -> ArrayView4<'_, f64> {
        let offset = self.header.data_offset;
        let data = &self.map[offset..offset + self.header.data_len()];
        let view = crate::npy::view::<f64>(&self.header, data, &self.file, offset as u64);
        rank4(view)
    }
}

/// The view of a file libeko created for an operator: rank 4, native `f64`, page-aligned.
fn rank4(view: Result<ndarray::ArrayViewD<'_, f64>>) -> ArrayView4<'_, f64> {
    view.ok()
        .and_then(|v| v.into_dimensionality::<Ix4>().ok())
        .expect("a rank-4, native, page-aligned f64 file libeko created")
}

/// Where an attribute's elements are.
enum Memory<'a> {
    /// Declared; memory comes later.
    Unbound,
    /// The caller's memory.
    Host(HostArray<'a>),
    /// A new store file, mapped writable for the producer to fill, not yet committed.
    Mapped(NpyFileMut<f64>),
    /// A committed store file.
    Committed(CommittedFile),
}

impl Memory<'_> {
    fn view(&self) -> Option<ArrayView4<'_, f64>> {
        match self {
            Memory::Unbound => None,
            Memory::Host(array) => Some(array.view()),
            Memory::Mapped(file) => Some(rank4(file.view())),
            Memory::Committed(file) => Some(file.view()),
        }
    }

    /// The memory combine writes: the caller's, writable.
    fn view_mut(&mut self) -> Option<ArrayViewMut4<'_, f64>> {
        match self {
            Memory::Host(HostArray::Writable(v)) => Some(v.view_mut()),
            _ => None,
        }
    }

    /// The lowest address of the elements (every memory is C- or Fortran-contiguous).
    fn address(&self) -> Option<usize> {
        self.view().map(|v| v.as_ptr() as usize)
    }

    fn state(&self) -> MemoryState {
        match self {
            Memory::Unbound => MemoryState::Unbound,
            Memory::Host(HostArray::Writable(_)) => MemoryState::Writable,
            Memory::Host(HostArray::ReadOnly(_)) => MemoryState::ReadOnly,
            Memory::Mapped(_) => MemoryState::Mapped,
            Memory::Committed(_) => MemoryState::Committed,
        }
    }
}

struct Buffer<'a> {
    /// `None`: a partial combine wrote into a separate final buffer, no longer in the dataset.
    slot: Option<Slot>,
    /// The memory order of its attributes, once known (from memory, or [`Dataset::set_layout`]).
    layout: Option<Order>,
    value: Memory<'a>,
    error: Option<Memory<'a>>,
}

impl<'a> Buffer<'a> {
    fn attribute(&self, attribute: Attribute) -> Option<&Memory<'a>> {
        match attribute {
            Attribute::Value => Some(&self.value),
            Attribute::Error => self.error.as_ref(),
        }
    }

    fn attribute_mut(&mut self, attribute: Attribute) -> Option<&mut Memory<'a>> {
        match attribute {
            Attribute::Value => Some(&mut self.value),
            Attribute::Error => self.error.as_mut(),
        }
    }

    /// Its value and error, bound (checked).
    fn views(&self) -> (ArrayView4<'_, f64>, Option<ArrayView4<'_, f64>>) {
        let value = self.value.view().expect("checked bound");
        (value, self.error.as_ref().and_then(Memory::view))
    }

    /// Its attributes with their memory.
    fn memories(&self) -> impl Iterator<Item = (Attribute, &Memory<'a>)> {
        std::iter::once((Attribute::Value, &self.value))
            .chain(self.error.iter().map(|e| (Attribute::Error, e)))
    }
}

/// One grid's operators in memory the caller owns (or in store files mapped for a producer).
///
/// `'a` is the life of the registered memory. Every call that changes the dataset or writes
/// its memory takes it mutably, so one thread at a time does; it may move between threads.
pub struct Dataset<'a> {
    metadata: Metadata,
    shape: [usize; 4],
    buffers: Vec<Buffer<'a>>,
    store: Option<Store>,
}

/// The threshold element from `from` to `to`: a segment (same nf) or a matching at the scale in
/// `matching` (same mu2, nf one apart; an inverse matching when nf decreases).
pub fn threshold_edge(
    matching: &MatchingScales,
    from: EvolutionPoint,
    to: EvolutionPoint,
) -> Result<Edge> {
    if from.nf == to.nf {
        if from.mu2 == to.mu2 {
            return Err(invalid(format!(
                "a threshold element from {from} to {to} has no length"
            )));
        }
        return Ok(Edge::Segment(Segment {
            origin: from.mu2,
            target: to.mu2,
            nf: from.nf,
        }));
    }
    if from.mu2 != to.mu2 || from.nf.abs_diff(to.nf) != 1 {
        return Err(invalid(format!(
            "no threshold element goes from {from} to {to}: a segment keeps nf, a matching \
             keeps mu2 and changes nf by one"
        )));
    }
    let lower = from.nf.min(to.nf);
    let scale = match lower {
        3 => matching.charm,
        4 => matching.bottom,
        5 => matching.top,
        _ => None,
    };
    if scale != Some(from.mu2) {
        return Err(invalid(format!(
            "a matching from {from} to {to} needs the matching scale between nf={lower} and \
             nf={} at mu2={}, but the dataset's is {}",
            lower + 1,
            from.mu2,
            scale.map_or("not set".to_string(), |s| format!("mu2={s}"))
        )));
    }
    Ok(Edge::Matching(Matching {
        scale: from.mu2,
        from_nf: from.nf,
        to_nf: to.nf,
    }))
}

/// Checks a dataset's grid: a bad grid is the caller's argument, not a store's metadata.
fn validate(metadata: &Metadata) -> Result<()> {
    metadata
        .validate(&Location::Buffer("the dataset's grid".into()))
        .map_err(|e| invalid(e.to_string()))
}

impl<'a> Dataset<'a> {
    /// A dataset for the grid of `metadata` (pids, x grid, origin, matching scales,
    /// interpolation, descriptions), without buffers. The grid must be valid as a store's and
    /// square (not a reshaped store's), and one operator must fit in the address space.
    pub fn new(metadata: Metadata) -> Result<Self> {
        validate(&metadata)?;
        if metadata.is_reshaped() {
            return Err(invalid(
                "a dataset holds operators on the grid they are computed on: metadata with an \
                 output or input side (a reshaped store's) cannot make one",
            ));
        }
        let shape = metadata.square_shape();
        // One operator must fit in the address space: its bytes, not only its element count.
        shape
            .iter()
            .try_fold(1usize, |a, &n| a.checked_mul(n))
            .and_then(|n| n.checked_mul(std::mem::size_of::<f64>()))
            .filter(|&bytes| bytes <= isize::MAX as usize)
            .ok_or_else(|| {
                invalid(format!(
                    "the grid's operator ({0} x {1} x {0} x {1} doubles) is larger than the \
                     address space",
                    shape[0], shape[1]
                ))
            })?;
        Ok(Dataset {
            metadata,
            shape,
            buffers: Vec::new(),
            store: None,
        })
    }

    /// The grid.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The shape of every operator: `(n_pid, n_x, n_pid, n_x)`.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the grid may still change ([`set_matching`](Self::set_matching),
    /// [`set_interpolation`](Self::set_interpolation)): until a buffer is added or a store
    /// attached.
    pub fn grid_is_open(&self) -> bool {
        self.buffers.is_empty() && self.store.is_none()
    }

    /// Sets the matching scale between nf = `lower_nf` and `lower_nf + 1` (3: charm, 4: bottom,
    /// 5: top) to `mu2` (GeV²). Only while the [grid is open](Self::grid_is_open).
    pub fn set_matching(&mut self, lower_nf: u8, mu2: f64) -> Result<()> {
        if !self.grid_is_open() {
            return Err(invalid(
                "matching scales are set before any buffer is added or a store attached",
            ));
        }
        let mut metadata = self.metadata.clone();
        let scale = match lower_nf {
            3 => &mut metadata.matching.charm,
            4 => &mut metadata.matching.bottom,
            5 => &mut metadata.matching.top,
            other => {
                return Err(invalid(format!(
                    "no heavy quark is matched between nf={other} and nf={}: the matchings are \
                     between nf=3 and 4 (charm), 4 and 5 (bottom), 5 and 6 (top)",
                    u16::from(other) + 1
                )));
            }
        };
        *scale = Some(mu2);
        validate(&metadata)?;
        self.metadata = metadata;
        Ok(())
    }

    /// Sets the interpolation the operators were computed with: piecewise Lagrange polynomials
    /// of `polynomial_degree` (at least 1) in ln x when `log`, else in x. Recorded in the
    /// store's metadata. Only while the [grid is open](Self::grid_is_open).
    pub fn set_interpolation(&mut self, polynomial_degree: u32, log: bool) -> Result<()> {
        if !self.grid_is_open() {
            return Err(invalid(
                "the interpolation is set before any buffer is added or a store attached",
            ));
        }
        if polynomial_degree < 1 {
            return Err(invalid(format!(
                "degree is {polynomial_degree}; the interpolation's polynomial degree is at least 1"
            )));
        }
        self.metadata.interpolation = Some(Interpolation {
            polynomial_degree,
            log,
        });
        Ok(())
    }

    /// The number of buffer ids given out: ids are `0..buffer_count()`, some maybe released.
    pub fn buffer_count(&self) -> usize {
        self.buffers.len()
    }

    fn no_buffer(&self, id: &dyn fmt::Display) -> Error {
        invalid(format!(
            "buffer id {id} is not a buffer of this dataset (ids are 0..{}{})",
            self.buffers.len(),
            if self.buffers.iter().any(|b| b.slot.is_none()) {
                "; partials combined into a separate final buffer are released"
            } else {
                ""
            }
        ))
    }

    fn buffer(&self, id: usize) -> Result<&Buffer<'a>> {
        self.buffers
            .get(id)
            .filter(|b| b.slot.is_some())
            .ok_or_else(|| self.no_buffer(&id))
    }

    /// `id` as a buffer index, for faces that take signed ids: an error naming it unless it is
    /// a buffer of the dataset (not released).
    pub fn check_id(&self, id: i64) -> Result<usize> {
        usize::try_from(id)
            .ok()
            .filter(|&i| self.buffer(i).is_ok())
            .ok_or_else(|| self.no_buffer(&id))
    }

    /// What buffer `id` holds. An error for an id that is not a buffer of the dataset, or a
    /// partial released by combine.
    pub fn slot(&self, id: usize) -> Result<Slot> {
        Ok(self.buffer(id)?.slot.expect("not released"))
    }

    /// The memory order of buffer `id`'s attributes, once known (from memory, or
    /// [`set_layout`](Self::set_layout)).
    pub fn layout(&self, id: usize) -> Result<Option<Order>> {
        Ok(self.buffer(id)?.layout)
    }

    /// Where attribute `attribute` of buffer `id` is.
    pub fn memory_state(&self, id: usize, attribute: Attribute) -> Result<MemoryState> {
        Ok(self
            .buffer(id)?
            .attribute(attribute)
            .map_or(MemoryState::Absent, Memory::state))
    }

    /// The attribute in words: `buffer 3 (the partial of (mu2=100, nf=5), error)`.
    pub fn describe(&self, id: usize, attribute: Attribute) -> Result<String> {
        self.buffer(id)?;
        Ok(self.describe_at(id, attribute))
    }

    fn describe_at(&self, id: usize, attribute: Attribute) -> String {
        let slot = self.buffers[id]
            .slot
            .map_or("a released partial".to_string(), |s| s.to_string());
        format!("buffer {id} ({slot}, {attribute})")
    }

    /// The attribute's memory, for reading: the caller's, or a store file. An error if the
    /// buffer has no such attribute or it is unbound.
    pub fn view(&self, id: usize, attribute: Attribute) -> Result<ArrayView4<'_, f64>> {
        let memory = self.attribute(id, attribute)?;
        self.bound(id, attribute)?;
        Ok(memory.view().expect("bound"))
    }

    /// The store attached with [`attach_store`](Self::attach_store), if any.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// The memory of attribute `attribute` of buffer `id`: an error if the buffer has no error
    /// attribute.
    fn attribute(&self, id: usize, attribute: Attribute) -> Result<&Memory<'a>> {
        self.buffer(id)?.attribute(attribute).ok_or_else(|| {
            refused(
                DatasetProblem::NoErrorAttribute,
                format!(
                    "{}: no error attribute was added",
                    self.describe_at(id, attribute)
                ),
            )
        })
    }

    /// Checks memory for an attribute described by `what`, of a buffer whose attributes are in
    /// `layout` (if known): the grid's shape, C- or Fortran-contiguous (in `layout`), and
    /// disjoint from every registered memory. Returns its order.
    fn check_memory(
        &self,
        array: &HostArray<'_>,
        layout: Option<Order>,
        what: &str,
    ) -> Result<Order> {
        let view = array.view();
        if view.shape() != self.shape {
            return Err(refused(
                DatasetProblem::BadShape,
                format!(
                    "{what} has shape {:?}; the grid needs {:?} (n_pid, n_x, n_pid, n_x)",
                    view.shape(),
                    self.shape
                ),
            ));
        }
        let c = view.is_standard_layout();
        let f = view.t().is_standard_layout();
        let order = match layout {
            Some(Order::C) if c => Order::C,
            Some(Order::Fortran) if f => Order::Fortran,
            Some(expected) if c || f => {
                let found = if c { Order::C } else { Order::Fortran };
                return Err(refused(
                    DatasetProblem::Layout,
                    format!(
                        "{what} is in {} order, but the buffer's memory is in {} order: a \
                         buffer's value and error share one layout",
                        order_name(found),
                        order_name(expected)
                    ),
                ));
            }
            _ if c => Order::C,
            _ if f => Order::Fortran,
            _ => {
                return Err(refused(
                    DatasetProblem::Layout,
                    format!(
                        "{what} is neither C- nor Fortran-contiguous (strides {:?}): a dataset \
                         takes memory in C order (row-major) or Fortran order (column-major), \
                         without gaps; copy it into one of them",
                        view.strides()
                    ),
                ));
            }
        };
        let bytes = self.len() * std::mem::size_of::<f64>();
        let start = view.as_ptr() as usize;
        let end = start + bytes;
        for (i, b) in self.buffers.iter().enumerate() {
            for (attribute, memory) in b.memories() {
                let Some(o_start) = memory.address() else {
                    continue;
                };
                if start < o_start + bytes && o_start < end {
                    return Err(refused(
                        DatasetProblem::Overlapping,
                        format!(
                            "{what} [{start:#x}, {end:#x}) overlaps {} [{o_start:#x}, {:#x})",
                            self.describe_at(i, attribute),
                            o_start + bytes
                        ),
                    ));
                }
            }
        }
        Ok(order)
    }

    fn add(&mut self, slot: Slot, memory: Option<HostArray<'a>>) -> Result<usize> {
        if let Some(id) = self.buffers.iter().position(|b| b.slot == Some(slot)) {
            return Err(refused(
                DatasetProblem::Duplicate,
                format!("the dataset already has {slot} (buffer {id})"),
            ));
        }
        let (value, layout) = match memory {
            None => (Memory::Unbound, None),
            Some(array) => {
                let layout = self.check_memory(&array, None, &slot.to_string())?;
                (Memory::Host(array), Some(layout))
            }
        };
        self.buffers.push(Buffer {
            slot: Some(slot),
            layout,
            value,
            error: None,
        });
        Ok(self.buffers.len() - 1)
    }

    /// Adds a buffer for `point`'s final operator (`kind` [`FileKind::Operator`]) or partial
    /// ([`FileKind::Partial`]), with its values in `memory`, or declared (`None`: memory comes
    /// with [`bind`](Self::bind) or [`map`](Self::map)). Returns its id (0, 1, ... in order of
    /// addition). On failure the dataset is unchanged.
    pub fn add_point(
        &mut self,
        point: EvolutionPoint,
        kind: FileKind,
        memory: Option<HostArray<'a>>,
    ) -> Result<usize> {
        let point = point.validate()?;
        if !matches!(kind, FileKind::Operator | FileKind::Partial) {
            return Err(invalid(format!(
                "a buffer holds a final operator or a partial, not {}: an error is an attribute \
                 of its buffer",
                kind.name()
            )));
        }
        self.add(Slot::Point(point, kind), memory)
    }

    /// Adds a buffer for the threshold element from `from` to `to` ([`threshold_edge`]), with
    /// its values in `memory` or declared. [`needed_thresholds`](Self::needed_thresholds) lists
    /// the elements the partials need. Combine never writes threshold buffers.
    pub fn add_threshold(
        &mut self,
        from: EvolutionPoint,
        to: EvolutionPoint,
        memory: Option<HostArray<'a>>,
    ) -> Result<usize> {
        let edge = threshold_edge(&self.metadata.matching, from.validate()?, to.validate()?)?;
        self.add(Slot::Threshold(edge), memory)
    }

    /// Fixes the memory order of buffer `id` before it has memory: the order
    /// [`map`](Self::map) gives its files, and memory bound later must have. Refused
    /// ([`DatasetProblem::Layout`]) once an attribute has memory in another order.
    pub fn set_layout(&mut self, id: usize, layout: Order) -> Result<()> {
        let b = self.buffer(id)?;
        if let Some(current) = b.layout.filter(|&l| l != layout)
            && b.memories().any(|(_, m)| !matches!(m, Memory::Unbound))
        {
            return Err(refused(
                DatasetProblem::Layout,
                format!(
                    "buffer {id} ({}) has memory in {} order already",
                    b.slot.expect("not released"),
                    order_name(current)
                ),
            ));
        }
        self.buffers[id].layout = Some(layout);
        Ok(())
    }

    /// Takes back buffer `id`, which must be the one added last: for a face that adds a buffer
    /// and its error attribute in one call, so that a refused error leaves the dataset as it
    /// was before the call.
    pub fn remove_last(&mut self, id: usize) -> Result<()> {
        if id + 1 != self.buffers.len() {
            return Err(invalid(format!(
                "buffer {id} is not the last buffer added (that is {})",
                self.buffers.len().wrapping_sub(1)
            )));
        }
        self.buffers.pop();
        Ok(())
    }

    /// Adds buffer `id`'s error attribute, in `memory` (same layout as the values) or declared.
    /// An operator with an error gets its error propagated by combine.
    pub fn add_error(&mut self, id: usize, memory: Option<HostArray<'a>>) -> Result<()> {
        let what = self.describe(id, Attribute::Error)?;
        let b = &self.buffers[id];
        if b.error.is_some() {
            return Err(refused(
                DatasetProblem::Duplicate,
                format!("{what} was already added"),
            ));
        }
        let (memory, layout) = match memory {
            None => (Memory::Unbound, b.layout),
            Some(array) => {
                let layout = self.check_memory(&array, b.layout, &what)?;
                (Memory::Host(array), Some(layout))
            }
        };
        let b = &mut self.buffers[id];
        b.error = Some(memory);
        b.layout = layout;
        Ok(())
    }

    /// Gives memory to attribute `attribute` of buffer `id`, declared without. Refused if the
    /// attribute has memory ([`DatasetProblem::AlreadyBound`]) or the buffer has no error
    /// attribute ([`DatasetProblem::NoErrorAttribute`]); the memory is checked as on addition.
    pub fn bind(&mut self, id: usize, attribute: Attribute, memory: HostArray<'a>) -> Result<()> {
        let what = self.describe(id, attribute)?;
        if !matches!(self.attribute(id, attribute)?, Memory::Unbound) {
            return Err(refused(
                DatasetProblem::AlreadyBound,
                format!("{what} already has memory"),
            ));
        }
        let layout = self.check_memory(&memory, self.buffers[id].layout, &what)?;
        let b = &mut self.buffers[id];
        *b.attribute_mut(attribute).expect("checked") = Memory::Host(memory);
        b.layout = Some(layout);
        Ok(())
    }

    /// The threshold elements the partials need, each once, whether or not the dataset has
    /// them: ordered by their starting point (mu2, then nf), then their end point. An error
    /// ([`Error::NoPath`]) if a partial's nf cannot be reached.
    pub fn needed_thresholds(&self) -> Result<Vec<Edge>> {
        let mut edges = BTreeSet::new();
        for b in &self.buffers {
            if let Some(Slot::Point(point, FileKind::Partial)) = b.slot {
                let path =
                    EvolutionPath::new(self.metadata.origin, &self.metadata.matching, point)?;
                edges.extend(path.thresholds);
            }
        }
        Ok(edges.into_iter().collect())
    }

    /// Whether attribute `attribute` of buffer `id` has memory: `false` if the buffer has no
    /// such attribute, an error if it is declared and unbound.
    fn bound(&self, id: usize, attribute: Attribute) -> Result<bool> {
        match self.buffers[id].attribute(attribute) {
            None => Ok(false),
            Some(Memory::Unbound) => Err(refused(
                DatasetProblem::Unbound,
                format!(
                    "{} was declared without memory and is not bound",
                    self.describe_at(id, attribute)
                ),
            )),
            Some(_) => Ok(true),
        }
    }

    /// Checks combine may write attribute `attribute` of buffer `id`.
    fn writable(&self, id: usize, attribute: Attribute) -> Result<()> {
        let what = || self.describe_at(id, attribute);
        match self.buffers[id].attribute(attribute) {
            Some(Memory::Mapped(_) | Memory::Committed(_)) => Err(refused(
                DatasetProblem::ReadOnly,
                format!(
                    "{} is a store file mapped by libeko, which combine does not write; add a \
                     final buffer in host memory for it, or combine the store",
                    what()
                ),
            )),
            Some(Memory::Host(HostArray::ReadOnly(_))) => Err(refused(
                DatasetProblem::ReadOnly,
                format!(
                    "{} is read-only memory, which combine does not write: register it \
                     writable{}",
                    what(),
                    match self.buffers[id].slot {
                        Some(Slot::Point(_, FileKind::Partial)) => {
                            ", or add a final buffer in writable memory for its point (combine \
                             then only reads the partial)"
                        }
                        _ => "",
                    }
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Every check of combine, before anything is written: the partials to combine, and the
    /// buffer of each threshold element.
    fn plan(&self) -> Result<(Vec<Job>, HashMap<Edge, usize>)> {
        let mut finals: BTreeMap<EvolutionPoint, usize> = BTreeMap::new();
        let mut thresholds: HashMap<Edge, usize> = HashMap::new();
        for (i, b) in self.buffers.iter().enumerate() {
            match b.slot {
                Some(Slot::Point(p, FileKind::Operator)) => {
                    finals.insert(p, i);
                }
                Some(Slot::Threshold(e)) => {
                    thresholds.insert(e, i);
                }
                _ => {}
            }
        }
        let mut jobs = Vec::new();
        for (i, b) in self.buffers.iter().enumerate() {
            let Some(Slot::Point(point, FileKind::Partial)) = b.slot else {
                continue;
            };
            let path = EvolutionPath::new(self.metadata.origin, &self.metadata.matching, point)?;
            self.bound(i, Attribute::Value)?;
            let mut errors_available = self.bound(i, Attribute::Error)?;
            for edge in &path.thresholds {
                let Some(&t) = thresholds.get(edge) else {
                    return Err(refused(
                        DatasetProblem::MissingThreshold,
                        format!(
                            "cannot combine {point}: the dataset has no buffer for the threshold \
                             element {edge}"
                        ),
                    ));
                };
                self.bound(t, Attribute::Value)?;
                errors_available &= self.bound(t, Attribute::Error)?;
            }
            let dest = finals.get(&point).copied();
            let with_error = match dest {
                Some(d) => {
                    self.bound(d, Attribute::Value)?;
                    self.writable(d, Attribute::Value)?;
                    let wants = self.bound(d, Attribute::Error)?;
                    if wants {
                        self.writable(d, Attribute::Error)?;
                        if !errors_available {
                            return Err(refused(
                                DatasetProblem::MissingError,
                                format!(
                                    "{} has an error attribute, but the error of {point} cannot \
                                     be computed: the partial or a threshold element on its \
                                     path has no error",
                                    self.describe_at(d, Attribute::Value)
                                ),
                            ));
                        }
                    }
                    wants
                }
                None => {
                    self.writable(i, Attribute::Value)?;
                    if errors_available {
                        self.writable(i, Attribute::Error)?;
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

    /// Combines every partial with the threshold elements on its path (eko's product and error
    /// propagation, as the store's combine), on `kernel`'s threads.
    ///
    /// Where the dataset has a final buffer for the partial's point, the final is written there
    /// (its error too, if it has an error attribute) and the partial is released: its id is no
    /// longer valid, its memory no longer used. Otherwise the final is written in place into the
    /// partial's own memory (scratch: a few row blocks per thread), which becomes the point's
    /// final operator; its error attribute is overwritten with the final's error when every
    /// factor has one, and dropped from the dataset otherwise. Points crossing no threshold are
    /// copied (or relabelled, in place).
    ///
    /// Everything is checked before anything is written: unbound memory
    /// ([`DatasetProblem::Unbound`]), a missing threshold element
    /// ([`DatasetProblem::MissingThreshold`]), a point beyond the matching scales
    /// ([`Error::NoPath`]), a final error that cannot be computed
    /// ([`DatasetProblem::MissingError`]), a destination combine does not write (read-only
    /// memory or a store file, [`DatasetProblem::ReadOnly`]). On failure the dataset and its
    /// memory are unchanged.
    pub fn combine(&mut self, kernel: &Kernel) -> Result<()> {
        let (jobs, threshold_ids) = self.plan()?;
        let origin = self.metadata.origin;
        // The buffers combine reads (threshold elements) and writes (each job's partial and
        // final) are distinct: hand each out once.
        let mut buffers: Vec<Option<&mut Buffer<'a>>> = self.buffers.iter_mut().map(Some).collect();
        let mut take = |id: usize| buffers[id].take().expect("each buffer is used once");
        let host = HostThresholds {
            edges: threshold_ids
                .iter()
                .map(|(e, &id)| {
                    let b: &Buffer<'_> = take(id);
                    let value = b.value.view().expect("checked bound");
                    let error = b.error.as_ref().and_then(Memory::view);
                    (*e, (value, error))
                })
                .collect(),
        };
        let mut groups: BTreeMap<(bool, u8), Vec<Work<'_, 'a>>> = BTreeMap::new();
        for job in &jobs {
            let work = Work {
                job,
                partial: take(job.partial),
                dest: job.dest.map(&mut take),
            };
            if job.path.crosses_threshold() {
                groups
                    .entry(chain_group(origin, job.point))
                    .or_default()
                    .push(work);
            } else if let Some(dest) = work.dest {
                // No threshold crossed: the partial is the final operator.
                let from = &*work.partial;
                let mut pairs = vec![(&from.value, &mut dest.value)];
                if job.with_error {
                    pairs.push((
                        from.error.as_ref().expect("checked"),
                        dest.error.as_mut().expect("checked"),
                    ));
                }
                for (src, dst) in pairs {
                    let src = src.view().expect("checked bound");
                    dst.view_mut().expect("checked writable").assign(&src);
                }
            }
        }
        let mut chain: Option<Chain> = None;
        for group in groups.into_values() {
            let edges = &group[0].job.path.thresholds;
            let next = Chain::build(&host, edges, chain.take(), kernel)?;
            let with_errors = group.iter().any(|w| w.job.with_error);
            let shared = Shared::prepare(&host, &next, with_errors, kernel)?;
            for mut work in group {
                multiply_point(work.product(), &shared, kernel)?;
            }
            chain = Some(next);
        }
        drop(host);
        // The finals exist: partials combined into a separate final are released, those
        // combined in place become final operators (without their error if none was computed).
        for job in &jobs {
            let b = &mut self.buffers[job.partial];
            match job.dest {
                Some(_) => {
                    b.slot = None;
                    b.value = Memory::Unbound;
                    b.error = None;
                }
                None => {
                    b.slot = Some(Slot::Point(job.point, FileKind::Operator));
                    if !job.with_error {
                        b.error = None;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the dataset into the store in `dir`: created with the dataset's grid if missing
    /// or empty, else it must have the same grid ([`Error::Incompatible`]). Threshold buffers
    /// become `thresholds.npz` (replacing the store's), point buffers `{mu2}_nf{nf}.npy` or
    /// `.part.npy` with their errors, replacing what the point had. Point files keep their
    /// buffer's layout (C or Fortran order); threshold elements are stored in C order. Each file
    /// appears atomically; a failure part way leaves the files written so far. Every buffer
    /// must have memory ([`DatasetProblem::Unbound`], checked before anything is written).
    /// Buffers committed into `dir` itself are skipped. Returns the store.
    pub fn write_store(&self, dir: &Path) -> Result<Store> {
        for (i, b) in self.buffers.iter().enumerate() {
            if b.slot.is_some() {
                self.bound(i, Attribute::Value)?;
                self.bound(i, Attribute::Error)?;
            }
        }
        let mut store = Store::create(dir, &self.metadata)?;
        let same_store = self.store.as_ref().is_some_and(|s| {
            std::fs::canonicalize(s.dir()).ok() == std::fs::canonicalize(store.dir()).ok()
        });
        let mut writer = None;
        for b in &self.buffers {
            if let Some(Slot::Threshold(edge)) = b.slot {
                let w = match &mut writer {
                    Some(w) => w,
                    None => writer.insert(store.thresholds_writer()?),
                };
                let (value, error) = b.views();
                w.add(&edge, &value, error.as_ref())?;
            }
        }
        if let Some(w) = writer {
            store.commit_thresholds(w)?;
        }
        for b in &self.buffers {
            let Some(Slot::Point(point, kind)) = b.slot else {
                continue;
            };
            if same_store && matches!(b.value, Memory::Committed(_)) {
                continue; // already in this store
            }
            let (value, error) = b.views();
            match kind {
                FileKind::Partial => store.insert_partial(point, &value, error.as_ref())?,
                _ => store.insert_operator(point, &value, error.as_ref())?,
            }
        }
        Ok(store)
    }

    /// Attaches the dataset to the store in `dir` (created with the dataset's grid if missing
    /// or empty, else it must have the same grid), for [`map`](Self::map). A dataset is
    /// attached once ([`DatasetProblem::AlreadyBound`]).
    pub fn attach_store(&mut self, dir: &Path) -> Result<()> {
        if let Some(s) = &self.store {
            return Err(refused(
                DatasetProblem::AlreadyBound,
                format!("the dataset is already attached to {}", s.dir().display()),
            ));
        }
        self.store = Some(Store::create(dir, &self.metadata)?);
        Ok(())
    }

    /// Creates, in the attached store, the file of a declared attribute of point buffer `id`
    /// (its `.npy`, or `.error.npy` for the error), zero-filled, in the buffer's layout (C order
    /// if none was set), under a temporary name; maps it and binds it. Returns the address of its
    /// first element, for a producer to fill (`shape()` elements in the layout): writable until
    /// [`commit`](Self::commit), readable until the dataset is dropped, which removes the files
    /// of uncommitted attributes.
    ///
    /// Refused without an attached store ([`DatasetProblem::NoStore`]), for an attribute that has
    /// memory ([`DatasetProblem::AlreadyBound`]), and for a threshold buffer (threshold elements
    /// are written together as `thresholds.npz` by [`write_store`](Self::write_store)).
    pub fn map(&mut self, id: usize, attribute: Attribute) -> Result<NonNull<f64>> {
        let Some(store) = &self.store else {
            return Err(refused(
                DatasetProblem::NoStore,
                "the dataset is not attached to a store",
            ));
        };
        let Slot::Point(point, kind) = self.slot(id)? else {
            return Err(invalid(format!(
                "{} is a threshold element: threshold elements are written together as \
                 thresholds.npz when the dataset is written as a store, from host memory",
                self.slot(id)?
            )));
        };
        let file_kind = match attribute {
            Attribute::Value => kind,
            Attribute::Error => kind.companion(),
        };
        let path = store.path_of(&point, file_kind);
        if !matches!(self.attribute(id, attribute)?, Memory::Unbound) {
            return Err(refused(
                DatasetProblem::AlreadyBound,
                format!("{} already has memory", self.describe_at(id, attribute)),
            ));
        }
        let layout = self.buffers[id].layout.unwrap_or(Order::C);
        let mut file = NpyFileMut::<f64>::create(path, &self.shape, layout)?;
        let ptr = NonNull::new(file.data_ptr()).expect("a mapped file is not at address 0");
        let b = &mut self.buffers[id];
        *b.attribute_mut(attribute).expect("checked") = Memory::Mapped(file);
        b.layout = Some(layout);
        Ok(ptr)
    }

    /// Commits the mapped files of buffer `id` (its values and, if it has one, its error, which
    /// must be mapped too) into the attached store: synced, then renamed into place under the
    /// store lock, error first, replacing what the point had. The memory stays mapped, readable,
    /// at the same address until the dataset is dropped; writing it afterwards faults. If the
    /// commit fails ([`Error::Io`]), the temporary files are removed and the attributes are
    /// declared again (unbound; the old addresses are invalid): map and fill them again.
    pub fn commit(&mut self, id: usize) -> Result<()> {
        let slot = self.slot(id)?;
        let Slot::Point(point, kind) = slot else {
            return Err(invalid(format!(
                "{slot} is a threshold element, which is never mapped"
            )));
        };
        for (attribute, memory) in self.buffers[id].memories() {
            match memory {
                Memory::Mapped(_) => {}
                Memory::Unbound => {
                    return Err(refused(
                        DatasetProblem::Unbound,
                        format!(
                            "{} was declared without memory and is not mapped",
                            self.describe_at(id, attribute)
                        ),
                    ));
                }
                _ => {
                    return Err(invalid(format!(
                        "{} is not a store file mapped for a producer (or is committed)",
                        self.describe_at(id, attribute)
                    )));
                }
            }
        }
        let store = self.store.as_mut().expect("mapped buffers imply a store");
        let b = &mut self.buffers[id];
        // Checksums of the final data, the error's first: the value's header records it (or
        // that there is none), as every store write does.
        let error_crc = match &mut b.error {
            Some(Memory::Mapped(file)) => Some(file.record_checksums(ErrorRecord::NotRecorded)),
            _ => None,
        };
        if let Memory::Mapped(file) = &mut b.value {
            file.record_checksums(error_crc.map_or(ErrorRecord::Absent, ErrorRecord::Crc));
        }
        let (value_file, error_file) = (
            Location::file(store.path_of(&point, kind)),
            Location::file(store.path_of(&point, kind.companion())),
        );
        let seal = |memory: &mut Memory<'a>, location: Location| -> Result<_> {
            let Memory::Mapped(file) = std::mem::replace(memory, Memory::Unbound) else {
                unreachable!("checked above")
            };
            let header = file.header().clone();
            let (map, _, pending) = file.into_sealed()?;
            *memory = Memory::Committed(CommittedFile {
                map,
                header,
                file: location,
            });
            Ok(pending)
        };
        let committed = seal(&mut b.value, value_file).and_then(|value| {
            let error = b.error.as_mut().map(|e| seal(e, error_file)).transpose()?;
            store.commit_pending(point, kind, value, error)
        });
        if committed.is_err() {
            b.value = Memory::Unbound;
            if let Some(e) = &mut b.error {
                *e = Memory::Unbound;
            }
        }
        committed
    }
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

/// A job with the buffers it reads and writes.
struct Work<'j, 'a> {
    job: &'j Job,
    partial: &'j mut Buffer<'a>,
    dest: Option<&'j mut Buffer<'a>>,
}

impl Work<'_, '_> {
    /// Where the partial's product goes: the final buffer, or the partial's own memory.
    fn product(&mut self) -> PointProduct<'_> {
        let with_error = self.job.with_error;
        let partial = &mut *self.partial;
        match &mut self.dest {
            Some(dest) => {
                let left = || partial.value.view().expect("checked bound");
                PointProduct {
                    partial: Some(left()),
                    value: Target::Separate {
                        left: left(),
                        out: dest.value.view_mut().expect("checked writable"),
                    },
                    error: with_error.then(|| Target::Separate {
                        left: partial
                            .error
                            .as_ref()
                            .and_then(Memory::view)
                            .expect("checked bound"),
                        out: dest
                            .error
                            .as_mut()
                            .and_then(Memory::view_mut)
                            .expect("checked writable"),
                    }),
                }
            }
            None => PointProduct {
                partial: None,
                value: Target::InPlace(partial.value.view_mut().expect("checked writable")),
                error: with_error.then(|| {
                    Target::InPlace(
                        partial
                            .error
                            .as_mut()
                            .and_then(Memory::view_mut)
                            .expect("checked writable"),
                    )
                }),
            },
        }
    }
}

/// The threshold elements of a dataset, as combine reads them.
struct HostThresholds<'b> {
    edges: HashMap<Edge, (ArrayView4<'b, f64>, Option<ArrayView4<'b, f64>>)>,
}

impl ThresholdOperators for HostThresholds<'_> {
    fn operator(&self, edge: &Edge) -> Result<CowArray<'_, f64, Ix4>> {
        self.edges
            .get(edge)
            .map(|(v, _)| CowArray::from(v.view()))
            .ok_or_else(|| {
                refused(
                    DatasetProblem::MissingThreshold,
                    format!("the dataset has no buffer for the threshold element {edge}"),
                )
            })
    }

    fn error(&self, edge: &Edge) -> Result<Option<CowArray<'_, f64, Ix4>>> {
        Ok(self
            .edges
            .get(edge)
            .and_then(|(_, e)| e.as_ref().map(|e| CowArray::from(e.view()))))
    }
}
