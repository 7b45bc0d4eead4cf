//! `eko export`: archives that Python eko (0.15.7, `eko.EKO.read`) reads back equal to the store;
//! import → export → import round trips byte for byte; refusals with nothing left behind.

mod common;

use std::path::{Path, PathBuf};

use common::run_eko as eko;
use eko::archive::export::{Compression, ExportOptions, export};
use eko::store::Store;

fn ok(args: &[&std::ffi::OsStr]) -> String {
    let (code, out, err) = eko(args);
    assert_eq!(code, Some(0), "eko {args:?}: {out}{err}");
    out
}

/// Runs eko and expects a one-line failure; returns the message.
fn fails(args: &[&std::ffi::OsStr]) -> String {
    let (code, out, err) = eko(args);
    assert_eq!(code, Some(1), "eko {args:?} should fail: {out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

fn import(archive: &Path, store: &Path) {
    ok(&["import".as_ref(), archive.as_os_str(), store.as_os_str()]);
}

fn export_cli(store: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&std::ffi::OsStr> = vec!["export".as_ref(), "--json".as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.push(store.as_os_str());
    args.push(out.as_os_str());
    serde_json::from_str(&ok(&args)).unwrap()
}

/// eko's reading of `archive` against `store` (tests/python/check_export.py).
fn compare(archive: &Path, store: &Path) -> serde_json::Value {
    let text = common::run_python("check_export.py", &[Path::new("compare"), archive, store]);
    serde_json::from_str(text.trim()).unwrap()
}

/// Nothing but `keep` in `dir` (no temporary file left).
fn only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    keep.sort();
    assert_eq!(names, keep);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != eko::store::LOCK_FILE {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    joined: PathBuf,
    joined_store: PathBuf,
}

fn joined() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let joined = common::make_eko_archive(dir.path(), "joined");
    let joined_store = dir.path().join("joined-store");
    import(&joined, &joined_store);
    Fixture {
        dir,
        joined,
        joined_store,
    }
}

#[test]
fn eko_reads_the_export_equal_to_the_store_and_to_the_original() {
    let f = joined();
    let out = f.dir.path().join("out.tar");
    let report = export_cli(&f.joined_store, &out, &[])["report"].clone();
    assert_eq!(report["operators"], 7);
    assert_eq!(report["thresholds"], 0);
    assert_eq!(report["cards"], "store");
    let summary = compare(&out, &f.joined_store);
    assert_eq!(summary["operators"], 7, "{summary}");
    assert_eq!(summary["errors"], 7, "{summary}");
    assert_eq!(summary["theory_equal"], true, "{summary}");
    assert_eq!(summary["operator_equal"], true, "{summary}");
    assert_eq!(summary["data_version"], 3, "{summary}");
    // eko reads the export as it reads the archive the store was imported from.
    let same = common::run_python("check_export.py", &[Path::new("same"), &f.joined, &out]);
    assert!(same.contains("\"operators\": 7"), "{same}");
    // Uncompressed (stored LZ4 blocks): eko reads it all the same.
    let plain = f.dir.path().join("plain.tar");
    export_cli(&f.joined_store, &plain, &["--compression", "none"]);
    assert_eq!(compare(&plain, &f.joined_store)["operators"], 7);
    assert!(std::fs::metadata(&plain).unwrap().len() >= std::fs::metadata(&out).unwrap().len());
    only(
        f.dir.path(),
        &["joined.tar", "joined-store", "out.tar", "plain.tar"],
    );
}

#[test]
fn import_export_import_is_the_same_store() {
    let f = joined();
    let d = f.dir.path();
    // With parts: final operators and thresholds come back.
    let out = d.join("with-parts.tar");
    let report = export_cli(&f.joined_store, &out, &["--with-parts"])["report"].clone();
    assert_eq!(report["thresholds"], 7);
    import(&out, &d.join("again"));
    assert_eq!(
        common::snapshot(&f.joined_store),
        common::snapshot(&d.join("again"))
    );
    // Without parts: a cleaned store (final operators only) comes back.
    ok(&["clean".as_ref(), f.joined_store.as_os_str()]);
    let out = d.join("finals.tar");
    export_cli(&f.joined_store, &out, &["--compression", "none"]);
    import(&out, &d.join("finals"));
    assert_eq!(
        common::snapshot(&f.joined_store),
        common::snapshot(&d.join("finals"))
    );
    // An archive of parts only: partials (one from a cliff part, on a matching scale) and
    // thresholds come back.
    let parts = common::make_eko_archive(d, "parts");
    import(&parts, &d.join("parts-store"));
    let out = d.join("parts-again.tar");
    export_cli(&d.join("parts-store"), &out, &["--with-parts"]);
    import(&out, &d.join("parts-again"));
    assert_eq!(
        common::snapshot(&d.join("parts-store")),
        common::snapshot(&d.join("parts-again"))
    );
    // And through the library, with one thread and the default options.
    let store = Store::open(d.join("parts-store")).unwrap();
    let options = ExportOptions {
        with_parts: true,
        threads: 1,
        ..ExportOptions::default()
    };
    let mut calls = 0;
    let report = export(&store, &d.join("lib.tar"), &options, |_| calls += 1).unwrap();
    assert_eq!(report.compression, Compression::Lz4);
    assert_eq!(calls, report.partials + report.thresholds);
    import(&d.join("lib.tar"), &d.join("lib"));
    assert_eq!(
        common::snapshot(&d.join("parts-store")),
        common::snapshot(&d.join("lib"))
    );
}

#[test]
fn older_cards_are_converted_as_eko_converts_them() {
    let f = joined();
    let d = f.dir.path();
    ok(&["clean".as_ref(), f.joined_store.as_os_str()]);
    // The eko 0.14 layout of the same cards (what eko 0.15.7's io/v2.py undoes).
    let path = f.joined_store.join("metadata.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let theory = &mut meta["theory"];
    let reference = theory["couplings"]["ref"].clone();
    theory["couplings"]
        .as_object_mut()
        .unwrap()
        .remove("ref")
        .unwrap();
    theory["couplings"]["scale"] = reference[0].clone();
    theory["couplings"]["num_flavs_ref"] = reference[1].clone();
    theory["couplings"]["max_num_flavs"] = 6.into();
    theory["heavy"]["num_flavs_init"] = 4.into();
    theory["heavy"]["num_flavs_max_pdf"] = 6.into();
    theory["heavy"]["intrinsic_flavors"] = serde_json::json!([4]);
    let operator = meta["operator"].as_object_mut().unwrap();
    let init = operator.remove("init").unwrap();
    operator.insert("mu0".into(), init[0].clone());
    operator.insert("eko_version".into(), "0.14.6".into());
    std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();

    let out = d.join("converted.tar");
    let report = export_cli(&f.joined_store, &out, &[])["report"].clone();
    assert_eq!(report["cards"], "converted from eko 0.14.6");
    let summary = compare(&out, &f.joined_store);
    assert_eq!(summary["operators"], 7, "{summary}");
    assert_eq!(summary["init"], serde_json::json!([1.65, 4]), "{summary}");
    // eko reads the converted cards as it reads the original archive's.
    let same = common::run_python("check_export.py", &[Path::new("same"), &f.joined, &out]);
    assert!(same.contains("\"operators\": 7"), "{same}");

    // An unknown older version is refused, naming the field.
    meta["operator"]["eko_version"] = "0.12.0".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    let err = fails(&[
        "export".as_ref(),
        f.joined_store.as_os_str(),
        d.join("x.tar").as_os_str(),
    ]);
    assert!(err.contains("operator.eko_version"), "{err}");
    // A missing field eko's conversion needs is named.
    meta["operator"]["eko_version"] = "0.14.6".into();
    meta["theory"]["heavy"]
        .as_object_mut()
        .unwrap()
        .remove("num_flavs_init");
    std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    let err = fails(&[
        "export".as_ref(),
        f.joined_store.as_os_str(),
        d.join("x.tar").as_os_str(),
    ]);
    assert!(
        err.contains("theory.heavy.num_flavs_init is missing"),
        "{err}"
    );
    only(d, &["joined.tar", "joined-store", "converted.tar"]);
}

#[test]
fn a_store_without_cards_is_refused_naming_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("rust-store");
    common::synthetic_finals(&store, common::metadata(8), 2, true);
    let err = fails(&[
        "export".as_ref(),
        store.as_os_str(),
        dir.path().join("x.tar").as_os_str(),
    ]);
    assert!(err.contains("no theory card ('theory' is null"), "{err}");
    only(dir.path(), &["rust-store"]);
}

#[test]
fn bad_destinations_and_stores_are_refused_with_nothing_left() {
    let f = joined();
    let d = f.dir.path();
    let store = f.joined_store.as_os_str();
    // Inside the store.
    let err = fails(&[
        "export".as_ref(),
        store,
        f.joined_store.join("x.tar").as_os_str(),
    ]);
    assert!(err.contains("is inside the store"), "{err}");
    // An existing file: refused and untouched, replaced with --overwrite.
    let existing = d.join("existing.tar");
    std::fs::write(&existing, b"keep me").unwrap();
    let err = fails(&["export".as_ref(), store, existing.as_os_str()]);
    assert!(
        err.contains("the file exists") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    export_cli(&f.joined_store, &existing, &["--overwrite"]);
    assert_eq!(compare(&existing, &f.joined_store)["operators"], 7);
    // A missing store.
    let err = fails(&[
        "export".as_ref(),
        d.join("nowhere").as_os_str(),
        d.join("x.tar").as_os_str(),
    ]);
    assert!(err.contains("not a libeko store"), "{err}");
    // A store with partials: refused without --with-parts; with it, refused when the
    // thresholds their paths need are missing.
    let parts = common::make_eko_archive(d, "parts");
    let parts_store = d.join("parts-store");
    import(&parts, &parts_store);
    let err = fails(&[
        "export".as_ref(),
        parts_store.as_os_str(),
        d.join("x.tar").as_os_str(),
    ]);
    assert!(
        err.contains("hold a partial and no final operator"),
        "{err}"
    );
    assert!(err.contains("--with-parts"), "{err}");
    let bare = d.join("no-thresholds");
    copy_dir(&parts_store, &bare);
    std::fs::remove_file(bare.join("thresholds.npz")).unwrap();
    let err = fails(&[
        "export".as_ref(),
        "--with-parts".as_ref(),
        bare.as_os_str(),
        d.join("x.tar").as_os_str(),
    ]);
    assert!(
        err.contains("the store has no thresholds.npz") && err.contains("thresholds.npz member"),
        "{err}"
    );
    let mut left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "existing.tar",
            "joined-store",
            "joined.tar",
            "no-thresholds",
            "parts-store",
            "parts.tar"
        ]
    );
}
