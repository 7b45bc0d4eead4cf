//! `eko demo`: libeko's whole job on a built-in default, with no input.
//!
//! A grid like a real campaign's (eko's 14-pid flavour basis, origin (1.65², nf=4), charm,
//! bottom and top matching), synthetic operators with the structure real ones have
//! ([`eko::synthetic`]), and every step a cluster run takes: one producer for the thresholds and
//! several for the partials, each writing its own store; merge; combine; clean; apply to a toy PDF;
//! then a check of one point against a plain dense product of its path's operators.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{Array2, Array3, Axis};
use serde::Serialize;

use crate::Failure;
use eko::apply::{Pdf, apply_to_file};
use eko::combine::{Kernel, clean, combine, reference_product};
use eko::grid::{Computed, Grid, ProducerError, Task};
use eko::npy::{WriteOptions, write_npy};
use eko::store::{
    EvolutionPath, EvolutionPoint, FLAVOR_BASIS, MatchingScales, MergeOptions, Metadata, Store,
    merge,
};
use eko::synthetic::Synthetic;

/// Charm, bottom and top matching at the pole masses NNPDF uses (GeV).
const MASSES: [f64; 3] = [1.51, 4.92, 172.5];
/// The origin's scale (GeV) and flavours.
const ORIGIN: (f64, u8) = (1.65, 4);

/// Arguments of `eko demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where to build it (must be missing or empty; kept). Default: a temporary directory,
    /// removed at the end.
    dir: Option<PathBuf>,
    /// Number of x points (eko's common default is 50; 150 makes 35 MB operators).
    #[arg(long, default_value_t = 50)]
    n_x: usize,
    /// Number of target points (at least 3): one Q² with two nf (the bottom matching scale), one
    /// backward point below the origin (nf=3), the rest spread from 3 to 1e5 GeV².
    #[arg(long, default_value_t = 20)]
    points: usize,
    /// Independent producers of partials (each writes its own store, as cluster jobs do).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Seed of the synthetic operators.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Replicas in the toy PDF (1: a single PDF of shape (n_pid, n_x)).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Threads for combine and apply (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// One step of the demo and what it took.
#[derive(Debug, Serialize)]
struct Step {
    name: &'static str,
    seconds: f64,
    what: String,
}

/// The self-check: one point's final operator and evolved PDF against dense products.
#[derive(Debug, Serialize)]
struct Check {
    point: EvolutionPoint,
    path: String,
    operator_max_relative_difference: f64,
    pdf_max_relative_difference: f64,
    tolerance: f64,
    passed: bool,
}

/// What `eko demo` reports.
#[derive(Debug, Serialize)]
struct Report {
    /// Says what the numbers are not.
    note: &'static str,
    dir: PathBuf,
    kept: bool,
    n_pid: usize,
    n_x: usize,
    points: usize,
    threshold_operators: usize,
    operator_bytes: u64,
    store_bytes_before_clean: u64,
    store_bytes: u64,
    steps: Vec<Step>,
    total_seconds: f64,
    peak_memory_bytes: Option<u64>,
    check: Check,
}

/// The demo's grid: metadata and targets.
fn grid(n_x: usize, n_points: usize) -> eko::Result<Grid> {
    let xgrid = (0..n_x)
        .map(|i| {
            if n_x == 1 {
                1.0
            } else {
                1e-7f64.powf(1.0 - i as f64 / (n_x - 1) as f64)
            }
        })
        .collect();
    let [mc, mb, mt] = MASSES.map(|m| m * m);
    let metadata = Metadata::new(
        EvolutionPoint::new(ORIGIN.0 * ORIGIN.0, ORIGIN.1)?,
        xgrid,
        FLAVOR_BASIS.to_vec(),
        MatchingScales {
            charm: Some(mc),
            bottom: Some(mb),
            top: Some(mt),
        },
    );
    let natural = |q2: f64| match q2 {
        q if q < mc => 3,
        q if q < mb => 4,
        q if q < mt => 5,
        _ => 6,
    };
    let mut targets = vec![
        EvolutionPoint::new(mb, 4)?,
        EvolutionPoint::new(mb, 5)?,
        EvolutionPoint::new(1.9, 3)?,
    ];
    let spread = n_points - 3;
    for i in 0..spread {
        let t = if spread == 1 {
            0.5
        } else {
            i as f64 / (spread - 1) as f64
        };
        let q2 = 3.0 * (1e5f64 / 3.0).powf(t);
        targets.push(EvolutionPoint::new(q2, natural(q2))?);
    }
    Grid::new(metadata, &targets)
}

/// A toy PDF at the origin on the grid (values of x·f, no physics): valence u and d, a sea, a
/// gluon, no heavy quarks, no photon.
fn toy_pdf(xgrid: &[f64], pids: &[i32], replicas: usize) -> Array3<f64> {
    let one = Array2::from_shape_fn((pids.len(), xgrid.len()), |(a, j)| {
        let x = xgrid[j];
        let sea = 0.2 * x.powf(-0.1) * (1.0 - x).powi(7);
        match pids[a] {
            21 => 3.0 * x.powf(-0.1) * (1.0 - x).powi(5),
            2 => 2.0 * x.powf(0.5) * (1.0 - x).powi(3) + sea,
            1 => x.powf(0.5) * (1.0 - x).powi(4) + sea,
            -1 | -2 => sea,
            3 | -3 => 0.5 * sea,
            _ => 0.0,
        }
    });
    Array3::from_shape_fn((replicas, pids.len(), xgrid.len()), |(r, a, j)| {
        one[[a, j]] * (1.0 + 0.01 * r as f64 * ((a + j) % 3) as f64)
    })
}

/// The synthetic producer every job uses: same seed, same operators, whoever computes them.
fn producer(
    synthetic: &Synthetic,
) -> impl FnMut(&Task) -> Result<Computed, ProducerError> + use<'_> {
    move |task| {
        let op = synthetic.task(task);
        Ok(Computed {
            operator: op.operator,
            error: Some(op.error),
        })
    }
}

/// Bytes of the regular files directly in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The process's peak resident memory (Linux `VmHWM`), if known.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Where the demo runs: DIR (kept), or a directory in the system's temporary directory, removed
/// on drop. Marked in use until the run ends, so that a killed run's leftovers are recognised
/// and cleared by the next run (`eko::WorkDir`).
struct Work {
    dir: Option<eko::WorkDir>,
    path: PathBuf,
    keep: bool,
}

impl Work {
    fn finish(&mut self) {
        if let Some(dir) = self.dir.take() {
            dir.finish();
        }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.dir.take();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

const TEMP_WORK_PREFIX: &str = "eko-demo-";

/// What the demo's numbers are not.
const SYNTHETIC_NOTE: &str = "The operators are synthetic (eko::synthetic): shaped like real ones \
     (zero photon, identity for inactive heavy flavours, near-triangular in x) but not computed \
     from QCD, so the evolved PDF is not a physics result.";

fn work_dir(dir: Option<&Path>) -> Result<Work, Failure> {
    let claim = |path: &Path| {
        eko::WorkDir::claim(path).map_err(|e| match e {
            eko::Error::NotEmpty { .. } => Failure::Usage(format!(
                "{} is not empty; give a new or empty directory",
                path.display()
            )),
            other => Failure::Eko(other),
        })
    };
    match dir {
        Some(dir) => Ok(Work {
            dir: Some(claim(dir)?),
            path: dir.to_path_buf(),
            keep: true,
        }),
        None => {
            // Runs killed before they could remove their directory: remove them now.
            let tmp = std::env::temp_dir();
            if let Ok(entries) = std::fs::read_dir(&tmp) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if entry
                        .file_name()
                        .to_string_lossy()
                        .starts_with(TEMP_WORK_PREFIX)
                        && eko::WorkDir::is_abandoned(&path).unwrap_or(false)
                    {
                        let _ = std::fs::remove_dir_all(&path);
                    }
                }
            }
            let path = tmp.join(format!("{TEMP_WORK_PREFIX}{}", std::process::id()));
            Ok(Work {
                dir: Some(claim(&path)?),
                path,
                keep: false,
            })
        }
    }
}

/// Largest `|a - b|` over the largest `|b|`.
fn relative_difference<'a>(
    a: impl IntoIterator<Item = &'a f64>,
    b: impl IntoIterator<Item = &'a f64> + Clone,
) -> f64 {
    let scale = b.clone().into_iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = a
        .into_iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    if scale > 0.0 { diff / scale } else { diff }
}

/// Runs `eko demo`.
pub fn run_demo(args: &DemoArgs) -> Result<(), Failure> {
    if args.points < 3 {
        return Err(Failure::Usage(
            "--points must be at least 3 (two nf at the bottom threshold and a backward point)"
                .into(),
        ));
    }
    if args.n_x < 2 || args.jobs == 0 || args.replicas == 0 {
        return Err(Failure::Usage(
            "--n-x must be at least 2, --jobs and --replicas at least 1".into(),
        ));
    }
    let threads = crate::threads(args.threads)?;
    let started = Instant::now();
    let mut work = work_dir(args.dir.as_deref())?;
    let root = work.path.clone();
    let grid = grid(args.n_x, args.points)?;
    let meta = grid.metadata().clone();
    let synthetic = Synthetic::new(meta.pids.clone(), args.n_x, args.seed);
    let targets: Vec<EvolutionPoint> = grid.targets().collect();
    let mut steps = Vec::new();
    let mut step = |name, t: Instant, what: String| {
        let s = Step {
            name,
            seconds: t.elapsed().as_secs_f64(),
            what,
        };
        if !args.json {
            println!("{:>10}  {:>7.3} s  {}", s.name, s.seconds, s.what);
        }
        steps.push(s);
    };

    // Producers: one for the thresholds, `jobs` for the partials, each with its own store.
    let t = Instant::now();
    let jobs = root.join("jobs");
    let threshold_job = jobs.join("thresholds");
    let partial_jobs: Vec<PathBuf> = (0..args.jobs)
        .map(|i| jobs.join(format!("partials-{i}")))
        .collect();
    std::thread::scope(|s| -> eko::Result<()> {
        let mut handles = vec![s.spawn(|| {
            grid.run_thresholds(&threshold_job, producer(&synthetic))
                .map(drop)
        })];
        for (i, dir) in partial_jobs.iter().enumerate() {
            let mine: Vec<EvolutionPoint> =
                targets.iter().skip(i).step_by(args.jobs).copied().collect();
            let (grid, synthetic) = (&grid, &synthetic);
            handles.push(
                s.spawn(move || grid.run_partials(dir, &mine, producer(synthetic)).map(drop)),
            );
        }
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a producer panicked"))
    })?;
    let n_thresholds = grid.threshold_edges().len();
    step(
        "produce",
        t,
        format!(
            "{n_thresholds} threshold operators (1 job) and {} partials ({} jobs), each job its own store under {}",
            targets.len(),
            args.jobs,
            jobs.display()
        ),
    );

    let t = Instant::now();
    let store_dir = root.join("store");
    let mut sources = vec![threshold_job.as_path()];
    sources.extend(partial_jobs.iter().map(PathBuf::as_path));
    // Linked, not moved: the job stores stay whole (no extra disk), for practising the README's
    // merge, combine and clean on them.
    let merged = merge(&store_dir, &sources, MergeOptions::default())?;
    step(
        "merge",
        t,
        format!(
            "{} job stores into {} ({} files hard-linked; the job stores keep theirs)",
            sources.len(),
            store_dir.display(),
            merged.linked + merged.copied
        ),
    );

    let t = Instant::now();
    let mut store = Store::open(&store_dir)?;
    let bar = crate::progress::Bar::new("combine");
    let combined = combine(&mut store, &Kernel::new(threads), |p| {
        bar.update(p.done, p.total, &p.point)
    })?;
    let bytes_before_clean = dir_bytes(&store_dir);
    step(
        "combine",
        t,
        format!(
            "{} partials multiplied by their thresholds, {} crossing none promoted ({} threads)",
            combined.combined.len(),
            combined.promoted.len(),
            threads
        ),
    );

    let t = Instant::now();
    let cleaned = clean(&mut store, false)?;
    step(
        "clean",
        t,
        format!(
            "{}; the store holds {} final operators",
            if cleaned.removed_thresholds {
                "thresholds.npz removed"
            } else {
                "nothing to remove"
            },
            store.points().count()
        ),
    );

    let t = Instant::now();
    let values = toy_pdf(&meta.xgrid, &meta.pids, args.replicas);
    let pdf_path = root.join("pdf.npy");
    // One PDF is written as (n_pid, n_x), replicas as (n_rep, n_pid, n_x).
    let pdf = Pdf {
        replicas: values,
        has_replica_axis: args.replicas > 1,
    };
    if pdf.has_replica_axis {
        write_npy(&pdf_path, &pdf.replicas, WriteOptions::default())?;
    } else {
        let single = pdf.replicas.index_axis(Axis(0), 0);
        write_npy(&pdf_path, &single, WriteOptions::default())?;
    }
    let evolved_path = root.join("evolved.npy");
    let points: Vec<EvolutionPoint> = store.points().map(|(p, _)| p).collect();
    let bar = crate::progress::Bar::new("apply");
    let applied = apply_to_file(
        &store,
        &points,
        &pdf,
        &evolved_path,
        threads,
        None,
        |done| bar.update(done, points.len(), &points[done - 1]),
    )?;
    step(
        "apply",
        t,
        format!(
            "toy PDF ({}) evolved to every point: {} {:?}",
            crate::count(args.replicas, "replica"),
            evolved_path.display(),
            applied.shape
        ),
    );

    let t = Instant::now();
    let check = self_check(&grid, &synthetic, &store, &pdf, &evolved_path, &points)?;
    step(
        "check",
        t,
        format!(
            "{} ({}) against the dense product of its path: operator within {:.1e}, evolved PDF within {:.1e} (relative; tolerance {:.0e})",
            check.point,
            check.path,
            check.operator_max_relative_difference,
            check.pdf_max_relative_difference,
            check.tolerance
        ),
    );

    work.finish();
    let shape = meta.operator_shape();
    let report = Report {
        note: SYNTHETIC_NOTE,
        dir: root.clone(),
        kept: work.keep,
        n_pid: shape[0],
        n_x: shape[1],
        points: points.len(),
        threshold_operators: n_thresholds,
        operator_bytes: (shape.iter().product::<usize>() * 8) as u64,
        store_bytes_before_clean: bytes_before_clean,
        store_bytes: dir_bytes(&store_dir),
        steps,
        total_seconds: started.elapsed().as_secs_f64(),
        peak_memory_bytes: peak_memory(),
        check,
    };
    if args.json {
        crate::print_json(&report);
    } else {
        let mb = |b: u64| b as f64 / 1e6;
        println!(
            "\n{} points, {} pids x {} x values: {:.1} MB per operator; store {:.1} MB with partials, \
             thresholds and errors, {:.1} MB after clean; {:.2} s in all, peak memory {}",
            report.points,
            report.n_pid,
            report.n_x,
            mb(report.operator_bytes),
            mb(report.store_bytes_before_clean),
            mb(report.store_bytes),
            report.total_seconds,
            report
                .peak_memory_bytes
                .map_or("unknown".into(), |b| format!("{:.1} MB", mb(b)))
        );
        println!("{SYNTHETIC_NOTE}");
        if work.keep {
            let some = &points[points.len() / 2];
            println!(
                "kept in {}: store/ (try `eko inspect {}`), the job stores under jobs/ as the \
                 producers left them (try `eko merge {}/again {}/jobs/*`, then `eko combine` and \
                 `eko clean` on it), pdf.npy, evolved.npy, evolved.points.npy (try `eko apply {} {} \
                 -o one.npy --points {}:{}`)",
                root.display(),
                store_dir.display(),
                root.display(),
                root.display(),
                store_dir.display(),
                root.join("pdf.npy").display(),
                some.mu2,
                some.nf
            );
        } else {
            println!(
                "(built in a temporary directory, now removed; give a directory to keep it: eko demo DIR)"
            );
        }
    }
    if !report.check.passed {
        return Err(Failure::Usage(format!(
            "self-check failed: {} differs from the dense product of its path by {:.3e} (operator) and {:.3e} (PDF), over the tolerance {:.0e}",
            report.check.point,
            report.check.operator_max_relative_difference,
            report.check.pdf_max_relative_difference,
            report.check.tolerance
        )));
    }
    Ok(())
}

/// Recomputes the point with the longest path from its synthetic operators by plain dense
/// products, and compares the stored final operator and the evolved PDF with it.
fn self_check(
    grid: &Grid,
    synthetic: &Synthetic,
    store: &Store,
    pdf: &Pdf,
    evolved_path: &Path,
    points: &[EvolutionPoint],
) -> Result<Check, Failure> {
    const TOLERANCE: f64 = 1e-12;
    let path: &EvolutionPath = grid
        .paths()
        .iter()
        .max_by_key(|p| (p.thresholds.len(), p.target))
        .expect("the demo has points");
    let factors: Vec<_> = path
        .thresholds
        .iter()
        .map(|e| synthetic.edge(e).operator)
        .collect();
    let partial = synthetic.segment(&path.partial).operator;
    let views: Vec<_> = factors.iter().map(|f| f.view()).collect();
    let want = reference_product(partial.view(), &views);
    let stored = store.operator(&path.target)?;
    let operator_diff = relative_difference(stored.view().iter(), want.iter());

    let index = points
        .iter()
        .position(|p| *p == path.target)
        .expect("the checked point is in the store");
    let evolved = eko::npy::NpyFile::open(evolved_path)?;
    let evolved = evolved.read::<f64>()?;
    let got = evolved.index_axis(Axis(0), index);
    let (np, nx) = (want.shape()[0], want.shape()[1]);
    let matrix = want
        .into_shape_with_order((np * nx, np * nx))
        .expect("square");
    let n_rep = pdf.replicas.shape()[0];
    let flat = pdf.replicas.to_shape((n_rep, np * nx)).expect("contiguous");
    let expected = flat.dot(&matrix.t());
    let got_flat = got.to_shape(n_rep * np * nx).expect("contiguous");
    let pdf_diff = relative_difference(got_flat.iter(), expected.iter());
    let path_text = {
        let mut names: Vec<String> = vec![format!(
            "partial {} -> {} nf{}",
            path.partial.origin, path.partial.target, path.partial.nf
        )];
        names.extend(path.thresholds.iter().rev().map(|e| e.key()));
        names.join(" · ")
    };
    Ok(Check {
        point: path.target,
        path: path_text,
        operator_max_relative_difference: operator_diff,
        pdf_max_relative_difference: pdf_diff,
        tolerance: TOLERANCE,
        passed: operator_diff <= TOLERANCE && pdf_diff <= TOLERANCE,
    })
}
