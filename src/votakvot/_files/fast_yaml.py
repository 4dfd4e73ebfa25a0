"""A small YAML emitter and loader for plain documents, exact and much faster than PyYAML.

It covers what trial documents are made of nearly always: dicts with simple keys, lists, str,
int, float, bool, None and datetimes. `dumps` returns None for anything else, and the caller falls
back to PyYAML; whatever it emits loads back (with a safe loader) equal to its input. `loads`
reads back exactly the text `dumps` writes (the same values PyYAML's safe loader builds) and
returns None for any other text, which PyYAML then parses.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_PLAIN_STR = re.compile(r"[A-Za-z_][A-Za-z0-9_./+-]*(?::[A-Za-z0-9_./+-]+)*\Z")
# Words PyYAML's resolver reads as booleans or null (YAML 1.1).
_RESERVED = frozenset(
    {"yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE"}
    | {"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"}
)
_MAX_DEPTH = 32


class _Unsupported(Exception):
    pass


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        if _PLAIN_STR.match(value) and value not in _RESERVED:
            return value
        if value.isascii() and "\x7f" not in value:  # JSON's escapes are YAML double-quoted escapes
            return json.dumps(value)
        raise _Unsupported
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)
        return text
    if kind is datetime.datetime:
        return value.isoformat(" ")
    if kind is datetime.date:
        return value.isoformat()
    raise _Unsupported


def _mapping(value: dict[Any, Any], indent: str, out: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise _Unsupported
    for key, item in value.items():
        if type(key) is not str or not _PLAIN_KEY.match(key) or key in _RESERVED:
            raise _Unsupported
        kind = type(item)
        if kind is dict:
            if item:
                out.append(f"{indent}{key}:\n")
                _mapping(item, indent + "  ", out, depth + 1)
            else:
                out.append(f"{indent}{key}: {{}}\n")
        elif kind is list:
            if item:
                out.append(f"{indent}{key}:\n")
                for element in item:
                    out.append(f"{indent}- {_scalar(element)}\n")
            else:
                out.append(f"{indent}{key}: []\n")
        else:
            out.append(f"{indent}{key}: {_scalar(item)}\n")


def dumps(doc: dict[str, Any]) -> str | None:
    """Returns `doc` as block-style YAML, or None if it holds anything but plain values."""
    if not doc:
        return "{}\n"
    out: list[str] = []
    try:
        _mapping(doc, "", out, 0)
    except _Unsupported:
        return None
    return "".join(out)


# -- loading -----------------------------------------------------------------------------------

# One line `dumps` writes: `- scalar` (a list item), `key: value` or `key:` (a block follows).
_LINES = re.compile(r"^( *)(?:- (.+)|([A-Za-z_][A-Za-z0-9_.-]*):(?: (.+))?)$", re.MULTILINE)
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:e[-+][0-9]+)?\Z")
# The datetimes and dates `isoformat` writes that YAML 1.1 reads as timestamps (an offset with
# seconds is a string to PyYAML, so it is left to PyYAML).
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?: [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?(?:[-+][0-9]{2}:[0-9]{2})?)?\Z"
)
# Characters YAML reads differently from this loader (tabs, other line breaks, characters PyYAML
# refuses): a document holding any of them is left to PyYAML. The full class takes 3.4 ms to
# compile, so it is compiled only for the first document that is not ASCII (`str.isascii` is
# answered without a scan); an ASCII one needs only the control characters' small class.
_UNUSUAL = "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
_UNUSUAL_ASCII = "[^\n\x20-\x7e]"
_unusual: dict[str, re.Pattern[str]] = {}
# JSON escapes YAML reads the same way (`\/` and `\u` beyond U+00FF, surrogates, are left to PyYAML).
_ODD_ESCAPE = re.compile(r"\\(?:/|u(?!00))")
_CONSTANTS: dict[str, Any] = {
    **{"null": None, "true": True, "false": False},
    **{".nan": float("nan"), ".inf": float("inf"), "-.inf": float("-inf")},
}
_NOT_MINE = object()
# Scalars already read, by their text: params and statuses repeat from one document to the next.
# The values are immutable, so sharing them is safe.
_seen: dict[str, Any] = {}
_SEEN_MAX = 4096


def _load_scalar(text: str) -> Any:
    """The value of one scalar as `_scalar` writes it, or `_NOT_MINE`."""
    value = _seen.get(text, _NOT_MINE)
    if value is _NOT_MINE:
        value = _resolve(text)
        if value is not _NOT_MINE:
            if len(_seen) >= _SEEN_MAX:
                _seen.clear()
            _seen[text] = value
    return value


def _resolve(text: str) -> Any:
    first = text[0]
    if first == '"':
        if len(text) > 1 and text[-1] == '"' and "\\" not in text and '"' not in text[1:-1]:
            return text[1:-1]  # nothing escaped (control characters never get this far)
        if _ODD_ESCAPE.search(text):
            return _NOT_MINE
        try:
            value = json.loads(text)
        except ValueError:
            return _NOT_MINE
        return value if type(value) is str else _NOT_MINE
    if first.isalpha() or first == "_":
        if text in _CONSTANTS:
            return _CONSTANTS[text]
        return text if text not in _RESERVED and _PLAIN_STR.match(text) else _NOT_MINE
    try:
        if len(text) >= 10 and text[4] == "-":
            if not _TIMESTAMP.match(text):
                return _NOT_MINE
            return datetime.date.fromisoformat(text) if len(text) == 10 else datetime.datetime.fromisoformat(text)
        if _INT.match(text):
            return int(text)  # past 4,300 digits Python refuses, and so does PyYAML: it decides
        if _FLOAT.match(text):
            return float(text)
    except ValueError:
        return _NOT_MINE
    return _CONSTANTS.get(text, _NOT_MINE)


def _has_unusual(text: str) -> bool:
    pattern = _UNUSUAL_ASCII if text.isascii() else _UNUSUAL
    compiled = _unusual.get(pattern)
    if compiled is None:
        compiled = _unusual[pattern] = re.compile(pattern)
    return compiled.search(text) is not None


def loads(data: bytes | str) -> dict[str, Any] | None:
    """Returns the document `dumps` wrote as `data`, or None if `data` is any other text.

    What it returns equals (in value and type) what PyYAML's safe loader builds from the same
    text; anything it is not sure of (comments, flow style, tags, other quoting or indentation)
    makes it decline.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode()
        except UnicodeDecodeError:
            return None
    else:
        text = data
    if text == "{}\n":
        return {}
    if not text.endswith("\n") or _has_unusual(text):
        return None
    top: dict[str, Any] = {}
    maps = [top]  # the mapping open at each depth (two spaces of indent per depth)
    opened: tuple[dict[str, Any], str, int] | None = None  # a `key:` line waiting for its block
    items: list[Any] | None = None  # the list being filled, at depth `items_depth`
    items_depth = -1
    lines = _LINES.findall(text)
    if len(lines) != text.count("\n"):  # a line that is none of those
        return None
    for indent, item, key, value in lines:
        depth = len(indent)
        if depth & 1:
            return None
        depth >>= 1
        if item:
            if opened is not None:
                parent, name, at = opened
                if depth != at:
                    return None
                items, items_depth, opened = [], depth, None
                parent[name] = items
            elif items is None or depth != items_depth:
                return None
            scalar = _load_scalar(item)
            if scalar is _NOT_MINE:
                return None
            items.append(scalar)
            continue
        items = None
        if key in _RESERVED:
            return None
        if opened is not None:
            parent, name, at = opened
            if depth != at + 1:
                return None
            block: dict[str, Any] = {}
            parent[name] = block
            maps.append(block)
            opened = None
        elif depth >= len(maps):
            return None
        else:
            del maps[depth + 1 :]
        if not value:
            opened = (maps[depth], key, depth)
            continue
        if value == "{}":
            maps[depth][key] = {}
        elif value == "[]":
            maps[depth][key] = []
        else:
            scalar = _load_scalar(value)
            if scalar is _NOT_MINE:
                return None
            maps[depth][key] = scalar
    return None if opened is not None else top
