//! Hostile `.npy` headers: deep nesting, oversized headers and lying lengths are refused at once,
//! without reading or allocating what they claim. (How fast is measured in `benches/npy.rs`.)

mod common;

use eko::Error;
use eko::npy::{NpyFile, parse_header};

fn file_with_header(text: &[u8], version: u8) -> Vec<u8> {
    let mut v = b"\x93NUMPY".to_vec();
    v.extend_from_slice(&[version, 0]);
    if version == 1 {
        v.extend_from_slice(&(text.len() as u16).to_le_bytes());
    } else {
        v.extend_from_slice(&(text.len() as u32).to_le_bytes());
    }
    v.extend_from_slice(text);
    v
}

fn loc() -> eko::Location {
    eko::Location::Buffer("hostile".into())
}

#[test]
fn a_thousand_nested_brackets_are_refused() {
    // A few KB: 1000 nested lists as the descr, the shape of the attack on literal parsers.
    let text = format!(
        "{{'descr': {}{}, 'fortran_order': False, 'shape': ()}}\n",
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let err = parse_header(&file_with_header(text.as_bytes(), 1), &loc()).unwrap_err();
    assert!(
        matches!(err, Error::HeaderNesting { limit: 200, .. }),
        "{err}"
    );
    // Unbalanced, with mixed brackets: still the nesting error, not a stack overflow.
    let text = "{'descr': ".to_string() + &"([{".repeat(3000);
    let err = parse_header(&file_with_header(text.as_bytes(), 2), &loc()).unwrap_err();
    assert!(matches!(err, Error::HeaderNesting { .. }), "{err}");
}

#[test]
fn the_exponential_case_of_other_parsers_is_linear_here() {
    // Twenty levels of nested one-element lists in a ~100-byte header: seconds in ndarray-npy 0.10
    // and npyz 0.9, refused here as an invalid descr after one pass.
    let text = format!(
        "{{'descr': {}'<f8'{}, 'fortran_order': False, 'shape': ()}}\n",
        "[".repeat(20),
        "]".repeat(20)
    );
    let err = parse_header(&file_with_header(text.as_bytes(), 1), &loc()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedDtype { .. }), "{err}");
}

#[test]
fn lying_lengths_are_refused_before_reading() {
    // A version 2.0 header claiming 4 GiB, in a 14-byte file.
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(b"{}");
    let err = parse_header(&bytes, &loc()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::HeaderTooLong {
                length: 4294967295,
                ..
            }
        ),
        "{err}"
    );

    // A header claiming more data than the file has: refused on open, nothing read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    let text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000), }\n";
    std::fs::write(&path, file_with_header(text, 1)).unwrap();
    let err = NpyFile::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Truncated {
                part: "array data",
                needed: 8_000_000_000_000,
                ..
            }
        ),
        "{err}"
    );

    // Element counts that overflow are refused, not wrapped (NumPy wraps, then fails later).
    let text = b"{'descr': '<c16', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n";
    let err = parse_header(&file_with_header(text, 1), &loc()).unwrap_err();
    assert!(matches!(err, Error::SizeOverflow { .. }), "{err}");
}

/// The fuzzers' findings, kept as seeds in `fuzz/seeds/` (see `fuzz/crashes-found/README.md`):
/// each file is refused with an error, never a panic.
#[test]
fn the_fuzzers_findings_are_refused() {
    let seeds = common::root().join("fuzz/seeds");
    // A zero-length axis beside axes no array could address: accepted, then a panic in views.
    let err =
        eko::npy::NpyFile::open(seeds.join("npy_file/zero-dim-shape-overflow.npy")).unwrap_err();
    assert!(matches!(err, Error::SizeOverflow { .. }), "{err}");
    let err = eko::npz::NpzFile::open(seeds.join("npz/zero-dim-shape-overflow.npz")).unwrap_err();
    assert!(matches!(err, Error::SizeOverflow { .. }), "{err}");
}

#[test]
fn a_file_larger_than_memory_opens_without_reading_it() {
    // A sparse 64 GiB file: opening maps it and parses the header only.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.npy");
    let n: u64 = 8 << 30; // elements
    let text = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n},), }}");
    let mut header = file_with_header(
        format!("{text}{}\n", " ".repeat(4096 - 11 - text.len())).as_bytes(),
        1,
    );
    assert_eq!(header.len(), 4096);
    let file = std::fs::File::create(&path).unwrap();
    use std::io::Write;
    (&file).write_all(&header).unwrap();
    header.clear();
    file.set_len(4096 + n * 8).unwrap();
    let npy = NpyFile::open(&path).unwrap();
    let view = npy.view::<f64>().unwrap();
    assert_eq!(view.len(), n as usize);
    assert_eq!(view[[n as usize - 1]], 0.0); // touches one page at the far end
}
