"""Recompute a libeko combine with NumPy, independently, in eko's order.

Usage: python check_combine.py BEFORE AFTER
BEFORE is a store holding partials and thresholds.npz (before combine); AFTER is the same store
after combine. For every partial in BEFORE, this script builds the path from metadata.json (origin,
matching scales) itself, finds each threshold operator in thresholds.npz by parsing the member
names, folds eko's product from the target side with np.einsum('aibj,bjck->aick'), propagating
errors to first order at each step (err(AB) = |A||err B| + |err A||B|), and compares with AFTER's
final operator and error.

Prints one JSON object: {point file stem: [max relative difference of the operator (max norm),
of the error or null, number of threshold operators used]}.
"""
import json
import os
import sys

import numpy as np

before, after = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(before, "metadata.json")))
mu0, nf0 = meta["origin"]["mu2"], meta["origin"]["nf"]
scales = {3: meta["matching"]["charm"], 4: meta["matching"]["bottom"], 5: meta["matching"]["top"]}

thresholds = np.load(os.path.join(before, "thresholds.npz"))
edges = {}
for key in thresholds.files:
    if key.endswith(".error"):
        continue
    if key.startswith("segment_"):
        rest, nf = key[len("segment_"):].rsplit("_nf", 1)
        origin, target = rest.split("_to_")
        edges[("segment", float(origin), float(target), int(nf))] = key
    elif key.startswith("matching_"):
        _quark, scale, nfs = key[len("matching_"):].split("_", 2)
        a, b = nfs[len("nf"):].split("_to_nf")
        edges[("matching", float(scale), int(a), int(b))] = key
    else:
        raise SystemExit(f"unexpected member {key}")


def path(mu2, nf):
    """Threshold edges from the origin to (mu2, nf), in application order."""
    out, base, n = [], mu0, nf0
    while n != nf:
        nxt = n + 1 if nf > n else n - 1
        scale = scales[min(n, nxt)]
        out.append(("segment", base, scale, n))
        out.append(("matching", scale, n, nxt))
        base, n = scale, nxt
    return out


def product(a, b):
    return np.einsum("aibj,bjck->aick", a, b, optimize=True)


def rel(found, expected):
    return float(np.max(np.abs(found - expected)) / np.max(np.abs(expected)))


report = {}
for name in sorted(os.listdir(before)):
    if not name.endswith(".part.npy"):
        continue
    stem = name[: -len(".part.npy")]
    mu2, nf = stem.rsplit("_nf", 1)
    mu2, nf = float(mu2), int(nf)
    value = np.load(os.path.join(before, name))
    err_path = os.path.join(before, stem + ".part.error.npy")
    error = np.load(err_path) if os.path.exists(err_path) else None
    used = path(mu2, nf)
    for edge in reversed(used):
        key = edges[edge]
        t = thresholds[key]
        te = thresholds[key + ".error"] if key + ".error" in thresholds.files else None
        if error is not None and te is not None:
            error = product(np.abs(value), np.abs(te)) + product(np.abs(error), np.abs(t))
        else:
            error = None
        value = product(value, t)
    final = np.load(os.path.join(after, stem + ".npy"), mmap_mode="r")
    final_err_path = os.path.join(after, stem + ".error.npy")
    has_final_err = os.path.exists(final_err_path)
    if (error is None) != (not has_final_err):
        raise SystemExit(f"{stem}: error expected {error is not None}, found {has_final_err}")
    report[stem] = [
        rel(final, value),
        rel(np.load(final_err_path), error) if error is not None else None,
        len(used),
    ]
print(json.dumps(report))
