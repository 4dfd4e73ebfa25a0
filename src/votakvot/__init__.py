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

import importlib as _importlib
import typing as _typing

from . import errors, events, meta, metrics, plugins
from ._files.yaml_format import InertObject
from ._live.carry import carry
from ._live.resumable import call, resumable_fn
from ._live.track import track
from ._live.trial import LiveTrial, current
from ._live.verbs import MetricSeries, attach, inform, meter, series, trial, trial_at
from ._process.settings import Settings, init, settings
from ._read.trial import AttrDict, Trial
from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._look.report import write_report
    from ._look.server import serve_ui
    from ._read.code_diff import code_diff
    from ._read.diff import diff
    from ._read.metrics_frame import load_metrics
    from ._read.removal import remove
    from ._read.report import load_report, load_trials
    from ._read.report_parts import ReportPart, ReportRows, report_parts

# The bulk readers are imported on first use: tracking code never needs them, and they would
# make `import votakvot` a third slower.
_ON_FIRST_USE = {
    "ReportPart": "._read.report_parts",
    "ReportRows": "._read.report_parts",
    "code_diff": "._read.code_diff",
    "diff": "._read.diff",
    "load_metrics": "._read.metrics_frame",
    "load_report": "._read.report",
    "load_trials": "._read.report",
    "remove": "._read.removal",
    "report_parts": "._read.report_parts",
    "serve_ui": "._look.server",
    "write_report": "._look.report",
}

__all__ = [
    "AttrDict",
    "InertObject",
    "LiveTrial",
    "MetricSeries",
    "ReportPart",
    "ReportRows",
    "Settings",
    "Trial",
    "__version__",
    "attach",
    "call",
    "carry",
    "code_diff",
    "current",
    "diff",
    "errors",
    "events",
    "inform",
    "init",
    "load_metrics",
    "load_report",
    "load_trials",
    "meta",
    "meter",
    "metrics",
    "plugins",
    "remove",
    "report_parts",
    "resumable_fn",
    "series",
    "serve_ui",
    "settings",
    "track",
    "trial",
    "trial_at",
    "write_report",
]


def __getattr__(name: str) -> object:
    # `metadata_providers` is the seed README's name for `meta.providers`, built on first use
    # (so it is not in `__all__`: `from votakvot import *` must not scan entry points).
    if name == "metadata_providers":
        return meta.providers
    module = _ON_FIRST_USE.get(name)
    if module is not None:
        value = getattr(_importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'votakvot' has no attribute {name!r}")
