"""Taking a trial's metric CSV files back to a snapshot: the rows stored after it move aside.

A trial resumed from a snapshot redoes the work done after it, so the rows that work metered are
superseded. They are not deleted: the rows of a part file beyond the snapshot move, under the
part's own header, to a file of the same name in `.superseded/{n}/` (n: the resume that set them
aside), and the part keeps the rows before. Rows are counted as CSV records (a quoted value may
span lines), so no row is ever cut in half.
"""

from __future__ import annotations

import os
import shutil
from typing import IO

from .. import plugins

_CHUNK = 1024 * 1024


def rewind(files: plugins.TrialFiles, steps: dict[str, int], into: str) -> None:
    """Keeps the first `steps[series]` rows of each metric series (none of a series not named)
    and moves the rest to the folder `into`."""
    parts: dict[str, list[tuple[int, str]]] = {}
    for name in files.list():
        parsed = plugins.parse_metrics_file(name)
        if parsed is not None:
            parts.setdefault(parsed[0], []).append((parsed[1], name))
    for series, found in parts.items():
        keep = steps.get(series, 0)
        for _, name in sorted(found):
            keep = _cut(files, name, keep, into)


def _cut(files: plugins.TrialFiles, name: str, keep: int, into: str) -> int:
    """Keeps the first `keep` rows of one part file, moves the others to `into`, and returns
    how many rows the later parts of the series keep."""
    with files.open(name, "rb") as f:
        header_end, headers = _record_end(f, 1)
        if not headers:  # an empty file has no rows to keep or move
            return keep
        f.seek(0)
        cut, records = _record_end(f, 1 + keep)
        kept = records - 1
        size = f.seek(0, os.SEEK_END)
        if cut >= size:
            return keep - kept
        f.seek(0)
        header = f.read(header_end)
        f.seek(cut)
        with files.open(f"{into}/{name}", "wb") as out:
            out.write(header)
            shutil.copyfileobj(f, out, _CHUNK)
        if kept and not files.appendable:  # an object store: the part is written whole again
            f.seek(0)
            head = f.read(cut)
    if not kept:
        files.remove(name)
    elif files.appendable:
        with files.open(name, "r+b") as part:
            part.truncate(cut)
    else:
        files.write(name, head)
    return keep - kept


def _record_end(f: IO[bytes], records: int) -> tuple[int, int]:
    """Reads CSV records from the start of the file; returns the offset after the `records`-th
    (or after the last complete one, if there are fewer) and how many were found.

    A record ends at a newline outside quotes; a `"` inside a quoted value is written twice, so
    counting quotes tells whether a newline is inside one.
    """
    offset = found = end_of_last = 0
    quoted = False
    while found < records:
        chunk = f.read(_CHUNK)
        if not chunk:
            break
        if not quoted and b'"' not in chunk:
            lines = chunk.count(b"\n")
            if found + lines < records:  # the usual case: plain numbers, counted in C
                found += lines
                if lines:
                    end_of_last = offset + chunk.rfind(b"\n") + 1
                offset += len(chunk)
                continue
        start = 0
        while found < records:
            newline = chunk.find(b"\n", start)
            if newline < 0:
                break
            quoted ^= chunk.count(b'"', start, newline) % 2 == 1
            start = newline + 1
            if not quoted:
                found += 1
                end_of_last = offset + start
        quoted ^= found < records and chunk.count(b'"', start) % 2 == 1
        offset += len(chunk)
    return end_of_last, found
