"""votakvot-optuna: each Optuna trial a votakvot trial.

`@votakvot_optuna.track()` on an objective records the study as trials named after it, with
the sampled params, the value(s), the intermediate values and `pruned` trials. Installed, it
also teaches votakvot (through its `votakvot.params` and `votakvot.statuses` entry points) to
record an Optuna trial argument of a plain `@votakvot.track()` function as its sampled params
and `optuna.TrialPruned` as `pruned`. Importing it does not import Optuna.
"""

from __future__ import annotations

from .objective import INTERMEDIATE_SERIES, track
from .recorded import PARAM_RECORDERS, STATUSES, sampled_params, study_name

__all__ = ["INTERMEDIATE_SERIES", "PARAM_RECORDERS", "STATUSES", "sampled_params", "study_name", "track"]
