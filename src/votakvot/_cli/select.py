"""What the command line's arguments name: storage options, times, durations, trials by tid."""

from __future__ import annotations

import datetime
import json
import os
import re
from typing import Any

import votakvot
from votakvot.errors import SelectionError, TrialNotFoundError

from .progress import load_bar

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def storage_options(pairs: list[str]) -> dict[str, Any] | None:
    """`KEY=VALUE` pairs as a dict; a VALUE that parses as JSON is that JSON (`anon=true`, `{...}`)."""
    if not pairs:
        return None
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SelectionError(f"--storage-option {pair!r} is not KEY=VALUE; write e.g. --storage-option anon=true")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def moment(text: str, *, option: str) -> datetime.datetime | datetime.timedelta:
    """An ISO time (`2025-11-26`, `2025-11-26T10:00`) or a duration meaning "that long ago" (`2h`, `3d`)."""
    match = _DURATION.match(text.strip())
    if match:
        return datetime.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        return datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise SelectionError(
            f"{option} {text!r} is neither an ISO time (2025-11-26 or 2025-11-26T18:00) nor a duration "
            "(30m, 2h, 3d, 1w)"
        ) from None


def cutoff(value: datetime.datetime | datetime.timedelta) -> datetime.datetime:
    """The aware time a moment stands for (a naive time is local time)."""
    if isinstance(value, datetime.timedelta):
        return datetime.datetime.now().astimezone() - value
    return value.astimezone() if value.tzinfo is None else value


def trial(name: str, root: str, options: dict[str, Any] | None) -> votakvot.Trial:
    """The trial `name` stands for: a trial folder (path or URL), a tid below `root`, or the
    shortened tid `ls` shows (a unique prefix of a tid's uuid counts too)."""
    candidates = [name] if "://" in name or os.path.isabs(name) else [name, _join(root, name)]
    for folder in candidates:
        found = _at(folder, options)
        if found is not None:
            return found
    from .output import short_tid

    with load_bar() as bar:
        every = votakvot.load_trials(root, storage_options=options, progress=bar)
    matches = [t for t in every.values() if name in (t.tid, short_tid(t.tid)) or _uid_prefix(t.tid, name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(short_tid(t.tid) for t in matches[:5])
        raise TrialNotFoundError(
            f"{name!r} matches {len(matches)} trials below {root!r} ({listed}); give more of the tid"
        )
    raise TrialNotFoundError(
        f"no trial {name!r}: not a trial folder, nor a tid below {root!r} (see `votakvot ls {root}`)"
    )


def _uid_prefix(tid: str, name: str) -> bool:
    last = tid.rsplit("/", 1)[-1]
    return len(name) >= 4 and re.fullmatch(r"[0-9a-f]{32}", last) is not None and last.startswith(name)


def _join(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name.strip("/")


def _at(folder: str, options: dict[str, Any] | None) -> votakvot.Trial | None:
    """The trial stored in `folder` (a local folder must hold a votakvot.yaml), or None."""
    if "://" not in folder and not os.path.isfile(os.path.join(folder, "votakvot.yaml")):
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", votakvot.errors.MissingPathWarning)
        trials = votakvot.load_trials(folder, storage_options=options)
    # The folder's own trial has the shortest path of those at or below it.
    return min(trials.values(), key=lambda t: len(t.path)) if trials else None
