"""libeko for Python: EKO stores whose operators are NumPy arrays over the mapped files.

An evolution kernel operator (EKO) for one evolution point ``(mu2, nf)`` is a rank-4 array
``[pid_out, x_out, pid_in, x_in]``. A libeko *store* keeps each in its own ``.npy`` file;
:class:`Store` opens one without reading any operator, and ``store[mu2, nf]`` is a read-only
``numpy.ndarray`` over the mapped file: no archive to extract, nothing decompressed, nothing
copied, and any number of processes can read one store at once.

    import libeko
    store = libeko.import_eko("eko.tar", "my-eko")     # once; later: libeko.Store("my-eko")
    for (mu2, nf), op in store.items():
        ...                                              # op is a read-only numpy array

The functions do what the ``eko`` command line does: :func:`import_eko`, :func:`export`,
:func:`merge`, :func:`split`, :func:`combine`, :func:`clean`, :func:`recover`, :func:`verify`,
:func:`apply`, :func:`reshape` (and :class:`Transform`), :func:`slices` (for pineappl's
``Grid.evolve``), and :class:`Dataset` for producers that compute operators in memory. Errors
are :class:`Error` subclasses carrying libeko's message.
"""

from ._errors import (
    Error,
    IncompatibleError,
    InvalidArgumentError,
    IoError,
    MalformedFileError,
    NotFoundError,
)
from ._operator import Card, Operator, XGrid
from ._libeko import (
    Dataset,
    Items,
    MappedFile,
    SliceInfo,
    Slices,
    Store,
    Transform,
    __version__,
    apply,
    clean,
    combine,
    export,
    import_eko,
    merge,
    recover,
    reshape,
    slices,
    split,
    verify,
)

__all__ = [
    "Card",
    "Dataset",
    "Error",
    "IncompatibleError",
    "InvalidArgumentError",
    "IoError",
    "Items",
    "MalformedFileError",
    "MappedFile",
    "NotFoundError",
    "Operator",
    "SliceInfo",
    "Slices",
    "Store",
    "Transform",
    "XGrid",
    "__version__",
    "apply",
    "clean",
    "combine",
    "export",
    "import_eko",
    "merge",
    "recover",
    "reshape",
    "slices",
    "split",
    "verify",
]
