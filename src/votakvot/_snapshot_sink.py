"""The built-in sink that stores snapshots of resumable trials, atomically."""

from __future__ import annotations

from typing import Any

from . import _layout, plugins
from .events import Snapshotted


class PickleSnapshotSink:
    """Serializes each `Snapshotted` object with the configured serializer (pickle by default)."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.serializer = plugins.get(plugins.SERIALIZERS, trial.settings.snapshot_serializer)()

    def subscriptions(self) -> dict[type, Any]:
        return {Snapshotted: self.snapshotted}

    def snapshotted(self, event: Snapshotted) -> None:
        data = self.serializer.dumps(event.obj)
        store = self.trial.store
        name = _layout.SNAPSHOT_STEM + self.serializer.suffix
        store.write_atomic(store.join(self.trial.folder, name), data)
