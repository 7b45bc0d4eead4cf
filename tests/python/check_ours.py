"""Check that NumPy reads the files libeko wrote, with the values libeko meant.

Usage: python check_ours.py DIR   (DIR/manifest.json lists the files; written by
tests/numpy_reads_ours.rs). Every .npy is loaded plain and with mmap_mode='r'; every .npz with
np.load. Values are compared bytewise in C order, little-endian, bool as 0/1. Data alignment is
checked from the file bytes: .npy data at a multiple of the requested alignment, .npz member data
at a multiple of 64 bytes. Prints one line per failure and exits 1 if there is any.
"""
import json
import os
import struct
import sys
import zipfile

import numpy as np

DIR = sys.argv[1]
failures = []
checks = 0


def c_bytes(arr):
    if arr.dtype.kind == "b":
        arr = (arr.view(np.uint8) != 0).astype(np.uint8)
    else:
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr).tobytes(order="C")


def compare(label, arr, spec):
    global checks
    checks += 1
    expected = open(os.path.join(DIR, spec["bin"]), "rb").read()
    if arr.dtype.str != spec["descr"]:
        failures.append(f"{label}: dtype {arr.dtype.str} != {spec['descr']}")
    elif list(arr.shape) != spec["shape"]:
        failures.append(f"{label}: shape {arr.shape} != {spec['shape']}")
    elif c_bytes(arr) != expected:
        failures.append(f"{label}: values differ")
    elif spec["fortran"] and arr.ndim > 1 and not arr.flags.f_contiguous:
        failures.append(f"{label}: not loaded in Fortran order")


for entry in json.load(open(os.path.join(DIR, "manifest.json"))):
    path = os.path.join(DIR, entry["file"])
    if entry["kind"] == "npy":
        compare(entry["file"], np.load(path), entry)
        m = np.load(path, mmap_mode="r")
        compare(entry["file"] + " (mmap)", np.asarray(m), entry)
        offset = m.offset if isinstance(m, np.memmap) else None
        if offset is not None and offset % entry["align"]:
            failures.append(f"{entry['file']}: data offset {offset} not aligned to {entry['align']}")
    else:
        with np.load(path) as npz:
            if sorted(npz.files) != sorted(m["key"] for m in entry["members"]):
                failures.append(f"{entry['file']}: members {npz.files}")
            for member in entry["members"]:
                compare(f"{entry['file']}[{member['key']}]", npz[member["key"]], member)
        raw = open(path, "rb").read()
        with zipfile.ZipFile(path) as zf:
            if zf.testzip() is not None:
                failures.append(f"{entry['file']}: CRC check failed")
            for info in zf.infolist():
                if info.compress_type != zipfile.ZIP_STORED:
                    failures.append(f"{entry['file']}[{info.filename}]: not stored")
                n, m = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
                start = info.header_offset + 30 + n + m
                major = raw[start + 6]
                hlen = struct.unpack("<H" if major == 1 else "<I", raw[start + 8:start + (10 if major == 1 else 12)])[0]
                data = start + (10 if major == 1 else 12) + hlen
                if data % 64:
                    failures.append(f"{entry['file']}[{info.filename}]: data at {data}, not 64-byte aligned")

for f in failures:
    print(f)
print(f"{checks} arrays checked, {len(failures)} failed")
sys.exit(1 if failures else 0)
