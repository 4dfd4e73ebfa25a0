"""The built-in sink that writes metric series as plain CSV files.

`meter()` only appends the event to a deque (thread-safe, no lock). Rows reach the files in
batches: when enough are pending, on every ticker beat (about once per flush interval) and at
the end of the trial. Each series has its columns `step,time,<metric names...>`; when a row
brings a new name, a new part file starts with the grown header, so every file stays plain CSV.
"""

from __future__ import annotations

import collections
import csv
import io
import threading
from typing import Any

from . import _layout
from .events import Finished, Metered

_BATCH = 4096
AUTO_COLUMNS = ("step", "time")


class _Series:
    """One metric series: its current part file and header."""

    __slots__ = ("columns", "file", "index", "name", "part", "writer")

    def __init__(self, name: str, part: int) -> None:
        self.name = name
        self.part = part
        self.columns: tuple[str, ...] = ()
        self.index: dict[str, int] = {}
        self.file: Any = None
        self.writer: Any = None


class CsvMetricsSink:
    """Buffers `Metered` rows and writes them to `metrics[.SERIES][.PART].csv` in batches."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.store = trial.store
        self.pending: collections.deque[Metered] = collections.deque()
        self.lock = threading.Lock()
        self.series: dict[str, _Series] = {}
        self.append = self.store.appendable

    def subscriptions(self) -> dict[type, Any]:
        return {Metered: self.metered, Finished: self.finished}

    def metered(self, event: Metered) -> None:
        pending = self.pending
        pending.append(event)
        if len(pending) >= _BATCH:
            self.flush()

    def tick(self, now: float) -> None:
        if self.pending:
            self.flush()

    def finished(self, event: Finished) -> None:
        self.flush()
        with self.lock:
            for s in self.series.values():
                if s.file is not None:
                    s.file.close()
                    s.file = None

    def flush(self) -> None:
        """Writes every pending row; safe to call from any thread."""
        with self.lock:
            pending = self.pending
            count = len(pending)
            if not count:
                return
            batches: dict[str, list[tuple[Any, ...]]] = {}
            pop = pending.popleft
            for _ in range(count):
                event = pop()
                s = self.series.get(event.series)
                if s is None:
                    s = self.series[event.series] = _Series(event.series, self._first_part(event.series))
                values = event.values
                if tuple(values) != s.columns:
                    if not s.index.keys() >= values.keys():
                        self._write(s, batches.pop(s.name, []))
                        self._new_part(s, values)
                    if tuple(values) != s.columns:
                        get = values.get
                        batches.setdefault(s.name, []).append(
                            (event.step, event.time, *(get(c, "") for c in s.columns))
                        )
                        continue
                batches.setdefault(s.name, []).append((event.step, event.time, *values.values()))
            for name, rows in batches.items():
                self._write(self.series[name], rows)

    def _first_part(self, series: str) -> int:
        if not self.trial.resumed:
            return 0
        parts = [
            parsed[1]
            for parsed in map(_layout.parse_metrics_file, self.store.listdir(self.trial.folder))
            if parsed is not None and parsed[0] == series
        ]
        return max(parts) + 1 if parts else 0

    def _new_part(self, s: _Series, values: dict[str, Any]) -> None:
        grown = list(s.columns)
        grown.extend(k for k in values if k not in s.index)
        if s.file is not None:
            s.file.close()
            s.file = None
        if s.columns and self.append:  # object stores moved on to a new part already
            s.part += 1
        s.columns = tuple(grown)
        s.index = {c: i for i, c in enumerate(grown)}

    def _write(self, s: _Series, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        header = (*AUTO_COLUMNS, *s.columns)
        if self.append:
            if s.file is None:
                path = self.store.join(self.trial.folder, _layout.metrics_file(s.name, s.part))
                s.file = self.store.open(path, "a", newline="", encoding="utf-8")
                s.writer = csv.writer(s.file)
                if s.file.tell() == 0:
                    s.writer.writerow(header)
            s.writer.writerows(rows)
            s.file.flush()
            return
        # Object stores cannot append: every batch becomes its own complete part.
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows(rows)
        path = self.store.join(self.trial.folder, _layout.metrics_file(s.name, s.part))
        self.store.write_atomic(path, buf.getvalue().encode())
        s.part += 1
