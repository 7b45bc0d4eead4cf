//! Helpers shared by the afl targets in `src/bin/`: a per-process scratch directory, and
//! element-wise bitwise comparison of arrays (so NaNs and signed zeros compare as stored).
//!
//! The targets run in AFL++'s persistent mode: one forked process runs many inputs, so files go
//! to one scratch directory per process, overwritten for each input, never one per input.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use eko::npy::Element;
use ndarray::ArrayViewD;
use num_complex::Complex64;

/// This process's scratch directory, `$TMPDIR/libeko-fuzz/<target>-<pid>`, created on first use.
///
/// It is created lazily, inside the fuzzed closure, so the pid is the forked child's (AFL++'s
/// fork server forks after `main` starts). Directories left by earlier processes of the same
/// target that no longer run (a child killed on a crash or a timeout) are removed then, so
/// nothing accumulates over a long campaign.
pub fn scratch(target: &str) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::temp_dir().join("libeko-fuzz");
        let prefix = format!("{target}-");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix(&prefix) else {
                    continue;
                };
                if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
        dir
    })
}

/// Whether `EKO_FUZZ_VERBOSE` is set: targets then print what the library answered (for
/// replaying one input by hand: `EKO_FUZZ_VERBOSE=1 target/release/T < input`).
pub fn verbose() -> bool {
    static VERBOSE: OnceLock<bool> = OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("EKO_FUZZ_VERBOSE").is_some())
}

/// Writes `data` to `name` in the scratch directory (replacing it) and returns its path.
pub fn write_input(target: &str, name: &str, data: &[u8]) -> PathBuf {
    let path = scratch(target).join(name);
    std::fs::write(&path, data).expect("write the fuzz input to the scratch directory");
    path
}

/// Bitwise equality of one element (NaN payloads and -0.0 included).
pub trait SameBits: Element + std::fmt::Debug {
    /// Whether `self` and `other` have the same bits.
    fn same_bits(&self, other: &Self) -> bool;
}

macro_rules! same_bits_eq {
    ($($t:ty),*) => {$(
        impl SameBits for $t {
            fn same_bits(&self, other: &Self) -> bool { self == other }
        }
    )*};
}
same_bits_eq!(i64, i32, u8, bool);

impl SameBits for f64 {
    fn same_bits(&self, other: &Self) -> bool {
        self.to_bits() == other.to_bits()
    }
}

impl SameBits for f32 {
    fn same_bits(&self, other: &Self) -> bool {
        self.to_bits() == other.to_bits()
    }
}

impl SameBits for Complex64 {
    fn same_bits(&self, other: &Self) -> bool {
        self.re.to_bits() == other.re.to_bits() && self.im.to_bits() == other.im.to_bits()
    }
}

/// Asserts two arrays have the same shape and the same elements in logical (C) order.
pub fn assert_same<T: SameBits>(a: &ArrayViewD<'_, T>, b: &ArrayViewD<'_, T>, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes differ");
    if let Some((i, (x, y))) = a
        .iter()
        .zip(b.iter())
        .enumerate()
        .find(|(_, (x, y))| !x.same_bits(y))
    {
        panic!("{what}: element {i} differs: {x:?} vs {y:?}");
    }
}

/// Calls `$f::<T>($($arg),*)` with `T` the Rust type of element kind `$kind`.
#[macro_export]
macro_rules! dispatch {
    ($kind:expr, $f:ident($($arg:expr),*)) => {
        match $kind {
            ::eko::npy::ElementKind::F64 => $f::<f64>($($arg),*),
            ::eko::npy::ElementKind::F32 => $f::<f32>($($arg),*),
            ::eko::npy::ElementKind::C128 => $f::<::num_complex::Complex64>($($arg),*),
            ::eko::npy::ElementKind::I64 => $f::<i64>($($arg),*),
            ::eko::npy::ElementKind::I32 => $f::<i32>($($arg),*),
            ::eko::npy::ElementKind::U8 => $f::<u8>($($arg),*),
            ::eko::npy::ElementKind::Bool => $f::<bool>($($arg),*),
        }
    };
}
