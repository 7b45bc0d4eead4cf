//! Combine benchmark, printed (not a timed test). Run: `cargo bench --bench combine`.
//!
//! 32 points at nf = 6 (two thresholds crossed from the origin's nf = 4: bottom and top), 14 pids
//! x 100 x, synthetic operators with the structure of real ones (`eko::synthetic`: zero photon,
//! identity for inactive heavy flavours, near-triangular in x). End to end, each side in its own
//! process, 1 and 2 threads, interleaved round by round, medians:
//! - libeko: `eko combine --threads T STORE` (maps the partials, chains once per nf, products into
//!   new mapped files, fsync and rename, removes the partials), timed from outside;
//! - NumPy: `benches/python/combine.py` with `OPENBLAS_NUM_THREADS=T`: `np.load(mmap_mode='r')`,
//!   the same chain once per nf, one BLAS product per point, `np.save` (no fsync), timed inside
//!   Python after its imports.
//!
//! Peak anonymous memory (RssAnon, sampled every 2 ms) of each process is reported. The same run
//! repeats with dense random operators (no structure to find) to show the kernel's floor.
//! Set `EKO_BENCH_DIR` to choose the filesystem (default: the system temp dir).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eko::grid::{Computed, Grid, ProducerError, Task};
use eko::store::{EvolutionPoint, FLAVOR_BASIS};
use eko::synthetic::Synthetic;
use ndarray::Array4;

const N_X: usize = 100;
const POINTS: usize = 32;
const ROUNDS: usize = 5;

fn rss_anon_kb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Runs `command`, returning (wall seconds, stdout, peak anonymous MiB).
fn measure(mut command: Command) -> (f64, String, f64) {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut peak: f64 = 0.0;
    loop {
        if let Some(kb) = rss_anon_kb(child.id()) {
            peak = peak.max(kb);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let wall = started.elapsed().as_secs_f64();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{command:?} failed");
    (wall, String::from_utf8(out.stdout).unwrap(), peak / 1024.0)
}

fn link_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with('.') {
            std::fs::hard_link(entry.path(), to.join(name)).unwrap();
        }
    }
}

fn max_rel(a: &Path, b: &Path) -> f64 {
    let a = eko::npy::NpyFile::open(a).unwrap();
    let b = eko::npy::NpyFile::open(b).unwrap();
    let (a, b) = (a.view::<f64>().unwrap(), b.view::<f64>().unwrap());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b.iter())
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn run(label: &str, producer: impl FnMut(&Task) -> Result<Computed, ProducerError> + Clone) {
    let base = std::env::var_os("EKO_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).unwrap();
    let pristine = dir.path().join("pristine");
    let targets: Vec<EvolutionPoint> = (0..POINTS)
        .map(|i| EvolutionPoint::new(10f64.powf(4.5 + 2.0 * i as f64 / POINTS as f64), 6).unwrap())
        .collect();
    let grid = Grid::new(common::metadata(N_X), &targets).unwrap();
    grid.run_thresholds(&pristine, producer.clone()).unwrap();
    grid.run_partials(&pristine, &targets, producer).unwrap();

    println!(
        "\n{label}: {POINTS} points x (14 x {N_X})^2, two thresholds crossed, {ROUNDS} rounds, medians"
    );
    let python = common::python();
    let script = common::root().join("benches/python/combine.py");
    for threads in [1, 2] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let (mut our_peak, mut their_peak) = (0.0f64, 0.0f64);
        for round in 0..ROUNDS {
            let work = dir.path().join(format!("work-{threads}-{round}"));
            let numpy_out = dir.path().join(format!("numpy-{threads}-{round}"));
            link_dir(&pristine, &work);
            std::fs::create_dir_all(&numpy_out).unwrap();
            let eko = || {
                let mut c = Command::new(env!("CARGO_BIN_EXE_eko"));
                c.args(["combine", "--threads", &threads.to_string()])
                    .arg(&work);
                measure(c)
            };
            let numpy = || {
                let mut c = Command::new(&python);
                c.arg(&script)
                    .arg(&pristine)
                    .arg(&numpy_out)
                    .env("OPENBLAS_NUM_THREADS", threads.to_string());
                let (_, out, peak) = measure(c);
                (out.trim().parse::<f64>().unwrap(), peak)
            };
            let ((ours_s, _, op), (theirs_s, tp)) = if round % 2 == 0 {
                let a = eko();
                (a, numpy())
            } else {
                let b = numpy();
                (eko(), b)
            };
            ours.push(ours_s);
            theirs.push(theirs_s);
            our_peak = our_peak.max(op);
            their_peak = their_peak.max(tp);
            if round == 0 {
                let stem = targets[POINTS / 2].stem();
                let d = max_rel(
                    &work.join(format!("{stem}.npy")),
                    &numpy_out.join(format!("{stem}.npy")),
                );
                assert!(d < 1e-12, "libeko and NumPy disagree: {d:e}");
            }
            std::fs::remove_dir_all(&work).unwrap();
            std::fs::remove_dir_all(&numpy_out).unwrap();
        }
        let (o, t) = (common::median(&mut ours), common::median(&mut theirs));
        let per = |s: f64| s * 1e3 / POINTS as f64;
        println!(
            "  {threads} thread(s): libeko {:7.1} ms/point   NumPy {:7.1} ms/point   NumPy/libeko {:5.2}x   peak anon: libeko {:6.1} MiB, NumPy {:6.1} MiB",
            per(o),
            per(t),
            t / o,
            our_peak,
            their_peak
        );
    }
}

fn main() {
    let synthetic = Synthetic::new(FLAVOR_BASIS.to_vec(), N_X, 7);
    run("structured (synthetic) operators", move |task: &Task| {
        let op = synthetic.task(task);
        Ok(Computed {
            operator: op.operator,
            error: None,
        })
    });
    run("dense random operators", |task: &Task| {
        let mut state = task
            .to_string()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        let operator = Array4::from_shape_simple_fn((14, N_X, 14, N_X), || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.02
        });
        Ok(Computed {
            operator,
            error: None,
        })
    });
}
