"""File names inside a trial folder and the shape of trial ids: every naming rule in one place."""

from __future__ import annotations

import re
import time
import uuid

from ..errors import AttachPathError, TrialNameError

DOCUMENT = "votakvot.yaml"
TRACEBACK = "traceback.txt"
HEARTBEAT = ".heartbeat"
CLAIM = ".claim"  # held by the one process running an explicit id (see _live/claim.py)
SUPERSEDED = ".superseded"  # metric rows set aside when a trial resumes from an earlier snapshot
METRICS_PREFIX = "metrics"
METRICS_SUFFIX = ".csv"
SNAPSHOT_STEM = "snapshot"
TEMP_PREFIX = ".tmp-"

# Files the library itself owns; attached() lists every other file.
HIDDEN_PREFIX = "."
SERIES_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Names attach() may not take: the library writes them.
RESERVED = frozenset({DOCUMENT, HEARTBEAT, CLAIM})


def new_uid() -> str:
    """Returns a fresh uuid4 as 32 hex digits."""
    return uuid.uuid4().hex


def dated_tid(name: str, uid: str, now: float | None = None) -> str:
    """Builds `{name}/{yy}-{mm}-{dd}/{HH}:{MM}:{SS}/{uid}` in local time."""
    stamp = time.strftime("%y-%m-%d/%H:%M:%S", time.localtime(now))
    return f"{check_relative(name, what='trial name')}/{stamp}/{uid}"


def check_relative(path: str, *, what: str) -> str:
    """Returns `path` with no trailing slash if it is a safe relative folder path, else raises."""
    if not isinstance(path, str) or not path.strip("/"):
        raise TrialNameError(f"{what} {path!r} is empty; use a name such as 'my_exp' or 'grid/lr=0.1'")
    if path.startswith("/") or "://" in path:
        raise TrialNameError(f"{what} {path!r} must be relative to the root; drop the leading '/' or protocol")
    parts = path.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise TrialNameError(f"{what} {path!r} has an empty, '.' or '..' segment; use plain segments such as 'a/b/c'")
    return "/".join(parts)


def metrics_file(series: str, part: int) -> str:
    """Names the CSV file of one metric series; a new part starts when the columns grow."""
    stem = METRICS_PREFIX if series == "" else f"{METRICS_PREFIX}.{series}"
    return f"{stem}{METRICS_SUFFIX}" if part == 0 else f"{stem}.{part}{METRICS_SUFFIX}"


def parse_metrics_file(name: str) -> tuple[str, int] | None:
    """Returns (series, part) for a metric CSV name, or None for any other file."""
    if not (name.startswith(METRICS_PREFIX) and name.endswith(METRICS_SUFFIX)):
        return None
    middle = name[len(METRICS_PREFIX) : -len(METRICS_SUFFIX)]
    if middle and not middle.startswith("."):
        return None
    bits = middle.split(".")[1:]
    part = 0
    if bits and bits[-1].isdigit():
        part = int(bits.pop())
    if len(bits) > 1 or (bits and not SERIES_NAME.fullmatch(bits[0])):
        return None
    return (bits[0] if bits else "", part)


def check_series(series: str) -> str:
    """Returns `series` if it can name a metric series, else raises ValueError."""
    if not isinstance(series, str) or not SERIES_NAME.fullmatch(series):
        raise ValueError(
            f"metric series name {series!r} is not allowed; use letters, digits, '_' and '-', "
            "starting with a letter (e.g. 'eval')"
        )
    return series


def check_attach_name(name: str) -> str:
    """Returns `name` as a clean relative path inside a trial folder, or raises AttachPathError."""
    if not isinstance(name, str) or not name:
        raise AttachPathError(f"attach() needs a file name such as 'log.txt', got {name!r}")
    clean = name.replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if clean.startswith("/") or "://" in clean or (len(clean) > 1 and clean[1] == ":"):
        raise AttachPathError(f"attach() name {name!r} is absolute; use a relative name such as 'logs/x.txt'")
    if ".." in parts:
        raise AttachPathError(
            f"attach() name {name!r} leaves the trial folder; use a relative name such as 'logs/x.txt'"
        )
    if not parts:
        raise AttachPathError(f"attach() name {name!r} names no file; use a name such as 'log.txt'")
    relative = "/".join(parts)
    if relative in RESERVED or parts[-1].startswith(TEMP_PREFIX):
        raise AttachPathError(f"attach() name {name!r} is votakvot's own file; choose another name")
    return relative
