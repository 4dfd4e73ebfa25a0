"""How a votakvot trial reads in MLflow's terms, as plain data (no MLflow import here).

- params: flattened with dots (`{"opt": {"lr": 0.1}}` -> `opt.lr`), values as text, the way
  `mlflow.log_param` writes them (`str(value)`; containers as JSON).
- metric rows: each number becomes a point `(key, value, timestamp ms, step)`; the default
  series keeps its names, a named series prefixes them (`eval/acc`). A row's own `step=` /
  `time=` is used, as votakvot stores it. Values that are not numbers are not mirrored (MLflow
  metrics are numbers; the votakvot record keeps them).
- result: numbers become metrics `result` (a scalar result) or `result.<key>` (a dict), the
  rest tags of the same names.
- tags: the trial's ids, status and error, git (`mlflow.source.git.commit` / `.branch`, which
  MLflow's UI shows, and `votakvot.git.dirty`), the user, and `inform()` values as `info.<key>`.

MLflow allows keys of letters, digits, `_ - . / space`, at most 250 characters, that do not
resolve to another path; other characters become `_`. Values longer than MLflow keeps are cut,
with a note of how long they were.
"""

from __future__ import annotations

import datetime
import json
import math
import numbers
import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000

STATUS = {"running": "RUNNING", "resumed": "RUNNING", "done": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}

_BAD_KEY_CHARACTERS = re.compile(r"[^\w.\- /]")
AUTO_COLUMNS = ("step", "time")

Point = tuple[str, float, int, int]  # key, value, timestamp (ms), step


def key(name: str) -> str:
    """Returns `name` as a valid MLflow param, metric or tag key."""
    cleaned = _BAD_KEY_CHARACTERS.sub("_", name)
    segments = [s if s not in (".", "..") else "_" for s in cleaned.split("/") if s]
    cleaned = "/".join(segments) or "_"
    return cleaned[:MAX_KEY]


def cut(text: str, limit: int) -> str:
    """Returns `text` cut to `limit` characters, saying so at its end."""
    if len(text) <= limit:
        return text
    note = f"... <cut: {len(text)} characters>"
    return text[: limit - len(note)] + note


def text(value: Any) -> str:
    """A value as MLflow stores params and tags: `str()` for scalars, JSON for containers."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, set, dict)):
        try:
            return json.dumps(value, default=str, sort_keys=isinstance(value, dict))
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def number(value: Any) -> float | None:
    """Returns `value` as a metric value (bools as 0 / 1), or None if it is not a real number."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def flatten(values: Mapping[Any, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yields `(dotted.name, value)` for nested dicts, as the report flattens them."""
    for name, value in values.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{dotted}.")
        else:
            yield dotted, value


def milliseconds(when: Any) -> int | None:
    """A document time (datetime) or Unix seconds as MLflow's milliseconds."""
    if isinstance(when, datetime.datetime):
        return int(when.timestamp() * 1000)
    seconds = number(when)
    if seconds is None or not math.isfinite(seconds):
        return None
    return int(seconds * 1000)


def params(document: Mapping[str, Any]) -> dict[str, str]:
    """The trial's params as MLflow params."""
    return {key(name): cut(text(value), MAX_PARAM_VALUE) for name, value in flatten(document.get("params") or {})}


def points(series: str, rows: list[tuple[int, float, dict[str, Any]]], after: int) -> tuple[list[Point], int]:
    """Metric points of one `Metered` batch, skipping rows whose automatic step is not after
    `after` (a batch published again after an interrupt); returns them and the last step seen."""
    prefix = f"{series}/" if series else ""
    found: list[Point] = []
    last = after
    for step, stamp, values in rows:
        if step <= after:
            continue
        last = step
        own_step = values.get("step", step)
        if isinstance(own_step, bool) or not isinstance(own_step, numbers.Integral):
            own_step = step
        at = milliseconds(values.get("time", stamp))
        if at is None or at < 0:
            at = milliseconds(stamp) or 0
        for name, value in values.items():
            if name in AUTO_COLUMNS or not isinstance(name, str):
                continue
            metric = number(value)
            if metric is not None:
                found.append((key(prefix + name), metric, at, int(own_step)))
    return found, last


def result(document: Mapping[str, Any], finished_ms: int) -> tuple[list[Point], dict[str, str]]:
    """The result as metrics (its numbers) and tags (the rest)."""
    value = document.get("result")
    if value is None:
        return [], {}
    items = [("result", value)] if not isinstance(value, Mapping) else list(flatten(value, "result."))
    metrics: list[Point] = []
    tags: dict[str, str] = {}
    for name, item in items:
        metric = number(item)
        if metric is not None:
            metrics.append((key(name), metric, finished_ms, 0))
        elif item is not None:
            tags[key(name)] = cut(text(item), MAX_TAG_VALUE)
    return metrics, tags


def tags(document: Mapping[str, Any], path: str) -> dict[str, str]:
    """Tags that say which votakvot trial a run mirrors, how it went and what code it ran."""
    meta = document.get("meta") or {}
    git = meta.get("git") or {}
    found = {
        "votakvot.tid": str(document.get("tid", "")),
        "votakvot.uid": str(document.get("uid", "")),
        "votakvot.path": path,
        "votakvot.status": str(document.get("status", "")),
    }
    if document.get("parent"):
        found["votakvot.parent"] = str(document["parent"])
    if document.get("error"):
        found["votakvot.error"] = str(document["error"])
    if git.get("commit"):
        found["mlflow.source.git.commit"] = str(git["commit"])
    if git.get("branch"):
        found["mlflow.source.git.branch"] = str(git["branch"])
    if "dirty" in git:
        found["votakvot.git.dirty"] = str(git["dirty"])
    user = (meta.get("system") or {}).get("user")
    if user:
        found["mlflow.user"] = str(user)
    for name, value in flatten(document.get("info") or {}, "info."):
        found[key(name)] = text(value)
    return {name: cut(value, MAX_TAG_VALUE) for name, value in found.items()}


def artifact_folder(name: str) -> str | None:
    """The artifact folder of an attached file (`logs/a.txt` -> `logs`), None at the top."""
    return posixpath.dirname(name) or None
