"""`remove`: deleting trial folders by selection, then the folders they leave empty."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from typing import Any

from .._files import layout
from .._files.storage import Store, open_store
from .._process import settings
from ..errors import SelectionError, TrialRunningError
from . import report
from .trial import LIVE_STATUSES, Trial

STATUSES = layout.STATUSES


def remove(
    what: Any,
    /,
    *,
    status: str | Iterable[str] | None = None,
    before: datetime.datetime | datetime.date | datetime.timedelta | str | None = None,
    dry_run: bool = False,
    force: bool = False,
    safe: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> list[Trial]:
    """Removes the selected trials' folders, then the folders that left empty; returns the trials.

    `what` is a path or glob (as for `load_report`: every trial at or below it), a
    `votakvot.Trial`, a list of them, or a report DataFrame (its `trial` column). `status` keeps
    only trials with that status (or one of those), `before` only trials created before that time
    (a datetime, a date, an ISO string, or a timedelta meaning "longer ago than"). `dry_run=True`
    removes nothing and returns what would go. A trial still running (fresh heartbeat) raises
    TrialRunningError before anything is removed, unless `force=True`. Empty parent folders are
    removed up to the folder `what` names and the trial's root, never those themselves.

        votakvot.remove("./my-results", status="failed", before="2025-01-01", dry_run=True)
    """
    statuses = _statuses(status)
    cutoff = _cutoff(before)
    trials, base = _selection(what, safe=safe, storage_options=storage_options)
    chosen = [t for t in trials if (statuses is None or t.status in statuses) and _created_before(t, cutoff)]
    live = [t for t in chosen if t.status in LIVE_STATUSES]
    if live and not force:
        names = ", ".join(repr(t.tid) for t in live[:5]) + (f" and {len(live) - 5} more" if len(live) > 5 else "")
        raise TrialRunningError(
            f"remove() selected {len(live)} trial(s) that are still running: {names}; wait for them to end, "
            "leave them out (e.g. status='failed'), or pass force=True to remove them anyway",
            live,
        )
    _check_nested(chosen)
    if dry_run:
        return chosen
    for trial in sorted(chosen, key=lambda t: t.folder.count(t.store.sep), reverse=True):  # nested ones first
        trial.head()  # the returned trial keeps what its document said
        trial.store.remove_tree(trial.folder)
        _prune(trial.store, trial.folder, _limits(trial, base))
    return chosen


def _statuses(status: Any) -> set[str] | None:
    if status is None:
        return None
    wanted = {status} if isinstance(status, str) else set(status)
    unknown = sorted(map(repr, wanted - set(STATUSES)))
    if unknown:
        raise SelectionError(f"remove(status=...) got {', '.join(unknown)}; a trial's status is one of {STATUSES}")
    return wanted


def _cutoff(before: Any) -> datetime.datetime | None:
    """The moment `before` names, timezone-aware (a naive time or a date is local time)."""
    if before is None:
        return None
    if isinstance(before, datetime.timedelta):
        return datetime.datetime.now().astimezone() - before
    if isinstance(before, str):
        try:
            before = datetime.datetime.fromisoformat(before)
        except ValueError:
            raise SelectionError(
                f"remove(before={before!r}) is not an ISO date or time; use e.g. '2025-01-31' or '2025-01-31 18:00'"
            ) from None
    if isinstance(before, datetime.datetime):
        return before if before.tzinfo is not None else before.astimezone()
    if isinstance(before, datetime.date):
        return datetime.datetime.combine(before, datetime.time()).astimezone()
    raise TypeError(f"remove(before={before!r}) takes a datetime, a date, an ISO string or a timedelta")


def _created_before(trial: Trial, cutoff: datetime.datetime | None) -> bool:
    if cutoff is None:
        return True
    created = trial.at.get("created")
    if not isinstance(created, datetime.datetime):
        return False  # its age is unknown: never removed by age
    return (created if created.tzinfo is not None else created.astimezone()) < cutoff


def _selection(
    what: Any, *, safe: bool, storage_options: dict[str, Any] | None = None
) -> tuple[list[Trial], str | None]:
    """The trials `what` names, and the folder it names (None for trials given as objects)."""
    if isinstance(what, (str, os.PathLike)):
        loaded = report._load(what, storage_options, safe=safe, trusted=False, rows=False, full=False, index=False)
        return loaded.trials, loaded.base
    if isinstance(what, Trial):
        return [what], None
    column = what["trial"] if hasattr(what, "columns") and "trial" in what.columns else what
    trials = list(column) if isinstance(column, Iterable) else [column]
    wrong = [t for t in trials if not isinstance(t, Trial)]
    if wrong:
        raise TypeError(
            f"remove() takes a path or glob, votakvot.Trial objects or a report DataFrame; got {wrong[0]!r}"
        )
    return trials, None


def _check_nested(chosen: list[Trial]) -> None:
    """Refuses to remove a trial folder that holds another trial which was not selected."""
    folders = {(id(t.store), t.folder) for t in chosen}
    for trial in chosen:
        store = trial.store
        inside = [f.rsplit(store.sep, 1)[0] for f in store.find_files(trial.folder, layout.DOCUMENT)]
        kept = sorted(f for f in inside if f != trial.folder and (id(store), f) not in folders)
        if kept:
            raise SelectionError(
                f"remove() would delete trial {trial.tid!r} together with the trial folder(s) inside it "
                f"{[store.url(f) for f in kept[:3]]!r}, which were not selected; select them too, "
                "or remove them first"
            )


def _limits(trial: Trial, base: str | None) -> list[str]:
    """Folders never removed when the trial's parents are cleaned: the folder the caller named,
    the root the trial's id is relative to, and the root from `init`."""
    store, sep = trial.store, trial.store.sep
    limits = []
    if base is not None:
        limits.append(base)
    suffix = sep + trial.tid.replace("/", sep)
    if trial.folder.endswith(suffix):
        limits.append(trial.folder[: -len(suffix)])
    root_store, root = open_store(settings.current().root())
    if type(root_store) is type(store) and root_store.url(root) == store.url(root):
        limits.append(root)
    return limits


def _prune(store: Store, folder: str, limits: list[str]) -> None:
    """Removes the empty parents of `folder`, up to the nearest limit above it (never a limit)."""
    sep = store.sep
    above = [limit.rstrip(sep) for limit in limits if folder.startswith(limit.rstrip(sep) + sep)]
    if not above:
        return
    stop = max(above, key=len)
    parent = folder.rsplit(sep, 1)[0]
    while parent.startswith(stop + sep) and store.remove_empty_folder(parent):
        parent = parent.rsplit(sep, 1)[0]
