"""Load every file of a libeko store with NumPy and report what it sees.

Usage: python check_store.py STORE
Prints one JSON object: {file name: [shape, dtype, crc32 of the C-order bytes]} for every .npy
(loaded with mmap_mode='r') and every member of thresholds.npz ("thresholds.npz/<key>").
Fails if a file does not load or an operator does not have the shape metadata.json implies.
"""
import json
import os
import sys
import zlib

import numpy as np

store = sys.argv[1]
meta = json.load(open(os.path.join(store, "metadata.json")))
shape = (len(meta["pids"]), len(meta["xgrid"])) * 2
seen = {}
for name in sorted(os.listdir(store)):
    path = os.path.join(store, name)
    if name.endswith(".npy"):
        arr = np.load(path, mmap_mode="r")
        assert arr.shape == shape, f"{name}: shape {arr.shape}, metadata says {shape}"
        assert arr.dtype == np.float64, f"{name}: {arr.dtype}"
        seen[name] = [list(arr.shape), arr.dtype.str, zlib.crc32(np.ascontiguousarray(arr).tobytes())]
    elif name == "thresholds.npz":
        with np.load(path) as npz:
            for key in npz.files:
                arr = npz[key]
                seen[f"{name}/{key}"] = [list(arr.shape), arr.dtype.str, zlib.crc32(np.ascontiguousarray(arr).tobytes())]
print(json.dumps(seen))
