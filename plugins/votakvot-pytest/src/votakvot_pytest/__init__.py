"""votakvot-pytest: `pytest --votakvot[=ROOT]` records each test as a votakvot trial (outcome,
duration, parametrize values, captured output) under a trial for the session, so that
`votakvot.load_report` tells which tests got slower and which are flaky.

Importing it imports nothing of votakvot; the recorders load only with `--votakvot`.
"""

from __future__ import annotations

from .naming import SESSION, TESTS, trial_name
from .options import DEFAULT_ROOT
from .plugin import TRIAL_KEY, trial_of

__all__ = ["DEFAULT_ROOT", "SESSION", "TESTS", "TRIAL_KEY", "trial_name", "trial_of"]
