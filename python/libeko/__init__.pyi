"""Type stubs of libeko: EKO stores whose operators are NumPy arrays over the mapped files."""

import os
import pathlib
from typing import Any, Callable, Iterator, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Point = Tuple[float, int]
"""An evolution point ``(mu2, nf)``: mu2 in GeV², nf the number of active flavours."""
PointLike = Union[Tuple[float, int], Sequence[Union[float, int]]]
PathLike = Union[str, os.PathLike[str]]
StoreLike = Union["Store", PathLike]
Progress = Union[None, bool, Callable[[int, int], Any]]
"""``None``/``False``: silent; ``True``: a line on ``sys.stderr``; a callable:
``progress(done, total)``."""
Basis = Literal["evol", "flavor", "flavour"]
ArrayLike = npt.ArrayLike
Report = dict[str, Any]

class Error(Exception):
    """Base of every error libeko raises, with libeko's message."""

class NotFoundError(Error, LookupError):
    """A point, store or threshold operator that is not there."""

class IncompatibleError(Error, ValueError):
    """Things that do not fit together (grids, shapes, conflicting points)."""

class MalformedFileError(Error, ValueError):
    """A damaged or foreign file, bad metadata, an unreadable eko archive."""

class IoError(Error, OSError):
    """The operating system refused (read, write, permission, a busy store)."""

class InvalidArgumentError(Error, ValueError):
    """An argument that makes no sense."""

class Operator(np.ndarray):
    """A read-only operator over a mapped file, shape ``(pid_out, x_out, pid_in, x_in)``."""

    @property
    def operator(self) -> npt.NDArray[np.float64]:
        """The values as a plain ``numpy.ndarray`` (no copy)."""
    @property
    def error(self) -> Optional[npt.NDArray[np.float64]]:
        """The error array (mapped on first access), or ``None``."""
    def __enter__(self) -> "Operator": ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

class XGrid(np.ndarray):
    """A read-only x grid (a float64 array) with eko's ``.raw``."""

    @property
    def raw(self) -> npt.NDArray[np.float64]: ...

class Card(dict[str, Any]):
    """A card as eko wrote it: a dict whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any: ...

class MappedFile:
    """The owner of one mapped file: the base object of the arrays over it."""

    @property
    def path(self) -> pathlib.Path: ...

class Items(Iterator[Tuple[Point, Operator]]):
    """The iterator of ``Store.items()``: one mapped operator per step."""

    def __next__(self) -> Tuple[Point, Operator]: ...
    def __len__(self) -> int: ...

class Store:
    """A libeko store, opened without reading any operator; see ``help(libeko.Store)``."""

    def __init__(self, path: PathLike) -> None: ...
    @classmethod
    def create(
        cls,
        path: PathLike,
        xgrid: ArrayLike,
        origin: PointLike,
        *,
        pids: Optional[Sequence[int]] = None,
        matching: Optional[dict[str, Optional[float]]] = None,
        interpolation: Optional[Tuple[int, bool]] = None,
        theory_card: Optional[dict[str, Any]] = None,
        operator_card: Optional[dict[str, Any]] = None,
    ) -> "Store":
        """An empty store for operators on ``xgrid`` evolving from ``origin``."""
    @property
    def path(self) -> pathlib.Path: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def mu20(self) -> float: ...
    @property
    def origin(self) -> Point: ...
    @property
    def mu2grid(self) -> list[float]: ...
    @property
    def evolgrid(self) -> list[Point]: ...
    @property
    def partials(self) -> list[Point]: ...
    @property
    def has_thresholds(self) -> bool: ...
    @property
    def xgrid(self) -> XGrid: ...
    @property
    def pids(self) -> list[int]: ...
    @property
    def output_xgrid(self) -> XGrid: ...
    @property
    def output_pids(self) -> list[int]: ...
    @property
    def input_xgrid(self) -> XGrid: ...
    @property
    def input_pids(self) -> list[int]: ...
    @property
    def shape(self) -> Tuple[int, int, int, int]: ...
    @property
    def is_reshaped(self) -> bool: ...
    @property
    def matching(self) -> dict[str, Optional[float]]: ...
    @property
    def interpolation(self) -> Optional[Tuple[int, bool]]: ...
    @property
    def theory_card(self) -> Optional[Card]: ...
    @property
    def operator_card(self) -> Optional[Card]: ...
    def __getitem__(self, key: PointLike) -> Operator: ...
    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Point]: ...
    def items(self) -> Items: ...
    def operator(self, *key: Any) -> Operator: ...
    def error(self, *key: Any) -> Optional[npt.NDArray[np.float64]]: ...
    def partial(self, *key: Any) -> Operator: ...
    def approx(self, ep: PointLike, rtol: float = 1e-6, atol: float = 1e-10) -> Optional[Point]: ...
    def refresh(self) -> None: ...
    def insert(self, mu2: float, nf: int, operator: ArrayLike, *, error: Optional[ArrayLike] = None) -> None: ...
    def insert_partial(self, mu2: float, nf: int, partial: ArrayLike, *, error: Optional[ArrayLike] = None) -> None: ...
    def remove(self, mu2: float, nf: int, *, partial: bool = False, wait: bool = True) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Store": ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

class Transform:
    """Reinterpolation onto other x grids and rotation of the flavour basis of a store's operators."""

    def __init__(
        self,
        store: StoreLike,
        *,
        xgrid_out: Optional[ArrayLike] = None,
        xgrid_in: Optional[ArrayLike] = None,
        basis_out: Optional[Basis] = None,
        basis_in: Optional[Basis] = None,
        interpolation: Optional[Tuple[int, bool]] = None,
        threads: Optional[int] = None,
    ) -> None: ...
    @property
    def source_shape(self) -> Tuple[int, int, int, int]: ...
    @property
    def shape(self) -> Tuple[int, int, int, int]: ...
    @property
    def output_side(self) -> Tuple[list[int], list[float]]: ...
    @property
    def input_side(self) -> Tuple[list[int], list[float]]: ...
    def apply(self, operator: ArrayLike) -> npt.NDArray[np.float64]: ...
    def __call__(self, operator: ArrayLike) -> npt.NDArray[np.float64]: ...

class SliceInfo:
    """A slice in pineappl's terms (used when pineappl is not installed or ``pineappl=False``)."""

    index: int
    point: Point
    fac0: float
    pids0: list[int]
    x0: list[float]
    fac1: float
    pids1: list[int]
    x1: list[float]
    pid_basis: str
    polarized: bool
    time_like: bool

class Slices(Iterator[Tuple[Any, npt.NDArray[np.float64]]]):
    """The iterator ``slices`` returns: ``(info, operator)`` per scale."""

    def __next__(self) -> Tuple[Any, npt.NDArray[np.float64]]: ...
    def __len__(self) -> int: ...
    @property
    def points(self) -> list[Point]: ...

class Dataset:
    """A producer's operators in NumPy arrays it owns, registered with no copy, combined in place."""

    def __init__(
        self,
        xgrid: ArrayLike,
        origin: PointLike,
        *,
        pids: Optional[Sequence[int]] = None,
        matching: Optional[dict[str, Optional[float]]] = None,
        interpolation: Optional[Tuple[int, bool]] = None,
        theory_card: Optional[dict[str, Any]] = None,
        operator_card: Optional[dict[str, Any]] = None,
    ) -> None: ...
    @property
    def shape(self) -> Tuple[int, int, int, int]: ...
    def __len__(self) -> int: ...
    def add_operator(
        self, mu2: float, nf: int, array: Optional[npt.NDArray[np.float64]] = None, *, error: Union[None, bool, npt.NDArray[np.float64]] = None
    ) -> int: ...
    def add_partial(
        self, mu2: float, nf: int, array: Optional[npt.NDArray[np.float64]] = None, *, error: Union[None, bool, npt.NDArray[np.float64]] = None
    ) -> int: ...
    def add_threshold(
        self,
        source: PointLike,
        target: PointLike,
        array: Optional[npt.NDArray[np.float64]] = None,
        *,
        error: Union[None, bool, npt.NDArray[np.float64]] = None,
    ) -> int: ...
    def bind(self, id: int, array: npt.NDArray[np.float64], *, error: bool = False) -> None: ...
    def buffer(self, id: int) -> Tuple[Any, ...]: ...
    @property
    def needed_thresholds(self) -> list[Tuple[Point, Point]]: ...
    def combine(self, *, threads: Optional[int] = None) -> None: ...
    def write_store(self, path: PathLike) -> Store: ...

def import_eko(archive: PathLike, dest: PathLike, *, nf: Optional[int] = None, progress: Progress = None) -> Store:
    """Imports an eko archive into a new store and returns it."""

def export(
    store: StoreLike,
    out: PathLike,
    *,
    with_parts: bool = False,
    compression: Literal["lz4", "none"] = "lz4",
    overwrite: bool = False,
    threads: Optional[int] = None,
    progress: Progress = None,
) -> Report:
    """Writes a store as an eko 0.15 archive."""

def merge(
    dest: StoreLike,
    sources: Sequence[StoreLike],
    *,
    transfer: Literal["link", "copy", "move"] = "link",
    on_conflict: Literal["error", "keep", "replace"] = "error",
    wait: bool = True,
) -> Report:
    """Merges stores into one."""

def split(
    source: StoreLike,
    dests: Sequence[PathLike],
    *,
    at: Optional[Sequence[float]] = None,
    points: Optional[Sequence[Sequence[PointLike]]] = None,
    transfer: Literal["link", "copy", "move"] = "link",
    wait: bool = True,
) -> Report:
    """Splits a store into new stores."""

def combine(store: StoreLike, *, threads: Optional[int] = None, wait: bool = True, progress: Progress = None) -> Report:
    """Combines partials with their threshold operators into final operators."""

def clean(store: StoreLike, *, force: bool = False, wait: bool = True) -> Report:
    """Removes thresholds.npz once every partial is combined."""

def recover(store: StoreLike, *, wait: bool = True) -> Report:
    """Brings a store back to a consistent state after an interrupted call."""

def verify(store: StoreLike, *, record: bool = False, wait: bool = True, progress: Progress = None) -> Report:
    """Checks every file of a store against its checksum."""

def apply(
    store: StoreLike,
    pdf: ArrayLike,
    points: Optional[Sequence[PointLike]] = None,
    *,
    threads: Optional[int] = None,
    progress: Progress = None,
    xgrid_out: Optional[ArrayLike] = None,
    xgrid_in: Optional[ArrayLike] = None,
    basis_out: Optional[Basis] = None,
    basis_in: Optional[Basis] = None,
    interpolation: Optional[Tuple[int, bool]] = None,
) -> Tuple[npt.NDArray[np.float64], list[Point]]:
    """Evolves a PDF (or replicas) to the store's points."""

def reshape(
    store: StoreLike,
    dest: PathLike,
    *,
    xgrid_out: Optional[ArrayLike] = None,
    xgrid_in: Optional[ArrayLike] = None,
    basis_out: Optional[Basis] = None,
    basis_in: Optional[Basis] = None,
    interpolation: Optional[Tuple[int, bool]] = None,
    threads: Optional[int] = None,
    progress: Progress = None,
) -> Store:
    """Writes a new store of transformed operators and returns it."""

def slices(
    store: StoreLike,
    *,
    scales: Optional[Sequence[float]] = None,
    nf_at: Optional[Sequence[PointLike]] = None,
    xgrid_out: Optional[ArrayLike] = None,
    xgrid_in: Optional[ArrayLike] = None,
    basis_out: Optional[Basis] = None,
    basis_in: Optional[Basis] = None,
    interpolation: Optional[Tuple[int, bool]] = None,
    threads: Optional[int] = None,
    pineappl: Optional[bool] = None,
) -> Slices:
    """A store's final operators as slices for pineappl's ``Grid.evolve``."""
