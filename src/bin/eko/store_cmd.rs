//! `eko merge` and `eko split`.

use std::path::PathBuf;

use crate::Failure;
use eko::store::{FileKind, MergeOptions, OnConflict, Partition, Store, Transfer, merge, split_by};

/// How files get into the destination.
#[derive(clap::Args)]
#[group(multiple = false)]
pub struct TransferArgs {
    /// Copy bytes instead of hard-linking (the default links, and copies only across filesystems).
    #[arg(long)]
    copy: bool,
    /// Move files out of the sources (link or copy, then unlink once everything succeeded).
    #[arg(long = "move")]
    move_files: bool,
}

impl TransferArgs {
    fn transfer(&self) -> Transfer {
        if self.copy {
            Transfer::Copy
        } else if self.move_files {
            Transfer::Move
        } else {
            Transfer::Link
        }
    }
}

/// Conflict policies on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Policy {
    /// Refuse the merge, naming the point.
    Error,
    /// Keep the destination's (or the earlier source's) files.
    Keep,
    /// Take the later source's files.
    Replace,
}

/// Arguments of `eko merge`.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// The destination store (created, with the first source's metadata, if missing or empty).
    dest: PathBuf,
    /// The stores to merge into it.
    #[arg(required = true)]
    sources: Vec<PathBuf>,
    #[command(flatten)]
    transfer: TransferArgs,
    /// What to do when two stores hold different data for one point.
    #[arg(long, value_enum, default_value = "error")]
    on_conflict: Policy,
    /// Fail at once if another eko process is writing to a store involved, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko merge`.
pub fn run_merge(args: &MergeArgs) -> Result<(), Failure> {
    let sources: Vec<&std::path::Path> = args.sources.iter().map(PathBuf::as_path).collect();
    let options = MergeOptions {
        transfer: args.transfer.transfer(),
        on_conflict: match args.on_conflict {
            Policy::Error => OnConflict::Error,
            Policy::Keep => OnConflict::KeepDestination,
            Policy::Replace => OnConflict::TakeSource,
        },
        wait: crate::wait(args.no_wait),
    };
    crate::announce_wait(&args.dest, args.no_wait);
    let report = merge(&args.dest, &sources, options)?;
    if args.json {
        crate::print_json(&report);
    } else {
        let store = Store::open(&args.dest)?;
        println!(
            "merged {} into {}: {}, {}{}",
            crate::count(sources.len(), "store"),
            args.dest.display(),
            crate::count(store.points_with(FileKind::Operator).count(), "operator"),
            crate::count(store.points_with(FileKind::Partial).count(), "partial"),
            if store.has_thresholds() {
                ", thresholds"
            } else {
                ""
            }
        );
        println!(
            "  files linked {}, copied {} ({} bytes), removed from sources {}; identical duplicates {}, conflicts kept {}, replaced {}",
            report.linked,
            report.copied,
            report.bytes_copied,
            report.unlinked_from_sources,
            report.identical,
            report.kept,
            report.replaced
        );
    }
    Ok(())
}

/// Arguments of `eko split`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("criterion").required(true).args(["parts", "at", "points"])))]
pub struct SplitArgs {
    /// The store to split.
    source: PathBuf,
    /// One new store per part (missing or empty directories).
    #[arg(required = true)]
    dests: Vec<PathBuf>,
    /// Cut the points, in mu2 order, into as many near-equal parts as there are DESTs.
    #[arg(long)]
    parts: bool,
    /// Cut at these mu2 values (comma-separated, increasing): N values make N+1 parts; a point
    /// exactly on a value goes to the upper part.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    at: Vec<f64>,
    /// The points of one part, as MU2:NF,MU2:NF,...; give --points once per DEST.
    #[arg(long, allow_hyphen_values = true)]
    points: Vec<String>,
    #[command(flatten)]
    transfer: TransferArgs,
    /// Fail at once if another eko process is writing to a store involved, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko split`.
pub fn run_split(args: &SplitArgs) -> Result<(), Failure> {
    let partition = if args.parts {
        Partition::Even
    } else if !args.at.is_empty() {
        if args.at.len() + 1 != args.dests.len() {
            return Err(Failure::Usage(format!(
                "--at with {} makes {} parts, but {} given",
                crate::count(args.at.len(), "value"),
                args.at.len() + 1,
                crate::count(args.dests.len(), "DEST"),
            )));
        }
        Partition::At(args.at.clone())
    } else {
        if args.points.len() != args.dests.len() {
            return Err(Failure::Usage(format!(
                "{} for {}: give one --points list per DEST",
                crate::count(args.points.len(), "--points list"),
                crate::count(args.dests.len(), "DEST")
            )));
        }
        Partition::Points(
            args.points
                .iter()
                .map(|list| crate::parse_points(list))
                .collect::<eko::Result<Vec<_>>>()?,
        )
    };
    crate::announce_wait(&args.source, args.no_wait);
    let report = split_by(
        &args.source,
        &args.dests,
        &partition,
        args.transfer.transfer(),
        crate::wait(args.no_wait),
    )?;
    if report.resumed && !args.json {
        println!(
            "finished an interrupted split of {} into these parts",
            args.source.display()
        );
        return Ok(());
    }
    if args.json {
        crate::print_json(&report);
    } else {
        for (dir, n) in args.dests.iter().zip(&report.points) {
            println!("{}: {}", dir.display(), crate::count(*n, "point"));
        }
        let t = &report.transfers;
        println!(
            "  files linked {}, copied {} ({} bytes), removed from the source {}",
            t.linked, t.copied, t.bytes_copied, t.unlinked_from_sources
        );
    }
    Ok(())
}
