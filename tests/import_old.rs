//! `eko import` of archives written by older eko versions (0.13.5, 0.14.6 and 0.8.2, each from
//! PyPI into a virtual environment of its own under target/old-eko, made by
//! scripts/old-eko-env): fixtures written by that version's own API (tests/python/old_eko.py),
//! imported, and compared bit for bit with what that version itself reads back and, where it
//! still can, with what eko 0.15.7 reads back. Bad old-format input is refused with one line and
//! nothing left behind.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::run_eko as eko;
use eko::store::{EVOLUTION_BASIS, FLAVOR_BASIS, Store};

const TARGET_X: [f64; 5] = [1e-4, 1e-3, 0.01, 0.3, 1.0];

fn make(version: &str, kind: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{version}-{kind}.tar"));
    let python = common::old_eko_python(version);
    common::run_python_with(
        &python,
        "old_eko.py",
        &["make".as_ref(), kind.as_ref(), out.as_os_str()],
    );
    out
}

/// `old_eko.py check` with the Python `python` (an older eko, or eko 0.15.7).
fn check(python: &Path, archive: &Path, store: &Path, nf: Option<u8>) -> serde_json::Value {
    let nf = nf.map(|n| n.to_string());
    let mut args: Vec<&OsStr> = vec!["check".as_ref(), archive.as_os_str(), store.as_os_str()];
    if let Some(nf) = &nf {
        args.push(nf.as_ref());
    }
    serde_json::from_str(common::run_python_with(python, "old_eko.py", &args).trim()).unwrap()
}

fn import(archive: &Path, store: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&OsStr> = vec!["import".as_ref(), "--json".as_ref()];
    args.extend(extra.iter().map(OsStr::new));
    args.extend([archive.as_os_str(), store.as_os_str()]);
    let (code, out, err) = eko(&args);
    assert_eq!(code, Some(0), "{out}{err}");
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["report"].clone()
}

fn refused(archive: &Path, dest: &Path, extra: &[&str], needle: &str) {
    let mut args: Vec<&OsStr> = vec!["import".as_ref()];
    args.extend(extra.iter().map(OsStr::new));
    args.extend([archive.as_os_str(), dest.as_os_str()]);
    let (code, out, err) = eko(&args);
    assert_eq!(code, Some(1), "{archive:?}: {out}{err}");
    assert_eq!(err.lines().count(), 1, "{archive:?}: {err}");
    assert!(err.contains(needle), "{archive:?}: {needle:?} not in {err}");
    assert!(!dest.exists(), "{archive:?} left {dest:?}");
    let parent = dest.parent().unwrap();
    let leftovers: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(eko::TEMP_PREFIX))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// eko 0.13 and 0.14: `data_version: 1`, grids under `bases`, their own cards.
fn plain(version: &str) {
    let dir = tempfile::tempdir().unwrap();
    let archive = make(version, "plain", dir.path());
    let store = dir.path().join("store");
    let report = import(&archive, &store, &[]);
    assert_eq!(report["data_version"], 1);
    assert_eq!(report["eko_version"], version);
    assert_eq!(report["operators"].as_array().unwrap().len(), 5);

    // What that eko reads back, and what eko 0.15.7 reads back (its legacy path).
    for python in [common::old_eko_python(version), common::python()] {
        let summary = check(&python, &archive, &store, None);
        assert_eq!(summary["operators_equal"], 5, "{summary}");
        assert_eq!(summary["errors_equal"], 3, "{summary}");
        assert_eq!(summary["interpolation"], serde_json::json!([3, true]));
    }

    let s = Store::open(&store).unwrap();
    let m = s.metadata();
    assert_eq!(m.origin, common::point(1.65 * 1.65, 4));
    assert_eq!(m.xgrid.len(), 8);
    assert!(!m.is_reshaped());
    let i = m.interpolation.expect("recorded");
    assert_eq!((i.polynomial_degree, i.log), (3, true));
    assert_eq!(m.matching.charm, Some(1.51 * 1.51));
    assert_eq!(m.matching.bottom, Some(4.92 * 4.92));
    assert_eq!(m.matching.top, Some(172.5 * 172.5));
    // The cards as that eko wrote them.
    assert_eq!(m.theory["heavy"]["num_flavs_init"], 4);
    assert_eq!(m.operator["mu0"], 1.65);
    assert_eq!(m.operator["eko_version"], version);
    // Two nf at one mu2.
    let points: Vec<_> = s.points_with(eko::store::FileKind::Operator).collect();
    assert!(points.contains(&common::point(4.92 * 4.92, 4)));
    assert!(points.contains(&common::point(4.92 * 4.92, 5)));
}

#[test]
fn eko_0_13_5_archive_imports_bit_for_bit() {
    plain("0.13.5");
}

#[test]
fn eko_0_14_6_archive_imports_bit_for_bit() {
    plain("0.14.6");
}

/// Archives that eko 0.13 / 0.14 reshaped (xgrid_reshape of the output side, to_evol of the
/// input side) become reshaped stores; eko 0.15.7 no longer reads them.
fn reshaped(version: &str) {
    let dir = tempfile::tempdir().unwrap();
    let archive = make(version, "reshaped", dir.path());
    let store = dir.path().join("store");
    import(&archive, &store, &[]);
    let summary = check(&common::old_eko_python(version), &archive, &store, None);
    assert_eq!(summary["operators_equal"], 5, "{summary}");
    assert_eq!(summary["errors_equal"], 3, "{summary}");
    assert_eq!(summary["shape"], serde_json::json!([14, 5, 14, 8]));
    let s = Store::open(&store).unwrap();
    let m = s.metadata();
    assert!(m.is_reshaped());
    assert_eq!(m.operator_shape(), [14, 5, 14, 8]);
    assert_eq!(m.output_xgrid(), TARGET_X);
    assert_eq!(m.output_pids(), FLAVOR_BASIS);
    assert_eq!(m.input_xgrid().len(), 8);
    assert_eq!(m.input_pids(), EVOLUTION_BASIS);
    assert_eq!(m.xgrid.len(), 8);
    let sides = &summary["sides"];
    let got: Vec<f64> = serde_json::from_value(sides["targetgrid"].clone()).unwrap();
    assert_eq!(got, m.output_xgrid());
}

#[test]
fn eko_0_13_5_reshaped_archive_imports_as_a_reshaped_store() {
    reshaped("0.13.5");
}

#[test]
fn eko_0_14_6_reshaped_archive_imports_as_a_reshaped_store() {
    reshaped("0.14.6");
}

#[test]
fn eko_0_8_2_archive_imports_with_nf_given() {
    let dir = tempfile::tempdir().unwrap();
    let archive = make("0.8.2", "plain", dir.path());
    let store = dir.path().join("store");
    refused(
        &archive,
        &store,
        &[],
        "records no nf: give the nf of its points with --nf",
    );
    let report = import(&archive, &store, &["--nf", "5"]);
    assert_eq!(report["eko_version"], "0.8.2");
    assert_eq!(report["data_version"], 0);
    assert_eq!(report["operators"].as_array().unwrap().len(), 3);
    let ignored = report["ignored_entries"].as_array().unwrap();
    assert!(
        ignored
            .iter()
            .any(|e| e.as_str().unwrap().ends_with("alphas.npy.lz4"))
    );
    let summary = check(&common::old_eko_python("0.8.2"), &archive, &store, Some(5));
    assert_eq!(summary["operators_equal"], 3, "{summary}");
    assert_eq!(summary["errors_equal"], 3, "{summary}");
    let s = Store::open(&store).unwrap();
    let m = s.metadata();
    assert_eq!(m.origin, common::point(1.65 * 1.65, 5));
    let i = m.interpolation.expect("recorded");
    assert_eq!((i.polynomial_degree, i.log), (3, true));
    assert_eq!(m.operator["eko_version"], "0.8.2");
    assert!(!m.is_reshaped());

    // Reshaped by eko 0.8 itself (xgrid_reshape, to_evol: pids are the evolution basis).
    let archive = make("0.8.2", "reshaped", dir.path());
    let store = dir.path().join("reshaped");
    import(&archive, &store, &["--nf", "4"]);
    let summary = check(&common::old_eko_python("0.8.2"), &archive, &store, Some(4));
    assert_eq!(summary["operators_equal"], 3, "{summary}");
    let s = Store::open(&store).unwrap();
    assert_eq!(s.metadata().operator_shape(), [14, 5, 14, 8]);
    assert_eq!(s.metadata().input_pids(), EVOLUTION_BASIS);
}

#[test]
fn bad_old_archives_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    // A custom flavour rotation leaves pids eko cannot name (all 0).
    for version in ["0.13.5", "0.14.6"] {
        let archive = make(version, "rotated", dir.path());
        refused(&archive, &dest, &[], "'targetpids' is all 0");
    }
    let archive = make("0.8.2", "rotated", dir.path());
    refused(&archive, &dest, &["--nf", "4"], "'targetpids' is all 0");
    // --nf where the archive records its own; nf out of range for eko 0.8.
    let plain = make("0.13.5", "plain", dir.path());
    refused(
        &plain,
        &dest,
        &["--nf", "4"],
        "--nf 4 is for eko 0.8 archives",
    );
    let old = make("0.8.2", "plain", dir.path());
    refused(
        &old,
        &dest,
        &["--nf", "9"],
        "nf = 9 is not a number of flavours",
    );
    // metadata.yaml edits: an unknown version with data_version 1, data_version 2, no grid.
    let edit = |name: &str, from: &str, to: &str| {
        let path = dir.path().join(name);
        rewrite_metadata(&plain, &path, from, to);
        path
    };
    refused(
        &edit("v012.tar", "version: 0.13.5", "version: 0.12.0"),
        &dest,
        &[],
        "data_version 1 from eko \"0.12.0\"",
    );
    refused(
        &edit("v2.tar", "data_version: 1", "data_version: 2"),
        &dest,
        &[],
        "data_version 2",
    );
    refused(
        &edit("nogrid.tar", "  xgrid:", "  grid:"),
        &dest,
        &[],
        "no 'xgrid' list",
    );
}

/// Copies the archive `src` to `dst` with `from` replaced by `to` in its metadata.yaml.
fn rewrite_metadata(src: &Path, dst: &Path, from: &str, to: &str) {
    common::rewrite(src, dst, |name, bytes| {
        if !name.ends_with("metadata.yaml") {
            return Some(bytes);
        }
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(from), "{from:?} not in {text}");
        Some(text.replacen(from, to, 1).into_bytes())
    });
}
