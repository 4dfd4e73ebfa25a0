"""`diff`: what differs between two trials, field by field, as a small DataFrame."""

from __future__ import annotations

import math
import os
from typing import Any

from .._files import layout
from .._files.storage import Store, open_store
from .._process import settings
from ..errors import TrialNotFoundError
from .trial import Trial, read_trial
from .values import plain

COLUMNS = ("section", "field", "a", "b")
# Sections in the order a diff lists them; any other field of the document comes after these.
_ORDER = ("params", "result", "info", "status", "error", "at", "parent", "resumed", "version", "meta")
# Fields that differ between any two trials and say nothing about how they ran.
_IDENTITY = ("tid", "uid", "heartbeat")
_CLOCK = ("created", "started", "finished", "resumed")
_ABSENT: Any = object()


def diff(a: Any, b: Any, /) -> Any:
    """Returns the fields in which two trials differ, as a DataFrame `section, field, a, b`.

    `a` and `b` are loaded trials (`votakvot.Trial`), trial ids below the root from `init`, or
    trial folders (paths or URLs). Compared: params, result, info, status, error, the duration,
    parent, resumed, version and meta (git, system, python, ...); not the ids nor the clock times,
    which differ for any two trials. Nested fields are dotted (`field` is `lr`, `git.commit`); a
    whole section that is one value has the field `""`. Values are plain Python (no numpy
    scalars); a field one trial does not have is `<NA>`. `df.attrs` holds both tids.

        votakvot.diff(report.trial[0], report.trial[1])
    """
    import pandas as pd

    first, second = resolve(a), resolve(b)
    left, right = _fields(first), _fields(second)
    rows = []
    for key in _ordered([*left, *(k for k in right if k not in left)]):
        x, y = left.get(key, _ABSENT), right.get(key, _ABSENT)
        if not _same(x, y):
            rows.append((*key, pd.NA if x is _ABSENT else x, pd.NA if y is _ABSENT else y))
    frame = pd.DataFrame(
        {
            name: pd.Series([row[i] for row in rows], dtype=object if name in ("a", "b") else "str")
            for i, name in enumerate(COLUMNS)
        }
    )
    frame.attrs.update(a=first.tid, b=second.tid)
    return frame


def resolve(what: Any) -> Trial:
    """Returns the trial `what` names: a `votakvot.Trial`, a live trial, a trial id below the
    root from `init`, or a trial folder."""
    if isinstance(what, Trial):
        return what
    if isinstance(getattr(what, "store", None), Store) and isinstance(getattr(what, "tid", None), str):
        found = read_trial(what.store, what.folder, what.tid)  # a live trial: as stored so far
        if found is None:
            raise TrialNotFoundError(f"trial {what.tid!r} has stored no votakvot.yaml at {what.path!r} yet")
        return found
    if not isinstance(what, (str, os.PathLike)):
        raise TypeError(f"diff() takes votakvot.Trial objects, trial ids or trial folders, not {what!r}")
    text = os.fspath(what)
    tried = []
    if "://" not in text and not os.path.isabs(text):
        root_store, root = open_store(settings.current().root())
        folder = root_store.join(root, *text.strip("/").split("/"))
        tried.append(root_store.url(folder))
        trial = read_trial(root_store, folder, text.strip("/"))
        if trial is not None:
            return trial
    store, folder = open_store(text)
    if folder.endswith(layout.DOCUMENT):
        folder = folder[: -len(layout.DOCUMENT)].rstrip(store.sep)
    tried.append(store.url(folder))
    trial = read_trial(store, folder, store.url(folder))
    if trial is None:
        raise TrialNotFoundError(
            f"no trial {text!r}: none of {tried!r} holds a votakvot.yaml; pass a trial id below the root "
            "from init, a trial folder, or a loaded votakvot.Trial"
        )
    recorded = trial.head().get("tid")
    if isinstance(recorded, str) and recorded and trial.path.replace("\\", "/").endswith("/" + recorded):
        trial.tid = recorded
    return trial


def _fields(trial: Trial) -> dict[tuple[str, str], Any]:
    """Flattens what a diff compares into {(section, dotted field): value}."""
    data = dict(trial.data)
    data["status"], data["error"] = trial.status, trial.error  # a crash is derived, as when loading
    at = data.get("at")
    if isinstance(at, dict):
        data["at"] = {key: value for key, value in at.items() if key not in _CLOCK}
    out: dict[tuple[str, str], Any] = {}
    for section, value in data.items():
        if section in _IDENTITY or (section == "error" and value is None):
            continue
        _flatten(str(section), value, "", out)
    return out


def _flatten(section: str, value: Any, prefix: str, out: dict[tuple[str, str], Any]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(section, child, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[(section, prefix)] = plain(value)


def _ordered(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    rank = {section: i for i, section in enumerate(_ORDER)}
    return sorted(keys, key=lambda key: rank.get(key[0], len(_ORDER)))  # stable: document order within


def _same(x: Any, y: Any) -> bool:
    if x is _ABSENT or y is _ABSENT:
        return x is y
    if type(x) is not type(y):
        return False
    if isinstance(x, float) and math.isnan(x) and math.isnan(y):
        return True
    try:
        return bool(x == y)
    except Exception:  # a value whose comparison is not a plain bool
        return repr(x) == repr(y)
