"""The array type of an operator read from a store."""

import numpy as np


class Operator(np.ndarray):
    """An operator of a store: a read-only ``numpy.ndarray`` over the mapped file, shape
    ``(pid_out, x_out, pid_in, x_in)``, in the file's memory order. No byte is copied; the map
    stays alive as long as the array (or any view of it) does.

    It also carries eko's ``Operator`` attributes, so code written for ``eko.EKO`` runs as it is:

    - ``.operator``: the same values as a plain ``numpy.ndarray`` (still no copy);
    - ``.error``: the error array (mapped when first asked for), or ``None`` when the store has
      none for this point.

    Arithmetic on an ``Operator`` gives plain ``numpy.ndarray`` results; slices and other views of
    it are plain arrays too (``.error`` then is ``None``).
    """

    def __array_finalize__(self, obj):
        # Views and slices made from an operator are not the operator: no error attached.
        self._error_of = None

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # Results of ufuncs and reductions are plain arrays.
        if return_scalar and array.ndim == 0:
            return array[()]
        return array.view(np.ndarray)

    @property
    def operator(self):
        """The values as a plain ``numpy.ndarray`` (a view: no copy)."""
        return self.view(np.ndarray)

    @property
    def error(self):
        """The error of the operator (read-only, mapped on first access), or ``None``."""
        source = getattr(self, "_error_of", None)
        if source is None:
            return None
        if not isinstance(source, tuple):
            return source
        error = source[0]._error_array(*source[1:])
        self._error_of = error
        return error

    def __enter__(self):
        # eko's `EKO.operator(ep)` is a context manager: `with store.operator(ep) as op:` works
        # here too (nothing to unload on exit).
        return self

    def __exit__(self, exc_type, exc, traceback):
        return False


class XGrid(np.ndarray):
    """An x grid: a read-only float64 ``numpy.ndarray`` that also has eko's ``XGrid`` names
    (``.raw``, ``.size``, ``.tolist()``, ``len()``), so ``store.xgrid.raw`` reads as in eko."""

    @property
    def raw(self):
        """The x values as a plain ``numpy.ndarray``."""
        return self.view(np.ndarray)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        if return_scalar and array.ndim == 0:
            return array[()]
        return array.view(np.ndarray)


def xgrid(values):
    """`values` as a read-only `XGrid`."""
    grid = np.array(values, dtype=np.float64).view(XGrid)
    grid.flags.writeable = False
    return grid


class Card(dict):
    """A card (eko's theory or operator card) as plain Python data: a ``dict``, whose keys also
    read as attributes (``card.configs.interpolation_polynomial_degree``), as eko's card objects
    read."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the card has no field {name!r} (it has {sorted(self)})") from None
