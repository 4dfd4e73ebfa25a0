"""Values from trial folders made into plain JSON data for the page, and that JSON made inert
inside HTML: the page shows them as text, whatever characters they hold."""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

from .._read.values import plain, short_text

# JavaScript numbers are doubles: larger integers travel as text so no digit changes.
_SAFE_INTEGER = 2**53


def value(item: Any, *, limit: int = 200) -> Any:
    """Returns a trial value as JSON data: numbers stay numbers (non-finite floats and integers
    beyond 2**53 as text the page reads back as numbers), text is cut at `limit` characters, and
    anything else (lists, times, inert objects) becomes its short text."""
    item = plain(item)
    if item is None or isinstance(item, bool):
        return item
    if isinstance(item, int):
        return item if -_SAFE_INTEGER <= item <= _SAFE_INTEGER else str(item)
    if isinstance(item, float):
        return item if math.isfinite(item) else repr(item).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(item, datetime.datetime):
        return item.isoformat(" ")
    return short_text(item, limit)


def kind(values: list[Any]) -> str:
    """Names what a column of trial values (as stored, before `value`) holds: `number`, `bool`
    or `text` (anything else, mixed kinds included)."""
    present = [plain(v) for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "number"
    return "text"


def dumps(data: Any) -> str:
    """Returns `data` as compact JSON (ASCII only, no NaN) for HTTP answers."""
    return json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def script_json(data: Any) -> str:
    """Returns `data` as JSON that can sit inside `<script type="application/json">`: no `<`,
    `>` or `&` anywhere in it (written as \\u escapes, which JSON reads back as the same
    characters), so no value can close the element or open another. `dumps` is ASCII only, so
    U+2028 and U+2029 are escaped already."""
    return dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
