"""How the command line prints: aligned text tables that fit the terminal, JSON records, CSV."""

from __future__ import annotations

import csv
import datetime
import json
import math
import re
import shutil
import sys
from collections.abc import Sequence
from typing import Any

_UID = re.compile(r"(?<![0-9a-f])([0-9a-f]{8})[0-9a-f]{24}(?![0-9a-f])")
_MIN_WIDTH = 3
_TID_WIDTH = 9  # `…` and the 8 hex digits of a short uuid


def short_tid(tid: str) -> str:
    """The tid with each 32-hex uuid cut to its first 8 hex digits."""
    return _UID.sub(r"\1", tid)


def safe_text(text: str) -> str:
    """Text from a trial folder made inert for a terminal: control characters become `?`."""
    return "".join(c if c.isprintable() or c == " " else "?" for c in text)


def safe_text_block(text: str) -> str:
    """Multi-line text from a trial folder (a traceback) made inert: lines kept, controls `?`."""
    return "\n".join(safe_text(line.replace("\t", "    ")) for line in text.rstrip("\n").split("\n"))


def plain(value: Any) -> Any:
    """A value as JSON can hold it: NaN/NA/NaT -> None, datetimes as ISO strings, numpy -> Python."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return None if _is_missing(value) else value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if _is_missing(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return plain(value.item())
    return str(value)


def _is_missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def cell(value: Any) -> str:
    """A value as one table cell."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def duration(seconds: Any) -> str:
    """Seconds as `12.3s`, `4m05s` or `2h03m`; empty when unknown."""
    seconds = plain(seconds)
    if not isinstance(seconds, (int, float)):
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def timestamp(value: Any) -> str:
    """A datetime to the second, as `2025-11-26 10:15:02+01:00`; empty when unknown."""
    if not isinstance(value, datetime.datetime) or _is_missing(value):
        return cell(value)
    return value.isoformat(sep=" ", timespec="seconds")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int | None = None) -> str:
    """Rows as aligned text no wider than the terminal; long cells end in `…`, a row never wraps.

    A long tid keeps its end (the uuid tells trials apart) and starts with `…` instead.
    """
    width = width or shutil.get_terminal_size((120, 24)).columns
    cells = [[safe_text(h) for h in headers], *[[safe_text(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    floors = [min(w, _TID_WIDTH if h == "tid" else _MIN_WIDTH) for w, h in zip(widths, headers, strict=True)]
    while sum(widths) + 2 * (len(widths) - 1) > width:
        shrinkable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not shrinkable:
            break
        widths[max(shrinkable, key=lambda i: widths[i])] -= 1
    lines = []
    for row in cells:
        fitted = [_fit(text, w, from_end=name == "tid") for text, w, name in zip(row, widths, headers, strict=True)]
        line = "  ".join(fitted).rstrip()
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    return "\n".join(lines)


def _fit(text: str, width: int, *, from_end: bool = False) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return "…" + text[len(text) - width + 1 :] if from_end else text[: width - 1] + "…"


def print_json(data: Any) -> None:
    """JSON for scripts and agents; control characters are escaped by JSON itself."""
    json.dump(plain(data), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


def print_csv(headers: Sequence[str], records: Sequence[dict[str, Any]]) -> None:
    """CSV for spreadsheets and scripts; control characters become `?` as in tables (JSON keeps them)."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(headers)
    for record in records:
        writer.writerow([safe_text(_exact(record.get(h))) for h in headers])


def _exact(value: Any) -> str:
    """A value in full (floats as repr), for CSV."""
    return repr(value) if isinstance(value, float) else cell(value)


def records(frame: Any, drop: Sequence[str] = ("trial",)) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of a DataFrame as plain records, without the columns in `drop`."""
    columns = [str(c) for c in frame.columns if c not in drop]
    rows = [
        {c: plain(v) for c, v in zip(columns, values, strict=True)} for values in frame[columns].itertuples(index=False)
    ]
    return columns, rows
