"""The root as the live dashboard sees it: reloaded through the report index (cheap when little
changed), each trial's row stamped with the generation in which it last changed, so a page asks
only for what changed since the generation it has."""

from __future__ import annotations

import threading
import time
from typing import Any

from .._process import collector
from . import curves, details, embed, page_data, reading, table

# Polls from several pages within this many seconds share one reload.
MIN_RELOAD_SECONDS = 0.5


class LiveRoot:
    """A root kept current for the dashboard; safe to use from the server's threads."""

    def __init__(self, path: Any, options: dict[str, Any] | None, *, poll_seconds: float) -> None:
        self.path, self.options, self.poll_seconds = path, options, poll_seconds
        self.name = table.root_name(path)
        self.generation = 0
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[int, str, dict[str, Any]]] = {}  # tid: (generation, JSON, record)
        self._order: list[str] = []
        self._order_generation = 0
        self._columns: list[dict[str, str]] = []
        self._columns_generation = 0
        self._loaded: table.Loaded | None = None
        self._fingerprint: list[Any] | None = None
        self._plain: dict[str, Any] = {}  # documents found not to be links, by folder
        self._reloaded_at = -float("inf")
        self.reload()

    def reload(self) -> None:
        """Loads the root again unless that was done within `MIN_RELOAD_SECONDS`."""
        with self._lock:
            if time.monotonic() - self._reloaded_at < MIN_RELOAD_SECONDS:
                return
            with collector.paused():
                loaded = table.Loaded(self.path, self.options, plain=self._plain)
                fingerprint = _fingerprint(loaded)
                if fingerprint is not None and fingerprint == self._fingerprint:
                    self._loaded, self._reloaded_at = loaded, time.monotonic()
                    return
                columns, records = table.build(loaded)
            self._fingerprint = fingerprint
            following = self.generation + 1
            changed = False
            rows = {}
            for record in records:
                text = embed.dumps(record)
                known = self._rows.get(record["tid"])
                if known is not None and known[1] == text:
                    rows[record["tid"]] = known
                else:
                    rows[record["tid"]] = (following, text, record)
                    changed = True
            order = [record["tid"] for record in records]
            if order != self._order:
                self._order, self._order_generation, changed = order, following, True
            if columns != self._columns:
                self._columns, self._columns_generation, changed = columns, following, True
            self._rows, self._loaded = rows, loaded
            if changed:
                self.generation = following
            self._reloaded_at = time.monotonic()

    def changes(self, after: int) -> dict[str, Any]:
        """What changed since generation `after`: the changed rows, and the order of all trials
        and the columns when those changed (a page that missed a generation gets them too)."""
        self.reload()
        with self._lock:
            out: dict[str, Any] = {
                "generation": self.generation,
                "trials": [{**record, "rev": rev} for rev, _, record in self._rows.values() if rev > after],
            }
            if self._order_generation > after:
                out["order"] = self._order
            if self._columns_generation > after:
                out["columns"] = self._columns
            return out

    def page(self) -> dict[str, Any]:
        """The data a freshly opened page starts from: every row, at the current generation."""
        self.reload()
        with self._lock:
            assert self._loaded is not None
            data = page_data.base(
                self._loaded,
                self.name,
                live={"poll_ms": int(self.poll_seconds * 1000)},
                max_points=page_data.LIVE_MAX_POINTS,
            )
            data["generation"] = self.generation
            data["trials"] = [{**self._rows[tid][2], "rev": self._rows[tid][0]} for tid in self._order]
            return data

    def _trial(self, tid: str) -> tuple[Any, dict[str, Any] | None] | None:
        with self._lock:
            loaded = self._loaded
        if loaded is None or tid not in loaded.by_tid:
            return None
        at = loaded.positions[loaded.tids.index(tid)]
        return loaded.by_tid[tid], loaded.result.rows.extras[at]

    def panel(self, tid: str) -> dict[str, Any] | None:
        """The panel of the trial `tid` of the last reload, or None when there is no such trial."""
        found = self._trial(tid)
        if found is None:
            return None
        trial, extra = found
        listing = trial.store.listdirs([trial.folder])
        traceback = details.tracebacks([trial], listing).get(trial.folder)
        return details.record(trial, extra, listing[trial.folder], traceback)

    def curves(self, tid: str, sig: str | None) -> dict[str, Any] | None:
        """The curves of the trial `tid` with a signature of its metric files; only
        `{"unchanged": true}` when the page's `sig` still holds. None: no such trial."""
        found = self._trial(tid)
        if found is None:
            return None
        trial = found[0]
        listing = trial.store.listdirs([trial.folder])
        names = [name for parts in curves.metric_files(listing[trial.folder]).values() for name in parts]
        now = reading.file_signature(trial.store, trial.folder, names)
        if sig is not None and now is not None and sig == now:
            return {"sig": sig, "unchanged": True}
        found_curves, _, _ = curves.read(
            [trial], listing, max_points=page_data.LIVE_MAX_POINTS, budget=None, floor=page_data.REPORT_FLOOR
        )
        return {"sig": now, "series": found_curves.get("0", {"series": []})["series"]}


def _fingerprint(loaded: table.Loaded) -> list[Any] | None:
    """What the rows of a load depend on: each trial's id, document signature, status and error
    (a crash changes the last two, not the document). None when a signature is unknown (a
    document changed too recently to be trusted), so the rows are built again."""
    result = loaded.result
    signatures = result.rows.signatures
    out = []
    for i, tid in zip(loaded.positions, loaded.tids, strict=True):
        if signatures[i] is None:
            return None
        out.append((tid, signatures[i], result.statuses[i], result.errors[i]))
    return out
