//! NumPy reads what we write: `.npy` (plain and `mmap_mode='r'`) and `.npz`, every supported
//! dtype, both memory orders, 0-d and empty shapes, both data alignments, with identical values.

mod common;

use std::path::Path;

use eko::npy::{DType, Element, NpyFileMut, Order, WriteOptions, write_npy};
use eko::npz::NpzWriter;
use ndarray::{ArrayD, IxDyn, ShapeBuilder, s};
use num_complex::Complex64;
use serde_json::{Value, json};

const SHAPES: &[&[usize]] = &[&[], &[0], &[7], &[3, 4], &[2, 0, 3], &[3, 4, 5]];

fn array<T: Element>(shape: &[usize], values: &dyn Fn(usize) -> T) -> ArrayD<T> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(values).collect()).unwrap()
}

fn spec<T: Element>(dir: &Path, name: &str, a: &ArrayD<T>, order: Order) -> Value {
    let bin = format!("{name}.bin");
    std::fs::write(dir.join(&bin), common::c_order_bytes(a)).unwrap();
    json!({
        "descr": DType::native(T::KIND).descr(),
        "shape": a.shape(),
        "fortran": order == Order::Fortran && a.ndim() > 1,
        "bin": bin,
    })
}

/// Writes one kind in every shape, order and alignment, plus one archive member each.
fn write_kind<T: Element>(
    dir: &Path,
    manifest: &mut Vec<Value>,
    npz: &mut Vec<Value>,
    writer: &mut NpzWriter,
    values: &dyn Fn(usize) -> T,
) {
    let code = T::KIND.code();
    for (i, shape) in SHAPES.iter().enumerate() {
        let a = array(shape, values);
        for order in [Order::C, Order::Fortran] {
            for align in [64, 4096] {
                let name = format!("{code}_{i}_{}_{align}", order.name());
                write_npy(
                    dir.join(format!("{name}.npy")),
                    &a,
                    WriteOptions { order, align },
                )
                .unwrap();
                let mut entry = spec(dir, &name, &a, order);
                entry["kind"] = json!("npy");
                entry["file"] = json!(format!("{name}.npy"));
                entry["align"] = json!(align);
                manifest.push(entry);
            }
            let key = format!("{code}/{i}_{}", order.name());
            writer.add(&key, &a, order).unwrap();
            let mut member = spec(dir, &key.replace('/', "_"), &a, order);
            member["key"] = json!(key);
            npz.push(member);
        }
    }
    // A non-contiguous input (every other column, reversed rows) is written element by element.
    let big = array(&[6, 8], values);
    let strided = big.slice(s![..;-1, ..;2]).to_owned().into_dyn();
    let view = big.slice(s![..;-1, ..;2]);
    for order in [Order::C, Order::Fortran] {
        let name = format!("{code}_strided_{}", order.name());
        write_npy(
            dir.join(format!("{name}.npy")),
            &view,
            WriteOptions { order, align: 64 },
        )
        .unwrap();
        let mut entry = spec(dir, &name, &strided, order);
        entry["kind"] = json!("npy");
        entry["file"] = json!(format!("{name}.npy"));
        entry["align"] = json!(64);
        manifest.push(entry);
    }
}

#[test]
fn numpy_loads_what_we_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut manifest = Vec::new();
    let mut members = Vec::new();
    let mut writer = NpzWriter::create(d.join("all.npz")).unwrap();
    write_kind::<f64>(d, &mut manifest, &mut members, &mut writer, &|i| {
        [f64::NAN, f64::INFINITY, -0.0][i % 3] * (i < 3) as u8 as f64 + i as f64 * 0.37 - 4.0
    });
    write_kind::<f32>(d, &mut manifest, &mut members, &mut writer, &|i| {
        i as f32 * -1.25
    });
    write_kind::<Complex64>(d, &mut manifest, &mut members, &mut writer, &|i| {
        Complex64::new(i as f64, -(i as f64) / 3.0)
    });
    write_kind::<i64>(d, &mut manifest, &mut members, &mut writer, &|i| {
        (i as i64 - 20) * 123_456_789_012
    });
    write_kind::<i32>(d, &mut manifest, &mut members, &mut writer, &|i| {
        (i as i32 - 20) * -7_654_321
    });
    write_kind::<u8>(d, &mut manifest, &mut members, &mut writer, &|i| {
        (i * 37 % 256) as u8
    });
    write_kind::<bool>(d, &mut manifest, &mut members, &mut writer, &|i| i % 3 == 0);
    writer.finish().unwrap();
    manifest.push(json!({"kind": "npz", "file": "all.npz", "members": members}));

    // An operator-shaped file filled in place through a writable map.
    let shape = [3, 4, 3, 5];
    let mut file = NpyFileMut::<f64>::create(d.join("filled.npy"), &shape, Order::Fortran).unwrap();
    let expected = ArrayD::from_shape_fn(IxDyn(&shape).f(), |ix| {
        (ix[0] * 1000 + ix[1] * 100 + ix[2] * 10 + ix[3]) as f64
    });
    file.view_mut().assign(&expected);
    assert!(!d.join("filled.npy").exists(), "visible before commit");
    file.commit().unwrap();
    let mut entry = spec(d, "filled", &expected, Order::Fortran);
    entry["kind"] = json!("npy");
    entry["file"] = json!("filled.npy");
    entry["align"] = json!(4096);
    manifest.push(entry);

    std::fs::write(
        d.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let report = common::run_python("check_ours.py", &[d]);
    assert!(report.contains(" 0 failed"), "{report}");
    let checked: usize = report
        .split_whitespace()
        .rev()
        .nth(4)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        checked >= 2 * manifest.len(),
        "only {checked} arrays checked: {report}"
    );
}
