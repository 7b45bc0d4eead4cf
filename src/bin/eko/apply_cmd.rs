//! `eko apply`: evolve a PDF (or replicas) to every point of a store.

use std::path::PathBuf;
use std::time::Instant;

use crate::Failure;
use eko::apply::{Pdf, apply_to_file, select_points};
use eko::store::Store;
use eko::transform::Transform;

/// Arguments of `eko apply`.
#[derive(clap::Args)]
pub struct ApplyArgs {
    /// The store (final operators; run `eko combine` first if it holds partials).
    store: PathBuf,
    /// The PDF at the store's origin: an f64 .npy of shape (n_pid, n_x) or (n_rep, n_pid, n_x),
    /// on the operators' input pids and x grid (after --xgrid-in/--basis-in, if given).
    pdf: PathBuf,
    /// The evolved PDFs: (n_points, [n_rep,] n_pid, n_x). The points' [mu2, nf] go to
    /// OUT.points.npy beside it (out.npy -> out.points.npy).
    #[arg(short, long, value_name = "OUT.npy")]
    output: PathBuf,
    /// Only these points, as MU2:NF,MU2:NF,... (default: every point of the store).
    #[arg(long, value_name = "MU2:NF,...")]
    points: Option<String>,
    /// Threads for the products (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Transform each operator first (as eko reshape does, without writing a store).
    #[command(flatten)]
    transform: crate::reshape_cmd::TransformArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `eko apply`.
pub fn run_apply(args: &ApplyArgs) -> Result<(), Failure> {
    let threads = crate::threads(args.threads)?;
    if args.output.extension().is_none_or(|e| e != "npy") {
        return Err(Failure::Usage(format!(
            "the output {} must end in .npy",
            args.output.display()
        )));
    }
    if args.pdf.is_dir() {
        return Err(Failure::Usage(format!(
            "the PDF {} is a directory; give a .npy file (eko apply STORE PDF.npy -o OUT.npy: the \
             store comes first)",
            args.pdf.display()
        )));
    }
    let out_dir = eko::store::parent_dir(&args.output);
    if !out_dir.is_dir() {
        return Err(Failure::Usage(format!(
            "the output's directory {} does not exist; create it first",
            out_dir.display()
        )));
    }
    // Neither output may replace the input PDF (the table goes to OUT.points.npy).
    let table = eko::apply::points_path(&args.output);
    for written in [&args.output, &table] {
        if same_file(written, &args.pdf) {
            return Err(Failure::Usage(format!(
                "{} is the input PDF; writing the evolved PDFs{} there would replace it: choose \
                 another -o",
                written.display(),
                if *written == table { "' table" } else { "" }
            )));
        }
    }
    let store = Store::open(&args.store)?;
    let wanted = args
        .points
        .as_deref()
        .map(crate::parse_points)
        .transpose()?;
    let points = select_points(&store, wanted.as_deref())?;
    let spec = args.transform.spec()?;
    let transform = if spec.is_empty() {
        None
    } else {
        Some(Transform::new(store.metadata(), &spec)?.with_threads(threads))
    };
    let pdf = Pdf::read(&args.pdf)?;
    let [.., n_pid, n_x] = transform
        .as_ref()
        .map_or_else(|| store.metadata().operator_shape(), Transform::shape);
    pdf.check_grid(
        n_pid,
        n_x,
        &eko::apply::input_side_name(&store, transform.is_some()),
        &eko::Location::file(&args.pdf),
    )?;
    let started = Instant::now();
    let bar = crate::progress::Bar::new("apply");
    let report = apply_to_file(
        &store,
        &points,
        &pdf,
        &args.output,
        threads,
        transform.as_ref(),
        |done| {
            bar.update(done, points.len(), &points[done - 1]);
        },
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        crate::print_json(&serde_json::json!({
            "report": report,
            "seconds": seconds,
        }));
    } else {
        println!(
            "evolved {} to {} in {:.3} s ({:.2} ms per point, {:.1} MB of operators read): {} {:?}, points in {}",
            crate::count(pdf.replicas.shape()[0], "replica"),
            crate::count(points.len(), "point"),
            seconds,
            1e3 * seconds / points.len() as f64,
            report.operator_bytes as f64 / 1e6,
            report.output.display(),
            report.shape,
            report.points_file.display(),
        );
    }
    Ok(())
}

/// Whether `a` and `b` name the same file (an existing one by inode, else by absolute path).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    }
}
