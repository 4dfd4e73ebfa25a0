"""Values read from trials shown to people: plain Python instead of numpy scalars, short text."""

from __future__ import annotations

import datetime
from typing import Any

SHORT_TEXT = 200


def plain(value: Any) -> Any:
    """Returns `value` as plain Python: a numpy scalar becomes its Python number (so it shows as
    `0.1`, not `np.float64(0.1)`), containers are converted throughout."""
    kind = type(value)
    if kind.__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, dict):
        return {plain(key): plain(child) for key, child in value.items()}
    if kind is list or kind is tuple:
        return kind(plain(child) for child in value)
    return value


def short_text(value: Any, limit: int = SHORT_TEXT) -> str:
    """Returns `value` as one short line of text: strings as they are, times in ISO form, the
    rest as the repr of its plain form; cut at `limit` characters."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, datetime.datetime):
        text = value.isoformat(" ")
    else:
        try:
            text = repr(plain(value))
        except Exception:
            text = object.__repr__(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
