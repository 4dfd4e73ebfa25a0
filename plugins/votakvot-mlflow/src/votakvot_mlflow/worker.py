"""The one background thread of a process that talks to MLflow, so trials never wait for it.

Sinks hand it jobs (one trial's start, metric batches, finish), run in the order given. A
job reports its own failures (see `reporting`); the thread only survives them. `flush()` waits
for the jobs given so far. At interpreter exit it waits up to `$VOTAKVOT_MLFLOW_EXIT_TIMEOUT`
seconds for the rest and warns about what it could not finish; jobs given after that (trials
votakvot finishes at exit) run on the caller's thread, unless MLflow had not kept up (they are
then only reported). A forked child starts with no jobs
(they are its parent's). Children of `multiprocessing` end with `os._exit`, which skips
atexit: they wait the same way through multiprocessing's exit finalizers, registered when a
process first hands over a job (a child starts with its parent's finalizers cleared).

A short script may reach its end before the thread has imported MLflow, which then happens
during interpreter shutdown, when a module that registers a threading exit hook on import
(`concurrent.futures`) can no longer be imported. Those are imported here, beforehand.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures.process
import concurrent.futures.thread  # noqa: F401
import logging
import multiprocessing.util
import threading
import time
import warnings
from collections.abc import Callable

from votakvot.errors import MirrorWarning
from votakvot.plugins import register_state

from . import config, reporting

log = logging.getLogger("votakvot_mlflow")

Job = Callable[[], None]
# At exit, a wait longer than this is announced (a process that seems to hang is worse).
NOTICE_AFTER = 1.0


class Worker:
    """A FIFO of jobs and the daemon thread that runs them."""

    def __init__(self) -> None:
        self._jobs: collections.deque[tuple[str, Job]] = collections.deque()
        self._cond = threading.Condition()
        self._pending = 0  # jobs given and not yet done (queued or running)
        self._thread: threading.Thread | None = None
        self._running: str | None = None  # the trial of the job being run
        self._closed = False
        self._late_jobs_dropped = False  # exit began with jobs still waiting: later ones are not run
        self._dropped: set[str] = set()  # the trials of those, reported once each
        self._stopped = False

    def submit(self, tid: str, job: Job) -> None:
        """Runs `job` (for trial `tid`) after the jobs given before it."""
        with self._cond:
            if not self._closed:
                self._jobs.append((tid, job))
                self._pending += 1
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="votakvot-mlflow", daemon=True)
                    self._thread.start()
                self._cond.notify_all()
                return
        if self._late_jobs_dropped:  # MLflow did not keep up: do not hold the exit for it again
            if tid in self._dropped:
                return
            self._dropped.add(tid)
            message = (
                f"trial {tid!r}, finished at exit, was not mirrored into MLflow: it did not take the earlier "
                "trials in time. Its votakvot record is complete."
            )
            warnings.warn(MirrorWarning(message), stacklevel=3)
            return
        _run(tid, job)  # after exit began: nobody would wait for the thread

    @property
    def closed(self) -> bool:
        """Whether exit began (later jobs run on the caller's thread)."""
        return self._closed

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every job given so far is done; False if `timeout` seconds ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def waiting(self) -> list[str]:
        """The trials whose jobs are not done yet, in order."""
        with self._cond:
            left = ([self._running] if self._running else []) + [tid for tid, _ in self._jobs]
        return list(dict.fromkeys(left))

    def close(self, timeout: float) -> list[str]:
        """Waits up to `timeout` s for the jobs, then runs later ones inline; returns the trials
        whose jobs did not finish."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
        left = self.waiting()
        self._late_jobs_dropped = bool(left)
        return left

    def stop(self) -> None:
        """Drops the queued jobs and lets the thread end after its current one (tests, forks)."""
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._pending = 0
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                tid, job = self._jobs.popleft()
                self._running = tid
            try:
                _run(tid, job)
            finally:
                with self._cond:
                    self._running = None
                    if not self._stopped:
                        self._pending -= 1
                    self._cond.notify_all()


def _run(tid: str, job: Job) -> None:
    try:
        job()
    except Exception:  # a job reports its own failures; this is a bug's last net
        log.exception("mirroring trial %r into MLflow failed", tid)


_worker = Worker()
_finalizer: multiprocessing.util.Finalize | None = None


def submit(tid: str, job: Job) -> None:
    """Hands `job` for trial `tid` to this process's MLflow thread."""
    global _finalizer
    if _finalizer is None:
        _finalizer = multiprocessing.util.Finalize(None, _at_exit, exitpriority=0)
    _worker.submit(tid, job)


def flush(timeout: float | None = None) -> bool:
    """Waits until every trial finished so far is mirrored (or failed to be, with a warning).

    Returns False if `timeout` seconds ran out first. Trials are mirrored on a background
    thread; call this before reading them back from MLflow in the same process.
    """
    return _worker.flush(timeout)


def _at_exit() -> None:
    if _worker.closed:
        return
    timeout = config.exit_timeout()
    if not _worker.flush(min(NOTICE_AFTER, timeout)):
        log.warning(
            "waiting up to %g s for %d trial(s) to reach MLflow before exiting ($%s sets the wait)",
            timeout,
            len(_worker.waiting()),
            config.ENV_EXIT_TIMEOUT,
        )
    left = _worker.close(max(0.0, timeout - NOTICE_AFTER))
    if left:
        shown = ", ".join(repr(t) for t in left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        message = (
            f"{len(left)} trial(s) were not completely mirrored into MLflow within {timeout:g} s at exit: "
            f"{shown}. Their votakvot records are complete; ${config.ENV_EXIT_TIMEOUT} sets the wait."
        )
        log.info("%s", message)
        warnings.warn(MirrorWarning(message), stacklevel=1)
    reporting.at_exit()


def _reset() -> None:
    global _worker
    _worker.stop()
    _worker = Worker()


def _after_fork() -> None:
    # The parent's worker is left alone: its thread is not here, and its lock may have been held
    # at the fork.
    global _worker, _finalizer
    _worker = Worker()
    _finalizer = None


atexit.register(_at_exit)
register_state(reset=_reset, after_fork=_after_fork)
