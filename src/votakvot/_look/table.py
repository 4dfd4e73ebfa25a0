"""The trial table the page shows: its columns (params, info, result, named as in `load_report`)
and one row per trial with status, times, error and cells, as plain JSON data."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

from .._process import settings
from .._read import report, report_frame, report_index
from .._read.trial import Trial
from . import embed, reading

ERROR_CHARACTERS = 300


class Loaded:
    """One load of a root for the page: the load itself and which of its trials the page shows
    (all but those whose document is a symbolic link)."""

    __slots__ = ("by_tid", "positions", "result", "tids")

    def __init__(self, path: Any, options: dict[str, Any] | None, *, plain: dict[str, Any] | None = None) -> None:
        """`plain` remembers, by folder, the document signature seen when its document was found
        not to be a link (a live page loads again and again; a changed document is checked again)."""
        result = report._load(path, options, safe=True, trusted=False, rows=True, full=True, index=None)
        signatures = result.rows.signatures
        self.result = result
        self.positions: list[int] = []
        self.tids: list[str] = []  # unique: two folders claiming one id (a copy) go by their paths
        self.by_tid: dict[str, Trial] = {}
        for i, trial in enumerate(result.trials):
            known = plain is not None and signatures[i] is not None and plain.get(trial.folder) == signatures[i]
            if not known and reading.document_is_linked(trial.store, trial.folder):
                warnings.warn(f"votakvot: not shown: {trial.path}: its votakvot.yaml is a symbolic link", stacklevel=3)
                continue
            if plain is not None:
                plain[trial.folder] = signatures[i]
            tid = trial.tid if trial.tid not in self.by_tid else trial.path
            self.positions.append(i)
            self.tids.append(tid)
            self.by_tid[tid] = trial


def build(loaded: Loaded) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Returns the table's columns (params, info, result in report order: name, section, kind of
    value) and one record per shown trial, in report order (creation time)."""
    result, table = loaded.result, loaded.result.rows
    owners: dict[str, set[str]] = {name: {"standard"} for name in report_frame.own_columns(False)}
    found: dict[str, list[Any]] = {}
    for i in loaded.positions:
        for cell, value in zip(table.names[i], table.values[i], strict=True):
            section, name = cell.split("\0", 1)
            owners.setdefault(name, set()).add(section)
            found.setdefault(cell, []).append(value)
    cells_in_order = sorted(found, key=lambda cell: report_frame.SECTIONS.index(cell.split("\0", 1)[0]))
    named = {}
    for cell in cells_in_order:
        section, name = cell.split("\0", 1)
        named[cell] = report_frame.column_name(section, name, owners[name])
    columns = [
        {"name": named[cell], "section": cell.split("\0", 1)[0], "kind": embed.kind(found[cell])}
        for cell in cells_in_order
    ]
    records = []
    for i, tid in zip(loaded.positions, loaded.tids, strict=True):
        cells = {
            named[cell]: embed.value(value)
            for cell, value in zip(table.names[i], table.values[i], strict=True)
            if value is not None
        }
        error = result.errors[i]
        duration = table.durations[i]
        records.append(
            {
                "tid": tid,
                "status": result.statuses[i],
                "created": _millis(table.created[i]),
                "finished": _millis(table.finished[i]),
                "duration": None if math.isnan(duration) else duration,
                "error": None if error is None else embed.value(error, limit=ERROR_CHARACTERS),
                "cells": cells,
            }
        )
    return columns, records


def _millis(micros: int) -> int | None:
    """Milliseconds since the epoch (what JavaScript dates take), or None when unknown."""
    return None if micros == report_index.MISSING else micros // 1000


def root_name(path: Any) -> str:
    """The root as the page names it: the path or URL given, the root from `init` when none
    was, or the class of a filesystem object."""
    if path is None:
        return settings.current().root()
    if isinstance(path, (str, os.PathLike)):
        return os.fspath(path)
    return type(path).__name__
