"""Reading a trial's metric CSV files back as one DataFrame.

A series gets a new part file whenever a row brings a new metric name, so a trial may have
thousands of small parts. Runs of small parts are merged into one CSV text (the csv module
lines up their columns) and parsed once; a large part is parsed by itself. Either way the
values and dtypes are those `pandas.read_csv` gives, and the frames are concatenated in order.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .._files import layout
from .._files.storage import Store
from ..errors import TrialLoadError

# Parts up to this size are merged with their neighbours before parsing: parsing a file costs
# pandas about a millisecond however small it is, and concatenating frames of different
# columns costs more with each frame.
_SMALL_PART_BYTES = 64 * 1024


def _files(store: Store, folder: str, series: str | None) -> list[tuple[str, int, str]]:
    found = []
    for name in store.listdir(folder):
        parsed = layout.parse_metrics_file(name)
        if parsed is not None and (series is None or parsed[0] == series):
            found.append((parsed[0], parsed[1], name))
    found.sort()
    return found


def load(store: Store, folder: str, *, series: str | None = None) -> Any:
    """Returns the metric rows of the trial in `folder` as one DataFrame (see `votakvot.metrics`)."""
    import pandas as pd

    parts: list[tuple[str, str, bytes]] = []
    for name_of_series, _, name in _files(store, folder, series):
        data = store.read_bytes(store.join(folder, name))
        if data.strip():
            parts.append((name_of_series, name, data))
    if not parts:
        return pd.DataFrame(columns=["step", "time"])
    frames: list[Any] = []
    labels: list[str] = []
    run: list[tuple[str, str, bytes]] = []
    for part in parts:
        if len(part[2]) <= _SMALL_PART_BYTES:
            run.append(part)
            continue
        if run:
            _add_run(pd, run, frames, labels)
            run = []
        frame = pd.read_csv(io.BytesIO(part[2]))
        frames.append(frame)
        labels.extend([part[0]] * len(frame))
    if run:
        _add_run(pd, run, frames, labels)
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    if series is None and any(name for name, _, _ in parts):
        frame.insert(0, "_series" if "series" in frame.columns else "series", labels)
    return frame


def _add_run(pd: Any, run: list[tuple[str, str, bytes]], frames: list[Any], labels: list[str]) -> None:
    """Parses consecutive small parts as one CSV whose header is the union of theirs."""
    if len(run) == 1:
        frame = pd.read_csv(io.BytesIO(run[0][2]))
        frames.append(frame)
        labels.extend([run[0][0]] * len(frame))
        return
    parsed: list[tuple[str, list[str], list[list[str]]]] = []
    position: dict[str, int] = {}
    for series, name, data in run:
        header, *rows = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
        rows = [row for row in rows if row]  # read_csv skips blank lines too
        for column in header:
            position.setdefault(column, len(position))
        if len(header) != len(set(header)):
            raise TrialLoadError(f"metric file {name} names a column twice in its header {header!r}")
        parsed.append((name, header, rows))
        labels.extend([series] * len(rows))
    width = len(position)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(position)
    for name, header, rows in parsed:
        places = [position[column] for column in header]
        prefix = places == list(range(len(places)))
        for i, row in enumerate(rows):
            if len(row) > len(header):
                raise TrialLoadError(f"metric file {name}: row {i + 2} has {len(row)} fields, its header {len(header)}")
            if prefix:
                writer.writerow(row + [""] * (width - len(row)))
            else:
                full = [""] * width
                for place, value in zip(places, row, strict=False):  # a short row leaves the rest empty
                    full[place] = value
                writer.writerow(full)
    frames.append(pd.read_csv(io.StringIO(out.getvalue())))
