//! `eko::archive::import` of the input written as an eko archive (`.tar`) into a fresh
//! destination. Errors are expected; panics and hangs are findings.
//!
//! Besides never panicking: import leaves nothing behind on error (not at the destination, not
//! beside it), and a store it reports as imported opens and verifies.

use eko::archive::import;
use eko::store::Store;
use eko_fuzz::{scratch, verbose, write_input};

const TARGET: &str = "eko_import";

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let archive = write_input(TARGET, "archive.tar", data);
        let dir = scratch(TARGET);
        let dest = dir.join("store");
        let _ = std::fs::remove_dir_all(&dest);
        let result = import(&archive, &dest, |_| {});
        if verbose() {
            match &result {
                Ok(report) => eprintln!("imported: {report:?}"),
                Err(e) => eprintln!("refused: {e}"),
            }
        }
        match &result {
            Ok(_) => {
                let store = Store::open(&dest)
                    .unwrap_or_else(|e| panic!("an imported store does not open: {e}"));
                store
                    .verify()
                    .unwrap_or_else(|e| panic!("an imported store does not verify: {e}"));
                drop(store);
                std::fs::remove_dir_all(&dest).expect("remove the imported store");
            }
            Err(_) => assert!(!dest.exists(), "a failed import left {}", dest.display()),
        }
        let left: Vec<_> = std::fs::read_dir(dir)
            .expect("list the scratch directory")
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != "archive.tar")
            .collect();
        assert!(
            left.is_empty(),
            "import left {left:?} beside the destination ({result:?})"
        );
    });
}
