//! `eko evolve`: a pineappl grid evolved with stores into an FK table (feature `pineappl`).

use std::path::PathBuf;

use crate::Failure;
use eko::store::{EvolutionPoint, Interpolation};

/// Arguments of `eko evolve`.
#[derive(clap::Args)]
pub struct EvolveArgs {
    /// The grid: a pineappl grid file (`.pineappl.lz4`, or uncompressed).
    grid: PathBuf,
    /// The stores, comma-separated: one per convolution type of the grid (a proton-proton grid
    /// takes one, a grid with a PDF and a fragmentation function two). Each store's type is its
    /// operator card's `configs.polarized` and `configs.time_like`.
    #[arg(value_delimiter = ',', required = true, num_args = 1)]
    stores: Vec<PathBuf>,
    /// Where to write the FK table (LZ4-compressed when the name ends in .lz4). Written under a
    /// temporary name and renamed: the file is complete or absent.
    #[arg(short, long, value_name = "FK")]
    output: PathBuf,
    /// alpha_s at the renormalisation scales the grid needs: a .npy of shape (n, 2) or a text
    /// file of two columns, mu2 and alpha_s. Required when an evolved order has a power of
    /// alpha_s; every scale needed (times xir²) must be there.
    #[arg(long, value_name = "FILE")]
    alphas: Option<PathBuf>,
    /// Renormalisation scale factor.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    xir: f64,
    /// Factorisation scale factor: the operators are taken at xif² times the grid's scales.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    xif: f64,
    /// Fragmentation scale factor.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    xia: f64,
    /// Evolve only these orders, as pineappl writes them (for example a2,a2as1): each grid order
    /// whose powers of alpha_s and alpha match one of them, with all its scale logarithms.
    /// Default: every order.
    #[arg(long, value_name = "MASK")]
    orders: Option<String>,
    /// The FK table's basis: pdg (eko's flavour basis) or evol (the evolution basis, as pineko
    /// makes FK tables); the operators' input side is rotated to it.
    #[arg(long, value_enum, default_value = "pdg", value_name = "BASIS")]
    fk_basis: FkBasisArg,
    /// Where a store holds a scale with two nf (a matching scale), the nf to take: MU2:NF,...
    /// An FK table takes one operator per scale; an ambiguous scale is refused without this.
    #[arg(long, value_name = "MU2:NF,...", value_delimiter = ',', value_parser = parse_nf_at)]
    nf_at: Vec<EvolutionPoint>,
    /// Optimise the FK table with pineappl's assumptions about the PDFs at the fitting scale
    /// (Nf6Ind, Nf6Sym, Nf5Ind, Nf5Sym, Nf4Ind, Nf4Sym, Nf3Ind, Nf3Sym). Default: not optimised.
    #[arg(long, value_name = "ASSUMPTIONS")]
    fk_assumptions: Option<String>,
    /// The interpolation for reinterpolating onto the grid's x nodes, as log:DEGREE or
    /// linear:DEGREE, when a store records none (or to override it).
    #[arg(long, value_name = "MODE:DEGREE", value_parser = crate::reshape_cmd::parse_interpolation)]
    interpolation: Option<Interpolation>,
    /// Threads for each reinterpolation and rotation (default 1: each slice is transformed on
    /// a thread of its own while pineappl contracts the previous one on every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The `--fk-basis` values.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FkBasisArg {
    /// The PDG basis (eko's flavour basis): pineappl's Pdg.
    Pdg,
    /// The evolution basis: pineappl's Evol.
    Evol,
}

fn parse_nf_at(point: &str) -> Result<EvolutionPoint, String> {
    point.parse().map_err(|e: eko::Error| e.to_string())
}

/// Runs `eko evolve`.
#[cfg(not(feature = "pineappl"))]
pub fn run_evolve(_args: &EvolveArgs) -> Result<(), Failure> {
    Err(Failure::Usage(
        "this eko was built without pineappl (the cargo feature `pineappl`, off in libeko's \
         default build because the pineappl crate is GPL-3.0-or-later): build it with \
         `cargo install --locked --path . --features pineappl`"
            .into(),
    ))
}

/// Runs `eko evolve`.
#[cfg(feature = "pineappl")]
pub fn run_evolve(args: &EvolveArgs) -> Result<(), Failure> {
    use eko::pineappl::{EvolveOptions, FkAssumptions, FkBasis, read_alphas, read_grid};
    use eko::store::Store;
    use std::str::FromStr;
    use std::time::Instant;

    let started = Instant::now();
    let threads = crate::threads(Some(args.threads.unwrap_or(1)))?;
    let assumptions = args
        .fk_assumptions
        .as_deref()
        .map(|a| {
            FkAssumptions::from_str(a).map_err(|_| {
                Failure::Usage(format!(
                    "--fk-assumptions {a:?} is not one of Nf6Ind, Nf6Sym, Nf5Ind, Nf5Sym, \
                     Nf4Ind, Nf4Sym, Nf3Ind, Nf3Sym"
                ))
            })
        })
        .transpose()?;
    if args.output.is_dir() {
        return Err(Failure::Usage(format!(
            "the FK table's path {} is a directory; give a file name (for example fk.pineappl.lz4)",
            args.output.display()
        )));
    }
    let grid = read_grid(&args.grid)?;
    let order_mask = match &args.orders {
        None => Vec::new(),
        Some(list) => order_mask(&grid, list)?,
    };
    let stores = args
        .stores
        .iter()
        .map(Store::open)
        .collect::<eko::Result<Vec<_>>>()?;
    let options = EvolveOptions {
        order_mask,
        xi: (args.xir, args.xif, args.xia),
        alphas: args.alphas.as_deref().map(read_alphas).transpose()?,
        fk_basis: match args.fk_basis {
            FkBasisArg::Pdg => FkBasis::Pdg,
            FkBasisArg::Evol => FkBasis::Evol,
        },
        nf_at: args.nf_at.clone(),
        interpolation: args.interpolation,
        threads,
    };
    let store_refs: Vec<&Store> = stores.iter().collect();
    // Everything checked before any operator is read or anything written.
    let planning = Instant::now();
    let plan = eko::pineappl::plan(&grid, &store_refs, &options)?;
    let plan_seconds = planning.elapsed().as_secs_f64();
    // The temporary file, beside the output: an unwritable directory fails now, and a failure
    // below removes it.
    let output = eko::pineappl::FkTableOutput::create(&args.output)?;
    let bar = crate::progress::Bar::new("evolve");
    let scales = plan.scales();
    let (mut fk, report) = plan.run(&grid, &mut |done, total| {
        bar.update(done, total, &format_args!("mu2 = {}", scales[done]));
    })?;
    bar.update(report.slices, report.slices, &"done");
    if let Some(a) = assumptions {
        fk.optimize(a);
    }
    output.write(&fk)?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        crate::print_json(&serde_json::json!({
            "output": args.output,
            "report": report,
            "plan_seconds": plan_seconds,
            "scales": scales,
            "fk_assumptions": args.fk_assumptions,
            "seconds": seconds,
            "peak_memory_bytes": crate::demo::peak_memory(),
        }));
    } else {
        println!(
            "evolved {} with {} into {} in {seconds:.2} s: {} (one per scale, mu2 {} to {}{}), \
             {:.1} MB of operators served in {:.3} s ({:.1} % of the time), peak memory \
             {}{}{}{}",
            args.grid.display(),
            crate::count(report.stores, "store"),
            args.output.display(),
            crate::count(report.slices, "slice"),
            scales.first().copied().unwrap_or(f64::NAN),
            scales.last().copied().unwrap_or(f64::NAN),
            if report.stores > 1 { ", per store" } else { "" },
            report.bytes as f64 / 1e6,
            report.operator_seconds,
            100.0 * report.operator_seconds / report.seconds.max(1e-9),
            crate::demo::peak_memory()
                .map_or_else(|| "unknown".into(), |b| format!("{:.0} MB", b as f64 / 1e6)),
            if report.reinterpolated {
                "; reinterpolated onto the grid's x nodes"
            } else {
                ""
            },
            if report.rotated { "; rotated" } else { "" },
            match &args.fk_assumptions {
                Some(a) => format!("; optimised with {a}"),
                None => String::new(),
            },
        );
    }
    Ok(())
}

/// The order mask `--orders` asks for: each grid order whose (alpha_s, alpha) powers match one
/// of the listed orders.
#[cfg(feature = "pineappl")]
fn order_mask(grid: &eko::pineappl::Grid, list: &str) -> Result<Vec<bool>, Failure> {
    use std::str::FromStr;
    let orders = grid.orders();
    let mut mask = vec![false; orders.len()];
    for spec in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let wanted = eko::pineappl::Order::from_str(spec).map_err(|e| {
            Failure::Usage(format!(
                "--orders: {spec:?} is not an order like a2 or a2as1 ({e})"
            ))
        })?;
        let mut any = false;
        for (m, o) in mask.iter_mut().zip(orders) {
            if o.alphas == wanted.alphas && o.alpha == wanted.alpha {
                *m = true;
                any = true;
            }
        }
        if !any {
            let have: Vec<String> = orders
                .iter()
                .map(|o| format!("as{}a{}", o.alphas, o.alpha))
                .collect();
            return Err(Failure::Usage(format!(
                "--orders: the grid has no order {spec} (it has {})",
                have.join(", ")
            )));
        }
    }
    if !mask.iter().any(|m| *m) {
        return Err(Failure::Usage("--orders selects no order".into()));
    }
    Ok(mask)
}
