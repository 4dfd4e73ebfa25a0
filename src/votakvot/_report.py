"""`load_trials` and `load_report`: trial folders found by path or glob, read back in bulk."""

from __future__ import annotations

import os
import warnings
from typing import Any

from . import _discovery, _envvars, _gc, _index, _layout, _settings
from ._loaded import LIVE_STATUSES, Trial
from ._storage import Store, open_store
from .errors import TrialLoadError

STANDARD_COLUMNS = ("tid", "trial", "status")
_SECTIONS = ("params", "info", "result")
_MAX_COLUMNS_PER_TRIAL = 10_000
# A trial document is a few KB; a local one past this size is skipped, not read into memory.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

# An index entry: (signature, document tid, status, cell names, cell values, full extras or None).
Entry = tuple[Any, Any, str, tuple[str, ...], tuple[Any, ...], Any]


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


def _flatten(value: Any, prefix: str, out: dict[str, Any], budget: list[int]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(child, f"{prefix}.{key}" if prefix else str(key), out, budget)
    else:
        budget[0] -= 1
        if budget[0] < 0:
            raise TrialLoadError(f"more than {_MAX_COLUMNS_PER_TRIAL} fields; not a plain trial document")
        out[prefix] = value


def _row(doc: dict[str, Any], full: dict[str, Any] | None) -> tuple[tuple[str, ...], tuple[Any, ...], Any]:
    """Flattens a document into report cells: (names, values, full extras or None).

    A name is `section\0field` (section: params, info or result), so rows of one shape share
    one names tuple, in memory and in the index.
    """
    budget = [_MAX_COLUMNS_PER_TRIAL]
    names: list[str] = []
    values: list[Any] = []
    for section in _SECTIONS:
        flat: dict[str, Any] = {}
        value = doc.get(section)
        if isinstance(value, dict):
            _flatten(value, "", flat, budget)
        elif section == "result":
            flat["result"] = value
        names.extend(f"{section}\0{name}" for name in flat)
        values.extend(flat.values())
    extra: dict[str, Any] | None = None
    if full is not None:
        extra = {}
        _flatten(full, "", extra, budget)
        for derived in ("tid", "status"):  # the loaded values (e.g. `crashed`) win
            extra.pop(derived, None)
    return tuple(names), tuple(values), extra


class _Loaded:
    """One trial found by a load, with its report cells when they were asked for."""

    __slots__ = ("extra", "names", "status", "trial", "values")

    def __init__(self, trial: Trial, status: str, names: tuple[str, ...], values: tuple[Any, ...], extra: Any) -> None:
        self.trial, self.status, self.names, self.values, self.extra = trial, status, names, values, extra


def _load(
    path: str | os.PathLike[str] | None, *, safe: bool, trusted: bool, rows: bool, full: bool, index: bool | None
) -> list[_Loaded]:
    with _gc.paused():
        return _load_all(path, safe=safe, trusted=trusted, rows=rows, full=full, index=index)


def _load_all(
    path: str | os.PathLike[str] | None, *, safe: bool, trusted: bool, rows: bool, full: bool, index: bool | None
) -> list[_Loaded]:
    settings = _settings.current()
    root_url = settings.root()
    store, pattern = open_store(os.fspath(path) if path is not None else root_url)
    use_index = (index if index is not None else _index.enabled()) and not trusted
    cache = _index.Index(store.url(_discovery.glob_base(pattern, store.sep) or pattern)).load() if use_index else None
    base, found, listed = _discovery.find(store, pattern, cache.listings if cache is not None else None)
    shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
    anchors = _anchors(store, base, root_url, settings)

    loaded: list[_Loaded] = []
    stale: list[str] = []
    for folder, signature in sorted(found.items()):
        entry = cache.entries.get(folder) if cache is not None else None
        if entry is None or signature is None or entry[0] != signature or (full and entry[5] is None):
            stale.append(folder)
            continue
        trial = Trial(store, folder, _tid(store, folder, anchors, entry[1]))
        status = trial.status if entry[2] in LIVE_STATUSES else entry[2]
        loaded.append(_Loaded(trial, status, entry[3], entry[4], entry[5]))

    documents = store.read_many(
        [store.join(folder, _layout.DOCUMENT) for folder in stale], limit=MAX_DOCUMENT_BYTES
    )
    for folder in stale:
        raw = documents.get(store.join(folder, _layout.DOCUMENT))
        trial = Trial(store, folder, folder, trusted=trusted, document=raw if isinstance(raw, bytes) else None)
        try:
            if not isinstance(raw, bytes):
                raise TrialLoadError(f"{store.url(folder)}: cannot read votakvot.yaml ({raw!r})")
            doc = trial.data if full else trial.head()
            trial.tid = _tid(store, folder, anchors, doc.get("tid"))
            names, values, extra = _row(doc, dict(trial.data) if full else None) if rows else ((), (), None)
            names = shapes.setdefault(names, names)
            status = trial.status
        except (TrialLoadError, OSError) as e:
            if not safe:
                raise TrialLoadError(str(e)) from e
            warnings.warn(f"votakvot: skipping trial folder {store.url(folder)}: {e}", stacklevel=4)
            continue
        if cache is not None and rows and found[folder] is not None:
            cache.entries[folder] = (found[folder], doc.get("tid"), str(doc.get("status")), names, values, extra)
            cache.changed = True
        loaded.append(_Loaded(trial, status, names, values, extra))

    if cache is not None:
        for folder in [f for f in cache.entries if f not in found]:
            del cache.entries[folder]
            cache.changed = True
        cache.changed = cache.changed or listed
        cache.save()
    loaded.sort(key=lambda item: item.trial.folder)
    return loaded


def _anchors(store: Store, base: str, root_url: str, settings: Any) -> list[str]:
    """Folders that trial ids are relative to: the root from init, or the loaded path."""
    root_store, root = open_store(root_url)
    same_store = type(root_store) is type(store) and store.url(root) == root_store.url(root)
    explicit_root = settings.path is not None or bool(os.environ.get(_envvars.PATH))
    if not same_store:
        return [base]
    return [root, base] if explicit_root else [base, root]


def _tid(store: Store, folder: str, anchors: list[str], doc_tid: Any) -> str:
    """The trial's id: its recorded tid when its folder really ends with it, else its relative path."""
    if isinstance(doc_tid, str) and doc_tid:
        where = folder if store.sep == "/" else store.url(folder).replace("\\", "/")
        if where.endswith("/" + doc_tid):
            return doc_tid
    return _relative(folder, anchors, store.sep)


def load_trials(
    path: str | os.PathLike[str] | None = None,
    *,
    safe: bool = True,
    trusted: bool = False,
    index: bool | None = None,
) -> dict[str, Trial]:
    """Loads every trial below `path` (default: the root from `init`) as `{tid: votakvot.Trial}`.

    `path` is a folder or fsspec URL and may hold globs (`*` within a segment, `**` across).
    A trial folder that cannot be read is skipped with a warning (raised with `safe=False`).
    `trusted=True` builds `!!python/...` values (which can run code from the files).
    `index=True` uses the local report index for discovery (off by default here).

        trials = votakvot.load_trials("./my-results/**/21-05-20")
    """
    trials: dict[str, Trial] = {}
    # Without report rows the index saves little: discovery alone is what it would skip.
    found = _load(path, safe=safe, trusted=trusted, rows=False, full=False, index=bool(index))
    for item in found:
        trial = item.trial
        if trial.tid in trials:  # two folders claim one id (e.g. a copied folder): keep both
            trial.tid = trial.path
        trials[trial.tid] = trial
    return trials


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
    index: bool | None = None,
) -> Any:
    """Loads trials below `path` into a DataFrame: one row per trial, RangeIndex.

    Columns: `tid`, `trial` (the `votakvot.Trial`), `status`, then params, info and result as plain
    columns (nested dicts flattened with dots, a scalar result as `result`); names that clash
    between sections keep their section prefix. `full=True` adds every field of the document as a
    dotted column (`meta.git.commit`, `at.duration`, ...). No trials: an empty DataFrame.
    `index=False` (or `VOTAKVOT_INDEX=0`) skips the local report index (see the README).

        df = votakvot.load_report("./my-results")
    """
    import pandas as pd

    with _gc.paused():  # the frame is built from as many small objects as the load made
        return _frame(pd, _load(path, safe=safe, trusted=trusted, rows=True, full=full, index=index), full)


def _frame(pd: Any, loaded: list[_Loaded], full: bool) -> Any:
    """Builds the report DataFrame: standard columns, then sections, then full=True's fields."""
    if not loaded:
        return pd.DataFrame(columns=list(STANDARD_COLUMNS))
    owners: dict[str, set[str]] = {name: {"standard"} for name in STANDARD_COLUMNS}
    for names in {item.names for item in loaded}:
        for cell in names:
            section, name = cell.split("\0", 1)
            owners.setdefault(name, set()).add(section)
    if full:
        for item in loaded:  # the document's own fields keep their names
            for name in item.extra or ():
                if name in owners and not name.startswith(_SECTIONS):
                    owners[name].add("document")
    column_names: dict[tuple[str, ...], list[str]] = {}
    rows_of: dict[tuple[str, ...], list[int]] = {}
    for i, item in enumerate(loaded):
        rows_of.setdefault(item.names, []).append(i)
    for names in rows_of:
        cells = [cell.split("\0", 1) for cell in names]
        column_names[names] = [_column(section, name, owners[name]) for section, name in cells]
    count = len(loaded)
    data: dict[str, list[Any]] = {
        "tid": [item.trial.tid for item in loaded],
        "trial": [item.trial for item in loaded],
        "status": [item.status for item in loaded],
    }
    for names, rows in rows_of.items():  # column-wise: one transpose per shape of row
        if not names:
            continue
        transposed = zip(*(loaded[i].values for i in rows), strict=True)
        for column, values in zip(column_names[names], transposed, strict=True):
            if len(rows) == count and column not in data:
                data[column] = list(values)
                continue
            target = data.setdefault(column, [None] * count)
            for i, value in zip(rows, values, strict=True):
                target[i] = value
    if full:
        for i, item in enumerate(loaded):
            for column, value in (item.extra or {}).items():
                data.setdefault(column, [None] * count)[i] = value
    return pd.DataFrame(data)
