"""libeko's exceptions: one base, a subclass per family of failures users catch.

Each also derives from the built-in exception of its meaning, so code that catches
``LookupError``, ``ValueError`` or ``OSError`` keeps working.
"""


class Error(Exception):
    """Base of every error libeko raises; the message is libeko's own (it names the file and the
    check that failed)."""


class NotFoundError(Error, LookupError):
    """Something asked for is not there: an evolution point, a store, a threshold operator."""


class IncompatibleError(Error, ValueError):
    """Things that do not fit together: stores with different grids, a conflicting point, an
    array of the wrong shape, a reshaped store where a square one is needed."""


class MalformedFileError(Error, ValueError):
    """A file that is not what it claims: a damaged or foreign ``.npy``/``.npz``, bad store
    metadata, an eko archive libeko cannot read."""


class IoError(Error, OSError):
    """The operating system refused: a failed read or write, a full disk, no permission, a store
    another process is writing (with ``wait=False``)."""


class InvalidArgumentError(Error, ValueError):
    """An argument that makes no sense: a bad evolution point, an empty selection, a grid that is
    not increasing."""
