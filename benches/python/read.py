"""One side of the Python package benchmark (benches/python.rs): opening a 50-point EKO and
reading every operator and its error, in its own process. Prints one JSON line.

usage:
  read.py libeko STORE      libeko.Store(STORE), every operator and its .error via items(), close()
  read.py eko ARCHIVE       eko.EKO.read(ARCHIVE), every operator and error via items(), close()
  read.py numpy FILES       the reference: np.load(path, mmap_mode="r") of each operator and error
                            file listed in FILES (one "operator<TAB>error" line per point) and
                            the same reading: what NumPy gets from the page cache for these bytes

"Reading" an array is summing it (float(a.sum())): every page is touched. The imports (NumPy,
libeko or eko) and, for numpy, reading the list of files happen before the clock starts. Times,
in seconds from the start: "open" (store or archive opened), "first" (the first operator and its
error in hand as arrays), "first_read" (their values summed), "all" (every operator and error
summed, the store or archive closed). Memory: the peak (VmHWM) is reset to the current resident
size just before the clock starts (/proc/self/clear_refs), so "baseline_kb" is what the process
holds after its imports and "peak_kb" the highest resident size while reading (mapped file pages
count, as they are resident); "imports_kb" is the peak of the imports alone.
"""
import json
import sys
import time

import numpy as np


def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return float("nan")


def reset_peak():
    """Sets VmHWM to the current resident size (Linux 4.0+); False when refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def side(name, path):
    """Imports what side `name` needs; returns (open, pairs): open() opens `path`, pairs(opened)
    yields each point's (operator, error) arrays, in mu2 order."""
    if name == "libeko":
        import libeko

        return lambda: libeko.Store(path), lambda store: (
            (op, op.error) for _, op in store.items()
        )
    if name == "eko":
        from eko.io.struct import EKO

        return lambda: EKO.read(path), lambda eko: (
            (op.operator, op.error) for _, op in eko.items()
        )
    if name == "numpy":
        files = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
        return lambda: files, lambda files: (
            (np.load(op, mmap_mode="r"), np.load(err, mmap_mode="r")) for op, err in files
        )
    sys.exit(f"unknown side {name}")


def main():
    open_path, pairs = side(sys.argv[1], sys.argv[2])
    imports_kb = status_kb("VmHWM")
    reset = reset_peak()
    baseline_kb = status_kb("VmRSS") if reset else imports_kb

    start = time.perf_counter()
    opened = open_path()
    open_seconds = time.perf_counter() - start
    first = first_read = None
    total = 0.0
    nbytes = 0
    count = 0
    for op, err in pairs(opened):
        if first is None:
            first = time.perf_counter() - start
        total += float(op.sum()) + float(err.sum())
        nbytes += op.nbytes + err.nbytes
        count += 1
        if first_read is None:
            first_read = time.perf_counter() - start
        # Nothing of this point is kept while the next one is read.
        del op, err
    if hasattr(opened, "close"):
        opened.close()  # eko removes the directory it extracted the archive into
    seconds = time.perf_counter() - start

    print(
        json.dumps(
            {
                "open": open_seconds,
                "first": first,
                "first_read": first_read,
                "all": seconds,
                "operators": count,
                "bytes": nbytes,
                "sum": total,
                "imports_kb": imports_kb,
                "baseline_kb": baseline_kb,
                "peak_kb": status_kb("VmHWM"),
                "peak_reset": reset,
            }
        )
    )


if __name__ == "__main__":
    main()
