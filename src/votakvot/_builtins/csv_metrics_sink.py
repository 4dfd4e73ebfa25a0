"""The built-in sink that writes metric series as plain CSV files.

Rows arrive in `Metered` batches (the trial buffers `meter()` calls). Each series has the
columns `step,time,<metric names...>` (a metered `step=` or `time=` replaces the automatic
one); when a row brings a new name, a new part file starts with
the grown header, so every file stays plain CSV. Local files stay open for the trial's life and
are flushed to the OS after every batch; object stores get one complete part per batch.
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
from collections.abc import Callable
from typing import Any

from .. import plugins
from ..events import Finished, Metered

AUTO_COLUMNS = ("step", "time")

Row = tuple[int, float, dict[str, Any]]
_VALUES = operator.itemgetter(2)
# Exact types whose repr is what csv.writer writes, never quoted (subclasses such as bool differ).
_PLAIN_NUMBERS = {int, float}


class _Series:
    """One metric series: its current part file and header."""

    __slots__ = ("columns", "file", "getter", "name", "part")

    def __init__(self, name: str, part: int) -> None:
        self.name = name
        self.part = part
        self.columns: tuple[str, ...] = ()
        self.getter: Callable[[dict[str, Any]], Any] | None = None
        self.file: Any = None

    def grow(self, names: list[str]) -> None:
        self.columns = (*self.columns, *names)
        self.getter = operator.itemgetter(*self.columns)


class CsvMetricsSink:
    """Writes `Metered` batches to `metrics[.SERIES][.PART].csv` in the trial folder."""

    def __init__(self, trial: plugins.TrialView) -> None:
        self.trial = trial
        self.files = trial.files
        self.series: dict[str, _Series] = {}
        self.append = self.files.appendable

    def subscriptions(self) -> dict[type, Any]:
        return {Metered: self.metered, Finished: self.finished}

    def finished(self, event: Finished) -> None:
        # Sinks finish in reverse order, so samplers that meter (system metrics) stopped already;
        # whatever they added since the trial's own last flush is written now.
        self.trial.flush_metrics()
        for s in self.series.values():
            if s.file is not None:
                s.file.close()
                s.file = None

    def metered(self, event: Metered) -> None:
        s = self.series.get(event.series)
        if s is None:
            s = self.series[event.series] = _Series(event.series, self._first_part(event.series))
        rows = event.rows
        if not s.columns and rows and not {"step", "time"} & rows[0][2].keys():
            s.grow(list(rows[0][2]))  # the first row names the columns, as the slow path would
        text = self._fast_text(s, rows)
        if text is None:
            text = self._slow_text(s, rows)
        self._write(s, text)

    def _fast_text(self, s: _Series, rows: list[Row]) -> str | None:
        """Formats rows that have exactly the current columns, all plain ints and floats (the
        usual case). Their `repr` is what `csv.writer` writes and needs no quoting; formatting
        them directly takes a third less time than `csv.writer`, the slowest step of a flush.
        """
        getter, width = s.getter, len(s.columns)
        if getter is None or sum(map(len, map(_VALUES, rows))) != width * len(rows):
            return None
        try:
            if width == 1:
                kinds = set(map(type, map(getter, map(_VALUES, rows))))
            else:
                kinds = set(map(type, itertools.chain.from_iterable(map(getter, map(_VALUES, rows)))))
        except KeyError:
            return None
        if not kinds <= _PLAIN_NUMBERS:
            return None
        if width == 1:
            return "".join([f"{step},{stamp!r},{getter(values)!r}\r\n" for step, stamp, values in rows])
        return "".join([f"{step},{stamp!r},{','.join(map(repr, getter(values)))}\r\n" for step, stamp, values in rows])

    def _slow_text(self, s: _Series, rows: list[Row]) -> str:
        out: list[tuple[Any, ...]] = []
        for step, stamp, values in rows:
            if "step" in values or "time" in values:  # the caller's own step or time wins
                values = dict(values)
                step = values.pop("step", step)
                stamp = values.pop("time", stamp)
            new = [k for k in values if k not in s.columns]
            if new:
                self._write(s, _csv_text(out))
                out = []
                self._next_part(s)
                s.grow(new)
            get = values.get
            out.append((step, stamp, *(get(c, "") for c in s.columns)))
        return _csv_text(out)

    def _first_part(self, series: str) -> int:
        if not self.trial.resumed:
            return 0
        parts = [
            parsed[1]
            for parsed in map(plugins.parse_metrics_file, self.files.list())
            if parsed is not None and parsed[0] == series
        ]
        return max(parts) + 1 if parts else 0

    def _next_part(self, s: _Series) -> None:
        if s.file is not None:
            s.file.close()
            s.file = None
        if s.columns and self.append:  # object stores moved on to a new part already
            s.part += 1

    def _write(self, s: _Series, text: str) -> None:
        if not text:
            return
        name = plugins.metrics_file(s.name, s.part)
        if self.append:
            if s.file is None:
                s.file = self.files.open(name, "a", newline="", encoding="utf-8")
                if s.file.tell() == 0:
                    s.file.write(_csv_text([(*AUTO_COLUMNS, *s.columns)]))
            s.file.write(text)
            s.file.flush()
            return
        self.files.write(name, (_csv_text([(*AUTO_COLUMNS, *s.columns)]) + text).encode())
        s.part += 1


def _csv_text(rows: list[tuple[Any, ...]]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    return buf.getvalue()
