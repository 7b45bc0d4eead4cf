//! Shared test helpers: the reference Python (NumPy) and running its scripts.
#![allow(dead_code)]

#[cfg(feature = "pineappl")]
pub mod grids;

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
    run_python_at(&root().join("tests/python").join(script), args)
}

/// Runs the Python script at `script` with `args`; panics with its output unless it succeeds.
pub fn run_python_at(script: &Path, args: &[&Path]) -> String {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run_script(&python(), &[], script, &args)
}

/// Runs `script` with the interpreter `python` (and its `flags`) and `args`; panics with its
/// output unless it succeeds.
fn run_script(python: &Path, flags: &[&str], script: &Path, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(python)
        .args(flags)
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} ({}) failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        script.display(),
        python.display(),
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

/// Store metadata for a small grid: 14 flavours, `n_x` x points, origin (1.65², 4), charm, bottom
/// and top matching.
pub fn metadata(n_x: usize) -> eko::store::Metadata {
    use eko::store::{EvolutionPoint, FLAVOR_BASIS, MatchingScales, Metadata};
    let xgrid = (1..=n_x).map(|i| (i as f64 / n_x as f64).powi(3)).collect();
    let mut m = Metadata::new(
        EvolutionPoint::new(1.65 * 1.65, 4).unwrap(),
        xgrid,
        FLAVOR_BASIS.to_vec(),
        MatchingScales {
            charm: Some(1.51f64.powi(2)),
            bottom: Some(4.92f64.powi(2)),
            top: Some(172.5f64.powi(2)),
        },
    );
    m.theory = serde_json::json!({"order": [2, 0], "alphas": 0.118});
    m
}

/// A valid evolution point.
pub fn point(mu2: f64, nf: u8) -> eko::store::EvolutionPoint {
    eko::store::EvolutionPoint::new(mu2, nf).unwrap()
}

/// A deterministic operator for `point` (`tag` varies it): shape (14, n_x, 14, n_x).
pub fn operator(point: &eko::store::EvolutionPoint, n_x: usize, tag: f64) -> ndarray::Array4<f64> {
    ndarray::Array4::from_shape_fn((14, n_x, 14, n_x), |(a, i, b, j)| {
        point.mu2.ln() * (a + 1) as f64 + (i * 7 + b * 3 + j) as f64 * 1e-3 + point.nf as f64 + tag
    })
}

/// Every file below `dir` (except the lock file) with its bytes, to compare states.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == eko::store::LOCK_FILE {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                for (k, v) in snapshot(&entry.path()) {
                    out.insert(format!("{name}/{k}"), v);
                }
            } else {
                out.insert(name, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

/// The median of `values` (sorts them).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A `kB` field of /proc/self/status (`VmHWM`, `RssAnon`, ...), in KiB.
pub fn proc_status_kb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Sum with eight independent accumulators: bandwidth-bound, not add-latency-bound.
pub fn sum8(values: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// A long-running Python script answering one line per command line (the benchmarks' NumPy side).
/// Dropping it sends `quit` and waits for the process.
pub struct PythonServer {
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
    child: std::process::Child,
}

impl PythonServer {
    /// Starts `benches/python/<script>` with `args` and extra environment `env`.
    pub fn start(script: &str, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(python())
            .arg(root().join("benches/python").join(script))
            .args(args)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start python");
        PythonServer {
            input: child.stdin.take().unwrap(),
            output: std::io::BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    /// Sends `command`, returns the answer line split into numbers.
    pub fn ask(&mut self, command: &str) -> Vec<f64> {
        use std::io::{BufRead, Write};
        writeln!(self.input, "{command}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        line.split_whitespace()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("not a number in {line:?}"))
            })
            .collect()
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = writeln!(self.input, "quit");
        let _ = self.child.wait();
    }
}

/// Runs the `eko` binary: exit code, standard output, standard error.
pub fn run_eko(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eko"))
        .args(args)
        .output()
        .expect("run eko");
    (
        out.status.code(),
        String::from_utf8(out.stdout).expect("UTF-8 output"),
        String::from_utf8(out.stderr).expect("UTF-8 errors"),
    )
}

/// An archive made by Python eko (tests/python/eko_archive.py) in `dir`: `joined` (final
/// operators and parts) or `parts` (parts only).
pub fn make_eko_archive(dir: &Path, kind: &str) -> PathBuf {
    let path = dir.join(format!("{kind}.tar"));
    run_python(
        "eko_archive.py",
        &[Path::new("make"), Path::new(kind), path.as_path()],
    );
    path
}

/// A store at `dir` with `metadata` (its theory description dropped) holding `count` synthetic
/// final operators at nf = 5, Q² = 30 · 1.3^i, each evolved from (1.65², nf = 5), with their
/// errors when `with_error`: the benchmarks' store. Returns the points.
pub fn synthetic_finals(
    dir: &Path,
    mut metadata: eko::store::Metadata,
    count: usize,
    with_error: bool,
) -> Vec<eko::store::EvolutionPoint> {
    use eko::store::{EvolutionPoint, Segment, Store};
    metadata.theory = serde_json::Value::Null;
    let mut store = Store::create(dir, &metadata).unwrap();
    let synthetic = eko::synthetic::Synthetic::new(metadata.pids.clone(), metadata.xgrid.len(), 11);
    (0..count)
        .map(|i| {
            let q2 = 30.0 * 1.3f64.powi(i as i32);
            let p = EvolutionPoint::new(q2, 5).unwrap();
            let op = synthetic.segment(&Segment {
                origin: 1.65 * 1.65,
                target: q2,
                nf: 5,
            });
            store
                .insert_operator(p, &op.operator, with_error.then_some(&op.error))
                .unwrap();
            p
        })
        .collect()
}

/// The Python of a virtual environment with the PyPI package `eko==version` (made by
/// `scripts/old-eko-env` under target/old-eko when missing): the older ekos' own writing and
/// reading, for the import tests.
pub fn old_eko_python(version: &str) -> PathBuf {
    let out = Command::new(root().join("scripts/old-eko-env"))
        .arg(version)
        .output()
        .expect("run scripts/old-eko-env");
    assert!(
        out.status.success(),
        "scripts/old-eko-env {version} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs `tests/python/<script>` with the Python `python` and `args`; panics with its output
/// unless it succeeds.
pub fn run_python_with(python: &Path, script: &str, args: &[&std::ffi::OsStr]) -> String {
    run_script(
        python,
        &["-W", "ignore"],
        &root().join("tests/python").join(script),
        args,
    )
}

/// A tar archive rewritten (tests of archives eko would not write).
/// Copies `src` to `dst`, passing each entry's name and bytes through `edit` (None drops it).
pub fn rewrite(src: &Path, dst: &Path, mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>) {
    use std::io::Read;
    let mut input = tar::Archive::new(std::fs::File::open(src).unwrap());
    let mut output = tar::Builder::new(std::fs::File::create(dst).unwrap());
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut header = entry.header().clone();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if !header.entry_type().is_file() {
            output.append(&header, &bytes[..]).unwrap();
            continue;
        }
        if let Some(bytes) = edit(&name, bytes) {
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            output.append(&header, &bytes[..]).unwrap();
        }
    }
    output.finish().unwrap();
}
