"""The pytest11 entry point: the options, the `votakvot_trial` fixture, and, only with
`--votakvot`, the recorders.

pytest imports this module at every start-up, so it imports nothing of votakvot: without
`--votakvot` the plug-in adds two options and a fixture, and no hook runs per test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from . import options

if TYPE_CHECKING:
    from votakvot import LiveTrial

TRIAL_KEY = pytest.StashKey["LiveTrial"]()
"""Where a test item keeps its live trial while it runs (see `trial_of`)."""


def trial_of(item: pytest.Item) -> LiveTrial | None:
    """Returns the live trial of a test while it runs under `--votakvot`, else None.

    For hooks and fixtures of a conftest.py that add to a test's trial:

        def pytest_runtest_call(item):
            trial = votakvot_pytest.trial_of(item)
            if trial is not None:
                trial.inform(gpu=os.environ.get("CUDA_VISIBLE_DEVICES"))
    """
    return item.stash.get(TRIAL_KEY, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    root = options.root(config)
    if root is None:
        return
    # Imported only now: votakvot (and the recorders) cost nothing unless asked for.
    from .per_test import ItemRecorder
    from .recording import Recorder
    from .session import WORKER_INPUT, SessionRecorder

    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:  # a pytest-xdist worker: record into the controller's session
        handed = workerinput.get(WORKER_INPUT)
        if handed is None:  # the controller does not record (its own plug-in is off)
            return
        recorder = Recorder(handed["root"])
        recorder.session_tid = handed["session"]
        config.pluginmanager.register(ItemRecorder(recorder, worker=workerinput.get("workerid")), "votakvot-items")
        config.pluginmanager.register(_WorkerOutput(config, recorder), "votakvot-worker")
        return
    options.check_value_form(config)
    recorder = Recorder(root)
    try:
        recorder.check()
    except (ValueError, ImportError, OSError) as e:  # SettingsError, MissingDependencyError, a file
        raise pytest.UsageError(f"{options.OPTION}={root}: {e}") from e
    config.pluginmanager.register(SessionRecorder(config, recorder), "votakvot-session")
    config.pluginmanager.register(ItemRecorder(recorder), "votakvot-items")


class _WorkerOutput:
    """Sends what a pytest-xdist worker could not store to the controller, which reports it."""

    def __init__(self, config: pytest.Config, recorder: Any) -> None:
        self.config = config
        self.recorder = recorder

    def pytest_sessionfinish(self) -> None:
        from .session import WORKER_OUTPUT

        self.config.workeroutput[WORKER_OUTPUT] = dict(self.recorder.unstored)  # type: ignore[attr-defined]


@pytest.fixture
def votakvot_trial(request: pytest.FixtureRequest) -> LiveTrial | None:
    """The test's own trial while `--votakvot` records it (None without): meter, inform or
    attach into it, e.g. `votakvot_trial.meter(rows_per_s=n / took)`."""
    return trial_of(request.node)  # type: ignore[arg-type]
