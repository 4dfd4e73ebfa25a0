"""When the bridge mirrors a trial, and where to: read from the trial's settings and the environment.

Installed is not enabled: a trial is mirrored only when `init(sinks=[..., "mlflow"])` names the
sink, or `$VOTAKVOT_MLFLOW` is set to a tracking URI (or to `1`, for the URI MLflow itself would
use). `VOTAKVOT_MLFLOW=0` turns the bridge off whatever `init` says. Read per trial (a dict
lookup or two), so a change of the environment applies to the next trial.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import urllib.parse

from votakvot.plugins import Settings

log = logging.getLogger("votakvot_mlflow")

# The name of the sink in the `votakvot.sinks` entry-point group, as `init(sinks=...)` names it.
SINK_NAME = "mlflow"
# A tracking URI to mirror into; "1" / "on" / "true": MLflow's own URI; "0" / "off" / "false": off.
ENV = "VOTAKVOT_MLFLOW"
# One MLflow experiment for every trial (the run is then named after the trial).
ENV_EXPERIMENT = "VOTAKVOT_MLFLOW_EXPERIMENT"
# Seconds the process waits at exit for trials still being mirrored (default 30).
ENV_EXIT_TIMEOUT = "VOTAKVOT_MLFLOW_EXIT_TIMEOUT"

EXIT_TIMEOUT = 30.0
_ON = {"1", "on", "true", "yes"}
_OFF = {"0", "off", "false", "no"}


@dataclasses.dataclass(frozen=True)
class Target:
    """Where one trial is mirrored: `uri` (None: the one MLflow resolves, as `mlflow.start_run()`
    would use) and `experiment` (None: the trial's name)."""

    uri: str | None
    experiment: str | None


def target(settings: Settings) -> Target | None:
    """Returns where to mirror a trial run with `settings`, or None when the bridge is off."""
    raw = os.environ.get(ENV, "").strip()
    if raw.lower() in _OFF:
        return None
    named = settings.sinks is not None and SINK_NAME in settings.sinks
    if not raw and not named:
        return None
    uri = None if not raw or raw.lower() in _ON else raw
    experiment = os.environ.get(ENV_EXPERIMENT, "").strip() or None
    return Target(uri, experiment)


def exit_timeout() -> float:
    """Seconds to wait at exit for the mirror to finish (`$VOTAKVOT_MLFLOW_EXIT_TIMEOUT`)."""
    raw = os.environ.get(ENV_EXIT_TIMEOUT, "").strip()
    if not raw:
        return EXIT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        log.warning("%s=%r is not a number of seconds >= 0; waiting %s s", ENV_EXIT_TIMEOUT, raw, EXIT_TIMEOUT)
        return EXIT_TIMEOUT
    return seconds


def shown(uri: str) -> str:
    """The URI as messages show it: without a password (`http://user:***@host`)."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc[-1]}"))
