"""eko side of benches/transform.rs: reshapes a store's operators as an eko user (pineko) does.

Usage: python transform.py STORE GRIDS   (thread count fixed by OPENBLAS_NUM_THREADS in the
environment). GRIDS is a JSON file written by the Rust side: the store's x grid ("xgrid"), the
interpolation degree ("degree", in ln x), the target grids ("x_out", "x_in") and the points'
file stems in the Rust side's order ("stems").

Each point, as eko 0.15.7's users call it: np.load(mmap_mode='r') of the operator and its error,
then for CASE
  both: eko.io.manipulate.xgrid_reshape(targetgrid=x_out, inputgrid=x_in) then
        to_evol(source=True, target=True);
  x:    xgrid_reshape only;
  rot:  to_evol only.
(xgrid_reshape builds its interpolation matrices on every call: that is part of eko's cost per
point. NumPy einsum with optimize="optimal", as eko calls it.)

Commands on stdin:
  "run CASE N"        -> seconds per point of one sweep over the first N points;
  "peak CASE N"       -> resets this process's peak RSS (/proc/self/clear_refs), sweeps the first
                         N points, answers "VmHWM RssAnon" in MiB (peak resident memory during the
                         sweep, mapped operator pages included; anonymous memory after it);
  "check CASE PATH"   -> writes the first point's reshaped operator to PATH (.npy), answers 0;
  "quit".
"""
import json
import os
import sys
import time
import warnings

import numpy as np
from eko.interpolation import XGrid
from eko.io.manipulate import to_evol, xgrid_reshape
from eko.io.struct import Operator

store = sys.argv[1]
with open(sys.argv[2]) as f:
    grids = json.load(f)
xgrid = np.array(grids["xgrid"])
degree = int(grids["degree"])
x_out = np.array(grids["x_out"])
x_in = np.array(grids["x_in"])
files = [
    (os.path.join(store, s + ".npy"), os.path.join(store, s + ".error.npy")) for s in grids["stems"]
]


def reshape(case, op_path, err_path):
    elem = Operator(
        operator=np.load(op_path, mmap_mode="r"), error=np.load(err_path, mmap_mode="r")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case != "rot":
            elem = xgrid_reshape(
                elem,
                XGrid(xgrid, log=True),
                degree,
                targetgrid=XGrid(x_out),
                inputgrid=XGrid(x_in),
            )
        if case != "x":
            elem = to_evol(elem, source=True, target=True)
    return elem


def sweep(case, n):
    t0 = time.perf_counter()
    for op_path, err_path in files[:n]:
        out = reshape(case, op_path, err_path)
    del out
    return (time.perf_counter() - t0) / n


def status_mib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "run":
        print(sweep(cmd[1], int(cmd[2])), flush=True)
    elif cmd[0] == "peak":
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        sweep(cmd[1], int(cmd[2]))
        print(status_mib("VmHWM"), status_mib("RssAnon"), flush=True)
    elif cmd[0] == "check":
        np.save(cmd[2], np.ascontiguousarray(reshape(cmd[1], *files[0]).operator))
        print(0, flush=True)
    else:
        break
