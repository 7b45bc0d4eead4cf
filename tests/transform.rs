//! Transforms (reinterpolation onto other x grids, rotation to the evolution basis):
//!
//! - `eko reshape` on operators of real eko archives (made by the eko package) against an exact
//!   Lagrange reference written in Python (1e-12) and against eko's own `xgrid_reshape` and
//!   `to_evol` (within eko's accuracy), for every combination of new grid (finer, coarser, partly
//!   outside, equal), side (output, input, both) and rotation, values and errors, with the new
//!   store's metadata; `eko apply --xgrid-in` against NumPy (tests/python/check_transform.py);
//! - properties of [`Transform`]: same grid is the identity bit for bit, evolution basis and back,
//!   reshaping then applying equals applying then interpolating;
//! - `eko reshape` refusing bad input with one line, status 1 and nothing written;
//! - merge, combine and inspect on reshaped stores.

mod common;

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use eko::npy::{WriteOptions, write_npy};
use eko::store::{Basis, EVOLUTION_BASIS, FLAVOR_BASIS, Interpolation, Side, Store};
use eko::transform::{Rotation, SideChange, Transform, TransformSpec, interpolation_matrix};
use ndarray::{Array2, Array4, ArrayView2, ArrayView4};
use proptest::prelude::*;
use serde_json::{Value, json};

fn eko_ok(args: &[&OsStr]) -> String {
    let (code, out, err) = common::run_eko(args);
    assert_eq!(code, Some(0), "eko {args:?} failed:\n{out}{err}");
    out
}

/// tests/python/check_transform.py serve: one JSON answer per JSON request.
struct Checker {
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    child: Child,
    stderr: PathBuf,
}

impl Checker {
    fn start(dir: &Path) -> Checker {
        let stderr = dir.join("checker.stderr");
        let mut child = Command::new(common::python())
            .arg(common::root().join("tests/python/check_transform.py"))
            .arg("serve")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start check_transform.py");
        Checker {
            input: child.stdin.take().unwrap(),
            output: BufReader::new(child.stdout.take().unwrap()),
            child,
            stderr,
        }
    }

    /// The answer to `request`; panics with the checker's message unless it is ok.
    fn ask(&mut self, request: &Value) -> Value {
        writeln!(self.input, "{request}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        if line.is_empty() {
            panic!(
                "check_transform.py exited:\n{}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
        }
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert!(
            answer["ok"] == true,
            "{request}:\n{}\n{}",
            answer["message"].as_str().unwrap_or_default(),
            answer["trace"].as_str().unwrap_or_default()
        );
        answer
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "{}", json!({"do": "quit"}));
        let _ = self.child.wait();
    }
}

/// One reshape: the new grid kind of each side (`None`: unchanged) and the sides rotated to the
/// evolution basis.
#[derive(Debug, Clone, Copy)]
struct Case {
    xgrid_out: Option<&'static str>,
    xgrid_in: Option<&'static str>,
    basis_out: bool,
    basis_in: bool,
}

/// Every new grid kind on the output side, the input side and both, each with and without the
/// rotation on either side; the rotations alone; two cases with different kinds per side.
fn cases() -> Vec<Case> {
    let rotations = [(false, false), (true, false), (false, true), (true, true)];
    let mut all = Vec::new();
    for kind in ["finer", "coarser", "outside", "equal"] {
        for (out, inp) in [(true, false), (false, true), (true, true)] {
            for (basis_out, basis_in) in rotations {
                all.push(Case {
                    xgrid_out: out.then_some(kind),
                    xgrid_in: inp.then_some(kind),
                    basis_out,
                    basis_in,
                });
            }
        }
    }
    for (basis_out, basis_in) in &rotations[1..] {
        all.push(Case {
            xgrid_out: None,
            xgrid_in: None,
            basis_out: *basis_out,
            basis_in: *basis_in,
        });
    }
    all.push(Case {
        xgrid_out: Some("finer"),
        xgrid_in: Some("outside"),
        basis_out: false,
        basis_in: true,
    });
    all.push(Case {
        xgrid_out: Some("outside"),
        xgrid_in: Some("coarser"),
        basis_out: true,
        basis_in: false,
    });
    all
}

/// `eko reshape` with `case`'s options; returns the JSON report.
fn reshape(config: &Value, source: &Path, dest: &Path, case: Case, threads: usize) -> Value {
    let grid = |kind: &str| OsString::from(config["grids"][kind]["path"].as_str().unwrap());
    let mut args: Vec<OsString> = vec![
        "reshape".into(),
        source.into(),
        dest.into(),
        "--json".into(),
        "--threads".into(),
        threads.to_string().into(),
    ];
    if let Some(kind) = case.xgrid_out {
        args.extend(["--xgrid-out".into(), grid(kind)]);
    }
    if let Some(kind) = case.xgrid_in {
        args.extend(["--xgrid-in".into(), grid(kind)]);
    }
    if case.basis_out {
        args.extend(["--basis-out".into(), "evol".into()]);
    }
    if case.basis_in {
        args.extend(["--basis-in".into(), "evol".into()]);
    }
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    serde_json::from_str(&eko_ok(&refs)).unwrap()
}

fn max_abs(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn reshape_matches_exact_reference_and_eko() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let made: Value = serde_json::from_str(&common::run_python(
        "check_transform.py",
        &[Path::new("make"), dir.path()],
    ))
    .unwrap();
    let mut checker = Checker::start(dir.path());
    let mut n = 0;
    for (name, config) in made.as_object().unwrap() {
        let store = dir.path().join(format!("{name}-store"));
        eko_ok(&[
            "import".as_ref(),
            config["archive"].as_str().unwrap().as_ref(),
            store.as_os_str(),
        ]);
        // The card's interpolation, recorded by the import.
        assert_eq!(
            Store::open(&store).unwrap().metadata().interpolation,
            Some(Interpolation {
                polynomial_degree: config["degree"].as_u64().unwrap() as u32,
                log: config["log"].as_bool().unwrap(),
            }),
            "{name}: eko import did not record the operator card's interpolation"
        );
        let n_x = config["n_x"].as_u64().unwrap();
        for case in cases() {
            let dest = dir.path().join(format!("{name}-reshaped"));
            let report = reshape(config, &store, &dest, case, 1 + n % 2)["report"].clone();
            let len = |kind: Option<&str>| {
                kind.map_or(n_x, |k| config["grids"][k]["n"].as_u64().unwrap())
            };
            assert_eq!(
                report["shape_after"],
                json!([14, len(case.xgrid_out), 14, len(case.xgrid_in)]),
                "{case:?}"
            );
            assert_eq!(report["errors"], 2, "{case:?}");
            let answer = checker.ask(&json!({
                "do": "reshape",
                "config": name,
                "store": dest,
                "source": store,
                "xgrid_out": case.xgrid_out,
                "xgrid_in": case.xgrid_in,
                "basis_out": if case.basis_out { Some("evol") } else { None },
                "basis_in": if case.basis_in { Some("evol") } else { None },
            }));
            assert_eq!(answer["points"], 2, "{case:?}");
            // The store's own view of its sides.
            let m = Store::open(&dest).unwrap().metadata().clone();
            assert_eq!(
                m.output_pids() == EVOLUTION_BASIS,
                case.basis_out,
                "{case:?}"
            );
            assert_eq!(m.input_pids() == EVOLUTION_BASIS, case.basis_in, "{case:?}");
            std::fs::remove_dir_all(&dest).unwrap();
            n += 1;
        }
    }

    // A version 1 store without `interpolation` (the lin3 archive's copy): the eko operator
    // card's interpolation serves, and gives the same operators bit for bit.
    let config = &made["lin3"];
    let store = dir.path().join("lin3-store");
    let old = dir.path().join("lin3-v1");
    std::fs::create_dir(&old).unwrap();
    for entry in std::fs::read_dir(&store).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), old.join(entry.file_name())).unwrap();
    }
    let mut meta: Value =
        serde_json::from_slice(&std::fs::read(old.join("metadata.json")).unwrap()).unwrap();
    meta.as_object_mut().unwrap().remove("interpolation");
    meta["format_version"] = json!(1);
    std::fs::write(old.join("metadata.json"), meta.to_string()).unwrap();
    let case = Case {
        xgrid_out: Some("finer"),
        xgrid_in: Some("coarser"),
        basis_out: false,
        basis_in: true,
    };
    let (a, b) = (dir.path().join("from-v2"), dir.path().join("from-v1"));
    reshape(config, &store, &a, case, 2);
    reshape(config, &old, &b, case, 2);
    let (sa, sb) = (Store::open(&a).unwrap(), Store::open(&b).unwrap());
    assert_eq!(
        sb.metadata().interpolation,
        Some(Interpolation {
            polynomial_degree: 3,
            log: false
        })
    );
    for point in sa.points_with(eko::store::FileKind::Operator) {
        assert_eq!(
            sa.operator(&point).unwrap().view(),
            sb.operator(&point).unwrap().view()
        );
        let (ea, eb) = (
            sa.operator_error(&point).unwrap(),
            sb.operator_error(&point).unwrap(),
        );
        assert_eq!(ea.unwrap().view(), eb.unwrap().view());
    }

    // eko apply --xgrid-in: a PDF given on another x grid (and in the evolution basis).
    let config = &made["log4"];
    let store = dir.path().join("log4-store");
    for (kind, basis) in [("finer", None), ("outside", Some("evol"))] {
        let grid_path = config["grids"][kind]["path"].as_str().unwrap();
        let xs: Vec<f64> = eko::npy::NpyFile::open(grid_path)
            .unwrap()
            .read::<f64>()
            .unwrap()
            .iter()
            .copied()
            .collect();
        let pdf = Array2::from_shape_fn((14, xs.len()), |(a, l)| {
            let x = xs[l];
            (a as f64 + 1.0) * x.powf(-0.3) * (1.0 - x).powi(3) + 0.1 * (a as f64 - 7.0) * x
        });
        let pdf_path = dir.path().join(format!("pdf-{kind}.npy"));
        write_npy(&pdf_path, &pdf, WriteOptions::default()).unwrap();
        let out = dir.path().join(format!("evolved-{kind}.npy"));
        let mut args: Vec<OsString> = vec![
            "apply".into(),
            store.clone().into(),
            pdf_path.clone().into(),
            "-o".into(),
            out.clone().into(),
            "--xgrid-in".into(),
            grid_path.into(),
        ];
        if let Some(b) = basis {
            args.extend(["--basis-in".into(), b.into()]);
        }
        let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        eko_ok(&refs);
        let answer = checker.ask(&json!({
            "do": "apply",
            "config": "log4",
            "out": out,
            "pdf": pdf_path,
            "xgrid_in": kind,
            "basis_in": basis,
        }));
        assert_eq!(answer["points"], 2);
    }

    let summary = checker.ask(&json!({"do": "summary"}))["worst"].clone();
    let worst = |key: &str| {
        let w = &summary[key];
        let f = |k: &str| w[k].as_f64().unwrap_or(f64::NAN);
        (
            f("max"),
            f("abs"),
            f("scale"),
            w["case"].as_str().unwrap_or("").to_string(),
        )
    };
    println!(
        "{n} reshapes of eko archives' operators (degree 4 in ln x on 24 points, degree 3 in x on \
         19; operators of scale ~1, errors ~1e-6) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "libeko vs the exact reference: {:.1e} (operators), {:.1e} (errors), relative to the scale",
        worst("exact_operator").0,
        worst("exact_error").0
    );
    for (what, key) in [
        ("reinterpolation", "interpolation"),
        ("reinterpolation and rotation", "interpolation_rotation"),
        ("rotation alone", "rotation"),
    ] {
        let (rel, abs, scale, case) = worst(&format!("eko_{key}_operator"));
        let (err_rel, err_abs, err_scale, _) = worst(&format!("eko_{key}_error"));
        println!(
            "libeko vs eko, {what}: {abs:.1e} max abs on operators of scale {scale:.2} ({rel:.1e} \
             relative; {case}); errors {err_abs:.1e} of {err_scale:.1e} ({err_rel:.1e} relative)"
        );
    }
    let (dev, ..) = worst("eko_row_sum_dev");
    let (ratio, _, _, case) = worst("eko_diff_over_row_sum_dev");
    println!(
        "eko's interpolation rows sum to 1 within {dev:.1e}; libeko - eko (relative) is at most \
         {ratio:.2} times that, times the rotations' norms ({case}); asserted: 10 times"
    );
    println!(
        "eko apply --xgrid-in vs NumPy: {:.1e} relative",
        worst("apply").0
    );
}

// --- properties of Transform ---------------------------------------------------------------------

/// A strictly increasing x grid in (0, 1] of `min..max` points, spread over ln x.
fn xgrid(min: usize, max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-14.0f64..0.0, min..max)
        .prop_map(|us| {
            let mut xs: Vec<f64> = us.into_iter().map(f64::exp).collect();
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            xs
        })
        .prop_filter("enough distinct points", move |xs| xs.len() >= min)
}

fn interpolation() -> impl Strategy<Value = Interpolation> {
    (1u32..=5, any::<bool>()).prop_map(|(polynomial_degree, log)| Interpolation {
        polynomial_degree,
        log,
    })
}

/// An operator with entries in [-1, 1], from a seed.
fn operator(shape: [usize; 4], seed: u64) -> Array4<f64> {
    let mut state = seed | 1;
    Array4::from_shape_simple_fn(shape, || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    })
}

fn side(xgrid: &[f64], pids: &[i32]) -> Side {
    Side {
        xgrid: xgrid.to_vec(),
        pids: pids.to_vec(),
    }
}

/// `Σ_{b,k} op[a, j, b, k] pdf[b, k]`.
fn evolve(op: ArrayView4<'_, f64>, pdf: ArrayView2<'_, f64>) -> Array2<f64> {
    let [p, x, pin, xin] = [op.shape()[0], op.shape()[1], op.shape()[2], op.shape()[3]];
    Array2::from_shape_fn((p, x), |(a, j)| {
        (0..pin)
            .flat_map(|b| (0..xin).map(move |k| (b, k)))
            .map(|(b, k)| op[[a, j, b, k]] * pdf[[b, k]])
            .sum()
    })
}

const PIDS: [i32; 3] = [21, 1, 2];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Reinterpolating onto the grid the operators have is the identity, bit for bit.
    #[test]
    fn same_grid_is_the_identity(
        x_out in xgrid(6, 12), x_in in xgrid(6, 12), i in interpolation(), seed in any::<u64>(),
        which in 0usize..3,
    ) {
        let spec = TransformSpec {
            output: SideChange { xgrid: (which != 1).then(|| x_out.clone()), rotation: None },
            input: SideChange { xgrid: (which != 0).then(|| x_in.clone()), rotation: None },
            interpolation: Some(i),
        };
        let t = Transform::for_sides(side(&x_out, &PIDS), side(&x_in, &PIDS), &spec).unwrap();
        prop_assert!(t.is_identity());
        let op = operator([3, x_out.len(), 3, x_in.len()], seed);
        let out = t.apply_owned(op.view()).unwrap();
        prop_assert!(op.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    /// To the evolution basis and back (either side, or both): the identity within 1e-13.
    #[test]
    fn evolution_basis_and_back(
        x_out in xgrid(1, 4), x_in in xgrid(1, 4), seed in any::<u64>(), which in 0usize..3,
    ) {
        let change = |on: bool, to: Basis| SideChange {
            xgrid: None,
            rotation: on.then_some(Rotation::To(to)),
        };
        let spec = |to: Basis| TransformSpec {
            output: change(which != 1, to),
            input: change(which != 0, to),
            interpolation: None,
        };
        let there = Transform::for_sides(
            side(&x_out, &FLAVOR_BASIS),
            side(&x_in, &FLAVOR_BASIS),
            &spec(Basis::Evol),
        )
        .unwrap();
        prop_assert_eq!(there.output_side().basis() == Basis::Evol, which != 1);
        prop_assert_eq!(there.input_side().basis() == Basis::Evol, which != 0);
        let back = Transform::for_sides(
            there.output_side().clone(),
            there.input_side().clone(),
            &spec(Basis::Flavor),
        )
        .unwrap();
        prop_assert_eq!(back.output_side().pids.as_slice(), &FLAVOR_BASIS[..]);
        prop_assert_eq!(back.input_side().pids.as_slice(), &FLAVOR_BASIS[..]);
        let op = operator([14, x_out.len(), 14, x_in.len()], seed);
        let round = back.apply_owned(there.apply_owned(op.view()).unwrap().view()).unwrap();
        let diff = max_abs(op.iter().zip(&round).map(|(a, b)| a - b));
        prop_assert!(diff <= 1e-13 * max_abs(op.iter().copied()), "{}", diff);
    }

    /// Reshaping x_out onto G, then applying a PDF, equals applying, then interpolating the
    /// evolved PDF onto G (`interpolation_matrix`); the same on 1 and 3 threads, bit for bit.
    #[test]
    fn reshape_then_apply_is_apply_then_interpolate(
        x_out in xgrid(6, 14), x_in in xgrid(2, 6), new in xgrid(1, 20), i in interpolation(),
        seed in any::<u64>(),
    ) {
        let spec = TransformSpec {
            output: SideChange { xgrid: Some(new.clone()), rotation: None },
            interpolation: Some(i),
            ..TransformSpec::default()
        };
        let t = Transform::for_sides(side(&x_out, &PIDS), side(&x_in, &PIDS), &spec).unwrap();
        let op = operator([3, x_out.len(), 3, x_in.len()], seed);
        let pdf = operator([1, 1, 3, x_in.len()], seed ^ 0x5eed);
        let pdf = pdf.index_axis(ndarray::Axis(0), 0).index_axis(ndarray::Axis(0), 0).to_owned();
        let reshaped = t.apply_owned(op.view()).unwrap();
        let threaded = t.clone().with_threads(3).apply_owned(op.view()).unwrap();
        prop_assert!(reshaped.iter().zip(&threaded).all(|(a, b)| a.to_bits() == b.to_bits()));
        let lhs = evolve(reshaped.view(), pdf.view());
        let r = interpolation_matrix(&x_out, &new, i).unwrap();
        let evolved = evolve(op.view(), pdf.view());
        let rhs = evolved.dot(&r.t());
        // The scale of the sums: |R| |O| |f|.
        let abs_evolved = evolve(op.mapv(f64::abs).view(), pdf.mapv(f64::abs).view());
        let scale = max_abs(abs_evolved.dot(&r.mapv(f64::abs).t()));
        let diff = max_abs(lhs.iter().zip(&rhs).map(|(a, b)| a - b));
        prop_assert!(diff <= 1e-12 * scale.max(1e-300), "{} (scale {})", diff, scale);
    }

    /// Reshaping x_in onto G and applying a PDF given on G equals applying the operator to the
    /// PDF interpolated from G onto the operator's own x_in.
    #[test]
    fn input_reshape_then_apply_is_interpolate_then_apply(
        x_out in xgrid(1, 5), x_in in xgrid(2, 14), new in xgrid(6, 16), i in interpolation(),
        seed in any::<u64>(),
    ) {
        let spec = TransformSpec {
            input: SideChange { xgrid: Some(new.clone()), rotation: None },
            interpolation: Some(i),
            ..TransformSpec::default()
        };
        let t = Transform::for_sides(side(&x_out, &PIDS), side(&x_in, &PIDS), &spec).unwrap();
        let op = operator([3, x_out.len(), 3, x_in.len()], seed);
        let pdf_new = operator([1, 1, 3, new.len()], seed ^ 0x5eed);
        let pdf_new = pdf_new.index_axis(ndarray::Axis(0), 0).index_axis(ndarray::Axis(0), 0).to_owned();
        let lhs = evolve(t.apply_owned(op.view()).unwrap().view(), pdf_new.view());
        // f(x_k) = Σ_l p'_l(x_k) f'_l: the PDF on G interpolated onto x_in.
        let s = interpolation_matrix(&new, &x_in, i).unwrap();
        let pdf_old = pdf_new.dot(&s.t());
        let rhs = evolve(op.view(), pdf_old.view());
        // The scale of the sums: |O| |S| |f'|.
        let abs_pdf = pdf_new.mapv(f64::abs).dot(&s.mapv(f64::abs).t());
        let scale = max_abs(evolve(op.mapv(f64::abs).view(), abs_pdf.view()));
        let diff = max_abs(lhs.iter().zip(&rhs).map(|(a, b)| a - b));
        prop_assert!(diff <= 1e-12 * scale.max(1e-300), "{} (scale {})", diff, scale);
    }
}

// --- eko reshape on bad input ----------------------------------------------------------------------

const N_X: usize = 6;

/// A store of two final operators with errors on `common::metadata(n_x)` (degree 4 in ln x).
fn final_store(dir: &Path, n_x: usize) {
    let mut store = Store::create(dir, &common::metadata(n_x)).unwrap();
    for (mu2, nf) in [(10.0, 4), (100.0, 5)] {
        let p = common::point(mu2, nf);
        let op = common::operator(&p, n_x, 0.5);
        store
            .insert_operator(p, &op, Some(&op.mapv(|v| v * 1e-6)))
            .unwrap();
    }
}

/// Leftovers of a failed write beside `dest` (in its parent directory).
fn temporaries(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".eko-tmp"))
        .collect()
}

/// Runs `eko args`; expects status 1, one line on stderr containing every `needle`, and
/// nothing new at `dest` nor temporaries beside it.
fn refused(args: &[&OsStr], dest: &Path, needles: &[&str]) {
    let parent = dest.parent().unwrap();
    let before = common::snapshot(dest);
    let existed = dest.exists();
    let (code, out, err) = common::run_eko(args);
    assert_eq!(code, Some(1), "eko {args:?}: status {code:?}\n{out}{err}");
    assert_eq!(err.lines().count(), 1, "eko {args:?}: not one line:\n{err}");
    assert!(err.starts_with("eko: error: "), "{err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "eko {args:?}: {needle:?} missing from:\n{err}"
        );
    }
    assert_eq!(
        dest.exists(),
        existed,
        "eko {args:?}: {} appeared",
        dest.display()
    );
    assert_eq!(
        common::snapshot(dest),
        before,
        "eko {args:?}: {} changed",
        dest.display()
    );
    assert_eq!(temporaries(parent), Vec::<String>::new(), "eko {args:?}");
}

#[test]
fn reshape_refuses_bad_input_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("store");
    final_store(&store, N_X);
    let dest = d.join("new");
    let file = |name: &str, text: &str| {
        let path = d.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let reshape_args = |extra: &[&OsStr], store: &Path, dest: &Path| -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["reshape".into(), store.into(), dest.into()];
        v.extend(extra.iter().map(|a| a.to_os_string()));
        v
    };
    let check = |extra: &[&OsStr], needles: &[&str]| {
        let args = reshape_args(extra, &store, &dest);
        let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        refused(&refs, &dest, needles);
    };
    let opt = |flag: &'static str, path: &Path| -> [OsString; 2] { [flag.into(), path.into()] };
    let two = |a: [OsString; 2]| a;

    // Bad x grid files, on either side.
    for (name, text, needles) in [
        ("above.txt", "0.1 0.5 1.5", &["1.5 is outside (0, 1]"][..]),
        ("zero.txt", "0 0.5 1", &["0 is outside (0, 1]"][..]),
        ("negative.txt", "-0.1, 0.5", &["-0.1 is outside (0, 1]"][..]),
        (
            "decreasing.txt",
            "0.1 0.5 0.3 0.7",
            &["not strictly increasing (0.5 then 0.3)"][..],
        ),
        (
            "duplicated.txt",
            "0.1 0.5 0.5 0.7",
            &["not strictly increasing (0.5 then 0.5)", "each once"][..],
        ),
        ("empty.txt", "", &["empty.txt holds no number"][..]),
        (
            "comments.txt",
            "# only a comment\n\n",
            &["holds no number"][..],
        ),
        (
            "words.txt",
            "0.1 0.2\n0.3 abc\n",
            &["words.txt, line 2: \"abc\" is not a number"][..],
        ),
        ("nan.txt", "0.1 nan 0.3", &["NaN is outside (0, 1]"][..]),
    ] {
        let path = file(name, text);
        for flag in ["--xgrid-out", "--xgrid-in"] {
            let a = two(opt(flag, &path));
            check(&[&a[0], &a[1]], needles);
        }
    }
    let binary = d.join("binary.txt");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    check(
        &["--xgrid-out".as_ref(), binary.as_os_str()],
        &["neither a .npy file nor text"],
    );
    let missing = d.join("missing.txt");
    check(
        &["--xgrid-in".as_ref(), missing.as_os_str()],
        &["cannot read the x grid file", "missing.txt"],
    );
    // A 2-D .npy, and an integer one.
    let two_d = d.join("grid2d.npy");
    write_npy(
        &two_d,
        &Array2::from_elem((2, 3), 0.5),
        WriteOptions::default(),
    )
    .unwrap();
    check(
        &["--xgrid-out".as_ref(), two_d.as_os_str()],
        &["shape [2, 3]", "give a vector"],
    );
    // Degree 4 needs 5 points: a new input grid of 3 (its basis functions), a store of 3.
    let three = file("three.txt", "0.01 0.1 0.5");
    check(
        &["--xgrid-in".as_ref(), three.as_os_str()],
        &["degree 4 needs at least 5 x values; the new input x grid has 3"],
    );
    let small = d.join("small");
    final_store(&small, 3);
    let args = reshape_args(&["--xgrid-out".as_ref(), three.as_os_str()], &small, &dest);
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    refused(
        &refs,
        &dest,
        &["needs at least 5 x values; the operators' output x grid has 3"],
    );
    // Bad --interpolation values and bases.
    check(
        &[
            "--xgrid-out".as_ref(),
            three.as_os_str(),
            "--interpolation".as_ref(),
            "cubic:3".as_ref(),
        ],
        &["mode \"cubic\" is neither log nor linear"],
    );
    check(
        &[
            "--xgrid-out".as_ref(),
            three.as_os_str(),
            "--interpolation".as_ref(),
            "log:0".as_ref(),
        ],
        &["degree \"0\" is not a whole number of at least 1"],
    );
    check(
        &["--basis-out".as_ref(), "pdg".as_ref()],
        &["pdg", "--basis-out"],
    );
    // Nothing to do.
    check(&[], &["nothing to reshape"]);
    // Destination: not empty, the source itself, inside a store, a file.
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("keep.txt"), "mine").unwrap();
    check(
        &["--basis-in".as_ref(), "evol".as_ref()],
        &["new", "not empty"],
    );
    std::fs::remove_dir_all(&dest).unwrap();
    let args = reshape_args(&["--basis-in".as_ref(), "evol".as_ref()], &store, &store);
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    refused(&refs, &store, &["not empty"]);
    let inside = store.join("sub");
    let args = reshape_args(&["--basis-in".as_ref(), "evol".as_ref()], &store, &inside);
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    let before = common::snapshot(&store);
    refused(&refs, &inside, &["inside"]);
    assert_eq!(common::snapshot(&store), before);
    let a_file = file("a-file", "x");
    let args = reshape_args(&["--basis-in".as_ref(), "evol".as_ref()], &store, &a_file);
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    refused(&refs, &a_file, &["not a directory"]);
    // A source that is no store.
    let args = reshape_args(
        &["--basis-in".as_ref(), "evol".as_ref()],
        &d.join("nowhere"),
        &dest,
    );
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    refused(&refs, &dest, &["nowhere"]);

    // A store whose metadata records no interpolation (version 1, no eko card): refused naming
    // the field and --interpolation, for either side; with --interpolation it works.
    let old = d.join("old");
    final_store(&old, N_X);
    let meta_path = old.join("metadata.json");
    let mut meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta.as_object_mut().unwrap().remove("interpolation");
    meta["format_version"] = json!(1);
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let grid = file("grid.txt", "0.002 0.01 0.1 0.3 0.6 0.9");
    for flag in ["--xgrid-out", "--xgrid-in"] {
        let args = reshape_args(&[flag.as_ref(), grid.as_os_str()], &old, &dest);
        let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        refused(&refs, &dest, &["`interpolation`", "--interpolation log:4"]);
    }
    // A rotation alone needs no interpolation.
    let rotated = d.join("rotated");
    eko_ok(&[
        "reshape".as_ref(),
        old.as_os_str(),
        rotated.as_os_str(),
        "--basis-out".as_ref(),
        "evol".as_ref(),
    ]);
    eko_ok(&[
        "reshape".as_ref(),
        old.as_os_str(),
        dest.as_os_str(),
        "--xgrid-out".as_ref(),
        grid.as_os_str(),
        "--interpolation".as_ref(),
        "log:4".as_ref(),
    ]);
    let m = Store::open(&dest).unwrap().metadata().clone();
    assert_eq!(m.format_version, eko::store::FORMAT_VERSION);
    assert_eq!(m.interpolation, Some(Interpolation::default()));
    assert_eq!(m.output_xgrid(), &[0.002, 0.01, 0.1, 0.3, 0.6, 0.9]);
    // The same as reshaping the store that records degree 4 in ln x.
    let same = d.join("same");
    eko_ok(&[
        "reshape".as_ref(),
        store.as_os_str(),
        same.as_os_str(),
        "--xgrid-out".as_ref(),
        grid.as_os_str(),
    ]);
    let (s1, s2) = (Store::open(&dest).unwrap(), Store::open(&same).unwrap());
    for p in s1.points_with(eko::store::FileKind::Operator) {
        assert_eq!(
            s1.operator(&p).unwrap().view(),
            s2.operator(&p).unwrap().view()
        );
    }

    // A store holding a partial with no final operator: run combine first.
    let partial = d.join("partial");
    final_store(&partial, N_X);
    let mut s = Store::open(&partial).unwrap();
    let p = common::point(50.0, 5);
    s.insert_partial(p, &common::operator(&p, N_X, 0.0), None::<&Array4<f64>>)
        .unwrap();
    drop(s);
    std::fs::remove_dir_all(&dest).unwrap();
    let args = reshape_args(&["--basis-in".as_ref(), "evol".as_ref()], &partial, &dest);
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    refused(
        &refs,
        &dest,
        &[
            "1 point has only a partial",
            "mu2=50, nf=5",
            "run `eko combine` first",
        ],
    );
    // A store with no final operator at all.
    let empty = d.join("empty");
    Store::create(&empty, &common::metadata(N_X)).unwrap();
    let args = reshape_args(&["--basis-in".as_ref(), "evol".as_ref()], &empty, &dest);
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    refused(&refs, &dest, &["no final operator"]);
    // A store whose pids are no basis libeko knows cannot be rotated.
    let custom = d.join("custom");
    let mut meta = common::metadata(N_X);
    meta.pids = vec![21, 1, 2];
    let mut s = Store::create(&custom, &meta).unwrap();
    let p = common::point(10.0, 4);
    s.insert_operator(
        p,
        &Array4::<f64>::ones((3, N_X, 3, N_X)),
        None::<&Array4<f64>>,
    )
    .unwrap();
    drop(s);
    let args = reshape_args(&["--basis-in".as_ref(), "evol".as_ref()], &custom, &dest);
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    refused(&refs, &dest, &["neither eko's flavour basis", "evol"]);

    // eko apply --xgrid-in with a PDF on the store's own grid: its shape is refused, nothing
    // written.
    let pdf = d.join("pdf.npy");
    write_npy(
        &pdf,
        &Array2::<f64>::ones((14, N_X)),
        WriteOptions::default(),
    )
    .unwrap();
    let seven = file("seven.txt", "0.001 0.01 0.05 0.1 0.3 0.6 0.9");
    let out = d.join("evolved.npy");
    refused(
        &[
            "apply".as_ref(),
            store.as_os_str(),
            pdf.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--xgrid-in".as_ref(),
            seven.as_os_str(),
        ],
        &out,
        &["shape [14, 6]", "(14, 7)"],
    );
    assert!(!d.join("evolved.points.npy").exists());
}

// --- merge, combine and inspect on reshaped stores ---------------------------------------------------

#[test]
fn merge_combine_and_inspect_know_reshaped_stores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("store");
    final_store(&store, N_X);
    let grid = d.join("grid.npy");
    write_npy(
        &grid,
        &ndarray::arr1(&[0.01, 0.1, 0.4, 0.8]),
        WriteOptions::default(),
    )
    .unwrap();
    let reshaped = d.join("reshaped");
    let again = d.join("again");
    for dest in [&reshaped, &again] {
        eko_ok(&[
            "reshape".as_ref(),
            store.as_os_str(),
            dest.as_os_str(),
            "--xgrid-out".as_ref(),
            grid.as_os_str(),
            "--basis-in".as_ref(),
            "evol".as_ref(),
        ]);
    }

    // inspect: sides, basis, interpolation.
    let text = eko_ok(&["inspect".as_ref(), reshaped.as_os_str()]);
    for needle in [
        "computed on    14 pids (flavor basis) x 6 x points",
        "output side    14 pids (flavor basis) x 4 x points (0.01 .. 0.8), reshaped",
        "input side     14 pids (evol basis) x 6 x points",
        "shape (14, 4, 14, 6) (reshaped: final operators only)",
        "interpolation  degree 4 in ln x",
        "2 operators, 0 partials",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    let json: Value = serde_json::from_str(&eko_ok(&[
        "inspect".as_ref(),
        "--json".as_ref(),
        reshaped.as_os_str(),
    ]))
    .unwrap();
    assert_eq!(json["operator_shape"], json!([14, 4, 14, 6]));
    assert_eq!(json["output"]["n_x"], 4);
    assert_eq!(json["output"]["basis"], "flavor");
    assert_eq!(json["output"]["reshaped"], true);
    assert_eq!(json["output"]["x_min"], 0.01);
    assert_eq!(json["input"]["basis"], "evol");
    assert_eq!(json["input"]["n_x"], N_X);
    assert_eq!(
        json["interpolation"],
        json!({"polynomial_degree": 4, "log": true})
    );
    assert_eq!(json["metadata"]["input"]["pids"], json!(EVOLUTION_BASIS));
    assert_eq!(
        json["metadata"]["reshaped_from"]["transform"]["input"]["basis"]["to"],
        "evol"
    );
    let text = eko_ok(&["inspect".as_ref(), store.as_os_str()]);
    assert!(text.contains("interpolation  degree 4 in ln x"), "{text}");
    assert!(!text.contains("reshaped"), "{text}");
    let json: Value = serde_json::from_str(&eko_ok(&[
        "inspect".as_ref(),
        "--json".as_ref(),
        store.as_os_str(),
    ]))
    .unwrap();
    assert_eq!(json["output"]["reshaped"], false);
    assert_eq!(json["input"]["basis"], "flavor");

    // merge: a reshaped and an unreshaped store of one grid never mix, either way round.
    let merged = d.join("merged");
    for sources in [[&reshaped, &store], [&store, &reshaped]] {
        let args: Vec<&OsStr> = ["merge".as_ref(), merged.as_os_str()]
            .into_iter()
            .chain(sources.iter().map(|s| s.as_os_str()))
            .collect();
        refused(&args, &merged, &["reshaped"]);
    }
    let before = common::snapshot(&store);
    refused(
        &["merge".as_ref(), store.as_os_str(), reshaped.as_os_str()],
        &store,
        &["one store is reshaped and the other is not"],
    );
    assert_eq!(common::snapshot(&store), before);
    // Stores reshaped alike merge.
    eko_ok(&[
        "merge".as_ref(),
        merged.as_os_str(),
        reshaped.as_os_str(),
        again.as_os_str(),
    ]);
    assert_eq!(
        Store::open(&merged).unwrap().metadata().operator_shape(),
        [14, 4, 14, 6]
    );
    // combine: refused on a reshaped store, which stays as it was.
    let before = common::snapshot(&reshaped);
    refused(
        &["combine".as_ref(), reshaped.as_os_str()],
        &reshaped,
        &["reshaped"],
    );
    assert_eq!(common::snapshot(&reshaped), before);

    // A reshaped store reshaped again: the input side back to the flavour basis is the x-only
    // reshape, and the metadata keeps the history.
    let back = d.join("back");
    eko_ok(&[
        "reshape".as_ref(),
        reshaped.as_os_str(),
        back.as_os_str(),
        "--basis-in".as_ref(),
        "flavor".as_ref(),
    ]);
    let x_only = d.join("x-only");
    eko_ok(&[
        "reshape".as_ref(),
        store.as_os_str(),
        x_only.as_os_str(),
        "--xgrid-out".as_ref(),
        grid.as_os_str(),
    ]);
    let (b, x) = (Store::open(&back).unwrap(), Store::open(&x_only).unwrap());
    assert_eq!(
        b.metadata().input,
        None,
        "the input side is the computed grid again"
    );
    assert_eq!(
        b.metadata().reshaped_from["previously"]["transform"]["input"]["basis"]["to"],
        "evol"
    );
    for p in b.points_with(eko::store::FileKind::Operator) {
        let (ob, ox) = (b.operator(&p).unwrap(), x.operator(&p).unwrap());
        let diff = max_abs(ob.view().iter().zip(ox.view()).map(|(u, v)| u - v));
        assert!(diff <= 1e-13 * max_abs(ox.view().iter().copied()), "{diff}");
    }
}
