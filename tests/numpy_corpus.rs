//! Our verdict and values equal NumPy's on a corpus NumPy generates and judges
//! (tests/python/npy_corpus.py): every supported dtype, byte order and memory order, 0-d and
//! empty arrays, versions 2.0 and 3.0, alignment and header-spelling variants, and the malformed
//! cases of NumPy's own format tests.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use eko::Error;
use eko::npy::{NpyFile, Order};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    numpy_ok: bool,
    numpy_error: String,
    supported: Option<bool>,
    descr: Option<String>,
    shape: Option<Vec<usize>>,
    fortran_order: Option<bool>,
}

fn check(dir: &std::path::Path, case: &Case) -> Result<(), String> {
    let path = dir.join(format!("{}.npy", case.name));
    let opened = catch_unwind(AssertUnwindSafe(|| NpyFile::open(&path)))
        .map_err(|_| "panicked".to_string())?;
    match (case.numpy_ok, case.supported) {
        (true, Some(true)) => {
            let file = opened.map_err(|e| format!("NumPy loads it, we refuse: {e}"))?;
            let h = file.header();
            let descr = case.descr.as_deref().unwrap();
            if h.dtype.descr() != descr {
                return Err(format!("dtype {} != NumPy's {descr}", h.dtype.descr()));
            }
            if Some(&h.shape) != case.shape.as_ref() {
                return Err(format!("shape {:?} != NumPy's {:?}", h.shape, case.shape));
            }
            if Some(h.order == Order::Fortran) != case.fortran_order {
                return Err(format!(
                    "order {:?} != NumPy's fortran_order {:?}",
                    h.order, case.fortran_order
                ));
            }
            let ours = common::file_values(&file).map_err(|e| format!("reading values: {e}"))?;
            let theirs = std::fs::read(dir.join(format!("{}.bin", case.name))).unwrap();
            if ours != theirs {
                return Err("values differ from NumPy's".into());
            }
            Ok(())
        }
        (true, _) => match opened {
            Err(Error::UnsupportedDtype { .. }) => Ok(()),
            Err(e) => Err(format!(
                "NumPy loads an unsupported dtype; expected UnsupportedDtype, got: {e}"
            )),
            Ok(_) => Err("NumPy loads an unsupported dtype; we accepted it".into()),
        },
        (false, _) => match opened {
            Err(_) => Ok(()),
            Ok(file) => Err(format!(
                "NumPy refuses ({}), we accept: {:?}",
                case.numpy_error,
                file.header()
            )),
        },
    }
}

#[test]
fn verdicts_and_values_equal_numpys() {
    let dir = tempfile::tempdir().unwrap();
    let summary = common::run_python("npy_corpus.py", &[dir.path()]);
    let cases: Vec<Case> =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert!(cases.len() > 200, "corpus too small: {summary}");
    assert!(cases.iter().any(|c| c.numpy_ok) && cases.iter().any(|c| !c.numpy_ok));
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            check(dir.path(), case)
                .err()
                .map(|e| format!("{}: {e}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from NumPy:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn error_messages_name_the_file_and_the_check() {
    let dir = tempfile::tempdir().unwrap();
    common::run_python("npy_corpus.py", &[dir.path()]);
    let expect = [
        ("header_missing_key", "header keys are"),
        ("header_fortran_int", "fortran_order is not a bool"),
        ("header_shape_list", "shape is not valid"),
        ("header_descr_garbage", "is not a valid dtype descriptor"),
        ("header_object", "unsupported dtype"),
        ("nesting_1000", "nests brackets deeper than 200"),
        (
            "header_chars_10001",
            "exceeds NumPy's limit of 10000 characters",
        ),
        ("bad_version_1_1", "unsupported .npy format version 1.1"),
        ("malformed_magic_2", "not a .npy file"),
        (
            "truncated_f8_2x3",
            "truncated: the array data needs 48 bytes",
        ),
    ];
    for (name, needle) in expect {
        let path = dir.path().join(format!("{name}.npy"));
        let message = NpyFile::open(&path).unwrap_err().to_string();
        assert!(
            message.contains(needle),
            "{name}: {message:?} lacks {needle:?}"
        );
        assert!(
            message.starts_with(&path.display().to_string()),
            "{name}: {message:?} does not name the file"
        );
    }
}
