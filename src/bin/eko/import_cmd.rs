//! `eko import`: a Python eko archive into a store.

use std::path::PathBuf;
use std::time::Instant;

use crate::Failure;
use eko::archive::import;

/// Arguments of `eko import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The archive eko wrote (a plain .tar, eko 0.13 or later).
    archive: PathBuf,
    /// The new store (must not exist, or be an empty directory).
    store: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko import`.
pub fn run_import(args: &ImportArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let bar = crate::progress::Bar::new("import");
    let report = import(&args.archive, &args.store, |p| {
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
