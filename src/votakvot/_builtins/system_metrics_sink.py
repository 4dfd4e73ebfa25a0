"""The built-in sink that samples the process's CPU, memory and I/O while a trial runs.

Off by default; `votakvot.init(system_metrics=SECONDS)` turns it on. Samples go to the metric
series `system` (`metrics.system.csv`). The sampling thread starts with the trial and is joined
when it finishes, so it never outlives the trial.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from .. import plugins
from ..events import Finished, Started

log = logging.getLogger("votakvot.sinks.system")

SERIES = "system"


class SystemMetricsSink:
    """Samples the process with psutil every `init(system_metrics=...)` seconds."""

    def __init__(self, trial: plugins.TrialView) -> None:
        self.trial = trial
        self.period = trial.settings.system_metrics
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def subscriptions(self) -> dict[type, Any]:
        if self.period is None:
            return {}
        return {Started: self.started, Finished: self.finished}

    def started(self, event: Started) -> None:
        import psutil

        process = psutil.Process()
        process.cpu_percent(None)  # the first call only sets the baseline
        self.thread = threading.Thread(
            target=self._run, args=(process,), name=f"votakvot-system-metrics-{self.trial.uid[:8]}", daemon=True
        )
        self.thread.start()

    def finished(self, event: Finished) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def _run(self, process: Any) -> None:
        # Leave SIGINT and SIGTERM to the main thread, where Python acts on them.
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while not self.stop.wait(self.period):
            try:
                sample = self._sample(process)
            except Exception as e:
                log.warning("system metrics of trial %r stopped: %r", self.trial.tid, e)
                return
            self.trial.meter_series(SERIES, sample)

    @staticmethod
    def _sample(process: Any) -> dict[str, Any]:
        with process.oneshot():
            memory = process.memory_info()
            sample: dict[str, Any] = {
                "cpu_percent": process.cpu_percent(None),
                "rss": memory.rss,
                "vms": memory.vms,
                "threads": process.num_threads(),
            }
            try:
                io = process.io_counters()
            except (AttributeError, OSError):  # not offered on every platform
                io = None
            sample["read_bytes"] = io.read_bytes if io is not None else ""
            sample["write_bytes"] = io.write_bytes if io is not None else ""
        return sample
