"""One runner per explicit trial id: the claim file it holds, renews and releases, and taking over a dead one.

The claim is `.claim` in the trial folder, a small JSON document: the holder's pid, node, process
start time and a heartbeat (wall time, renewed every `init(heartbeat=...)` seconds). Whether its
holder is alive: on the same machine the pid (and the process start time, against pid reuse)
tells; from another machine, a heartbeat older than 60 s (or 4 heartbeat intervals) means dead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from .._files import exclusive, layout
from .._files.storage import Store
from .._process import liveness
from .._read.trial import STALE_AFTER_S
from ..errors import TrialBusyError

log = logging.getLogger("votakvot.claim")

# How often to try again when the claim changes hands while we look at it.
_ATTEMPTS = 5


class Claim:
    """This process's claim on one explicit trial id."""

    def __init__(self, store: Store, path: str, record: dict[str, Any], version: Any) -> None:
        self.store = store
        self.path = path
        self.record = record
        self.version = version
        self.lost = False
        self.released = False
        self.failed = False
        # The ticker renews while the trial's thread may be releasing: one at a time.
        self.lock = threading.Lock()

    @classmethod
    def take(cls, store: Store, folder: str, tid: str, heartbeat: float) -> Claim:
        """Claims `tid` for this process; raises TrialBusyError if a live run holds it.

        A claim whose holder is dead (see the module docstring) or that is not a claim at all
        is taken over.
        """
        store.makedirs(folder)
        path = store.join(folder, layout.CLAIM)
        for _ in range(_ATTEMPTS):
            record = _record(tid, heartbeat)
            data = _encode(record)
            version = exclusive.create(store, path, data)
            if version is not None:
                return cls(store, path, record, version)
            current = exclusive.read(store, path)
            if current is None:  # released while we looked: try again
                continue
            held, version = current
            holder = _decode(held)
            if holder is not None and _alive(holder):
                raise TrialBusyError(_busy_message(tid, store.url(path), holder), holder)
            version = exclusive.replace(store, path, data, version=version)
            if version is not None:
                log.info("trial %r: took over the claim of a dead run (%r)", tid, holder)
                return cls(store, path, record, version)
        raise TrialBusyError(
            f"trial {tid!r} changed hands {_ATTEMPTS} times while this process tried to claim it "
            f"({store.url(path)}); other processes are starting it right now: use another id, or call again later"
        )

    def beat(self, now: float) -> None:
        """Renews the claim's heartbeat with the wall time `now`; notices if the claim was lost.

        A store that fails is logged (once) and tried again at the next beat.
        """
        with self.lock:
            if self.lost or self.released:
                return
            try:
                self._renew(now)
            except Exception as e:
                if not self.failed:
                    self.failed = True
                    log.warning("trial %r could not renew its claim %s: %r", self.record.get("tid"), self.path, e)

    def _renew(self, now: float) -> None:
        record = dict(self.record, beat=now)
        data = _encode(record)
        version = exclusive.replace(self.store, self.path, data, version=self.version)
        if version is None:
            self.lost = True
            log.error(
                "trial %r lost its claim %s to another process (this one was thought dead); "
                "two runs may now write to this trial",
                self.record.get("tid"),
                self.store.url(self.path),
            )
            return
        self.record = record
        self.version = version

    def release(self) -> None:
        """Removes the claim, if it is still this process's (a forked child never releases it)."""
        with self.lock:
            if self.lost or self.released or self.record.get("pid") != os.getpid():
                return
            self.released = True
            exclusive.remove(self.store, self.path, version=self.version)


def _record(tid: str, heartbeat: float) -> dict[str, Any]:
    pid = os.getpid()
    return {
        "tid": tid,
        "pid": pid,
        "node": liveness.node(),
        "process_started": liveness.started(pid),
        "heartbeat": heartbeat,
        "beat": time.time(),
        "token": layout.new_uid(),  # two claims of one process (two threads) differ
    }


def _encode(record: dict[str, Any]) -> bytes:
    import json  # only explicit ids need it: not at `import votakvot`

    return (json.dumps(record, sort_keys=True) + "\n").encode()


def _decode(data: bytes) -> dict[str, Any] | None:
    import json

    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    return record


def _alive(holder: dict[str, Any]) -> bool:
    """Tells whether the run that wrote `holder` may still be running."""
    if holder.get("node") == liveness.node():
        pid = holder["pid"]
        if not liveness.pid_alive(pid):
            return False
        started = holder.get("process_started")
        now_started = liveness.started(pid)
        # The same pid with another start time is a new process that got the old one's pid.
        return not (isinstance(started, (int, float)) and now_started is not None and abs(now_started - started) > 1)
    return time.time() - _number(holder.get("beat"), 0.0) < _stale_after(holder)


def _stale_after(holder: dict[str, Any]) -> float:
    return max(STALE_AFTER_S, 4 * _number(holder.get("heartbeat"), 0.0))


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _busy_message(tid: str, where: str, holder: dict[str, Any]) -> str:
    age = time.time() - _number(holder.get("beat"), 0.0)
    return (
        f"trial {tid!r} is being run by process {holder.get('pid')} on {holder.get('node')!r} "
        f"(its claim {where} was renewed {age:.0f} s ago); wait for it to finish and call again, "
        f"or use another id. A claim whose process is gone is taken over: at once on the same "
        f"machine, from another machine once it is {_stale_after(holder):.0f} s old."
    )
