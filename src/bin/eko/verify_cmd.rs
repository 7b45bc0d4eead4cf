//! `eko verify`: every file of a store read once and checked.

use std::path::PathBuf;

use crate::Failure;
use eko::store::Store;
use eko::store::verify::{FileStatus, VerifyReport, record, verify};

/// Arguments of `eko verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The store.
    store: PathBuf,
    /// Also record checksums for the files that have none (a store written before format 3):
    /// each such operator or partial is rewritten, with its error, with the same data and its
    /// checksums. Refused while any file is damaged.
    #[arg(long)]
    record: bool,
    /// Fail at once if another eko process is writing to the store, instead of waiting
    /// (--record only).
    #[arg(long)]
    no_wait: bool,
    /// Print the report as JSON (every file with its verdict).
    #[arg(long)]
    json: bool,
}

/// Runs `eko verify`: fails (status 1) when a file is damaged or inconsistent.
pub fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let bar = crate::progress::Bar::new("verify");
    let progress = |done: usize, total: usize| bar.update(done, total, &"");
    let report = if args.record {
        crate::announce_wait(&args.store, args.no_wait);
        let (mut store, _) = Store::open_for_writing(&args.store, crate::wait(args.no_wait))?;
        record(&mut store, progress)?
    } else {
        verify(&Store::open(&args.store)?, progress)?
    };
    if args.json {
        crate::print_json(&report);
    } else {
        print_text(args, &report);
    }
    if report.bad > 0 {
        return Err(Failure::Found(format!(
            "{}: {} damaged or inconsistent (see above)",
            args.store.display(),
            crate::count(report.bad, "file")
        )));
    }
    Ok(())
}

fn print_text(args: &VerifyArgs, report: &VerifyReport) {
    for f in &report.files {
        let line = match &f.status {
            FileStatus::Good | FileStatus::NoChecksum => continue,
            FileStatus::Corrupt { recorded, found } => format!(
                "corrupt: its data has CRC-32 {found}, {recorded} was recorded when it was written"
            ),
            FileStatus::Unreadable { reason } => format!("unreadable: {reason}"),
            FileStatus::MissingError { error_file } => {
                format!("its error file {error_file} is missing (the operator records one)")
            }
            FileStatus::ForeignError { error_file, reason } => {
                format!("its error file {error_file} does not belong to it: {reason}")
            }
        };
        println!("{}: {line}", f.file);
    }
    if report.without_checksum > 0 {
        let names: Vec<&str> = report
            .files
            .iter()
            .filter(|f| f.status == FileStatus::NoChecksum)
            .map(|f| f.file.as_str())
            .take(5)
            .collect();
        println!(
            "{} no checksum ({}{}): written before store format 3 or by another program; \
             headers and shapes checked only{}",
            if report.without_checksum == 1 {
                "1 file has".to_string()
            } else {
                format!("{} files have", report.without_checksum)
            },
            names.join(", "),
            if report.without_checksum > names.len() {
                ", ..."
            } else {
                ""
            },
            if args.record {
                ""
            } else {
                " (eko verify --record adds them)"
            }
        );
    }
    for l in &report.leftovers {
        println!("leftover: {l} (eko recover removes it)");
    }
    println!(
        "{}: {} read ({:.1} MB): {} good, {} without checksum, {} damaged{}",
        args.store.display(),
        crate::count(report.files.len(), "file"),
        report.bytes as f64 / 1e6,
        report.good,
        report.without_checksum,
        report.bad,
        if report.recorded > 0 {
            format!(
                "; checksums recorded for {}",
                crate::count(report.recorded, "file")
            )
        } else {
            String::new()
        }
    );
}
