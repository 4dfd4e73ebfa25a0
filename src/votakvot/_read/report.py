"""`load_trials` and `load_report`: trial folders found by path or glob, read back in bulk."""

from __future__ import annotations

import datetime
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

from .. import _envvars
from .._files import layout
from .._files.storage import LocalStore, Store, open_root, open_store
from .._process import collector, settings
from ..errors import MissingPathWarning, TrialLoadError
from . import discovery, report_frame, report_index, shared_index
from .trial import LIVE_STATUSES, Trial

_SECTIONS = ("params", "info", "result")
# Fields of `at` the report shows in its own columns, so full=True does not show them again.
_SHOWN_AT = ("created", "finished", "duration")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)
_MAX_COLUMNS_PER_TRIAL = 10_000
# Documents read between two calls of a load's `progress`.
_PROGRESS_BATCH = 500

Progress = Callable[[int, int], None]


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
        at = full.get("at")
        if isinstance(at, dict):
            full = {**full, "at": {key: value for key, value in at.items() if key not in _SHOWN_AT}}
        shown = {"tid", "status", "error", "result"}
        shown.update(key for key in ("params", "info") if isinstance(full.get(key), dict))
        _flatten({key: value for key, value in full.items() if key not in shown}, "", extra, budget)
    return tuple(names), tuple(values), extra


def _timing(doc: dict[str, Any]) -> tuple[int, int, int, float, str | None]:
    """Returns a document's report timing and error: (created, finished) in microseconds since
    the epoch, the UTC offset `created` was recorded with (seconds), the duration and the error;
    a missing value is `report_index.MISSING` (NaN for the duration)."""
    at = doc.get("at")
    at = at if isinstance(at, dict) else {}
    created, offset = _instant(at.get("created"))
    finished, _ = _instant(at.get("finished"))
    value = at.get("duration")
    duration = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    error = doc.get("error")
    return created, finished, offset, duration, error if error is None or isinstance(error, str) else str(error)


def _instant(value: Any) -> tuple[int, int]:
    """Returns a datetime as (microseconds since the epoch, UTC offset in seconds); naive ones are local."""
    if not isinstance(value, datetime.datetime):
        return report_index.MISSING, report_index.MISSING
    if value.tzinfo is None:
        value = value.astimezone()
    offset = value.utcoffset()
    micros = (value - _EPOCH) // _MICROSECOND
    if not report_index.MISSING < micros < 2**63:
        return report_index.MISSING, report_index.MISSING
    return micros, int(offset.total_seconds()) if offset is not None else 0


class LoadResult:
    """What a load found: its report rows (column-wise, in report order), their trials, statuses
    and errors (a crash is derived when loading)."""

    __slots__ = ("base", "errors", "rows", "statuses", "trials")

    def __init__(
        self, rows: report_index.Table, trials: list[Trial], statuses: list[str], errors: list[str | None], base: str
    ) -> None:
        self.rows, self.trials, self.statuses, self.errors = rows, trials, statuses, errors
        self.base = base  # the folder the path names (before any glob)


@collector.paused()  # a load makes as many small objects as it reads trials
def _load(
    path: Any,
    options: Any,
    *,
    safe: bool,
    trusted: bool,
    rows: bool,
    full: bool,
    index: bool | None,
    progress: Progress | None = None,
) -> LoadResult:
    config = settings.current()
    store, pattern = open_store(path, options) if path is not None else open_root(config, options)
    use_index = (index if index is not None else report_index.enabled()) and not trusted
    # A path that exists as written is read as written: trial names may hold '[' or '*'.
    literal = not discovery.has_glob(pattern) or store.exists(pattern)
    base_url = store.url(pattern if literal else discovery.glob_base(pattern, store.sep) or pattern)
    cache = report_index.Index(base_url).load() if use_index else None
    known = cache.table if cache is not None else report_index.Table()
    listings = cache.listings if cache is not None else {}
    base, _ = discovery.split(pattern, store.sep, literal=literal)
    shared = shared_index.for_load(store, base, config, cache) if cache is not None else None
    learned = None
    if shared is not None and not len(known) and isinstance(store, LocalStore) and shared.home == base:
        learned = shared.learn()  # nothing indexed here yet: start from what others shared
        known = learned.seed()
        listings.update(learned.listings)
    seeded = learned is not None
    walked = dict(listings) if shared is not None else {}
    found = discovery.find(store, pattern, listings, known, literal=literal)
    if not found.signatures and not found.unchanged:
        warn_if_missing(store, found.base, pattern)
    anchors = anchors_of(store, found.base, config)
    rows = rows or cache is not None

    kept, stale, refreshed = _still_valid(known, found, full)
    if shared is not None and learned is None and stale:
        learned = shared.learn()
    shared_rows = learned.take(stale, full) if learned is not None else report_index.Table()
    shared_rows.tids = [
        _tid(store, folder, anchors, tid) for folder, tid in zip(shared_rows.folders, shared_rows.doc_tids, strict=True)
    ]
    cache_anchors = cache.anchors if cache is not None else None
    if cache_anchors != anchors or seeded:  # seeded rows hold no trial ids yet
        kept.tids = [_tid(store, folder, anchors, tid) for folder, tid in zip(kept.folders, kept.doc_tids, strict=True)]

    fresh, fresh_trials = read(
        store, stale, anchors, safe=safe, trusted=trusted, rows=rows, full=full, progress=progress
    )

    changed = found.listings_changed or fresh or shared_rows or refreshed or len(kept) != len(known)
    if cache is not None and (changed or learned is not None or cache_anchors != anchors):  # pieces read: noted
        signed = fresh.take([i for i, signature in enumerate(fresh.signatures) if signature is not None])
        saved = kept
        if shared_rows or signed:
            saved = report_index.Table({column: list(values) for column, values in kept.columns().items()})
            saved.extend(shared_rows)
            saved.extend(signed)
            saved.sort()
        if shared is not None:
            shared.share(found, fresh, saved, walked, listings)
        cache.save(anchors, listings, saved, (store.url(shared.home), shared.seen) if shared is not None else None)

    result = kept if found.patterns is None else kept.take([i for i, f in enumerate(kept.folders) if found.selects(f)])
    trials: list[Trial | None] = [None] * len(result)
    if fresh or shared_rows:
        result = report_index.Table({column: list(values) for column, values in result.columns().items()})
        result.extend(shared_rows)
        trials.extend([None] * len(shared_rows))
        result.extend(fresh)
        trials.extend(fresh_trials)
        trials = [trials[i] for i in result.sort()]
    made = [
        trial if trial is not None else Trial(store, folder, tid)
        for trial, folder, tid in zip(trials, result.folders, result.tids, strict=True)
    ]
    return loaded(result, made, found.base)


def loaded(rows: report_index.Table, trials: list[Trial], base: str) -> LoadResult:
    """Rows and their trials as a load gives them: a trial recorded as live is checked now, as it
    may have crashed since (its status and error are then derived)."""
    statuses, errors = rows.statuses, rows.errors
    if any(live in statuses for live in LIVE_STATUSES):  # only those may have crashed since
        live = [i for i, status in enumerate(statuses) if status in LIVE_STATUSES]
        statuses, errors = list(statuses), list(errors)
        for i in live:
            statuses[i], errors[i] = trials[i].status, trials[i].error
    return LoadResult(rows, trials, statuses, errors, base)


def warn_if_missing(store: Store, base: str, pattern: str, *, stacklevel: int = 5) -> None:
    """Warns when the folder a load starts from is not there: an empty result is then most
    likely a typo, not "no results"."""
    if store.isdir(base):
        return
    what = "is a file, not a folder" if store.exists(base) else "does not exist"
    where = repr(store.url(base))
    if base.rstrip(store.sep) != pattern.rstrip(store.sep):
        where += f" (where {store.url(pattern)!r} starts)"
    warnings.warn(
        MissingPathWarning(
            f"votakvot: nothing loaded: {where} {what}; check the path "
            "(load the root given to init, a trial folder, or a glob such as 'root/**/21-05-20')"
        ),
        stacklevel=stacklevel,
    )


def read(
    store: Store,
    stale: dict[str, tuple[Any, Any]],
    anchors: list[str],
    *,
    safe: bool,
    trusted: bool,
    rows: bool,
    full: bool,
    progress: Progress | None = None,
    skipped: list[str] | None = None,
) -> tuple[report_index.Table, list[Trial]]:
    """Reads and parses the documents of `stale` folders (concurrently where the store allows)
    into report rows; a folder that cannot be read is skipped with a warning (its message goes
    to `skipped` instead, when given), or raises.
    With `progress`, documents are read in batches and it is told after each one."""
    fresh = report_index.Table()
    trials: list[Trial] = []
    shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
    folders = list(stale)
    batch = _PROGRESS_BATCH if progress is not None else max(len(folders), 1)
    for start in range(0, len(folders), batch):
        chunk = folders[start : start + batch]
        paths = [store.join(folder, layout.DOCUMENT) for folder in chunk]
        documents = store.read_many(paths, limit=layout.MAX_DOCUMENT_BYTES)
        for folder in chunk:
            _parse(
                store,
                folder,
                stale[folder],
                documents,
                anchors,
                fresh,
                trials,
                shapes,
                safe,
                trusted,
                rows,
                full,
                skipped,
            )
        if progress is not None:
            progress(start + len(chunk), len(folders))
    return fresh, trials


def _parse(
    store: Store,
    folder: str,
    stamps: tuple[Any, Any],
    documents: dict[str, bytes | Exception],
    anchors: list[str],
    fresh: report_index.Table,
    trials: list[Trial],
    shapes: dict[tuple[str, ...], tuple[str, ...]],
    safe: bool,
    trusted: bool,
    rows: bool,
    full: bool,
    skipped: list[str] | None,
) -> None:
    """Parses one folder's document into a row of `fresh` (and its trial into `trials`); the
    warning of a folder that cannot be read goes to `skipped`, when given."""
    signature, stamp = stamps
    raw = documents.get(store.join(folder, layout.DOCUMENT))
    trial = Trial(store, folder, folder, trusted=trusted, document=raw if isinstance(raw, bytes) else None)
    try:
        if not isinstance(raw, bytes):
            raise TrialLoadError(f"{store.url(folder)}: cannot read votakvot.yaml ({raw!r})")
        doc = trial.data if full else trial.head()
        trial.tid = _tid(store, folder, anchors, doc.get("tid"))
        names, values, extra = _row(doc, dict(trial.data) if full else None) if rows else ((), (), None)
        names = shapes.setdefault(names, names)
        status = str(doc.get("status"))
    except (TrialLoadError, OSError) as e:
        if not safe:
            raise TrialLoadError(str(e)) from e
        message = f"votakvot: skipping trial folder {store.url(folder)}: {e}"
        if skipped is None:
            warnings.warn(message, stacklevel=6)
        else:
            skipped.append(message)
        return
    fresh.append(folder, stamp, signature, doc.get("tid"), trial.tid, status, names, values, extra, *_timing(doc))
    trials.append(trial)


def rows_of_documents(store: Store, home: str, documents: list[tuple[str, bytes, Any]]) -> report_index.Table:
    """The report rows (with every field, as `full=True` reads them) of trial documents as
    written: (folder, content, signature) each; a document that does not parse gives no row."""
    rows = report_index.Table()
    contents: dict[str, bytes | Exception] = {
        store.join(folder, layout.DOCUMENT): data for folder, data, _ in documents
    }
    shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
    for folder, _, signature in documents:
        _parse(store, folder, (signature, None), contents, [home], rows, [], shapes, True, False, True, True, [])
    return rows


def _still_valid(
    known: report_index.Table, found: discovery.Found, full: bool
) -> tuple[report_index.Table, dict[str, tuple[Any, Any]], bool]:
    """Returns the index rows that still hold (sorted by folder), the folders to read (with their
    document signature and folder stamp), and whether a kept row's folder stamp changed.
    """
    positions = list(found.unchanged)
    stale: dict[str, tuple[Any, Any]] = {}
    stamps: dict[int, Any] = {}
    if found.signatures:
        where = known.positions()
        for folder, signature in found.signatures.items():
            i = where.get(folder)
            if i is not None and signature is not None and known.signatures[i] == signature:
                positions.append(i)
                stamps[i] = found.folder_stamps.get(folder)
            else:
                stale[folder] = (signature, found.folder_stamps.get(folder))
    if full:  # rows indexed by a report without full=True lack the document's other fields
        extras = known.extras
        stale.update(
            (known.folders[i], (known.signatures[i], known.folder_stamps[i])) for i in positions if extras[i] is None
        )
        positions = [i for i in positions if extras[i] is not None]
    positions.sort()
    kept = known.take(positions)
    refreshed = False
    if stamps:
        for j, i in enumerate(positions):
            if i in stamps and kept.folder_stamps[j] != stamps[i]:
                kept.folder_stamps[j] = stamps[i]
                refreshed = True
    return kept, stale, refreshed


def anchors_of(store: Store, base: str, config: settings.Settings) -> list[str]:
    """Folders that trial ids are relative to: the root from init, or the loaded path."""
    root_store, root = open_root(config)
    same_store = type(root_store) is type(store) and store.url(root) == root_store.url(root)
    explicit_root = config.path is not None or bool(os.environ.get(_envvars.PATH))
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
    path: str | os.PathLike[str] | Any | None = None,
    *,
    safe: bool = True,
    trusted: bool = False,
    index: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Trial]:
    """Loads every trial below `path` (default: the root from `init`) as `{tid: votakvot.Trial}`.

    `path` is a folder or fsspec URL and may hold globs (`*` within a segment, `**` across).
    A trial folder that cannot be read is skipped with a warning (raised with `safe=False`).
    `trusted=True` builds `!!python/...` values (which can run code from the files).
    `index=True` uses the local report index for discovery (off by default here).
    `path` may also be an fsspec filesystem object or `FSMap`; `storage_options` go to fsspec
    (default: init's, for URLs of the root's protocol). `progress(done, total)` is called as
    trial documents are read (those the index already holds are not counted).

        trials = votakvot.load_trials("./my-results/**/21-05-20")
    """
    trials: dict[str, Trial] = {}
    # Without report rows the index saves little: discovery alone is what it would skip.
    loaded = _load(
        path, storage_options, safe=safe, trusted=trusted, rows=False, full=False, index=bool(index), progress=progress
    )
    for trial in loaded.trials:
        if trial.tid in trials:  # two folders claim one id (e.g. a copied folder): keep both
            trial.tid = trial.path
        trials[trial.tid] = trial
    return trials


def load_report(
    path: str | os.PathLike[str] | Any | None = None,
    full: bool = False,
    *,
    safe: bool = True,
    trusted: bool = False,
    index: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Any:
    """Loads trials below `path` into a DataFrame: one row per trial, by creation time, RangeIndex.

    Columns: `tid`, `trial` (the `votakvot.Trial`), `status`, `created`, `finished`, `duration`,
    `error`, then params, info and result as plain columns (nested dicts flattened with dots, a
    scalar result as `result`); names that clash keep their section prefix. `full=True` adds every
    other field of the document as a dotted column (`meta.git.commit`, `at.started`, ...) and names
    the times `at.created`, `at.finished`, `at.duration`. No trials: an empty DataFrame.
    `index=False` (or `VOTAKVOT_INDEX=0`) skips the local report index (see the README).
    `path` may also be an fsspec filesystem object or `FSMap`; `storage_options` go to fsspec
    (default: init's, for URLs of the root's protocol). `progress(done, total)` is called as
    trial documents are read (those the index already holds are not counted), e.g. for a bar.

        df = votakvot.load_report("./my-results")
    """
    import pandas as pd

    with collector.paused():  # the frame is built from as many small objects as the load made
        loaded = _load(
            path, storage_options, safe=safe, trusted=trusted, rows=True, full=full, index=index, progress=progress
        )
        return report_frame.frame(pd, loaded, full)
