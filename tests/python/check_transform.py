"""References for libeko's transforms (tests/transform.rs): an exact Lagrange reinterpolation and
flavour rotation written here from their definitions (independently of eko and of libeko), and
eko's own `eko.io.manipulate` functions.

usage:
  check_transform.py make DIR    writes eko archives made by the eko package (one per
                                 interpolation setting, final operators with errors), and the new
                                 x grids to reshape onto (finer, coarser, partly outside, equal),
                                 as .npy and text files; prints them as JSON
  check_transform.py serve DIR   answers one JSON line per JSON request line (see `serve`):
                                 a reshaped store checked against both references, an `eko apply`
                                 result checked against NumPy; `summary` gives the largest
                                 differences seen

The exact reference: eko's interpolation rule (piecewise Lagrange polynomials of the card's
degree, in ln x when the card says so; the interval (u_i, u_{i+1}] interpolates through the
degree + 1 nodes of its block, which starts degree // 2 nodes below, one less for an even degree,
shifted to stay on the grid; a point outside the grid gets no weight; eko's tolerance for the
first node), each weight the product formula evaluated in exact rational arithmetic on the float64
values of ln x, then rounded once. The evolution basis from its definitions, inverted exactly.
"""
import json
import math
import os
import pathlib
import sys
import warnings
from fractions import Fraction

import numpy as np

FLAVOR = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
EVOL = [22, 100, 21, 200, 203, 208, 215, 224, 235, 103, 108, 115, 124, 135]
EPS = np.finfo(float).eps


def configs():
    """The archives: a log grid of degree 4 (eko's default) ending below 1, so that new points lie
    above it too, and eko's make_grid with interpolation in x of degree 3."""
    from eko.interpolation import make_grid

    u = np.linspace(math.log(1e-5), math.log(0.9), 24)
    return {
        "log4": {
            "xgrid": np.exp(u).tolist(),
            "degree": 4,
            "log": True,
            "targets": [(3.0, 4), (10.0, 5)],
            "outside": [1e-7, 8e-7, 5e-6] + np.geomspace(2e-5, 0.8, 12).tolist() + [0.95, 1.0],
            "coarser": np.geomspace(2.2e-5, 0.85, 11).tolist(),
        },
        "lin3": {
            "xgrid": make_grid(8, 12, x_min=1e-3).tolist(),
            "degree": 3,
            "log": False,
            "targets": [(5.0, 4), (30.0, 5)],
            "outside": [1e-4, 5e-4] + np.linspace(2e-3, 0.97, 12).tolist() + [1.0],
            "coarser": np.linspace(1.5e-3, 0.95, 9).tolist(),
        },
    }


def finer(xgrid, log):
    """The grid and a point 0.37 of the way into each interval (in ln x or x)."""
    u = np.log(xgrid) if log else np.array(xgrid)
    extra = u[:-1] + 0.37 * np.diff(u)
    extra = np.exp(extra) if log else extra
    return sorted(set(xgrid) | set(extra.tolist()))


def make(out):
    from eko.io.items import Operator
    from eko.io.runcards import OperatorCard, TheoryCard
    from eko.io.struct import EKO
    from ekobox.cards import example

    out = pathlib.Path(out)
    rng = np.random.default_rng(14)
    made = {}
    for name, c in configs().items():
        theory = example.raw_theory()
        theory["heavy"] = dict(theory["heavy"])
        theory["heavy"]["masses"] = [[m, math.nan] for m in (1.51, 4.92, 172.5)]
        operator = example.raw_operator()
        operator["mugrid"] = c["targets"]
        operator["xgrid"] = c["xgrid"]
        operator["configs"]["interpolation_polynomial_degree"] = c["degree"]
        operator["configs"]["interpolation_is_log"] = c["log"]
        archive = out / f"{name}.tar"
        n_x = len(c["xgrid"])
        with EKO.create(archive) as builder:
            eko = builder.load_cards(
                TheoryCard.from_dict(theory), OperatorCard.from_dict(operator)
            ).build()
            for ep in eko.operator_card.evolgrid:
                n = 14 * n_x
                op = (np.eye(n) + 0.05 * rng.standard_normal((n, n))).reshape(14, n_x, 14, n_x)
                err = 1e-6 * np.abs(rng.standard_normal(op.shape))
                eko[ep] = Operator(op, err)
        grids = {
            "finer": (finer(c["xgrid"], c["log"]), "npy"),
            "coarser": (c["coarser"], "txt"),
            "outside": (c["outside"], "npy"),
            "equal": (c["xgrid"], "txt"),
        }
        files = {}
        for kind, (values, fmt) in grids.items():
            path = out / f"{name}-{kind}.{fmt}"
            if fmt == "npy":
                np.save(path, np.array(values, dtype=np.float64))
            else:
                # repr round-trips float64 exactly; commas, spaces and a comment for the parser.
                text = "# x values\n" + ",\n".join(
                    " ".join(repr(float(v)) for v in values[i : i + 3])
                    for i in range(0, len(values), 3)
                )
                path.write_text(text + "\n")
            files[kind] = {"path": str(path), "n": len(values)}
        made[name] = {
            "archive": str(archive),
            "n_x": n_x,
            "degree": c["degree"],
            "log": c["log"],
            "grids": files,
            "points": [[mu * mu, nf] for mu, nf in c["targets"]],
        }
    (out / "made.json").write_text(json.dumps(made))
    print(json.dumps(made))


# --- the exact reference -------------------------------------------------------------------------


def lagrange_matrix(grid, points, degree, log):
    """M[i, j] = p_j(points[i]), p_j eko's basis functions on `grid`, exactly then rounded."""
    to_u = (lambda x: math.log(x)) if log else (lambda x: x)
    uf = [to_u(x) for x in grid]
    u = [Fraction(v) for v in uf]
    n = len(u)
    assert n > degree
    half = degree // 2 - (1 if degree % 2 == 0 else 0)
    m = np.zeros((len(points), n))
    for i, x in enumerate(points):
        vf = to_u(x)
        v = Fraction(vf)
        if abs(vf - uf[0]) < 10 * EPS:
            area = 0
        elif u[0] < v <= u[-1]:
            area = max(k for k in range(n - 1) if u[k] < v)
        else:
            continue
        kmin = max(0, area - half)
        if kmin + degree >= n:
            kmin = n - 1 - degree
        nodes = range(kmin, kmin + degree + 1)
        for j in nodes:
            w = Fraction(1)
            for q in nodes:
                if q != j:
                    w *= (v - u[q]) / (u[j] - u[q])
            m[i, j] = float(w)
    return m


def evolution_rotation():
    """Rows: EVOL pids; columns: FLAVOR pids. q+- = q +- qbar; Sigma/V = sum of q+-; T3/V3 =
    u+- - d+-; T/V_{k^2-1} = sum_{q<k} q+- - (k-1) q_k+-."""
    col = {p: i for i, p in enumerate(FLAVOR)}
    rows = []
    for pid in EVOL:
        row = [Fraction(0)] * 14
        plus = pid < 200

        def quark(q, factor):
            row[col[q]] += factor
            row[col[-q]] += factor if plus else -factor

        if pid in (21, 22):
            row[col[pid]] = Fraction(1)
        elif pid % 100 == 0:
            for q in range(1, 7):
                quark(q, 1)
        elif pid % 100 == 3:
            quark(2, 1)
            quark(1, -1)
        else:
            k = math.isqrt(pid % 100 + 1)
            assert k * k == pid % 100 + 1
            for q in range(1, k):
                quark(q, 1)
            quark(k, -(k - 1))
        rows.append(row)
    return rows


def exact_inverse(a):
    n = len(a)
    m = [list(r) + [Fraction(int(i == j)) for j in range(n)] for i, r in enumerate(a)]
    for c in range(n):
        p = next(r for r in range(c, n) if m[r][c] != 0)
        m[c], m[p] = m[p], m[c]
        pv = m[c][c]
        m[c] = [v / pv for v in m[c]]
        for r in range(n):
            if r != c and m[r][c] != 0:
                f = m[r][c]
                m[r] = [a - f * b for a, b in zip(m[r], m[c])]
    return [row[n:] for row in m]


ROT = evolution_rotation()
ROT_F = np.array([[float(v) for v in r] for r in ROT])
ROT_INV_F = np.array([[float(v) for v in r] for r in exact_inverse(ROT)])


def transform(op, r=None, s=None, p=None, q=None):
    """P R O S Q: r [i, j] on x_out, s [k, l] on x_in, p [c, a] on pid_out, q [b, d] on pid_in."""
    if r is not None:
        op = np.einsum("ij,ajbk->aibk", r, op)
    if s is not None:
        op = np.einsum("ajbk,kl->ajbl", op, s)
    if p is not None:
        op = np.einsum("ca,ajbk->cjbk", p, op)
    if q is not None:
        op = np.einsum("ajbk,bd->ajdk", op, q)
    return op


# --- the server ----------------------------------------------------------------------------------


class Checker:
    def __init__(self, made):
        self.made = made
        self.operators = {}
        self.worst = {}

    def note(self, key, value, **details):
        """Keeps the largest `value` seen under `key`, with its details."""
        if key not in self.worst or value > self.worst[key]["max"]:
            self.worst[key] = {"max": float(value), **details}

    def source(self, config):
        """Final operators and errors as eko reads them from its archive, by (mu2, nf)."""
        if config not in self.operators:
            from eko.io.struct import EKO

            ops = {}
            with EKO.read(self.made[config]["archive"]) as eko:
                for ep in eko.evolgrid:
                    o = eko[ep]
                    ops[(float(ep[0]), int(ep[1]))] = (np.array(o.operator), np.array(o.error))
            self.operators[config] = ops
        return self.operators[config]

    def grid(self, config, kind):
        if kind is None:
            return None
        path = self.made[config]["grids"][kind]["path"]
        if path.endswith(".npy"):
            return np.load(path).tolist()
        text = pathlib.Path(path).read_text()
        return [float(w) for line in text.splitlines() for w in line.split("#")[0].replace(",", " ").split()]

    def reshape(self, req):
        """Checks the reshaped store req["store"] (from req["config"]'s archive, with
        xgrid_out/xgrid_in naming a grid kind or null and basis_out/basis_in "evol" or null)."""
        from eko.interpolation import InterpolatorDispatcher, XGrid
        from eko.io.items import Operator
        from eko.io.manipulate import to_evol, xgrid_reshape

        c = self.made[req["config"]]
        degree, log = c["degree"], c["log"]
        old = self.source(req["config"])
        src_grid = self.grid(req["config"], "equal")
        xo, xi = self.grid(req["config"], req["xgrid_out"]), self.grid(req["config"], req["xgrid_in"])
        bo, bi = req["basis_out"] == "evol", req["basis_in"] == "evol"
        store = pathlib.Path(req["store"])
        meta = json.loads((store / "metadata.json").read_text())

        # Metadata: the sides (absent when unchanged), interpolation, provenance.
        new_out = xo if xo is not None else src_grid
        new_in = xi if xi is not None else src_grid
        for side, grid, rotated in (("output", new_out, bo), ("input", new_in, bi)):
            changed = grid != src_grid or rotated
            if changed:
                assert side in meta, (side, meta.keys())
                assert meta[side]["xgrid"] == grid, side
                assert meta[side]["pids"] == (EVOL if rotated else FLAVOR), meta[side]["pids"]
            else:
                assert side not in meta, side
        assert meta["format_version"] == 3
        assert meta["interpolation"] == {"polynomial_degree": degree, "log": log}, meta["interpolation"]
        assert meta["xgrid"] == src_grid and meta["pids"] == FLAVOR
        transform_record = meta["reshaped_from"]["transform"]
        assert os.path.samefile(meta["reshaped_from"]["source"], req["source"])

        # Matrices: exact, and eko's as xgrid_reshape builds them.
        r = None if xo is None or xo == src_grid else lagrange_matrix(src_grid, xo, degree, log)
        s = None if xi is None or xi == src_grid else lagrange_matrix(xi, src_grid, degree, log)
        p = ROT_F if bo else None
        q = ROT_INV_F if bi else None
        def eko_matrix(grid, points):
            return InterpolatorDispatcher(XGrid(grid, log=log), degree, False).get_interpolation(points)

        eko_rows = []
        if r is not None:
            eko_rows.append(eko_matrix(src_grid, xo))
        if s is not None:
            eko_rows.append(eko_matrix(xi, src_grid))
        # eko's own inaccuracy: how far its rows (inside the grid) are from summing to 1.
        row_sum_dev = 0.0
        for m in eko_rows:
            sums = m.sum(axis=1)
            inside = np.abs(sums) > 0.5
            row_sum_dev = max(row_sum_dev, float(np.abs(sums[inside] - 1).max()))
        result = {"row_sum_dev": row_sum_dev, "points": 0, "exact": 0.0, "eko": 0.0, "eko_abs": 0.0}
        case = " ".join(
            f"{k}={req[k]}" for k in ("config", "xgrid_out", "xgrid_in", "basis_out", "basis_in") if req[k]
        )

        for (mu2, nf), (op, err) in old.items():
            stem = store / f"{fmt(mu2)}_nf{nf}"
            got = np.load(f"{stem}.npy")
            got_err = np.load(f"{stem}.error.npy")
            shape = (14, len(new_out), 14, len(new_in))
            assert got.shape == shape and got_err.shape == shape, (got.shape, shape)
            if r is None and s is None and p is None and q is None:
                # Only equal grids: the operators unchanged, bit for bit.
                assert np.array_equal(got, op) and np.array_equal(got_err, err)
            for name, mine, src in (("operator", got, op), ("error", got_err, err)):
                ref = transform(src, r, s, p, q)
                scale = max(np.abs(src).max(), np.abs(ref).max())
                d_exact = np.abs(mine - ref).max() / scale
                assert d_exact <= 1e-12, f"{name} at {mu2}:{nf}: {d_exact:.3g} from the exact reference"
                if r is not None:
                    # New output points outside the old grid: zero rows, exactly.
                    outside = [i for i, x in enumerate(xo) if not (src_grid[0] <= x <= src_grid[-1])]
                    assert outside or req["xgrid_out"] != "outside"
                    assert not mine[:, outside].any(), "rows outside the grid are not zero"
                # eko, as pineko calls it: xgrid_reshape, then to_evol.
                elem = Operator(np.array(src), None)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if xo is not None or xi is not None:
                        elem = xgrid_reshape(
                            elem,
                            XGrid(src_grid, log=log),
                            degree,
                            targetgrid=None if xo is None else XGrid(xo, log=log),
                            inputgrid=None if xi is None else XGrid(xi, log=log),
                        )
                    if bo or bi:
                        elem = to_evol(elem, source=bi, target=bo)
                want = elem.operator
                d_eko = np.abs(mine - want).max()
                rel = d_eko / scale
                if r is None and s is None:
                    # Rotations only: eko's rotation and inverse are exact to rounding.
                    assert rel <= 1e-13, f"{name} at {mu2}:{nf}: {rel:.3g} from eko's to_evol"
                else:
                    # Within eko's inaccuracy: a small multiple of its rows' deviation from summing
                    # to 1, times the operator's scale (and the rotations' norms).
                    norm = (np.abs(p).sum(axis=1).max() if p is not None else 1.0) * (
                        np.abs(q).sum(axis=0).max() if q is not None else 1.0
                    )
                    bound = 10 * row_sum_dev * norm + 1e-13
                    assert rel <= bound, (
                        f"{name} at {mu2}:{nf}: {rel:.3g} from eko (relative), beyond "
                        f"{bound:.3g} (eko's rows sum to 1 within {row_sum_dev:.3g})"
                    )
                    ratio = rel / max(row_sum_dev * norm, 1e-300)
                    self.note("eko_diff_over_row_sum_dev", ratio, case=case)
                result["exact"] = max(result["exact"], d_exact)
                result["eko"] = max(result["eko"], rel)
                result["eko_abs"] = max(result["eko_abs"], d_eko)
                if r is None and s is None:
                    kind = "rotation"
                elif p is None and q is None:
                    kind = "interpolation"
                else:
                    kind = "interpolation_rotation"
                self.note(f"exact_{name}", d_exact, case=case)
                self.note(f"eko_{kind}_{name}", rel, abs=float(d_eko), scale=float(scale), case=case)
            result["points"] += 1
        self.note("eko_row_sum_dev", row_sum_dev, case=case)
        result["transform"] = transform_record
        return result

    def apply(self, req):
        """Checks `eko apply STORE PDF --xgrid-in GRID [--basis-in evol]`: the PDF given on the new
        input grid (in the evolution basis when basis_in), evolved as NumPy would with the exact
        interpolation matrix."""
        c = self.made[req["config"]]
        src_grid = self.grid(req["config"], "equal")
        xi = self.grid(req["config"], req["xgrid_in"])
        got = np.load(req["out"])
        table = np.load(req["out"][: -len(".npy")] + ".points.npy")
        pdf = np.load(req["pdf"])
        s = lagrange_matrix(xi, src_grid, c["degree"], c["log"])
        if req["basis_in"] == "evol":
            pdf = ROT_INV_F @ pdf  # back to the flavour basis
        worst = 0.0
        for n, (mu2, nf) in enumerate(table):
            op, _ = self.source(req["config"])[(float(mu2), int(nf))]
            want = np.einsum("ajbk,kl,bl->aj", op, s, pdf)
            d = np.abs(got[n] - want).max() / np.abs(want).max()
            assert d <= 1e-12, f"apply at {mu2}:{nf}: {d:.3g} from NumPy"
            worst = max(worst, d)
        self.note("apply", worst, case=f"{req['config']} --xgrid-in {req['xgrid_in']}")
        return {"points": len(table), "rel": worst}


def fmt(mu2):
    """libeko's spelling of mu2 (Rust's shortest round trip) for the values used here."""
    text = repr(float(mu2))
    return text[:-2] if text.endswith(".0") else text


def serve(out):
    made = json.loads((pathlib.Path(out) / "made.json").read_text())
    checker = Checker(made)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["do"] == "reshape":
                answer = {"ok": True, **checker.reshape(req)}
            elif req["do"] == "apply":
                answer = {"ok": True, **checker.apply(req)}
            elif req["do"] == "summary":
                answer = {"ok": True, "worst": checker.worst}
            elif req["do"] == "quit":
                return
            else:
                answer = {"ok": False, "message": f"unknown request {req['do']}"}
        except Exception as e:  # the test reports it
            import traceback

            answer = {"ok": False, "message": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "make":
        make(sys.argv[2])
    elif command == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(f"unknown command {command}")
