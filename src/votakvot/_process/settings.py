"""The settings given to `votakvot.init`: what every trial of this process reads."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import _envvars
from . import state

# What a trial does when something it tracked could not be stored.
STORAGE_ERRORS = ("raise", "warn")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What `init` configured; every field has the default `init` documents."""

    path: str | None = None
    meta_providers: Mapping[str, Callable[[], Any]] | None = None
    sinks: tuple[str, ...] | None = None
    snapshot_serializer: str = "pickle"
    heartbeat: float = 5.0
    flush_interval: float = 1.0
    system_metrics: float | None = None
    meta_timeout: float = 5.0
    handle_sigterm: bool = True
    storage_errors: str = "raise"

    def root(self) -> str:
        """Returns the root URL: init's path, else $VOTAKVOT_PATH, else the current folder."""
        return self.path or os.environ.get(_envvars.PATH) or "."


_current = Settings()


def current() -> Settings:
    """Returns the settings in force."""
    return _current


def init(
    path: str | os.PathLike[str] | None = None,
    meta_providers: Mapping[str, Callable[[], Any]] | None = None,
    *,
    sinks: Sequence[str] | None = None,
    snapshot_serializer: str = "pickle",
    heartbeat: float = 5.0,
    flush_interval: float = 1.0,
    system_metrics: float | None = None,
    meta_timeout: float = 5.0,
    handle_sigterm: bool = True,
    storage_errors: str = "raise",
) -> None:
    """Sets where trials go and how they are tracked; each call replaces all earlier settings.

    `path` is a folder or any fsspec URL (default: $VOTAKVOT_PATH, else "."); a relative local
    path is resolved now, so a later chdir does not move the trials. `meta_providers` replaces
    `votakvot.meta.providers`; `sinks` names the sink plug-ins to use (default: all installed).

        votakvot.init(path="./my-results")
        votakvot.init(path="s3://bucket/exp", system_metrics=5)
    """
    global _current
    root = os.fspath(path) if path is not None else None
    if root is not None and "://" not in root:
        root = os.path.abspath(os.path.expanduser(root))
    for name, value in (("heartbeat", heartbeat), ("flush_interval", flush_interval)):
        if not value > 0:
            raise ValueError(f"init({name}={value!r}) must be a positive number of seconds")
    if storage_errors not in STORAGE_ERRORS:
        raise ValueError(
            f"init(storage_errors={storage_errors!r}) must be one of {STORAGE_ERRORS}: raise StorageError "
            "when something tracked could not be stored, or warn"
        )
    if system_metrics is not None and not system_metrics > 0:
        raise ValueError(f"init(system_metrics={system_metrics!r}) must be None or a positive number of seconds")
    _current = Settings(
        path=root,
        meta_providers=dict(meta_providers) if meta_providers is not None else None,
        sinks=tuple(sinks) if sinks is not None else None,
        snapshot_serializer=snapshot_serializer,
        heartbeat=float(heartbeat),
        flush_interval=float(flush_interval),
        system_metrics=float(system_metrics) if system_metrics is not None else None,
        meta_timeout=float(meta_timeout),
        handle_sigterm=handle_sigterm,
        storage_errors=storage_errors,
    )


def _reset() -> None:
    global _current
    _current = Settings()


state.register(reset=_reset)
