"""libeko.Store: operators as read-only NumPy arrays over the mapped files, with no copy; values
against np.load and eko.EKO.read; the eko-like API; errors."""

import gc
import os

import numpy as np
import pytest

import libeko
from conftest import ORIGIN, POINTS, SHAPE, XGRID, rss_kb, synthetic_operator


def mapping_of(path):
    """The address ranges /proc/self/maps lists for `path`."""
    real = os.path.realpath(path)
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].strip() == real:
                start, end = (int(a, 16) for a in fields[0].split("-"))
                ranges.append((start, end, fields[1]))
    return ranges


def data_address(array):
    return array.__array_interface__["data"][0]


def file_of(store, point, kind=".npy"):
    mu2, nf = point
    names = [n for n in os.listdir(store.path) if n.endswith(f"_nf{nf}{kind}")]
    for name in names:
        if float(name.split("_nf")[0]) == mu2:
            return os.path.join(store.path, name)
    raise AssertionError(f"no file for {point}")


# ---- zero copy -------------------------------------------------------------------------------


def test_array_data_lies_inside_the_mapped_file(synthetic):
    store, _ = synthetic
    for point in POINTS:
        op = store[point]
        path = file_of(store, point)
        ranges = mapping_of(path)
        assert ranges, f"{path} is not mapped"
        address = data_address(op)
        nbytes = op.nbytes
        assert any(start <= address and address + nbytes <= end for start, end, _ in ranges)
        # Mapped read-only, and viewed read-only.
        assert all(perms.startswith("r-") for _, _, perms in ranges)
        assert not op.flags.writeable
        assert not op.flags.owndata


def test_array_is_read_only(synthetic):
    store, _ = synthetic
    op = store[POINTS[0]]
    with pytest.raises(ValueError, match="read-only"):
        op[0, 0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        op.setflags(write=True)
    plain = op.operator
    assert type(plain) is np.ndarray
    with pytest.raises(ValueError, match="read-only"):
        plain[0, 0, 0, 0] = 1.0
    err = op.error
    with pytest.raises(ValueError, match="read-only"):
        err[0, 0, 0, 0] = 1.0


def test_array_outlives_the_store(synthetic):
    store, arrays = synthetic
    point = POINTS[1]
    op = store[point]
    view = op[3:5, :, 2]
    error = store.error(point)
    path = store.path
    del store, synthetic
    gc.collect()
    assert np.array_equal(op, arrays[point][0])
    assert np.array_equal(view, arrays[point][0][3:5, :, 2])
    assert np.array_equal(error, arrays[point][1])
    # The map lives exactly as long as the arrays over it.
    file = file_of(libeko.Store(path), point)
    assert mapping_of(file)
    del op, view
    gc.collect()
    del error
    gc.collect()
    assert not mapping_of(file)


def test_resident_memory_stays_flat_when_every_operator_is_read_in_turn(tmp_path):
    n_x, count = 60, 30
    shape = (14, n_x, 14, n_x)
    store = libeko.Store.create(tmp_path / "big", np.geomspace(1e-5, 1, n_x), ORIGIN)
    base = synthetic_operator(0, shape)
    for i in range(count):
        store.insert(10.0 * (i + 1), 4, base * (i + 1))
    del base
    gc.collect()
    one = 14 * n_x * 14 * n_x * 8
    before = rss_kb()
    peak = before
    total = 0.0
    for (mu2, nf), op in store.items():
        total += float(op.sum())  # touches every page of the operator
        peak = max(peak, rss_kb())
        del op
    growth = (peak - before) * 1024
    assert count * one > 100e6
    # At most a couple of operators resident at once, never the store's size.
    assert growth < 3 * one, f"RSS grew by {growth / 1e6:.1f} MB, one operator is {one / 1e6:.1f} MB"
    assert total != 0.0


def test_items_maps_one_operator_at_a_time(synthetic):
    store, _ = synthetic
    iterator = store.items()
    assert len(iterator) == len(POINTS)
    (point, op) = next(iterator)
    assert point == POINTS[0]
    assert mapping_of(file_of(store, POINTS[0]))
    assert not mapping_of(file_of(store, POINTS[1]))
    del op
    gc.collect()
    assert not mapping_of(file_of(store, POINTS[0]))


# ---- values ----------------------------------------------------------------------------------


def test_values_equal_np_load_in_the_files_memory_order(synthetic, tmp_path):
    store, arrays = synthetic
    fortran = np.asfortranarray(synthetic_operator(42))
    store.insert(300.0, 4, fortran)
    for point in POINTS + [(300.0, 4)]:
        op = store[point]
        reference = np.load(file_of(store, point))
        assert op.dtype == np.float64 and op.shape == SHAPE
        assert np.array_equal(op, reference)
        assert op.strides == reference.strides
        if point in arrays:
            assert np.array_equal(op, arrays[point][0])
            if arrays[point][1] is None:
                assert op.error is None and store.error(point) is None
            else:
                assert np.array_equal(op.error, np.load(file_of(store, point, ".error.npy")))
    assert store[300.0, 4].flags.f_contiguous


def test_imported_archive_equals_eko_read(imported, joined_archive):
    import eko

    with eko.EKO.read(joined_archive) as evolution_operator:
        eko_points = sorted(evolution_operator.evolgrid)
        assert [tuple(p) for p in eko_points] == imported.evolgrid
        assert imported.mu20 == evolution_operator.mu20
        assert np.array_equal(imported.xgrid, evolution_operator.xgrid.raw)
        assert sorted(imported.mu2grid) == sorted(evolution_operator.mu2grid)
        for ep, op in evolution_operator.items():
            ours = imported[ep]
            assert np.array_equal(ours, op.operator)
            if op.error is None:
                assert ours.error is None
            else:
                assert np.array_equal(ours.error, op.error)
        # The cards, as eko wrote them.
        assert imported.theory_card["order"] == list(evolution_operator.theory_card.order)
        assert imported.operator_card["configs"]["interpolation_polynomial_degree"] == (
            evolution_operator.operator_card.configs.interpolation_polynomial_degree
        )


def test_partials_and_their_errors(parts_archive, tmp_path):
    store = libeko.import_eko(parts_archive, tmp_path / "parts")
    assert store.partials
    assert store.has_thresholds
    for point in store.partials:
        part = store.partial(point)
        assert np.array_equal(part, np.load(file_of(store, point, ".part.npy")))
        assert not part.flags.writeable
        with pytest.raises(libeko.NotFoundError, match="no final operator .* run libeko.combine"):
            store[point]


# ---- the eko-like API ------------------------------------------------------------------------


def test_metadata_is_plain_python_data(synthetic):
    store, _ = synthetic
    assert store.mu20 == ORIGIN[0]
    assert store.origin == ORIGIN
    assert np.array_equal(store.xgrid, XGRID) and np.array_equal(store.xgrid.raw, XGRID)
    assert not store.xgrid.flags.writeable
    assert store.mu2grid == [p[0] for p in POINTS]
    assert store.evolgrid == POINTS
    assert list(store) == POINTS
    assert len(store) == len(POINTS)
    assert store.shape == SHAPE
    assert store.interpolation == (4, True)
    assert store.matching == {"charm": None, "bottom": None, "top": None}
    assert store.theory_card is None and store.operator_card is None
    metadata = store.metadata
    assert isinstance(metadata, dict) and metadata["origin"] == {"mu2": ORIGIN[0], "nf": ORIGIN[1]}
    assert "Store" in repr(store) and "4 final operators" in repr(store)


def test_lookup_by_point(synthetic):
    store, arrays = synthetic
    mu2, nf = POINTS[2]
    assert (mu2, nf) in store
    assert [mu2, nf] in store
    assert (mu2, nf + 1) not in store
    assert (mu2 * (1 + 1e-9), nf) not in store
    assert "nonsense" not in store
    for op in (store[mu2, nf], store[(mu2, nf)], store.operator(mu2, nf), store.operator((mu2, nf))):
        assert np.array_equal(op, arrays[(mu2, nf)][0])
    assert store.approx((mu2 * (1 + 1e-9), nf)) == (mu2, nf)
    assert store.approx((mu2 * 1.01, nf)) is None
    assert store.approx((mu2, nf + 1)) is None


def test_approx_refuses_several_close_points(tmp_path):
    store = libeko.Store.create(tmp_path / "s", XGRID, ORIGIN)
    store.insert(100.0, 4, np.zeros(SHAPE))
    store.insert(100.0 + 1e-5, 4, np.zeros(SHAPE))
    with pytest.raises(libeko.InvalidArgumentError, match="several points are close to"):
        store.approx((100.0, 4), rtol=1e-6)
    with pytest.raises(ValueError):
        store.approx((100.0, 4), rtol=1e-6)


def test_context_manager_and_close(synthetic):
    store, _ = synthetic
    with libeko.Store(store.path) as opened:
        op = opened[POINTS[0]]
    opened.close()
    assert op.sum() == op.operator.sum()


def test_operator_type_behaves_as_an_array(synthetic):
    store, arrays = synthetic
    op = store[POINTS[0]]
    assert isinstance(op, np.ndarray) and isinstance(op, libeko.Operator)
    doubled = op * 2
    assert type(doubled) is np.ndarray
    assert type(op.sum()) in (float, np.float64)
    assert type(np.einsum("ajbk,bk->aj", op, np.ones(SHAPE[2:]))) is np.ndarray
    assert op[0].error is None  # a slice is not the operator
    assert np.shares_memory(op.operator, op)


# ---- writing ---------------------------------------------------------------------------------


def test_insert_from_array_likes(tmp_path):
    store = libeko.Store.create(tmp_path / "w", XGRID, ORIGIN)
    nested = synthetic_operator(1).tolist()
    store.insert(10.0, 4, nested)
    assert np.array_equal(store[10.0, 4], np.array(nested))
    integers = np.arange(np.prod(SHAPE), dtype=np.int32).reshape(SHAPE)
    store.insert_partial(20.0, 4, integers, error=np.ones(SHAPE, dtype=np.float32))
    assert np.array_equal(store.partial(20.0, 4), integers.astype(float))
    assert np.array_equal(store.partial(20.0, 4).error, np.ones(SHAPE))
    store.remove(20.0, 4, partial=True)
    assert store.partials == []
    store.remove(20.0, 4, partial=True)  # not there: fine


def test_insert_refuses_bad_arrays_and_writes_nothing(tmp_path):
    store = libeko.Store.create(tmp_path / "w", XGRID, ORIGIN)
    with pytest.raises(libeko.IncompatibleError, match=r"has shape \[14, 6, 14, 5\], \[14, 6, 14, 6\] was required"):
        store.insert(10.0, 4, np.zeros((14, 6, 14, 5)))
    with pytest.raises(libeko.InvalidArgumentError, match="operator has 2 dimensions"):
        store.insert(10.0, 4, np.zeros((14, 6)))
    with pytest.raises(libeko.InvalidArgumentError, match="cannot be read as an array of float64"):
        store.insert(10.0, 4, "not an array")
    with pytest.raises(libeko.InvalidArgumentError, match="nf is larger than 6"):
        store.insert(10.0, 7, np.zeros(SHAPE))
    with pytest.raises(libeko.InvalidArgumentError, match="mu2 is not positive"):
        store.insert(-1.0, 4, np.zeros(SHAPE))
    with pytest.raises(libeko.IncompatibleError, match="error"):
        store.insert(10.0, 4, np.zeros(SHAPE), error=np.zeros((14, 6, 14, 5)))
    assert sorted(os.listdir(store.path)) == ["metadata.json"]


# ---- errors ----------------------------------------------------------------------------------


def test_missing_point_is_not_found(synthetic):
    store, _ = synthetic
    with pytest.raises(libeko.NotFoundError, match=r"no final operator for \(mu2=11, nf=4\)|no final operator for"):
        store[11.0, 4]
    with pytest.raises(LookupError):
        store.error(11.0, 4)
    with pytest.raises(libeko.NotFoundError, match="no partial"):
        store.partial(POINTS[0])


def test_bad_keys_are_invalid_arguments(synthetic):
    store, _ = synthetic
    with pytest.raises(libeko.InvalidArgumentError, match="evolution point is a pair"):
        store["10"]
    with pytest.raises(libeko.InvalidArgumentError, match="evolution point is a pair"):
        store[10.0]
    with pytest.raises(libeko.InvalidArgumentError, match="nf is not in 0..=6"):
        store[10.0, -1]
    with pytest.raises(libeko.InvalidArgumentError, match="3 arguments were given"):
        store.operator(10.0, 4, 5)


def test_opening_what_is_not_a_store(tmp_path):
    with pytest.raises(libeko.NotFoundError, match="not a libeko store"):
        libeko.Store(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(libeko.Error):
        libeko.Store(tmp_path / "file")
    with pytest.raises(libeko.Error):
        libeko.Store(tmp_path / "missing")


def test_damaged_file_is_malformed(synthetic):
    store, _ = synthetic
    path = file_of(store, POINTS[0])
    with open(path, "r+b") as f:
        f.write(b"NOTNUMPY")
    with pytest.raises(libeko.MalformedFileError, match="not a .npy file"):
        store[POINTS[0]]
    assert issubclass(libeko.MalformedFileError, libeko.Error)


def test_exception_hierarchy():
    for cls, builtin in [
        (libeko.NotFoundError, LookupError),
        (libeko.IncompatibleError, ValueError),
        (libeko.MalformedFileError, ValueError),
        (libeko.IoError, OSError),
        (libeko.InvalidArgumentError, ValueError),
    ]:
        assert issubclass(cls, libeko.Error) and issubclass(cls, builtin)


def test_help_is_useful():
    doc = libeko.Store.__doc__
    for word in ("store[mu2, nf]", "items()", "read-only", "eko"):
        assert word in doc
    for name in libeko.__all__:
        assert getattr(libeko, name).__doc__, name


# ---- found by review: threads, stale errors, grids and cards ---------------------------------


def test_threads_sharing_a_store_wait_for_each_other(synthetic):
    import threading

    store, _ = synthetic
    failures = []
    stop = threading.Event()

    def writer():
        try:
            for i in range(30):
                store.insert(500.0, 4, np.full(SHAPE, float(i)), error=np.zeros(SHAPE))
        except BaseException as e:  # noqa: BLE001 - the test reports whatever escapes
            failures.append(e)
        finally:
            stop.set()

    def reader():
        try:
            while not stop.is_set():
                for point, op in store.items():
                    float(op.sum())
                store[POINTS[0]]
                len(store), POINTS[0] in store
                libeko.Transform(store, basis_out="evol")
        except BaseException as e:  # noqa: BLE001
            failures.append(e)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert np.array_equal(store[500.0, 4], np.full(SHAPE, 29.0))


def test_an_operators_error_is_the_one_written_with_it(synthetic):
    store, arrays = synthetic
    point = POINTS[0]
    op = store[point]
    store.insert(*point, np.zeros(SHAPE), error=np.full(SHAPE, 7.0))
    assert np.array_equal(op, arrays[point][0])
    assert np.array_equal(op.error, arrays[point][1])
    assert np.array_equal(store[point].error, np.full(SHAPE, 7.0))
    assert op.copy().error is None and op[0].error is None


def test_misaligned_input_is_converted_once(tmp_path):
    store = libeko.Store.create(tmp_path / "w", XGRID, ORIGIN)
    n = int(np.prod(SHAPE))
    raw = bytearray(n * 8 + 1)
    misaligned = np.frombuffer(raw, np.float64, offset=1, count=n).reshape(SHAPE)
    assert not misaligned.flags.aligned
    store.insert(10.0, 4, misaligned)
    assert np.array_equal(store[10.0, 4], misaligned)


def test_bad_grids_are_invalid_arguments(tmp_path):
    with pytest.raises(libeko.InvalidArgumentError, match="xgrid is empty"):
        libeko.Store.create(tmp_path / "a", [], ORIGIN)
    with pytest.raises(libeko.InvalidArgumentError, match="pids"):
        libeko.Store.create(tmp_path / "b", XGRID, ORIGIN, pids=[21, 21])
    with pytest.raises(libeko.InvalidArgumentError, match="theory_card is a dict"):
        libeko.Store.create(tmp_path / "c", XGRID, ORIGIN, theory_card="theory.yaml")
    assert not any((tmp_path / n).exists() for n in "abc")


def test_cards_read_as_eko_reads_them(imported, joined_archive):
    import eko

    theory = imported.theory_card
    with eko.EKO.read(joined_archive) as evolution_operator:
        masses = evolution_operator.theory_card.heavy.masses
    assert theory.heavy.masses[0][0] == masses[0][0]
    assert np.isnan(theory.heavy.masses[0][1]) and np.isnan(masses[0][1])
    assert imported.operator_card.configs.interpolation_polynomial_degree == 4
    with pytest.raises(AttributeError, match="no field 'nonsense'"):
        imported.operator_card.nonsense


def test_stores_made_in_python_with_cards_export_to_eko(imported, tmp_path):
    import eko

    store = libeko.Store.create(
        tmp_path / "made",
        imported.xgrid,
        imported.origin,
        matching=imported.matching,
        theory_card=imported.theory_card,
        operator_card=imported.operator_card,
    )
    for point, op in imported.items():
        store.insert(*point, op, error=op.error)
    libeko.export(store, tmp_path / "made.tar")
    with eko.EKO.read(tmp_path / "made.tar") as evolution_operator:
        assert np.isnan(evolution_operator.theory_card.heavy.masses[0][1])
        for ep, op in evolution_operator.items():
            assert np.array_equal(op.operator, imported[ep])


def test_approx_takes_lists(synthetic):
    store, _ = synthetic
    assert store.approx([POINTS[1][0], POINTS[1][1]]) == POINTS[1]
    assert store.approx((POINTS[1][0], 99)) is None
