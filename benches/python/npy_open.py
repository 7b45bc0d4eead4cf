"""NumPy side of benches/npy.rs: times np.load(mmap_mode='r') on command.

Started with the list of files as arguments; reads commands on stdin, answers on stdout:
  open K    -> seconds for K np.load(path, mmap_mode='r') (round robin over the files), each
               dropped (unmapped) right after
  memory    -> "VmHWM_kB RssAnon_kB" of this process
  quit
"""
import sys
import time

import numpy as np

paths = sys.argv[1:]
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "open":
        k = int(cmd[1])
        t0 = time.perf_counter()
        for i in range(k):
            m = np.load(paths[i % len(paths)], mmap_mode="r")
            del m
        print(time.perf_counter() - t0, flush=True)
    elif cmd[0] == "memory":
        fields = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
        print(fields["VmHWM"].split()[0], fields["RssAnon"].split()[0], flush=True)
    else:
        break
