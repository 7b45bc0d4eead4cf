"""Migrating from eko: python/examples/migrate.py is a script written for eko 0.15 (open, loop over
items, apply a PDF, pick points by (mu2, nf)); its libeko version, made here by replacing its
import line and its open line and nothing else, prints the same output and returns the same
arrays, bit for bit, on the store imported from the same archive. Also: eko idioms that such
scripts commonly use, which must work on a store as they are."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import libeko
from conftest import ROOT

MIGRATE = ROOT / "python" / "examples" / "migrate.py"
# The two lines that differ, eko's and libeko's.
EDITS = {
    "import eko": "import libeko",
    "    with eko.EKO.read(path) as evolution_operator:": (
        "    with libeko.Store(path) as evolution_operator:"
    ),
}


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """migrate.py as it is (eko's version) and with the two lines replaced (libeko's)."""
    eko_text = MIGRATE.read_text()
    lines = eko_text.splitlines(keepends=True)
    replaced = [EDITS.get(line.rstrip("\n"), line.rstrip("\n")) + "\n" for line in lines]
    out = tmp_path_factory.mktemp("migrate")
    eko_version = out / "migrate_eko.py"
    libeko_version = out / "migrate_libeko.py"
    eko_version.write_text(eko_text)
    libeko_version.write_text("".join(replaced))
    return eko_version, libeko_version


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_versions_differ_in_the_import_and_the_open_line_only(versions):
    eko_version, libeko_version = versions
    a = eko_version.read_text().splitlines()
    b = libeko_version.read_text().splitlines()
    assert len(a) == len(b)
    differing = [(x, y) for x, y in zip(a, b) if x != y]
    assert len(differing) == 2
    assert differing == list(EDITS.items())
    # The docstring shows exactly that diff.
    doc = load(eko_version).__doc__
    for old, new in EDITS.items():
        assert f"-{old}\n" in doc and f"+{new}\n" in doc


def run(script, data):
    done = subprocess.run(
        [sys.executable, str(script), str(data)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_both_versions_print_the_same(versions, joined_archive, imported):
    eko_version, libeko_version = versions
    printed = run(eko_version, joined_archive)
    assert run(libeko_version, imported.path) == printed
    # It printed something of every point.
    assert printed.count(" nf = ") >= len(imported.evolgrid) + 1
    assert "nf = 4 and 5 differ" in printed


def test_both_versions_compute_the_same_arrays(versions, joined_archive, imported, capsys):
    eko_version, libeko_version = versions
    theirs = load(eko_version).main(joined_archive)
    ours = load(libeko_version).main(imported.path)
    assert sorted(ours) == sorted(theirs) == imported.evolgrid
    for point, (result, error) in theirs.items():
        our_result, our_error = ours[point]
        assert np.array_equal(our_result, result)
        if error is None:
            assert our_error is None
        else:
            assert np.array_equal(our_error, error)
    assert any(error is not None for _, error in ours.values())


# ---- eko idioms that must work on a store unchanged ----------------------------------------


def test_xgrid_reads_as_ekos(joined_archive, imported):
    """eko users read the x values as `evolution_operator.xgrid.raw` (ekobox's apply_pdf and
    evol_pdf do) or `.tolist()`; a script applying a PDF needs them."""
    import eko

    with eko.EKO.read(joined_archive) as evolution_operator:
        xgrid = evolution_operator.xgrid
        raw, as_list, size = xgrid.raw, xgrid.tolist(), len(xgrid)
    with libeko.Store(imported.path) as evolution_operator:
        xgrid = evolution_operator.xgrid
        assert len(xgrid) == size
        assert np.array_equal(xgrid.raw, raw)
        assert xgrid.tolist() == as_list


def test_operator_as_a_context_manager(joined_archive, imported):
    """eko's `EKO.operator(ep)` is a context manager (its docstring: "to be used as a
    contextmanager"; eko's own tests read one point with `with evolution_operator.operator(ep)
    as op:`); libeko's `Store.operator(ep)` must be usable the same way."""
    import eko

    ep = imported.evolgrid[-1]
    with eko.EKO.read(joined_archive) as evolution_operator:
        with evolution_operator.operator(ep) as op:
            expected = op.operator.copy()
    with libeko.Store(imported.path) as evolution_operator:
        with evolution_operator.operator(ep) as op:
            assert np.array_equal(op.operator, expected)
