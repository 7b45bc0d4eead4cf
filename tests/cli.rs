//! `eko inspect`: text and JSON on good files, one line and exit status 1 on bad ones.

use std::process::Command;

use eko::npy::{Order, WriteOptions, write_npy};
use eko::npz::NpzWriter;
use ndarray::Array4;

fn eko(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eko"))
        .args(args)
        .output()
        .unwrap()
}

fn operator() -> Array4<f64> {
    Array4::from_shape_fn((14, 5, 14, 5), |(a, i, b, j)| (a + i + b + j) as f64)
}

#[test]
fn inspect_npy_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("10.npy");
    write_npy(
        &path,
        &operator(),
        WriteOptions {
            order: Order::Fortran,
            align: 4096,
        },
    )
    .unwrap();

    let out = eko(&["inspect".as_ref(), path.as_os_str()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "format version 1.0",
        "<f8 (float64",
        "Fortran",
        "(14, 5, 14, 5): 4900 elements, 39200 bytes",
        "data offset    4096",
        "zero copy      yes",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }

    let out = eko(&["inspect".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "npy");
    assert_eq!(json["dtype"], "<f8");
    assert_eq!(json["byte_order"], "little");
    assert_eq!(json["memory_order"], "Fortran");
    assert_eq!(json["shape"], serde_json::json!([14, 5, 14, 5]));
    assert_eq!(json["data_offset"], 4096);
    assert_eq!(json["zero_copy"], true);
}

#[test]
fn inspect_npz_lists_members() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thresholds.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    w.add("first", &operator(), Order::C).unwrap();
    w.add("second", &operator().mapv(|v| v as i32), Order::C)
        .unwrap();
    w.finish().unwrap();
    let out = eko(&["inspect".as_ref(), "--json".as_ref(), path.as_os_str()]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "npz");
    let members = json["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["key"], "first");
    assert_eq!(members[1]["dtype"], "<i4");
    assert!(
        members
            .iter()
            .all(|m| m["zero_copy"] == true && m["compression"] == "stored")
    );
    let text = String::from_utf8(eko(&["inspect".as_ref(), path.as_os_str()]).stdout).unwrap();
    assert!(text.contains("member 'second' (stored"), "{text}");
}

#[test]
fn bad_input_gives_one_line_and_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.npy");
    std::fs::write(&bad, b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}\n").unwrap();
    let missing = dir.path().join("missing.npy");
    let zip = dir.path().join("broken.npz");
    std::fs::write(&zip, b"PK\x03\x04 and then nothing useful").unwrap();
    for (path, needle) in [
        (&bad, "header keys are"),
        (&missing, "open failed"),
        (&zip, "bad zip archive"),
    ] {
        for json in [false, true] {
            let mut args = vec!["inspect".as_ref()];
            if json {
                args.push("--json".as_ref());
            }
            args.push(path.as_os_str());
            let out = eko(&args);
            assert_eq!(out.status.code(), Some(1), "{}", path.display());
            assert!(out.stdout.is_empty());
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with("eko: error: ") && err.contains(needle),
                "{err}"
            );
            assert!(err.contains(&path.display().to_string()), "{err}");
        }
    }
}

mod common;

fn small_store(dir: &std::path::Path, mu2s: &[(f64, u8)], tag: f64) {
    use eko::store::{EvolutionPoint, Store};
    let mut store = Store::create(dir, &common::metadata(4)).unwrap();
    for (mu2, nf) in mu2s {
        let p = EvolutionPoint::new(*mu2, *nf).unwrap();
        let op = common::operator(&p, 4, tag);
        store.insert_operator(p, &op, Some(&op)).unwrap();
    }
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(|a| a.into()).collect()
}

fn run(args: &[std::ffi::OsString]) -> (Option<i32>, String, String) {
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = eko(&refs);
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn inspect_merge_and_split_stores() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).into_os_string();
    small_store(
        dir.path().join("a").as_path(),
        &[(10.0, 4), (24.2064, 4), (24.2064, 5)],
        0.0,
    );
    small_store(dir.path().join("b").as_path(), &[(100.0, 5)], 0.0);

    let (code, text, _) = run(&[os(&["inspect"]), vec![d("a")]].concat());
    assert_eq!(code, Some(0));
    for needle in [
        "libeko store (libeko-store version 3)",
        "origin         mu2 = 2.7224999999999997, nf = 4",
        "14 pids (flavor basis) x 4 x points",
        "interpolation  degree 4 in ln x",
        "3 operators, 0 partials",
        "24.2064_nf5.npy (",
        "24.2064_nf5.error.npy (",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    let (_, json, _) = run(&[os(&["inspect", "--json"]), vec![d("a")]].concat());
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["kind"], "store");
    assert_eq!(json["operators"], 3);
    assert_eq!(json["points"][1]["mu2"], 24.2064);
    assert_eq!(json["points"][1]["files"][0]["name"], "24.2064_nf4.npy");
    assert_eq!(json["metadata"]["matching"]["bottom"], 4.92f64.powi(2));

    let (code, out, err) =
        run(&[os(&["merge", "--json"]), vec![d("all"), d("a"), d("b")]].concat());
    assert_eq!(code, Some(0), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["linked"], 1 + 2 * 4);

    let (code, out, err) = run(&[
        os(&["split"]),
        vec![d("all"), d("low"), d("high")],
        os(&["--at", "50"]),
    ]
    .concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("3 points") && out.contains("1 point\n"),
        "{out}"
    );
    let (code, _, err) = run(&[
        os(&["split"]),
        vec![d("all"), d("one")],
        os(&["--points", "10:4,100:5", "--copy"]),
    ]
    .concat());
    assert_eq!(code, Some(0), "{err}");
    let (_, json, _) = run(&[os(&["inspect", "--json"]), vec![d("one")]].concat());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap()["operators"],
        2
    );
    let (code, _, err) = run(&[
        os(&["split"]),
        vec![d("all"), d("p0"), d("p1"), d("p2"), d("p3")],
        os(&["--parts"]),
    ]
    .concat());
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn store_commands_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).into_os_string();
    small_store(dir.path().join("a").as_path(), &[(10.0, 4)], 0.0);
    small_store(dir.path().join("b").as_path(), &[(10.0, 4)], 1.0);
    std::fs::create_dir(dir.path().join("plain")).unwrap();
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            [os(&["merge"]), vec![d("m"), d("a"), d("b")]].concat(),
            "conflicts with",
        ),
        (
            [os(&["merge"]), vec![d("m"), d("a"), d("missing")]].concat(),
            "not a libeko store",
        ),
        (
            [os(&["inspect"]), vec![d("plain")]].concat(),
            "not a libeko store",
        ),
        (
            [
                os(&["split"]),
                vec![d("a"), d("x"), d("y")],
                os(&["--at", "1,2"]),
            ]
            .concat(),
            "usage: --at with 2 values makes 3 parts, but 2 DESTs given",
        ),
        (
            [
                os(&["split"]),
                vec![d("a"), d("x")],
                os(&["--points", "10:4,11"]),
            ]
            .concat(),
            "expected MU2:NF",
        ),
        (
            [
                os(&["split"]),
                vec![d("a"), d("x")],
                os(&["--points", "-1:4"]),
            ]
            .concat(),
            "mu2 is not positive",
        ),
        (
            [os(&["split"]), vec![d("a"), d("a")], os(&["--parts"])].concat(),
            "not empty",
        ),
        (
            [
                os(&["split"]),
                vec![d("a"), d("x"), d("y"), d("z")],
                os(&["--at", "1000,100"]),
            ]
            .concat(),
            "must be finite and strictly increasing",
        ),
        (
            [
                os(&["split"]),
                vec![d("a"), d("x"), d("y")],
                os(&["--points", "10:4", "--points", "10:4"]),
            ]
            .concat(),
            "(mu2=10, nf=4) is assigned to two parts",
        ),
        // Nothing but store files goes into a store.
        (
            [os(&["split"]), vec![d("a"), d("a/part")], os(&["--parts"])].concat(),
            "is inside the store",
        ),
        (
            [os(&["merge"]), vec![d("a/sub"), d("b")]].concat(),
            "is inside the store",
        ),
        (
            [os(&["demo"]), vec![d("a/demo")]].concat(),
            "is inside the store",
        ),
        (
            [os(&["combine"]), vec![d("a/10_nf4.npy")]].concat(),
            "is a file, not a directory",
        ),
    ];
    for (args, needle) in cases {
        let (code, out, err) = run(&args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    }
    assert!(
        !dir.path().join("m").exists() && !dir.path().join("x").exists(),
        "a failed command left a directory"
    );
    // Usage errors found by the argument parser (a missing criterion, an unknown option) are
    // failures like the others: one line naming the help to read, status 1.
    for (args, needle) in [
        (
            [os(&["split"]), vec![d("a"), d("z")]].concat(),
            "see `eko help split`",
        ),
        (os(&["combine", "--frobnicate", "x"]), "--frobnicate"),
        (os(&["frobnicate"]), "see `eko --help`"),
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("eko: error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    // Help is not a failure; the command list has one line per command.
    let (code, out, _) = run(&os(&["--help"]));
    assert_eq!(code, Some(0));
    for line in out
        .lines()
        .filter(|l| l.starts_with("  ") && !l.trim_start().starts_with('-'))
    {
        assert!(
            line.len() <= 100,
            "a command's summary is more than a line: {line}"
        );
    }
    assert!(out.contains("recover"), "{out}");
}

/// A store with thresholds and partials made by the grid manager (synthetic operators).
fn combinable_store(dir: &std::path::Path, targets: &[(f64, u8)], with_thresholds: bool) {
    use eko::grid::{Computed, Grid, Task};
    use eko::store::EvolutionPoint;
    let targets: Vec<EvolutionPoint> = targets
        .iter()
        .map(|(m, n)| EvolutionPoint::new(*m, *n).unwrap())
        .collect();
    let grid = Grid::new(common::metadata(4), &targets).unwrap();
    let synthetic = eko::synthetic::Synthetic::new(eko::store::FLAVOR_BASIS.to_vec(), 4, 1);
    let producer = |t: &Task| {
        let op = synthetic.task(t);
        Ok(Computed {
            operator: op.operator,
            error: Some(op.error),
        })
    };
    if with_thresholds {
        grid.run_thresholds(dir, producer).unwrap();
    }
    grid.run_partials(dir, &targets, producer).unwrap();
}

#[test]
fn inspect_combine_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    combinable_store(&store, &[(100.0, 5), (1e5, 6), (10.0, 4)], true);
    let s = store.clone().into_os_string();

    // inspect shows the plan: text, and JSON with the ordered elements.
    let (code, text, _) = run(&[os(&["inspect"]), vec![s.clone()]].concat());
    assert_eq!(code, Some(0));
    assert!(text.contains("3 of 3 partials can be combined"), "{text}");
    assert!(
        text.contains("ready, with error: thresholds.npz/segment_"),
        "{text}"
    );
    let (_, json, _) = run(&[os(&["inspect", "--json"]), vec![s.clone()]].concat());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let parts = v["combine"].as_array().unwrap();
    let six = parts.iter().find(|p| p["nf"] == 6).unwrap();
    let elements: Vec<&str> = six["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(elements.len(), 5, "{elements:?}");
    // mu2 as in file names: shortest round-trip decimal (1.65² is 2.7224999999999997).
    assert!(
        elements[0].starts_with("thresholds.npz/segment_2.7224999999999997_to_")
            && elements[0].ends_with("_nf4.npy"),
        "{elements:?}"
    );
    assert!(elements[1].starts_with("thresholds.npz/matching_bottom_"));
    assert!(elements[3].starts_with("thresholds.npz/matching_top_"));
    assert_eq!(elements[4], "100000_nf6.part.npy");

    // clean refuses while partials need the thresholds.
    let (code, _, err) = run(&[os(&["clean"]), vec![s.clone()]].concat());
    assert_eq!(code, Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("2 partials still need thresholds.npz"),
        "{err}"
    );

    let (code, out, err) = run(&[os(&["combine", "--threads", "2"]), vec![s.clone()]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("combined 3 points"), "{out}");
    assert!(err.is_empty(), "no progress when not on a terminal: {err}");
    let (code, out, _) = run(&[os(&["clean", "--json"]), vec![s.clone()]].concat());
    assert_eq!(code, Some(0));
    assert!(out.contains("\"removed_thresholds\": true"), "{out}");
    let (_, json, _) = run(&[os(&["inspect", "--json"]), vec![s]].concat());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["operators"].as_u64(), v["partials"].as_u64()),
        (Some(3), Some(0))
    );
    assert!(v["thresholds"].is_null());
}

#[test]
fn combine_and_clean_fail_with_one_line_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    combinable_store(&store, &[(100.0, 5)], false);
    let before = common::snapshot(&store);
    let s = store.clone().into_os_string();
    let missing = dir.path().join("missing").into_os_string();
    let not_a_store = dir.path().as_os_str().to_os_string();
    for (args, needle) in [
        (
            [os(&["combine"]), vec![s.clone()]].concat(),
            "missing segment mu2",
        ),
        (
            [os(&["combine"]), vec![missing.clone()]].concat(),
            "not a libeko store",
        ),
        (
            [os(&["clean"]), vec![not_a_store.clone()]].concat(),
            "not a libeko store",
        ),
        (
            [os(&["combine", "--threads", "0"]), vec![s.clone()]].concat(),
            "--threads",
        ),
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, Some(1), "{args:?}: {out} {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(common::snapshot(&store), before);
    let (_, text, _) = run(&[os(&["inspect"]), vec![s]].concat());
    assert!(text.contains("0 of 1 partial can be combined"), "{text}");
    assert!(
        text.contains("missing in thresholds.npz: segment_"),
        "{text}"
    );
}
