//! Shared test helpers: the reference Python (NumPy) and running its scripts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use eko::npy::{Element, ElementKind, NpyFile};
use ndarray::ArrayD;
use num_complex::Complex64;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter with NumPy: `$EKO_PYTHON`, or the project's `.venv`, created by
/// `scripts/python-env` when missing.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("EKO_PYTHON") {
                return PathBuf::from(p);
            }
            let out = Command::new(root().join("scripts/python-env"))
                .output()
                .expect("run scripts/python-env");
            assert!(
                out.status.success(),
                "scripts/python-env failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        })
        .clone()
}

/// Runs `tests/python/<script>` with `args`; panics with its output unless it succeeds.
pub fn run_python(script: &str, args: &[&Path]) -> String {
    let out = Command::new(python())
        .arg(root().join("tests/python").join(script))
        .args(args)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Values of an array in C order as little-endian bytes (bool as 0/1), NumPy's `tobytes()`.
pub fn c_order_bytes<T: Element>(array: &ArrayD<T>) -> Vec<u8> {
    let values: Vec<T> = array.iter().copied().collect();
    T::as_native_bytes(&values).to_vec()
}

/// [`c_order_bytes`] of a file's data read through the copy path, and, where it can be viewed
/// in place, the same through the zero-copy view (which must agree).
pub fn file_values(file: &NpyFile) -> eko::Result<Vec<u8>> {
    fn both<T: Element>(file: &NpyFile) -> eko::Result<Vec<u8>> {
        let copied = c_order_bytes(&file.read::<T>()?);
        if file.in_place().is_yes() {
            let viewed = c_order_bytes(&file.view::<T>()?.to_owned());
            assert_eq!(
                copied,
                viewed,
                "{}: view and copy differ",
                file.path().display()
            );
        }
        Ok(copied)
    }
    match file.header().dtype.kind {
        ElementKind::F64 => both::<f64>(file),
        ElementKind::F32 => both::<f32>(file),
        ElementKind::C128 => both::<Complex64>(file),
        ElementKind::I64 => both::<i64>(file),
        ElementKind::I32 => both::<i32>(file),
        ElementKind::U8 => both::<u8>(file),
        ElementKind::Bool => both::<bool>(file),
    }
}

/// [`c_order_bytes`] of an archive member, through [`eko::npz::NpzFile::load`] (a view where
/// possible, a copy otherwise); where the member can be viewed, the view and the copy must agree.
pub fn member_values(npz: &eko::npz::NpzFile, key: &str) -> eko::Result<Vec<u8>> {
    fn both<T: Element>(npz: &eko::npz::NpzFile, key: &str) -> eko::Result<Vec<u8>> {
        let loaded = c_order_bytes(&npz.load::<T>(key)?.into_owned());
        let copied = c_order_bytes(&npz.read::<T>(key)?);
        assert_eq!(loaded, copied, "{key}: load and read differ");
        Ok(copied)
    }
    match npz.member(key)?.header.dtype.kind {
        ElementKind::F64 => both::<f64>(npz, key),
        ElementKind::F32 => both::<f32>(npz, key),
        ElementKind::C128 => both::<Complex64>(npz, key),
        ElementKind::I64 => both::<i64>(npz, key),
        ElementKind::I32 => both::<i32>(npz, key),
        ElementKind::U8 => both::<u8>(npz, key),
        ElementKind::Bool => both::<bool>(npz, key),
    }
}
