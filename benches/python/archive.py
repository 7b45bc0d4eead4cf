"""eko 0.15.7's side of the archive benchmark (benches/archive.rs): each command runs in its own
process and prints one JSON line with its wall time (inside Python, imports excluded) and its own
peak resident memory (VmHWM).

usage:
  archive.py cards STORE OUT.json    eko's example theory and operator cards for STORE's grid,
                                     origin and points (NaN as ".nan", as libeko keeps them)
  archive.py write STORE OUT.tar     eko's writing of STORE's final operators and errors:
                                     EKO.create, eko[ep] = Operator(op, err) per point (each read
                                     with np.load), then closing (eko dumps the tar)
  archive.py read ARCHIVE            eko.EKO.read, then every operator and error via items()
"""
import json
import math
import os
import pathlib
import sys
import time

import numpy as np
from eko.io.items import Operator
from eko.io.runcards import OperatorCard, TheoryCard
from eko.io.struct import EKO
from ekobox.cards import example


def vmhwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return float("nan")


def store_files(store):
    """(mu2, nf) -> the path of the final operator's file, without .npy."""
    files = {}
    for name in os.listdir(store):
        if name.endswith(".npy") and "_nf" in name:
            mu2, rest = name.rsplit("_nf", 1)
            nf, kind = rest.split(".", 1)
            if kind == "npy":
                files[(float(mu2), int(nf))] = os.path.join(store, name[: -len(".npy")])
    return files


def store_points(store):
    return sorted(store_files(store))


def raw_cards(store):
    meta = json.load(open(os.path.join(store, "metadata.json")))
    theory = example.raw_theory()
    theory["heavy"] = dict(theory["heavy"])
    theory["heavy"]["masses"] = [[m, math.nan] for m in (1.51, 4.92, 172.5)]
    operator = example.raw_operator()
    operator["init"] = [math.sqrt(meta["origin"]["mu2"]), meta["origin"]["nf"]]
    operator["mugrid"] = [[math.sqrt(mu2), nf] for mu2, nf in store_points(store)]
    operator["xgrid"] = meta["xgrid"]
    return TheoryCard.from_dict(theory), OperatorCard.from_dict(operator)


def nan_to_text(value):
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, dict):
        return {k: nan_to_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_text(v) for v in value]
    return value


def cards(store, out):
    theory, operator = raw_cards(store)
    json.dump({"theory": nan_to_text(theory.raw), "operator": nan_to_text(operator.raw)}, open(out, "w"))


def write(store, out):
    theory, operator = raw_cards(store)
    start = time.perf_counter()
    with EKO.create(pathlib.Path(out)) as builder:
        eko = builder.load_cards(theory, operator).build()
        for (mu2, nf), stem in sorted(store_files(store).items()):
            op = np.load(f"{stem}.npy")
            err = np.load(f"{stem}.error.npy")
            eko[(mu2, nf)] = Operator(op, err)
            del eko[(mu2, nf)]
    # On disk, as libeko's export is when it returns (it syncs before renaming into place).
    with open(out, "rb") as f:
        os.fsync(f.fileno())
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "vmhwm_kb": vmhwm_kb()}))


def read(archive):
    start = time.perf_counter()
    total = 0
    with EKO.read(archive) as eko:
        for _ep, op in eko.items():
            total += op.operator.nbytes + (0 if op.error is None else op.error.nbytes)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "vmhwm_kb": vmhwm_kb(), "bytes": total}))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "cards":
        cards(sys.argv[2], sys.argv[3])
    elif command == "write":
        write(sys.argv[2], sys.argv[3])
    elif command == "read":
        read(sys.argv[2])
    else:
        sys.exit(f"unknown command {command}")
