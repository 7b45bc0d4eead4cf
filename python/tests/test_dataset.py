"""libeko.Dataset: a Python producer's NumPy arrays registered with no copy, declared and bound
later, combined in place (bit for bit what libeko.combine does on a store), written as a store."""

import numpy as np
import pytest

import libeko

XGRID = np.geomspace(1e-4, 1.0, 5)
N = (14, 5, 14, 5)
ORIGIN = (1.65**2, 4)
BOTTOM = 4.92**2
MATCHING = {"charm": 1.51**2, "bottom": BOTTOM, "top": None}
# (mu2, nf): one below the bottom matching scale (no threshold crossed), two above it.
POINTS = [(10.0, 4), (50.0, 5), (100.0, 5)]


def near_identity(seed):
    rng = np.random.default_rng(seed)
    n = 14 * 5
    return (np.eye(n) + 0.05 * rng.standard_normal((n, n))).reshape(N)


def small_error(seed):
    return np.abs(np.random.default_rng(1000 + seed).standard_normal(N)) * 1e-7


def dataset():
    return libeko.Dataset(XGRID, ORIGIN, matching=MATCHING)


def producer(with_errors=True, fortran=False):
    """What a producer computes: the partials of POINTS and the threshold operators they need."""
    order = "F" if fortran else "C"
    partials = {p: np.array(near_identity(i), order=order) for i, p in enumerate(POINTS)}
    errors = {p: np.array(small_error(i), order=order) for i, p in enumerate(POINTS)} if with_errors else {}
    return partials, errors


def add_thresholds(ds, with_errors=True):
    arrays = {}
    for i, (source, target) in enumerate(ds.needed_thresholds):
        value = near_identity(50 + i)
        error = small_error(50 + i) if with_errors else None
        ds.add_threshold(source, target, value, error=error)
        arrays[(source, target)] = (value, error)
    return arrays


def test_combine_in_place_equals_the_stores_combine(tmp_path):
    partials, errors = producer()
    ds = dataset()
    ids = {p: ds.add_partial(*p, partials[p], error=errors[p]) for p in POINTS}
    assert ds.needed_thresholds == [((ORIGIN[0], 4), (BOTTOM, 4)), ((BOTTOM, 4), (BOTTOM, 5))]
    thresholds = add_thresholds(ds)
    # The same data as a store, combined by libeko.combine.
    reference = ds.write_store(tmp_path / "reference")
    assert reference.partials == POINTS and reference.has_thresholds
    addresses = {p: partials[p].__array_interface__["data"][0] for p in POINTS}
    before = {p: partials[p].copy() for p in POINTS}
    ds.combine(threads=2)
    libeko.combine(reference)
    for p in POINTS:
        # In place: the producer's own arrays now hold the final operators.
        assert partials[p].__array_interface__["data"][0] == addresses[p]
        assert np.array_equal(partials[p], reference[p])
        assert np.array_equal(errors[p], reference[p].error)
        assert ds.buffer(ids[p]) == ("operator", p)
    # And they are the product partial . matching . segment.
    n = 14 * 5
    segment, matching = (thresholds[k][0].reshape(n, n) for k in sorted(thresholds))
    product = before[(100.0, 5)].reshape(n, n) @ matching @ segment
    assert np.allclose(partials[(100.0, 5)].reshape(n, n), product, rtol=1e-12, atol=1e-13)
    # A point crossing no threshold: its partial is its final operator, unchanged.
    assert np.array_equal(partials[(10.0, 4)], before[(10.0, 4)])


def test_declare_then_bind_and_separate_finals_in_fortran_order(tmp_path):
    partials, _ = producer(with_errors=False, fortran=True)
    ds = dataset()
    declared = ds.add_partial(*POINTS[2])
    final = ds.add_operator(*POINTS[2], np.zeros(N, order="F"))
    add_thresholds(ds, with_errors=False)
    with pytest.raises(libeko.InvalidArgumentError, match="declared without memory"):
        ds.combine()
    ds.bind(declared, partials[POINTS[2]])
    with pytest.raises(libeko.IncompatibleError, match="already has memory"):
        ds.bind(declared, np.zeros(N))
    before = partials[POINTS[2]].copy()
    ds.combine()
    assert np.array_equal(partials[POINTS[2]], before)  # the partial is read, the final written
    store = ds.write_store(tmp_path / "s")
    assert store.evolgrid == [POINTS[2]] and store.partials == []
    assert store[POINTS[2]].flags.f_contiguous
    with pytest.raises(libeko.Error):
        ds.buffer(declared)  # released: combined into a separate final


def test_registration_refuses_what_it_cannot_use_without_copy():
    ds = dataset()
    with pytest.raises(libeko.InvalidArgumentError, match="must be a numpy.ndarray of float64, not list"):
        ds.add_partial(10.0, 4, np.zeros(N).tolist())
    with pytest.raises(libeko.InvalidArgumentError, match="has dtype float32; it is registered with no copy, so it must be float64"):
        ds.add_partial(10.0, 4, np.zeros(N, dtype=np.float32))
    with pytest.raises(libeko.IncompatibleError, match=r"has shape \[14, 5, 14\]; an operator of this dataset has shape \[14, 5, 14, 5\]"):
        ds.add_partial(10.0, 4, np.zeros(N[:3]))
    with pytest.raises(libeko.IncompatibleError):
        ds.add_partial(10.0, 4, np.zeros((14, 5, 14, 6)))
    with pytest.raises(libeko.IncompatibleError, match="contiguous"):
        ds.add_partial(10.0, 4, np.zeros((14, 10, 14, 5))[:, ::2])
    shared = np.zeros(N)
    ds.add_partial(10.0, 4, shared)
    with pytest.raises(libeko.IncompatibleError, match="overlaps"):
        ds.add_partial(50.0, 5, shared)
    with pytest.raises(libeko.IncompatibleError, match="already has"):
        ds.add_partial(10.0, 4, np.zeros(N))
    with pytest.raises(libeko.InvalidArgumentError, match="nf is larger than 6"):
        ds.add_partial(10.0, 7, np.zeros(N))
    with pytest.raises(libeko.Error, match="no threshold element goes from"):
        ds.add_threshold((10.0, 4), (20.0, 5), np.zeros(N))
    with pytest.raises(libeko.Error, match="buffer id 99"):
        ds.bind(99, np.zeros(N))
    with pytest.raises(libeko.IncompatibleError, match="overlaps"):
        ds.add_partial(50.0, 5, np.zeros(N), error=shared)  # the error is refused: no buffer added
    with pytest.raises(libeko.IncompatibleError, match="order"):
        ds.add_partial(50.0, 5, np.zeros(N), error=np.zeros(N, order="F"))
    assert len(ds) == 1  # every refusal left the dataset as it was
    ds.add_partial(50.0, 5, np.zeros(N), error=np.zeros(N))
    assert len(ds) == 2


def test_combine_refuses_before_writing_anything():
    partials, errors = producer()
    ds = dataset()
    ds.add_partial(*POINTS[2], partials[POINTS[2]], error=errors[POINTS[2]])
    before = partials[POINTS[2]].copy()
    with pytest.raises(libeko.NotFoundError, match="threshold"):
        ds.combine()
    add_thresholds(ds, with_errors=False)
    ds.combine()  # thresholds without errors: the final has no error
    assert not np.array_equal(partials[POINTS[2]], before)
    read_only = near_identity(9)
    read_only.flags.writeable = False
    ds2 = dataset()
    ds2.add_partial(*POINTS[2], read_only)
    add_thresholds(ds2)
    with pytest.raises(libeko.IncompatibleError, match="read-only|does not write"):
        ds2.combine()
    with pytest.raises(libeko.InvalidArgumentError, match="threads must be at least 1"):
        ds2.combine(threads=0)


def test_metadata_and_repr():
    ds = libeko.Dataset(XGRID, ORIGIN, matching=MATCHING, interpolation=(3, False))
    assert ds.shape == N
    assert "Dataset(0 buffers" in repr(ds)
    with pytest.raises(libeko.InvalidArgumentError, match="matching has 'strange'"):
        libeko.Dataset(XGRID, ORIGIN, matching={"strange": 1.0})
    with pytest.raises(libeko.Error, match="increasing"):
        libeko.Dataset(XGRID[::-1], ORIGIN)


def test_an_array_cannot_be_combined_by_two_datasets_at_once():
    import threading

    partial = near_identity(3)
    misaligned = np.frombuffer(bytearray(partial.nbytes + 1), np.float64, offset=1, count=partial.size).reshape(N)
    with pytest.raises(libeko.InvalidArgumentError, match="not aligned for float64"):
        dataset().add_partial(*POINTS[2], misaligned)
    datasets = []
    chain = None
    for _ in range(2):
        ds = dataset()
        ds.add_partial(*POINTS[2], partial)
        thresholds = add_thresholds(ds, with_errors=False)
        datasets.append(ds)
    n = 14 * 5
    segment, matching = (thresholds[k][0].reshape(n, n) for k in sorted(thresholds))
    chain = matching @ segment
    before = partial.reshape(n, n).copy()
    # While one combine holds the array, a second one (or any libeko call reading it) is refused;
    # either way the array ends as one or two whole combines made it, never a mix.
    outcomes = []

    def run(ds):
        try:
            ds.combine()
            outcomes.append("ok")
        except libeko.IncompatibleError as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=run, args=(ds,)) for ds in datasets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 2
    for outcome in outcomes:
        assert outcome == "ok" or "in use by another call" in outcome
    expected = before @ chain if outcomes.count("ok") == 1 else before @ chain @ chain
    assert np.allclose(partial.reshape(n, n), expected, rtol=1e-12, atol=1e-12)
