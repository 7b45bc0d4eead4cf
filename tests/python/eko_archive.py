"""Python eko archives for the import and export tests, made and read by the `eko` package itself.

usage:
  eko_archive.py make joined|parts OUT.tar   an EKO as a real run leaves it: every part eko's
                                             recipes name (cliff segments, matchings, last segments)
                                             and, for `joined`, the final operators eko's own join
                                             makes of them. Random well-conditioned operators.
  eko_archive.py check ARCHIVE STORE         reads ARCHIVE with eko and compares with STORE:
                                             final operators bit for bit (or, for targets eko has
                                             only as parts, eko's join within 1e-12), thresholds
                                             and partials bit for bit. Prints a JSON summary.
  eko_archive.py read ARCHIVE                opens ARCHIVE with eko.EKO.read and prints its points
                                             and every operator's sum, as JSON.
"""
import json
import math
import os
import pathlib
import sys

import numpy as np
from eko.io.items import Evolution, Operator, Target
from eko.io.runcards import OperatorCard, TheoryCard
from eko.io.struct import EKO
from eko.runner import commons, operators, recipes
from ekobox.cards import example

# eko's flavour basis, eko's default layout
TARGETS = [(3.0, 4), (10.0, 5), (4.92, 4), (4.92, 5), (1.2, 3), (200.0, 6), (1.7, 4)]


def cards():
    theory = example.raw_theory()
    theory["heavy"] = dict(theory["heavy"])
    theory["heavy"]["masses"] = [[m, math.nan] for m in (1.51, 4.92, 172.5)]
    operator = example.raw_operator()
    operator["mugrid"] = TARGETS
    operator["xgrid"] = np.geomspace(1e-5, 1.0, 8).tolist()
    return TheoryCard.from_dict(theory), OperatorCard.from_dict(operator)


def random_operator(rng, n_x, with_error):
    n = 14 * n_x
    op = np.eye(n) + 0.05 * rng.standard_normal((n, n))
    op = op.reshape(14, n_x, 14, n_x)
    err = np.abs(1e-6 * rng.standard_normal(op.shape)) if with_error else None
    return Operator(op, err)


def make(kind, out):
    theory, operator = cards()
    rng = np.random.default_rng(7)
    with EKO.create(pathlib.Path(out)) as builder:
        eko = builder.load_cards(theory, operator).build()
        atlas = commons.atlas(eko.theory_card, eko.operator_card)
        n_x = len(operator.xgrid)
        seen = set()
        for ep in operator.evolgrid:
            for head in recipes._elements(ep, atlas):
                if head in seen:
                    continue
                seen.add(head)
                inv_parts = eko.parts if isinstance(head, Evolution) else eko.parts_matching
                # One part without error, to exercise .npy.lz4 items.
                with_error = not (isinstance(head, Evolution) and head.target == 10.0)
                inv_parts[head] = random_operator(rng, n_x, with_error)
        if kind == "joined":
            for ep in operator.evolgrid:
                eko[ep] = operators.join(operators.retrieve(ep, eko))


def store_files(store):
    files = {}
    for name in os.listdir(store):
        if name.endswith(".npy") and "_nf" in name:
            stem, rest = name.rsplit("_nf", 1)
            nf, kind = rest.split(".", 1)
            files[(float(stem), int(nf), kind)] = os.path.join(store, name)
    return files


def check(archive, store):
    files = store_files(store)
    summary = {"no_final": 0, "operators_equal": 0, "joined_close": 0, "partials_equal": 0, "thresholds_equal": 0}
    thresholds = os.path.join(store, "thresholds.npz")
    members = np.load(thresholds) if os.path.exists(thresholds) else {}
    summary["threshold_members"] = len([k for k in members if not k.endswith(".error")])
    with EKO.read(archive) as eko:
        for ep in eko.operator_card.evolgrid:
            path = files.get((ep[0], ep[1], "npy"))
            if path is None:
                summary["no_final"] += 1
                continue
            got = np.load(path)
            got_err = files.get((ep[0], ep[1], "error.npy"))
            if Target.from_ep(ep) in eko.operators:
                want = eko[ep]
                assert np.array_equal(got, want.operator), ep
                if want.error is not None:
                    assert np.array_equal(np.load(got_err), want.error), ep
                summary["operators_equal"] += 1
            else:
                want = operators.join(operators.retrieve(ep, eko))
                scale = np.abs(want.operator).max()
                diff = np.abs(got - want.operator).max()
                assert diff <= 1e-12 * scale, (ep, diff, scale)
                if want.error is not None:
                    e_diff = np.abs(np.load(got_err) - want.error).max()
                    assert e_diff <= 1e-12 * np.abs(want.error).max(), (ep, e_diff)
                summary["joined_close"] += 1
        eko.parts.sync()
        eko.parts_matching.sync()
        for head in eko.parts:
            part = eko.parts[head]
            if head.cliff:
                key = f"segment_{fmt(head.origin)}_to_{fmt(head.target)}_nf{head.nf}"
                assert np.array_equal(members[key], part.operator), key
                summary["thresholds_equal"] += 1
            partial = files.get((head.target, head.nf, "part.npy"))
            if partial is not None and (head.target, head.nf, "npy") not in files:
                assert np.array_equal(np.load(partial), part.operator), head
                summary["partials_equal"] += 1
        for head in eko.parts_matching:
            quark = {4: "charm", 5: "bottom", 6: "top"}[head.hq]
            lo, hi = head.hq - 1, head.hq
            f, t = (hi, lo) if head.inverse else (lo, hi)
            key = f"matching_{quark}_{fmt(head.scale)}_nf{f}_to_nf{t}"
            assert np.array_equal(members[key], eko.parts_matching[head].operator), key
            summary["thresholds_equal"] += 1
    print(json.dumps(summary))


def fmt(mu2):
    """libeko's spelling of mu2 (Rust's shortest round trip) for the common cases here."""
    text = repr(float(mu2))
    return text[:-2] if text.endswith(".0") else text


def read(archive):
    with EKO.read(archive) as eko:
        out = {
            "points": [[float(mu2), int(nf)] for mu2, nf in eko.evolgrid],
            "sums": [float(eko[ep].operator.sum()) for ep in eko.evolgrid],
            "error_sums": [
                None if eko[ep].error is None else float(eko[ep].error.sum()) for ep in eko.evolgrid
            ],
            "mu0": float(eko.operator_card.init[0]),
            "xgrid": [float(x) for x in eko.xgrid.raw],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "make":
        make(sys.argv[2], sys.argv[3])
    elif command == "check":
        check(sys.argv[2], sys.argv[3])
    elif command == "read":
        read(sys.argv[2])
    else:
        sys.exit(f"unknown command {command}")
