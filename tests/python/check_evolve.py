"""References for `eko evolve` (tests/evolve.rs): FK tables made by pineappl's own Python package
from slices of an EKO that the eko package reads, as pineko makes them, to compare with the FK
tables libeko makes from the same EKO imported into a store.

usage:
  check_evolve.py make DIR               writes DIR/eko.tar, an EKO made by the eko package
                                         (final operators with errors at a few scales, one of
                                         them at two nf), and prints its description as JSON
  check_evolve.py reference DIR CASES    for each case of the JSON file CASES (a grid written by
                                         the test, order mask, scale factors, the nf to take at
                                         the ambiguous scale, FK basis, assumptions, an
                                         interpolation degree instead of the card's) writes
                                         DIR/{name}.alphas.npy (alpha_s at the renormalisation
                                         scales the grid needs, as (n, 2) [mu2, alpha_s]) and
                                         two FK tables evolved by pineappl's Python package:
                                           {name}.direct.pineappl.lz4: eko's operators as
                                             EKO.read gives them; reinterpolated, when the grid's
                                             x nodes are not on the EKO's x grid, with the exact
                                             Lagrange matrix of check_transform.py (rational
                                             arithmetic); rotated by eko's to_evol for the
                                             evolution basis
                                           {name}.pineko.pineappl.lz4: exactly as pineko does it:
                                             xgrid_reshape(targetgrid=the grid's x nodes) always,
                                             then to_evol(source=True) for the evolution basis
                                         and prints, per case, what was made and how far eko's
                                         interpolation rows are from summing to 1
"""
import json
import math
import pathlib
import sys
import warnings

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from check_transform import lagrange_matrix  # noqa: E402  (the exact reference)

FLAVOR = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
EVOL = [22, 100, 21, 200, 203, 208, 215, 224, 235, 103, 108, 115, 124, 135]
DEGREE = 3
LOG = True
# (mu, nf): the bottom matching scale on both of its sides, the one scale an FK table must choose.
TARGETS = [(2.0, 4), (4.92, 4), (4.92, 5), (10.0, 5), (20.0, 5), (50.0, 5)]


def xgrid():
    """15 points: logarithmic below 0.1, linear above, ending at 1."""
    low = np.geomspace(1e-4, 0.1, 9)
    high = np.linspace(0.1, 1.0, 7)[1:]
    return np.concatenate([low, high]).tolist()


def operator_like(rng, n_x):
    """Shaped like a QCD operator: zero photon row and column, close to the identity, x_in >= x_out
    dominating; random otherwise."""
    n = 14 * n_x
    op = (np.eye(n) + 0.05 * rng.standard_normal((n, n))).reshape(14, n_x, 14, n_x)
    below = np.tril(np.ones((n_x, n_x)), -1)  # x_in < x_out
    op *= 1.0 - 0.9 * below[None, :, None, :]
    op[0, :, :, :] = 0.0
    op[:, :, 0, :] = 0.0
    return op


def make(out):
    from eko.io.items import Operator
    from eko.io.runcards import OperatorCard, TheoryCard
    from eko.io.struct import EKO
    from ekobox.cards import example

    out = pathlib.Path(out)
    rng = np.random.default_rng(15)
    theory = example.raw_theory()
    theory["heavy"] = dict(theory["heavy"])
    theory["heavy"]["masses"] = [[m, math.nan] for m in (1.51, 4.92, 172.5)]
    operator = example.raw_operator()
    operator["mugrid"] = TARGETS
    operator["xgrid"] = xgrid()
    operator["configs"]["interpolation_polynomial_degree"] = DEGREE
    operator["configs"]["interpolation_is_log"] = LOG
    archive = out / "eko.tar"
    n_x = len(operator["xgrid"])
    with EKO.create(archive) as builder:
        eko = builder.load_cards(TheoryCard.from_dict(theory), OperatorCard.from_dict(operator)).build()
        for ep in eko.operator_card.evolgrid:
            op = operator_like(rng, n_x)
            err = 1e-6 * np.abs(rng.standard_normal(op.shape))
            eko[ep] = Operator(op, err)
    with EKO.read(archive) as eko:
        made = {
            "archive": str(archive),
            "xgrid": [float(x) for x in eko.xgrid.raw],
            "points": [[float(mu2), int(nf)] for mu2, nf in eko.evolgrid],
            "mu0sq": float(eko.mu20),
            "degree": DEGREE,
            "log": LOG,
        }
    (out / "made.json").write_text(json.dumps(made))
    print(json.dumps(made))


def alphas(mu2):
    """A smooth, made-up alpha_s(mu2)."""
    return 0.118 / (1.0 + 0.0834 * math.log(mu2 / 8315.1))


def close(a, b):
    """pineappl's node comparison (4096 ulps), close enough for the scales here."""
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def reference(out, cases_path):
    import pineappl
    from eko.interpolation import InterpolatorDispatcher, XGrid
    from eko.io.items import Operator
    from eko.io.manipulate import to_evol, xgrid_reshape
    from eko.io.struct import EKO

    out = pathlib.Path(out)
    made = json.loads((out / "made.json").read_text())
    cases = json.loads(pathlib.Path(cases_path).read_text())
    src_grid = made["xgrid"]
    answers = {}
    with EKO.read(made["archive"]) as eko:
        operators = {(float(mu2), int(nf)): eko[(mu2, nf)] for mu2, nf in eko.evolgrid}
        mu0sq = float(eko.mu20)
    for case in cases:
        name = case["name"]
        grid = pineappl.grid.Grid.read(case["grid"])
        n_orders = len(grid.orders())
        mask = case["order_mask"] or [True] * n_orders
        order_mask = np.array(mask, dtype=bool)
        xir, xif, xia = case["xi"]
        info = grid.evolve_info(order_mask)
        x1 = [float(x) for x in info.x1]
        needed = [xif * xif * float(f) for f in info.fac1]
        ren1 = xir * xir * np.array(info.ren1, dtype=float)
        table = np.array([[m, alphas(m)] for m in ren1]).reshape(-1, 2)
        np.save(out / f"{name}.alphas.npy", table)
        # The operator at each scale the grid needs: the nf asked for where eko has two.
        chosen = []
        for mu2 in needed:
            at = [p for p in operators if close(p[0], mu2)]
            if len(at) > 1:
                nf = [n for m, n in case["nf_at"] if close(m, mu2)]
                at = [p for p in at if p[1] == nf[0]]
            assert len(at) == 1, (name, mu2, at)
            chosen.append(at[0])
        chosen.sort()
        on_grid = all(any(close(x, y) for y in src_grid) for x in x1)
        evol = case["basis"] == "evol"
        conv = pineappl.convolutions.ConvType(polarized=False, time_like=False)
        basis = pineappl.pids.PidBasis.Evol if evol else pineappl.pids.PidBasis.Pdg
        # The interpolation: the card's, or the one the case gives instead.
        degree = case.get("degree") or DEGREE
        r_exact = None if on_grid else lagrange_matrix(src_grid, x1, degree, LOG)

        def direct(point):
            """eko's operator, reinterpolated exactly when needed, rotated by eko."""
            op = operators[point].operator
            if r_exact is not None:
                op = np.einsum("ij,ajbk->aibk", r_exact, op)
            if evol:
                op = to_evol(Operator(op, None), source=True, target=False).operator
            return op

        def pineko(point):
            """As pineko: reinterpolated onto the grid's x nodes by eko, then rotated by eko."""
            elem = operators[point]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                elem = xgrid_reshape(
                    elem, XGrid(src_grid, log=LOG), degree, targetgrid=XGrid(x1, log=LOG)
                )
                if evol:
                    elem = to_evol(elem, source=True, target=False)
            return elem.operator

        for kind, make_slice, grid_x in (
            ("direct", direct, src_grid if on_grid else x1),
            ("pineko", pineko, x1),
        ):
            slices = []
            for point in chosen:
                slice_info = pineappl.evolution.OperatorSliceInfo(
                    fac0=mu0sq,
                    pids0=EVOL if evol else FLAVOR,
                    x0=src_grid,
                    fac1=point[0],
                    pids1=FLAVOR,
                    x1=grid_x,
                    pid_basis=basis,
                    convolution_types=conv,
                )
                slices.append((slice_info, np.ascontiguousarray(make_slice(point))))
            fk = grid.evolve(
                slices=[slices],
                order_mask=order_mask,
                xi=(xir, xif, xia),
                ren1=ren1,
                alphas=table[:, 1],
            )
            if case["assumptions"]:
                fk.optimize(pineappl.fk_table.FkAssumptions(case["assumptions"]))
            fk.write_lz4(str(out / f"{name}.{kind}.pineappl.lz4"))
        # eko's own inaccuracy: how far its interpolation rows (inside the grid) are from summing
        # to 1 (pineko's reference differs from an exact reinterpolation by about this much).
        rows = InterpolatorDispatcher(XGrid(src_grid, log=LOG), degree, False).get_interpolation(x1)
        sums = rows.sum(axis=1)
        answers[name] = {
            "alphas": str(out / f"{name}.alphas.npy"),
            "points": [list(p) for p in chosen],
            "x1": x1,
            "on_grid": on_grid,
            "row_sum_dev": float(np.abs(sums - 1).max()),
            "pineko_vs_exact_rows": float(np.abs(rows - lagrange_matrix(src_grid, x1, degree, LOG)).max()),
        }
    print(json.dumps(answers))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "make":
        make(sys.argv[2])
    elif command == "reference":
        reference(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {command}")
