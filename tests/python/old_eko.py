"""Archives of older eko versions (0.8, 0.13, 0.14) for the import tests, made and read back by
that version itself, run with the Python of that version's own virtual environment (see
tests/common::old_eko_python); `check` also runs under eko 0.15.7 (the project's .venv).

usage:
  old_eko.py make KIND OUT.tar      KIND: `plain` (final operators, some with errors, some
                                    without, two nf at one mu2) or `reshaped` (the same, then
                                    reshaped by this version's own functions: the output x
                                    grid onto 5 other nodes, the input side rotated into the
                                    evolution basis), or `rotated` (the output side rotated by a
                                    custom matrix: eko records pids it cannot name, all 0)
  old_eko.py check ARCHIVE STORE [NF]
                                    reads ARCHIVE with this eko's own reader (EKO.read, or for
                                    0.8 Output.load_tar, its points taken at nf = NF) and compares
                                    every operator and error with STORE's files bit for bit.
                                    Prints a JSON summary: the version, points, counts, and the
                                    grids and pids this eko reports for the operators' sides.
"""
import json
import math
import os
import pathlib
import sys

import numpy as np
from eko import version as eko_version

VERSION = tuple(int(v) for v in eko_version.__version__.split(".")[:2])
XGRID = np.geomspace(1e-5, 1.0, 8).tolist()
TARGET_X = [1e-4, 1e-3, 0.01, 0.3, 1.0]
# (mu, nf): linear mu as the cards write it; 4.92 at nf 4 and 5.
MUGRID = [(3.0, 4), (10.0, 5), (4.92, 4), (4.92, 5), (1.2, 3)]
Q2GRID = [10.0, 100.0, 1000.0]


def random_operator(rng, n_x):
    n = 14 * n_x
    op = np.eye(n) + 0.05 * rng.standard_normal((n, n))
    return op.reshape(14, n_x, 14, n_x)


def make_new(kind, out):
    """eko 0.13 / 0.14: EKO.create with the cards of that version, then its manipulate."""
    from eko.interpolation import XGrid
    from eko.io import manipulate
    from eko.io.items import Operator
    from eko.io.runcards import OperatorCard, TheoryCard
    from eko.io.struct import EKO
    from ekobox.cards import example

    theory = example.raw_theory()
    theory["heavy"] = dict(theory["heavy"])
    theory["heavy"]["masses"] = [[m, math.nan] for m in (1.51, 4.92, 172.5)]
    theory["heavy"]["num_flavs_init"] = 4
    operator = example.raw_operator()
    operator["mu0"] = 1.65
    operator["mugrid"] = MUGRID
    operator["xgrid"] = XGRID
    operator["configs"] = dict(operator["configs"])
    operator["configs"]["interpolation_polynomial_degree"] = 3
    rng = np.random.default_rng(13)
    with EKO.create(pathlib.Path(out)) as builder:
        eko = builder.load_cards(TheoryCard.from_dict(theory), OperatorCard.from_dict(operator)).build()
        for i, ep in enumerate(eko.operator_card.evolgrid):
            op = random_operator(rng, len(XGRID))
            err = np.abs(1e-6 * rng.standard_normal(op.shape)) if i % 2 == 0 else None
            eko[ep] = Operator(op, err)
    if kind == "plain":
        return
    with EKO.edit(pathlib.Path(out)) as eko:
        if kind == "reshaped":
            manipulate.xgrid_reshape(eko, targetgrid=XGrid(TARGET_X))
            manipulate.to_evol(eko, source=True, target=False)
        elif kind == "rotated":
            manipulate.flavor_reshape(eko, targetpids=np.eye(14)[::-1].copy())
        else:
            sys.exit(f"unknown kind {kind}")


def make_08(kind, out):
    """eko 0.8: an Output dumped with dump_tar (one rank-5 array per kind, no nf)."""
    from eko import basis_rotation as br
    from eko.output import Output

    rng = np.random.default_rng(13)
    x = np.array(XGRID)
    o = Output()
    o["interpolation_xgrid"] = x
    o["interpolation_polynomial_degree"] = 3
    o["interpolation_is_log"] = True
    o["q2_ref"] = 1.65**2
    o["inputpids"] = br.flavor_basis_pids
    o["targetpids"] = br.flavor_basis_pids
    o["inputgrid"] = x
    o["targetgrid"] = x
    o["Q2grid"] = {
        q2: dict(
            operators=random_operator(rng, len(XGRID)),
            operator_errors=np.abs(1e-6 * rng.standard_normal((14, len(XGRID), 14, len(XGRID)))),
            alphas=0.2 / (1 + i),
        )
        for i, q2 in enumerate(Q2GRID)
    }
    if kind == "reshaped":
        o.xgrid_reshape(targetgrid=TARGET_X)
        o.to_evol(source=True, target=False)
    elif kind == "rotated":
        o.flavor_reshape(targetbasis=np.eye(14)[::-1].copy())
    elif kind != "plain":
        sys.exit(f"unknown kind {kind}")
    o.dump_tar(out)


def store_files(store):
    files = {}
    for name in os.listdir(store):
        if name.endswith(".npy") and "_nf" in name:
            stem, rest = name.rsplit("_nf", 1)
            nf, kind = rest.split(".", 1)
            files[(float(stem), int(nf), kind)] = os.path.join(store, name)
    return files


def as_list(a):
    return None if a is None else np.asarray(a).tolist()


def compare(files, points, summary):
    """`points`: (mu2, nf, operator, error or None) as this eko returns them."""
    for mu2, nf, op, err in points:
        path = files.get((mu2, nf, "npy"))
        assert path is not None, f"no operator for {(mu2, nf)} in the store"
        got = np.load(path)
        assert got.shape == op.shape, (got.shape, op.shape)
        assert np.array_equal(got, op), (mu2, nf)
        err_path = files.get((mu2, nf, "error.npy"))
        if err is None:
            assert err_path is None, f"an error for {(mu2, nf)} where eko has none"
        else:
            assert np.array_equal(np.load(err_path), err), (mu2, nf)
            summary["errors_equal"] += 1
        summary["operators_equal"] += 1
        summary["points"].append([float(mu2), int(nf)])
        summary["shape"] = list(op.shape)
    extra = {(m, n) for (m, n, k) in files if k == "npy"} - {(float(m), int(n)) for m, n, _, _ in points}
    assert not extra, f"the store has points eko does not: {extra}"


def check(archive, store, nf=None):
    files = store_files(store)
    summary = {"version": eko_version.__version__, "operators_equal": 0, "errors_equal": 0, "points": []}
    if VERSION < (0, 13):
        from eko.output import Output

        out = Output.load_tar(archive)
        points = [
            (float(q2), int(nf), ops["operators"], ops.get("operator_errors"))
            for q2, ops in out["Q2grid"].items()
        ]
        compare(files, points, summary)
        summary["sides"] = {
            "xgrid": as_list(out["interpolation_xgrid"]),
            "targetgrid": as_list(out["targetgrid"]),
            "inputgrid": as_list(out["inputgrid"]),
            "targetpids": as_list(out["targetpids"]),
            "inputpids": as_list(out["inputpids"]),
        }
        summary["mu20"] = float(out["q2_ref"])
    else:
        from eko.io.struct import EKO

        with EKO.read(pathlib.Path(archive)) as eko:
            points = [(float(ep[0]), int(ep[1]), op.operator, op.error) for ep, op in eko.items()]
            compare(files, points, summary)
            summary["mu20"] = float(eko.mu20)
            summary["xgrid"] = as_list(eko.xgrid.raw)
            summary["matching"] = None
            if VERSION < (0, 15):
                bases = eko.bases
                summary["sides"] = {
                    "xgrid": as_list(bases.xgrid.raw),
                    "targetgrid": as_list(bases.targetgrid.raw),
                    "inputgrid": as_list(bases.inputgrid.raw),
                    "targetpids": as_list(bases.targetpids),
                    "inputpids": as_list(bases.inputpids),
                }
            configs = eko.operator_card.configs
            summary["interpolation"] = [
                int(configs.interpolation_polynomial_degree),
                bool(configs.interpolation_is_log),
            ]
    summary["points"].sort()
    print(json.dumps(summary))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "make":
        (make_08 if VERSION < (0, 13) else make_new)(sys.argv[2], sys.argv[3])
    elif command == "check":
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else None)
    else:
        sys.exit(f"unknown command {command}")
