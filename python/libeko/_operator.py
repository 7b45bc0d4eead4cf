"""The array type of an operator read from a store."""

import math

import numpy as np


class Operator(np.ndarray):
    """An operator of a store: a read-only ``numpy.ndarray`` over the mapped file, shape
    ``(pid_out, x_out, pid_in, x_in)``, in the file's memory order. No byte is copied; the map
    stays alive as long as the array (or any view of it) does.

    It also carries eko's ``Operator`` attributes, so code written for ``eko.EKO`` runs as it is:

    - ``.operator``: the same values as a plain ``numpy.ndarray`` (still no copy);
    - ``.error``: the error array, mapped with the operator (the one written with it, whatever
      happens to the store later), or ``None`` when the store has none for this point.

    Arithmetic on an ``Operator`` gives plain ``numpy.ndarray`` results; slices, views and copies
    of it keep the type but not the error (``.error`` is ``None``).
    """

    def __array_finalize__(self, obj):
        # Views, slices and copies of an operator keep the type, not the error: they are no longer
        # the operator.
        self._error = None

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
        """The error of the operator (read-only, over its mapped file), or ``None`` when the store
        holds none for it (or for a view or copy of the operator)."""
        return getattr(self, "_error", None)

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


# eko writes non-finite floats in its YAML cards as `.nan`, `.inf`, `-.inf`; libeko keeps them as
# those strings in metadata.json (JSON has no such numbers), and a Card reads them as floats.
_NON_FINITE = {".nan": float("nan"), ".inf": float("inf"), "-.inf": float("-inf")}
_NON_FINITE_TEXT = {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}


def _finite(value):
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def card(pairs):
    """`json.loads`' object hook: a Card, with eko's non-finite spellings read as floats."""
    return Card((k, _finite(v)) for k, v in pairs.items())


def _spelled(value):
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE_TEXT[repr(value)]
    if isinstance(value, dict):
        return {k: _spelled(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_spelled(v) for v in value]
    return value


def card_json(value):
    """A card (a dict) as the JSON libeko keeps in metadata.json, non-finite floats spelled as
    eko's YAML spells them."""
    import json

    return json.dumps(_spelled(value), allow_nan=False)
