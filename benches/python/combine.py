"""NumPy doing libeko's combine end to end, for benches/combine.rs.

Usage: python combine.py STORE OUT
Loads thresholds.npz, multiplies the chain once per nf (the same shared prefix libeko uses),
then for every partial: np.load(mmap_mode='r'), one product (flattened matrices, BLAS), np.save
into OUT. Thread count from OPENBLAS_NUM_THREADS. Prints the seconds spent (after imports).
"""
import json
import os
import sys
import time

import numpy as np

store, out = sys.argv[1], sys.argv[2]
start = time.perf_counter()
meta = json.load(open(os.path.join(store, "metadata.json")))
mu0, nf0 = meta["origin"]["mu2"], meta["origin"]["nf"]
scales = {3: meta["matching"]["charm"], 4: meta["matching"]["bottom"], 5: meta["matching"]["top"]}
shape = (len(meta["pids"]), len(meta["xgrid"])) * 2
n = shape[0] * shape[1]


def text(mu2):
    # libeko's member names use Rust's shortest round-trip form; repr agrees in this range.
    r = repr(mu2)
    return r[:-2] if r.endswith(".0") else r


thresholds = np.load(os.path.join(store, "thresholds.npz"))
chains = {}


def chain(nf):
    if nf not in chains:
        c, base, k = None, mu0, nf0
        while k != nf:
            nxt = k + 1 if nf > k else k - 1
            scale = scales[min(k, nxt)]
            quark = {3: "charm", 4: "bottom", 5: "top"}[min(k, nxt)]
            for key in (
                f"segment_{text(base)}_to_{text(scale)}_nf{k}",
                f"matching_{quark}_{text(scale)}_nf{k}_to_nf{nxt}",
            ):
                t = thresholds[key].reshape(n, n)
                c = t if c is None else t @ c
            base, k = scale, nxt
        chains[nf] = c
    return chains[nf]


for name in sorted(os.listdir(store)):
    if not name.endswith(".part.npy"):
        continue
    stem = name[: -len(".part.npy")]
    nf = int(stem.rsplit("_nf", 1)[1])
    part = np.load(os.path.join(store, name), mmap_mode="r")
    final = (part.reshape(n, n) @ chain(nf)).reshape(shape)
    np.save(os.path.join(out, stem + ".npy"), final)
print(time.perf_counter() - start)
