//! `eko recover`.

use std::path::PathBuf;

use crate::Failure;
use eko::store::{RecoveryReport, Resolution, recover};

/// Arguments of `eko recover`.
#[derive(clap::Args)]
pub struct RecoverArgs {
    /// The store (or the destination of a killed import, which need not exist).
    store: PathBuf,
    /// Fail at once if another eko process is writing to the store, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko recover`.
pub fn run(args: &RecoverArgs) -> Result<(), Failure> {
    crate::announce_wait(&args.store, args.no_wait);
    let report = recover(&args.store, crate::wait(args.no_wait))?;
    if args.json {
        crate::print_json(&report);
    } else {
        println!("{}: {}", args.store.display(), describe(&report));
    }
    Ok(())
}

/// What a recovery did, in one line.
pub fn describe(report: &RecoveryReport) -> String {
    if report.is_empty() {
        return "nothing to recover".into();
    }
    let mut parts = Vec::new();
    if let Some(op) = &report.operation {
        parts.push(format!(
            "{} an interrupted {}",
            match op.resolution {
                Resolution::Finished => "finished",
                Resolution::RolledBack => "undid",
            },
            op.operation
        ));
    }
    if !report.temporaries.is_empty() {
        let bytes: u64 = report.temporaries.iter().map(|t| t.bytes).sum();
        parts.push(format!(
            "removed {} temporary file{} of finished processes ({bytes} bytes)",
            report.temporaries.len(),
            if report.temporaries.len() == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    if !report.orphans.is_empty() {
        parts.push(format!(
            "removed {} orphan error file{}",
            report.orphans.len(),
            if report.orphans.len() == 1 { "" } else { "s" }
        ));
    }
    parts.join("; ")
}
