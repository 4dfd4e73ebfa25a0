"""Finding trial folders by path or glob, and turning them into `load_trials` / `load_report`."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from typing import Any

from . import _envvars, _layout, _settings
from ._loaded import Trial
from ._storage import FsspecStore, LocalStore, Store, open_store
from .errors import TrialLoadError

log = logging.getLogger("votakvot.report")

STANDARD_COLUMNS = ("tid", "trial", "status")
_SECTIONS = ("params", "info", "result")
_MAX_COLUMNS_PER_TRIAL = 10_000
_GLOB_CHARS = "*?["


def _has_glob(path: str) -> bool:
    return any(c in path for c in _GLOB_CHARS)


def _glob_base(path: str) -> str:
    """Returns the part of `path` before its first segment with a glob character."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if _has_glob(part):
            return "/".join(parts[:i])
    return path


def _walk_local(top: str) -> Iterator[str]:
    """Yields every folder below `top` (itself included) that holds a votakvot.yaml.

    Symlinked folders are not followed (a link loop must not multiply trials), nor are hidden ones.
    """
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        has_doc = False
        for entry in entries:
            if entry.name == _layout.DOCUMENT:
                has_doc = True
            elif not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
        if has_doc:
            yield folder


def _local_glob(pattern: str) -> list[str]:
    """Expands `*`, `?`, `[...]` within segments and `**` across them, never through symlinks."""
    import fnmatch

    base = _glob_base(pattern)
    matched = [base or os.sep]
    for segment in pattern[len(base) :].strip("/").split("/"):
        following: list[str] = []
        for folder in matched:
            if segment == "**":
                following.extend(_subfolders(folder))
            elif _has_glob(segment):
                try:
                    with os.scandir(folder) as it:
                        for entry in it:
                            hidden = entry.name.startswith(".") and not segment.startswith(".")
                            if not hidden and fnmatch.fnmatchcase(entry.name, segment):
                                following.append(entry.path)
                except OSError:
                    continue
            else:
                candidate = os.path.join(folder, segment)
                if os.path.lexists(candidate):
                    following.append(candidate)
        matched = following
    return matched


def _subfolders(top: str) -> Iterator[str]:
    """Yields `top` and every folder below it, without following symlinks or entering hidden ones."""
    stack = [top]
    while stack:
        folder = stack.pop()
        yield folder
        try:
            with os.scandir(folder) as it:
                stack.extend(
                    e.path for e in it if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                )
        except OSError:
            continue


def _local_folders(pattern: str) -> list[str]:
    matches = _local_glob(pattern) if _has_glob(pattern) else [pattern]
    found: set[str] = set()
    roots: list[str] = []
    for match in matches:
        if os.path.basename(match) == _layout.DOCUMENT:
            found.add(os.path.dirname(match))  # read later; a non-file document is then reported
        elif os.path.isdir(match) and (match == pattern or not os.path.islink(match)):
            roots.append(match)
    roots.sort()
    walked: list[str] = []
    for top in roots:  # a folder below one already walked adds nothing new
        if walked and (top == walked[-1] or top.startswith(walked[-1].rstrip(os.sep) + os.sep)):
            continue
        walked.append(top)
        found.update(_walk_local(top))
    return sorted(found)


def _segments_match(parts: list[str], patterns: list[str]) -> bool:
    """Tells whether path segments match glob segments (`**` spans zero or more segments)."""
    import fnmatch

    if not patterns:
        return not parts
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(_segments_match(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _segments_match(parts[1:], rest)


def _remote_folders(store: FsspecStore, pattern: str) -> list[str]:
    """Lists the store once below the glob's base and keeps trial folders at or below a match."""
    fs = store.fs
    base = _glob_base(pattern).rstrip("/")
    fs.invalidate_cache()  # listings cached by an earlier load may be stale or partial
    try:
        listing = fs.find(base or pattern, withdirs=True)
    except (FileNotFoundError, NotADirectoryError):
        return []
    doc_suffix = "/" + _layout.DOCUMENT
    if not _has_glob(pattern):
        if pattern.endswith(doc_suffix):
            return [pattern[: -len(doc_suffix)]] if pattern in listing or fs.exists(pattern) else []
        wanted = [pattern.rstrip("/")]
    else:
        wanted = []
    patterns = pattern[len(base) :].strip("/").split("/") if _has_glob(pattern) else []
    found = set()
    for path in listing:
        path = path.rstrip("/")
        if not path.endswith(doc_suffix) or "/." in path[len(base) :]:
            continue
        folder = path[: -len(doc_suffix)]
        if wanted:
            if folder == wanted[0] or folder.startswith(wanted[0] + "/"):
                found.add(folder)
            continue
        parts = folder[len(base) :].strip("/").split("/") if folder != base else []
        if any(_segments_match(parts[:depth], patterns) for depth in range(len(parts) + 1)) or _segments_match(
            [*parts, _layout.DOCUMENT], patterns
        ):
            found.add(folder)
    return sorted(found)


def _relative(folder: str, anchors: list[str], sep: str) -> str:
    """Returns `folder` relative to the first anchor it is below, with '/' separators."""
    for anchor in anchors:
        head = anchor.rstrip(sep) + sep
        if anchor and folder.startswith(head):
            return folder[len(head) :].replace(sep, "/")
    for anchor in anchors:  # the folder is an anchor itself: name it by its last segment
        if folder == anchor:
            return folder.rstrip(sep).rsplit(sep, 1)[-1]
    return folder


def _find(path: str | os.PathLike[str] | None) -> tuple[Store, list[tuple[str, str]]]:
    root_url = _settings.current().root()
    url = os.fspath(path) if path is not None else root_url
    store, pattern = open_store(url)
    if isinstance(store, LocalStore):
        folders = _local_folders(pattern)
    else:
        assert isinstance(store, FsspecStore)
        folders = _remote_folders(store, pattern)
    root_store, root = open_store(root_url)
    base = _glob_base(pattern) or pattern
    if base.endswith(store.sep + _layout.DOCUMENT):
        base = base[: -len(_layout.DOCUMENT) - 1]
    same_store = type(root_store) is type(store) and store.url(root) == root_store.url(root)
    explicit_root = _settings.current().path is not None or bool(os.environ.get(_envvars.PATH))
    anchors = ([root, base] if explicit_root else [base, root]) if same_store else [base]
    return store, [(f, _relative(f, anchors, store.sep)) for f in folders]


def load_trials(
    path: str | os.PathLike[str] | None = None,
    *,
    safe: bool = True,
    trusted: bool = False,
) -> dict[str, Trial]:
    """Loads every trial below `path` (default: the root from `init`) as `{tid: votakvot.Trial}`.

    `path` is a folder or fsspec URL and may hold globs (`*` within a segment, `**` across).
    A trial folder that cannot be read is skipped with a warning (raised with `safe=False`).
    `trusted=True` builds `!!python/...` values (which can run code from the files).

        trials = votakvot.load_trials("./my-results/**/21-05-20")
    """
    store, found = _find(path)
    docs = store.read_many([store.join(folder, _layout.DOCUMENT) for folder, _ in found])
    trials: dict[str, Trial] = {}
    for folder, tid in found:
        raw = docs.get(store.join(folder, _layout.DOCUMENT))
        try:
            if isinstance(raw, Exception) or raw is None:
                raise TrialLoadError(f"{store.url(folder)}: cannot read votakvot.yaml ({raw!r})")
            trial = Trial(store, folder, tid, document=raw, trusted=trusted)
            doc_tid = dict.get(trial.data, "tid")
        except (TrialLoadError, OSError) as e:
            if not safe:
                raise TrialLoadError(str(e)) from e
            warnings.warn(f"votakvot: skipping trial folder {store.url(folder)}: {e}", stacklevel=3)
            continue
        if isinstance(doc_tid, str) and store.url(folder).replace("\\", "/").endswith("/" + doc_tid):
            trial.tid = doc_tid
        if trial.tid in trials:
            trial.tid = store.url(folder)
        trials[trial.tid] = trial
    return trials


def _flatten(value: Any, prefix: str, out: dict[str, Any], budget: list[int]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(child, f"{prefix}.{key}" if prefix else str(key), out, budget)
    else:
        budget[0] -= 1
        if budget[0] < 0:
            raise TrialLoadError(f"more than {_MAX_COLUMNS_PER_TRIAL} fields; not a plain trial document")
        out[prefix] = value


def _column(section: str, name: str, owners: set[str]) -> str:
    """Names the column of `name` from `section`, prefixed when another section has it too."""
    if len(owners) == 1 or name == section or name.startswith(section + "."):
        return name
    return f"{section}.{name}"


def load_report(
    path: str | os.PathLike[str] | None = None,
    full: bool = False,
    *,
    safe: bool = True,
    trusted: bool = False,
) -> Any:
    """Loads trials below `path` into a DataFrame: one row per trial, RangeIndex.

    Columns: `tid`, `trial` (the `votakvot.Trial`), `status`, then params, info and result as plain
    columns (nested dicts flattened with dots, a scalar result as `result`); names that clash
    between sections keep their section prefix. `full=True` adds every field of the document as a
    dotted column (`meta.git.commit`, `at.duration`, ...). No trials: an empty DataFrame.

        df = votakvot.load_report("./my-results")
    """
    import pandas as pd

    trials = load_trials(path, safe=safe, trusted=trusted)
    sections: list[dict[str, dict[str, Any]]] = []
    extras: list[dict[str, Any]] = []
    kept: list[Trial] = []
    for trial in trials.values():
        try:
            data = trial.data
            budget = [_MAX_COLUMNS_PER_TRIAL]
            row_sections: dict[str, dict[str, Any]] = {}
            for section in _SECTIONS:
                flat: dict[str, Any] = {}
                value = dict.get(data, section)
                if section == "result" and not isinstance(value, dict):
                    flat["result"] = value
                elif section != "result" and not isinstance(value, dict):
                    flat = {}
                else:
                    _flatten(value, "", flat, budget)
                row_sections[section] = flat
            extra: dict[str, Any] = {}
            if full:
                _flatten(dict(data), "", extra, budget)
                for derived in ("tid", "status"):  # the loaded values (e.g. `crashed`) win
                    extra.pop(derived, None)
            status = trial.status
        except (TrialLoadError, OSError) as e:
            if not safe:
                raise
            warnings.warn(f"votakvot: skipping trial {trial.path}: {e}", stacklevel=2)
            continue
        row_sections["_"] = {"status": status}
        sections.append(row_sections)
        extras.append(extra)
        kept.append(trial)
    owners: dict[str, set[str]] = {name: {"standard"} for name in STANDARD_COLUMNS}
    for row in sections:
        for section in _SECTIONS:
            for name in row[section]:
                owners.setdefault(name, set()).add(section)
    for extra in extras:  # with full=True the document's own fields keep their names
        for name in extra:
            if name in owners and not name.startswith(_SECTIONS):
                owners[name].add("document")
    rows = []
    for trial, row, extra in zip(kept, sections, extras, strict=True):
        out: dict[str, Any] = {"tid": trial.tid, "trial": trial, "status": row["_"]["status"]}
        for section in _SECTIONS:
            for name, value in row[section].items():
                out[_column(section, name, owners[name])] = value
        out.update(extra)
        rows.append(out)
    if not rows:
        return pd.DataFrame(columns=list(STANDARD_COLUMNS))
    return pd.DataFrame(rows)
