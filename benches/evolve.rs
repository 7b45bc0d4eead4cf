//! FK-table benchmark (issue 15), printed (not a timed test). Run:
//! `cargo bench --bench evolve --features pineappl` (about 2 minutes; `EKO_BENCH_SCALES`,
//! `EKO_BENCH_NX` change the size, `EKO_BENCH_DIR` the filesystem, `EKO_BENCH_KEEP=1` keeps
//! the archive, store, grid and FK tables).
//!
//! An eko 0.15.7 archive of 40 operators with errors (nf = 5, mu2 from 10 to 1e4, n_x = 50, eko's
//! `make_grid`; zero photon row and column, top quarks decoupled, random elsewhere:
//! `benches/python/evolve.py make`), imported into a store; a DIS-like pineappl grid (one
//! unpolarised PDF, 3 orders, 8 bins, 3 channels, its x nodes the store's x grid and its scales
//! the store's 40 mu2: tests/common/grids.rs) built here with the pineappl crate; alpha_s in a text file. Then, in
//! interleaved rounds (medians printed), page cache warm for both:
//! - libeko: `eko evolve GRID STORE -o FK --alphas FILE --json` as a process (release build, the
//!   pineappl feature): wall time of the process, its evolve time (planning: every check and
//!   mapping every slice, then pineappl's evolve) and the part spent producing slices, its peak resident memory (its own VmHWM);
//! - pineappl's own path as pineko takes it: the pineappl Python package's `Grid.evolve` fed
//!   slices from `eko.EKO.read(archive).items()` (`benches/python/evolve.py run ... eko`): wall
//!   time of the process, the evolve call (from opening the archive), the time inside the slice
//!   generator (extracting, decompressing), peak resident memory;
//! - the contraction alone, for both: pineappl's `Grid::evolve` in this process with every
//!   operator already in memory (owned arrays, loaded untimed), and the Python evolve call with
//!   preloaded operators. The operator side of each path is its evolve time minus its
//!   contraction: the goal is libeko's under 5 % of its total.
//!
//! Last, the two FK tables are convolved with a toy PDF and compared bin by bin.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use eko::pineappl::{AlphasTable, ConvType, EvolveOptions, FkBasis, FkTable, Grid, PidBasis};
use eko::store::Store;
use ndarray::{Array4, CowArray};
use pineappl::convolutions::{Conv, ConvolutionCache};

const ROUNDS: usize = 5;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The benchmark's grid: `tests/common/grids.rs`'s DIS-like grid with 8 bins, each on every
/// scale and on the x nodes above its own threshold (like DIS bins in x).
fn dis_grid(mu2: &[f64], x: &[f64]) -> Grid {
    let bins = 8;
    let xs: Vec<Vec<f64>> = (0..bins)
        .map(|b| {
            let x_min = 1e-5 * 4f64.powi(b);
            x.iter().copied().filter(|&v| v >= x_min).collect()
        })
        .collect();
    common::grids::dis_grid(ConvType::UnpolPDF, &vec![mu2.to_vec(); xs.len()], &xs)
}

/// `n` points from `a` to `b`, evenly spaced in ln x.
fn geomspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    let (la, lb) = (a.ln(), b.ln());
    (0..n)
        .map(|i| (la + (lb - la) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

fn alpha_s(mu2: f64) -> f64 {
    0.118 / (1.0 + 0.118 * 7.0 / (4.0 * std::f64::consts::PI) * (mu2 / 8315.0).ln())
}

/// Runs `cmd`, returns (stdout, wall seconds). (Peak memory comes from each process itself,
/// VmHWM after its exec: `wait4`'s maxrss would count this process's memory at the fork.)
fn run_measured(cmd: &mut Command) -> (String, f64) {
    use std::io::Read as _;
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    let wall = start.elapsed().as_secs_f64();
    assert!(status.success(), "{cmd:?} failed: {err}");
    (out, wall)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// pineappl's `Grid::evolve` in this process with every slice already in memory (owned arrays,
/// made untimed as `eko evolve` would serve them): the contraction alone.
fn contraction_only(grid: &Grid, store: &Store, options: &EvolveOptions) -> f64 {
    let plan = eko::pineappl::plan(grid, &[store], options).unwrap();
    let slices = plan.store_slices().next().unwrap();
    let basis = match options.fk_basis {
        FkBasis::Pdg => PidBasis::Pdg,
        FkBasis::Evol => PidBasis::Evol,
    };
    let template = eko::pineappl::slice_info(slices, 0, basis, ConvType::UnpolPDF);
    let owned: Vec<(f64, Array4<f64>)> = slices
        .iter()
        .map(|r| {
            let (info, array) = r.unwrap();
            (info.fac1, array.into_owned())
        })
        .collect();
    let items = owned.iter().map(|(mu2, op)| {
        let mut info = template.clone();
        info.fac1 = *mu2;
        Ok::<_, std::io::Error>((info, CowArray::from(op.view())))
    });
    let alphas = options.alphas.as_deref().unwrap_or_default();
    let table = AlphasTable {
        ren1: alphas.iter().map(|a| a.0).collect(),
        alphas: alphas.iter().map(|a| a.1).collect(),
    };
    let start = Instant::now();
    let fk = grid
        .evolve(vec![items], &[], (1.0, 1.0, 1.0), &table)
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(fk);
    seconds
}

fn convolve(path: &Path) -> Vec<f64> {
    let grid = eko::pineappl::read_grid(path).unwrap();
    let fk = FkTable::try_from(grid).unwrap();
    let mut xfx =
        |pid: i32, x: f64, _q2: f64| x.powf(0.3) * (1.0 - x).powi(3) * (1.0 + 0.1 * pid as f64);
    let mut als = |_: f64| 0.118;
    let mut cache = ConvolutionCache::new(
        vec![Conv::new(ConvType::UnpolPDF, 2212)],
        vec![&mut xfx],
        &mut als,
    );
    fk.convolve(&mut cache, &[], &[])
}

/// What every case shares.
struct Setup {
    dir: PathBuf,
    python: PathBuf,
    script: PathBuf,
    archive: PathBuf,
    store_dir: PathBuf,
    alphas_path: PathBuf,
    store: Store,
}

/// One case: `eko evolve` and pineappl's Python path on `grid`, interleaved; prints the table.
fn run_case(
    setup: &Setup,
    title: &str,
    case: &str,
    grid: &Grid,
    grid_path: &Path,
    options: &EvolveOptions,
) {
    let eko_bin = env!("CARGO_BIN_EXE_eko");
    let fk_ours = setup.dir.join(format!("fk-{case}-libeko.pineappl.lz4"));
    let fk_theirs = setup.dir.join(format!("fk-{case}-pineappl.pineappl.lz4"));
    let python = &setup.python;
    let fk_basis = match options.fk_basis {
        FkBasis::Pdg => "pdg",
        FkBasis::Evol => "evol",
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut ours_contract, mut theirs_contract) = (Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        let (text, wall) = run_measured(
            Command::new(eko_bin)
                .arg("evolve")
                .args([grid_path, &setup.store_dir])
                .arg("-o")
                .arg(&fk_ours)
                .arg("--alphas")
                .arg(&setup.alphas_path)
                .args(["--fk-basis", fk_basis, "--threads", "1", "--json"]),
        );
        let r = json(&text);
        // Planning (every check, mapping every slice) is part of getting the operators.
        let plan = r["plan_seconds"].as_f64().unwrap();
        let ours_round = (
            wall,
            plan + r["report"]["seconds"].as_f64().unwrap(),
            plan + r["report"]["operator_seconds"].as_f64().unwrap(),
            r["peak_memory_bytes"].as_f64().unwrap() / (1024.0 * 1024.0),
        );
        let py = |mode: &str| {
            run_measured(
                Command::new(python)
                    .arg(&setup.script)
                    .arg("run")
                    .args([grid_path, &setup.archive, &setup.alphas_path, &fk_theirs])
                    .args([mode, case])
                    .env("OPENBLAS_NUM_THREADS", "1"),
            )
        };
        let (text, wall) = py("eko");
        let p = json(&text);
        let theirs_round = (
            wall,
            p["seconds"].as_f64().unwrap(),
            p["operator_seconds"].as_f64().unwrap(),
            p["peak_mib"].as_f64().unwrap(),
        );
        let contract = contraction_only(grid, &setup.store, options);
        let (text, _) = py("preloaded");
        let theirs_c = json(&text)["seconds"].as_f64().unwrap();
        // Round 0 warms the page cache and the interpreters; it is not counted.
        if round > 0 {
            ours.push(ours_round);
            theirs.push(theirs_round);
            ours_contract.push(contract);
            theirs_contract.push(theirs_c);
        }
    }
    let col = |v: &[(f64, f64, f64, f64)], k: usize| {
        median(
            v.iter()
                .map(|t| [t.0, t.1, t.2, t.3][k])
                .collect::<Vec<f64>>(),
        )
    };
    let (c_ours, c_theirs) = (median(ours_contract), median(theirs_contract));
    let (e_ours, e_theirs) = (col(&ours, 1), col(&theirs, 1));
    println!("{title}: medians of {ROUNDS} interleaved rounds (seconds; memory in MiB)");
    println!(
        "{:<44} {:>10} {:>10} {:>9}",
        "", "libeko", "pineappl", "ratio"
    );
    let row = |name: &str, a: f64, b: f64| {
        // Below a millisecond the difference of two medians is noise: no ratio.
        let ratio = if a < 1e-3 {
            "-".to_string()
        } else {
            format!("{:.2}x", b / a)
        };
        println!("{name:<44} {a:>10.3} {b:>10.3} {ratio:>9}");
    };
    row("process wall time", col(&ours, 0), col(&theirs, 0));
    row("evolve (from opening the operators)", e_ours, e_theirs);
    row(
        "  contraction alone (operators preloaded)",
        c_ours,
        c_theirs,
    );
    row(
        "  operator side (evolve - contraction)",
        (e_ours - c_ours).max(0.0),
        e_theirs - c_theirs,
    );
    row(
        "  time inside the slice iterator",
        col(&ours, 2),
        col(&theirs, 2),
    );
    row("peak resident memory (MiB)", col(&ours, 3), col(&theirs, 3));
    println!(
        "libeko's operator side: {:.1} % of its evolve time (goal: under 5 %); pineappl's path \
         from the archive: {:.1} %",
        100.0 * (e_ours - c_ours).max(0.0) / e_ours,
        100.0 * (e_theirs - c_theirs).max(0.0) / e_theirs
    );

    let a = convolve(&fk_ours);
    let b = convolve(&fk_theirs);
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| ((x - y) / y.abs().max(1e-300)).abs())
        .fold(0.0f64, f64::max);
    println!(
        "FK tables convolved with a toy PDF, {} bins: largest relative difference {worst:.1e}",
        a.len()
    );
    // Reinterpolated, libeko is exact and eko's matrices are accurate to about 1e-9.
    let tolerance = if case == "direct" { 1e-12 } else { 1e-7 };
    assert!(
        worst < tolerance,
        "libeko's FK table differs from pineappl's own"
    );
    println!();
}

fn median(mut v: Vec<f64>) -> f64 {
    common::median(&mut v)
}

fn main() {
    let n_x = env_usize("EKO_BENCH_NX", 50);
    let n_scales = env_usize("EKO_BENCH_SCALES", 40);
    let base = std::env::var_os("EKO_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let tmp = tempfile::tempdir_in(base).unwrap();
    let dir = tmp.path();
    let python = common::python();
    let script = common::root().join("benches/python/evolve.py");

    let started = Instant::now();
    let (n_x_text, n_scales_text) = (n_x.to_string(), n_scales.to_string());
    common::run_python_at(
        &script,
        &[
            Path::new("make"),
            dir,
            Path::new(&n_x_text),
            Path::new(&n_scales_text),
        ],
    );
    let archive = dir.join("eko.tar");
    let store_dir = dir.join("store");
    eko::archive::import(&archive, &store_dir, |_| {}).unwrap();
    let store = Store::open(&store_dir).unwrap();
    let m = store.metadata();
    let mu2: Vec<f64> = store.points().map(|(p, _)| p.mu2).collect();
    let grid = dis_grid(&mu2, &m.xgrid);
    let alphas: Vec<(f64, f64)> = mu2.iter().map(|&q2| (q2, alpha_s(q2))).collect();
    let alphas_path = dir.join("alphas.txt");
    let text: String = alphas
        .iter()
        .map(|(q2, a)| format!("{q2:?} {a:?}\n"))
        .collect();
    std::fs::write(&alphas_path, text).unwrap();
    let archive_mb = std::fs::metadata(&archive).unwrap().len() as f64 / 1e6;
    let store_mb: f64 = store
        .operators()
        .map(|r| r.unwrap().1.npy().data_bytes().len() as f64 / 1e6)
        .sum();
    println!(
        "evolve benchmark: {n_scales} scales, operators 14 x {n_x} x 14 x {n_x} with errors; \
         archive {archive_mb:.0} MB (lz4), store {store_mb:.0} MB of operators (+ errors); \
         grid 3 orders x 8 bins x 3 channels; set up in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );

    let setup = Setup {
        dir: dir.to_path_buf(),
        python,
        script,
        archive,
        store_dir,
        alphas_path,
        store,
    };
    let direct = dir.join("grid.pineappl.lz4");
    grid.write_lz4(std::fs::File::create(&direct).unwrap())
        .unwrap();
    let options = EvolveOptions {
        alphas: Some(alphas.clone()),
        ..EvolveOptions::default()
    };
    run_case(
        &setup,
        "the grid's x nodes on the store's x grid, PDG basis (no transform)",
        "direct",
        &grid,
        &direct,
        &options,
    );
    // pineko's case: a grid whose x nodes are not on the EKO's grid, an FK table in the
    // evolution basis: each operator reinterpolated onto the nodes and rotated.
    let nodes = geomspace(2e-5, 0.8, 35);
    let pineko_grid = dis_grid(&mu2, &nodes);
    let pineko = dir.join("grid-pineko.pineappl.lz4");
    pineko_grid
        .write_lz4(std::fs::File::create(&pineko).unwrap())
        .unwrap();
    let options = EvolveOptions {
        fk_basis: FkBasis::Evol,
        ..options
    };
    run_case(
        &setup,
        "pineko's case: 35 x nodes off the store's grid (reinterpolated), evolution basis",
        "pineko",
        &pineko_grid,
        &pineko,
        &options,
    );
    if std::env::var_os("EKO_BENCH_KEEP").is_some() {
        println!("kept: {}", tmp.keep().display());
    }
}
