//! Crash safety, tested the way SQLite tests it: every write path has named fault points
//! (`fault-injection` feature), and for each operation the test kills the process (`SIGKILL`) at
//! every fault point in turn, and separately makes every fault point fail, then checks:
//!
//! 1. between the kill and the recovery, a reader sees only complete files, and every operator
//!    or partial with the error it had (never another write's, never none when it had one);
//! 2. after the documented recovery (rerunning the same command), every directory involved
//!    equals, file for file and byte for byte, what an uninterrupted run leaves (sources of a
//!    move emptied as an uninterrupted move empties them);
//! 3. no temporary file or directory, and no record of intent, remains anywhere.
//!
//! An injected failure must also leave no temporary file behind by itself. `eko recover` is
//! checked to bring a killed store to a state from which the same rerun gives that result.
//!
//! The longer random-kill sweep (SIGKILL after a random delay, on a larger store) is
//! `scripts/crash-sweep`, which runs `random_kill_sweep` below.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::point;
use eko::combine::Kernel;
use eko::grid::{Computed, Grid, ProducerError, Task};
use eko::store::{EvolutionPoint, FileKind, Store};
use eko::synthetic::Synthetic;

const N_X: usize = 4;

/// Points on every kind of path: none crossed (nf 4), one threshold (nf 5, nf 3), two (nf 6).
fn targets() -> Vec<EvolutionPoint> {
    vec![
        point(10.0, 4),
        point(30.0, 5),
        point(100.0, 5),
        point(2.0, 3),
        point(1e5, 6),
        point(4.92f64.powi(2), 4),
    ]
}

fn producer() -> impl FnMut(&Task) -> Result<Computed, ProducerError> + Clone {
    let synthetic = Synthetic::new(eko::store::FLAVOR_BASIS.to_vec(), N_X, 5);
    move |task: &Task| {
        let op = synthetic.task(task);
        Ok(Computed {
            operator: op.operator,
            error: Some(op.error),
        })
    }
}

fn grid() -> Grid {
    Grid::new(common::metadata(N_X), &targets()).unwrap()
}

/// A store with thresholds and partials (with errors) at `dir`.
fn partials_store(dir: &Path) {
    let grid = grid();
    grid.run_thresholds(dir, producer()).unwrap();
    let all: Vec<_> = grid.targets().collect();
    grid.run_partials(dir, &all, producer()).unwrap();
}

/// A combined store (final operators, thresholds kept) at `dir`.
fn combined_store(dir: &Path) {
    partials_store(dir);
    let mut store = Store::open(dir).unwrap();
    eko::combine::combine(&mut store, &Kernel::new(1), |_| {}).unwrap();
}

/// How a scenario's command runs.
enum Runner {
    /// The `eko` binary with these arguments (`{root}` replaced by the scenario's directory).
    Eko(Vec<&'static str>),
    /// This test binary's `child` test with `EKO_CRASH_CHILD=<name>|<root>`.
    Child(&'static str),
}

struct Scenario {
    name: &'static str,
    setup: fn(&Path),
    runner: Runner,
    /// Every `stride`-th fault point is tried (1: all; longer runs sample them).
    stride: usize,
    /// Whether every operator a reader can see between kill and recovery is one of those before
    /// or after the run, with its error. Off for the demo, whose intermediate stores hold
    /// operators that neither state has (its readers are still checked for complete files).
    pairs: bool,
}

fn command(runner: &Runner, root: &Path) -> Command {
    match runner {
        Runner::Eko(args) => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_eko"));
            c.args(
                args.iter()
                    .map(|a| a.replace("{root}", &root.display().to_string())),
            );
            // The demo without a directory works in the system's temporary directory: here,
            // one inside the scenario's directory, so that its leftovers are seen.
            c.env("TMPDIR", root.join("tmp"));
            c
        }
        Runner::Child(name) => {
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.args(["--exact", "child", "--test-threads=1", "--quiet"])
                .env("EKO_CRASH_CHILD", format!("{name}|{}", root.display()));
            c
        }
    }
}

fn run(runner: &Runner, root: &Path, fault: Option<&str>, trace: Option<&Path>) -> Output {
    let mut c = command(runner, root);
    c.env_remove("EKO_FAULT").env_remove("EKO_FAULT_TRACE");
    if let Some(f) = fault {
        c.env("EKO_FAULT", f);
    }
    if let Some(t) = trace {
        c.env("EKO_FAULT_TRACE", t);
    }
    c.output().unwrap()
}

/// Child processes: the write paths that have no command of their own.
#[test]
fn child() {
    let Ok(spec) = std::env::var("EKO_CRASH_CHILD") else {
        return;
    };
    let (name, root) = spec.split_once('|').unwrap();
    let dir = Path::new(root).join("store");
    match name {
        // Replace points (with and without error, over files with errors), add one, remove one.
        "insert" => {
            let mut store = Store::open(&dir).unwrap();
            let op = |p: &EvolutionPoint, tag| common::operator(p, N_X, tag);
            let p = point(30.0, 5);
            store
                .insert_operator(p, &op(&p, 1.0), Some(&op(&p, 2.0)))
                .unwrap();
            let p = point(100.0, 5);
            store
                .insert_operator(p, &op(&p, 3.0), None::<&ndarray::Array4<f64>>)
                .unwrap();
            let p = point(500.0, 5);
            store
                .insert_partial(p, &op(&p, 4.0), Some(&op(&p, 5.0)))
                .unwrap();
            store.remove(&point(2.0, 3), FileKind::Operator).unwrap();
        }
        // Threshold and partial producers writing a new store, as a cluster job does.
        "produce" => partials_store(&dir),
        other => panic!("unknown child {other}"),
    }
}

fn scenarios() -> Vec<Scenario> {
    fn in_store(f: fn(&Path)) -> impl Fn(&Path) {
        move |root: &Path| f(&root.join("store"))
    }
    let mut scenarios = vec![
        Scenario {
            name: "combine",
            setup: |root| in_store(partials_store)(root),
            runner: Runner::Eko(vec!["combine", "--threads", "1", "{root}/store"]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "clean",
            setup: |root| in_store(combined_store)(root),
            runner: Runner::Eko(vec!["clean", "{root}/store"]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "merge (link, new destination)",
            setup: split_sources,
            runner: Runner::Eko(vec!["merge", "{root}/all", "{root}/a", "{root}/b"]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "merge --move (into an existing store, replacing)",
            setup: conflicting_sources,
            runner: Runner::Eko(vec![
                "merge",
                "--move",
                "--on-conflict",
                "replace",
                "{root}/a",
                "{root}/b",
            ]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "merge --copy",
            setup: split_sources,
            runner: Runner::Eko(vec![
                "merge",
                "--copy",
                "{root}/all",
                "{root}/a",
                "{root}/b",
            ]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "split (link)",
            setup: |root| in_store(combined_store)(root),
            runner: Runner::Eko(vec![
                "split",
                "{root}/store",
                "{root}/low",
                "{root}/high",
                "--at",
                "50",
            ]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "split --move",
            setup: |root| in_store(partials_store)(root),
            runner: Runner::Eko(vec![
                "split",
                "--move",
                "{root}/store",
                "{root}/p1",
                "{root}/p2",
                "--parts",
            ]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "import",
            setup: copy_archive,
            runner: Runner::Eko(vec!["import", "{root}/eko.tar", "{root}/imported"]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "reshape",
            setup: reshape_source,
            runner: Runner::Eko(vec![
                "reshape",
                "{root}/store",
                "{root}/reshaped",
                "--xgrid-out",
                "{root}/x.txt",
                "--basis-in",
                "evol",
                "--interpolation",
                "log:2",
                "--threads",
                "1",
            ]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "insert and remove",
            setup: |root| in_store(combined_store)(root),
            runner: Runner::Child("insert"),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "apply",
            setup: store_and_pdf,
            runner: Runner::Eko(vec![
                "apply",
                "{root}/store",
                "{root}/pdf.npy",
                "-o",
                "{root}/out/evolved.npy",
            ]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "verify --record (a store written before format 3)",
            setup: |root| in_store(store_without_checksums)(root),
            runner: Runner::Eko(vec!["verify", "--record", "{root}/store"]),
            stride: 1,
            pairs: true,
        },
        Scenario {
            name: "demo DIR",
            setup: |_| {},
            runner: Runner::Eko(DEMO_DIR.to_vec()),
            stride: 5,
            pairs: false,
        },
        Scenario {
            name: "demo (in the temporary directory)",
            setup: |root| std::fs::create_dir(root.join("tmp")).unwrap(),
            runner: Runner::Eko(DEMO_TMP.to_vec()),
            stride: 11,
            pairs: false,
        },
        Scenario {
            name: "produce (grid: thresholds and partials)",
            setup: |_| {},
            runner: Runner::Child("produce"),
            stride: 1,
            pairs: true,
        },
    ];
    scenarios.push(Scenario {
        name: "export",
        setup: export_source,
        runner: Runner::Eko(vec![
            "export",
            "--with-parts",
            "{root}/store",
            "{root}/out/eko.tar",
        ]),
        stride: 1,
        pairs: true,
    });
    #[cfg(feature = "pineappl")]
    scenarios.push(Scenario {
        name: "evolve",
        setup: evolve_source,
        runner: Runner::Eko(vec![
            "evolve",
            "{root}/grid.pineappl.lz4",
            "{root}/store",
            "-o",
            "{root}/out/fk.pineappl.lz4",
            "--alphas",
            "{root}/alphas.txt",
        ]),
        stride: 1,
        pairs: true,
    });
    scenarios
}

/// A store imported from an eko archive (with eko's cards, thresholds and partials), and a
/// directory to export it to.
fn export_source(root: &Path) {
    copy_archive(root);
    eko::archive::import(&root.join("eko.tar"), &root.join("store"), |_| {}).unwrap();
    std::fs::create_dir(root.join("out")).unwrap();
}

/// A combined store, a grid on its scales and x grid, and alpha_s at those scales.
#[cfg(feature = "pineappl")]
fn evolve_source(root: &Path) {
    combined_store(&root.join("store"));
    std::fs::create_dir(root.join("out")).unwrap();
    let store = Store::open(root.join("store")).unwrap();
    let scales: Vec<f64> = store.points().map(|(p, _)| p.mu2).collect();
    let grid = common::grids::dis_grid(
        eko::pineappl::ConvType::UnpolPDF,
        std::slice::from_ref(&scales),
        &[store.metadata().xgrid.clone()],
    );
    grid.write_lz4(std::fs::File::create(root.join("grid.pineappl.lz4")).unwrap())
        .unwrap();
    let alphas: String = scales.iter().map(|q2| format!("{q2:?} 0.118\n")).collect();
    std::fs::write(root.join("alphas.txt"), alphas).unwrap();
}

const DEMO_DIR: [&str; 8] = [
    "demo",
    "--n-x",
    "4",
    "--points",
    "4",
    "--jobs",
    "2",
    "{root}/demo",
];
const DEMO_TMP: [&str; 7] = ["demo", "--n-x", "4", "--points", "4", "--jobs", "1"];

/// A combined store whose files carry no checksums, as one written before store format 3: each
/// header's checksum comment blanked (same length, NumPy's layout).
fn store_without_checksums(dir: &Path) {
    combined_store(dir);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "npy") {
            continue;
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let header_end = bytes.iter().position(|&b| b == b'\n').unwrap();
        let tag = b" # libeko crc32 ";
        let at = bytes[..header_end]
            .windows(tag.len())
            .position(|w| w == tag)
            .unwrap();
        bytes[at..header_end].fill(b' ');
        std::fs::write(&path, bytes).unwrap();
    }
}

/// A combined store and a PDF on its grid.
fn store_and_pdf(root: &Path) {
    combined_store(&root.join("store"));
    std::fs::create_dir(root.join("out")).unwrap();
    let pdf = ndarray::Array2::from_shape_fn((14, N_X), |(a, j)| (a * N_X + j) as f64 * 0.01);
    eko::npy::write_npy(root.join("pdf.npy"), &pdf, Default::default()).unwrap();
}

/// A combined store and an x grid file to reshape it onto.
fn reshape_source(root: &Path) {
    combined_store(&root.join("store"));
    std::fs::write(root.join("x.txt"), "1e-5\n0.01\n0.5\n1\n").unwrap();
}

/// Two stores `a` (thresholds, some partials) and `b` (the other partials).
fn split_sources(root: &Path) {
    let grid = grid();
    let all: Vec<_> = grid.targets().collect();
    grid.run_thresholds(root.join("a"), producer()).unwrap();
    grid.run_partials(root.join("a"), &all[..3], producer())
        .unwrap();
    grid.run_partials(root.join("b"), &all[3..], producer())
        .unwrap();
}

/// `a` a combined store, `b` holding other data for some of its points and new ones.
fn conflicting_sources(root: &Path) {
    combined_store(&root.join("a"));
    let mut b = Store::create(root.join("b"), &common::metadata(N_X)).unwrap();
    for (i, p) in [point(30.0, 5), point(10.0, 4), point(700.0, 5)]
        .iter()
        .enumerate()
    {
        let op = common::operator(p, N_X, 10.0 + i as f64);
        let err = (i != 1).then(|| common::operator(p, N_X, 20.0));
        b.insert_operator(*p, &op, err.as_ref()).unwrap();
    }
}

fn archive() -> &'static Path {
    static ARCHIVE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_dir, path) = ARCHIVE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = common::make_eko_archive(dir.path(), "parts");
        (dir, path)
    });
    path
}

fn copy_archive(root: &Path) {
    std::fs::copy(archive(), root.join("eko.tar")).unwrap();
}

/// Names libeko uses only while an operation runs.
fn is_transient(name: &str) -> bool {
    name.starts_with(eko::TEMP_PREFIX) || name == eko::store::INTENT_FILE
}

/// Every transient entry below `root`.
fn transients(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in walk(root) {
        if is_transient(&entry.file_name().unwrap().to_string_lossy()) {
            out.push(entry);
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            out.push(path.clone());
            if e.file_type().unwrap().is_dir() {
                out.extend(walk(&path));
            }
        }
    }
    out
}

/// The state of the directories, transient names left out (they are checked separately).
fn state(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut s = common::snapshot(root);
    s.retain(|name, _| !name.split('/').any(is_transient));
    // A reshaped store's metadata records its source's path, which holds this run's root: the
    // same store as in another root.
    let root_text = root.display().to_string();
    for (name, bytes) in s.iter_mut() {
        if name.ends_with("metadata.json")
            && let Ok(text) = std::str::from_utf8(bytes)
        {
            *bytes = text.replace(&root_text, "{root}").into_bytes();
        }
    }
    s
}

/// Every `(main, error)` pair of file contents a unit may show: those of the states before and
/// after an uninterrupted run, keyed by the main file's name.
type Pairs = BTreeMap<String, Vec<(Vec<u8>, Option<Vec<u8>>)>>;

fn pairs_of(state: &BTreeMap<String, Vec<u8>>, into: &mut Pairs) {
    for (path, bytes) in state {
        let name = path.rsplit('/').next().unwrap();
        let Some((p, kind)) = FileKind::parse_file_name(name) else {
            continue;
        };
        if kind.is_error() {
            continue;
        }
        let dir = &path[..path.len() - name.len()];
        let error = state
            .get(&format!("{dir}{}", kind.companion().file_name(&p)))
            .cloned();
        into.entry(name.to_string())
            .or_default()
            .push((bytes.clone(), error));
    }
}

/// Invariant 1: what a reader sees in `root` now.
fn check_readers(root: &Path, valid: Option<&Pairs>, context: &str) {
    let s = state(root);
    for (path, bytes) in &s {
        let name = path.rsplit('/').next().unwrap();
        let dir = root.join(&path[..path.len() - name.len()]);
        if name == eko::store::THRESHOLDS_FILE {
            eko::npz::NpzFile::open(dir.join(name))
                .unwrap_or_else(|e| panic!("{context}: torn thresholds {path}: {e}"));
            continue;
        }
        let Some((p, kind)) = FileKind::parse_file_name(name) else {
            continue;
        };
        if kind.is_error() {
            continue; // checked with its main file; an orphan error is ignored by readers
        }
        let store = Store::open(&dir).unwrap_or_else(|e| panic!("{context}: {path}: {e}"));
        store
            .file(&p, kind)
            .unwrap_or_else(|e| panic!("{context}: torn {path}: {e}"));
        let error = s
            .get(&format!(
                "{}{}",
                &path[..path.len() - name.len()],
                kind.companion().file_name(&p)
            ))
            .cloned();
        let Some(valid) = valid else {
            continue;
        };
        let ok = valid
            .get(name)
            .is_some_and(|list| list.iter().any(|(m, e)| m == bytes && *e == error));
        assert!(
            ok,
            "{context}: {path} is paired with an error it never had (error present: {})",
            error.is_some()
        );
    }
}

fn killed(out: &Output) -> bool {
    out.status.signal() == Some(libc::SIGKILL)
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fresh directory with the scenario's initial state.
fn fresh(scenario: &Scenario) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    (scenario.setup)(root.path());
    root
}

/// The uninterrupted run: its final state, the valid pairs, and the fault points it reaches.
fn reference(scenario: &Scenario) -> (BTreeMap<String, Vec<u8>>, Pairs, Vec<String>) {
    let root = fresh(scenario);
    let before = state(root.path());
    let trace_file = tempfile::NamedTempFile::new().unwrap();
    let trace = trace_file.path().to_path_buf();
    let out = run(&scenario.runner, root.path(), None, Some(&trace));
    assert!(
        out.status.success(),
        "{}: {}",
        scenario.name,
        describe(&out)
    );
    let points: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    let after = state(root.path());
    assert!(
        transients(root.path()).is_empty(),
        "{}: an uninterrupted run left {:?}",
        scenario.name,
        transients(root.path())
    );
    let mut pairs = Pairs::new();
    pairs_of(&before, &mut pairs);
    pairs_of(&after, &mut pairs);
    (after, pairs, points)
}

/// Reruns the command after an interruption and checks invariants 2 and 3.
fn rerun_and_check(
    runner: &Runner,
    root: &Path,
    expected: &BTreeMap<String, Vec<u8>>,
    context: &str,
) {
    let before = state(root);
    let out = run(runner, root, None, None);
    if !out.status.success() {
        // Only a run that had already finished everything may refuse to run again (an import
        // or split whose destination now exists).
        assert_eq!(
            &before,
            expected,
            "{context}: the rerun failed on an unfinished state: {}",
            describe(&out)
        );
    }
    let after = state(root);
    if &after != expected {
        let differ: Vec<_> = after
            .keys()
            .chain(expected.keys())
            .filter(|k| after.get(*k) != expected.get(*k))
            .collect();
        panic!("{context}: after the rerun, these differ from an uninterrupted run: {differ:?}");
    }
    let left = transients(root);
    assert!(left.is_empty(), "{context}: left behind: {left:?}");
}

fn crash_test(scenario: &Scenario) {
    let (expected, pairs, points) = reference(scenario);
    assert!(
        !points.is_empty(),
        "{}: no fault point reached",
        scenario.name
    );
    for k in 1..=points.len() {
        // Killed at the k-th fault point.
        let root = fresh(scenario);
        let context = format!("{}: killed at #{k} ({})", scenario.name, points[k - 1]);
        let out = run(
            &scenario.runner,
            root.path(),
            Some(&format!("kill@{k}")),
            None,
        );
        assert!(
            killed(&out) || out.status.success(),
            "{context}: {}",
            describe(&out)
        );
        check_readers(root.path(), scenario.pairs.then_some(&pairs), &context);
        rerun_and_check(&scenario.runner, root.path(), &expected, &context);

        // Failing at the k-th fault point: an error, nothing left behind by the process itself.
        let root = fresh(scenario);
        let context = format!("{}: failing at #{k} ({})", scenario.name, points[k - 1]);
        let out = run(
            &scenario.runner,
            root.path(),
            Some(&format!("fail@{k}")),
            None,
        );
        assert!(!killed(&out), "{context}: {}", describe(&out));
        let left = transients(root.path());
        assert!(left.is_empty(), "{context}: the failed run left {left:?}");
        check_readers(root.path(), scenario.pairs.then_some(&pairs), &context);
        rerun_and_check(&scenario.runner, root.path(), &expected, &context);
    }
    eprintln!(
        "{}: {} fault points, every {} killed and failed, recovered identically",
        scenario.name,
        points.len(),
        ordinal(scenario.stride)
    );
}

fn ordinal(stride: usize) -> String {
    match stride {
        1 => "one".into(),
        n => format!("{n}th"),
    }
}

#[test]
fn every_operation_survives_a_kill_or_failure_at_every_fault_point() {
    for scenario in scenarios() {
        crash_test(&scenario);
    }
}

/// `eko recover` after a kill leaves no leftover and a store from which the same command gives
/// the uninterrupted result.
#[test]
fn recover_clears_every_leftover_of_a_killed_run() {
    for scenario in scenarios() {
        let (expected, pairs, points) = reference(&scenario);
        // Every third point is enough here: the full matrix above covers each.
        for k in (1..=points.len()).step_by(3 * scenario.stride) {
            let root = fresh(&scenario);
            let context = format!("{}: killed at #{k}, then eko recover", scenario.name);
            run(
                &scenario.runner,
                root.path(),
                Some(&format!("kill@{k}")),
                None,
            );
            // Every directory, and the destination of an import or reshape when a killed run
            // left its temporary directory beside it (a missing path with nothing beside is
            // refused).
            let mut dirs = Vec::new();
            let mut import_left = false;
            for (label, dest) in [("import", "imported"), ("reshape", "reshaped")] {
                let left = std::fs::read_dir(root.path()).unwrap().any(|e| {
                    e.unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{}{label}.{dest}.", eko::TEMP_PREFIX))
                });
                if left {
                    dirs.push(root.path().join(dest));
                    import_left = true;
                }
            }
            dirs.extend(
                walk(root.path())
                    .into_iter()
                    .filter(|d| d.is_dir() && !d.to_string_lossy().contains(eko::TEMP_PREFIX)),
            );
            for dir in dirs {
                // Undoing an operation removes the directories it created: skip those.
                if !dir.exists() && !import_left {
                    continue;
                }
                let out = Command::new(env!("CARGO_BIN_EXE_eko"))
                    .arg("recover")
                    .arg(&dir)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{context}: {}", describe(&out));
            }
            let left = transients(root.path());
            assert!(left.is_empty(), "{context}: left {left:?}");
            check_readers(root.path(), scenario.pairs.then_some(&pairs), &context);
            rerun_and_check(&scenario.runner, root.path(), &expected, &context);
        }
    }
}

/// The maintainer's sweep (`scripts/crash-sweep`): `EKO_CRASH_SWEEP=N` trials per operation,
/// each killed by SIGKILL after a random delay within the uninterrupted run's duration, on a
/// store of `EKO_CRASH_POINTS` (30) points at `EKO_CRASH_NX` (30) x values.
#[test]
#[ignore = "long: run by scripts/crash-sweep"]
fn random_kill_sweep() {
    let trials: usize = std::env::var("EKO_CRASH_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    sweep::sweep(trials);
}

mod sweep {
    //! The random-kill sweep: real timing, no fault points.
    use super::*;
    use std::time::Instant;

    fn n(var: &str, default: usize) -> usize {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn big_targets() -> Vec<EvolutionPoint> {
        let count = n("EKO_CRASH_POINTS", 30);
        (0..count)
            .map(|i| match i % 3 {
                0 => point(30.0 + i as f64, 5),
                1 => point(1e5 + i as f64, 6),
                _ => point(3.0 + 0.01 * i as f64, 4),
            })
            .collect()
    }

    fn big_store(root: &Path) {
        let dir = root.join("store");
        let n_x = n("EKO_CRASH_NX", 30);
        let grid = Grid::new(common::metadata(n_x), &big_targets()).unwrap();
        let synthetic = Synthetic::new(eko::store::FLAVOR_BASIS.to_vec(), n_x, 9);
        let producer = move |task: &Task| -> Result<Computed, ProducerError> {
            let op = synthetic.task(task);
            Ok(Computed {
                operator: op.operator,
                error: Some(op.error),
            })
        };
        grid.run_thresholds(&dir, producer.clone()).unwrap();
        let all: Vec<_> = grid.targets().collect();
        grid.run_partials(&dir, &all, producer).unwrap();
        // For import and apply: an eko archive, a PDF on the grid and a combined copy.
        copy_archive(root);
        let pdf = ndarray::Array2::from_shape_fn((14, n_x), |(a, j)| (a * n_x + j) as f64 * 0.01);
        eko::npy::write_npy(root.join("pdf.npy"), &pdf, Default::default()).unwrap();
    }

    /// A tiny xorshift: the sweep's delays, reproducible from `EKO_CRASH_SEED`.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    pub fn sweep(trials: usize) {
        let template = tempfile::tempdir().unwrap();
        big_store(template.path());
        let ops: Vec<(&str, Vec<&str>)> = vec![
            ("combine", vec!["combine", "{root}/store"]),
            (
                "merge --move",
                vec!["merge", "--move", "{root}/all", "{root}/store"],
            ),
            (
                "split",
                vec!["split", "{root}/store", "{root}/a", "{root}/b", "--parts"],
            ),
            (
                "split --move",
                vec![
                    "split",
                    "--move",
                    "{root}/store",
                    "{root}/a",
                    "{root}/b",
                    "--parts",
                ],
            ),
            ("clean --force", vec!["clean", "--force", "{root}/store"]),
            (
                "merge --copy",
                vec!["merge", "--copy", "{root}/all", "{root}/store"],
            ),
            (
                "import",
                vec!["import", "{root}/eko.tar", "{root}/imported"],
            ),
            (
                "apply",
                vec![
                    "apply",
                    "{root}/store",
                    "{root}/pdf.npy",
                    "-o",
                    "{root}/evolved.npy",
                ],
            ),
            (
                "reshape",
                vec![
                    "reshape",
                    "{root}/store",
                    "{root}/reshaped",
                    "--basis-in",
                    "evol",
                ],
            ),
        ];
        let mut rng = Rng(n("EKO_CRASH_SEED", 12345) as u64 | 1);
        let copy = |root: &Path| {
            let status = Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", template.path().display()))
                .arg(root)
                .status()
                .unwrap();
            assert!(status.success());
        };
        let mut totals = Vec::new();
        for (name, args) in ops {
            if name == "apply" {
                // Apply needs final operators: from here on the template is combined.
                let mut store = Store::open(template.path().join("store")).unwrap();
                eko::combine::combine(&mut store, &Kernel::new(2), |_| {}).unwrap();
            }
            let runner = Runner::Eko(args);
            let root = tempfile::tempdir().unwrap();
            copy(root.path());
            let started = Instant::now();
            let out = run(&runner, root.path(), None, None);
            let duration = started.elapsed();
            assert!(out.status.success(), "{name}: {}", describe(&out));
            let expected = state(root.path());
            let mut pairs = Pairs::new();
            pairs_of(&expected, &mut pairs);
            let root0 = tempfile::tempdir().unwrap();
            copy(root0.path());
            pairs_of(&state(root0.path()), &mut pairs);
            let (mut killed_count, mut finished) = (0, 0);
            for t in 0..trials {
                let root = tempfile::tempdir().unwrap();
                copy(root.path());
                let delay = duration.mul_f64(rng.next() * 1.1);
                let mut child = command(&runner, root.path())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap();
                std::thread::sleep(delay);
                let was_running = child.try_wait().unwrap().is_none();
                if was_running {
                    child.kill().unwrap();
                    killed_count += 1;
                } else {
                    finished += 1;
                }
                child.wait().unwrap();
                let context = format!("{name}: trial {t}, killed after {delay:?}");
                check_readers(root.path(), Some(&pairs), &context);
                rerun_and_check(&runner, root.path(), &expected, &context);
            }
            totals.push((name, trials, killed_count, finished, duration));
        }
        for (name, trials, killed_count, finished, duration) in totals {
            println!(
                "sweep {name}: {trials} trials ({killed_count} killed mid-run, {finished} finished first; uninterrupted run {:.0} ms): every one recovered to the uninterrupted result, nothing left behind",
                duration.as_secs_f64() * 1e3
            );
        }
    }
}
