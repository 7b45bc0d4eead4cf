"""What the command line does, as functions: each on good and bad input, with the exception type
and message checked."""

import os
import pathlib
import subprocess
import tarfile

import numpy as np
import pytest

import libeko
from conftest import ORIGIN, POINTS, ROOT, SHAPE, XGRID, synthetic_operator


def eko_cli(*args):
    """The `eko` command line built from this repository (release), for comparisons."""
    binary = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "eko"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True)


def files(store):
    path = store.path if isinstance(store, libeko.Store) else store
    return sorted(n for n in os.listdir(path) if not n.startswith("."))


# ---- import / export -------------------------------------------------------------------------


def test_import_eko_returns_the_store(joined_archive, tmp_path):
    seen = []
    store = libeko.import_eko(joined_archive, tmp_path / "s", progress=lambda d, t: seen.append((d, t)))
    assert isinstance(store, libeko.Store)
    assert len(store) == 7
    assert seen and seen[-1][0] == seen[-1][1]
    # Same store as the command line makes.
    assert eko_cli("import", joined_archive, tmp_path / "cli").returncode == 0
    assert files(store) == files(tmp_path / "cli")
    for point in store.evolgrid:
        assert np.array_equal(store[point], libeko.Store(tmp_path / "cli")[point])


def test_import_eko_bad_input(joined_archive, tmp_path):
    with pytest.raises(libeko.IoError, match="missing.tar"):
        libeko.import_eko(tmp_path / "missing.tar", tmp_path / "s")
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\0" * 100)
    with pytest.raises(libeko.MalformedFileError):
        libeko.import_eko(junk, tmp_path / "s")
    assert not (tmp_path / "s").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(libeko.InvalidArgumentError, match="not empty"):
        libeko.import_eko(joined_archive, tmp_path / "full")
    with pytest.raises(libeko.Error, match="nf 4 is for eko 0.8 archives, which record no nf"):
        libeko.import_eko(joined_archive, tmp_path / "s", nf=4)
    with pytest.raises(libeko.InvalidArgumentError, match="progress is True, False, None or a callable"):
        libeko.import_eko(joined_archive, tmp_path / "s", progress="yes")
    with pytest.raises(TypeError):
        libeko.import_eko(joined_archive)


def test_progress_callback_exception_is_raised(joined_archive, tmp_path):
    def boom(done, total):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        libeko.import_eko(joined_archive, tmp_path / "s", progress=boom)


def test_export_round_trip_and_eko_reads_it(imported, tmp_path):
    import eko

    report = libeko.export(imported, tmp_path / "out.tar")
    assert isinstance(report, dict)
    with eko.EKO.read(tmp_path / "out.tar") as evolution_operator:
        for ep, op in evolution_operator.items():
            assert np.array_equal(op.operator, imported[ep])
    with pytest.raises(libeko.Error, match="exists"):
        libeko.export(imported, tmp_path / "out.tar")
    libeko.export(imported.path, tmp_path / "out.tar", overwrite=True, compression="none")
    with pytest.raises(libeko.InvalidArgumentError, match='compression is "lz4" or "none"'):
        libeko.export(imported, tmp_path / "x.tar", compression="gzip")
    with pytest.raises(libeko.InvalidArgumentError, match="a store is a libeko.Store or a path"):
        libeko.export(42, tmp_path / "x.tar")


# ---- merge / split ---------------------------------------------------------------------------


def test_split_then_merge_gives_the_store_back(synthetic, tmp_path):
    store, _ = synthetic
    report = libeko.split(store, [tmp_path / "a", tmp_path / "b"])
    assert isinstance(report, dict)
    a, b = libeko.Store(tmp_path / "a"), libeko.Store(tmp_path / "b")
    assert a.evolgrid + b.evolgrid == POINTS
    merged = tmp_path / "merged"
    libeko.merge(merged, [a, tmp_path / "b"], transfer="copy")
    assert files(merged) == files(store)
    # Split at a scale, and by points.
    libeko.split(store, [tmp_path / "lo", tmp_path / "hi"], at=[30.0])
    assert libeko.Store(tmp_path / "lo").evolgrid == POINTS[:2]
    libeko.split(store, [tmp_path / "p"], points=[[POINTS[3]]])
    assert libeko.Store(tmp_path / "p").evolgrid == [POINTS[3]]


def test_merge_and_split_bad_input(synthetic, tmp_path):
    store, _ = synthetic
    other = libeko.Store.create(tmp_path / "other", XGRID[:-1], ORIGIN)
    with pytest.raises(libeko.IncompatibleError, match="xgrid"):
        libeko.merge(store, [other])
    conflicting = libeko.Store.create(tmp_path / "conflicting", XGRID, ORIGIN)
    conflicting.insert(*POINTS[0], np.zeros(SHAPE))
    with pytest.raises(libeko.IncompatibleError, match="conflicts"):
        libeko.merge(store, [conflicting])
    libeko.merge(store, [conflicting], on_conflict="replace")
    assert np.array_equal(store[POINTS[0]], np.zeros(SHAPE))  # the open store sees the change
    with pytest.raises(libeko.InvalidArgumentError, match='on_conflict is "error", "keep" or "replace"'):
        libeko.merge(store, [conflicting], on_conflict="newest")
    with pytest.raises(libeko.InvalidArgumentError, match='transfer is "link"'):
        libeko.merge(store, [conflicting], transfer="teleport")
    with pytest.raises(libeko.InvalidArgumentError, match="at least one source"):
        libeko.merge(store, [])
    with pytest.raises(libeko.InvalidArgumentError, match="at most one of at= and points="):
        libeko.split(store, [tmp_path / "x"], at=[1.0], points=[[POINTS[0]]])
    with pytest.raises(libeko.Error):
        libeko.split(store, [tmp_path / "x", tmp_path / "y"], at=[-1.0, -2.0])


# ---- combine / clean / recover / verify ------------------------------------------------------


def test_combine_and_clean_match_the_command_line(parts_archive, tmp_path):
    store = libeko.import_eko(parts_archive, tmp_path / "py")
    assert eko_cli("import", parts_archive, tmp_path / "cli").returncode == 0
    with pytest.raises(libeko.Error, match="partial"):
        libeko.clean(store)
    report = libeko.combine(store, threads=1, progress=True)
    assert report["combined"]
    assert store.partials == []  # refreshed
    libeko.clean(store)
    assert not store.has_thresholds
    assert eko_cli("combine", tmp_path / "cli").returncode == 0
    assert eko_cli("clean", tmp_path / "cli").returncode == 0
    cli = libeko.Store(tmp_path / "cli")
    assert store.evolgrid == cli.evolgrid
    for point in store.evolgrid:
        assert np.array_equal(store[point], cli[point])
        assert np.array_equal(store[point].error, cli[point].error)


def test_combine_bad_input(tmp_path, parts_archive):
    with pytest.raises(libeko.NotFoundError, match="not a libeko store"):
        libeko.combine(tmp_path)
    store = libeko.import_eko(parts_archive, tmp_path / "s")
    with pytest.raises(libeko.InvalidArgumentError, match="threads must be at least 1"):
        libeko.combine(store, threads=0)
    os.remove(os.path.join(store.path, "thresholds.npz"))
    with pytest.raises(libeko.NotFoundError, match="missing"):
        libeko.combine(store)


def test_recover_and_verify(synthetic):
    store, _ = synthetic
    assert isinstance(libeko.recover(store), dict)
    report = libeko.verify(store)
    assert report["bad"] == 0 and report["good"] == 7  # 4 operators, 3 errors
    path = os.path.join(store.path, sorted(n for n in os.listdir(store.path) if n.endswith("_nf4.npy"))[0])
    with open(path, "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\x01" * 8)
    report = libeko.verify(store.path)
    assert report["bad"] == 1
    bad = [f for f in report["files"] if f["status"] != "good"]
    assert [(f["file"], f["status"]) for f in bad] == [("100_nf4.npy", "corrupt")]


# ---- apply -----------------------------------------------------------------------------------


def test_apply_with_and_without_replicas(synthetic, tmp_path):
    store, arrays = synthetic
    rng = np.random.default_rng(3)
    pdf = rng.standard_normal(SHAPE[2:])
    evolved, points = libeko.apply(store, pdf)
    assert points == POINTS
    assert evolved.shape == (len(POINTS),) + SHAPE[:2]
    for i, point in enumerate(points):
        assert np.allclose(evolved[i], np.einsum("ajbk,bk->aj", arrays[point][0], pdf), rtol=1e-12, atol=1e-12)
    replicas = rng.standard_normal((3,) + SHAPE[2:])
    evolved, points = libeko.apply(store.path, replicas.tolist(), points=[POINTS[2], POINTS[0]])
    assert points == [POINTS[0], POINTS[2]]
    assert evolved.shape == (2, 3) + SHAPE[:2]
    assert np.allclose(evolved[1], np.einsum("ajbk,rbk->raj", arrays[POINTS[2]][0], replicas), rtol=1e-12, atol=1e-12)
    # The same numbers as the command line.
    np.save(tmp_path / "pdf.npy", replicas)
    assert eko_cli("apply", store.path, tmp_path / "pdf.npy", "-o", tmp_path / "out.npy").returncode == 0
    evolved_all, _ = libeko.apply(store, replicas)
    assert np.array_equal(evolved_all, np.load(tmp_path / "out.npy"))


def test_apply_bad_input(synthetic):
    store, _ = synthetic
    with pytest.raises(libeko.InvalidArgumentError, match=r"the PDF has shape \[14, 5\]"):
        libeko.apply(store, np.zeros((14, 5)))
    with pytest.raises(libeko.InvalidArgumentError, match="a PDF has shape"):
        libeko.apply(store, np.zeros(5))
    with pytest.raises(libeko.Error, match="11"):
        libeko.apply(store, np.zeros((14, 6)), points=[(11.0, 4)])
    with pytest.raises(libeko.InvalidArgumentError, match="evolution point is a pair"):
        libeko.apply(store, np.zeros((14, 6)), points=[11.0])
    with pytest.raises(libeko.InvalidArgumentError, match="cannot be read as an array of float64"):
        libeko.apply(store, {"a": 1})


# ---- transforms ------------------------------------------------------------------------------


def test_transform_matches_eko_reshaping(imported):
    from eko.io import manipulate

    target = np.geomspace(1e-4, 0.9, 5)
    transform = libeko.Transform(imported, xgrid_out=target, basis_in="evol")
    point = imported.evolgrid[0]
    op = imported[point]
    ours = transform(op)
    assert ours.shape == transform.shape == (14, 5, 14, 8)
    assert transform.source_shape == imported.shape
    assert transform.input_side[0][:3] == [22, 100, 21]
    import eko

    with eko.EKO.read(imported_archive_path(imported)) as evolution_operator:
        eko_op = evolution_operator[point]
        reshaped = manipulate.xgrid_reshape(eko_op, evolution_operator.xgrid, 4, targetgrid=eko.interpolation.XGrid(target))
        rotated = manipulate.to_evol(reshaped, source=True, target=False)
        assert np.allclose(ours, rotated.operator, rtol=1e-7, atol=1e-9)
        assert np.allclose(transform.apply(op.error), rotated.error, rtol=1e-7, atol=1e-12)


def imported_archive_path(store):
    """The archive a store was imported from (tests: the session's joined archive)."""
    archives = list(pathlib.Path(store.path).parent.parent.glob("archive*/joined.tar"))
    assert archives, "joined archive not found"
    return archives[0]


def test_reshape_makes_a_store_equal_to_the_transform(imported, tmp_path):
    target = np.geomspace(1e-4, 0.9, 5)
    reshaped = libeko.reshape(imported, tmp_path / "r", xgrid_out=target, basis_in="evol", progress=True)
    assert reshaped.is_reshaped
    assert np.array_equal(reshaped.output_xgrid, target)
    transform = libeko.Transform(imported.path, xgrid_out=target, basis_in="evol")
    for point in imported.evolgrid:
        assert np.array_equal(reshaped[point], transform(imported[point]))
    evolved, _ = libeko.apply(imported, np.ones((14, 8)), xgrid_out=target, basis_in="evol")
    assert evolved.shape == (7, 14, 5)


def test_transform_bad_input(imported, tmp_path):
    with pytest.raises(libeko.InvalidArgumentError, match='basis_in is "evol"'):
        libeko.Transform(imported, basis_in="pdg")
    with pytest.raises(libeko.Error, match="increasing"):
        libeko.Transform(imported, xgrid_out=[0.5, 0.1])
    with pytest.raises(libeko.InvalidArgumentError, match="nothing to reshape"):
        libeko.reshape(imported, tmp_path / "r")
    transform = libeko.Transform(imported, basis_out="evol")
    with pytest.raises(libeko.IncompatibleError, match="the transform takes"):
        transform(np.zeros((14, 8, 14, 7)))


# ---- the GIL ---------------------------------------------------------------------------------


def test_long_calls_release_the_gil(tmp_path):
    import threading
    import time

    n_x = 40
    shape = (14, n_x, 14, n_x)
    store = libeko.Store.create(tmp_path / "g", np.geomspace(1e-5, 1, n_x), ORIGIN)
    op = synthetic_operator(0, shape)
    for i in range(12):
        store.insert(10.0 * (i + 1), 4, op)
    replicas = np.ones((200, 14, n_x))
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.01)
    try:
        start = time.perf_counter()
        libeko.apply(store, replicas, threads=1)
        end = time.perf_counter()
    finally:
        done.set()
        counter.join()
    # The other thread ran inside the call: a tick in its middle half (with the GIL held, no
    # Python thread could run until the call returned).
    quarter = (end - start) / 4
    assert end - start > 0.02
    middle = [t for t in ticks if start + quarter < t < end - quarter]
    assert len(middle) >= 3, f"{len(middle)} ticks in the middle of a {end - start:.3f} s call"


def test_stubs_cover_every_public_name():
    stubs = (pathlib.Path(libeko.__file__).parent / "__init__.pyi").read_text()
    for name in libeko.__all__:
        if name != "__version__":
            assert f"class {name}" in stubs or f"def {name}(" in stubs, name
