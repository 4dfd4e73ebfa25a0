"""The built-in sink that writes metric series as plain CSV files.

Rows arrive in `Metered` batches (the trial buffers `meter()` calls). Each series has the
columns `step,time,<metric names...>` (a metered `step=` or `time=` replaces the automatic
one); when a row brings a new name, a new part file starts with the grown header, so every file
stays plain CSV. Local files stay open for the trial's life and every batch is one append;
object stores get one complete part per batch.

A batch that cannot be written (a full disk, a store that went away) leaves no trace in the
files: a partial append is cut back, so no file ever holds a torn row. Its rows are kept
(up to `MAX_PENDING_ROWS` per series) and written with the next batch; what is still unwritten
when the trial finishes makes the `Finished` handler raise, which the trial reports.

A trial resumed from a snapshot (`Restored`) sets aside the rows stored after it (`csv_rewind`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import operator
import os
import posixpath
from collections.abc import Callable
from typing import Any

from .. import plugins
from ..events import Finished, Metered, Restored
from . import csv_rewind

AUTO_COLUMNS = ("step", "time")
# Rows of one series kept while they cannot be written; past this the oldest are given up.
MAX_PENDING_ROWS = 1_000_000

Row = tuple[int, float, dict[str, Any]]
Chunk = tuple[int, tuple[str, ...], str]  # (part, columns, CSV text of the rows)
_VALUES = operator.itemgetter(2)
# Exact types whose repr is what csv.writer writes, never quoted (subclasses such as bool differ).
_PLAIN_NUMBERS = {int, float}


class _Series:
    """One metric series: its current part file and header, and rows not yet written."""

    __slots__ = ("columns", "file", "file_part", "getter", "last_step", "lost", "name", "part", "pending")

    def __init__(self, name: str, part: int) -> None:
        self.name = name
        self.part = part
        self.columns: tuple[str, ...] = ()
        self.getter: Callable[[dict[str, Any]], Any] | None = None
        self.file: Any = None
        self.file_part = -1
        self.last_step = -1  # the last automatic step written: a re-published row is not written twice
        self.pending: list[Row] = []
        self.lost = 0

    def grow(self, names: list[str]) -> None:
        self.columns = (*self.columns, *names)
        self.getter = operator.itemgetter(*self.columns)

    def close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None


class CsvMetricsSink:
    """Writes `Metered` batches to `metrics[.SERIES][.PART].csv` in the trial folder."""

    # Keeps what it could not write and writes it later; only its `Finished` handler's failure counts.
    retrying = True

    def __init__(self, trial: plugins.TrialView) -> None:
        self.trial = trial
        self.files = trial.files
        self.series: dict[str, _Series] = {}
        self.append = self.files.appendable

    def subscriptions(self) -> dict[type, Any]:
        return {Metered: self.metered, Finished: self.finished, Restored: self.restored}

    def restored(self, event: Restored) -> None:
        """Takes the files back to the snapshot the trial resumed from: the rows stored after it
        move to `.superseded/{resumed}/` (see `csv_rewind`); new rows go to new parts."""
        for s in self.series.values():
            s.close()
        self.series.clear()
        csv_rewind.rewind(self.files, event.steps, f"{plugins.SUPERSEDED}/{self.trial.resumed}")

    def finished(self, event: Finished) -> None:
        # Sinks finish in reverse order, so samplers that meter (system metrics) stopped already;
        # whatever they added since the trial's own last flush is written now.
        self.trial.flush_metrics()
        errors: list[OSError] = []
        for s in self.series.values():
            if s.pending:
                try:
                    self._store(s, [])
                except OSError as e:
                    errors.append(e)
            if s.lost:
                name = plugins.metrics_file(s.name, s.part)
                errors.append(OSError(f"{s.lost} rows were given up while the store failed", self._where(name)))
            s.close()
        if errors:
            raise errors[0]

    def metered(self, event: Metered) -> None:
        s = self.series.get(event.series)
        if s is None:
            s = self.series[event.series] = _Series(event.series, self._first_part(event.series))
        rows = event.rows
        if rows and rows[0][0] <= s.last_step:  # published again after an interrupted flush
            rows = [row for row in rows if row[0] > s.last_step]
        if s.pending:
            rows = s.pending + rows
        if rows:
            self._store(s, rows)

    def _store(self, s: _Series, rows: list[Row]) -> None:
        """Writes `rows` (the pending ones first) as one attempt: all of them, or none.

        Whatever interrupts the attempt (a failing store, or a signal at any point) leaves the
        files and the series as before it; the rows are then kept here (a failing store) or by
        the trial's buffer (a signal), and the next attempt writes each exactly once.
        """
        rows = rows or s.pending
        saved = (s.columns, s.getter, s.part, s.pending, s.last_step)
        appended: list[tuple[Any, int]] = []
        try:
            for part, columns, text in self._chunks(s, rows):
                self._write(s, part, columns, text, appended)
            s.pending = []
            s.last_step = max(s.last_step, rows[-1][0])
        except BaseException as e:
            for file, size in appended:  # cut back what this attempt added: no torn row stays
                with contextlib.suppress(OSError):
                    file.truncate(size)
            s.columns, s.getter, s.part, s.pending, s.last_step = saved
            s.close()
            if isinstance(e, Exception):  # the store failed: keep the rows for the next attempt
                s.pending = self._bounded(s, rows)
            raise

    @staticmethod
    def _bounded(s: _Series, rows: list[Row]) -> list[Row]:
        if len(rows) <= MAX_PENDING_ROWS:
            return rows
        s.lost += len(rows) - MAX_PENDING_ROWS
        return rows[-MAX_PENDING_ROWS:]

    def _chunks(self, s: _Series, rows: list[Row]) -> list[Chunk]:
        """Formats rows into CSV text, one chunk per part file they go to."""
        if not s.columns and not {"step", "time"} & rows[0][2].keys():
            s.grow(list(rows[0][2]))  # the first row names the columns, as the slow path would
        text = self._fast_text(s, rows)
        if text is not None:
            return [self._chunk(s, text)]
        return self._slow_chunks(s, rows)

    def _chunk(self, s: _Series, text: str) -> Chunk:
        """Where `text` goes: the current part, appended to; on object stores, a part of its own."""
        chunk = (s.part, s.columns, text)
        if not self.append:
            s.part += 1
        return chunk

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

    def _slow_chunks(self, s: _Series, rows: list[Row]) -> list[Chunk]:
        chunks: list[Chunk] = []
        out: list[tuple[Any, ...]] = []
        for step, stamp, values in rows:
            if "step" in values or "time" in values:  # the caller's own step or time wins
                values = dict(values)
                step = values.pop("step", step)
                stamp = values.pop("time", stamp)
            new = [k for k in values if k not in s.columns]
            if new:
                if out:
                    chunks.append(self._chunk(s, _csv_text(out)))
                    out = []
                if s.columns and self.append:  # object stores moved on to a new part already
                    s.part += 1
                s.grow(new)
            get = values.get
            out.append((step, stamp, *(get(c, "") for c in s.columns)))
        if out:
            chunks.append(self._chunk(s, _csv_text(out)))
        return chunks

    def _first_part(self, series: str) -> int:
        if not self.trial.resumed:
            return 0
        parts = [
            parsed[1]
            for parsed in map(plugins.parse_metrics_file, self.files.list())
            if parsed is not None and parsed[0] == series
        ]
        return max(parts) + 1 if parts else 0

    def _write(self, s: _Series, part: int, columns: tuple[str, ...], text: str, appended: list[Any]) -> None:
        name = plugins.metrics_file(s.name, part)
        try:
            if self.append:
                self._append(s, part, name, columns, text.encode(), appended)
            else:  # an object store: each batch is a complete part of its own
                self.files.write(name, (_csv_text([(*AUTO_COLUMNS, *columns)]) + text).encode())
        except OSError as e:
            if not e.filename:
                e.filename = self._where(name)
            raise

    def _append(
        self, s: _Series, part: int, name: str, columns: tuple[str, ...], data: bytes, appended: list[Any]
    ) -> None:
        if s.file is None or s.file_part != part:
            s.close()
            s.file = self.files.open(name, "ab", buffering=0)
            s.file_part = part
        file = s.file
        size = os.fstat(file.fileno()).st_size
        appended.append((file, size))
        if size == 0:
            data = _csv_text([(*AUTO_COLUMNS, *columns)]).encode() + data
        view = memoryview(data)
        while view:
            view = view[file.write(view) :]

    def _where(self, name: str) -> str:
        return posixpath.join(self.trial.path, name)


def _csv_text(rows: list[tuple[Any, ...]]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    return buf.getvalue()
