"""The local report index: a cache of what loading found, so the next load reads only changes.

One file per loaded base folder, in `$VOTAKVOT_CACHE_DIR` (default: `$XDG_CACHE_HOME/votakvot`
or `~/.cache/votakvot`), on the machine that loads (what other machines may use is the shared
index in the store, `shared_index`). It holds each trial's folder and document signatures and
report row, the local walk's folder listings, and which pieces of the shared index this machine
has read. The trial files stay the only truth: a missing, stale or unreadable index is rebuilt,
and deleting it loses nothing. It is read with an unpickler that builds only plain data.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import io
import itertools
import logging
import operator
import os
import pickle
import threading
from collections.abc import MutableSequence
from typing import Any

from .. import _envvars
from .._files.yaml_format import InertObject
from .._process.local_cache import cache_dir

log = logging.getLogger("votakvot.index")

FORMAT = 6
_ALLOWED = (
    {("builtins", name) for name in ("dict", "list", "tuple", "set", "frozenset", "bytes", "complex", "bytearray")}
    | {("datetime", name) for name in ("datetime", "date", "time", "timedelta", "timezone")}
    | {("votakvot", "InertObject")}
    | {("array", "array"), ("array", "_array_reconstructor")}
)
# Numeric columns are kept as typed arrays: 100,000 values unpickle as one block, not as objects.
NUMERIC = {"created": "q", "finished": "q", "offsets": "q", "durations": "d"}
MISSING = -(2**63)  # an integer column's "none" (a datetime64 reads it as NaT); floats use NaN


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"the index may not hold {module}.{name}")
        return InertObject if name == "InertObject" else super().find_class(module, name)


def enabled() -> bool:
    """Tells whether the index is on (`VOTAKVOT_INDEX=0` turns it off)."""
    return os.environ.get(_envvars.INDEX, "1") != "0"


class Table:
    """Trial folders with their report rows, column-wise: one list per field, in report order
    (creation time, then folder).

    Column-wise, 100,000 rows unpickle, compare and turn into a frame without a per-row object.
    `folder_stamps` holds a trial folder's (mtime, ctime) when it has no subfolders (so a load may
    check it with two stats and no listing), else None; a None signature is never trusted.
    """

    COLUMNS = (
        *("folders", "folder_stamps", "signatures", "doc_tids", "tids", "statuses", "names", "values", "extras"),
        *("created", "finished", "offsets", "durations", "errors"),
    )
    __slots__ = (*COLUMNS, "_positions")
    folders: list[str]
    folder_stamps: list[tuple[int, int] | None]
    signatures: list[Any]
    doc_tids: list[Any]  # the tid the document records; `tids` holds the one the load gave
    tids: list[str]
    statuses: list[str]  # as recorded: a live one is checked for a crash on every load
    names: list[tuple[str, ...]]
    values: list[tuple[Any, ...]]
    extras: list[dict[str, Any] | None]
    created: MutableSequence[int]  # microseconds since the epoch (`at.created`), exact where a float is not
    finished: MutableSequence[int]
    offsets: MutableSequence[int]  # the UTC offset `at.created` was recorded with, in seconds
    durations: MutableSequence[float]
    errors: list[str | None]  # as recorded: a crash is derived on every load, as the status is

    def __init__(self, columns: dict[str, list[Any]] | None = None) -> None:
        for column in self.COLUMNS:
            setattr(self, column, columns[column] if columns is not None else [])
        self._positions: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.folders)

    def columns(self) -> dict[str, list[Any]]:
        return {column: getattr(self, column) for column in self.COLUMNS}

    def positions(self) -> dict[str, int]:
        """Maps each folder to its row; built once, as the walk and the load both look rows up."""
        if self._positions is None:
            self._positions = dict(zip(self.folders, range(len(self.folders)), strict=True))
        return self._positions

    def append(self, *row: Any) -> None:
        self._positions = None
        for column, value in zip(self.COLUMNS, row, strict=True):
            getattr(self, column).append(value)

    def row(self, i: int) -> tuple[Any, ...]:
        return tuple(getattr(self, column)[i] for column in self.COLUMNS)

    def take(self, positions: list[int]) -> Table:
        """Returns the rows at `positions`, in that order (itself when that is every row in order)."""
        if positions == list(range(len(self))):
            return self
        return Table({column: [getattr(self, column)[i] for i in positions] for column in self.COLUMNS})

    def extend(self, other: Table) -> None:
        self._positions = None
        for column in self.COLUMNS:
            getattr(self, column).extend(getattr(other, column))

    def in_order(self) -> bool:
        """Tells whether the rows are in report order already (as an index or a piece keeps
        them), checked without building a sort key per row."""
        created, folders = self.created, self.folders
        if len(created) < 2:
            return True
        if MISSING in created or not all(map(operator.le, created, itertools.islice(created, 1, None))):
            return False
        ties = [i for i, same in enumerate(map(operator.eq, created, itertools.islice(created, 1, None))) if same]
        return all(folders[i] < folders[i + 1] for i in ties)

    def sort(self) -> list[int]:
        """Sorts the rows by creation time, then folder (rows without one last); returns the old
        position of each new row."""
        created, folders = self.created, self.folders
        if self.in_order():
            return list(range(len(self)))
        order = sorted(
            range(len(self)),
            key=lambda i: (created[i] == MISSING, created[i], folders[i]),
        )
        self._positions = None
        for column in self.COLUMNS:
            values = getattr(self, column)
            setattr(self, column, [values[i] for i in order])
        return order


_COLUMN_TYPES: dict[str, set[type]] = {
    "folders": {str},
    "folder_stamps": {tuple, type(None)},
    "signatures": {tuple, type(None)},
    "tids": {str},
    "statuses": {str},
    "names": {tuple},
    "values": {tuple},
    "extras": {dict, type(None)},
    "errors": {str, type(None)},
}


def _types(values: Any) -> set[type]:
    return set(map(type, values))


def _well_formed(anchors: Any, listings: Any, columns: Any) -> bool:
    """Tells whether unpickled index data has the shapes loading relies on (a file that was
    damaged, or written by hand, is then ignored instead of failing the load)."""
    if type(anchors) is not list or not _types(anchors) <= {str} or type(listings) is not dict:
        return False
    if type(columns) is not dict or set(columns) != set(Table.COLUMNS):
        return False
    if not all(type(values) is list for name, values in columns.items() if name not in NUMERIC):
        return False
    if not all(type(columns[name]) is array.array and columns[name].typecode == code for name, code in NUMERIC.items()):
        return False
    if len({len(values) for values in columns.values()}) != 1:
        return False
    if not all(_types(columns[name]) <= allowed for name, allowed in _COLUMN_TYPES.items()):
        return False
    if not _types(listings) <= {str} or not _types(listings.values()) <= {tuple}:
        return False
    if not all(len(entry) == 3 and type(entry[1]) is tuple for entry in listings.values()):
        return False
    return _types(itertools.chain.from_iterable(entry[1] for entry in listings.values())) <= {str}


def _packed(table: Table) -> dict[str, Any]:
    """The local disk's stamps and signatures as one array of integers per field, with the rows
    that have no stamp: 100,000 of them unpickle in a few milliseconds instead of forty."""
    signatures, stamps = table.signatures, table.folder_stamps
    unstamped = [i for i, stamp in enumerate(stamps) if stamp is None]
    try:
        if not len(table) or set(map(len, signatures)) != {4}:
            return {}  # no rows, or a remote store's signatures (size, ETag)
        fields = [array.array("q", field) for field in zip(*signatures, strict=True)]
        times = [array.array("q", field) for field in zip(*(stamp or (0, 0) for stamp in stamps), strict=True)]
    except (TypeError, OverflowError):
        return {}
    return {"signatures": ("packed", fields), "folder_stamps": ("packed", times, unstamped)}


def _unpacked(columns: Any) -> Any:
    """Turns packed columns (see `_packed`) back into lists of tuples."""
    if type(columns) is not dict:
        return columns
    packed = columns.get("signatures")
    if type(packed) is tuple and len(packed) == 2 and packed[0] == "packed" and type(packed[1]) is list:
        columns["signatures"] = list(zip(*packed[1], strict=True))
    packed = columns.get("folder_stamps")
    if type(packed) is tuple and len(packed) == 3 and packed[0] == "packed" and type(packed[1]) is list:
        stamps: list[Any] = list(zip(*packed[1], strict=True))
        for i in packed[2]:
            stamps[i] = None
        columns["folder_stamps"] = stamps
    return columns


def _shared_well_formed(shared: Any) -> bool:
    if shared is None:
        return True
    if type(shared) is not tuple or len(shared) != 2 or type(shared[0]) is not str or type(shared[1]) is not list:
        return False
    return _types(shared[1]) <= {str}


class Index:
    """What the last load of one base folder (`key`: its URL) saw: folder listings and trial rows."""

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        self.path = os.path.join(cache_dir(), "index", f"{digest}.pickle")
        self.key = key
        self.anchors: list[str] = []
        self.listings: dict[str, Any] = {}
        self.table = Table()
        self.shared: tuple[str, list[str]] | None = None  # (a shared index's folder, the pieces read there)

    def load(self) -> Index:
        try:
            with open(self.path, "rb") as f:
                data = _SafeUnpickler(io.BytesIO(f.read())).load()
            if data.get("format") == FORMAT and data.get("key") == self.key:
                anchors, listings, columns, shared = data["anchors"], data["listings"], data["table"], data["shared"]
                columns = _unpacked(columns)
                if _well_formed(anchors, listings, columns) and _shared_well_formed(shared):
                    self.anchors, self.listings, self.table, self.shared = anchors, listings, Table(columns), shared
                else:
                    log.info("ignoring the malformed report index %s", self.path)
        except FileNotFoundError:
            pass
        except Exception as e:
            log.info("ignoring the unreadable report index %s: %r", self.path, e)
        return self

    def save(
        self, anchors: list[str], listings: dict[str, Any], table: Table, shared: tuple[str, list[str]] | None
    ) -> None:
        """Writes the index atomically; a cache that cannot be written is simply not kept."""
        columns = {
            column: array.array(NUMERIC[column], values) if column in NUMERIC else values
            for column, values in table.columns().items()
        }
        columns.update(_packed(table))
        data = {
            **{"format": FORMAT, "key": self.key, "anchors": anchors, "listings": listings},
            **{"table": columns, "shared": shared},
        }
        tmp = f"{self.path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "wb") as f:
                pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except Exception as e:
            log.info("could not write the report index %s: %r", self.path, e)
            with contextlib.suppress(OSError):
                os.remove(tmp)
