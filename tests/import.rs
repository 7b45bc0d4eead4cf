//! `eko import` on archives written by Python eko itself (the PyPI package's `EKO.create`), checked
//! against what eko reads back; and on broken archives: one line, exit status 1, nothing written.

mod common;

use common::rewrite;

use std::path::{Path, PathBuf};

use common::run_eko as eko;

/// eko's own comparison of an archive with a store (see tests/python/eko_archive.py).
fn check(archive: &Path, store: &Path) -> serde_json::Value {
    let text = common::run_python("eko_archive.py", &[Path::new("check"), archive, store]);
    serde_json::from_str(text.trim()).unwrap()
}

fn import(archive: &Path, store: &Path) -> serde_json::Value {
    let (code, out, err) = eko(&[
        "import".as_ref(),
        "--json".as_ref(),
        archive.as_os_str(),
        store.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn joined_archive_imports_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let archive = common::make_eko_archive(dir.path(), "joined");
    let store = dir.path().join("store");
    let report = import(&archive, &store)["report"].clone();
    assert_eq!(report["data_version"], 3);
    assert_eq!(report["eko_version"], "0.15.7");
    assert_eq!(report["operators"].as_array().unwrap().len(), 7);
    assert_eq!(report["partials"].as_array().unwrap().len(), 0);
    // Cliff segments charm (backward), bottom, top; matchings charm inverse, bottom, top...
    assert_eq!(report["thresholds"].as_array().unwrap().len(), 7);
    assert!(report["skipped_parts"].as_u64().unwrap() > 0);
    let summary = check(&archive, &store);
    assert_eq!(summary["operators_equal"], 7, "{summary}");
    assert_eq!(summary["thresholds_equal"], 7, "{summary}");
    assert_eq!(summary["threshold_members"], 7, "{summary}");

    // Metadata: eko's origin, grid and matching scales; the cards carried over.
    let s = eko::store::Store::open(&store).unwrap();
    let m = s.metadata();
    assert_eq!(m.origin, common::point(1.65 * 1.65, 4));
    assert_eq!(m.xgrid.len(), 8);
    assert_eq!(m.matching.bottom, Some(4.92 * 4.92));
    assert_eq!(m.matching.top, Some(172.5 * 172.5));
    assert_eq!(m.theory["heavy"]["masses"][0][1], ".nan");
    assert_eq!(m.operator["mugrid"][0], serde_json::json!([3.0, 4]));
    // The imported store is complete: inspect sees final operators only.
    let (code, text, _) = eko(&["inspect".as_ref(), store.as_os_str()]);
    assert_eq!(code, Some(0));
    assert!(text.contains("7 operators, 0 partials"), "{text}");
}

#[test]
fn parts_archive_imports_and_combines_to_ekos_join() {
    let dir = tempfile::tempdir().unwrap();
    let archive = common::make_eko_archive(dir.path(), "parts");
    let store = dir.path().join("store");
    let report = import(&archive, &store)["report"].clone();
    assert_eq!(report["operators"].as_array().unwrap().len(), 0);
    // Every target of the card, the one on the bottom threshold (nf=4) from its cliff part.
    assert_eq!(report["partials"].as_array().unwrap().len(), 7);
    let summary = check(&archive, &store);
    assert_eq!(summary["partials_equal"], 7, "{summary}");
    assert_eq!(summary["thresholds_equal"], 7, "{summary}");
    assert_eq!(summary["no_final"], 7, "{summary}");

    let (code, out, err) = eko(&["combine".as_ref(), store.as_os_str()]);
    assert_eq!(code, Some(0), "{out}{err}");
    let summary = check(&archive, &store);
    assert_eq!(summary["joined_close"], 7, "{summary}");
}

fn lz4(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn broken_archives_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let good = common::make_eko_archive(dir.path(), "joined");
    let bad = |name: &str| dir.path().join(name);
    std::fs::write(bad("garbage.tar"), b"this is not a tar archive at all").unwrap();
    std::fs::write(bad("gzip.tar"), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    let truncated = std::fs::read(&good).unwrap();
    std::fs::write(bad("truncated.tar"), &truncated[..truncated.len() / 2]).unwrap();
    rewrite(&good, &bad("no-metadata.tar"), |n, b| {
        (!n.ends_with("metadata.yaml")).then_some(b)
    });
    rewrite(&good, &bad("old.tar"), |n, b| {
        Some(if n.ends_with("metadata.yaml") {
            String::from_utf8(b)
                .unwrap()
                .replace("data_version: 3", "data_version: 2")
                .into_bytes()
        } else {
            b
        })
    });
    rewrite(&good, &bad("bad-yaml.tar"), |n, b| {
        Some(if n.starts_with("./operators/") && n.ends_with(".yaml") {
            b"scale: [1, 2\n".to_vec()
        } else {
            b
        })
    });
    rewrite(&good, &bad("no-payload.tar"), |n, b| {
        (!(n.starts_with("./operators/") && n.ends_with(".lz4"))).then_some(b)
    });
    let mut first = true;
    rewrite(&good, &bad("corrupt-lz4.tar"), |n, mut b| {
        if n.starts_with("./operators/") && n.ends_with(".lz4") && first {
            first = false;
            let mid = b.len() / 2;
            for x in &mut b[mid..mid + 64] {
                *x ^= 0x5a;
            }
        }
        Some(b)
    });
    rewrite(&good, &bad("zeros.tar"), |n, b| {
        Some(if n.starts_with("./operators/") && n.ends_with(".lz4") {
            lz4(&vec![0u8; 64 << 20])
        } else {
            b
        })
    });
    // A real payload followed by 64 MiB: refused at the limit, not decompressed to the end.
    rewrite(&good, &bad("bomb.tar"), |n, b| {
        Some(if n.starts_with("./operators/") && n.ends_with(".lz4") {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut lz4_flex::frame::FrameDecoder::new(&b[..]), &mut bytes)
                .unwrap();
            bytes.resize(bytes.len() + (64 << 20), 0);
            lz4(&bytes)
        } else {
            b
        })
    });
    rewrite(&good, &bad("wrong-shape.tar"), |n, b| {
        Some(
            if n.starts_with("./operators/") && n.ends_with(".npz.lz4") {
                let small = ndarray::Array4::<f64>::zeros((14, 3, 14, 3));
                let path = dir.path().join("small.npz");
                let mut w = eko::npz::NpzWriter::create(&path).unwrap();
                w.add("operator", &small, eko::npy::Order::C).unwrap();
                w.add("error", &small, eko::npy::Order::C).unwrap();
                w.finish().unwrap();
                lz4(&std::fs::read(&path).unwrap())
            } else {
                b
            },
        )
    });
    rewrite(&good, &bad("not-npz.tar"), |n, b| {
        Some(
            if n.starts_with("./operators/") && n.ends_with(".npz.lz4") {
                lz4(b"PK but not really a zip")
            } else {
                b
            },
        )
    });
    let existing = dir.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::write(existing.join("keep.txt"), b"mine").unwrap();

    let cases: Vec<(PathBuf, &str)> = vec![
        (bad("missing.tar"), "open failed"),
        (bad("garbage.tar"), "not a tar archive"),
        (bad("gzip.tar"), "gzip"),
        (bad("truncated.tar"), "truncated"),
        (bad("no-metadata.tar"), "no metadata.yaml"),
        (
            bad("old.tar"),
            "data_version 2 (eko \"0.15.7\") is not a layout libeko imports",
        ),
        (bad("bad-yaml.tar"), "invalid YAML"),
        (bad("no-payload.tar"), "header without its payload"),
        (bad("corrupt-lz4.tar"), "operators/"),
        (bad("bomb.tar"), "decompresses to more than"),
        (bad("zeros.tar"), "not an npz as NumPy writes it"),
        (
            bad("wrong-shape.tar"),
            "the archive's grid needs [14, 8, 14, 8]",
        ),
    ];
    for (archive, needle) in cases {
        let dest = dir.path().join("dest");
        let (code, out, err) = eko(&["import".as_ref(), archive.as_os_str(), dest.as_os_str()]);
        let needle = if needle == "garbage.tar" {
            "truncated.tar"
        } else {
            needle
        };
        assert_eq!(code, Some(1), "{archive:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{archive:?}: {err}");
        assert!(err.contains(needle), "{archive:?}: {needle:?} not in {err}");
        assert!(!dest.exists(), "{archive:?} left {dest:?}");
    }
    // Into a directory that holds something: refused, untouched.
    let (code, _, err) = eko(&["import".as_ref(), good.as_os_str(), existing.as_os_str()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(std::fs::read_dir(&existing).unwrap().count(), 1);
    // Into a file, or inside a store: refused, saying which.
    let file = existing.join("keep.txt");
    let (code, _, err) = eko(&["import".as_ref(), good.as_os_str(), file.as_os_str()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is a file, not a directory"), "{err}");
    let store = dir.path().join("store");
    eko::store::Store::create(&store, &common::metadata(3)).unwrap();
    let inside = store.join("nested");
    let (code, _, err) = eko(&["import".as_ref(), good.as_os_str(), inside.as_os_str()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is inside the store"), "{err}");
    assert!(!inside.exists());
    // No temporary directory is left beside the destinations.
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(eko::TEMP_PREFIX))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
