"""Python side of benches/evolve.rs: an eko archive to evolve with, and pineappl's own path from
the archive to an FK table, as pineko takes it.

usage:
  evolve.py make DIR N_X N_SCALES   writes DIR/eko.tar with eko 0.15.7 (N_SCALES target points
                                    at nf = 5, mu2 from 10 to 1e4, an N_X-point x grid from eko's
                                    make_grid, operators with errors shaped like real ones: zero
                                    photon row and column, top quarks decoupled, random elsewhere)
                                    and DIR/made.json (x grid, scales)
  evolve.py run GRID ARCHIVE ALPHAS FK MODE CASE
                                    evolves GRID with pineappl's Python package (1.5), fed slices
                                    from eko.EKO.read(ARCHIVE) (pineko's path: open the archive,
                                    one (OperatorSliceInfo, operator) per scale the grid needs, in
                                    the archive's order); writes FK; prints JSON: seconds (the
                                    whole evolve call, from opening the archive), operator_seconds
                                    (time inside the slice generator: reading, decompressing),
                                    peak_mib (this process's VmHWM).
                                    MODE "eko": as above; MODE "preloaded": every slice made
                                    in memory first, untimed, so that the evolve call times
                                    pineappl's contraction alone.
                                    CASE "direct": the operators as they are (the grid's x
                                    nodes are the EKO's); CASE "pineko": each operator
                                    reinterpolated onto the grid's x nodes
                                    (eko.io.manipulate.xgrid_reshape(targetgrid=...)) and its
                                    input side rotated to the evolution basis
                                    (to_evol(source=True)), pid_basis Evol, as pineko does.
"""
import json
import math
import pathlib
import resource
import sys
import time

import numpy as np

FLAVOR = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
EVOL = [22, 100, 21, 200, 203, 208, 215, 224, 235, 103, 108, 115, 124, 135]


def make(out, n_x, n_scales):
    from eko.interpolation import make_grid
    from eko.io.items import Operator
    from eko.io.runcards import OperatorCard, TheoryCard
    from eko.io.struct import EKO
    from ekobox.cards import example

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # make_grid shares the point where the log part meets the linear one.
    xgrid = make_grid(n_x * 3 // 5, n_x - n_x * 3 // 5 + 1, x_min=1e-7).tolist()
    assert len(xgrid) == n_x, len(xgrid)
    mu2 = np.geomspace(10.0, 1e4, n_scales).tolist()
    theory = example.raw_theory()
    theory["heavy"] = dict(theory["heavy"])
    theory["heavy"]["masses"] = [[m, math.nan] for m in (1.51, 4.92, 172.5)]
    operator = example.raw_operator()
    operator["mugrid"] = [(math.sqrt(q2), 5) for q2 in mu2]
    operator["xgrid"] = xgrid
    rng = np.random.default_rng(15)
    light = [i for i, p in enumerate(FLAVOR) if p not in (22, 6, -6)]
    with EKO.create(out / "eko.tar") as builder:
        eko = builder.load_cards(TheoryCard.from_dict(theory), OperatorCard.from_dict(operator)).build()
        for ep in eko.operator_card.evolgrid:
            op = np.zeros((14, n_x, 14, n_x))
            for a in light:
                for b in light:
                    block = 0.02 * rng.standard_normal((n_x, n_x))
                    if a == b:
                        block += np.eye(n_x)
                    op[a, :, b, :] = np.triu(block)
            for t in (FLAVOR.index(6), FLAVOR.index(-6)):
                op[t, :, t, :] = np.eye(n_x)
            err = 1e-6 * np.abs(op)
            eko[ep] = Operator(op, err)
        mu2_written = [ep[0] for ep in eko.operator_card.evolgrid]
    (out / "made.json").write_text(json.dumps({"xgrid": xgrid, "mu2": mu2_written}))


def peak_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(grid_path, archive, alphas_path, fk_path, mode, case):
    import warnings

    from eko.interpolation import XGrid
    from eko.io.manipulate import to_evol, xgrid_reshape
    from eko.io.struct import EKO
    from pineappl.convolutions import ConvType
    from pineappl.evolution import OperatorSliceInfo
    from pineappl.grid import Grid
    from pineappl.pids import PidBasis

    grid = Grid.read(grid_path)
    info = grid.evolve_info(np.array([], dtype=bool))
    needed = list(info.fac1)
    table = np.loadtxt(alphas_path, ndmin=2)
    ren1, alphas = table[:, 0], table[:, 1]
    spent = [0.0]

    nodes = np.array(info.x1)

    def reshaped(operators, op):
        if case == "direct":
            return op.operator
        configs = operators.operator_card.configs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            op = xgrid_reshape(
                op,
                XGrid(operators.xgrid.raw, log=configs.interpolation_is_log),
                configs.interpolation_polynomial_degree,
                targetgrid=XGrid(nodes),
            )
            return to_evol(op, source=True).operator

    def slices(operators, preloaded=None):
        x = operators.xgrid.raw
        fac0 = operators.mu20
        conv = ConvType(polarized=False, time_like=False)
        if case == "direct":
            pids0, x1, basis = FLAVOR, x, PidBasis.Pdg
        else:
            pids0, x1, basis = EVOL, nodes, PidBasis.Evol
        it = iter(operators.items()) if preloaded is None else iter(preloaded)
        while True:
            start = time.perf_counter()
            try:
                (q2, nf), op = next(it)
            except StopIteration:
                spent[0] += time.perf_counter() - start
                return
            keep = any(math.isclose(q2, s, rel_tol=1e-12) for s in needed)
            if not keep:
                spent[0] += time.perf_counter() - start
                continue
            array = op if preloaded is not None else reshaped(operators, op)
            spent[0] += time.perf_counter() - start
            yield (OperatorSliceInfo(fac0, pids0, x, q2, FLAVOR, x1, basis, conv), array)

    if mode == "preloaded":
        with EKO.read(archive) as operators:
            loaded = [(ep, np.array(reshaped(operators, op))) for ep, op in operators.items()]
            start = time.perf_counter()
            fk = grid.evolve([slices(operators, loaded)], np.array([], dtype=bool), (1.0, 1.0, 1.0), ren1, alphas)
            seconds = time.perf_counter() - start
    else:
        start = time.perf_counter()
        with EKO.read(archive) as operators:
            spent[0] += time.perf_counter() - start  # opening: eko extracts the archive
            fk = grid.evolve([slices(operators)], np.array([], dtype=bool), (1.0, 1.0, 1.0), ren1, alphas)
            closing = time.perf_counter()
        spent[0] += time.perf_counter() - closing  # closing: eko removes what it extracted
        seconds = time.perf_counter() - start
    fk.write_lz4(fk_path)
    print(json.dumps({"seconds": seconds, "operator_seconds": spent[0], "peak_mib": peak_mib()}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "run":
        run(*sys.argv[2:8])
    else:
        sys.exit(__doc__)
