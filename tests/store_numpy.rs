//! NumPy loads every file of a store, with `mmap_mode='r'`, and sees our bytes.

mod common;

use eko::npy::Order;
use eko::store::{EvolutionPoint, FileKind, Store};

#[test]
fn numpy_loads_every_file_of_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let nx = 7;
    let mut store = Store::create(dir.path(), &common::metadata(nx)).unwrap();
    let points = [
        (1e-3, 3),
        (1.0, 3),
        (2.7224999999999997, 4),
        (24.2064, 4),
        (24.2064, 5),
        (1e4, 5),
        (1e17, 6),
    ];
    for (i, (mu2, nf)) in points.iter().enumerate() {
        let p = EvolutionPoint::new(*mu2, *nf).unwrap();
        let op = common::operator(&p, nx, i as f64);
        store
            .insert_operator(p, &op, Some(&op.mapv(|v| v * 1e-7)))
            .unwrap();
        store
            .insert_partial(p, &op.mapv(|v| -v), None::<&ndarray::Array4<f64>>)
            .unwrap();
    }
    let mut w = eko::npz::NpzWriter::create(store.thresholds_path()).unwrap();
    w.add(
        "matching_charm",
        &common::operator(&EvolutionPoint::new(2.28, 4).unwrap(), nx, 0.0),
        Order::C,
    )
    .unwrap();
    w.finish().unwrap();

    let out = common::run_python("check_store.py", &[dir.path()]);
    let seen: std::collections::BTreeMap<String, (Vec<usize>, String, u32)> =
        serde_json::from_str(&out).unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut expected = 1; // the thresholds member
    for (point, files) in store.points() {
        for kind in files.kinds() {
            expected += 1;
            let name = kind.file_name(&point);
            let (shape, dtype, crc) = seen
                .get(&name)
                .unwrap_or_else(|| panic!("NumPy did not load {name}"));
            assert_eq!(shape, &store.metadata().operator_shape().to_vec(), "{name}");
            assert_eq!(dtype, "<f8");
            let file = store.file(&point, kind).unwrap();
            assert_eq!(
                *crc,
                crc32fast::hash(file.npy().data_bytes()),
                "{name}: NumPy sees other bytes"
            );
        }
    }
    assert_eq!(seen.len(), expected, "{seen:?}");
    assert_eq!(store.points_with(FileKind::Partial).count(), points.len());
}
