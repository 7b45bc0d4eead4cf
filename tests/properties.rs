//! Property tests: write-then-map round trips for random shapes, orders and element types, and
//! random damage to valid files never panics (every outcome is a value or an error).

use std::panic::{AssertUnwindSafe, catch_unwind};

use eko::npy::{Element, NpyFile, Order, WriteOptions, write_npy};
use eko::npz::{NpzFile, NpzWriter};
use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use num_complex::Complex64;
use proptest::prelude::*;

fn shapes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..6, 0..5)
}

fn orders() -> impl Strategy<Value = Order> {
    prop_oneof![Just(Order::C), Just(Order::Fortran)]
}

/// Writes an array built in `input_order` in file order `order`, maps it, and compares.
fn roundtrip<T: Element + PartialEq + std::fmt::Debug>(
    shape: &[usize],
    input_order: Order,
    order: Order,
    align: usize,
    values: impl Fn(usize) -> T,
) -> Result<(), TestCaseError> {
    let n: usize = shape.iter().product();
    let data: Vec<T> = (0..n).map(values).collect();
    let a =
        ArrayD::from_shape_vec(IxDyn(shape).set_f(input_order == Order::Fortran), data).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    write_npy(&path, &a, WriteOptions { order, align }).unwrap();
    let file = NpyFile::open(&path).unwrap();
    prop_assert_eq!(&file.header().shape, &shape.to_vec());
    prop_assert_eq!(file.header().data_offset % align, 0);
    prop_assert!(file.in_place().is_yes());
    let view = file.view::<T>().unwrap();
    prop_assert_eq!(&view, &a);
    if shape.len() > 1 && n > 1 && shape.iter().filter(|&&d| d > 1).count() > 1 {
        // The view's strides follow the file's memory order.
        prop_assert_eq!(view.is_standard_layout(), order == Order::C);
    }
    prop_assert_eq!(file.read::<T>().unwrap(), a);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn f64_roundtrip(shape in shapes(), input in orders(), order in orders(), page in any::<bool>()) {
        roundtrip(&shape, input, order, if page { 4096 } else { 64 }, |i| i as f64 * 1.5 - 7.0)?;
    }

    #[test]
    fn other_kinds_roundtrip(shape in shapes(), order in orders(), kind in 0usize..6) {
        match kind {
            0 => roundtrip(&shape, Order::C, order, 64, |i| i as f32)?,
            1 => roundtrip(&shape, Order::C, order, 64, |i| Complex64::new(i as f64, 1.0))?,
            2 => roundtrip(&shape, Order::C, order, 64, |i| i as i64 - 3)?,
            3 => roundtrip(&shape, Order::C, order, 64, |i| -(i as i32))?,
            4 => roundtrip(&shape, Order::C, order, 64, |i| i as u8)?,
            _ => roundtrip(&shape, Order::C, order, 64, |i| i % 2 == 0)?,
        }
    }

    /// Overwriting, cutting or extending a valid .npy anywhere gives a value or an error.
    #[test]
    fn damaged_npy_never_panics(
        shape in prop::collection::vec(0usize..4, 0..4),
        edits in prop::collection::vec((0usize..400, any::<u8>()), 1..8),
        cut in prop::option::of(0usize..400),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let n: usize = shape.iter().product();
        let a = ArrayD::from_shape_vec(IxDyn(&shape), (0..n).map(|i| i as f64).collect()).unwrap();
        write_npy(&path, &a, WriteOptions { order: Order::C, align: 64 }).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, value) in edits {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.min(bytes.len()));
        }
        std::fs::write(&path, &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(file) = NpyFile::open(&path) {
                let _ = common_values(&file);
            }
        }));
        prop_assert!(outcome.is_ok(), "panicked on {:?}", bytes);
    }

    /// Damage anywhere in an aligned .npz gives a value or an error.
    #[test]
    fn damaged_npz_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        let mut w = NpzWriter::create(&path).unwrap();
        w.add("x", &ArrayD::<f64>::zeros(IxDyn(&[3, 2])), Order::C).unwrap();
        w.add("y", &ArrayD::<i32>::zeros(IxDyn(&[4])), Order::Fortran).unwrap();
        w.finish().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        std::fs::write(&path, &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(npz) = NpzFile::open(&path) {
                for m in npz.members() {
                    let _ = npz.read::<f64>(&m.key);
                    let _ = npz.read::<i32>(&m.key);
                    let _ = npz.view::<f64>(&m.key);
                }
            }
        }));
        prop_assert!(outcome.is_ok());
    }
}

/// Reads the data through the typed paths for whatever kind the header claims.
fn common_values(file: &NpyFile) -> eko::Result<()> {
    use eko::npy::ElementKind::*;
    match file.header().dtype.kind {
        F64 => file.read::<f64>().map(drop),
        F32 => file.read::<f32>().map(drop),
        C128 => file.read::<Complex64>().map(drop),
        I64 => file.read::<i64>().map(drop),
        I32 => file.read::<i32>().map(drop),
        U8 => file.read::<u8>().map(drop),
        Bool => file
            .read::<bool>()
            .and_then(|_| file.view::<bool>().map(drop)),
    }
}
