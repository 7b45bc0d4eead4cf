//! Evolving pineappl grids into FK tables with stores (cargo feature `pineappl`).
//!
//! [`evolve`] feeds pineappl's `Grid::evolve` with [`Slices`]: one store per convolution type
//! the grid has (a proton-proton grid with two unpolarised PDFs takes one store, a grid with a PDF
//! and a fragmentation function two), each serving exactly the scales the grid needs, in
//! ascending μ², as zero-copy views of the mapped operators (`CowArray::from(view)`: pineappl
//! copies the rows it uses, nothing else is copied). Where a store's output x grid does not
//! contain the grid's x nodes, its operators are reinterpolated onto them on the fly; where the
//! FK table is asked in the evolution basis, the input side is rotated to it. Both transforms
//! make one array per slice (pineappl takes items that outlive the iterator), never the whole
//! store.
//!
//! Everything the grid needs is checked by [`plan`] before any operator is touched: a scale the
//! store lacks (pineappl itself finds it only after evolving every other slice), a scale held with
//! two nf that [`EvolveOptions::nf_at`] does not resolve, an x node outside the store's x grid, a
//! pid the operators do not have, a convolution type no store serves, an alpha_s the table lacks.
//!
//! The pineappl crate is GPL-3.0-or-later: this module exists only with the `pineappl` feature,
//! so libeko's default build does not contain it.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::time::{Duration, Instant};

pub use ::pineappl::convolutions::ConvType;
pub use ::pineappl::evolution::{AlphasTable, OperatorSliceInfo};
pub use ::pineappl::fk_table::{FkAssumptions, FkTable};
pub use ::pineappl::grid::Grid;
pub use ::pineappl::pids::PidBasis;

pub use ::pineappl::boc::Order;
use ::pineappl::boc::ScaleFuncForm;
use ::pineappl::subgrid::Subgrid as _;
use ndarray::{Array4, CowArray, Ix4};

use crate::error::{Error, IoContext, Result};
use crate::slices::{SliceIter, SliceSelection, Slices, same_node};
use crate::store::metadata::{Basis, Interpolation, Metadata};
use crate::store::{EvolutionPoint, Store};
use crate::transform::{Rotation, Transform, TransformSpec};

/// The basis of the FK table's side (the operators' input side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FkBasis {
    /// The PDG (eko's flavour) basis: pineappl's `PidBasis::Pdg`.
    #[default]
    Pdg,
    /// The evolution basis, as pineko makes FK tables: pineappl's `PidBasis::Evol`.
    Evol,
}

/// How to evolve: pineappl's arguments, and libeko's choices.
#[derive(Debug, Clone, PartialEq)]
pub struct EvolveOptions {
    /// Which of the grid's orders to evolve (pineappl's `order_mask`: one flag per
    /// `Grid::orders()`); empty: all.
    pub order_mask: Vec<bool>,
    /// Scale factors `(xir, xif, xia)`: renormalisation, factorisation, fragmentation.
    pub xi: (f64, f64, f64),
    /// alpha_s at the renormalisation scales: pairs `(μ², alpha_s)`. Needed when an evolved
    /// order has a power of alpha_s; every scale the grid needs (times `xir²`) must be there.
    pub alphas: Option<Vec<(f64, f64)>>,
    /// The FK table's basis.
    pub fk_basis: FkBasis,
    /// The nf to take where a store holds a scale with several nf.
    pub nf_at: Vec<EvolutionPoint>,
    /// The interpolation to reinterpolate with, when a store records none (or to override it).
    pub interpolation: Option<Interpolation>,
    /// Threads for each transform (default 1: transformed slices are made one ahead on a thread
    /// of their own, beside pineappl's contraction, which uses its own rayon pool).
    pub threads: usize,
}

impl Default for EvolveOptions {
    fn default() -> Self {
        EvolveOptions {
            order_mask: Vec::new(),
            xi: (1.0, 1.0, 1.0),
            alphas: None,
            fk_basis: FkBasis::Pdg,
            nf_at: Vec::new(),
            interpolation: None,
            threads: 1,
        }
    }
}

/// What an evolution did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EvolveReport {
    /// Slices fed to pineappl, per store used.
    pub slices: usize,
    /// Stores used, in the order given.
    pub stores: usize,
    /// Bytes of mapped operators served (per store, summed).
    pub bytes: u64,
    /// Whether operators were reinterpolated onto the grid's x nodes.
    pub reinterpolated: bool,
    /// Whether a side was rotated (to the FK basis or the grid's basis).
    pub rotated: bool,
    /// Time spent producing slices (mapping, transforming), in seconds.
    pub operator_seconds: f64,
    /// Wall time of the whole evolution, in seconds.
    pub seconds: f64,
}

/// The convolution type a store's operators evolve: eko's operator card
/// `configs.polarized` and `configs.time_like` (an unpolarised PDF when the card does not say).
pub fn conv_type(metadata: &Metadata) -> ConvType {
    let (polarized, time_like) = metadata.convolution();
    ConvType::new(polarized, time_like)
}

fn conv_name(conv: ConvType) -> &'static str {
    match conv {
        ConvType::UnpolPDF => "unpolarised PDF",
        ConvType::PolPDF => "polarised PDF",
        ConvType::UnpolFF => "unpolarised fragmentation function",
        ConvType::PolFF => "polarised fragmentation function",
    }
}

/// One store's part in an evolution.
#[derive(Debug)]
struct Feed {
    slices: Slices,
    conv: ConvType,
}

/// An evolution checked and ready: every needed slice chosen and mapped, transforms built.
#[derive(Debug)]
pub struct EvolvePlan {
    feeds: Vec<Feed>,
    order_mask: Vec<bool>,
    xi: (f64, f64, f64),
    /// `(μ², alpha_s)`, empty when no evolved order needs alpha_s.
    alphas: Vec<(f64, f64)>,
    pid_basis: PidBasis,
    reinterpolated: bool,
    rotated: bool,
}

impl EvolvePlan {
    /// The number of slices each store feeds (one per scale the grid needs).
    pub fn slices(&self) -> usize {
        self.feeds.first().map_or(0, |f| f.slices.len())
    }

    /// The scales (μ², GeV²) fed, ascending.
    pub fn scales(&self) -> Vec<f64> {
        self.feeds.first().map_or_else(Vec::new, |f| {
            f.slices.points().iter().map(|p| p.mu2).collect()
        })
    }

    /// Each used store's slices.
    pub fn store_slices(&self) -> impl Iterator<Item = &Slices> {
        self.feeds.iter().map(|f| &f.slices)
    }

    /// Evolves `grid` (the grid this plan was made for) into an FK table, calling
    /// `progress(done, total)` after each slice.
    pub fn run(
        &self,
        grid: &Grid,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(FkTable, EvolveReport)> {
        let start = Instant::now();
        let spent = Cell::new(Duration::ZERO);
        let progress = RefCell::new(progress);
        let total = self.slices();
        let alphas = AlphasTable {
            ren1: self.alphas.iter().map(|e| e.0).collect(),
            alphas: self.alphas.iter().map(|e| e.1).collect(),
        };
        let fk = std::thread::scope(|scope| {
            let mut iters = Vec::with_capacity(self.feeds.len());
            for (n, feed) in self.feeds.iter().enumerate() {
                let slices = &feed.slices;
                let source = if slices.transform().is_some() {
                    // Transformed slices are made one ahead, beside pineappl's contraction of
                    // the previous one. Dropped early (pineappl refused a slice), the receiver
                    // makes the next send fail and the producer stop.
                    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
                    scope.spawn(move || produce(slices, &sender));
                    Source::Pipelined {
                        slices,
                        next: 0,
                        receiver,
                    }
                } else {
                    Source::Mapped(slices.iter())
                };
                iters.push(FeedIter {
                    template: slice_info(slices, 0, self.pid_basis, feed.conv),
                    source,
                    spent: &spent,
                    progress: (n == 0).then_some((&progress, total)),
                });
            }
            grid.evolve(iters, &self.order_mask, self.xi, &alphas)
        })
        .map_err(|e| Error::Evolve {
            reason: format!("pineappl: {e:#}"),
        })?;
        let bytes = self
            .feeds
            .iter()
            .map(|f| {
                (0..f.slices.len())
                    .map(|i| f.slices.file(i).npy().data_bytes().len() as u64)
                    .sum::<u64>()
            })
            .sum();
        Ok((
            fk,
            EvolveReport {
                slices: total,
                stores: self.feeds.len(),
                bytes,
                reinterpolated: self.reinterpolated,
                rotated: self.rotated,
                operator_seconds: spent.get().as_secs_f64(),
                seconds: start.elapsed().as_secs_f64(),
            },
        ))
    }
}

type Progress<'p, 'f> = (&'p RefCell<&'f mut (dyn FnMut(usize, usize) + 'f)>, usize);

/// pineappl's description of slice `index` of `slices`, whose input side is in `pid_basis`, for
/// a convolution of type `conv_type`: index 1 the grid side (eko's output side), index 0 the FK
/// table side (eko's input side).
pub fn slice_info(
    slices: &Slices,
    index: usize,
    pid_basis: PidBasis,
    conv_type: ConvType,
) -> OperatorSliceInfo {
    OperatorSliceInfo {
        fac0: slices.origin().mu2,
        pids0: slices.input_side().pids.clone(),
        x0: slices.input_side().xgrid.clone(),
        fac1: slices.info(index).fac1,
        pids1: slices.output_side().pids.clone(),
        x1: slices.output_side().xgrid.clone(),
        pid_basis,
        conv_type,
    }
}

/// Makes every transformed slice in order and sends it, stopping at the first error (sent on)
/// or when the receiver is gone. A panic in the transform becomes an error.
fn produce(slices: &Slices, sender: &std::sync::mpsc::SyncSender<Result<Array4<f64>>>) {
    for index in 0..slices.len() {
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            slices.get(index).map(CowArray::into_owned)
        }))
        .unwrap_or_else(|_| {
            Err(Error::Evolve {
                reason: format!(
                    "transforming the slice at {} failed",
                    slices.points()[index]
                ),
            })
        });
        slices.release(index);
        let failed = made.is_err();
        if sender.send(made).is_err() || failed {
            return;
        }
    }
}

/// Where one store's slices come from.
enum Source<'a> {
    /// Zero-copy views of the mapped files.
    Mapped(SliceIter<'a>),
    /// Transformed slices, made one ahead by a producer thread.
    Pipelined {
        slices: &'a Slices,
        next: usize,
        receiver: std::sync::mpsc::Receiver<Result<Array4<f64>>>,
    },
}

/// One store's slices as pineappl's items; the time pineappl waits for them is counted.
struct FeedIter<'a, 'p, 'f> {
    template: OperatorSliceInfo,
    source: Source<'a>,
    spent: &'p Cell<Duration>,
    progress: Option<Progress<'p, 'f>>,
}

impl<'a> Iterator for FeedIter<'a, '_, '_> {
    type Item = Result<(OperatorSliceInfo, CowArray<'a, f64, Ix4>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = Instant::now();
        let item = match &mut self.source {
            Source::Mapped(iter) => iter.next(),
            Source::Pipelined {
                slices,
                next,
                receiver,
            } => (*next < slices.len()).then(|| {
                let index = *next;
                *next += 1;
                match receiver.recv() {
                    Ok(made) => made.map(|array| (slices.info(index), CowArray::from(array))),
                    Err(_) => Err(Error::Evolve {
                        reason: "the slice producer stopped early".into(),
                    }),
                }
            }),
        };
        self.spent.set(self.spent.get() + start.elapsed());
        let item = item?;
        if let (Some((progress, total)), Ok((info, _))) = (&self.progress, &item) {
            // Called when pineappl asks for the next slice: `index` slices are done.
            (progress.borrow_mut())(info.index, *total);
        }
        Some(item.map(|(info, array)| {
            let mut slice = self.template.clone();
            slice.fac1 = info.fac1;
            (slice, array)
        }))
    }
}

/// Evolves `grid` with `stores` into an FK table: [`plan`], then [`EvolvePlan::run`].
pub fn evolve(
    grid: &Grid,
    stores: &[&Store],
    options: &EvolveOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(FkTable, EvolveReport)> {
    plan(grid, stores, options)?.run(grid, progress)
}

/// Checks that `stores` can evolve `grid` as `options` say, and prepares the slices; see the
/// module docs for what is checked. Reads no operator data.
pub fn plan(grid: &Grid, stores: &[&Store], options: &EvolveOptions) -> Result<EvolvePlan> {
    let bad = |reason: String| Error::Evolve { reason };
    let orders = grid.orders();
    if !options.order_mask.is_empty() && options.order_mask.len() != orders.len() {
        return Err(bad(format!(
            "the order mask has {} entries; the grid has {} orders",
            options.order_mask.len(),
            orders.len()
        )));
    }
    let (xir, xif, xia) = options.xi;
    for (name, v) in [("xir", xir), ("xif", xif), ("xia", xia)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(bad(format!("{name} = {v} is not a positive number")));
        }
    }
    if stores.is_empty() {
        return Err(bad("no store given".into()));
    }

    // Which store evolves which convolution.
    let store_convs: Vec<ConvType> = stores.iter().map(|s| conv_type(s.metadata())).collect();
    let mut used = vec![false; stores.len()];
    for (i, conv) in grid.convolutions().iter().enumerate() {
        let wanted = conv.conv_type();
        match store_convs.iter().position(|c| *c == wanted) {
            Some(s) => used[s] = true,
            None => {
                let given: Vec<String> = stores
                    .iter()
                    .zip(&store_convs)
                    .map(|(s, c)| format!("{} ({})", s.dir().display(), conv_name(*c)))
                    .collect();
                return Err(bad(format!(
                    "the grid's convolution {} is a {} and no given store evolves one (given: {}; \
                     a store's type is its operator card's configs.polarized and \
                     configs.time_like)",
                    i + 1,
                    conv_name(wanted),
                    given.join(", ")
                )));
            }
        }
    }
    if let Some(unused) = used.iter().position(|u| !u) {
        let first = store_convs
            .iter()
            .position(|c| *c == store_convs[unused])
            .filter(|&f| f != unused);
        return Err(bad(format!(
            "the store {} ({}) evolves none of the grid's convolutions{}",
            stores[unused].dir().display(),
            conv_name(store_convs[unused]),
            match first {
                Some(f) => format!(
                    ": {} is of the same type, and pineappl takes one store per type",
                    stores[f].dir().display()
                ),
                None => String::new(),
            }
        )));
    }

    // The scales: pineappl evolves one process scale per step, for every convolution.
    let info = grid.evolve_info(&options.order_mask);
    if info.fac1.is_empty() && info.frg1.is_empty() {
        return Err(bad(
            "the grid has nothing to evolve: every subgrid of the selected orders is empty".into(),
        ));
    }
    let fac: Vec<f64> = info.fac1.iter().map(|s| xif * xif * s).collect();
    let frg: Vec<f64> = info.frg1.iter().map(|s| xia * xia * s).collect();
    let has_ff = grid.convolutions().iter().any(|c| c.conv_type().is_ff());
    let has_pdf = grid.convolutions().iter().any(|c| c.conv_type().is_pdf());
    let scales = if matches!(grid.scales().fac, ScaleFuncForm::NoScale) {
        frg.clone()
    } else {
        fac.clone()
    };
    if has_ff && has_pdf && !same_set(&fac, &frg) {
        return Err(bad(
            "the grid's fragmentation scales differ from its factorisation scales; pineappl \
             evolves one scale per step for every convolution and cannot evolve it"
                .into(),
        ));
    }

    // alpha_s: every renormalisation scale an evolved order with a power of alpha_s needs.
    let needed_alphas = alphas_scales(grid, &options.order_mask, options.xi);
    let alphas = match (&options.alphas, needed_alphas.is_empty()) {
        (_, true) => Vec::new(),
        (None, false) => {
            return Err(bad(format!(
                "the grid's orders need alpha_s at {} renormalisation scales (mu2 = {}); give them \
                 (eko evolve --alphas FILE, Rust EvolveOptions::alphas)",
                needed_alphas.len(),
                short_list(&needed_alphas)
            )));
        }
        (Some(table), false) => {
            let missing: Vec<f64> = needed_alphas
                .iter()
                .copied()
                .filter(|m| !table.iter().any(|(mu2, _)| same_node(*mu2, *m)))
                .collect();
            if !missing.is_empty() {
                return Err(bad(format!(
                    "no alpha_s for mur2 = {} ({} of the {} renormalisation scales the grid \
                     needs{}); the alpha_s table has {} entries",
                    short_list(&missing),
                    missing.len(),
                    needed_alphas.len(),
                    if xir == 1.0 {
                        String::new()
                    } else {
                        format!(", times xir^2 = {}", xir * xir)
                    },
                    table.len()
                )));
            }
            if let Some((mu2, a)) = table.iter().find(|(m, a)| !m.is_finite() || !a.is_finite()) {
                return Err(bad(format!(
                    "the alpha_s table has a non-finite entry (mu2 = {mu2}, alpha_s = {a})"
                )));
            }
            table.clone()
        }
    };

    // Each store: its slices at those scales, on the grid's x nodes, in the right bases.
    let pid_basis = match options.fk_basis {
        FkBasis::Pdg => PidBasis::Pdg,
        FkBasis::Evol => PidBasis::Evol,
    };
    let mut feeds = Vec::new();
    let (mut reinterpolated, mut rotated) = (false, false);
    for (s, store) in stores.iter().enumerate() {
        let conv_indices: Vec<usize> = grid
            .convolutions()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.conv_type() == store_convs[s])
            .map(|(i, _)| i)
            .collect();
        let spec = store_spec(grid, store, &info.x1, options)?;
        reinterpolated |= spec.output.xgrid.is_some();
        rotated |= spec.output.rotation.is_some() || spec.input.rotation.is_some();
        let transform = if spec.is_empty() {
            None
        } else {
            Some(Transform::new(store.metadata(), &spec)?.with_threads(options.threads))
        };
        let selection = SliceSelection {
            scales: Some(scales.clone()),
            nf_at: options.nf_at.clone(),
        };
        let slices = Slices::new(store, &selection, transform)?;
        check_pids(grid, &conv_indices, &slices)?;
        feeds.push(Feed {
            slices,
            conv: store_convs[s],
        });
    }
    Ok(EvolvePlan {
        feeds,
        order_mask: options.order_mask.clone(),
        xi: options.xi,
        alphas,
        pid_basis,
        reinterpolated,
        rotated,
    })
}

/// The transform a store's operators need for `grid`: the output side onto the grid's x nodes
/// when the store's grid lacks some, and into the grid's basis; the input side into the FK basis.
fn store_spec(
    grid: &Grid,
    store: &Store,
    grid_x: &[f64],
    options: &EvolveOptions,
) -> Result<TransformSpec> {
    let metadata = store.metadata();
    let dir = store.dir().display();
    let output = metadata.output_side();
    let input = metadata.input_side();
    let mut spec = TransformSpec {
        interpolation: options.interpolation,
        ..TransformSpec::default()
    };
    let covered = grid_x
        .iter()
        .all(|x| output.xgrid.iter().any(|y| same_node(*x, *y)));
    if !covered {
        let (lo, hi) = (output.xgrid[0], output.xgrid[output.xgrid.len() - 1]);
        let outside: Vec<f64> = grid_x
            .iter()
            .copied()
            .filter(|x| (*x < lo && !same_node(*x, lo)) || (*x > hi && !same_node(*x, hi)))
            .collect();
        if !outside.is_empty() {
            return Err(Error::Evolve {
                reason: format!(
                    "the store {dir}'s output x grid runs from {lo} to {hi} and cannot cover the \
                     grid's x = {} ({} of its {} x nodes; interpolation does not extrapolate): \
                     compute the EKO on an x grid that reaches them",
                    short_list(&outside),
                    outside.len(),
                    grid_x.len()
                ),
            });
        }
        spec.output.xgrid = Some(grid_x.to_vec());
        if metadata.interpolation().is_none() && options.interpolation.is_none() {
            return Err(Error::Evolve {
                reason: format!(
                    "the grid's x nodes are not on the store {dir}'s x grid, and the store records \
                     no interpolation to reinterpolate with: give it (eko evolve --interpolation \
                     log:4, Rust EvolveOptions::interpolation)"
                ),
            });
        }
    }
    let grid_basis = match grid.pid_basis() {
        PidBasis::Pdg => Basis::Flavor,
        PidBasis::Evol => Basis::Evol,
    };
    spec.output.rotation = rotation_to(output.basis(), grid_basis, "output", &dir)?;
    let fk_basis = match options.fk_basis {
        FkBasis::Pdg => Basis::Flavor,
        FkBasis::Evol => Basis::Evol,
    };
    spec.input.rotation = rotation_to(input.basis(), fk_basis, "input", &dir)?;
    Ok(spec)
}

fn rotation_to(
    from: Basis,
    to: Basis,
    side: &str,
    dir: &std::path::Display<'_>,
) -> Result<Option<Rotation>> {
    match from {
        f if f == to => Ok(None),
        Basis::Custom => Err(Error::Evolve {
            reason: format!(
                "the store {dir}'s {side} side is in a custom basis, which pineappl cannot name; \
                 reshape it to the {} basis first",
                to.name()
            ),
        }),
        _ => Ok(Some(Rotation::To(to))),
    }
}

/// Every pid the grid's channels use in the convolutions `store` evolves must be an output pid
/// of its slices (pineappl silently drops the others).
fn check_pids(grid: &Grid, conv_indices: &[usize], slices: &Slices) -> Result<()> {
    let gluon_zero = *grid.pid_basis() == PidBasis::Pdg;
    let have = &slices.output_side().pids;
    let mut missing: Vec<i32> = grid
        .channels()
        .iter()
        .flat_map(|c| c.entry().iter())
        .flat_map(|(pids, _)| conv_indices.iter().map(move |&i| pids[i]))
        .map(|p| if gluon_zero && p == 0 { 21 } else { p })
        .filter(|p| !have.contains(p))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Evolve {
        reason: format!(
            "the grid's channels use pids {missing:?}, which the store {}'s operators do not have \
             (output pids {have:?})",
            slices.dir().display()
        ),
    })
}

/// The renormalisation scales (times `xir²`) at which the evolved orders need alpha_s, as
/// pineappl's evolution looks them up. Ascending, deduplicated.
fn alphas_scales(grid: &Grid, order_mask: &[bool], (xir, xif, xia): (f64, f64, f64)) -> Vec<f64> {
    let one = |x: f64| same_node(x, 1.0);
    let mut scales = Vec::new();
    let subgrids = grid.subgrids();
    for ((o, _, _), subgrid) in subgrids.indexed_iter() {
        let order: &Order = &grid.orders()[o];
        let enabled = order_mask.get(o).copied().unwrap_or(true);
        // pineappl skips log terms whose scale factor is 1.
        let skipped = (order.logxir > 0 && one(xir))
            || (order.logxif > 0 && one(xif))
            || (order.logxia > 0 && one(xia));
        if !enabled || skipped || order.alphas == 0 || subgrid.is_empty() {
            continue;
        }
        let nodes = subgrid.node_values();
        scales.extend(
            grid.scales()
                .ren
                .calc(&nodes, grid.kinematics())
                .iter()
                .map(|r| xir * xir * r),
        );
    }
    scales.sort_by(f64::total_cmp);
    scales.dedup_by(|a, b| same_node(*a, *b));
    scales
}

fn same_set(a: &[f64], b: &[f64]) -> bool {
    a.iter().all(|x| b.iter().any(|y| same_node(*x, *y)))
        && b.iter().all(|x| a.iter().any(|y| same_node(*x, *y)))
}

fn short_list(values: &[f64]) -> String {
    const SHOWN: usize = 6;
    let mut text: Vec<String> = values.iter().take(SHOWN).map(|v| v.to_string()).collect();
    if values.len() > SHOWN {
        text.push(format!("... ({} more)", values.len() - SHOWN));
    }
    text.join(", ")
}

/// Reads an alpha_s table: a `.npy` of shape `(n, 2)` (f64) or a text file of two columns, μ²
/// and alpha_s (spaces or commas; `#` starts a comment).
pub fn read_alphas(path: &Path) -> Result<Vec<(f64, f64)>> {
    let bad = |reason: String| Error::InvalidArgument {
        reason: format!("the alpha_s file {}: {reason}", path.display()),
    };
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let table: Vec<(f64, f64)> = if bytes.starts_with(b"\x93NUMPY") {
        let file = crate::npy::NpyFile::open(path)?;
        let shape = file.header().shape.clone();
        if shape.len() != 2 || shape[1] != 2 {
            return Err(bad(format!(
                "holds an array of shape {shape:?}; give shape (n, 2): mu2 and alpha_s"
            )));
        }
        let array = file.read::<f64>().map_err(|_| {
            bad(format!(
                "holds {} values; give float64",
                file.header().dtype.descr()
            ))
        })?;
        let array = array
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|e| bad(e.to_string()))?;
        array.rows().into_iter().map(|r| (r[0], r[1])).collect()
    } else {
        let text = String::from_utf8(bytes).map_err(|_| bad("neither .npy nor text".into()))?;
        let mut table = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("");
            let words: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .collect();
            match words.as_slice() {
                [] => continue,
                [mu2, a] => {
                    let parse = |w: &str| {
                        w.parse::<f64>()
                            .map_err(|_| bad(format!("line {}: {w:?} is not a number", n + 1)))
                    };
                    table.push((parse(mu2)?, parse(a)?));
                }
                _ => {
                    return Err(bad(format!(
                        "line {} has {} columns; give two: mu2 and alpha_s",
                        n + 1,
                        words.len()
                    )));
                }
            }
        }
        table
    };
    if table.is_empty() {
        return Err(bad("holds no entry".into()));
    }
    if let Some((mu2, a)) = table
        .iter()
        .find(|(m, a)| !(m.is_finite() && *m > 0.0 && a.is_finite()))
    {
        return Err(bad(format!(
            "entry (mu2 = {mu2}, alpha_s = {a}) is not a positive scale with a finite alpha_s"
        )));
    }
    Ok(table)
}

/// Reads a pineappl grid (`.pineappl.lz4`, or uncompressed): pineappl's reader, with a file too
/// short or malformed to be a grid refused with an error instead of pineappl's panic.
pub fn read_grid(path: &Path) -> Result<Grid> {
    let location = crate::error::Location::file(path);
    let bad = |reason: String| Error::InvalidArgument {
        reason: format!("{location}: not a pineappl grid: {reason}"),
    };
    let file = std::fs::File::open(path).io_context(&location, "open")?;
    let len = file.metadata().io_context(&location, "stat")?.len();
    if len < 16 {
        return Err(bad(format!("{len} bytes, fewer than a grid's header")));
    }
    // pineappl indexes its header without checking the length of what it decompressed; a
    // malformed file must not take the caller down.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Grid::read(file))) {
        Ok(Ok(grid)) => Ok(grid),
        Ok(Err(e)) => Err(bad(e.to_string())),
        Err(_) => Err(bad("pineappl's reader failed on it".into())),
    }
}

/// Writes an FK table to `path`, LZ4-compressed when the name ends in `.lz4` (as pineappl
/// writes `.pineappl.lz4`); see [`FkTableOutput`].
pub fn write_fk_table(fk: &FkTable, path: &Path) -> Result<()> {
    FkTableOutput::create(path)?.write(fk)
}

/// An FK table file about to be written: a temporary file beside the destination, created
/// first (so that an unwritable directory fails before the evolution) and removed if dropped
/// unwritten. [`write`](Self::write) fills it, syncs it and renames it over any file there: the
/// destination holds the old file or the complete new one, never part of one. Temporary files
/// of killed writers beside the destination are removed on creation.
#[derive(Debug)]
pub struct FkTableOutput {
    pending: crate::atomic::PendingFile,
    lz4: bool,
}

impl FkTableOutput {
    /// Prepares writing to `path` (LZ4-compressed when the name ends in `.lz4`).
    pub fn create(path: &Path) -> Result<FkTableOutput> {
        crate::atomic::remove_dead_for(path)?;
        Ok(FkTableOutput {
            pending: crate::atomic::PendingFile::create(path)?,
            lz4: path.extension().is_some_and(|e| e == "lz4"),
        })
    }

    /// Writes `fk` and renames it into place.
    pub fn write(mut self, fk: &FkTable) -> Result<()> {
        let location = self.pending.location().clone();
        let written = if self.lz4 {
            fk.grid().write_lz4(self.pending.file())
        } else {
            fk.grid().write(self.pending.file())
        };
        written.map_err(|e| Error::Io {
            file: location,
            operation: "write the FK table",
            source: std::io::Error::other(e.to_string()),
        })?;
        self.pending.commit()
    }
}
