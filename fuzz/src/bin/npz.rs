//! `eko::npz::NpzFile::open` on the input written to a file, then every member through every
//! read path: `verify`, the zero-copy `view`, the copy `read` (inflating deflated members) and
//! `load` (view or copy).
//!
//! Besides never panicking: `verify` and `read` agree (both check the CRC-32); a view exists
//! only for members `in_place()` says can be viewed, and does for those (bool excepted); view,
//! copy and load hold the same bits; another element type is refused.

use eko::npy::ElementKind;
use eko::npz::NpzFile;
use eko_fuzz::{SameBits, assert_same, dispatch, verbose, write_input};

const TARGET: &str = "npz";

fn exercise<T: SameBits>(npz: &NpzFile, key: &str) {
    let member = npz.member(key).expect("a listed key is found");
    let in_place = member.in_place();
    let verified = npz.verify(key);
    let copy = npz.read::<T>(key);
    assert_eq!(
        verified.is_ok(),
        copy.is_ok(),
        "verify and read disagree on {key:?}: {verified:?} / {:?}",
        copy.as_ref().err()
    );
    if let Ok(copy) = &copy {
        assert_eq!(copy.shape(), &member.header.shape[..], "copy shape");
    }
    let view = npz.view::<T>(key);
    match &view {
        Ok(view) => {
            assert!(
                in_place.is_yes(),
                "a view of {key:?}, not in place ({in_place:?})"
            );
            assert_eq!(view.shape(), &member.header.shape[..], "view shape");
            if let Ok(copy) = &copy {
                assert_same(view, &copy.view(), "view vs copy");
            }
        }
        Err(e) => assert!(
            !in_place.is_yes() || T::KIND == ElementKind::Bool,
            "{key:?} is in place, yet the view failed: {e}"
        ),
    }
    let loaded = npz.load::<T>(key);
    let expected_ok = if in_place.is_yes() {
        view.is_ok()
    } else {
        copy.is_ok()
    };
    assert_eq!(loaded.is_ok(), expected_ok, "load of {key:?}");
    if let (Ok(loaded), Ok(view)) = (&loaded, &view) {
        assert_same(&loaded.view(), view, "load vs view");
    }
    if T::KIND == ElementKind::F64 {
        assert!(npz.view::<u8>(key).is_err() && npz.read::<u8>(key).is_err());
    } else {
        assert!(npz.view::<f64>(key).is_err() && npz.read::<f64>(key).is_err());
    }
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let path = write_input(TARGET, "input.npz", data);
        let npz = match NpzFile::open(&path) {
            Ok(npz) => npz,
            Err(e) => {
                if verbose() {
                    eprintln!("refused: {e}");
                }
                return;
            }
        };
        let members = npz.members();
        for (i, member) in members.iter().enumerate() {
            let _ = (
                member.in_place().describe(),
                member.array_offset(),
                member.compression.name(),
            );
            // `member(key)` answers the first member of a key: exercise each key once.
            if members[..i].iter().any(|m| m.key == member.key) {
                continue;
            }
            if verbose() {
                eprintln!(
                    "member {:?}: {} {:?} {}, verify: {:?}",
                    member.key,
                    member.header.dtype.descr(),
                    member.header.shape,
                    member.in_place().describe(),
                    npz.verify(&member.key).err().map(|e| e.to_string())
                );
            }
            dispatch!(member.header.dtype.kind, exercise(&npz, &member.key));
        }
    });
}
