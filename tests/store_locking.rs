//! Writers of one store take turns: a second writer waits for the first (saying so), or refuses
//! at once with `--no-wait`; two combines at once both succeed. A move out of a store that
//! cannot give up its files is refused before anything changes. `eko inspect` reports what
//! interrupted writers left, and `eko recover` clears it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::point;
use eko::combine::Kernel;
use eko::grid::{Computed, Grid, ProducerError, Task};
use eko::synthetic::Synthetic;

const N_X: usize = 6;

fn partials_store(dir: &Path) {
    let targets = [
        point(30.0, 5),
        point(100.0, 5),
        point(1e5, 6),
        point(2.0, 3),
    ];
    let grid = Grid::new(common::metadata(N_X), &targets).unwrap();
    let synthetic = Synthetic::new(eko::store::FLAVOR_BASIS.to_vec(), N_X, 3);
    let producer = move |task: &Task| -> Result<Computed, ProducerError> {
        let op = synthetic.task(task);
        Ok(Computed {
            operator: op.operator,
            error: Some(op.error),
        })
    };
    grid.run_thresholds(dir, producer.clone()).unwrap();
    let all: Vec<_> = grid.targets().collect();
    grid.run_partials(dir, &all, producer).unwrap();
}

fn eko() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eko"))
}

/// Holds `dir`'s store lock as another eko process would, naming this process.
fn hold_lock(dir: &Path) -> std::fs::File {
    let mut file = std::fs::File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(dir.join(eko::store::LOCK_FILE))
        .unwrap();
    file.lock().unwrap();
    write!(file, "{}", std::process::id()).unwrap();
    file
}

#[test]
fn a_second_writer_waits_with_a_message_or_refuses_with_no_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    partials_store(&store);
    let before = common::snapshot(&store);
    let lock = hold_lock(&store);
    let pid = std::process::id();

    for args in [
        vec!["combine", "--no-wait"],
        vec!["clean", "--no-wait", "--force"],
        vec!["recover", "--no-wait"],
    ] {
        let out = eko().args(&args).arg(&store).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "another eko process (pid {pid}) is writing to this store"
            )),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let out = eko()
        .args(["merge", "--no-wait"])
        .arg(dir.path().join("new"))
        .arg(&store)
        .arg("--move")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("new").exists());
    assert_eq!(
        common::snapshot(&store),
        before,
        "refusals changed the store"
    );

    // Without --no-wait: says whom it waits for, waits, then does the job.
    let mut waiting = eko()
        .arg("combine")
        .arg(&store)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(waiting.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.contains(&format!("(pid {pid})")) && line.contains("waiting for it to finish"),
        "{line}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiting.try_wait().unwrap().is_none(), "did not wait");
    assert_eq!(common::snapshot(&store), before, "wrote while waiting");
    drop(lock);
    assert!(waiting.wait().unwrap().success());
    let store = eko::store::Store::open(&store).unwrap();
    assert_eq!(store.points_with(eko::store::FileKind::Partial).count(), 0);
    assert_eq!(store.points_with(eko::store::FileKind::Operator).count(), 4);
}

#[test]
fn two_combines_at_once_both_succeed_with_the_single_result() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    partials_store(&reference);
    let mut store = eko::store::Store::open(&reference).unwrap();
    eko::combine::combine(&mut store, &Kernel::new(1), |_| {}).unwrap();
    for round in 0..5 {
        let target = dir.path().join(format!("s{round}"));
        partials_store(&target);
        let children: Vec<_> = (0..2)
            .map(|_| {
                eko()
                    .args(["combine", "--threads", "1"])
                    .arg(&target)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(common::snapshot(&target), common::snapshot(&reference));
    }
}

/// A move out of a read-only store (a read-only bind mount in a private mount namespace, so that
/// it holds for root too) is refused before anything changes, for merge and split; so are
/// combine and clean on it.
#[test]
fn a_move_out_of_a_read_only_store_is_refused_before_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    partials_store(&src);
    let before = common::snapshot(&src);
    let script = r#"
        set -u
        mount --bind "$SRC" "$SRC" && mount -o remount,bind,ro "$SRC" || exit 3
        "$EKO" merge --move "$DIR/dest" "$SRC" 2>"$DIR/merge.err"; echo "merge_status=$?"
        "$EKO" split --move "$SRC" "$DIR/a" "$DIR/b" --parts 2>"$DIR/split.err"; echo "split_status=$?"
        "$EKO" merge "$DIR/linked" "$SRC" >/dev/null 2>&1; echo "link_status=$?"
        "$EKO" combine "$SRC" 2>"$DIR/combine.err"; echo "combine_status=$?"
        "$EKO" clean --force "$SRC" 2>"$DIR/clean.err"; echo "clean_status=$?"
    "#;
    let out = Command::new("unshare")
        .args(["--map-root-user", "--mount", "sh", "-c", script])
        .env("SRC", &src)
        .env("DIR", dir.path())
        .env("EKO", env!("CARGO_BIN_EXE_eko"))
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "namespace script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("merge_status=1"), "{stdout}");
    assert!(stdout.contains("split_status=1"), "{stdout}");
    // A link merge reads the source only: it works.
    assert!(stdout.contains("link_status=0"), "{stdout}");
    // Writing to it in place is refused up front, saying why.
    assert!(stdout.contains("combine_status=1"), "{stdout}");
    assert!(stdout.contains("clean_status=1"), "{stdout}");
    for name in ["combine.err", "clean.err"] {
        let err = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(
            err.contains("cannot write to this store (Read-only file system")
                && err.lines().count() == 1,
            "{name}: {err}"
        );
    }
    for name in ["merge.err", "split.err"] {
        let err = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(
            err.contains("cannot move files out of this store")
                && err.contains("Read-only file system")
                && err.contains("nothing was changed"),
            "{name}: {err}"
        );
    }
    for left in ["dest", "a", "b"] {
        assert!(!dir.path().join(left).exists(), "{left} was created");
    }
    assert_eq!(common::snapshot(&src), before);
}

#[test]
fn inspect_reports_leftovers_and_recover_clears_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    partials_store(&store);
    // What dead writers leave: a temporary file nobody holds, an orphan error file.
    std::fs::write(store.join(".eko-tmp.30_nf5.npy.999999.0"), vec![0u8; 1000]).unwrap();
    let orphan = store.join(eko::store::FileKind::OperatorError.file_name(&point(30.0, 5)));
    std::fs::copy(
        store.join(eko::store::FileKind::PartialError.file_name(&point(30.0, 5))),
        &orphan,
    )
    .unwrap();

    let inspect = |json: bool| {
        let mut c = eko();
        c.arg("inspect");
        if json {
            c.arg("--json");
        }
        let out = c.arg(&store).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let text = inspect(false);
    assert!(
        text.contains(".eko-tmp.30_nf5.npy.999999.0 (1000 bytes): its writer is gone"),
        "{text}"
    );
    assert!(text.contains("orphan error file"), "{text}");
    assert!(
        text.contains(&format!("run `eko recover {}`", store.display())),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&inspect(true)).unwrap();
    assert_eq!(json["recover_needed"], true);
    assert_eq!(json["leftovers"]["temporaries"][0]["alive"], false);

    let out = eko().arg("recover").arg(&store).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        said.contains("removed 1 temporary file of finished processes (1000 bytes)")
            && said.contains("removed 1 orphan error file"),
        "{said}"
    );
    let json: serde_json::Value = serde_json::from_str(&inspect(true)).unwrap();
    assert_eq!(json["recover_needed"], false);
    assert!(!orphan.exists());
    let out = eko().arg("recover").arg(&store).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to recover"));
    // A typo (nothing there, no import's leftovers beside it) and a file are refused.
    for (path, needle) in [
        (dir.path().join("stroe"), "not a libeko store"),
        (
            orphan.with_file_name("metadata.json"),
            "is a file, not a directory",
        ),
    ] {
        let out = eko().arg("recover").arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{err}");
    }

    // A temporary file whose writer is alive is reported as such and left alone.
    let live = store.join(".eko-tmp.100_nf5.npy.1.0");
    let held = std::fs::File::create(&live).unwrap();
    held.lock().unwrap();
    assert!(inspect(false).contains("its writer is still running"));
    let out = eko().arg("recover").arg(&store).output().unwrap();
    assert!(out.status.success());
    assert!(live.exists(), "a live writer's file was removed");
    assert!(!inspect(false).contains("eko recover"));
}
