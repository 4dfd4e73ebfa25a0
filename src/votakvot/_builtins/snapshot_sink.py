"""The built-in sink that stores snapshots of resumable trials, atomically, while they can be resumed."""

from __future__ import annotations

import contextlib
from typing import Any

from .. import plugins
from ..events import Finished, Snapshotted


class PickleSnapshotSink:
    """Serializes each `Snapshotted` object, with how far each metric series had got, using the
    configured serializer (pickle by default). A trial that ends `done` needs its snapshot no
    more: it is removed then. Any other end keeps it, to resume from."""

    def __init__(self, trial: plugins.TrialView) -> None:
        self.trial = trial
        self.serializer = plugins.get(plugins.SERIALIZERS, trial.settings.snapshot_serializer)()
        self.name = plugins.SNAPSHOT_STEM + self.serializer.suffix
        self.written = False

    def subscriptions(self) -> dict[type, Any]:
        return {Snapshotted: self.snapshotted, Finished: self.finished}

    def snapshotted(self, event: Snapshotted) -> None:
        data = self.serializer.dumps(plugins.snapshot_record(event.obj, event.steps))
        self.trial.files.write(self.name, data)
        self.written = True

    def finished(self, event: Finished) -> None:
        if event.status == "done" and (self.written or self.trial.resumed):
            with contextlib.suppress(OSError):  # a snapshot left behind is only a spare file
                self.trial.files.remove(self.name)
