//! `eko apply` and `eko demo` from the command line: results against NumPy, bad input refused
//! with one line, exit status 1 and nothing written.

mod common;

use std::path::Path;

use eko::npy::{NpyFile, WriteOptions, write_npy};
use eko::store::{FileKind, Store};
use ndarray::{Array2, Array3, ArrayD};

use common::run_eko as run;

fn read(path: &Path) -> ArrayD<f64> {
    NpyFile::open(path).unwrap().read::<f64>().unwrap()
}

const N_X: usize = 6;
const POINTS: [(f64, u8); 3] = [(10.0, 4), (100.0, 5), (24.2064, 4)];

fn final_store(dir: &Path) {
    let mut store = Store::create(dir, &common::metadata(N_X)).unwrap();
    for (mu2, nf) in POINTS {
        let p = common::point(mu2, nf);
        // Small values so that sums of many products stay well inside f64's range.
        let op = common::operator(&p, N_X, 0.5).mapv(|v| v * 1e-2);
        store
            .insert_operator(p, &op, None::<&ndarray::Array4<f64>>)
            .unwrap();
    }
}

fn max_abs_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn apply_matches_numpy_for_one_pdf_and_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    final_store(&store);
    let single = Array2::from_shape_fn((14, N_X), |(a, k)| (a as f64 + 1.0) / (k as f64 + 2.0));
    let replicas = Array3::from_shape_fn((5, 14, N_X), |(r, a, k)| {
        (a as f64 - 3.0) * 0.1 + (k * r) as f64 * 0.01
    });
    let pdf1 = dir.path().join("pdf.npy");
    let pdf3 = dir.path().join("replicas.npy");
    write_npy(&pdf1, &single, WriteOptions::default()).unwrap();
    write_npy(&pdf3, &replicas, WriteOptions::default()).unwrap();
    // mu2 order, as the store lists them.
    let order = "10:4,24.2064:4,100:5";
    for (pdf, rep_axis) in [(&pdf1, None), (&pdf3, Some(5))] {
        let out = dir.path().join("out.npy");
        let (code, text, err) = run(&[
            "apply".as_ref(),
            store.as_os_str(),
            pdf.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        assert_eq!(code, Some(0), "{text}{err}");
        assert!(text.contains("to 3 points"), "{text}");
        let got = read(&out);
        let mut shape = vec![3];
        shape.extend(rep_axis);
        shape.extend([14, N_X]);
        assert_eq!(got.shape(), &shape[..]);
        let want_path = dir.path().join("want.npy");
        common::run_python(
            "apply_reference.py",
            &[&store, pdf, &want_path, Path::new(order)],
        );
        let want = read(&want_path);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            max_abs_diff(&got, &want) <= 1e-13 * scale,
            "differs from NumPy by {}",
            max_abs_diff(&got, &want)
        );
        let table = read(&dir.path().join("out.points.npy"));
        assert_eq!(
            table.into_raw_vec_and_offset().0,
            vec![10.0, 4.0, 24.2064, 4.0, 100.0, 5.0]
        );
    }

    // A subset, in JSON.
    let out = dir.path().join("subset.npy");
    let (code, text, err) = run(&[
        "apply".as_ref(),
        "--json".as_ref(),
        "--threads".as_ref(),
        "2".as_ref(),
        store.as_os_str(),
        pdf3.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--points".as_ref(),
        "100:5,10:4".as_ref(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["report"]["shape"], serde_json::json!([2, 5, 14, N_X]));
    assert_eq!(json["report"]["points"][0]["mu2"], 10.0);
    let got = read(&out);
    let all = read(&dir.path().join("out.npy"));
    assert_eq!(
        got.index_axis(ndarray::Axis(0), 1),
        all.index_axis(ndarray::Axis(0), 2)
    );
}

#[test]
fn apply_refuses_bad_input_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    final_store(&store);
    let partial_store = dir.path().join("partials");
    let mut s = Store::create(&partial_store, &common::metadata(N_X)).unwrap();
    let p = common::point(50.0, 5);
    s.insert_partial(
        p,
        &common::operator(&p, N_X, 0.0),
        None::<&ndarray::Array4<f64>>,
    )
    .unwrap();
    let good = dir.path().join("pdf.npy");
    write_npy(
        &good,
        &Array2::<f64>::ones((14, N_X)),
        WriteOptions::default(),
    )
    .unwrap();
    let wrong = dir.path().join("wrong.npy");
    write_npy(
        &wrong,
        &Array2::<f64>::ones((13, N_X)),
        WriteOptions::default(),
    )
    .unwrap();
    let rank1 = dir.path().join("rank1.npy");
    write_npy(
        &rank1,
        &ndarray::Array1::<f64>::ones(14 * N_X),
        WriteOptions::default(),
    )
    .unwrap();
    let ints = dir.path().join("ints.npy");
    write_npy(
        &ints,
        &Array2::<i64>::ones((14, N_X)),
        WriteOptions::default(),
    )
    .unwrap();
    let garbage = dir.path().join("garbage.npy");
    std::fs::write(&garbage, b"not a numpy file").unwrap();
    let missing = dir.path().join("missing");
    let out = dir.path().join("out.npy");
    let s = store.as_os_str();
    let o = out.as_os_str();
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![missing.as_os_str(), good.as_os_str()],
            "not a libeko store",
        ),
        (
            vec![dir.path().as_os_str(), good.as_os_str()],
            "not a libeko store",
        ),
        (vec![s, missing.as_os_str()], "missing"),
        (vec![s, garbage.as_os_str()], "magic"),
        (
            vec![s, wrong.as_os_str()],
            "shape [13, 6], but the store's grid needs (14, 6)",
        ),
        (vec![s, rank1.as_os_str()], "(n_rep, n_pid, n_x)"),
        (vec![s, ints.as_os_str()], "int64"),
        (
            vec![partial_store.as_os_str(), good.as_os_str()],
            "run `eko combine` first",
        ),
        (
            vec![s, good.as_os_str(), "--points".as_ref(), "7:4".as_ref()],
            "(mu2=7, nf=4) is not a point",
        ),
        (
            vec![s, good.as_os_str(), "--points".as_ref(), "seven".as_ref()],
            "seven",
        ),
        (
            vec![s, good.as_os_str(), "--threads".as_ref(), "0".as_ref()],
            "--threads",
        ),
    ];
    for (args, needle) in cases {
        let mut all: Vec<&std::ffi::OsStr> = vec!["apply".as_ref()];
        all.extend(&args);
        all.extend(["-o".as_ref(), o]);
        let (code, text, err) = run(&all);
        assert_eq!(code, Some(1), "{args:?}: {text}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {needle:?} not in {err}");
        assert!(
            !out.exists() && !dir.path().join("out.points.npy").exists(),
            "{args:?}"
        );
    }
    let (code, _, err) = run(&[
        "apply".as_ref(),
        s,
        good.as_os_str(),
        "-o".as_ref(),
        "out.txt".as_ref(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("must end in .npy"), "{err}");
    // Arguments swapped: the PDF file given as the store, the store as the PDF.
    let (code, _, err) = run(&["apply".as_ref(), good.as_os_str(), s, "-o".as_ref(), o]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("is a directory; give a .npy file") && err.contains("the store comes first"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "apply".as_ref(),
        good.as_os_str(),
        good.as_os_str(),
        "-o".as_ref(),
        o,
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is a file, not a directory"), "{err}");
    // An output directory that does not exist.
    let nowhere = dir.path().join("nowhere/out.npy");
    let (code, _, err) = run(&[
        "apply".as_ref(),
        s,
        good.as_os_str(),
        "-o".as_ref(),
        nowhere.as_os_str(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not exist; create it first"), "{err}");
    // The output never replaces the input PDF, itself or through its table.
    let pdf_bytes = std::fs::read(&good).unwrap();
    let table_named = dir.path().join("mine.points.npy");
    std::fs::copy(&good, &table_named).unwrap();
    for (pdf, out) in [
        (good.clone(), good.clone()),
        (table_named.clone(), dir.path().join("mine.npy")),
    ] {
        let (code, _, err) = run(&[
            "apply".as_ref(),
            s,
            pdf.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("is the input PDF"), "{err}");
        assert_eq!(std::fs::read(&pdf).unwrap(), pdf_bytes);
    }
    std::fs::remove_file(&table_named).unwrap();
    // Nothing but store files is ever written into a store: an evolved PDF there (under any
    // name, an operator's included) is refused, naming the store, and the store is unchanged.
    let before = common::snapshot(&store);
    for name in ["evolved.npy", "10_nf4.npy"] {
        let inside = store.join(name);
        let (code, _, err) = run(&[
            "apply".as_ref(),
            s,
            good.as_os_str(),
            "-o".as_ref(),
            inside.as_os_str(),
        ]);
        assert_eq!(code, Some(1), "{name}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("is inside the store {}", store.display())),
            "{err}"
        );
    }
    assert_eq!(common::snapshot(&store), before);
    // Leftover temporary files would show up here.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(eko::TEMP_PREFIX)),
        "{names:?}"
    );
}

#[test]
fn demo_runs_and_its_self_check_passes() {
    let (code, text, err) = run(&["demo".as_ref()]);
    assert_eq!(code, Some(0), "{text}{err}");
    for needle in [
        "produce",
        "merge",
        "combine",
        "clean",
        "apply",
        "check",
        "peak memory",
        "20 points",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("demo");
    let (code, text, err) = run(&[
        "demo".as_ref(),
        kept.as_os_str(),
        "--json".as_ref(),
        "--points".as_ref(),
        "6".as_ref(),
        "--n-x".as_ref(),
        "12".as_ref(),
        "--replicas".as_ref(),
        "3".as_ref(),
        "--jobs".as_ref(),
        "3".as_ref(),
    ]);
    assert_eq!(code, Some(0), "{text}{err}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["check"]["passed"], true);
    assert_eq!(json["points"], 6);
    assert!(
        json["check"]["operator_max_relative_difference"]
            .as_f64()
            .unwrap()
            < 1e-12
    );
    let store = Store::open(kept.join("store")).unwrap();
    assert_eq!(store.points().count(), 6);
    assert!(!store.has_thresholds());
    // The Q² with two nf and the backward point.
    let mb2 = 4.92f64 * 4.92;
    assert!(store.points().any(|(p, _)| p == common::point(mb2, 4)));
    assert!(store.points().any(|(p, _)| p == common::point(mb2, 5)));
    assert!(
        store
            .points()
            .any(|(p, _)| p.mu2 < 1.65 * 1.65 && p.nf == 3)
    );
    assert_eq!(read(&kept.join("evolved.npy")).shape(), &[6, 3, 14, 12]);
    // The job stores stay, whole (hard links), for practising merge, combine and clean on.
    let jobs = kept.join("jobs");
    assert!(jobs.join("thresholds/thresholds.npz").exists());
    for job in ["partials-0", "partials-1", "partials-2"] {
        let s = Store::open(jobs.join(job)).unwrap();
        assert!(s.points_with(FileKind::Partial).count() >= 1, "{job}");
    }
    assert!(
        text.contains("are synthetic") && text.contains("not a physics result"),
        "{text}"
    );

    // Not empty, too few points: refused.
    for (args, needle) in [
        (vec![kept.as_os_str()], "is not empty"),
        (
            vec!["--points".as_ref(), "2".as_ref()],
            "--points must be at least 3",
        ),
        (vec!["--n-x".as_ref(), "1".as_ref()], "--n-x"),
    ] {
        let mut all: Vec<&std::ffi::OsStr> = vec!["demo".as_ref()];
        all.extend(args);
        let (code, _, err) = run(&all);
        assert_eq!(code, Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{needle:?}: {err}");
    }
}
