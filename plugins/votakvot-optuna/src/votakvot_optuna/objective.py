"""`@votakvot_optuna.track()`: every call of an Optuna objective runs as a votakvot trial named
after its study, with the sampled params, the value(s) as the result, the intermediate values
as metric rows and `pruned` as the status of a pruned trial."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import votakvot
import votakvot.plugins
from votakvot.errors import PluginError

from . import recorded

if TYPE_CHECKING:
    import optuna

F = TypeVar("F", bound=Callable[..., Any])

# The metric series of the values given to `trial.report(value, step)`.
INTERMEDIATE_SERIES = "intermediate"


@overload
def track(objective: F, /) -> F: ...


@overload
def track(*, name: str | None = None) -> Callable[[F], F]: ...


def track(objective: Callable[..., Any] | None = None, /, *, name: str | None = None) -> Any:
    """Runs every call of an Optuna objective as a votakvot trial.

    The trial is named after the study (`name` overrides), its params are the params the Optuna
    trial sampled, its result the value the objective returned (values, for a multi-objective
    study: a mapping named by `study.metric_names`, else `values_0`, `values_1`, ...), its info
    `optuna.study` and `optuna.number`. Values given to `trial.report(value, step)` become rows
    `step, value` of the metric series "intermediate". A pruned trial (`optuna.TrialPruned`)
    ends as `pruned`. Other arguments of the objective are passed on, not recorded. Optuna's
    objects are never serialized.

        @votakvot_optuna.track()
        def objective(trial):
            x = trial.suggest_float("x", -10, 10)
            return (x - 2) ** 2

        optuna.create_study(study_name="quadratic").optimize(objective, n_trials=100)
    """
    if objective is not None:  # used bare: @votakvot_optuna.track
        return track()(objective)

    def decorate(fn: F) -> F:
        fallback = _function_name(fn)

        @functools.wraps(fn)
        def tracked(trial: optuna.trial.BaseTrial, *args: Any, **kwargs: Any) -> Any:
            _check_plugin_points()
            study = getattr(trial, "study", None)  # a FixedTrial has none
            trial_name = name or (study.study_name if study is not None else fallback)
            with votakvot.trial(trial_name, trial=trial) as t:
                t.inform(optuna=_identity(trial, study))
                try:
                    value = fn(trial, *args, **kwargs)
                finally:
                    _meter_intermediate_values(trial, study)
                t.result = _result(value, study)
            return value

        return cast(F, tracked)

    return decorate


def _function_name(fn: Callable[..., Any]) -> str:
    """`{module}/{function}` (as `votakvot.track` names trials), also for a callable object or a
    `functools.partial`: the name of a trial whose Optuna trial has no study (a `FixedTrial`)."""
    named = getattr(fn, "func", fn)  # a partial names the function it calls
    qualname = getattr(named, "__qualname__", None) or type(named).__qualname__
    return f"{getattr(named, '__module__', None) or type(named).__module__}/{qualname}".replace(".<locals>", "")


def _check_plugin_points() -> None:
    """Refuses to run when votakvot does not use this distribution's entry points (they are
    what keeps an Optuna trial from being stored as an object with its whole study)."""
    params = votakvot.plugins.entries("votakvot.params").get("optuna")
    statuses = votakvot.plugins.entries("votakvot.statuses").get("optuna")
    if params is not recorded.PARAM_RECORDERS or statuses is not recorded.STATUSES:
        raise PluginError(
            "votakvot_optuna.track needs the entry points of the votakvot-optuna distribution, which "
            "votakvot does not use here: install it with pip (`pip install votakvot-optuna`, not only put "
            "on sys.path) and do not set VOTAKVOT_PLUGINS=0"
        )


def _identity(trial: optuna.trial.BaseTrial, study: optuna.Study | None) -> dict[str, Any]:
    identity: dict[str, Any] = {"number": trial.number}
    if study is not None:
        identity = {"study": study.study_name, **identity}
    return identity


def _meter_intermediate_values(trial: optuna.trial.BaseTrial, study: optuna.Study | None) -> None:
    """Meters what the objective reported, read back from the study (Optuna keeps no hook on
    `report`); rows are written when the objective ends, however it ends."""
    if study is None:  # a FixedTrial keeps no reports
        return
    from optuna.trial import TrialState

    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if frozen.number == trial.number:
            series = votakvot.series(INTERMEDIATE_SERIES)
            for step, value in sorted(frozen.intermediate_values.items()):
                series.meter(step=step, value=value)
            return


def _result(value: Any, study: optuna.Study | None) -> Any:
    """The trial's result: the value, or the values by name for a multi-objective study."""
    names = study.metric_names if study is not None else None
    several = study is not None and len(study.directions) > 1
    if not names and not several:
        return value
    values = list(value) if several else [value]
    if not names or len(names) != len(values):
        names = [f"values_{i}" for i in range(len(values))]
    return dict(zip(names, values, strict=True))
