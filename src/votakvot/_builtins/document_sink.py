"""The built-in sink that writes `votakvot.yaml`, `traceback.txt` and the heartbeat (while the trial runs)."""

from __future__ import annotations

import contextlib
import logging
import posixpath
import threading
import warnings
from typing import Any

from .. import plugins
from ..events import Finished, Informed, Started

log = logging.getLogger("votakvot.sinks.yaml")

_PLAIN_SECTIONS = ("params", "result", "info")

# The `meta` of consecutive trials is nearly always the same: keep its YAML for reuse.
_last_meta: list[tuple[dict[str, Any], bytes]] = []


class YamlTrialSink:
    """Keeps `votakvot.yaml` complete on disk: at start, after `inform`, and at the end.

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
        self._meta_yaml: bytes | None = None
        self._warned: set[str] = set()

    def subscriptions(self) -> dict[type, Any]:
        return {Started: self.started, Informed: self.informed, Finished: self.finished}

    def started(self, event: Started) -> None:
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
        try:
            self._attempt(plugins.DOCUMENT, self._dump(doc) + self._meta_yaml)
        except BaseException:
            self.dirty = True  # the next tick, or the end of the trial, writes it again
            raise

    def _attempt(self, name: str, data: bytes) -> None:
        """Writes one file, creating the folder first (again, after a failure: it may be gone)."""
        if not self.folder_made:
            self.files.makedirs()
            self.folder_made = True
        try:
            self.files.write(name, data)
        except OSError as e:
            self.folder_made = False
            if not e.filename:
                e.filename = posixpath.join(self.trial.path, name)
            raise

    def _dump(self, doc: dict[str, Any]) -> bytes:
        try:
            data: bytes = self.yaml.dumps(doc)
        except Exception:
            data = self.yaml.dumps(self._storable(doc))
        return data

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


plugins.register_state(reset=_last_meta.clear)
