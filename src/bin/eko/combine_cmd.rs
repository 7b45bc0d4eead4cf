//! `eko combine` and `eko clean`.

use std::path::PathBuf;

use crate::Failure;
use eko::combine::{Kernel, clean, combine};
use eko::store::Store;

/// Arguments of `eko combine`.
#[derive(clap::Args)]
pub struct CombineArgs {
    /// The store: partials and thresholds.npz (as merged from the producing jobs).
    store: PathBuf,
    /// Threads for the matrix products (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Fail at once if another eko process is writing to the store, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko combine`.
pub fn run_combine(args: &CombineArgs) -> Result<(), Failure> {
    crate::announce_wait(&args.store, args.no_wait);
    let (mut store, recovery) = Store::open_for_writing(&args.store, crate::wait(args.no_wait))?;
    crate::report_recovery(&args.store, &recovery);
    let kernel = Kernel::new(crate::threads(args.threads)?);
    let bar = crate::progress::Bar::new("combine");
    let report = combine(&mut store, &kernel, |p| {
        bar.update(p.done, p.total, &p.point);
    })?;
    if args.json {
        crate::print_json(&report);
    } else {
        println!(
            "combined {} in {}: {} multiplied by their thresholds ({}, {:.2} s; points {:.2} s), {} crossing no threshold promoted as they were, {} finished by an earlier run",
            crate::count(
                report.combined.len() + report.promoted.len() + report.finished_before.len(),
                "point"
            ),
            args.store.display(),
            report.combined.len(),
            crate::count(report.chains, "chain"),
            report.chain_seconds,
            report.point_seconds,
            report.promoted.len(),
            report.finished_before.len(),
        );
    }
    Ok(())
}

/// Arguments of `eko clean`.
#[derive(clap::Args)]
pub struct CleanArgs {
    /// The store.
    store: PathBuf,
    /// Remove thresholds.npz even though partials still need it (they can no longer be combined).
    #[arg(long)]
    force: bool,
    /// Fail at once if another eko process is writing to the store, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko clean`.
pub fn run_clean(args: &CleanArgs) -> Result<(), Failure> {
    crate::announce_wait(&args.store, args.no_wait);
    let (mut store, recovery) = Store::open_for_writing(&args.store, crate::wait(args.no_wait))?;
    crate::report_recovery(&args.store, &recovery);
    let report = clean(&mut store, args.force)?;
    if args.json {
        crate::print_json(&report);
    } else {
        println!(
            "{}: {}{}",
            args.store.display(),
            if report.removed_thresholds {
                "removed thresholds.npz"
            } else {
                "no thresholds.npz to remove"
            },
            if report.stranded_partials.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} can no longer be combined",
                    crate::count(report.stranded_partials.len(), "partial")
                )
            }
        );
    }
    Ok(())
}
