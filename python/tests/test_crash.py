"""Killed at any instant: a Python process running a libeko write (import, insert, combine) is
SIGKILLed part way; what it leaves is brought by the documented recovery (rerunning the call, or
libeko.recover) to exactly what an uninterrupted run gives. (The core's write paths are killed at
every fault point by tests/crash.rs; this checks the Python face leaves nothing else behind.)"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import libeko

N_X = 40
SHAPE = (14, N_X, 14, N_X)
XGRID = np.geomspace(1e-5, 1.0, N_X)
ORIGIN = (1.65**2, 4)
POINTS = [(10.0 * (i + 1), 4) for i in range(24)]


def operator(i):
    rng = np.random.default_rng(i)
    return rng.standard_normal(SHAPE)


def files(path):
    """Every file under `path`, with its bytes (what must equal the uninterrupted run); the lock
    file holds the last writer's pid, which differs from run to run by nature."""
    out = {}
    for root, _, names in os.walk(path):
        for name in names:
            if name == ".eko-lock":
                continue
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, path)] = f.read()
    return out


def beside(path):
    """What a killed call may leave beside `path` (temporary directories of libeko's writers)."""
    parent, name = os.path.split(path)
    return sorted(n for n in os.listdir(parent) if n.startswith(".eko-tmp") and name in n)


def run_killed(code, after):
    """Runs `code` in a new Python process and SIGKILLs it `after` seconds later (if still
    running). Returns whether it was killed."""
    process = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(after)
    killed = process.poll() is None
    if killed:
        process.send_signal(signal.SIGKILL)
    process.wait()
    return killed


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A store of 24 operators of 2.5 MB (writing or importing them takes a few tenths of a
    second)."""
    store = libeko.Store.create(tmp_path_factory.mktemp("crash") / "source", XGRID, ORIGIN)
    for i, point in enumerate(POINTS):
        store.insert(*point, operator(i))
    return store


def timed(code):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def test_killed_insert_loop_recovers_to_whole_operators(source, tmp_path):
    dest = tmp_path / "dest"
    code = (
        "import numpy as np, libeko\n"
        f"s = libeko.Store.create({str(dest)!r}, np.geomspace(1e-5, 1.0, {N_X}), {ORIGIN!r})\n"
        f"src = libeko.Store({str(source.path)!r})\n"
        "for point, op in src.items():\n"
        "    s.insert(*point, op)\n"
    )
    reference = tmp_path / "reference"
    duration = timed(code.replace(str(dest), str(reference)))
    reference_files = files(reference)
    killed = 0
    for fraction in (0.15, 0.35, 0.55, 0.75, 0.9):
        if dest.exists():
            subprocess.run(["rm", "-rf", str(dest)], check=True)
        killed += run_killed(code, duration * fraction)
        if not dest.exists():
            continue
        libeko.recover(dest)
        store = libeko.Store(dest)
        # Every operator present is whole and equals the source's; nothing else is left.
        assert libeko.verify(store)["bad"] == 0
        for point in store.evolgrid:
            assert np.array_equal(store[point], source[point])
        names = set(files(dest))
        assert names <= set(reference_files), names - set(reference_files)
        # Finishing the job gives the uninterrupted store, byte for byte.
        for point, op in source.items():
            if point not in store:
                store.insert(*point, op)
        assert files(dest) == reference_files
    assert killed >= 3, "the calls ended before they could be killed: make them longer"


def test_killed_import_leaves_nothing_or_the_whole_store(source, tmp_path):
    tar = tmp_path / "eko.tar"
    # The archive: the source's operators exported with eko's example cards.
    cards_store = libeko.Store.create(
        tmp_path / "with-cards",
        XGRID,
        ORIGIN,
        theory_card=example_cards()[0],
        operator_card=example_cards()[1],
    )
    for point, op in source.items():
        cards_store.insert(*point, op)
    libeko.export(cards_store, tar)
    dest = tmp_path / "imported"
    code = f"import libeko; libeko.import_eko({str(tar)!r}, {str(dest)!r})"
    reference = tmp_path / "reference"
    duration = timed(code.replace(str(dest), str(reference)))
    reference_files = files(reference)
    killed = 0
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
        killed += run_killed(code, duration * fraction)
        # Absent, or complete: the store appears whole or not at all.
        if dest.exists():
            assert files(dest) == reference_files
            subprocess.run(["rm", "-rf", str(dest)], check=True)
        else:
            # The next import to the same place removes what the killed one left beside it.
            libeko.import_eko(tar, dest)
            assert files(dest) == reference_files
            assert beside(str(dest)) == []
            subprocess.run(["rm", "-rf", str(dest)], check=True)
    assert killed >= 3, "the calls ended before they could be killed: make them longer"


def example_cards():
    from ekobox.cards import example

    theory = example.raw_theory()
    operator = example.raw_operator()
    operator["xgrid"] = XGRID.tolist()
    operator["mugrid"] = [(np.sqrt(mu2), nf) for mu2, nf in POINTS]
    return theory, operator
