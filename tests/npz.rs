//! `.npz`: we read what NumPy writes (stored and deflated, zip64 extras, empty archives) with
//! NumPy's values; we refuse damaged archives with the error naming the problem; our own archives
//! view in place.

mod common;

use std::path::Path;

use eko::Error;
use eko::npy::Order;
use eko::npz::{Compression, NpzFile, NpzWriter};
use ndarray::{Array2, Array4};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    numpy_ok: bool,
    members: Vec<String>,
}

fn corpus() -> (tempfile::TempDir, Vec<Case>) {
    let dir = tempfile::tempdir().unwrap();
    common::run_python("npz_corpus.py", &[dir.path()]);
    let cases =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    (dir, cases)
}

fn archive(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}.npz"))
}

/// Archives NumPy reads that we refuse on purpose: inconsistent sizes, an impossible expansion
/// claim, overlapping members (see `damaged_archives_are_refused_precisely`).
const STRICTER_THAN_NUMPY: &[&str] = &["central_size_lies", "deflate_bomb_claim", "overlap_nested"];

#[test]
fn numpy_archives_read_with_numpys_values() {
    let (dir, cases) = corpus();
    let mut checked = 0;
    for case in cases
        .iter()
        .filter(|c| c.numpy_ok && !STRICTER_THAN_NUMPY.contains(&c.name.as_str()))
    {
        let npz = NpzFile::open(archive(dir.path(), &case.name))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let mut keys: Vec<String> = npz.members().iter().map(|m| m.key.clone()).collect();
        keys.sort();
        assert_eq!(keys, case.members, "{}", case.name);
        for key in &case.members {
            let ours = common::member_values(&npz, key)
                .unwrap_or_else(|e| panic!("{}[{key}]: {e}", case.name));
            let theirs =
                std::fs::read(dir.path().join(format!("{}.{key}.bin", case.name))).unwrap();
            assert_eq!(
                ours, theirs,
                "{}[{key}]: values differ from NumPy's",
                case.name
            );
            npz.verify(key).unwrap();
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} members checked");
    let compressed = NpzFile::open(archive(dir.path(), "savez_compressed")).unwrap();
    assert!(
        compressed
            .members()
            .iter()
            .all(|m| m.compression == Compression::Deflated)
    );
    assert!(matches!(
        compressed.view::<f64>("op"),
        Err(Error::Compressed { .. })
    ));
}

/// Runs open, then reads every member: the first error, if any.
fn first_error(path: &Path) -> Option<Error> {
    let npz = match NpzFile::open(path) {
        Ok(npz) => npz,
        Err(e) => return Some(e),
    };
    let keys: Vec<String> = npz.members().iter().map(|m| m.key.clone()).collect();
    keys.iter()
        .find_map(|k| common::member_values(&npz, k).err())
}

#[test]
fn damaged_archives_are_refused_precisely() {
    let (dir, cases) = corpus();
    type Check = fn(&Error) -> bool;
    let expect: &[(&str, Check)] = &[
        ("truncated_directory", |e| {
            matches!(e, Error::ZipStructure { .. })
        }),
        ("truncated_end", |e| matches!(e, Error::ZipStructure { .. })),
        ("not_a_zip", |e| matches!(e, Error::ZipStructure { .. })),
        ("empty_file", |e| matches!(e, Error::ZipStructure { .. })),
        ("encrypted", |e| matches!(e, Error::ZipEncrypted { .. })),
        ("method_implode", |e| {
            matches!(e, Error::ZipMethod { method: 6, .. })
        }),
        ("local_name_mismatch", |e| {
            matches!(e, Error::ZipHeaderMismatch { field: "name", .. })
        }),
        ("overlap", |e| {
            matches!(e, Error::ZipHeaderMismatch { field: "name", .. })
        }),
        ("overlap_nested", |e| matches!(e, Error::ZipOverlap { .. })),
        ("crc_mismatch", |e| matches!(e, Error::ZipCrc { .. })),
        ("central_size_lies", |e| {
            matches!(
                e,
                Error::ZipHeaderMismatch {
                    field: "compressed size",
                    ..
                }
            )
        }),
        ("deflate_bomb_claim", |e| {
            matches!(e, Error::ZipInflate { .. })
        }),
        ("deflate_garbage", |e| matches!(e, Error::ZipInflate { .. })),
        ("foreign_member", |e| {
            matches!(e, Error::NotNpyMember { .. })
        }),
        ("member_not_npy", |e| matches!(e, Error::BadMagic { .. })),
    ];
    for (name, check) in expect {
        let path = archive(dir.path(), name);
        let err = first_error(&path).unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(check(&err), "{name}: unexpected error {err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{name}: {err} does not name the archive"
        );
    }
    // Whatever NumPy refuses, we refuse.
    for case in cases.iter().filter(|c| !c.numpy_ok) {
        assert!(
            first_error(&archive(dir.path(), &case.name)).is_some(),
            "{}: NumPy refuses, we accept",
            case.name
        );
    }
}

#[test]
fn our_archives_view_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thresholds.npz");
    let op = Array4::from_shape_fn((14, 5, 14, 5), |(a, i, b, j)| {
        (a * 1000 + i * 100 + b * 10 + j) as f64
    });
    let small = Array2::from_shape_fn((3, 7), |(i, j)| (i * 7 + j) as i32);
    let mut writer = NpzWriter::create(&path).unwrap();
    writer.add("a", &op, Order::C).unwrap();
    writer.add("b", &small, Order::Fortran).unwrap();
    writer.add("c", &small.mapv(|v| v as u8), Order::C).unwrap();
    writer.add("d", &op, Order::Fortran).unwrap();
    assert!(matches!(
        writer.add("a", &op, Order::C),
        Err(Error::DuplicateMember { .. })
    ));
    assert!(matches!(
        writer.add("", &op, Order::C),
        Err(Error::InvalidMemberName { .. })
    ));
    assert!(!path.exists(), "archive visible before finish");
    writer.finish().unwrap();

    let npz = NpzFile::open(&path).unwrap();
    for m in npz.members() {
        assert!(m.in_place().is_yes(), "{}: {:?}", m.key, m.in_place());
        assert_eq!(m.array_offset() % 64, 0, "{}", m.key);
    }
    assert_eq!(npz.view::<f64>("a").unwrap(), op.view().into_dyn());
    assert_eq!(npz.view::<f64>("d").unwrap(), op.view().into_dyn());
    assert_eq!(npz.view::<i32>("b").unwrap(), small.view().into_dyn());
    assert!(
        npz.view::<i32>("b").unwrap().t().is_standard_layout(),
        "Fortran member viewed in Fortran order"
    );
    assert!(matches!(
        npz.view::<f32>("a"),
        Err(Error::DtypeMismatch { .. })
    ));
    assert!(matches!(
        npz.view::<f64>("zz"),
        Err(Error::NoSuchMember { .. })
    ));

    // Same content, same bytes: timestamps are fixed.
    let again = dir.path().join("again.npz");
    let mut writer = NpzWriter::create(&again).unwrap();
    writer.add("a", &op, Order::C).unwrap();
    writer.add("b", &small, Order::Fortran).unwrap();
    writer.add("c", &small.mapv(|v| v as u8), Order::C).unwrap();
    writer.add("d", &op, Order::Fortran).unwrap();
    writer.finish().unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn dropped_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npz");
    let mut writer = NpzWriter::create(&path).unwrap();
    writer
        .add("a", &Array2::<f64>::zeros((2, 2)), Order::C)
        .unwrap();
    drop(writer);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temporary file left behind"
    );
}
