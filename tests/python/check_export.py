"""Reads archives written by `eko export` with the eko package itself (eko.EKO.read, 0.15.7).

usage:
  check_export.py compare ARCHIVE STORE   eko.EKO.read(ARCHIVE) against the store: the points (mu2,
                                          nf), every final operator and error bit for bit, mu0²,
                                          nf0, the x grid, and the cards (theory.yaml and
                                          operator.yaml against metadata.json's, .nan as ".nan";
                                          both parsed by eko's TheoryCard and OperatorCard).
                                          Prints a JSON summary.
  check_export.py same A B                eko reads A and B alike: points, operators, errors bit
                                          for bit, origin, x grid, the cards as eko parses them
                                          (but the operator card's eko_version). Prints a JSON
                                          summary.
"""
import json
import math
import os
import sys

import numpy as np
import yaml
from eko.io.struct import EKO


from eko_archive import store_files  # noqa: E402  (this directory's shared reader)


def same_value(a, b):
    """JSON-ish equality with NaN equal to NaN and ".nan" (libeko's JSON) equal to NaN."""
    if isinstance(a, str) and a == ".nan":
        a = math.nan
    if isinstance(b, str) and b == ".nan":
        b = math.nan
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def raw_cards(eko):
    theory = yaml.safe_load(eko.paths.theory_card.read_text(encoding="utf-8"))
    operator = yaml.safe_load(eko.paths.operator_card.read_text(encoding="utf-8"))
    # eko's own parsers must accept them.
    eko.theory_card
    eko.operator_card
    return theory, operator


def compare(archive, store):
    meta = json.load(open(os.path.join(store, "metadata.json")))
    files = store_files(store)
    summary = {"operators": 0, "errors": 0}
    with EKO.read(archive) as eko:
        finals = sorted((mu2, nf) for (mu2, nf, kind) in files if kind == "npy")
        assert sorted(eko.evolgrid) == finals, (sorted(eko.evolgrid), finals)
        for ep, op in eko.items():
            want = np.load(files[(ep[0], ep[1], "npy")])
            assert op.operator.dtype == want.dtype and op.operator.shape == want.shape, ep
            assert op.operator.tobytes() == want.tobytes(), ep
            err = files.get((ep[0], ep[1], "error.npy"))
            if err is None:
                assert op.error is None, ep
            else:
                assert op.error is not None and op.error.tobytes() == np.load(err).tobytes(), ep
                summary["errors"] += 1
            summary["operators"] += 1
        assert eko.mu20 == meta["origin"]["mu2"], (eko.mu20, meta["origin"])
        assert eko.metadata.origin[1] == meta["origin"]["nf"]
        assert [float(x) for x in eko.xgrid.raw] == meta["xgrid"]
        theory, operator = raw_cards(eko)
        summary["theory_equal"] = same_value(theory, meta["theory"])
        summary["operator_equal"] = same_value(operator, meta["operator"])
        summary["init"] = list(eko.operator_card.init)
        summary["data_version"] = eko.metadata.data_version
    print(json.dumps(summary))


def same(a, b):
    summary = {"operators": 0}
    with EKO.read(a) as x, EKO.read(b) as y:
        assert sorted(x.evolgrid) == sorted(y.evolgrid)
        for ep in x.evolgrid:
            ox, oy = x[ep], y[ep]
            assert ox.operator.tobytes() == oy.operator.tobytes(), ep
            assert (ox.error is None) == (oy.error is None), ep
            if ox.error is not None:
                assert ox.error.tobytes() == oy.error.tobytes(), ep
            summary["operators"] += 1
        assert x.metadata.origin == y.metadata.origin
        assert np.array_equal(x.xgrid.raw, y.xgrid.raw)
        # The cards as eko parses them (after its conversion of older layouts); the operator
        # card's eko_version says which eko wrote the card, and may differ.
        assert same_value(x.theory_card.raw, y.theory_card.raw)
        ox, oy = dict(x.operator_card.raw), dict(y.operator_card.raw)
        ox.pop("eko_version")
        oy.pop("eko_version")
        assert same_value(ox, oy), (ox, oy)
    print(json.dumps(summary))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "compare":
        compare(sys.argv[2], sys.argv[3])
    elif command == "same":
        same(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {command}")
