"""The built-in sink that stores snapshots of resumable trials, atomically."""

from __future__ import annotations

from typing import Any

from .. import plugins
from ..events import Snapshotted


class PickleSnapshotSink:
    """Serializes each `Snapshotted` object with the configured serializer (pickle by default)."""

    def __init__(self, trial: plugins.TrialView) -> None:
        self.trial = trial
        self.serializer = plugins.get(plugins.SERIALIZERS, trial.settings.snapshot_serializer)()

    def subscriptions(self) -> dict[type, Any]:
        return {Snapshotted: self.snapshotted}

    def snapshotted(self, event: Snapshotted) -> None:
        data = self.serializer.dumps(event.obj)
        self.trial.files.write(plugins.SNAPSHOT_STEM + self.serializer.suffix, data)
