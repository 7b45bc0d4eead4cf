//! Apply benchmark, printed (not a timed test). Run: `cargo bench --bench apply`.
//!
//! Evolving PDFs to every point of a store of 24 final operators at 14 pids x 100 x (15.7 MB each,
//! 376 MB, warm in the page cache), for one PDF (a matrix-vector product per point: memory bound)
//! and for 100 replicas (a matrix-matrix product), on 1 and 2 threads:
//! - libeko: `eko::apply::apply_operator` on `store.operator(point)` (a fresh map per point),
//!   in this process;
//! - NumPy: `np.load(path, mmap_mode='r').reshape(N, N) @ pdf` in a Python process started with
//!   `OPENBLAS_NUM_THREADS` = 1 or 2 (`benches/python/apply.py`), timed inside Python.
//!
//! Rounds interleave the two sides; medians of milliseconds per point are printed with the ratio
//! NumPy / libeko (above 1: libeko is faster), and the anonymous memory (RssAnon) of each process
//! after its sweeps: operators are mapped, not copied, so it stays at the size of one output.
//! Set `EKO_BENCH_DIR` to choose the filesystem (default: the system temp dir).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use eko::apply::apply_operator;
use eko::store::{EvolutionPoint, Store};
use ndarray::Array3;

const N_X: usize = 100;
const POINTS: usize = 24;
const ROUNDS: usize = 7;

fn build_store(dir: &std::path::Path) -> Vec<EvolutionPoint> {
    common::synthetic_finals(dir, common::metadata(N_X), POINTS, false)
}

fn ours(store: &Store, points: &[EvolutionPoint], replicas: usize, threads: usize) -> f64 {
    let pdf = Array3::from_shape_fn((replicas, 14, N_X), |(r, a, k)| {
        ((r * 31 + a * 7 + k) % 17) as f64 / 17.0
    });
    let mut out = Array3::zeros(pdf.dim());
    let started = Instant::now();
    for p in points {
        let op = store.operator(p).unwrap();
        apply_operator(op.view(), pdf.view(), out.view_mut(), threads).unwrap();
    }
    started.elapsed().as_secs_f64() / points.len() as f64
}

fn main() {
    let base = std::env::var_os("EKO_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).unwrap();
    let store_dir = dir.path().join("store");
    let points = build_store(&store_dir);
    let store = Store::open(&store_dir).unwrap();
    println!(
        "apply: {POINTS} final operators of 14 x {N_X} x 14 x {N_X} ({:.1} MB each) in {}, {ROUNDS} rounds, medians in ms per point",
        (14 * N_X * 14 * N_X * 8) as f64 / 1e6,
        store_dir.display()
    );
    for threads in [1usize, 2] {
        let t = threads.to_string();
        let mut numpy = common::PythonServer::start(
            "apply.py",
            &[store_dir.as_os_str()],
            &[("OPENBLAS_NUM_THREADS", &t), ("OMP_NUM_THREADS", &t)],
        );
        for replicas in [1usize, 100] {
            // Warm both: page cache, Python imports, allocations.
            numpy.ask(&format!("run {replicas}"));
            ours(&store, &points, replicas, threads);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                a.push(ours(&store, &points, replicas, threads) * 1e3);
                b.push(numpy.ask(&format!("run {replicas}"))[0] * 1e3);
            }
            let (a, b) = (common::median(&mut a), common::median(&mut b));
            println!(
                "  {threads} thread(s), {replicas:>3} PDF(s): libeko {a:.3} ms, NumPy {b:.3} ms, NumPy/libeko {:.2}",
                b / a
            );
        }
        let numpy_mem = numpy.ask("mem")[0];
        println!(
            "  memory after the sweeps (RssAnon): libeko process {:.0} MiB, NumPy process {numpy_mem:.0} MiB",
            common::proc_status_kb("RssAnon") / 1024.0
        );
    }
}
