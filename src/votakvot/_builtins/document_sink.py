"""The built-in sink that writes `votakvot.yaml`, `traceback.txt` and the heartbeat (while the trial runs)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from typing import Any

from .. import plugins
from ..events import Finished, Informed, Started

log = logging.getLogger("votakvot.sinks.yaml")

_PLAIN_SECTIONS = ("params", "result", "info")

# A field of the document: (section, key), or (section, None) for a section that is not a dict.
Field = tuple[str, Any]

# For how long after a document was written the next one may replace it without having it
# written back to the disk at once (see `TrialFiles.write`): the one replaced is not there yet.
_UNFLUSHED_SECONDS = 1.0

# The `meta` of consecutive trials is nearly always the same: keep its YAML for reuse.
_last_meta: list[tuple[dict[str, Any], bytes]] = []


class YamlTrialSink:
    """Keeps `votakvot.yaml` complete on disk: at start, after `inform`, and at the end (on a
    remote store, the start's document is written by the first tick, off the trial's path).

    Runs first on `Started` and last on `Finished`, so the folder exists before other sinks
    write and the final document lands after they flushed. Every write is atomic. A write that
    fails is tried again (each document is complete, so the next one carries everything); only
    the final one, at `Finished`, has to succeed.
    """

    order = -100
    retrying = True

    def __init__(self, trial: plugins.TrialView) -> None:
        self.trial = trial
        self.files = trial.files
        self.yaml = plugins.get(plugins.SERIALIZERS, "yaml")()
        self.dirty = False
        self.closed = False
        # The ticker thread and the trial's thread both write; the final document must land last.
        self.lock = threading.Lock()
        self.folder_made = False
        self.beaten = False  # whether this run wrote a `.heartbeat`
        # Until when (monotonic) the document may be replaced without write-back: a second
        # after one written with it, so that never two in a row skip it.
        self._swappable_until = 0.0
        self._meta_yaml: bytes | None = None
        self._warned: set[str] = set()
        self._too_large: dict[Field, tuple[Any, str]] = {}

    def subscriptions(self) -> dict[type, Any]:
        return {Started: self.started, Informed: self.informed, Finished: self.finished}

    def started(self, event: Started) -> None:
        if self.files.remote:
            # A round trip before the trial's code runs would be paid by every trial; the first
            # tick (a flush interval on) writes the running document instead, in the background,
            # and a trial that ends before that writes only its final one.
            self.dirty = True
            return
        self.write()

    def informed(self, event: Informed) -> None:
        self.dirty = True

    def finished(self, event: Finished) -> None:
        with self.lock:
            self.closed = True
            text = self.trial.traceback_text
            if text:
                self._attempt(plugins.TRACEBACK, text.encode())
            elif self.trial.resumed:  # the traceback of an earlier run is not this end's
                self.files.remove(plugins.TRACEBACK)
            self._write()
            # A finished trial is not alive: its status says so, and no heartbeat says otherwise.
            if self.beaten or self.trial.resumed:  # an earlier run may have left one
                with contextlib.suppress(OSError):
                    self.files.remove(plugins.HEARTBEAT)

    def tick(self, now: float) -> None:
        with self.lock:
            if not self.closed and self.dirty:
                self._write()

    def heartbeat(self, now: float) -> None:
        """Records `now` (wall time) in `.heartbeat`, which readers compare with their clock."""
        with self.lock:
            if not self.closed:
                self.files.write(plugins.HEARTBEAT, f"{now:.3f}\n".encode())
                self.beaten = True

    def write(self) -> None:
        """Writes the document now (atomically)."""
        with self.lock:
            self._write()

    def _write(self) -> None:
        self.dirty = False
        doc = self.trial.document()
        meta = doc.pop("meta")
        if self._meta_yaml is None:
            self._meta_yaml = _meta_yaml(meta, self._dump)
        if self._too_large:  # found too large by an earlier write: not dumped again
            doc = _replaced(doc, {f: text for f, (value, text) in self._too_large.items() if _get(doc, f) is value})
        data = self._dump(doc) + self._meta_yaml
        if len(data) > plugins.MAX_DOCUMENT_BYTES:
            data = self._dump(self._within_cap(doc, len(data) - plugins.MAX_DOCUMENT_BYTES)) + self._meta_yaml
        now = time.monotonic()
        writeback = now >= self._swappable_until
        try:
            self._attempt(plugins.DOCUMENT, data, writeback=writeback)
        except BaseException:
            self.dirty = True  # the next tick, or the end of the trial, writes it again
            raise
        self._swappable_until = now + _UNFLUSHED_SECONDS if writeback else 0.0

    def _attempt(self, name: str, data: bytes, *, writeback: bool = True) -> None:
        """Writes one file, creating the folder first (again, after a failure: it may be gone)."""
        if not self.folder_made:
            self.files.makedirs()
            self.folder_made = True
        try:
            self.files.write(name, data, writeback=writeback)
        except OSError:
            self.folder_made = False
            raise

    def _dump(self, doc: dict[str, Any]) -> bytes:
        try:
            data: bytes = self.yaml.dumps(doc)
        except Exception:
            data = self.yaml.dumps(self._storable(doc))
        return data

    def _within_cap(self, doc: dict[str, Any], excess: int) -> dict[str, Any]:
        """Replaces the largest params, info fields or result with short notes until the
        document is `excess` bytes smaller, and warns: a larger document would not load back."""
        sizes: list[tuple[int, Field]] = []
        for section in _PLAIN_SECTIONS:
            value = doc.get(section)
            if isinstance(value, dict):
                sizes.extend((len(self._dump({section: {k: v}})), (section, k)) for k, v in value.items())
            else:
                sizes.append((len(self._dump({section: value})), (section, None)))
        sizes.sort(key=lambda item: item[0], reverse=True)
        notes: dict[Field, str] = {}
        for size, field in sizes:
            if excess <= 0:
                break
            section, key = field
            value = _get(doc, field)
            note = notes[field] = f"<too large {type(value).__qualname__}: {size} bytes as YAML>"
            self._too_large[field] = (value, note)
            excess -= size - len(self._dump({section: note} if key is None else {section: {key: note}}))
        names = [section if key is None else f"{section}.{key}" for section, key in notes]
        new = [name for name in names if name not in self._warned]
        if new:
            self._warned.update(new)
            warnings.warn(
                f"votakvot: {', '.join(new)} of trial {self.trial.tid!r} would make votakvot.yaml larger than "
                f"{plugins.MAX_DOCUMENT_BYTES:,} bytes, the most a trial document may have to be loaded back; "
                "a short '<too large ...>' note is stored instead. Attach large data as a file "
                "(t.attach('data.bin', 'wb')) and keep params, info and results small.",
                stacklevel=2,
            )
        return _replaced(doc, notes)

    def _storable(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Replaces each value that YAML cannot hold with a readable stand-in, and warns once."""
        out = dict(doc)
        for section, value in doc.items():
            if section in _PLAIN_SECTIONS and isinstance(value, dict):
                out[section] = {k: self._storable_value(f"{section}.{k}", v) for k, v in value.items()}
            else:
                out[section] = self._storable_value(section, value)
        return out

    def _storable_value(self, field: str, value: Any) -> Any:
        # The serializer's own stand-in: a resumed trial compares its params in this same form.
        stored, error = self.yaml.storable(value)
        if error is not None and field not in self._warned:
            self._warned.add(field)
            warnings.warn(
                f"votakvot: {field} of trial {self.trial.tid!r} cannot be stored as YAML ({error!r}); "
                f"its repr is stored instead. Store a plain value (str, number, list, dict) to keep it.",
                stacklevel=2,
            )
        return stored


def _meta_yaml(meta: dict[str, Any], dump: Any) -> bytes:
    cached = _last_meta[0] if _last_meta else None
    if cached is not None and cached[0] == meta:
        return cached[1]
    data: bytes = dump({"meta": meta})
    _last_meta[:] = [(meta, data)]
    return data


def _get(doc: dict[str, Any], field: Field) -> Any:
    section, key = field
    value = doc.get(section)
    if key is None:
        return value
    return value.get(key) if isinstance(value, dict) else None


def _replaced(doc: dict[str, Any], notes: dict[Field, str]) -> dict[str, Any]:
    """Returns a copy of `doc` with each field in `notes` replaced by its note."""
    out = dict(doc)
    for (section, key), note in notes.items():
        if key is None:
            out[section] = note
        else:
            if out[section] is doc[section]:
                out[section] = dict(doc[section])
            out[section][key] = note
    return out


plugins.register_state(reset=_last_meta.clear)
