"""A small YAML emitter for plain documents, exact and much faster than PyYAML's representer.

It covers what trial documents are made of nearly always: dicts with simple keys, lists, str,
int, float, bool, None and datetimes. It returns None for anything else, and the caller falls
back to PyYAML; whatever it emits loads back (with a safe loader) equal to its input.
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
