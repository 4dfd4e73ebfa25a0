"""votakvot: track trials of your code — params, results, git state, metrics and files — as
plain YAML and CSV on any filesystem, and load them back as a pandas DataFrame.

    @votakvot.track()
    def my_experiment(one, two):
        return one + two

    votakvot.init(path="./my-results")
    my_experiment(1, 2)
    votakvot.load_report("./my-results")
"""

from __future__ import annotations

from . import errors, events, meta, metrics, plugins
from ._loaded import AttrDict, Trial
from ._report import load_report, load_trials
from ._resumable import call, resumable_fn
from ._settings import init
from ._track import track
from ._trial import LiveTrial, current
from ._verbs import MetricSeries, attach, inform, meter, series, trial, trial_at
from ._version import __version__
from ._yaml import InertObject

__all__ = [
    "AttrDict",
    "InertObject",
    "LiveTrial",
    "MetricSeries",
    "Trial",
    "__version__",
    "attach",
    "call",
    "current",
    "errors",
    "events",
    "inform",
    "init",
    "load_report",
    "load_trials",
    "meta",
    "metadata_providers",
    "meter",
    "metrics",
    "plugins",
    "resumable_fn",
    "series",
    "track",
    "trial",
    "trial_at",
]


def __getattr__(name: str) -> object:
    # `metadata_providers` is the seed README's name for `meta.providers`, built on first use.
    if name == "metadata_providers":
        return meta.providers
    raise AttributeError(f"module 'votakvot' has no attribute {name!r}")
