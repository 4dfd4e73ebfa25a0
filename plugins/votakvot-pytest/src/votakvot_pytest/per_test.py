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
        known = self._known(item)
        recorded = self.recorder.open(
            trial_name(item.nodeid), params_of(item), {"pytest": known}, parent=self.recorder.session_tid
        )
        if recorded is None:
            return (yield)
        item.stash[TRIAL_KEY] = recorded.trial
        reports = self._reports[item.nodeid] = []
        try:
            result = yield
        except BaseException as stopped:  # Ctrl-C, pytest.exit(): the session ends here
            self._finish(known, recorded, reports, stopped)
            raise
        else:
            self._finish(known, recorded, reports)
            return result
        finally:
            del self._reports[item.nodeid]
            del item.stash[TRIAL_KEY]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        reports = self._reports.get(report.nodeid)
        if reports is not None:
            reports.append(report)

    def _known(self, item: pytest.Item) -> dict[str, Any]:
        """What is known of a test before it runs."""
        known: dict[str, Any] = {
            "nodeid": item.nodeid,
            "markers": sorted({m.name for m in item.iter_markers()} - _PLUMBING_MARKERS),
        }
        if self.worker is not None:
            known["worker"] = self.worker
        return known

    def _finish(
        self,
        known: dict[str, Any],
        recorded: RecordedTrial,
        reports: list[pytest.TestReport],
        stopped: BaseException | None = None,
    ) -> None:
        trial = recorded.trial
        outcome = outcome_of(reports)
        trial.inform(pytest=_info(known, reports, outcome, stopped))
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
    known: dict[str, Any], reports: list[pytest.TestReport], outcome: Outcome, stopped: BaseException | None
) -> dict[str, Any]:
    """What is known of a test after it ran: how it ended, where, why, and how long each phase took."""
    info: dict[str, Any] = {
        **known,
        "outcome": "interrupted" if stopped is not None else outcome.word,
        "durations": {r.when: round(r.duration, 6) for r in reports},
    }
    if outcome.phase is not None and stopped is None:
        info["phase"] = outcome.phase
    if outcome.reason is not None:
        info["reason"] = outcome.reason
    return info
