//! Python package benchmark (issue 17), printed (not a timed test). Run:
//! `cargo bench --bench python` (about 2 minutes, builds aside;
//! `EKO_BENCH_ROUNDS` rounds, default 5).
//!
//! The store of benches/archive.rs: 50 final operators with errors (14 pids x n_x, n_x = 50 and
//! 100, synthetic operators shaped like real ones, eko's example cards), and the equivalent eko
//! 0.15 archive made from it by `eko::archive::export::export` (what eko users hold). The package
//! is built first (`scripts/python-package`: `maturin develop --release` into `.venv`), every
//! file of the store and the archive is read once (warm page cache), then three sides run,
//! each in its own Python process, rounds interleaved (A B C A B C ...), all by
//! `benches/python/read.py`:
//! - libeko: `libeko.Store(STORE)`, then `items()`, each operator and its `.error` summed;
//! - eko: `eko.EKO.read(ARCHIVE)` (eko 0.15.7), then `items()`, each `.operator` and `.error`
//!   summed, then `close()` (`EKO.read` extracts the whole archive to a temporary directory and
//!   decompresses every operator once to check its shape: its first operator waits for that);
//! - NumPy, the reference for page-cache speed: `np.load(path, mmap_mode="r")` of each operator
//!   and error file of the store, each summed: what NumPy gets from the page cache for the same
//!   bytes.
//!
//! Summing an array reads every page of it: that is what "reading" an operator means here. The
//! imports (NumPy and libeko or eko) happen before each process starts its clock. Printed, medians
//! over the rounds: time until the store or archive is open, until the first operator and its error
//! are in hand as arrays, until their values are read, until every operator is read (MB/s of
//! operator and error bytes, 50 x 2 x 8 x (14 n_x)²); memory: the process's resident size after
//! its imports (the baseline), its peak while reading (VmHWM, reset to the baseline when the clock
//! starts; mapped file pages count) and the difference, also in operators (one operator with its
//! error). Then the ratios eko / libeko and libeko / NumPy and a verdict for each goal of the
//! issue: first operator in under 1 ms whatever the size, all operators at page-cache speed
//! (libeko within 20 % of NumPy's time), memory one operator (at most two over the baseline). Set
//! `EKO_BENCH_DIR` to choose the filesystem (default: the system temp dir).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use eko::archive::export::{ExportOptions, export};
use eko::store::{FileKind, Store};

const POINTS: usize = 50;

/// The sides, in the order each round runs them: (read.py's name, label).
const SIDES: [(&str, &str); 3] = [
    ("libeko", "libeko (Store + items())"),
    ("eko", "eko (EKO.read + items())"),
    ("numpy", "NumPy (np.load mmap_mode=r)"),
];

/// Builds and installs the Python package into `.venv` (its messages, if any, go to standard
/// error), where the helpers' Python (`common::python`, unless `EKO_PYTHON` says otherwise) finds
/// it.
fn build_package() {
    let status = std::process::Command::new(common::root().join("scripts/python-package"))
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/python-package");
    assert!(status.success(), "scripts/python-package failed");
}

/// The store of 50 final operators with errors, with eko's example cards (made by
/// `benches/python/archive.py cards`), exported as an eko archive at `archive`; `listing` gets one
/// `operator<TAB>error` line per point (the NumPy side's files).
fn make_store(store: &Path, archive: &Path, listing: &Path, n_x: usize) {
    let points = common::synthetic_finals(store, common::metadata(n_x), POINTS, true);
    let cards_path = store.with_extension("cards.json");
    common::run_python_at(
        &common::root().join("benches/python/archive.py"),
        &[Path::new("cards"), store, &cards_path],
    );
    let cards: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cards_path).unwrap()).unwrap();
    let metadata_path = store.join(eko::store::METADATA_FILE);
    let mut metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&metadata_path).unwrap()).unwrap();
    for card in ["theory", "operator"] {
        metadata[card] = cards[card].clone();
    }
    std::fs::write(
        &metadata_path,
        serde_json::to_vec_pretty(&metadata).unwrap(),
    )
    .unwrap();
    let opened = Store::open(store).unwrap();
    export(&opened, archive, &ExportOptions::default(), |_| {}).unwrap();
    let mut out = std::fs::File::create(listing).unwrap();
    for p in &points {
        let file = |kind| opened.path_of(p, kind).display().to_string();
        writeln!(
            out,
            "{}\t{}",
            file(FileKind::Operator),
            file(FileKind::OperatorError)
        )
        .unwrap();
    }
}

/// Reads every file below `dir` (or `dir` itself, a file) once, into the page cache.
fn warm(path: &Path) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            warm(&entry.unwrap().path());
        }
        return;
    }
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while file.read(&mut buf).unwrap() > 0 {}
}

/// One side's samples: times in ms, memory in MiB, by name.
#[derive(Default)]
struct Samples(BTreeMap<&'static str, Vec<f64>>);

impl Samples {
    fn add(&mut self, v: &serde_json::Value) {
        let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
        for k in ["open", "first", "first_read", "all"] {
            self.0.entry(k).or_default().push(f(k) * 1e3);
        }
        let (base, peak) = (f("baseline_kb") / 1024.0, f("peak_kb") / 1024.0);
        self.0.entry("base").or_default().push(base);
        self.0.entry("peak").or_default().push(peak);
        self.0.entry("over").or_default().push(peak - base);
    }

    fn median(&mut self, key: &str) -> f64 {
        common::median(self.0.get_mut(key).unwrap())
    }
}

fn main() {
    let rounds: usize = std::env::var("EKO_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let base = std::env::var_os("EKO_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    build_package();
    let script = common::root().join("benches/python/read.py");
    println!(
        "Python package benchmark: {POINTS} final operators with errors, 14 x n_x, {rounds} \
         interleaved rounds, medians; libeko (this tree) and eko 0.15.7 in {}; times from the \
         start of each process's clock (imports done), memory of each process",
        common::python().display()
    );
    for n_x in [50usize, 100] {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let (store, archive, listing) = (
            dir.path().join("store"),
            dir.path().join("eko.tar"),
            dir.path().join("files.txt"),
        );
        make_store(&store, &archive, &listing, n_x);
        warm(&store);
        warm(&archive);
        let operator_bytes = 2 * 8 * (14 * n_x) * (14 * n_x);
        let bytes = (POINTS * operator_bytes) as f64;
        let inputs = [&store, &archive, &listing];
        let mut samples: [Samples; 3] = Default::default();
        let mut sums = [0.0; 3];
        for _ in 0..rounds {
            for (i, (side, _)) in SIDES.iter().enumerate() {
                // Nothing left to write back from the previous side (eko extracts its archive).
                // SAFETY: sync(2) takes no argument and cannot fail.
                unsafe { libc::sync() };
                let out = common::run_python_at(&script, &[Path::new(side), inputs[i]]);
                let line = out.lines().last().unwrap_or("");
                let v: serde_json::Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {out}"));
                assert_eq!(v["operators"].as_u64(), Some(POINTS as u64), "{side}: {v}");
                assert_eq!(v["bytes"].as_f64(), Some(bytes), "{side}: {v}");
                samples[i].add(&v);
                sums[i] = v["sum"].as_f64().unwrap();
            }
        }
        // The three sides read the same values.
        for s in &sums[1..] {
            assert!(
                (s - sums[0]).abs() <= 1e-9 * sums[0].abs().max(1.0),
                "{sums:?}"
            );
        }
        report(
            n_x,
            &mut samples,
            bytes,
            operator_bytes as f64,
            std::fs::metadata(&archive).unwrap().len(),
        );
    }
}

/// Prints the table of one n_x and the verdict on each goal.
fn report(n_x: usize, samples: &mut [Samples; 3], bytes: f64, operator_bytes: f64, archive: u64) {
    let op_mib = operator_bytes / (1 << 20) as f64;
    println!(
        "\nn_x = {n_x}: {:.0} MB of operators and errors (one operator with its error {:.1} MB = \
         {op_mib:.1} MiB); eko archive {:.0} MB",
        bytes / 1e6,
        operator_bytes / 1e6,
        archive as f64 / 1e6
    );
    println!(
        "  {:<28} {:>8} {:>9} {:>10} {:>9} {:>7} {:>8} {:>8} {:>8} {:>6}",
        "",
        "open ms",
        "first ms",
        "1st read",
        "all ms",
        "MB/s",
        "base MiB",
        "peak MiB",
        "over MiB",
        "x op"
    );
    for (i, (_, label)) in SIDES.iter().enumerate() {
        let s = &mut samples[i];
        let all = s.median("all");
        let over = s.median("over");
        println!(
            "  {label:<28} {:>8.3} {:>9.3} {:>10.2} {all:>9.1} {:>7.0} {:>8.0} {:>8.0} {over:>8.1} \
             {:>6.2}",
            s.median("open"),
            s.median("first"),
            s.median("first_read"),
            bytes / 1e6 / (all / 1e3),
            s.median("base"),
            s.median("peak"),
            over / op_mib
        );
    }
    let [ours, theirs, numpy] = samples;
    let (first, first_read, all, over) = (
        ours.median("first"),
        ours.median("first_read"),
        ours.median("all"),
        ours.median("over") / op_mib,
    );
    let to_numpy = all / numpy.median("all");
    println!(
        "  eko / libeko: first operator {:.0}x, all {:.1}x; libeko / NumPy: all {to_numpy:.2}x",
        theirs.median("first") / first,
        theirs.median("all") / all,
    );
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!(
        "  goal: first operator in under 1 ms: {} ({first:.3} ms in hand, {first_read:.2} ms with \
         its values and error read)",
        verdict(first < 1.0)
    );
    println!(
        "  goal: all operators at page-cache speed (within 20 % of NumPy's mmap reading): {} \
         ({to_numpy:.2}x NumPy's time)",
        verdict(to_numpy <= 1.2)
    );
    println!(
        "  goal: memory one operator (peak over the baseline at most two operators with errors): \
         {} ({over:.2} operators)",
        verdict(over <= 2.0)
    );
}
