//! Computing an EKO in independent processes, as on a cluster: one job for the threshold
//! operators, several jobs for the partials, then merge and combine.
//!
//! Run: `cargo run --release --example grid_processes [WORK_DIR]`
//!
//! The parent process starts this same program as separate child processes:
//!
//! ```text
//! grid_processes --job thresholds WORK/job-thresholds     thresholds.npz only
//! grid_processes --job 0/3 WORK/job-0                     partials of every 3rd point from 0
//! grid_processes --job 1/3 WORK/job-1                     ...
//! grid_processes --job 2/3 WORK/job-2
//! ```
//!
//! On a cluster these are a Slurm job array (or GNU parallel) writing to a shared filesystem; each
//! job writes each operator the moment its producer returns it. The parent then merges the job
//! stores (`eko merge WORK/all WORK/job-*`), combines (`eko combine WORK/all`) and cleans
//! (`eko clean WORK/all`), and checks the result against the same grid computed in one process.
//! The producer here makes synthetic operators (`eko::synthetic`); a real one would call the
//! physics.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use eko::combine::{Kernel, clean, combine};
use eko::grid::{Computed, Grid, ProducerError, Task};
use eko::store::{
    EvolutionPoint, FLAVOR_BASIS, FileKind, MatchingScales, MergeOptions, Metadata, Store, merge,
};
use eko::synthetic::Synthetic;

const N_X: usize = 30;
const JOBS: usize = 3;

fn grid() -> eko::Result<Grid> {
    let xgrid = (1..=N_X)
        .map(|i| 1e-5f64.powf(1.0 - i as f64 / N_X as f64))
        .collect();
    let metadata = Metadata::new(
        EvolutionPoint::new(1.65f64.powi(2), 4)?,
        xgrid,
        FLAVOR_BASIS.to_vec(),
        MatchingScales {
            charm: Some(1.51f64.powi(2)),
            bottom: Some(4.92f64.powi(2)),
            top: Some(172.5f64.powi(2)),
        },
    );
    let mut targets = Vec::new();
    for i in 0..16 {
        let q2 = 10f64.powf(0.5 + 0.25 * i as f64); // 3.2 .. 17783 GeV²
        let nf = if q2 < 4.92f64.powi(2) { 4 } else { 5 };
        targets.push(EvolutionPoint::new(q2, nf)?);
    }
    targets.push(EvolutionPoint::new(4.92f64.powi(2), 4)?); // a matching scale with both nf
    targets.push(EvolutionPoint::new(1e5, 6)?); // two thresholds
    targets.push(EvolutionPoint::new(2.0, 3)?); // backward
    Grid::new(metadata, &targets)
}

/// The physics would go here: one operator per call.
fn producer() -> impl FnMut(&Task) -> Result<Computed, ProducerError> {
    let synthetic = Synthetic::new(FLAVOR_BASIS.to_vec(), N_X, 2026);
    move |task| {
        let op = synthetic.task(task);
        Ok(Computed {
            operator: op.operator,
            error: Some(op.error),
        })
    }
}

/// A child process: one job.
fn run_job(job: &str, dir: &Path) -> eko::Result<()> {
    let grid = grid()?;
    let started = Instant::now();
    let store = if job == "thresholds" {
        grid.run_thresholds(dir, producer())?
    } else {
        let (k, n) = job.split_once('/').expect("--job K/N");
        let (k, n): (usize, usize) = (k.parse().expect("K"), n.parse().expect("N"));
        let mine: Vec<EvolutionPoint> = grid.targets().skip(k).step_by(n).collect();
        grid.run_partials(dir, &mine, producer())?
    };
    println!(
        "  [pid {}] job {job}: {} partial(s), thresholds: {}, {:.2} s",
        std::process::id(),
        store.points_with(FileKind::Partial).count(),
        store.has_thresholds(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--job" {
        return Ok(run_job(&args[2], Path::new(&args[3]))?);
    }
    let work = match args.get(1) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("eko-grid-processes-{}", std::process::id())),
    };
    if work.exists() {
        return Err(format!("{} exists: give a new directory", work.display()).into());
    }
    std::fs::create_dir_all(&work)?;
    let grid = grid()?;
    println!(
        "grid: {} targets, {} threshold operators, {} x {} per operator; work dir {}",
        grid.paths().len(),
        grid.threshold_edges().len(),
        FLAVOR_BASIS.len(),
        N_X,
        work.display()
    );

    // 1. Independent processes.
    let started = Instant::now();
    let jobs: Vec<String> = std::iter::once("thresholds".to_string())
        .chain((0..JOBS).map(|k| format!("{k}/{JOBS}")))
        .collect();
    let dirs: Vec<PathBuf> = jobs
        .iter()
        .map(|j| work.join(format!("job-{}", j.replace('/', "-of-"))))
        .collect();
    let children = jobs
        .iter()
        .zip(&dirs)
        .map(|(job, dir)| {
            Command::new(std::env::current_exe()?)
                .args(["--job", job])
                .arg(dir)
                .spawn()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    for mut child in children {
        if !child.wait()?.success() {
            return Err("a job failed".into());
        }
    }
    println!(
        "1. {} processes done in {:.2} s",
        jobs.len(),
        started.elapsed().as_secs_f64()
    );

    // 2. Merge, combine, clean.
    let all = work.join("all");
    let sources: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let merged = merge(&all, &sources, MergeOptions::default())?;
    println!(
        "2. merged into {}: {} file(s) linked, {} copied",
        all.display(),
        merged.linked,
        merged.copied
    );
    let mut store = Store::open(&all)?;
    let report = combine(&mut store, &Kernel::all_threads(), |_| {})?;
    println!(
        "3. combined: {} multiplied ({} chains), {} crossing no threshold",
        report.combined.len(),
        report.chains,
        report.promoted.len()
    );
    clean(&mut store, false)?;
    println!(
        "4. cleaned: {} final operators, thresholds.npz removed",
        store.points_with(FileKind::Operator).count()
    );

    // 3. The same grid in one process must give the same bytes.
    let single = work.join("single");
    let (mut single_store, _) = grid.run(&single, producer(), &Kernel::all_threads())?;
    clean(&mut single_store, false)?;
    let mut compared = 0;
    for point in grid.targets() {
        for kind in [FileKind::Operator, FileKind::OperatorError] {
            let a = std::fs::read(store.path_of(&point, kind))?;
            let b = std::fs::read(single_store.path_of(&point, kind))?;
            if a != b {
                return Err(
                    format!("{point} {}: processes and single run differ", kind.name()).into(),
                );
            }
            compared += 1;
        }
    }
    println!("5. identical to the single-process run: {compared} files compared byte for byte");
    std::fs::remove_dir_all(&work)?;
    Ok(())
}
