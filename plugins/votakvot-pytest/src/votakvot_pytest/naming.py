"""What a test is called as a trial: its name from the node id, its params from `parametrize`."""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import Any

import pytest

SESSION = "session"
"""The name of the session's trial; every test's name starts with `TESTS + "/"`."""
TESTS = "test"

# Names are folder paths: a '/' or '%' inside a class, function or parametrize id is escaped as
# in URLs, so is ':' (votakvot refuses '::', which fsspec reads as a chain of filesystems), and
# a leading '.' (loading skips hidden folders). The node id itself is kept as `pytest.nodeid`.
_ESCAPED = re.compile(r"[%/:\x00-\x1f\x7f]")
_MAX_SEGMENT_BYTES = 200  # file systems allow 255; a parametrize id can be any length
_KEPT_BYTES = 150
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MAX_SHOWN = 200
_SCALARS = (type(None), bool, int, float, complex, str, bytes, datetime.datetime, datetime.date)
_MAX_DEPTH = 20


def trial_name(nodeid: str) -> str:
    """Returns the trial name of a test: `test/` and its node id as a folder path.

    trial_name("tests/test_io.py::TestRead::test_csv[utf-8]")
    # 'test/tests/test_io.py/TestRead/test_csv[utf-8]'
    """
    path, _, inside = nodeid.partition("::")
    # Split classes from the function before the parametrize id, which may hold '::' itself.
    head, bracket, param_id = inside.partition("[")
    names = head.split("::") if head else []
    if bracket:
        if names:
            names[-1] += bracket + param_id
        else:
            path += bracket + param_id
    segments = [_segment(part) for part in (*path.split("/"), *names) if part]
    return "/".join([TESTS, *segments])


def _segment(text: str) -> str:
    text = _ESCAPED.sub(lambda m: f"%{ord(m.group()):02X}", text)
    if text.startswith("."):
        text = "%2E" + text[1:]
    if len(text.encode()) > _MAX_SEGMENT_BYTES:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        kept = text.encode()[:_KEPT_BYTES].decode(errors="ignore")
        text = f"{kept}~{digest}"
    return text


def params_of(item: pytest.Item) -> dict[str, Any]:
    """Returns the `parametrize` values of a test item as trial params (none for a plain test).

    Plain data (numbers, strings, bytes, dates, None, and lists, tuples, sets and str-keyed dicts
    of them) is kept as is; anything else is stored as its repr (without memory addresses, at
    most 200 characters), so no object is pickled into a trial and reruns compare equal.
    """
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return {}
    return {str(name): plain(value) for name, value in callspec.params.items()}


def plain(value: Any, depth: int = 0) -> Any:
    """Returns `value` if it is plain data, else its repr as described in `params_of`."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if depth < _MAX_DEPTH:
        if kind is list or kind is tuple:
            items = [plain(v, depth + 1) for v in value]
            return items if kind is list else tuple(items)
        if kind is set and all(type(v) in _SCALARS for v in value):
            return set(value)
        if kind is dict and all(type(k) is str for k in value):
            return {k: plain(v, depth + 1) for k, v in value.items()}
    return shown(value)


def shown(value: Any) -> str:
    """The repr of `value` without memory addresses, cut to 200 characters."""
    try:
        text = _ADDRESS.sub("", repr(value))
    except Exception:  # a broken __repr__ of the user's object: its type still says something
        text = f"<{type(value).__qualname__}>"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
