"""Reading an EKO the way eko users do, with eko or with libeko.

This script is written for eko 0.15: it opens an EKO, loops over its evolution points, applies a
PDF to every operator (and propagates the error), and picks operators by (mu2, nf). To run it on
a libeko store instead, change two lines, the import and the open call; the rest runs unchanged
and prints the same numbers:

    -import eko
    +import libeko
    ...
    -    with eko.EKO.read(path) as evolution_operator:
    +    with libeko.Store(path) as evolution_operator:

(the store made once from the archive by ``libeko.import_eko("eko.tar", "my-eko")`` or
``eko import eko.tar my-eko``).

usage: python migrate.py EKO      (eko's archive; its libeko version takes the store)
"""

import sys

import numpy as np

import eko


def toy_pdf(n_pid, n_x):
    """A PDF given on the EKO's x grid, shape (pid, x): made-up values."""
    rng = np.random.default_rng(2024)
    return rng.uniform(0.1, 1.0, (n_pid, n_x))


def main(path):
    """Evolves a toy PDF with every operator of the EKO at `path`; prints and returns
    {(mu2, nf): (evolved PDF, its error or None)}."""
    evolved = {}
    with eko.EKO.read(path) as evolution_operator:
        mu20 = evolution_operator.mu20
        xgrid = evolution_operator.xgrid
        points = sorted(evolution_operator.evolgrid)
        print(f"from mu2 = {mu20:.6g} to {len(points)} points, {len(xgrid)} x values")
        pdf = toy_pdf(14, len(xgrid))
        for ep, op in evolution_operator.items():
            result = np.einsum("ajbk,bk->aj", op.operator, pdf)
            error = None
            if op.error is not None:
                error = np.einsum("ajbk,bk->aj", op.error, pdf)
            evolved[ep] = (result, error)

        # One point by (mu2, nf): the gluon at the highest scale.
        mu2 = max(evolution_operator.mu2grid)
        (nf,) = [n for m, n in evolution_operator.evolgrid if m == mu2]
        assert (mu2, nf) in evolution_operator
        assert (mu2, nf + 1) not in evolution_operator
        gluon = evolution_operator[(mu2, nf)].operator[7]
        print(f"gluon at mu2 = {mu2:.6g}, nf = {nf}: {np.einsum('jbk,bk->j', gluon, pdf)[0]:.17g}")

        # A matching scale: the same mu2 with two nf, two different operators.
        for mu2 in sorted(set(evolution_operator.mu2grid)):
            nfs = sorted(n for m, n in evolution_operator.evolgrid if m == mu2)
            if len(nfs) == 2:
                below = evolution_operator[(mu2, nfs[0])]
                above = evolution_operator[(mu2, nfs[1])]
                jump = np.abs(above.operator - below.operator).max()
                print(f"mu2 = {mu2:.6g}: nf = {nfs[0]} and {nfs[1]} differ by up to {jump:.17g}")

        # A scale given only approximately.
        near = evolution_operator.approx((points[0][0] * (1.0 + 1e-9), points[0][1]))
        print(f"approx: ({float(near[0]):.17g}, {near[1]})")

    for (mu2, nf), (result, error) in sorted(evolved.items()):
        err = "none" if error is None else f"{np.abs(error).sum():.17g}"
        print(f"mu2 = {mu2:.17g} nf = {nf}: sum {result.sum():.17g}, error {err}")
    return evolved


if __name__ == "__main__":
    main(sys.argv[1])
