"""Shared fixtures: eko archives made by the eko package itself, stores made from them, and small
synthetic stores made through libeko's own Python API."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import libeko

ROOT = pathlib.Path(__file__).resolve().parents[2]
EKO_ARCHIVE = ROOT / "tests" / "python" / "eko_archive.py"


def make_archive(kind, out):
    """An eko 0.15.7 archive as a real run leaves it (tests/python/eko_archive.py): `joined`
    has final operators, `parts` only eko's parts."""
    subprocess.run([sys.executable, str(EKO_ARCHIVE), "make", kind, str(out)], check=True)
    return out


@pytest.fixture(scope="session")
def joined_archive(tmp_path_factory):
    """An eko archive with 7 final operators (8 x values, 14 pids), errors on most."""
    return make_archive("joined", tmp_path_factory.mktemp("archive") / "joined.tar")


@pytest.fixture(scope="session")
def parts_archive(tmp_path_factory):
    """An eko archive with only parts: importing gives partials and thresholds."""
    return make_archive("parts", tmp_path_factory.mktemp("archive") / "parts.tar")


@pytest.fixture(scope="session")
def imported(joined_archive, tmp_path_factory):
    """The joined archive imported into a store (shared: tests must not write to it)."""
    return libeko.import_eko(joined_archive, tmp_path_factory.mktemp("stores") / "imported")


XGRID = np.geomspace(1e-4, 1.0, 6)
PIDS = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
SHAPE = (14, 6, 14, 6)
ORIGIN = (1.65**2, 4)
POINTS = [(10.0, 4), (20.0, 4), (50.0, 4), (100.0, 4)]


def synthetic_operator(seed, shape=SHAPE):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape)


@pytest.fixture
def synthetic(tmp_path):
    """A fresh store (nf = 4 only, no thresholds) with POINTS' final operators, random values,
    errors on all but the last; returns (store, {point: (operator, error)})."""
    store = libeko.Store.create(tmp_path / "synthetic", XGRID, ORIGIN)
    arrays = {}
    for i, (mu2, nf) in enumerate(POINTS):
        op = synthetic_operator(i)
        err = None if i == len(POINTS) - 1 else np.abs(synthetic_operator(100 + i)) * 1e-6
        store.insert(mu2, nf, op, error=err)
        arrays[(mu2, nf)] = (op, err)
    return store, arrays


def rss_kb():
    """This process's resident memory (kB) now."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")
