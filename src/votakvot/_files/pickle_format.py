"""The pickle serializer, used for snapshots of resumable trials."""

from __future__ import annotations

import pickle
from typing import Any


class PickleSerializer:
    """Pickles snapshots (the `pickle` entry of `votakvot.serializers`).

    Unpickling runs code chosen by whoever wrote the file, so `loads` needs `trusted=True`.
    """

    suffix = ".pickle"

    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes, *, trusted: bool = False) -> Any:
        if not trusted:
            raise PermissionError("unpickling can run code from the file; pass trusted=True for files you trust")
        return pickle.loads(data)
