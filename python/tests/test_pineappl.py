"""libeko.slices feeds pineappl's Python ``Grid.evolve``: the FK tables equal those made from
eko's own slices (``eko.EKO.read``, reinterpolated by eko's ``xgrid_reshape`` and rotated by
``to_evol``, as pineko makes them) from the same EKO; the selection of scales and nf and its
errors; libeko's own ``SliceInfo`` (``pineappl=False``); untransformed slices are the mapped
files themselves.

The EKO is made by the eko package (tests/python/check_evolve.py: 15 x values, final operators at
mu2 = 4, 24.2064 (the bottom matching scale, with nf = 4 and 5), 100, 400, 2500); the grids are
small DIS-like grids (one unpolarised proton, three bins, three channels, two orders) built with
pineappl 1.x's Python API.
"""

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import libeko
from conftest import ROOT

pineappl = pytest.importorskip("pineappl")

from pineappl.boc import (  # noqa: E402
    BinsWithFillLimits,
    Channel,
    Kinematics,
    Order,
    ScaleFuncForm,
    Scales,
)
from pineappl.convolutions import Conv, ConvType  # noqa: E402
from pineappl.evolution import OperatorSliceInfo  # noqa: E402
from pineappl.grid import Grid  # noqa: E402
from pineappl.interpolation import (  # noqa: E402
    Interp,
    InterpolationMethod,
    MappingMethod,
    ReweightingMethod,
)
from pineappl.pids import PidBasis  # noqa: E402
from pineappl.subgrid import ImportSubgridV1  # noqa: E402

CHECK_EVOLVE = ROOT / "tests" / "python" / "check_evolve.py"
FLAVOR = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
EVOL = [22, 100, 21, 200, 203, 208, 215, 224, 235, 103, 108, 115, 124, 135]
UNPOL = ConvType(polarized=False, time_like=False)
PROTON = Conv(convolution_types=UNPOL, pid=2212)
ALL_ORDERS = np.array([True, True])
# eko's reinterpolation is about 1e-9 away from an exact one (its Lagrange rows sum to 1 only
# within ~2e-9); libeko's is exact.
INTERPOLATION_ACCURACY = 1e-9
# An exact computation done in another order (the flavour rotation).
ROUNDING = 1e-14


# ---- the EKO --------------------------------------------------------------------------------


class Eko:
    """The EKO as eko reads it, and the store libeko imported it into."""

    def __init__(self, archive, store):
        import eko

        self.archive = archive
        self.store = store
        with eko.EKO.read(archive) as evolution_operator:
            self.mu20 = float(evolution_operator.mu20)
            self.xgrid = [float(x) for x in evolution_operator.xgrid.raw]
            card = evolution_operator.operator_card.configs
            self.degree = card.interpolation_polynomial_degree
            self.log = card.interpolation_is_log
            self.operators = {
                (float(mu2), int(nf)): op for (mu2, nf), op in evolution_operator.items()
            }
        # The matching scale, held with nf = 4 and 5.
        (self.mb2,) = {mu2 for mu2, nf in self.operators if nf == 5 and (mu2, 4) in self.operators}

    def point(self, mu2, nf_at):
        """The operator eko has at `mu2` (pineappl's node comparison), the nf of `nf_at` where it
        has two."""
        at = [p for p in self.operators if math.isclose(p[0], mu2, rel_tol=1e-12)]
        if len(at) > 1:
            at = [p for p in at if p in nf_at]
        assert len(at) == 1, (mu2, at)
        return at[0]

    def slices(self, scales, nf_at=(), x1=None, evol=False):
        """pineko's slices: eko's operator at each scale, reinterpolated onto `x1` by eko's
        xgrid_reshape when given, rotated to the evolution basis by eko's to_evol when `evol`."""
        from eko.interpolation import XGrid
        from eko.io.manipulate import to_evol, xgrid_reshape

        for mu2 in sorted(scales):
            point = self.point(mu2, nf_at)
            op = self.operators[point]
            if x1 is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    op = xgrid_reshape(
                        op,
                        XGrid(self.xgrid, log=self.log),
                        self.degree,
                        targetgrid=XGrid(list(x1), log=self.log),
                    )
            if evol:
                op = to_evol(op, source=True, target=False)
            info = OperatorSliceInfo(
                fac0=self.mu20,
                pids0=EVOL if evol else FLAVOR,
                x0=self.xgrid,
                fac1=point[0],
                pids1=FLAVOR,
                x1=self.xgrid if x1 is None else list(x1),
                pid_basis=PidBasis.Evol if evol else PidBasis.Pdg,
                convolution_types=UNPOL,
            )
            yield info, np.ascontiguousarray(op.operator)


@pytest.fixture(scope="session")
def ekos(tmp_path_factory):
    out = tmp_path_factory.mktemp("evolve")
    made = subprocess.run(
        [sys.executable, str(CHECK_EVOLVE), "make", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    archive = json.loads(made.stdout)["archive"]
    store = libeko.import_eko(archive, out / "store")
    return Eko(archive, store)


# ---- grids ----------------------------------------------------------------------------------


def empty_grid(scale_interp=(1e2, 1e4, 20)):
    """A DIS-like grid: one unpolarised proton, 3 bins, 3 channels (up-type quarks, down-type
    quarks, gluon), 2 orders (LO, NLO in alpha_s)."""
    q2min, q2max, q2nodes = scale_interp
    return Grid(
        pid_basis=PidBasis.Pdg,
        channels=[
            Channel([([2], 4 / 9), ([-2], 4 / 9), ([4], 4 / 9), ([-4], 4 / 9)]),
            Channel([([1], 1 / 9), ([-1], 1 / 9), ([3], 1 / 9), ([-3], 1 / 9)]),
            Channel([([21], 1.0)]),
        ],
        orders=[Order(0, 0, 0, 0, 0), Order(1, 0, 0, 0, 0)],
        bins=BinsWithFillLimits.from_fill_limits([0.0, 1.0, 2.0, 3.0]),
        convolutions=[PROTON],
        interpolations=[
            Interp(
                min=q2min,
                max=q2max,
                nodes=q2nodes,
                order=0 if q2nodes == 1 else 3,
                reweight_meth=ReweightingMethod.NoReweight,
                map=MappingMethod.ApplGridH0,
                interpolation_meth=InterpolationMethod.Lagrange,
            ),
            Interp(
                min=1e-4,
                max=1.0,
                nodes=12,
                order=3,
                reweight_meth=ReweightingMethod.ApplGridX,
                map=MappingMethod.ApplGridF2,
                interpolation_meth=InterpolationMethod.Lagrange,
            ),
        ],
        kinematics=[Kinematics.Scale(0), Kinematics.X(0)],
        scale_funcs=Scales(
            ren=ScaleFuncForm.Scale(0), fac=ScaleFuncForm.Scale(0), frg=ScaleFuncForm.NoScale(0)
        ),
    )


def grid_at(scales_per_bin, xs, seed=5):
    """A grid whose subgrids sit exactly at the given scales (one list per bin) and x nodes,
    with deterministic weights; no gluon at LO."""
    grid = empty_grid()
    rng = np.random.default_rng(seed)
    xs = np.asarray(xs, dtype=float)
    for order in range(2):
        for bin_, scales in enumerate(scales_per_bin):
            for channel in range(3 if order else 2):
                q2 = np.asarray(scales, dtype=float)
                weights = rng.uniform(0.5, 1.5, (len(q2), len(xs))) * (1.0 - xs) ** 2
                subgrid = ImportSubgridV1(array=weights, node_values=[q2, xs])
                grid.set_subgrid(order, bin_, channel, subgrid.into())
    return grid


def filled_grid(mu2, n_events=24):
    """A grid filled event by event at one scale, on pineappl's own x interpolation (its x nodes
    are mostly off the EKO's grid)."""
    grid = empty_grid(scale_interp=(mu2, mu2, 1))
    xs = np.geomspace(2e-4, 0.9, n_events)
    for i, x in enumerate(xs):
        order = i % 2
        channel = i % 3 if order else i % 2
        grid.fill(
            order=order,
            observable=(i % 3) + 0.5,
            channel=channel,
            ntuple=[mu2, float(x)],
            weight=1.0 + 0.1 * i,
        )
    return grid


def scales_per_bin(ekos):
    return [[ekos.mb2, 100.0], [100.0, 400.0], [400.0, 2500.0]]


def on_grid_x(ekos):
    """x nodes on the EKO's grid (every other one, 1 excluded)."""
    return ekos.xgrid[1:-1:2]


def off_grid_x(ekos):
    """x nodes between the EKO's: geometric means of neighbours."""
    x = np.array(ekos.xgrid)
    return np.sqrt(x[1:-2:2] * x[2:-1:2])


# ---- evolving -------------------------------------------------------------------------------


def alphas(mu2):
    """A smooth, made-up alpha_s(mu2)."""
    return 0.118 / (1.0 + 0.0834 * math.log(mu2 / 8315.1))


def evolve(grid, slices, xi=(1.0, 1.0, 1.0), order_mask=ALL_ORDERS):
    info = grid.evolve_info(order_mask)
    ren1 = xi[0] ** 2 * np.asarray(info.ren1)
    return grid.evolve(
        slices=[slices],
        order_mask=order_mask,
        xi=xi,
        ren1=ren1,
        alphas=[alphas(m) for m in ren1],
    )


def needed(grid, xif=1.0, order_mask=ALL_ORDERS):
    """The scales an EKO must provide: the grid's factorisation scales times xif²."""
    return [xif * xif * float(f) for f in grid.evolve_info(order_mask).fac1]


def toy_xfx(pid, x, q2):
    """x f(x) of a made-up proton, every flavour different (no photon)."""
    if pid == 22:
        return 0.0
    return x**0.3 * (1.0 - x) ** (3 + abs(pid) % 7) * (1.0 + 0.1 * pid)


def convolve(fk):
    return fk.convolve(pdg_convs=[PROTON], xfxs=[toy_xfx])


def relative_difference(a, b):
    """Largest difference, relative to the largest value."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    return float(np.abs(a - b).max() / np.abs(b).max())


def assert_same_fk(ours, theirs, rtol):
    """The two FK tables agree: their tables within `rtol` (bit for bit when 0), their
    predictions for the toy PDF too."""
    assert np.array_equal(ours.x_grid(), theirs.x_grid())
    assert ours.fac0() == theirs.fac0()
    assert ours.channels() == theirs.channels()
    a, b = ours.table(), theirs.table()
    assert np.abs(b).max() > 0.0
    if rtol == 0.0:
        assert np.array_equal(a, b), relative_difference(a, b)
        assert np.array_equal(convolve(ours), convolve(theirs))
    else:
        assert relative_difference(a, b) <= rtol
        assert relative_difference(convolve(ours), convolve(theirs)) <= rtol


# ---- FK tables: libeko against eko ----------------------------------------------------------


@pytest.mark.parametrize("nf", [4, 5])
def test_fk_table_on_the_eko_grid_is_pinekos_bit_for_bit(ekos, nf):
    """x nodes on the EKO's grid: the same operators, no reinterpolation, the same FK table."""
    grid = grid_at(scales_per_bin(ekos), on_grid_x(ekos))
    scales = needed(grid)
    assert len(scales) == 4 and min(scales) == ekos.mb2
    nf_at = [(ekos.mb2, nf)]
    ours = evolve(grid, libeko.slices(ekos.store, scales=scales, nf_at=nf_at))
    theirs = evolve(grid, list(ekos.slices(scales, nf_at=nf_at)))
    assert_same_fk(ours, theirs, 0.0)


def test_nf_at_chooses_the_operator(ekos):
    """At the matching scale nf = 4 and nf = 5 are different operators, and give different FK
    tables: nf_at decides which one pineappl gets."""
    grid = grid_at(scales_per_bin(ekos), on_grid_x(ekos))
    scales = needed(grid)
    four, five = (
        evolve(grid, libeko.slices(ekos.store, scales=scales, nf_at=[(ekos.mb2, nf)]))
        for nf in (4, 5)
    )
    assert relative_difference(convolve(four), convolve(five)) > 1e-6
    # The other scales are unambiguous: a grid without the matching scale needs no nf_at.
    grid = grid_at([[100.0], [400.0], [2500.0]], on_grid_x(ekos))
    assert_same_fk(
        evolve(grid, libeko.slices(ekos.store, scales=needed(grid))),
        evolve(grid, list(ekos.slices(needed(grid)))),
        0.0,
    )


def test_scale_variation_takes_the_scales_times_xif_squared(ekos):
    """xif = 2: the grid's scales 25, 100, 625 need the EKO at 100, 400, 2500."""
    grid = grid_at([[25.0], [100.0], [25.0, 625.0]], on_grid_x(ekos))
    xi = (1.0, 2.0, 1.0)
    scales = needed(grid, xif=2.0)
    assert scales == [100.0, 400.0, 2500.0]
    ours = evolve(grid, libeko.slices(ekos.store, scales=scales), xi=xi)
    theirs = evolve(grid, list(ekos.slices(scales)), xi=xi)
    assert_same_fk(ours, theirs, 0.0)


def test_order_mask(ekos):
    """Only the NLO order: the FK table of the masked grid, the same either way."""
    grid = grid_at(scales_per_bin(ekos), on_grid_x(ekos))
    mask = np.array([False, True])
    scales = needed(grid, order_mask=mask)
    nf_at = [(ekos.mb2, 4)]
    ours = evolve(grid, libeko.slices(ekos.store, scales=scales, nf_at=nf_at), order_mask=mask)
    theirs = evolve(grid, list(ekos.slices(scales, nf_at=nf_at)), order_mask=mask)
    assert_same_fk(ours, theirs, 0.0)


def test_evolution_basis_is_ekos_to_evol(ekos):
    """basis_in="evol" against eko's to_evol(source=True): the same FK table within rounding, and
    the same predictions as the flavour-basis FK table."""
    grid = grid_at(scales_per_bin(ekos), on_grid_x(ekos))
    scales = needed(grid)
    nf_at = [(ekos.mb2, 4)]
    ours = evolve(grid, libeko.slices(ekos.store, scales=scales, nf_at=nf_at, basis_in="evol"))
    theirs = evolve(grid, list(ekos.slices(scales, nf_at=nf_at, evol=True)))
    assert ours.pid_basis == PidBasis.Evol and theirs.pid_basis == PidBasis.Evol
    assert_same_fk(ours, theirs, ROUNDING)
    flavour = evolve(grid, libeko.slices(ekos.store, scales=scales, nf_at=nf_at))
    assert flavour.pid_basis == PidBasis.Pdg
    assert relative_difference(convolve(ours), convolve(flavour)) <= ROUNDING


@pytest.mark.parametrize("basis", ["flavor", "evol"])
def test_reinterpolated_onto_the_grids_x_nodes_is_pinekos(ekos, basis):
    """x nodes between the EKO's: libeko reinterpolates (xgrid_out = the grid's x1) as pineko does
    with eko's xgrid_reshape, within eko's interpolation accuracy."""
    grid = grid_at(scales_per_bin(ekos), off_grid_x(ekos))
    x1 = grid.evolve_info(ALL_ORDERS).x1
    assert not any(np.isclose(x, ekos.xgrid, rtol=1e-9, atol=0).any() for x in x1)
    scales = needed(grid)
    nf_at = [(ekos.mb2, 5)]
    evol = basis == "evol"
    ours = evolve(
        grid,
        libeko.slices(
            ekos.store, scales=scales, nf_at=nf_at, xgrid_out=x1, basis_in="evol" if evol else None
        ),
    )
    theirs = evolve(grid, list(ekos.slices(scales, nf_at=nf_at, x1=x1, evol=evol)))
    assert_same_fk(ours, theirs, INTERPOLATION_ACCURACY)


def test_grid_filled_event_by_event(ekos):
    """A grid filled with Grid.fill at 100 GeV² on pineappl's own x interpolation: its scale is
    100 up to rounding (pineappl's scale mapping), its x nodes pineappl's."""
    grid = filled_grid(100.0)
    info = grid.evolve_info(ALL_ORDERS)
    scales = needed(grid)
    assert len(scales) == 1 and math.isclose(scales[0], 100.0, rel_tol=1e-12)
    ours = evolve(grid, libeko.slices(ekos.store, scales=scales, xgrid_out=info.x1))
    theirs = evolve(grid, list(ekos.slices(scales, x1=info.x1)))
    assert_same_fk(ours, theirs, INTERPOLATION_ACCURACY)


# ---- selection errors -----------------------------------------------------------------------


def test_a_scale_the_store_lacks_is_named(ekos):
    grid = grid_at([[100.0], [400.0], [300.0]], on_grid_x(ekos))
    with pytest.raises(libeko.Error, match=r"mu2 = 300\b"):
        libeko.slices(ekos.store, scales=needed(grid))
    with pytest.raises(libeko.Error, match=r"mu2 = 123\b"):
        libeko.slices(ekos.store, scales=[100.0, 123.0])


def test_an_ambiguous_scale_without_nf_at_names_nf_at(ekos):
    grid = grid_at(scales_per_bin(ekos), on_grid_x(ekos))
    with pytest.raises(libeko.Error, match="nf_at") as raised:
        libeko.slices(ekos.store, scales=needed(grid))
    message = str(raised.value)
    assert "24.2064" in message and "4 and 5" in message, message
    # Every scale by default: the store itself holds the matching scale twice.
    with pytest.raises(libeko.Error, match="nf_at"):
        libeko.slices(ekos.store)


def test_nf_at_must_name_a_point_of_the_store(ekos):
    with pytest.raises(libeko.Error, match=r"24\.2064.*nf = 4 and 5"):
        libeko.slices(ekos.store, scales=[ekos.mb2], nf_at=[(ekos.mb2, 6)])
    with pytest.raises(libeko.Error, match=r"mu2 = 100 has nf = 5 only"):
        libeko.slices(ekos.store, scales=[100.0], nf_at=[(100.0, 4)])


# ---- what a slice is ------------------------------------------------------------------------


def test_slice_info_without_pineappl_has_pineappls_fields(ekos):
    """pineappl=False gives libeko.SliceInfo, whose fields build the same OperatorSliceInfo
    (the same FK table) as pineappl=None gives."""
    store = ekos.store
    grid = grid_at(scales_per_bin(ekos), on_grid_x(ekos))
    scales = needed(grid)
    nf_at = [(ekos.mb2, 5)]
    mine = list(libeko.slices(store, scales=scales, nf_at=nf_at, pineappl=False))
    theirs = list(libeko.slices(store, scales=scales, nf_at=nf_at))
    assert [type(info) for info, _ in mine] == [libeko.SliceInfo] * 4
    assert all(isinstance(info, OperatorSliceInfo) for info, _ in theirs)
    assert [info.point for info, _ in mine] == [(ekos.mb2, 5), (100.0, 5), (400.0, 5), (2500.0, 5)]
    for index, ((info, op), (_, op_p)) in enumerate(zip(mine, theirs)):
        assert info.index == index
        assert info.fac0 == ekos.mu20 == store.mu20
        assert info.fac1 == info.point[0] == scales[index]
        assert info.pids0 == info.pids1 == FLAVOR
        assert info.x0 == info.x1 == ekos.xgrid
        assert info.pid_basis == "Pdg"
        assert info.polarized is False and info.time_like is False
        assert op.shape == (len(info.pids1), len(info.x1), len(info.pids0), len(info.x0))
        assert np.array_equal(op, op_p)
        assert np.array_equal(op, ekos.operators[info.point].operator)

    def rebuilt():
        for info, op in mine:
            yield (
                OperatorSliceInfo(
                    fac0=info.fac0,
                    pids0=info.pids0,
                    x0=info.x0,
                    fac1=info.fac1,
                    pids1=info.pids1,
                    x1=info.x1,
                    pid_basis=getattr(PidBasis, info.pid_basis),
                    convolution_types=ConvType(polarized=info.polarized, time_like=info.time_like),
                ),
                op,
            )

    assert_same_fk(evolve(grid, rebuilt()), evolve(grid, theirs), 0.0)
    # Transformed: the fields say what the transform made.
    x1 = [float(x) for x in off_grid_x(ekos)]
    ((info, op),) = libeko.slices(
        store, scales=[100.0], xgrid_out=x1, basis_in="evol", pineappl=False
    )
    assert info.pids0 == EVOL and info.pids1 == FLAVOR
    assert info.x1 == x1 and info.x0 == ekos.xgrid
    assert info.pid_basis == "Evol"
    assert op.shape == (14, len(x1), 14, len(ekos.xgrid))


@pytest.mark.parametrize("pineappl_info", [None, False])
def test_untransformed_slices_are_the_mapped_files(ekos, pineappl_info):
    """No copy: read-only arrays that do not own their data, equal to the store's operators."""
    store = ekos.store
    points = [p for p in store.evolgrid if p != (ekos.mb2, 5)]
    slices = list(libeko.slices(store, nf_at=[(ekos.mb2, 4)], pineappl=pineappl_info))
    assert len(slices) == len(points) == 5
    for point, (info, op) in zip(points, slices):
        if pineappl_info is False:
            assert info.point == point
        assert type(op) is np.ndarray
        assert not op.flags.owndata
        assert not op.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            op[0, 0, 0, 0] = 1.0
        assert np.array_equal(op, store[point])
