"""One trial per test: opened around pytest's run of the test (set-up, call, tear-down) and
ended with the test's outcome, its phase durations and the output pytest captured."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .naming import params_of, trial_name
from .outcome import Outcome, captured, outcome_of
from .plugin import TRIAL_KEY
from .recording import RecordedTrial, Recorder

# Markers every parametrized or configured test has: they say nothing about the test.
_PLUMBING_MARKERS = frozenset({"parametrize", "usefixtures", "filterwarnings"})


class ItemRecorder:
    """The pytest plug-in that records each test run in this process as a trial."""

    def __init__(self, recorder: Recorder, *, worker: str | None = None) -> None:
        self.recorder = recorder
        self.worker = worker  # the pytest-xdist worker id, on a worker
        self._reports: dict[str, list[pytest.TestReport]] = {}

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        recorded = self.recorder.open(trial_name(item.nodeid), params_of(item), parent=self.recorder.session_tid)
        if recorded is None:
            return (yield)
        item.stash[TRIAL_KEY] = recorded.trial
        reports = self._reports[item.nodeid] = []
        try:
            result = yield
        except BaseException as stopped:  # Ctrl-C, pytest.exit(): the session ends here
            self._finish(item, recorded, reports, stopped)
            raise
        else:
            self._finish(item, recorded, reports)
            return result
        finally:
            del self._reports[item.nodeid]
            del item.stash[TRIAL_KEY]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        reports = self._reports.get(report.nodeid)
        if reports is not None:
            reports.append(report)

    def _finish(
        self,
        item: pytest.Item,
        recorded: RecordedTrial,
        reports: list[pytest.TestReport],
        stopped: BaseException | None = None,
    ) -> None:
        trial = recorded.trial
        outcome = outcome_of(reports)
        trial.inform(pytest=self._info(item, reports, outcome, stopped))
        for name, text in captured(reports).items():
            try:
                with trial.attach(name, "w") as f:
                    f.write(text)
            except OSError as e:
                self.recorder.note(trial.tid, f"{name}: {e!r}")
        if isinstance(stopped, pytest.exit.Exception):  # an Exception, yet it ends the run as Ctrl-C does
            trial.conclude("interrupted", error=f"pytest.exit: {stopped}")
            stopped = None
        elif stopped is None and outcome.status != "done":
            trial.conclude(outcome.status, error=outcome.error, traceback=outcome.traceback)
        self.recorder.close(recorded, stopped)

    def _info(
        self, item: pytest.Item, reports: list[pytest.TestReport], outcome: Outcome, stopped: BaseException | None
    ) -> dict[str, Any]:
        info: dict[str, Any] = {
            "nodeid": item.nodeid,
            "outcome": "interrupted" if stopped is not None else outcome.word,
            "durations": {r.when: round(r.duration, 6) for r in reports},
            "markers": sorted({m.name for m in item.iter_markers()} - _PLUMBING_MARKERS),
        }
        if outcome.phase is not None and stopped is None:
            info["phase"] = outcome.phase
        if outcome.reason is not None:
            info["reason"] = outcome.reason
        if self.worker is not None:
            info["worker"] = self.worker
        return info
