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
