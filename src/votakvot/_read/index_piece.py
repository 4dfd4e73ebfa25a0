"""One piece of the shared report index as stored: JSON, made from report rows and checked back
into them.

A piece is data from the store, which anyone who can write there may have made: it is parsed as
JSON (never unpickled) and every field is checked (types, sizes, folder names that stay below the
folder the pieces belong to). Anything unexpected refuses the whole piece.
"""

from __future__ import annotations

import base64
import datetime
import itertools
import json
import math
import re
from typing import Any

from .report_index import MISSING, Table

KIND = "votakvot report index piece"
FORMAT = 1
# A piece larger than this is not read (votakvot writes at most COMPACT_ROWS rows to one).
MAX_BYTES = 256 * 1024 * 1024
SECTIONS = ("params", "info", "result")
LIVE_STATUSES = ("running", "resumed")
# A folder name in a piece: '/'-separated segments, none empty, none starting with '.' (so no
# '.' or '..', and nothing hidden, which loading never walks), no backslash, no NUL.
_BAD_FOLDER = re.compile(r"(?:\A|/)(?:\.|/|\Z)|[\\\x00]")
_MAX_FOLDER = 4096
_SCALARS = frozenset({str, int, float, bool, type(None)})
# `doc_tids` holds this where the recorded tid is the folder's own path below the pieces' folder.
_SAME_AS_FOLDER = 0

Listing = tuple[Any, tuple[str, ...], bool]  # a folder's (stamp, subfolders, has_document)


class Refused(ValueError):
    """A piece that is not what votakvot writes: it is ignored whole."""


class _Unshareable(Exception):
    """A value a piece cannot hold exactly: its row is not shared."""


def _cell(value: Any) -> Any:
    """Returns a report value as JSON data that `_uncell` turns back into an equal value of the
    same type; tagged one-key objects hold what JSON has no type for."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [_cell(item) for item in value]
    if kind is dict and all(type(key) is str for key in value):
        return {"$map": {key: _cell(item) for key, item in value.items()}}
    if kind is tuple:
        return {"$tuple": [_cell(item) for item in value]}
    if kind is datetime.datetime and (value.tzinfo is None or type(value.tzinfo) is datetime.timezone):
        return {"$datetime": value.isoformat()}
    if kind is datetime.date:
        return {"$date": value.isoformat()}
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode()}
    raise _Unshareable


def _uncell(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [_uncell(item) for item in value]
    if kind is dict and len(value) == 1:
        ((tag, payload),) = value.items()
        try:
            if tag == "$map" and type(payload) is dict:
                return {key: _uncell(item) for key, item in payload.items()}
            if tag == "$tuple" and type(payload) is list:
                return tuple(_uncell(item) for item in payload)
            if tag == "$datetime" and type(payload) is str:
                return datetime.datetime.fromisoformat(payload)
            if tag == "$date" and type(payload) is str:
                return datetime.date.fromisoformat(payload)
            if tag == "$bytes" and type(payload) is str:
                return base64.b64decode(payload, validate=True)
        except ValueError as e:
            raise Refused(f"a value tagged {tag!r} does not read back ({e})") from None
    raise Refused(f"an unknown kind of value: {str(value)[:80]!r}")


def below(home: str, sep: str) -> str:
    """The prefix of every folder below `home` ("" for the top of a filesystem object)."""
    return home.rstrip(sep) + sep if home else ""


def _relative(folder: str, prefix: str, sep: str) -> str:
    return folder[len(prefix) :].replace(sep, "/") if folder.startswith(prefix) else ""


def encode(home: str, sep: str, rows: Table, positions: list[int], listings: dict[str, Listing]) -> bytes | None:
    """Returns a piece holding the rows at `positions`, in report order (those with a value JSON
    cannot hold exactly are left out), and `listings`, folders relative to `home`; None if it
    would be empty."""
    prefix = below(home, sep)
    columns: dict[str, list[Any]] = {name: [] for name in _ROW_COLUMNS}
    shapes: dict[tuple[str, ...], int] = {}
    parts: list[list[Any]] = []
    created = rows.created
    for i in sorted(positions, key=lambda i: (created[i] == MISSING, created[i], rows.folders[i])):
        folder, signature = _relative(rows.folders[i], prefix, sep), rows.signatures[i]
        if not parts:
            parts = [[] for _ in signature]
        if not folder or len(signature) != len(parts):
            continue
        try:
            values = rows.values[i]
            cells = list(values) if set(map(type, values)) <= _SCALARS else [_cell(v) for v in values]
            extra = rows.extras[i]
            extra_cells = None if extra is None else {name: _cell(value) for name, value in extra.items()}
        except _Unshareable:
            continue
        doc_tid, stamp = rows.doc_tids[i], rows.folder_stamps[i] or (None, None)
        row = (
            *(folder, stamp[0], stamp[1], _SAME_AS_FOLDER if doc_tid == folder else doc_tid, rows.statuses[i]),
            *(shapes.setdefault(rows.names[i], len(shapes)), cells, extra_cells),
            *(None if value == MISSING else value for value in (created[i], rows.finished[i], rows.offsets[i])),
            None if math.isnan(rows.durations[i]) else rows.durations[i],
            rows.errors[i],
        )
        for column, value in zip(_ROW_COLUMNS, row, strict=True):
            columns[column].append(value)
        for part, value in zip(parts, signature, strict=True):
            part.append(value)
    folders = [folder for folder in listings if folder == home or folder.startswith(prefix)]
    if not columns["folders"] and not folders:
        return None
    piece = {
        "kind": KIND,
        "format": FORMAT,
        "shapes": [list(names) for names in shapes],
        "rows": {**columns, "signature": parts},
        "listings": {
            "folders": [_relative(folder, prefix, sep) for folder in folders],
            "mtimes": [listings[folder][0][0] for folder in folders],
            "ctimes": [listings[folder][0][1] for folder in folders],
            "subfolders": [[sub.rsplit(sep, 1)[-1] for sub in listings[folder][1]] for folder in folders],
            "documents": [listings[folder][2] for folder in folders],
        },
    }
    return json.dumps(piece, separators=(",", ":")).encode()


_ROW_COLUMNS = (
    *("folders", "folder_mtimes", "folder_ctimes", "doc_tids", "statuses", "shapes", "values", "extras"),
    *("created", "finished", "offsets", "durations", "errors"),
)
_NONE = type(None)


def decode(raw: bytes, home: str, sep: str) -> tuple[Table, dict[str, Listing]]:
    """Returns a piece's rows (folders made absolute below `home`) and listings; raises Refused
    (or ValueError, RecursionError) for anything but a well-formed piece."""
    piece = json.loads(raw)
    if type(piece) is not dict or piece.get("kind") != KIND or piece.get("format") != FORMAT:
        raise Refused("not a piece of this format")
    shapes = [_shape(names) for names in _list(piece.get("shapes"), "shapes")]
    rows = piece.get("rows")
    if type(rows) is not dict or set(rows) != {*_ROW_COLUMNS, "signature"}:
        raise Refused("its rows do not have the expected columns")
    relative = _list(rows["folders"], "folders")
    count = len(relative)
    for column in _ROW_COLUMNS:
        _column(rows[column], count, column)
    _check_folders(relative)
    prefix = below(home, sep)
    native = relative if sep == "/" else [folder.replace("/", sep) for folder in relative]
    folders = [prefix + folder for folder in native]
    _check_types(rows["statuses"], {str}, "statuses")
    if not set(rows["statuses"]).isdisjoint(LIVE_STATUSES):
        raise Refused("it holds a live trial")
    doc_tids = rows["doc_tids"]
    _check_types(doc_tids, {str, int, _NONE}, "doc_tids")
    if any(tid != _SAME_AS_FOLDER for tid in doc_tids if type(tid) is int):
        raise Refused("a recorded tid is a number")
    _check_types(rows["errors"], {str, _NONE}, "errors")
    table = Table(
        {
            "folders": folders,
            "folder_stamps": _stamps(rows["folder_mtimes"], rows["folder_ctimes"]),
            "signatures": _signatures(rows["signature"], count),
            "doc_tids": [folder if type(tid) is int else tid for folder, tid in zip(relative, doc_tids, strict=True)],
            "tids": list(relative),
            "statuses": rows["statuses"],
            **_cells(rows["shapes"], rows["values"], shapes),
            "extras": _extras(rows["extras"]),
            "created": _integers(rows["created"], "created", 2**63),
            "finished": _integers(rows["finished"], "finished", 2**63),
            "offsets": _integers(rows["offsets"], "offsets", 2 * 86_400),
            "durations": _durations(rows["durations"]),
            "errors": rows["errors"],
        }
    )
    return table, _listings(piece.get("listings"), home, prefix, sep)


def _list(value: Any, what: str) -> list[Any]:
    if type(value) is not list:
        raise Refused(f"its {what} are not a list")
    return value


def _column(value: Any, count: int, what: str) -> list[Any]:
    if type(value) is not list or len(value) != count:
        raise Refused(f"its column {what!r} is not a list of {count} values")
    return value


def _check_types(values: list[Any], allowed: set[type], what: str) -> None:
    if not set(map(type, values)) <= allowed:
        raise Refused(f"its {what} hold a value of another type")


def _check_folders(folders: list[Any]) -> None:
    """Refuses folder names that could leave their folder or name a hidden one: a segment that is
    empty or starts with '.' (so no '.' or '..'), a backslash or NUL. They are checked joined by
    line breaks, which only split a name holding one into two names that are checked too."""
    _check_types(folders, {str}, "folders")
    if not folders:
        return
    text = "\n".join(folders)
    bad = any(mark in text for mark in ("\\", "\x00", "/.", "\n.", "//", "\n/", "/\n", "\n\n"))
    if bad or not text or text[0] in "./\n" or text[-1] in "/\n" or max(map(len, folders)) > _MAX_FOLDER:
        name = next((f for f in folders if _BAD_FOLDER.search(f) or len(f) > _MAX_FOLDER), "")
        raise Refused(f"the folder name {name[:200]!r} is not a plain relative path below its folder")


def _shape(names: Any) -> tuple[str, ...]:
    _check_types(_list(names, "shapes"), {str}, "shapes")
    for name in names:
        section, _, field = name.partition("\0")
        if section not in SECTIONS or not field:
            raise Refused(f"a column name {name[:80]!r} is not 'section\\0field'")
    return tuple(names)


def _cells(shape_ids: list[Any], values: list[Any], shapes: list[tuple[str, ...]]) -> dict[str, list[Any]]:
    """The `names` and `values` columns: each row's names (its shape) and values, checked to fit."""
    _check_types(shape_ids, {int}, "shapes")
    if shape_ids and not 0 <= min(shape_ids) <= max(shape_ids) < len(shapes):
        raise Refused("a row names a shape the piece does not have")
    names = [shapes[i] for i in shape_ids]
    _check_types(values, {list}, "values")
    if list(map(len, values)) != list(map(len, names)):
        raise Refused("a row's values do not fit its shape")
    if set(map(type, itertools.chain.from_iterable(values))) <= _SCALARS:
        return {"names": names, "values": list(map(tuple, values))}
    return {"names": names, "values": [tuple(map(_uncell, cells)) for cells in values]}


def _extras(extras: list[Any]) -> list[dict[str, Any] | None]:
    kinds = set(map(type, extras))
    if kinds <= {_NONE}:
        return extras
    if not kinds <= {dict, _NONE}:
        raise Refused("a row's extra fields are not an object")
    return [None if extra is None else {name: _uncell(cell) for name, cell in extra.items()} for extra in extras]


def _stamps(mtimes: list[Any], ctimes: list[Any]) -> list[tuple[int, int] | None]:
    _check_types(mtimes, {int, _NONE}, "folder stamps")
    _check_types(ctimes, {int, _NONE}, "folder stamps")
    return [None if m is None or c is None else (m, c) for m, c in zip(mtimes, ctimes, strict=True)]


def _signatures(parts: Any, count: int) -> list[tuple[Any, ...]]:
    if type(parts) is not list or not (1 <= len(parts) <= 4 or (not parts and not count)):
        raise Refused("its document signatures are not 1 to 4 columns")
    for part in parts:
        _check_types(_column(part, count, "signature"), {int, str, _NONE}, "document signatures")
    return list(zip(*parts, strict=True))


def _integers(values: list[Any], what: str, bound: int) -> list[int]:
    _check_types(values, {int, _NONE}, what)
    present = [value for value in values if value is not None]
    if present and not -bound < min(present) <= max(present) < bound:
        raise Refused(f"its {what} hold a value out of range")
    return values if len(present) == len(values) else [MISSING if value is None else value for value in values]


def _durations(values: list[Any]) -> list[float]:
    _check_types(values, {int, float, _NONE}, "durations")
    return [math.nan if value is None else float(value) for value in values]


def _listings(data: Any, home: str, prefix: str, sep: str) -> dict[str, Listing]:
    fields = ("folders", "mtimes", "ctimes", "subfolders", "documents")
    if type(data) is not dict or set(data) != set(fields):
        raise Refused("its listings do not have the expected fields")
    folders = _list(data["folders"], "listed folders")
    for field in fields:
        _column(data[field], len(folders), f"listings' {field}")
    _check_folders([folder for folder in folders if folder])  # "" is the pieces' folder itself
    _check_types(data["mtimes"], {int}, "listing stamps")
    _check_types(data["ctimes"], {int}, "listing stamps")
    _check_types(data["documents"], {bool}, "listings' document flags")
    _check_types(data["subfolders"], {list}, "subfolders")
    names = list(itertools.chain.from_iterable(data["subfolders"]))
    _check_folders(names)
    if any("/" in name for name in names):
        raise Refused("a subfolder name holds '/'")
    out: dict[str, Listing] = {}
    for folder, mtime, ctime, subfolders, has_doc in zip(*(data[field] for field in fields), strict=True):
        path = prefix + folder.replace("/", sep) if folder else home
        head = below(path, sep)
        out[path] = ((mtime, ctime), tuple(head + name for name in subfolders), has_doc)
    return out
