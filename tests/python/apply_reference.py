"""Evolves a PDF with NumPy as a user would, for the apply tests.

usage: apply_reference.py STORE PDF.npy OUT.npy MU2:NF,...
Writes np.einsum('ajbk,...bk->...aj') of each point's mapped operator with the PDF, stacked in the
order given, to OUT.npy.
"""
import sys

import numpy as np

store, pdf_path, out_path, points = sys.argv[1:5]
pdf = np.load(pdf_path)
results = []
for item in points.split(","):
    mu2, nf = item.split(":")
    op = np.load(f"{store}/{mu2}_nf{nf}.npy", mmap_mode="r")
    results.append(np.einsum("ajbk,...bk->...aj", op, pdf))
np.save(out_path, np.stack(results))
