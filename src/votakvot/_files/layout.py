"""File names inside a trial folder and the shape of trial ids: every naming rule in one place."""

from __future__ import annotations

import os
import re
import time
from typing import Any

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
# The store's own folder below a loaded folder (hidden, so loading never takes it for trials),
# and in it the pieces of the shared report index: `{time_ns:020}-{uuid4 hex}.json`, never rewritten.
OWN_FOLDER = ".votakvot"
INDEX_FOLDER = f"{OWN_FOLDER}/index"
INDEX_PIECE = re.compile(r"[0-9]{20}-[0-9a-f]{32}\.json\Z")

# Files and folders the library itself owns start with this; attached() lists every other file,
# and neither trial names nor attach() names may start a segment with it.
HIDDEN_PREFIX = "."
SERIES_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")

# Statuses a trial document holds. A block's end gives `done`, `failed` or `interrupted`; code
# that learns an outcome instead of raising it (a test runner) may also end a trial `error`,
# `pruned`, `skipped`, `xfailed` or `xpassed` with `conclude()`, and an exception a plug-in
# names (`votakvot.statuses`: `optuna.TrialPruned` as `pruned`) ends it with that status.
# `running` and `resumed` belong to live trials and `crashed` is only derived when loading, so
# nothing may end a trial with those.
ENDED_STATUSES = ("done", "error", "failed", "interrupted", "pruned", "skipped", "xfailed", "xpassed")
LIVE_STATUSES = ("running", "resumed")
STATUSES = tuple(sorted((*ENDED_STATUSES, *LIVE_STATUSES, "crashed")))

# A trial document is a few KB; a larger one than this is not read back (a local one is skipped
# without reading it), so the document sink stores short notes in place of the largest values.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# A param is a setting to compare trials by; an argument larger than this as YAML (an object
# graph such as a model or a study, a data set) is not recorded as it is by `@track`.
MAX_PARAM_BYTES = 16 * 1024


def _type_name(value: Any) -> str:
    return type(value).__name__


def new_uid() -> str:
    """Returns a fresh uuid4 as 32 hex digits (as `uuid.uuid4().hex`, without importing `uuid`,
    which brings `hashlib` and `platform` with it: a tenth of `import votakvot`)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return raw.hex()


def index_piece_name() -> str:
    """Names a new piece of the shared report index: later pieces sort after earlier ones."""
    return f"{time.time_ns():020d}-{new_uid()}.json"


def dated_tid(name: str, uid: str, now: float | None = None) -> str:
    """Builds `{name}/{yy}-{mm}-{dd}/{HH}:{MM}:{SS}/{uid}` in local time."""
    stamp = time.strftime("%y-%m-%d/%H:%M:%S", time.localtime(now))
    return f"{check_relative(name, what='trial name')}/{stamp}/{uid}"


def check_relative(path: str, *, what: str) -> str:
    """Returns `path` with no trailing slash if it is a safe relative folder path, else raises."""
    if not isinstance(path, str):
        raise TrialNameError(f"{what} must be a str such as 'my_exp', got {path!r} ({_type_name(path)})")
    if not path.strip("/"):
        raise TrialNameError(f"{what} {path!r} is empty; use a name such as 'my_exp' or 'grid/lr=0.1'")
    if path.startswith("/") or "://" in path:
        raise TrialNameError(f"{what} {path!r} must be relative to the root; drop the leading '/' or protocol")
    if "::" in path:  # fsspec reads 'a::b' in a URL as two chained filesystems
        raise TrialNameError(
            f"{what} {path!r} holds '::', which fsspec URLs read as a chain of filesystems; "
            f"use another separator, e.g. {path.replace('::', '-')!r}"
        )
    parts = path.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise TrialNameError(f"{what} {path!r} has an empty, '.' or '..' segment; use plain segments such as 'a/b/c'")
    hidden = [p for p in parts if p.startswith(HIDDEN_PREFIX)]
    if hidden:
        # Loading skips hidden folders (votakvot keeps its own files there): such a trial would never load.
        raise TrialNameError(
            f"{what} {path!r} has the segment {hidden[0]!r} starting with '.', which loading skips as hidden; "
            f"drop the dot, e.g. {hidden[0].lstrip('.') or 'name'!r}"
        )
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
    if not isinstance(series, str):
        raise ValueError(f"metric series name must be a str such as 'eval', got {series!r} ({_type_name(series)})")
    if not SERIES_NAME.fullmatch(series):
        raise ValueError(
            f"metric series name {series!r} is not allowed; use letters, digits, '_' and '-', "
            "starting with a letter (e.g. 'eval')"
        )
    return series


def check_file_name(name: str | os.PathLike[str], *, verb: str = "attach()") -> str:
    """Returns `name` as a clean relative path inside a trial folder, or raises AttachPathError."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise AttachPathError(f"{verb} name must be a str such as 'log.txt', got {name!r} ({_type_name(name)})")
    clean = name.replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if clean.startswith("/") or "://" in clean or (len(clean) > 1 and clean[1] == ":"):
        raise AttachPathError(f"{verb} name {name!r} is absolute; use a relative name such as 'logs/x.txt'")
    if ".." in parts:
        raise AttachPathError(f"{verb} name {name!r} leaves the trial folder; use a relative name such as 'logs/x.txt'")
    if not parts:
        raise AttachPathError(f"{verb} name {name!r} names no file; use a name such as 'log.txt'")
    return "/".join(parts)


def is_own_file(relative: str) -> bool:
    """Tells whether votakvot writes (or may write) the file `relative` of a trial folder."""
    parts = relative.split("/")
    if parts[0].startswith(HIDDEN_PREFIX) or parts[-1].startswith(TEMP_PREFIX):
        return True
    if len(parts) > 1:
        return False
    name = parts[0]
    return name in (DOCUMENT, TRACEBACK) or name.startswith(SNAPSHOT_STEM + ".") or parse_metrics_file(name) is not None


def check_attach_name(name: str | os.PathLike[str]) -> str:
    """Returns `name` as a relative path attach() may write to, or raises AttachPathError.

    Besides names that leave the folder, it refuses votakvot's own files (the document, the
    traceback, metric CSVs, snapshots) and names starting with '.' (votakvot's hidden files).
    """
    relative = check_file_name(name)
    if is_own_file(relative):
        raise AttachPathError(
            f"attach() name {name!r} is reserved: votakvot writes {relative!r} itself (its own files are "
            f"{DOCUMENT}, {TRACEBACK}, {METRICS_PREFIX}*{METRICS_SUFFIX}, {SNAPSHOT_STEM}.* and names starting "
            f"with '.'); choose another name such as 'my_{relative.lstrip('.')}'"
        )
    return relative
