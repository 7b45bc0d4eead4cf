//! A merge or split that runs out of disk space leaves every store as it was.
//!
//! Runs `eko merge --copy` and `eko split --copy` into a 4 MiB tmpfs mounted in a private mount
//! namespace (`unshare --map-root-user --mount`, which needs no privileges where user namespaces
//! are enabled), with sources several times larger: the copies fail with ENOSPC part-way. Also
//! checks that a default (hard-link) merge onto another filesystem falls back to copies.

mod common;

use std::path::Path;
use std::process::Command;

use eko::store::{EvolutionPoint, Store};

const NX: usize = 30; // 1.4 MB per operator

fn store_with(dir: &Path, mu2s: &[f64]) {
    let mut store = Store::create(dir, &common::metadata(NX)).unwrap();
    for mu2 in mu2s {
        let p = EvolutionPoint::new(*mu2, 5).unwrap();
        let op = common::operator(&p, NX, 0.0);
        store
            .insert_operator(p, &op, Some(&op.mapv(|v| v * 1e-6)))
            .unwrap();
    }
}

#[test]
fn running_out_of_space_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let src = dir.path().join("src");
    store_with(&dest, &[10.0]); // 2.8 MB: fits in the tmpfs
    store_with(&src, &[20.0, 30.0, 40.0]); // 8.5 MB: does not
    let src_before = common::snapshot(&src);
    let mount = dir.path().join("tiny");
    std::fs::create_dir(&mount).unwrap();

    // In the namespace: mount, copy dest in, record it, merge (fails), record again; split into
    // the tmpfs (fails), list what is left there.
    let script = r#"
        set -eu
        mount -t tmpfs -o size=4m tmpfs "$MNT"
        cp -r "$DEST" "$MNT/dest"
        state() { (cd "$MNT/dest" && for f in $(ls -A | grep -v '^.eko-lock$' | sort); do sha256sum "$f"; done); }
        before=$(state)
        set +e
        "$EKO" merge --copy "$MNT/dest" "$SRC" 2>"$MNT/merge.err"; echo "merge_status=$?"
        "$EKO" split --copy "$SRC" "$MNT/a" "$MNT/b" --parts 2>"$MNT/split.err"; echo "split_status=$?"
        set -e
        after=$(state)
        [ "$before" = "$after" ] && echo "dest_unchanged=yes" || echo "dest_unchanged=no"
        echo "merge_err=$(cat "$MNT/merge.err")"
        echo "split_err=$(cat "$MNT/split.err")"
        echo "left_in_tmpfs=$(ls -A "$MNT" | grep -v '\.err$' | tr '\n' ' ')"
        # Across filesystems the default (hard links) falls back to streamed copies.
        mkdir "$MNT.big" && mount -t tmpfs -o size=64m tmpfs "$MNT.big"
        echo "cross_fs=$("$EKO" merge --json "$MNT.big/all" "$SRC" | tr -d ' \n')"
        echo "cross_fs_store=$("$EKO" inspect --json "$MNT.big/all" | tr -d ' \n' | grep -o '"operators":[0-9]*')"
    "#;
    let out = Command::new("unshare")
        .args(["--map-root-user", "--mount", "sh", "-c", script])
        .env("MNT", &mount)
        .env("DEST", &dest)
        .env("SRC", &src)
        .env("EKO", env!("CARGO_BIN_EXE_eko"))
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "namespace script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing from:\n{stdout}"))
            .trim()
            .to_string()
    };
    assert_eq!(field("merge_status"), "1", "{stdout}");
    assert!(
        field("merge_err").contains("No space left on device"),
        "{stdout}"
    );
    assert_eq!(field("dest_unchanged"), "yes", "{stdout}");
    assert_eq!(field("split_status"), "1", "{stdout}");
    assert!(
        field("split_err").contains("No space left on device"),
        "{stdout}"
    );
    assert_eq!(
        field("left_in_tmpfs"),
        "dest",
        "split left parts behind: {stdout}"
    );
    assert_eq!(common::snapshot(&src), src_before, "the source changed");
    let cross = field("cross_fs");
    assert!(
        cross.contains("\"linked\":0") && cross.contains("\"copied\":7"),
        "metadata + 3 operators + 3 errors copied: {cross}"
    );
    assert_eq!(field("cross_fs_store"), "\"operators\":3");
}
