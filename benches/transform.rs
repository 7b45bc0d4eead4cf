//! Transform benchmark (issue 14), printed (not a timed test). Run: `cargo bench --bench transform`
//! (about 2 minutes).
//!
//! A store of 50 final operators with errors, 14 pids x n_x (n_x = 50 and 100; x grid eko's
//! `make_grid`: 3/5 of the points log-spaced from 1e-7 to 0.1, the rest linear to 1; degree 4 in
//! ln x), warm in the page cache, reshaped as pineko / n3fit do: the output x onto a 35-point
//! grid covering only part of the store's range (1.3e-5 to 0.93, like a DIS grid's nodes), the
//! input x onto a 40-point grid over the whole range (another fit grid), and both sides rotated
//! to the evolution basis. Per point (operator and error), on 1 and 2 threads:
//! - libeko apply: `Transform::apply` on `store.operator(point)` and `store.operator_error(point)`
//!   (fresh maps per point) into two reused buffers, the `Transform` built once;
//! - libeko reshape: `eko::transform::reshape`, the whole new store written (each file synced)
//!   and renamed into place, divided by the number of points;
//! - eko 0.15.7: `np.load(mmap_mode='r')` of operator and error, `xgrid_reshape` (which builds
//!   its interpolation matrices on every call) then `to_evol(source=True, target=True)`, in a
//!   Python process started with `OPENBLAS_NUM_THREADS` = 1 or 2 (`benches/python/transform.py`),
//!   timed inside Python. It writes nothing.
//!
//! The rotation alone and the reinterpolation alone are timed too (apply and eko only, on the
//! first 10 points). Rounds interleave the sides (A B C A B C ...), with a pause after each
//! 2-thread eko sweep while OpenBLAS's idle threads still spin (they would take a core from
//! libeko's next timing); medians of milliseconds per point are printed with the ratios
//! eko / libeko (above 1: libeko is faster).
//!
//! Then: the first point's result against eko's (eko's interpolation matrices are accurate to
//! about 1e-9); memory, flat in the number of points when the figures after 10 and after 50
//! points agree: the peak resident memory (VmHWM, reset through /proc/self/clear_refs) and the
//! anonymous memory (RssAnon) of this process during a reshape, and of the eko process over 10
//! and 50 points; and where libeko's time goes (1 thread, per operator): reading the source
//! through its map, each stage of `Transform::apply` in its order, and writing a result with its
//! error as `reshape` does.
//! Set `EKO_BENCH_DIR` to choose the filesystem (default: the system temp dir).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Instant;

use eko::store::{Basis, EvolutionPoint, Store};
use eko::transform::{Rotation, SideChange, Transform, TransformSpec, reshape};
use ndarray::Array4;

const POINTS: usize = 50;
/// Points per sweep for the rotation-only and reinterpolation-only cases.
const SUB_POINTS: usize = 10;
const ROUNDS: usize = 5;

/// `n` points from `a` to `b` (both included), evenly spaced in ln x.
fn geomspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    let (la, lb) = (a.ln(), b.ln());
    (0..n)
        .map(|i| {
            if i + 1 == n {
                b
            } else {
                (la + (lb - la) * i as f64 / (n - 1) as f64).exp()
            }
        })
        .collect()
}

/// `n` points from `a` to `b` (both included), evenly spaced.
fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if i + 1 == n {
                b
            } else {
                a + (b - a) * i as f64 / (n - 1) as f64
            }
        })
        .collect()
}

/// `n_low` points log-spaced from `lo` to `mid`, then `n_high` more linear up to `hi` (eko's
/// `make_grid` with the shared point once).
fn log_lin(lo: f64, mid: f64, hi: f64, n_low: usize, n_high: usize) -> Vec<f64> {
    let mut g = geomspace(lo, mid, n_low);
    g.extend(&linspace(mid, hi, n_high + 1)[1..]);
    g
}

fn source_grid(n_x: usize) -> Vec<f64> {
    log_lin(1e-7, 0.1, 1.0, n_x * 3 / 5, n_x - n_x * 3 / 5)
}

#[derive(Clone, Copy, PartialEq)]
enum Case {
    /// Both x axes and the rotation on both sides.
    Both,
    /// The rotation only.
    Rotation,
    /// The reinterpolation only.
    Reinterpolation,
}

impl Case {
    fn key(self) -> &'static str {
        match self {
            Case::Both => "both",
            Case::Rotation => "rot",
            Case::Reinterpolation => "x",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Case::Both => "x both + evol both",
            Case::Rotation => "evol both only",
            Case::Reinterpolation => "x both only",
        }
    }

    fn spec(self, x_out: &[f64], x_in: &[f64]) -> TransformSpec {
        let side = |x: &[f64]| SideChange {
            xgrid: (self != Case::Rotation).then(|| x.to_vec()),
            rotation: (self != Case::Reinterpolation).then_some(Rotation::To(Basis::Evol)),
        };
        TransformSpec {
            output: side(x_out),
            input: side(x_in),
            interpolation: None,
        }
    }
}

fn build_store(dir: &Path, n_x: usize) -> Vec<EvolutionPoint> {
    let mut metadata = common::metadata(n_x);
    metadata.xgrid = source_grid(n_x);
    common::synthetic_finals(dir, metadata, POINTS, true)
}

/// libeko in memory: seconds per point of `Transform::apply` on each operator and its error.
fn apply(
    store: &Store,
    points: &[EvolutionPoint],
    t: &Transform,
    bufs: &mut (Array4<f64>, Array4<f64>),
) -> f64 {
    let started = Instant::now();
    for p in points {
        t.apply(store.operator(p).unwrap().view(), bufs.0.view_mut())
            .unwrap();
        let e = store.operator_error(p).unwrap().expect("an error");
        t.apply(e.view(), bufs.1.view_mut()).unwrap();
    }
    started.elapsed().as_secs_f64() / points.len() as f64
}

/// libeko's whole reshape into `dest` (removed afterwards, untimed): seconds per point.
fn reshape_store(store: &Store, dest: &Path, spec: &TransformSpec, threads: usize) -> f64 {
    let started = Instant::now();
    let report = reshape(store, dest, spec, threads, serde_json::json!({}), |_| {}).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(dest).unwrap();
    elapsed / report.points.len() as f64
}

/// After an eko sweep on `threads` OpenBLAS threads: waits until its idle threads stop spinning
/// (OpenBLAS busy-waits about 2^28 cycles after each call before sleeping), which would otherwise
/// take a core from libeko's next timing.
fn settle(threads: usize) {
    if threads > 1 {
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// Resets this process's peak RSS (VmHWM) to its current RSS.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

fn mib(field: &str) -> f64 {
    common::proc_status_kb(field) / 1024.0
}

/// Where libeko's time goes, 1 thread, ms per operator (no error): the source read through its
/// map, then the stages in the order `Transform::apply` runs them (x_out, pid_out, x_in, pid_in),
/// each the difference of two cumulative transforms, the rotation alone, and the write of one
/// result with its error (as `reshape` writes it: synced files).
fn stages(
    store: &Store,
    points: &[EvolutionPoint],
    x_out: &[f64],
    x_in: &[f64],
    notes: &mut Vec<String>,
) {
    let n_x = store.metadata().xgrid.len();
    let evol = || Some(Rotation::To(Basis::Evol));
    let side = |x: Option<&[f64]>, rotation: Option<Rotation>| SideChange {
        xgrid: x.map(<[f64]>::to_vec),
        rotation,
    };
    let specs = [
        (side(Some(x_out), None), side(None, None)),
        (side(Some(x_out), evol()), side(None, None)),
        (side(Some(x_out), evol()), side(Some(x_in), None)),
        (side(Some(x_out), evol()), side(Some(x_in), evol())),
        (side(None, evol()), side(None, None)),
        (side(None, evol()), side(None, evol())),
    ];
    let time = |f: &mut dyn FnMut(&EvolutionPoint)| {
        let mut runs: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                points.iter().for_each(&mut *f);
                started.elapsed().as_secs_f64() * 1e3 / points.len() as f64
            })
            .collect();
        common::median(&mut runs)
    };
    let read = time(&mut |p| {
        let op = store.operator(p).unwrap();
        std::hint::black_box(common::sum8(op.view().as_slice().unwrap()));
    });
    let mut t = Vec::new();
    for (output, input) in specs {
        let spec = TransformSpec {
            output,
            input,
            interpolation: None,
        };
        let transform = Transform::new(store.metadata(), &spec).unwrap();
        let mut out = Array4::zeros(transform.shape());
        t.push(time(&mut |p| {
            transform
                .apply(store.operator(p).unwrap().view(), out.view_mut())
                .unwrap()
        }));
    }
    let scratch = tempfile::tempdir_in(store.dir().parent().unwrap()).unwrap();
    let transform = Transform::new(store.metadata(), &Case::Both.spec(x_out, x_in)).unwrap();
    let result = transform
        .apply_owned(store.operator(&points[0]).unwrap().view())
        .unwrap();
    let mut out = Store::create(
        scratch.path().join("s"),
        &transform.metadata(store.metadata(), serde_json::json!({})),
    )
    .unwrap();
    let write = time(&mut |p| out.insert_operator(*p, &result, Some(&result)).unwrap());
    notes.push(format!(
        "{n_x:>4} read the source {read:.3} | x both + evol both {:.3} = x_out {:.3} + pid_out \
         {:.3} + x_in {:.3} + pid_in {:.3} | evol both only {:.3} = pid_out {:.3} + pid_in {:.3} \
         | write result + error {write:.3}",
        t[3],
        t[0],
        t[1] - t[0],
        t[2] - t[1],
        t[3] - t[2],
        t[5],
        t[4],
        t[5] - t[4],
    ));
}

fn main() {
    let base = std::env::var_os("EKO_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let x_out = log_lin(1.3e-5, 0.12, 0.93, 20, 15);
    let x_in = log_lin(1e-7, 0.15, 1.0, 26, 14);
    println!(
        "transform: {POINTS} points with errors, 14 pids; x_out -> {} points [{:.1e}, {}], x_in -> {} points [{:.0e}, {}], degree 4 in ln x; medians of {ROUNDS} rounds, ms per point (operator + error)",
        x_out.len(),
        x_out[0],
        x_out[x_out.len() - 1],
        x_in.len(),
        x_in[0],
        x_in[x_in.len() - 1],
    );
    println!(
        "  {:>4} {:<19} {:>3} | {:>12} {:>14} {:>9} | {:>9} {:>11}",
        "n_x", "case", "thr", "libeko apply", "libeko reshape", "eko", "eko/apply", "eko/reshape"
    );
    let (mut agreement, mut memory, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for n_x in [50usize, 100] {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let store_dir = dir.path().join("store");
        let points = build_store(&store_dir, n_x);
        let store = Store::open(&store_dir).unwrap();
        let grids = dir.path().join("grids.json");
        std::fs::write(
            &grids,
            serde_json::json!({
                "xgrid": store.metadata().xgrid,
                "degree": 4,
                "x_out": x_out,
                "x_in": x_in,
                "stems": points.iter().map(|p| p.stem()).collect::<Vec<_>>(),
            })
            .to_string(),
        )
        .unwrap();
        let dest = dir.path().join("reshaped");
        for threads in [1usize, 2] {
            let t = threads.to_string();
            let mut eko = common::PythonServer::start(
                "transform.py",
                &[store_dir.as_os_str(), grids.as_os_str()],
                &[("OPENBLAS_NUM_THREADS", &t), ("OMP_NUM_THREADS", &t)],
            );
            for case in [Case::Both, Case::Rotation, Case::Reinterpolation] {
                let spec = case.spec(&x_out, &x_in);
                let transform = Transform::new(store.metadata(), &spec)
                    .unwrap()
                    .with_threads(threads);
                let mut bufs = (
                    Array4::zeros(transform.shape()),
                    Array4::zeros(transform.shape()),
                );
                if case == Case::Both && threads == 1 {
                    // The same result as eko's (first point).
                    let path = dir.path().join("eko_first.npy");
                    eko.ask(&format!("check both {}", path.display()));
                    let theirs = eko::npy::NpyFile::open(&path)
                        .unwrap()
                        .read::<f64>()
                        .unwrap();
                    let ours = transform
                        .apply_owned(store.operator(&points[0]).unwrap().view())
                        .unwrap();
                    assert_eq!(theirs.shape(), ours.shape());
                    let diff = ours
                        .iter()
                        .zip(theirs.iter())
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                    let scale = ours.iter().map(|v| v.abs()).fold(0.0, f64::max);
                    agreement.push(format!(
                        "n_x = {n_x}: max |libeko - eko| {diff:.1e} (entries up to {scale:.2})"
                    ));
                }
                let n = if case == Case::Both {
                    POINTS
                } else {
                    SUB_POINTS
                };
                let run = format!("run {} {n}", case.key());
                // Warm both: page cache, Python imports, allocations.
                eko.ask(&format!("run {} {SUB_POINTS}", case.key()));
                settle(threads);
                apply(&store, &points[..SUB_POINTS], &transform, &mut bufs);
                let with_reshape = case == Case::Both;
                if with_reshape {
                    reshape_store(&store, &dest, &spec, threads);
                }
                let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
                for _ in 0..ROUNDS {
                    a.push(apply(&store, &points[..n], &transform, &mut bufs) * 1e3);
                    if with_reshape {
                        b.push(reshape_store(&store, &dest, &spec, threads) * 1e3);
                    }
                    c.push(eko.ask(&run)[0] * 1e3);
                    settle(threads);
                }
                let (a, c) = (common::median(&mut a), common::median(&mut c));
                let (b_text, cb_text) = if with_reshape {
                    let b = common::median(&mut b);
                    (format!("{b:.3}"), format!("{:.1}", c / b))
                } else {
                    ("-".to_string(), "-".to_string())
                };
                println!(
                    "  {n_x:>4} {:<19} {threads:>3} | {a:>12.3} {b_text:>14} {c:>9.3} | {:>9.1} {cb_text:>11}",
                    case.label(),
                    c / a
                );
            }
            if threads == 1 {
                // Memory, flat in the number of points? A reshape's peak after 10 and 50 points.
                let spec = Case::Both.spec(&x_out, &x_in);
                reset_peak();
                let start = mib("VmRSS");
                let mut at = Vec::new();
                reshape(&store, &dest, &spec, 1, serde_json::json!({}), |p| {
                    if p.done == 10 || p.done == POINTS {
                        at.push((mib("VmHWM"), mib("RssAnon")));
                    }
                })
                .unwrap();
                std::fs::remove_dir_all(&dest).unwrap();
                let e10 = eko.ask(&format!("peak both {}", 10));
                let e50 = eko.ask(&format!("peak both {POINTS}"));
                memory.push(format!(
                    "{n_x:>4} libeko reshape, 1 thread: VmRSS {:.1} at its start; peak (VmHWM) {:.1} after 10 points, {:.1} after {POINTS}; RssAnon {:.1} / {:.1}",
                    start, at[0].0, at[1].0, at[0].1, at[1].1
                ));
                memory.push(format!(
                    "{n_x:>4} eko, 1 thread: peak (VmHWM) {:.1} over 10 points, {:.1} over {POINTS}; RssAnon after them {:.1} / {:.1}",
                    e10[0], e50[0], e10[1], e50[1]
                ));
            }
        }
        stages(&store, &points[..SUB_POINTS], &x_out, &x_in, &mut notes);
        println!(
            "  (n_x = {n_x}: source operator {:.1} MB + error, result {:.1} MB + error; store in {})",
            (14 * n_x * 14 * n_x * 8) as f64 / 1e6,
            (14 * x_out.len() * 14 * x_in.len() * 8) as f64 / 1e6,
            dir.path().display()
        );
    }
    println!("first point, x both + evol both, libeko against eko:");
    for line in agreement {
        println!("  {line}");
    }
    println!(
        "memory (MiB; peak resident memory since a reset, mapped operator pages included; anonymous memory):"
    );
    for line in memory {
        println!("  {line}");
    }
    println!("libeko stages (1 thread, ms per operator, no error; stages in apply's order):");
    for line in notes {
        println!("  {line}");
    }
}
