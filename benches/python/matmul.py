"""NumPy side of benches/matmul.rs: times np.matmul(a, b, out=c) for N x N float64.

Usage: python matmul.py N   (thread count fixed by OPENBLAS_NUM_THREADS in the environment)
Commands on stdin: "run K" -> seconds per product over K products; "quit".
"""
import sys
import time

import numpy as np

n = int(sys.argv[1])
rng = np.random.default_rng(1)
a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
c = np.empty((n, n))
np.matmul(a, b, out=c)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] != "run":
        break
    k = int(cmd[1])
    t0 = time.perf_counter()
    for _ in range(k):
        np.matmul(a, b, out=c)
    print((time.perf_counter() - t0) / k, flush=True)
