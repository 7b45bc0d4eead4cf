//! Store benchmarks, printed (not timed tests). Run: `cargo bench --bench store`.
//!
//! Against NumPy/Python doing the same in one run, interleaved, medians:
//! 1. open a store of 1000 operators (14 x 50 x 14 x 50 f64, 3.9 GB): metadata + listing;
//! 2. iterate it lazily, summing every operator, with peak anonymous memory;
//! 3. merge its 1000 files into a new store by hard links and by byte copies, against
//!    `os.link` / `shutil.copyfile` loops.
//!
//! Needs about 12 GB of free disk (the store, then one copy at a time).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Instant;

use eko::store::{EvolutionPoint, MergeOptions, Store, Transfer, merge};
use ndarray::Array4;

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    let n_points = 1000;
    let nx = 50;
    let base = std::env::var_os("EKO_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).unwrap();
    let src = dir.path().join("store");
    let t = Instant::now();
    let mut store = Store::create(&src, &common::metadata(nx)).unwrap();
    let mut op = Array4::<f64>::zeros((14, nx, 14, nx));
    for i in 0..n_points {
        let p = EvolutionPoint::new(
            10f64.powf(0.5 + 4.0 * i as f64 / n_points as f64),
            if i % 2 == 0 { 4 } else { 5 },
        )
        .unwrap();
        op.fill(i as f64);
        store.insert_operator(p, &op, None::<&Array4<f64>>).unwrap();
    }
    drop(op);
    println!(
        "built a store of {n_points} operators (14 x {nx} x 14 x {nx} f64, {:.1} GB) in {:.1} s",
        n_points as f64 * 14.0 * 14.0 * (nx * nx) as f64 * 8.0 / 1e9,
        t.elapsed().as_secs_f64()
    );
    let mut py = common::PythonServer::start("store_ops.py", &[], &[]);
    let s = src.display().to_string();

    // 1. open
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..=21 {
        let t = Instant::now();
        let store = Store::open(&src).unwrap();
        std::hint::black_box(store.points().count());
        let rust = t.elapsed().as_secs_f64();
        let python = py.ask(&format!("open {s}"))[0];
        if round > 0 {
            ours.push(rust * 1e3);
            theirs.push(python * 1e3);
        }
    }
    let (o, t) = (common::median(&mut ours), common::median(&mut theirs));
    println!("open a store of {n_points} operators (metadata + listing), 21 rounds, medians:");
    println!("  libeko Store::open        {o:8.2} ms");
    println!(
        "  Python json + listdir     {t:8.2} ms   ratio {:.2}x",
        t / o
    );

    // 2. lazy iteration
    let (mut ours, mut theirs, mut our_peak, mut their_peak) =
        (Vec::new(), Vec::new(), 0.0f64, 0.0f64);
    let start_anon = common::proc_status_kb("RssAnon");
    for _ in 0..3 {
        let t = Instant::now();
        let store = Store::open(&src).unwrap();
        let mut total = 0.0;
        let mut peak = common::proc_status_kb("RssAnon");
        for item in store.operators() {
            let (_, file) = item.unwrap();
            total += common::sum8(file.view().as_slice().unwrap());
            peak = peak.max(common::proc_status_kb("RssAnon"));
        }
        std::hint::black_box(total);
        ours.push(t.elapsed().as_secs_f64() / n_points as f64 * 1e3);
        our_peak = our_peak.max(peak);
        let answer = py.ask(&format!("iterate {s}"));
        theirs.push(answer[0] / n_points as f64 * 1e3);
        their_peak = their_peak.max(answer[1]);
    }
    let (o, t) = (common::median(&mut ours), common::median(&mut theirs));
    println!(
        "iterate lazily, summing each operator (page cached), 3 rounds, medians per operator:"
    );
    println!(
        "  libeko Store::operators()      {o:7.3} ms   peak anonymous memory {:.1} MiB (at start {:.1} MiB)",
        our_peak / 1024.0,
        start_anon / 1024.0
    );
    println!(
        "  NumPy np.load(mmap).sum()      {t:7.3} ms   peak anonymous memory {:.1} MiB   ratio {:.2}x",
        their_peak / 1024.0,
        t / o
    );

    // 3. merge by link and by copy
    let mut results: [Vec<f64>; 4] = Default::default();
    for round in 0..3 {
        let dests: Vec<_> = (0..4)
            .map(|k| dir.path().join(format!("dest{round}_{k}")))
            .collect();
        let t = Instant::now();
        merge(&dests[0], &[&src], MergeOptions::default()).unwrap();
        results[0].push(t.elapsed().as_secs_f64());
        results[1].push(py.ask(&format!("link {s} {}", dests[1].display()))[0]);
        let t = Instant::now();
        let report = merge(
            &dests[2],
            &[&src],
            MergeOptions {
                transfer: Transfer::Copy,
                ..Default::default()
            },
        )
        .unwrap();
        results[2].push(t.elapsed().as_secs_f64());
        assert_eq!(report.copied, n_points + 1);
        results[3].push(py.ask(&format!("copy {s} {}", dests[3].display()))[0]);
        for d in &dests {
            remove(d);
        }
    }
    let [link, pylink, copy, pycopy] = results.map(|mut v| common::median(&mut v));
    println!(
        "merge {} files into a new store, 3 rounds, medians:",
        n_points + 1
    );
    println!(
        "  libeko merge (hard links, checks every header)   {:8.1} ms",
        link * 1e3
    );
    println!(
        "  Python os.link loop (no checks)                  {:8.1} ms   ratio {:.2}x",
        pylink * 1e3,
        pylink / link
    );
    println!(
        "  libeko merge --copy (checked, fsynced)           {:8.1} ms",
        copy * 1e3
    );
    println!(
        "  Python shutil.copyfile loop (no checks, no sync) {:8.1} ms   ratio {:.2}x",
        pycopy * 1e3,
        pycopy / copy
    );
    println!("  link / copy speed-up: {:.0}x", copy / link);
}
