"""`votakvot.Trial`: one trial folder read back, lazily, each file at most once."""

from __future__ import annotations

import contextlib
import datetime
import os
import time
from typing import IO, Any

from .. import plugins
from .._files import layout, yaml_format
from .._files.storage import Store
from .._process import liveness
from ..errors import TrialFailedError, TrialLoadError
from . import metric_files

LIVE_STATUSES = layout.LIVE_STATUSES
# Statuses of trials that did not do their work: reading their result raises TrialFailedError.
FAILED_STATUSES = ("error", "failed")
# Where the `meta` section starts in documents votakvot wrote: right after the `version` line.
_META_AFTER_VERSION = b"\nmeta:\n"
# A live trial whose newest sign of life is older than this (or 4 heartbeats) is `crashed`.
STALE_AFTER_S = 60.0
# How much of a metric file's end is read to find its last step, at first and at most.
_TAIL_BYTES = 64 * 1024
_MAX_TAIL_BYTES = 16 * 1024 * 1024


class AttrDict(dict):  # type: ignore[type-arg]
    """A dict whose keys also read as attributes, nested dicts included: `trial.meta.git.commit`."""

    __module__ = "votakvot"

    def __getattr__(self, key: str) -> Any:
        try:
            value = self[key]
        except KeyError:
            raise AttributeError(f"no field {key!r}; fields here: {sorted(map(str, self))}") from None
        return AttrDict(value) if type(value) is dict else value

    def __getitem__(self, key: Any) -> Any:
        value = dict.__getitem__(self, key)
        return AttrDict(value) if type(value) is dict else value

    def get(self, key: Any, default: Any = None) -> Any:
        value = dict.get(self, key, default)
        return AttrDict(value) if type(value) is dict else value


class Trial:
    """A tracked trial read from its folder: `data` is the whole `votakvot.yaml`.

    trial = votakvot.load_trials(root)[tid]
    trial.params, trial.meta.git.commit, trial.metrics()
    """

    __module__ = "votakvot"

    # What is read lazily starts out as these class-wide defaults: a report makes 100,000 trials fast.
    trusted = False
    _raw: bytes | None = None
    _data: AttrDict | None = None
    _head: dict[str, Any] | None = None
    _files: list[str] | None = None
    _read_cache: dict[str, bytes] | None = None

    def __init__(
        self,
        store: Store,
        folder: str,
        tid: str,
        *,
        document: bytes | None = None,
        trusted: bool = False,
    ) -> None:
        self.store = store
        self.folder = folder
        self.tid = tid
        if trusted:
            self.trusted = True
        if document is not None:
            self._raw = document

    @property
    def path(self) -> str:
        """The trial folder: a local path, or a URL with its protocol for remote stores."""
        return self.store.url(self.folder)

    def __repr__(self) -> str:
        return f"<votakvot.Trial {self.tid!r} {self.status}>"

    def _repr_html_(self) -> str:
        """A compact HTML summary for notebooks; every value from the folder is escaped."""
        from . import trial_html  # only notebooks need it: not imported with votakvot

        return trial_html.render(self)

    def _file(self, name: str) -> str:
        return self.store.join(self.folder, *name.split("/"))

    @property
    def data(self) -> AttrDict:
        """The whole `votakvot.yaml` document, with attribute access on nested dicts."""
        if self._data is None:
            self._data = AttrDict(self._parse(self._document_bytes()))
            self._raw = None
        return self._data

    def head(self) -> dict[str, Any]:
        """The document without its `meta` section, parsed only as far as needed.

        votakvot writes `meta` last, right after `version`, so a report that needs no metadata
        parses about half of each document. Any other layout is parsed whole.
        """
        if self._data is not None:
            return self._data
        if self._head is None:
            raw = self._document_bytes()
            cut = raw.find(_META_AFTER_VERSION)
            if cut < 0 or raw.find(b"\nmeta:", cut + len(_META_AFTER_VERSION)) >= 0:
                return self.data
            try:
                self._head = self._parse(raw[: cut + 1])
            except TrialLoadError:  # the cut fell inside something odd: the whole document decides
                return self.data
        return self._head

    def _document_bytes(self) -> bytes:
        if self._raw is None:
            self._raw = self.store.read_bytes(self._file(layout.DOCUMENT))
        return self._raw

    def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            doc = yaml_format.loads(raw, trusted=self.trusted)
        except Exception as e:
            raise TrialLoadError(f"{self.path}: votakvot.yaml is not valid YAML ({e})") from e
        if not isinstance(doc, dict) or "status" not in doc:
            raise TrialLoadError(f"{self.path}: votakvot.yaml is not a votakvot trial document (no 'status')")
        return doc

    def _section(self, key: str) -> AttrDict:
        value = (self.data if key == "meta" else self.head()).get(key)
        return AttrDict(value) if isinstance(value, dict) else AttrDict()

    @property
    def uid(self) -> str | None:
        """The trial's uuid4 (hex), the same across resumes."""
        return self.head().get("uid")

    @property
    def params(self) -> AttrDict:
        """The params the trial was called with."""
        return self._section("params")

    @property
    def info(self) -> AttrDict:
        """Everything given to `inform` during the trial."""
        return self._section("info")

    @property
    def meta(self) -> AttrDict:
        """The metadata collected when the trial started (`trial.meta.git.commit`, ...)."""
        return self._section("meta")

    @property
    def at(self) -> AttrDict:
        """Timestamps: created, started, finished, duration (and resumed, for resumed trials)."""
        return self._section("at")

    @property
    def error(self) -> str | None:
        """`Type: message` of the exception that ended a failed, interrupted or pruned trial;
        for a crashed one, what tells it crashed."""
        error = self.head().get("error")
        if error is None and str(self.head().get("status")) in LIVE_STATUSES:
            return self._crash()
        return error

    @property
    def status(self) -> str:
        """The recorded status; a live one whose heartbeat went stale reads as `crashed`."""
        status = str(self.head().get("status"))
        if status in LIVE_STATUSES and self._crash() is not None:
            return "crashed"
        return status

    def _crash(self) -> str | None:
        """Says why a trial recorded as live is not (its process is gone, or its heartbeat is
        stale); None while it looks alive."""
        data = self.data
        meta = self._section("meta")
        process, system = meta.get("process") or {}, meta.get("system") or {}
        pid = process.get("pid") if isinstance(process, dict) else None
        same_node = isinstance(system, dict) and system.get("node") == liveness.node()
        beat = self._last_beat()
        since = "" if beat is None else f"; last heartbeat {_local_time(beat)}"
        if isinstance(pid, int) and same_node and not liveness.pid_alive(pid):
            return f"the process stopped without finishing (pid {pid} on this machine is gone{since})"
        every = data.get("heartbeat")
        stale = max(STALE_AFTER_S, 4 * every) if isinstance(every, (int, float)) else STALE_AFTER_S
        if beat is not None and time.time() - beat >= stale:
            return f"the process stopped without finishing (no heartbeat since {_local_time(beat)})"
        return None

    def _last_beat(self) -> float | None:
        beats = []
        resumed = self.at.get("resumed")
        starts = [self.at.get("started")]
        if isinstance(resumed, list) and resumed:  # a resumed trial's latest start is a sign of life too
            starts.append(resumed[-1])
        beats += [start.timestamp() for start in starts if isinstance(start, datetime.datetime)]
        if layout.HEARTBEAT in self._listing():
            with contextlib.suppress(OSError, ValueError):
                beats.append(float(self._read(layout.HEARTBEAT).decode().strip()))
        return max(beats) if beats else None

    @property
    def result(self) -> Any:
        """The trial's result; raises TrialFailedError (with the traceback text) if it failed
        (status `failed`, or `error`: a test whose set-up or tear-down failed)."""
        head = self.head()
        if head.get("status") in FAILED_STATUSES:
            raise TrialFailedError(self.tid, self.error, self.traceback_text)
        result = head.get("result")
        return AttrDict(result) if type(result) is dict else result

    @property
    def traceback_text(self) -> str | None:
        """The text of `traceback.txt` (failed and interrupted trials), or None."""
        if layout.TRACEBACK not in self._listing():
            return None
        try:
            return self._read(layout.TRACEBACK).decode("utf-8", "replace")
        except OSError:
            return None

    def _listing(self) -> list[str]:
        if self._files is None:
            self._files = self.store.listdir(self.folder)
        return self._files

    def _read(self, name: str) -> bytes:
        if self._read_cache is None:
            self._read_cache = {}
        if name not in self._read_cache:
            self._read_cache[name] = self.store.read_bytes(self._file(name))
        return self._read_cache[name]

    @property
    def attached(self) -> list[str]:
        """Names of the files beside `votakvot.yaml` (metrics, traceback and attachments)."""
        return sorted(n for n in self._listing() if n != layout.DOCUMENT and not n.startswith(layout.HIDDEN_PREFIX))

    def attach(self, name: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        """Opens a file of the trial folder for reading."""
        if any(c in mode for c in "wax+"):
            raise ValueError(f"a loaded trial opens files for reading only, not mode {mode!r}")
        return self.store.open(self._file(layout.check_file_name(name, verb="Trial.attach()")), mode, **kwargs)

    def metrics(self, series: str | None = None) -> Any:
        """Returns the trial's metric rows as one DataFrame (see `votakvot.metrics.load_csv_metrics`)."""
        return metric_files.load(self.store, self.folder, series=series)

    def last_steps(self) -> dict[str, int]:
        """Returns the last recorded step of each metric series, read from the end of its last
        part file (a few KiB, whatever the size of the file)."""
        parts: dict[str, list[tuple[int, str]]] = {}
        for name in self._listing():
            parsed = layout.parse_metrics_file(name)
            if parsed is not None:
                parts.setdefault(parsed[0], []).append((parsed[1], name))
        last: dict[str, int] = {}
        for series, found in parts.items():
            for _, name in sorted(found, reverse=True):
                step = self._last_step(name)
                if step is not None:
                    last[series] = step
                    break
        return last

    def _last_step(self, name: str) -> int | None:
        """The step of the last row of one metric file whose step is an integer, or None."""
        window = _TAIL_BYTES
        try:
            with self.store.open(self._file(name), "rb") as f:
                size = f.seek(0, os.SEEK_END)
                while True:
                    start = max(0, size - window)
                    f.seek(start)
                    lines = f.read(size - start).split(b"\n")
                    if start:
                        lines = lines[1:]  # the first line read may be the end of a longer one
                    for line in reversed(lines):
                        with contextlib.suppress(ValueError):
                            return int(line.split(b",", 1)[0])
                    if not start or window >= _MAX_TAIL_BYTES:
                        return None
                    window *= 16
        except OSError:
            return None

    def snapshot_record(self, *, trusted: bool = False) -> tuple[Any, dict[str, int] | None] | None:
        """Returns the snapshot's object and how many rows each metric series had when it was
        taken (None if its writer did not say), or None when the trial has no snapshot.

        Unpickling runs code from the file, so it needs `trusted=True`.
        """
        for name in self._listing():
            if name.startswith(layout.SNAPSHOT_STEM + "."):
                suffix = name[len(layout.SNAPSHOT_STEM) :]
                for serializer_cls in plugins.entries(plugins.SERIALIZERS).values():
                    if getattr(serializer_cls, "suffix", None) == suffix:
                        payload = serializer_cls().loads(self._read(name), trusted=trusted)
                        return plugins.parse_snapshot_record(payload)
        return None

    def load_snapshot(self, *, trusted: bool = False) -> Any:
        """Returns the unpickled snapshot, or None; unpickling runs code, so it needs `trusted=True`."""
        record = self.snapshot_record(trusted=trusted)
        return None if record is None else record[0]


def read_trial(store: Store, folder: str, tid: str, *, limit: int | None = None) -> Trial | None:
    """Returns the trial stored in `folder`, or None if there is none.

    Raises TrialLoadError if a document is there but cannot be read (not a regular file, larger
    than `limit` bytes, not a trial document): it is somebody's data, not an empty place.
    """
    path = store.join(folder, layout.DOCUMENT)
    try:
        raw = store.read_bytes(path, limit=limit)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise TrialLoadError(f"{store.url(path)} cannot be read ({e})") from e
    trial = Trial(store, folder, tid, document=raw)
    trial.data  # noqa: B018 - parse now: a broken document raises TrialLoadError here
    return trial


def _local_time(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp).astimezone().isoformat(" ", "seconds")
