"""The session's trial: the parent of every test's trial, with the command line and the count of
each outcome; it hands its tid to pytest-xdist workers and reports what was not stored."""

from __future__ import annotations

import collections
import sys
from typing import Any

import pytest

from .naming import SESSION, TESTS
from .outcome import OUTCOMES, outcome_of
from .recording import RecordedTrial, Recorder

WORKER_INPUT = "votakvot"
"""The key of `workerinput` under which an xdist worker gets the root and the session's tid."""
WORKER_OUTPUT = "votakvot_unstored"
"""The key of `workeroutput` under which an xdist worker sends back what it could not store."""

# How the session's exit status reads as a trial status.
_STATUSES: dict[int, str] = {
    pytest.ExitCode.OK: "done",
    pytest.ExitCode.TESTS_FAILED: "failed",
    pytest.ExitCode.INTERRUPTED: "interrupted",
    pytest.ExitCode.NO_TESTS_COLLECTED: "done",
}
_COUNTED = {"error": "errors"}
_SHOWN_UNSTORED = 10


class SessionRecorder:
    """The pytest plug-in, in the controlling process, that records the session as a trial."""

    def __init__(self, config: pytest.Config, recorder: Recorder) -> None:
        self.config = config
        self.recorder = recorder
        self.recorded: RecordedTrial | None = None
        self.counts: collections.Counter[str] = collections.Counter()
        self.collection_errors = 0
        self._pending: dict[str, list[pytest.TestReport]] = {}

    @pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts its workers, which need the tid
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        config = self.config
        info: dict[str, Any] = {"rootdir": str(config.rootpath), "version": pytest.__version__}
        workers = getattr(config.option, "numprocesses", None)
        if workers:
            info["workers"] = workers
        args = [str(a) for a in config.invocation_params.args]
        self.recorded = self.recorder.open(SESSION, {"args": args}, {"pytest": info})
        if self.recorded is not None:
            self.recorder.session_tid = self.recorded.trial.tid

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: hands a worker the root and the session's tid."""
        node.workerinput[WORKER_INPUT] = {"root": self.recorder.root, "session": self.recorder.session_tid}

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist: takes over what a worker could not store."""
        self.recorder.unstored.update(getattr(node, "workeroutput", {}).get(WORKER_OUTPUT, {}))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Here too when the tests run on xdist workers: the controller sees every report.
        reports = self._pending.setdefault(report.nodeid, [])
        reports.append(report)
        if report.when == "teardown":
            self.counts[outcome_of(self._pending.pop(report.nodeid)).word] += 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors += 1

    @pytest.hookimpl(trylast=True)  # after pytest-xdist has taken its workers (and their trials) down
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        for reports in self._pending.values():  # tests that never got to tear down (a worker crashed)
            self.counts[outcome_of(reports).word] += 1
        self._pending.clear()
        recorded, self.recorded = self.recorded, None
        if recorded is None:
            return
        trial = recorded.trial
        # Counted as pytest's summary line counts, "errors" in the plural as there (and apart
        # from the report's own `error` column).
        trial.result = {
            **{_COUNTED.get(word, word): self.counts[word] for word in OUTCOMES},
            "collection_errors": self.collection_errors,
            "exitstatus": int(exitstatus),
        }
        status = _STATUSES.get(exitstatus, "error")
        if status != "done":
            trial.conclude(status, error=f"pytest exited with status {int(exitstatus)} ({_exit_name(exitstatus)})")
        self.recorder.close(recorded)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.recorded is not None:  # the session never finished (an internal error)
            self.recorded.trial.conclude("error", error="the pytest session ended without finishing")
            self.recorder.close(self.recorded)
            self.recorded = None
        if config.pluginmanager.get_plugin("terminalreporter") is None:  # -p no:terminal
            sys.stderr.write("".join(f"{line}\n" for line in self._summary()))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self._summary()
        if self.recorder.unstored:
            terminalreporter.write_sep("=", "votakvot: trials not stored", red=True)
            for line in lines[:-1]:
                terminalreporter.write_line(line, red=True)
        terminalreporter.write_line(lines[-1])

    def _summary(self) -> list[str]:
        """What was not stored (a line each, at most 10), then where the tests were recorded."""
        unstored = self.recorder.unstored
        lines = []
        if unstored:
            lines.append(f"votakvot: {len(unstored)} trial(s) could not be stored in full below {self.recorder.root}:")
        lines += [f"  {trial}: {what}" for trial, what in list(unstored.items())[:_SHOWN_UNSTORED]]
        if len(unstored) > _SHOWN_UNSTORED:
            lines.append(f"  ... and {len(unstored) - _SHOWN_UNSTORED} more")
        where = f"votakvot: {sum(self.counts.values())} test(s) ran, recorded below {self.recorder.root}/{TESTS}"
        session = self.recorder.session_tid
        return [*lines, f"{where}, session {session}" if session else where]


def _exit_name(exitstatus: int) -> str:
    try:
        return pytest.ExitCode(exitstatus).name
    except ValueError:  # a plug-in's own exit status
        return "unknown"
