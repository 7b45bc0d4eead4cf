//! `eko`: the libeko command line.

mod apply_cmd;
mod combine_cmd;
mod demo;
mod evolve_cmd;
mod export_cmd;
mod import_cmd;
mod inspect;
mod progress;
mod recover_cmd;
mod reshape_cmd;
mod store_cmd;
mod verify_cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// libeko: store, combine and serve evolution kernel operators (EKOs).
#[derive(Parser)]
#[command(name = "eko", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run libeko's whole job on a built-in default grid, with synthetic operators.
    ///
    /// A realistic grid (14 pids, origin
    /// (1.65², nf=4), charm, bottom and top matching, ~20 points including one Q² with two nf and
    /// a backward point), synthetic operators computed by independent producers (one for the
    /// thresholds, several for the partials), merged, combined, cleaned, applied to a toy PDF, and
    /// one point checked against a dense product. Prints what it did, sizes, times, peak memory.
    #[command(
        after_help = "Examples:\n  eko demo                       (in a temporary directory, removed at the end)\n  eko demo my-demo/              (kept: inspect it, load evolved.npy in NumPy)\n  eko demo --n-x 150 --points 200 big/   (35 MB operators, ~14.5 GB of files)"
    )]
    Demo(demo::DemoArgs),
    /// Describe a store, a .npy file or an .npz archive.
    ///
    /// A store: metadata, every point with its files and sizes, what combine would do, and
    /// what interrupted writers left. A .npy file or each member of an .npz archive: format
    /// version, dtype, byte and memory order, shape, data offset, and whether it can be viewed
    /// with no copy.
    #[command(
        after_help = "Examples:\n  eko inspect my-eko/\n  eko inspect my-eko/10000_nf5.npy\n  eko inspect --json my-eko/thresholds.npz"
    )]
    Inspect(inspect::Args),
    /// Merge stores with compatible metadata into one.
    ///
    /// Identical duplicates are fine; different
    /// data for one point is refused unless --on-conflict says otherwise. On failure nothing
    /// changes.
    #[command(
        after_help = "Examples:\n  eko merge all/ job-thresholds/ job-1/ job-2/\n  eko merge --move --on-conflict replace all/ rerun/"
    )]
    Merge(store_cmd::MergeArgs),
    /// Split a store into new stores (by parts, at mu2 values, or by points).
    ///
    /// By --parts, at mu2 values (--at) or by explicit point lists (--points). Each part gets the metadata and the thresholds. On failure nothing
    /// changes.
    #[command(
        after_help = "Examples:\n  eko split all/ a/ b/ c/ --parts\n  eko split all/ low/ high/ --at 100\n  eko split all/ one/ --points 24.2064:4,24.2064:5"
    )]
    Split(store_cmd::SplitArgs),
    /// Combine partials with their thresholds into final operators.
    ///
    /// Every partial that has its thresholds becomes its final operator (partial · thresholds,
    /// errors propagated as eko does). Final files appear whole, then the
    /// partial is removed; an interrupted combine is finished by running it again. Refuses,
    /// changing nothing, when a threshold operator is missing.
    #[command(
        after_help = "Examples:\n  eko combine all/\n  eko combine --threads 8 --json all/\n  eko inspect all/   (shows which partials can be combined, and with what)"
    )]
    Combine(combine_cmd::CombineArgs),
    /// Remove thresholds.npz once every partial is combined.
    ///
    /// Refused while a partial still needs it, unless --force. After combine and clean a store holds exactly its final operators.
    #[command(after_help = "Examples:\n  eko clean all/\n  eko clean --force all/")]
    Clean(combine_cmd::CleanArgs),
    /// Evolve a PDF, or replicas, to every point of a store.
    ///
    /// To every point of the store, or to --points: out[point, rep, a, j] = sum over b, k of O[a, j, b, k] * pdf[rep, b, k]. One mapped operator
    /// at a time; the output and its [mu2, nf] table appear complete or not at all.
    #[command(
        after_help = "Examples:\n  eko apply my-eko/ pdf.npy -o evolved.npy\n  eko apply my-eko/ replicas.npy -o evolved.npy --points 100000:6,24.2064:4 --json\n\nIn Python: pdf = np.load('evolved.npy'); mu2, nf = np.load('evolved.points.npy').T"
    )]
    Apply(apply_cmd::ApplyArgs),
    /// Import an EKO archive written by Python eko into a new store.
    ///
    /// eko 0.13 or later: a .tar with YAML headers and LZ4 items. Final operators as {mu2}_nf{nf}.npy, parts ending on a matching scale
    /// and matchings into thresholds.npz, other parts as partials, the cards into metadata.json.
    /// Streams one operator at a time; the store appears complete or not at all.
    #[command(
        after_help = "Examples:\n  eko import eko.tar my-eko/\n  eko import --json eko.tar my-eko/ && eko inspect my-eko/\n  eko import partial-run.tar s/ && eko combine s/ && eko clean s/"
    )]
    Import(import_cmd::ImportArgs),
    /// Write a store as an eko 0.15 archive, for eko, pineko and pineappl.
    ///
    /// The layout eko.EKO.read (eko 0.15.7) opens: metadata.yaml, the theory and operator cards
    /// (converted as eko 0.15.7 converts eko 0.13/0.14 cards), recipes, and every final operator
    /// bit for bit as operators/ items (.npz.lz4 with its error, else .npy.lz4). --with-parts adds
    /// partials and thresholds as parts/, so that `eko import` gives the store back. Streams one
    /// operator at a time; the archive appears complete or not at all.
    #[command(
        after_help = "Examples:\n  eko export my-eko/ eko.tar\n  eko export --with-parts --json partial-run/ parts.tar\n  eko export --compression none --overwrite my-eko/ eko.tar\n\nIn Python: with eko.EKO.read('eko.tar') as e: op = e[(10000.0, 5)].operator"
    )]
    Export(export_cmd::ExportArgs),
    /// Reinterpolate a store's operators onto other x grids and rotate their flavour basis.
    ///
    /// Writes a new, complete store: every final operator (and error) as
    /// O'[c,i,d,l] = sum P[c,a] R[i,j] O[a,j,b,k] S[k,l] Q[b,d], with eko's interpolation
    /// (piecewise Lagrange of the store's degree, in ln x or x) computed exactly and eko's evolution
    /// basis (22, 100, 21, 200, 203, ..., 135). Errors go through the same linear map, as eko
    /// transforms them. One operator at a time; the store appears complete or not at all.
    #[command(
        after_help = "Examples:\n  eko reshape my-eko/ pineko-eko/ --xgrid-out grid-x.txt --basis-in evol\n  eko reshape my-eko/ fit-eko/ --xgrid-out fit-x.npy --xgrid-in fit-x.npy\n  eko reshape old/ new/ --xgrid-in x.txt --interpolation log:4   (a store that records no interpolation)"
    )]
    Reshape(reshape_cmd::ReshapeArgs),
    /// Evolve a pineappl grid with stores into an FK table (built with the feature `pineappl`).
    ///
    /// One store per convolution type of the grid. Each store serves exactly the scales the grid
    /// needs (times xif²), in ascending mu2, straight from its mapped files; operators are
    /// reinterpolated onto the grid's x nodes when the store's x grid lacks them, and their input
    /// side rotated to --fk-basis. Every scale, x node, pid, convolution type and alpha_s the
    /// grid needs is checked before any work; the FK table appears complete or not at all.
    #[command(
        after_help = "Examples:\n  eko evolve grid.pineappl.lz4 my-eko/ -o fk.pineappl.lz4 --alphas alphas.txt\n  eko evolve grid.pineappl.lz4 my-eko/ -o fk.pineappl.lz4 --fk-basis evol --fk-assumptions Nf4Sym --nf-at 20.25:5\n  eko evolve sidis.pineappl.lz4 pdf-eko/,ff-eko/ -o fk.pineappl.lz4 --orders a0,a0as1 --alphas alphas.npy\n\nalphas.txt: two columns, mu2 and alpha_s, one line per renormalisation scale the grid needs."
    )]
    Evolve(evolve_cmd::EvolveArgs),
    /// Read every file of a store once and check it: the command to run after copying a store.
    ///
    /// Each operator, partial and error against its header, the grid and the CRC-32 libeko
    /// recorded in its header when it wrote it (store format 3); each operator against what it
    /// recorded of its error file (a missing or foreign error is found); every member of
    /// thresholds.npz against its zip CRC-32. Files written before format 3 have no checksum:
    /// they are reported, and --record adds them. Fails when a file is damaged.
    #[command(
        after_help = "Examples:\n  eko verify my-eko/\n  eko verify --json my-eko/ > report.json\n  eko verify --record old-store/   (a store written before format 3)"
    )]
    Verify(verify_cmd::VerifyArgs),
    /// Bring a store back to a consistent state after an interrupted command.
    ///
    /// After a command was killed (or ran out of disk or time): finish the unfinished operation
    /// if it had passed its commit point, else undo it; remove temporary files of processes
    /// that are gone and orphan error files.
    /// Every command that writes to a store does this first, so rerunning the interrupted
    /// command is a recovery too (and finishes its job). Changes nothing a live writer owns.
    #[command(
        after_help = "Examples:\n  eko recover all/\n  eko inspect all/     (lists leftovers and says whether recover is needed)\n  eko recover new-store/   (a killed import: removes its temporary directory beside new-store/)"
    )]
    Recover(recover_cmd::RecoverArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run_demo(&args),
        Command::Inspect(args) => inspect::run(&args).map_err(Failure::from),
        Command::Merge(args) => store_cmd::run_merge(&args),
        Command::Split(args) => store_cmd::run_split(&args),
        Command::Combine(args) => combine_cmd::run_combine(&args),
        Command::Clean(args) => combine_cmd::run_clean(&args),
        Command::Apply(args) => apply_cmd::run_apply(&args),
        Command::Import(args) => import_cmd::run_import(&args),
        Command::Export(args) => export_cmd::run_export(&args),
        Command::Reshape(args) => reshape_cmd::run_reshape(&args),
        Command::Evolve(args) => evolve_cmd::run_evolve(&args),
        Command::Verify(args) => verify_cmd::run(&args),
        Command::Recover(args) => recover_cmd::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eko: error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to standard output (status 0); a command line that cannot be parsed is a
/// failure like any other: one line on standard error, status 1, naming the help to read.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return ExitCode::FAILURE;
    }
    // clap's message up to its usage block (the error, what it concerns, a tip), on one line.
    let text = e.to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(|l| l.trim().trim_start_matches("error: "))
        .filter(|l| !l.is_empty())
        .collect();
    let first = if message.is_empty() {
        "invalid arguments".to_string()
    } else {
        message.join(" ")
    };
    let command: Vec<String> = std::env::args().skip(1).take(1).collect();
    let help = match command.first() {
        Some(c) if Cli::command().find_subcommand(c).is_some() => format!("eko help {c}"),
        _ => "eko --help".into(),
    };
    eprintln!("eko: error: {} (see `{help}`)", one_line(&first));
    ExitCode::FAILURE
}

/// Why a command failed: libeko's error, or a command line that makes no sense.
#[derive(Debug)]
pub enum Failure {
    /// The library refused or failed.
    Eko(eko::Error),
    /// Arguments that do not fit together.
    Usage(String),
    /// A check that found problems (reported above), with its one-line summary.
    Found(String),
}

impl From<eko::Error> for Failure {
    fn from(e: eko::Error) -> Self {
        Failure::Eko(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Eko(e) => e.fmt(f),
            Failure::Usage(m) => write!(f, "usage: {m}"),
            Failure::Found(m) => write!(f, "{m}"),
        }
    }
}

/// Prints a report as pretty JSON on stdout.
pub fn print_json(report: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(report).expect("reports serialize")
    );
}

/// A `MU2:NF,MU2:NF,...` list of evolution points.
pub fn parse_points(list: &str) -> eko::Result<Vec<eko::store::EvolutionPoint>> {
    list.split(',').map(str::parse).collect()
}

/// The `--threads` option: at least one, every core by default.
pub fn threads(option: Option<usize>) -> Result<usize, Failure> {
    match option {
        Some(0) => Err(Failure::Usage("--threads must be at least 1".into())),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The `--no-wait` option as a lock policy.
pub fn wait(no_wait: bool) -> eko::store::Wait {
    if no_wait {
        eko::store::Wait::NoWait
    } else {
        eko::store::Wait::Block
    }
}

/// Says on standard error that the command will wait for another writer of `dir`, if one holds
/// it (and the command may wait).
pub fn announce_wait(dir: &std::path::Path, no_wait: bool) {
    if no_wait {
        return;
    }
    if let Some(pid) = eko::store::lock_holder(dir) {
        eprintln!(
            "eko: another eko process{} is writing to {}; waiting for it to finish (--no-wait to refuse instead)",
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
            dir.display()
        );
    }
}

/// Says on standard error what recovery did before a command, if anything.
pub fn report_recovery(dir: &std::path::Path, report: &eko::store::RecoveryReport) {
    if !report.is_empty() {
        eprintln!("eko: {}: {}", dir.display(), recover_cmd::describe(report));
    }
}

/// `n` and `word`, plural when `n` is not 1 ("1 replica", "3 replicas").
pub fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Error messages are printed on one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
