"""NumPy side of benches/store.rs: the same store operations, the way a NumPy user does them.

Commands on stdin, one answer line each on stdout:
  open DIR          -> seconds to read metadata.json and list and parse the file names
  iterate DIR       -> "seconds peak_anon_kB": np.load(f, mmap_mode='r').sum() for every operator
  link SRC DST      -> seconds to os.link every file of SRC into the new directory DST
  copy SRC DST      -> seconds to shutil.copyfile every file of SRC into the new directory DST
  quit
"""
import json
import os
import shutil
import sys
import time

import numpy as np


def anon_kb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def points(d):
    out = []
    for name in os.listdir(d):
        if name.endswith(".npy") and not name.endswith((".part.npy", ".error.npy")):
            mu2, nf = name[:-4].rsplit("_nf", 1)
            out.append((float(mu2), int(nf), name))
    return sorted(out)


for line in sys.stdin:
    cmd = line.split()
    t0 = time.perf_counter()
    if cmd[0] == "open":
        meta = json.load(open(os.path.join(cmd[1], "metadata.json")))
        ps = points(cmd[1])
        print(time.perf_counter() - t0, flush=True)
    elif cmd[0] == "iterate":
        peak = anon_kb()
        total = 0.0
        for _, _, name in points(cmd[1]):
            total += float(np.load(os.path.join(cmd[1], name), mmap_mode="r").sum())
            peak = max(peak, anon_kb())
        print(time.perf_counter() - t0, peak, flush=True)
    elif cmd[0] in ("link", "copy"):
        src, dst = cmd[1], cmd[2]
        os.mkdir(dst)
        for name in os.listdir(src):
            if name.startswith("."):
                continue
            if cmd[0] == "link":
                os.link(os.path.join(src, name), os.path.join(dst, name))
            else:
                shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
        print(time.perf_counter() - t0, flush=True)
    else:
        break
