"""NumPy side of benches/apply.rs: evolves PDFs over a store as a NumPy user would.

Usage: python apply.py STORE   (thread count fixed by OPENBLAS_NUM_THREADS in the environment)
Commands on stdin:
  "run R" -> seconds per point of one sweep over every *.npy operator of STORE:
             np.load(mmap_mode='r') reshaped to (N, N), @ the PDF (R = 1: a vector; else (N, R));
  "mem"   -> this process's peak anonymous memory (RssAnon high-water is not kept by Linux, so the
             current RssAnon after the sweeps, in MiB);
  "quit".
"""
import glob
import os
import sys
import time

import numpy as np

# Final operators only: not errors, partials or their errors (a mu2 such as 50.7 has a dot too).
files = sorted(
    f
    for f in glob.glob(os.path.join(sys.argv[1], "*_nf*.npy"))
    if not f.endswith((".error.npy", ".part.npy"))
)
first = np.load(files[0], mmap_mode="r")
n = first.shape[0] * first.shape[1]
pdfs = {}


def sweep(replicas):
    pdf = pdfs.setdefault(replicas, np.random.default_rng(replicas).random((n, replicas)))
    vector = pdf[:, 0].copy()
    t0 = time.perf_counter()
    for path in files:
        op = np.load(path, mmap_mode="r").reshape(n, n)
        if replicas == 1:
            out = op @ vector
        else:
            out = op @ pdf
    del out
    return (time.perf_counter() - t0) / len(files)


def rss_anon_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "run":
        print(sweep(int(cmd[1])), flush=True)
    elif cmd[0] == "mem":
        print(rss_anon_mib(), flush=True)
    else:
        break
