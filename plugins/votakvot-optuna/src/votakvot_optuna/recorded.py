"""How votakvot records Optuna's objects, through its plug-in points (entry points of this
distribution): a trial argument as the params it sampled, a study as its name, and
`optuna.TrialPruned` as the status `pruned`. Optuna is never imported here: votakvot matches
the classes by path once the user's code has imported Optuna."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PARAM_RECORDERS", "STATUSES", "sampled_params", "study_name"]

# A trial's params are copied from a dict the objective's thread grows while sampling; a
# document written meanwhile by votakvot's ticker thread may catch the copy in the middle.
_COPY_TRIES = 3


def sampled_params(name: str, trial: Any) -> Mapping[str, Any]:
    """Records an Optuna trial (`Trial`, `FrozenTrial`, `FixedTrial`, any `BaseTrial`) as the
    params it has sampled so far, in place of the argument `name`."""
    for _ in range(_COPY_TRIES - 1):
        try:
            return dict(trial.params)
        except RuntimeError:  # "dictionary changed size during iteration": copy again
            continue
    return dict(trial.params)


def study_name(name: str, study: Any) -> Mapping[str, Any]:
    """Records an Optuna study passed as an argument as its name."""
    return {name: study.study_name}


PARAM_RECORDERS: dict[str, Any] = {
    "optuna.trial.BaseTrial": sampled_params,
    "optuna.study.Study": study_name,
}

STATUSES: dict[str, str] = {"optuna.exceptions.TrialPruned": "pruned"}
