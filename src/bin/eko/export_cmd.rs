//! `eko export`: a store as an eko 0.15 archive.

use std::path::PathBuf;
use std::time::Instant;

use crate::Failure;
use eko::archive::export::{Compression, ExportOptions, export};
use eko::store::Store;

/// Payload compression of `eko export`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum CompressionArg {
    /// LZ4 frames, as eko writes them.
    Lz4,
    /// LZ4 frames of stored blocks: no compression work, still read by eko.
    None,
}

/// Arguments of `eko export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// The store to export.
    store: PathBuf,
    /// The archive to write (a plain .tar; refused inside the store, or when it exists unless
    /// --overwrite).
    out: PathBuf,
    /// Also write partials and threshold operators as eko's parts/, so that `eko import` of the
    /// archive gives back the store.
    #[arg(long)]
    with_parts: bool,
    /// Payload compression.
    #[arg(long, value_enum, default_value = "lz4")]
    compression: CompressionArg,
    /// Replace an existing file at OUT.
    #[arg(long)]
    overwrite: bool,
    /// Compressing threads (default: the available cores, at most 4).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko export`.
pub fn run_export(args: &ExportArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let store = Store::open(&args.store)?;
    let options = ExportOptions {
        with_parts: args.with_parts,
        compression: match args.compression {
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::None => Compression::None,
        },
        overwrite: args.overwrite,
        threads: args.threads,
    };
    let bar = crate::progress::Bar::new("export");
    let report = export(&store, &args.out, &options, |p| {
        bar.update(p.done, p.total, &"payloads")
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        crate::print_json(&serde_json::json!({"report": report, "seconds": seconds}));
    } else {
        println!(
            "exported {} to {} (eko 0.15 layout, cards {}) in {:.2} s: {}, {}, {}; {:.1} MB of \
             payloads in a {:.1} MB archive",
            args.store.display(),
            args.out.display(),
            report.cards,
            seconds,
            crate::count(report.operators, "final operator"),
            crate::count(report.partials, "partial"),
            crate::count(report.thresholds, "threshold operator"),
            report.payload_bytes as f64 / 1e6,
            report.archive_bytes as f64 / 1e6,
        );
    }
    Ok(())
}
