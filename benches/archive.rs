//! Archive benchmark (issue 16), printed (not a timed test). Run: `cargo bench --bench archive`
//! (about 3 minutes; `EKO_BENCH_ROUNDS` rounds, default 3).
//!
//! A store of 50 final operators with errors (14 pids x n_x, n_x = 50 and 100, synthetic
//! operators shaped like real ones, eko's example cards for its grid and points), warm in the page
//! cache. Four sides, each in its own process, rounds interleaved (A B C D A B C D ...):
//! - libeko export: `eko::archive::export::export` (LZ4, default threads) of the store;
//! - eko write: eko 0.15.7 writing the same operators (`EKO.create`, `eko[ep] = Operator(op,
//!   err)` with each read by `np.load`, then closing, which dumps the tar, then an fsync of the
//!   archive, since libeko's export returns with its archive on disk): how eko writes an
//!   archive (`benches/python/archive.py write`);
//! - libeko import: `eko::archive::import` of the archive eko wrote, into a new store;
//! - eko read: `eko.EKO.read` of that archive and every operator and error via `items()`
//!   (`archive.py read`).
//!
//! Before each step every dirty page is written out (`sync`), so a step waits for its own writes
//! only. libeko's sides run in a child process (this binary, re-executed with `--child`) so that each
//! side's peak resident memory is its own VmHWM (`wait4`'s maxrss would count this process's
//! memory at the fork). Printed: medians of wall time (inside each process, start-up excluded),
//! MB/s of operator and error bytes (50 x 2 x 8 x (14 n_x)²), peak memory, and the ratios eko /
//! libeko (above 1: libeko is faster). Set `EKO_BENCH_DIR` to choose the filesystem (default: the
//! system temp dir).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use eko::archive::export::{ExportOptions, export};
use eko::store::{EvolutionPoint, Segment, Store};

const POINTS: usize = 50;

/// The child side: runs one libeko operation and prints its wall time and VmHWM as JSON.
fn child(args: &[String]) {
    let start = Instant::now();
    match args[0].as_str() {
        "export" => {
            let store = Store::open(&args[1]).unwrap();
            export(
                &store,
                Path::new(&args[2]),
                &ExportOptions::default(),
                |_| {},
            )
            .unwrap();
        }
        "import" => {
            eko::archive::import(Path::new(&args[1]), Path::new(&args[2]), |_| {}).unwrap();
        }
        other => panic!("unknown child command {other}"),
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"seconds": seconds, "vmhwm_kb": common::proc_status_kb("VmHWM")})
    );
}

fn run(cmd: &mut Command) -> serde_json::Value {
    // The previous step's dirty pages on disk first, so that each step waits for its own writes
    // only.
    // SAFETY: sync(2) takes no argument and cannot fail.
    unsafe { libc::sync() };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().last().unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn python(args: &[&std::ffi::OsStr]) -> Command {
    let mut cmd = Command::new(common::python());
    cmd.arg(common::root().join("benches/python/archive.py"))
        .args(args);
    cmd
}

/// The store: 50 synthetic final operators with errors at nf = 5 and eko's example cards.
fn make_store(dir: &Path, n_x: usize) {
    let mut metadata = common::metadata(n_x);
    metadata.theory = serde_json::Value::Null;
    let mut store = Store::create(dir, &metadata).unwrap();
    let synthetic = eko::synthetic::Synthetic::new(metadata.pids.clone(), n_x, 11);
    for i in 0..POINTS {
        let q2 = 30.0 * 1.3f64.powi(i as i32);
        let op = synthetic.segment(&Segment {
            origin: 1.65 * 1.65,
            target: q2,
            nf: 5,
        });
        store
            .insert_operator(
                EvolutionPoint::new(q2, 5).unwrap(),
                &op.operator,
                Some(&op.error),
            )
            .unwrap();
    }
    drop(store);
    // eko's example cards for this grid and these points (theory and operator in metadata.json,
    // as an import from eko records them).
    let cards = dir.with_extension("cards.json");
    let out = python(&["cards".as_ref(), dir.as_os_str(), cards.as_os_str()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cards: serde_json::Value = serde_json::from_slice(&std::fs::read(&cards).unwrap()).unwrap();
    let path = dir.join(eko::store::METADATA_FILE);
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    meta["theory"] = cards["theory"].clone();
    meta["operator"] = cards["operator"].clone();
    std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    Store::open(dir).unwrap();
}

#[derive(Default)]
struct Side {
    seconds: Vec<f64>,
    peak_mb: Vec<f64>,
}

impl Side {
    fn add(&mut self, v: &serde_json::Value) {
        self.seconds.push(v["seconds"].as_f64().unwrap());
        self.peak_mb.push(v["vmhwm_kb"].as_f64().unwrap() / 1024.0);
    }
    fn seconds(&mut self) -> f64 {
        common::median(&mut self.seconds)
    }
    fn peak(&mut self) -> f64 {
        common::median(&mut self.peak_mb)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1..]);
        return;
    }
    let rounds: usize = std::env::var("EKO_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let base = std::env::var_os("EKO_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let exe = std::env::current_exe().unwrap();
    println!(
        "archive benchmark: {POINTS} final operators with errors, 14 x n_x, {rounds} interleaved \
         rounds, medians; eko 0.15.7 in {}",
        common::python().display()
    );
    for n_x in [50usize, 100] {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let store = dir.path().join("store");
        make_store(&store, n_x);
        let bytes = (POINTS * 2 * 8 * (14 * n_x) * (14 * n_x)) as f64;
        let (mut ours_export, mut eko_write, mut ours_import, mut eko_read) = (
            Side::default(),
            Side::default(),
            Side::default(),
            Side::default(),
        );
        let mut sizes = (0u64, 0u64);
        for round in 0..rounds {
            let ours = dir.path().join(format!("ours-{round}.tar"));
            let theirs = dir.path().join(format!("eko-{round}.tar"));
            let imported = dir.path().join(format!("imported-{round}"));
            ours_export.add(&run(Command::new(&exe).args([
                "--child".as_ref(),
                "export".as_ref(),
                store.as_os_str(),
                ours.as_os_str(),
            ])));
            eko_write.add(&run(&mut python(&[
                "write".as_ref(),
                store.as_os_str(),
                theirs.as_os_str(),
            ])));
            ours_import.add(&run(Command::new(&exe).args([
                "--child".as_ref(),
                "import".as_ref(),
                theirs.as_os_str(),
                imported.as_os_str(),
            ])));
            let read = run(&mut python(&["read".as_ref(), theirs.as_os_str()]));
            assert_eq!(read["bytes"].as_f64().unwrap(), bytes);
            eko_read.add(&read);
            sizes = (
                std::fs::metadata(&ours).unwrap().len(),
                std::fs::metadata(&theirs).unwrap().len(),
            );
            for p in [&ours, &theirs] {
                std::fs::remove_file(p).unwrap();
            }
            std::fs::remove_dir_all(&imported).unwrap();
        }
        let operator_mb = (8 * (14 * n_x) * (14 * n_x)) as f64 / 1e6;
        println!(
            "\nn_x = {n_x}: {:.0} MB of operators and errors (one operator {operator_mb:.1} MB); \
             archives: libeko {:.0} MB, eko {:.0} MB",
            bytes / 1e6,
            sizes.0 as f64 / 1e6,
            sizes.1 as f64 / 1e6
        );
        println!(
            "  {:<34} {:>8} {:>8} {:>10} {:>9}",
            "", "wall s", "MB/s", "peak MB", "eko/ours"
        );
        let line = |name: &str, side: &mut Side, ratio: Option<f64>| {
            let s = side.seconds();
            println!(
                "  {name:<34} {s:>8.2} {:>8.0} {:>10.0} {:>9}",
                bytes / 1e6 / s,
                side.peak(),
                ratio.map_or(String::new(), |r| format!("{r:.1}x"))
            );
        };
        let (e, w, i, r) = (
            ours_export.seconds(),
            eko_write.seconds(),
            ours_import.seconds(),
            eko_read.seconds(),
        );
        line("libeko export", &mut ours_export, Some(w / e));
        line("eko write (create, setitem, close)", &mut eko_write, None);
        line(
            "libeko import (eko's archive)",
            &mut ours_import,
            Some(r / i),
        );
        line("eko read (EKO.read + items())", &mut eko_read, None);
    }
}
