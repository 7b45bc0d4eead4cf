//! `eko::npy::NpyFile::open` on the input written to a file, then every read path for the
//! file's element type: the zero-copy view (`view`, `view_as`), the copy (`read`), and
//! `read_header`, which must agree with `open`.
//!
//! Besides never panicking: `read` works on every opened file; `view` works whenever
//! `in_place()` says yes (bool data with bytes other than 0/1 excepted); a view and a copy hold
//! the same bits; asking for another element type is an error.

use eko::npy::{ElementKind, NpyFile, read_header};
use eko_fuzz::{SameBits, assert_same, dispatch, verbose, write_input};
use ndarray::Ix4;

const TARGET: &str = "npy_file";

fn exercise<T: SameBits>(file: &NpyFile) {
    let header = file.header();
    let copy = file
        .read::<T>()
        .unwrap_or_else(|e| panic!("read of an opened file failed: {e}"));
    assert_eq!(copy.shape(), &header.shape[..], "copy shape");

    let view = file.view::<T>();
    let viewable = file.in_place().is_yes()
        && (T::KIND != ElementKind::Bool || file.data_bytes().iter().all(|&b| b <= 1));
    match &view {
        Ok(view) => {
            assert!(file.in_place().is_yes(), "a view of data not in place");
            assert_same(view, &copy.view(), "view vs copy");
        }
        Err(e) => assert!(!viewable, "in place, yet the view failed: {e}"),
    }
    let as4 = file.view_as::<T, Ix4>();
    assert_eq!(
        as4.is_ok(),
        view.is_ok() && header.shape.len() == 4,
        "view_as::<Ix4>"
    );
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let path = write_input(TARGET, "input.npy", data);
        let opened = NpyFile::open(&path);
        let quick = read_header(&path);
        if verbose() {
            match &opened {
                Ok(f) => eprintln!(
                    "opened: {:?}, in place: {}",
                    f.header(),
                    f.in_place().describe()
                ),
                Err(e) => eprintln!("refused: {e}"),
            }
        }
        let Ok(file) = opened else {
            return;
        };
        match quick {
            Ok(h) => assert_eq!(&h, file.header(), "read_header vs open"),
            Err(e) => panic!("open accepted the file, read_header refused it: {e}"),
        }
        dispatch!(file.header().dtype.kind, exercise(&file));

        // Another element type is refused, by both paths.
        if file.header().dtype.kind == ElementKind::F64 {
            assert!(file.view::<u8>().is_err() && file.read::<u8>().is_err());
        } else {
            assert!(file.view::<f64>().is_err() && file.read::<f64>().is_err());
        }
    });
}
