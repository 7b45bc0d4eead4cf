//! `eko import`: a Python eko archive into a store.

use std::path::PathBuf;
use std::time::Instant;

use crate::Failure;
use eko::archive::{ImportOptions, import_with};

/// Arguments of `eko import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The archive eko wrote (a plain .tar: eko 0.15, 0.14, 0.13, or 0.8 with --nf).
    archive: PathBuf,
    /// The new store (must not exist, or be an empty directory).
    store: PathBuf,
    /// The nf of every point of an eko 0.8 archive (one rank-5 array), which records none;
    /// refused for the newer layouts, which record their own.
    #[arg(long, value_name = "N")]
    nf: Option<u8>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko import`.
pub fn run_import(args: &ImportArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let bar = crate::progress::Bar::new("import");
    let options = ImportOptions { nf: args.nf };
    let report = import_with(&args.archive, &args.store, &options, |p| {
        bar.update(p.done, p.total, &"payloads")
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        crate::print_json(&serde_json::json!({"report": report, "seconds": seconds}));
    } else {
        println!(
            "imported {} (eko {}, data_version {}) into {} in {:.2} s: {}, {}, {}{}{}",
            args.archive.display(),
            report.eko_version,
            report.data_version,
            args.store.display(),
            seconds,
            crate::count(report.operators.len(), "final operator"),
            crate::count(report.partials.len(), "partial"),
            crate::count(report.thresholds.len(), "threshold operator"),
            if report.skipped_parts > 0 {
                format!(
                    "; {} skipped, their targets' final operators are imported",
                    crate::count(report.skipped_parts, "evolution part")
                )
            } else {
                String::new()
            },
            if report.ignored_entries.is_empty() {
                String::new()
            } else {
                format!(
                    "; ignored {} entries outside eko's layout: {}",
                    report.ignored_entries.len(),
                    report.ignored_entries.join(", ")
                )
            }
        );
    }
    Ok(())
}
