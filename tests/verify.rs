//! `eko verify` and the checksums libeko records in every `.npy` header (store format 3): a good
//! store; a flipped byte, a truncated file, a missing error file, an error file from another
//! write, a damaged thresholds.npz member, each found and named; a store written before format 3
//! (files without checksums, here written by NumPy) reported, then given checksums by
//! `--record` with its data unchanged and still read by NumPy.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{metadata, operator, point, run_eko};
use eko::npy::{Checksums, ErrorRecord, NpyFile};
use eko::store::verify::{FileStatus, verify};
use eko::store::{EvolutionPoint, FileKind, Store};

const N_X: usize = 5;

fn points() -> Vec<EvolutionPoint> {
    vec![point(10.0, 4), point(30.0, 5), point(100.0, 5)]
}

/// A store with three final operators, the first two with errors, and a partial with error.
fn store(dir: &Path) -> Store {
    let mut s = Store::create(dir, &metadata(N_X)).unwrap();
    for (i, p) in points().iter().enumerate() {
        let op = operator(p, N_X, 0.0);
        let err = operator(p, N_X, 1.0);
        s.insert_operator(*p, &op, (i < 2).then_some(&err)).unwrap();
    }
    let p = point(500.0, 5);
    s.insert_partial(p, &operator(&p, N_X, 2.0), Some(&operator(&p, N_X, 3.0)))
        .unwrap();
    s
}

fn status_of(dir: &Path, file: &str) -> FileStatus {
    let report = verify(&Store::open(dir).unwrap(), |_, _| {}).unwrap();
    report
        .files
        .iter()
        .find(|f| f.file == file)
        .unwrap_or_else(|| panic!("{file} not in {:?}", report.files))
        .status
        .clone()
}

fn eko_verify(dir: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args: Vec<&OsStr> = vec!["verify".as_ref()];
    args.extend(extra.iter().map(OsStr::new));
    args.push(dir.as_os_str());
    run_eko(&args)
}

#[test]
fn headers_record_checksums_and_pairs() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let p = points()[0];
    let op = s.operator(&p).unwrap();
    let err = s.operator_error(&p).unwrap().unwrap();
    let c_err = err.npy().recorded_checksums().unwrap();
    assert_eq!(c_err.data, err.npy().data_crc32());
    assert_eq!(c_err.error, ErrorRecord::NotRecorded);
    assert_eq!(
        op.npy().recorded_checksums().unwrap(),
        Checksums {
            data: op.npy().data_crc32(),
            error: ErrorRecord::Crc(c_err.data),
        }
    );
    // The point without error says so.
    let lone = s.operator(&points()[2]).unwrap();
    assert_eq!(
        lone.npy().recorded_checksums().unwrap().error,
        ErrorRecord::Absent
    );
    // The CRC is zlib's crc32 of the data bytes.
    let bytes = std::fs::read(op.path()).unwrap();
    let offset = op.npy().header().data_offset;
    assert_eq!(
        crc32fast::hash(&bytes[offset..]),
        op.npy().recorded_checksums().unwrap().data
    );
}

#[test]
fn a_good_store_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    store(tmp.path());
    let report = verify(&Store::open(tmp.path()).unwrap(), |_, _| {}).unwrap();
    assert_eq!(report.files.len(), 7, "{:?}", report.files);
    assert_eq!(
        (report.good, report.without_checksum, report.bad),
        (7, 0, 0)
    );
    let (code, out, err) = eko_verify(tmp.path(), &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("7 good, 0 without checksum, 0 damaged"),
        "{out}"
    );
}

#[test]
fn damage_is_found_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let [a, b, c] = [points()[0], points()[1], points()[2]];
    // A flipped byte in a's operator data.
    let path = s.path_of(&a, FileKind::Operator);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 17;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    // b's error truncated.
    let path = s.path_of(&b, FileKind::OperatorError);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 8)
        .unwrap();
    // The partial's error removed.
    let partial = point(500.0, 5);
    std::fs::remove_file(s.path_of(&partial, FileKind::PartialError)).unwrap();
    // c (written without error) given an error file from elsewhere.
    std::fs::copy(
        s.path_of(&a, FileKind::OperatorError),
        s.path_of(&c, FileKind::OperatorError),
    )
    .unwrap();
    drop(s);
    let dir = tmp.path();
    assert!(matches!(
        status_of(dir, &FileKind::Operator.file_name(&a)),
        FileStatus::Corrupt { .. }
    ));
    assert!(matches!(
        status_of(dir, &FileKind::OperatorError.file_name(&b)),
        FileStatus::Unreadable { reason } if reason.contains("truncated")
    ));
    assert_eq!(
        status_of(dir, &FileKind::Partial.file_name(&partial)),
        FileStatus::MissingError {
            error_file: FileKind::PartialError.file_name(&partial)
        }
    );
    assert!(matches!(
        status_of(dir, &FileKind::Operator.file_name(&c)),
        FileStatus::ForeignError { .. }
    ));
    let (code, out, err) = eko_verify(dir, &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("corrupt: its data has CRC-32"), "{out}");
    assert!(out.contains("truncated"), "{out}");
    assert!(
        out.contains("is missing (the operator records one)"),
        "{out}"
    );
    assert!(err.contains("4 files damaged or inconsistent"), "{err}");
    // --record refuses a damaged store and changes nothing.
    let before = common::snapshot(dir);
    let (code, _, err) = eko_verify(dir, &["--record"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("restore them first"), "{err}");
    assert_eq!(common::snapshot(dir), before);
}

#[test]
fn a_damaged_thresholds_member_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let targets = [point(30.0, 5), point(1e5, 6)];
    let grid = eko::grid::Grid::new(metadata(N_X), &targets).unwrap();
    let synthetic = eko::synthetic::Synthetic::new(eko::store::FLAVOR_BASIS.to_vec(), N_X, 5);
    grid.run_thresholds(&dir, |task: &eko::grid::Task| {
        let op = synthetic.task(task);
        Ok(eko::grid::Computed {
            operator: op.operator,
            error: Some(op.error),
        })
    })
    .unwrap();
    let path = dir.join(eko::store::THRESHOLDS_FILE);
    let report = verify(&Store::open(&dir).unwrap(), |_, _| {}).unwrap();
    let members = report
        .files
        .iter()
        .filter(|f| f.file.starts_with("thresholds.npz/"))
        .count();
    assert!(members > 1 && report.bad == 0, "{:?}", report.files);
    let mut bytes = std::fs::read(&path).unwrap();
    // A byte inside the first member's data (stored members: the data follows its header).
    let npz = eko::npz::NpzFile::open(&path).unwrap();
    let first = npz.members()[0].clone();
    drop(npz);
    let at = first.offset as usize + first.header.data_offset + 3;
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let name = format!("thresholds.npz/{}", first.zip_name);
    assert!(
        matches!(status_of(&dir, &name), FileStatus::Corrupt { .. }),
        "{:?}",
        status_of(&dir, &name)
    );
}

#[test]
fn files_without_checksums_are_reported_then_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let s = store(tmp.path());
    let a = points()[0];
    // Rewrite a's operator and error as NumPy writes them (no comment), as a format 2 store has.
    let files = [
        s.path_of(&a, FileKind::Operator),
        s.path_of(&a, FileKind::OperatorError),
    ];
    let values: Vec<Vec<u8>> = files
        .iter()
        .map(|f| NpyFile::open(f).unwrap().data_bytes().to_vec())
        .collect();
    drop(s);
    let script = "import sys, numpy as np\nfor p in sys.argv[1:]:\n    np.save(p, np.load(p))\n";
    let out = std::process::Command::new(common::python())
        .args(["-c", script])
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for f in &files {
        assert_eq!(NpyFile::open(f).unwrap().recorded_checksums(), None);
    }
    assert_eq!(
        status_of(tmp.path(), &FileKind::Operator.file_name(&a)),
        FileStatus::NoChecksum
    );
    let (code, out, _) = eko_verify(tmp.path(), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 files have no checksum"), "{out}");
    assert!(out.contains("eko verify --record adds them"), "{out}");

    let (code, out, err) = eko_verify(tmp.path(), &["--record"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("checksums recorded for 2 files"), "{out}");
    let report = verify(&Store::open(tmp.path()).unwrap(), |_, _| {}).unwrap();
    assert_eq!(
        (report.good, report.without_checksum, report.bad),
        (7, 0, 0)
    );
    for (f, v) in files.iter().zip(&values) {
        let npy = NpyFile::open(f).unwrap();
        assert_eq!(npy.data_bytes(), &v[..], "{}: data changed", f.display());
        assert!(npy.recorded_checksums().is_some());
    }
    // NumPy reads the recorded files, values unchanged.
    let script = "import sys, numpy as np\nprint(float(np.load(sys.argv[1]).sum()), float(np.load(sys.argv[1], mmap_mode='r').sum()))";
    let out = std::process::Command::new(common::python())
        .args(["-c", script])
        .arg(&files[0])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sums: Vec<f64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    let want: f64 = operator(&a, N_X, 0.0).sum();
    assert!((sums[0] - want).abs() <= 1e-9 * want.abs() && sums[0] == sums[1]);
}
