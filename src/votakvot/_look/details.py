"""The per-trial panel's data: times, document fields, metadata by provider (git first), the
traceback and the attached file names. Metadata repeats across trials (one machine, one commit),
so a report keeps each distinct provider section once and trials point at it."""

from __future__ import annotations

from typing import Any

from .._files import layout
from .._read.trial import Trial
from . import embed, reading

# A traceback longer than this keeps its end (where the error is) and says how much was cut.
TRACEBACK_CHARACTERS = 64 * 1024
_VALUE_CHARACTERS = 2000
_SHOWN_ELSEWHERE = ("tid", "status", "error", "params", "info", "result")


class MetaSections:
    """Distinct metadata sections, each stored once: `{provider: [section, ...]}`."""

    def __init__(self) -> None:
        self.sections: dict[str, list[dict[str, Any]]] = {}
        self._seen: dict[tuple[str, str], int] = {}

    def refer(self, provider: str, section: dict[str, Any]) -> int:
        """Returns the position of `section` in its provider's list, adding it when new."""
        key = (provider, embed.dumps(section))
        at = self._seen.get(key)
        if at is None:
            kept = self.sections.setdefault(provider, [])
            at = self._seen[key] = len(kept)
            kept.append(section)
        return at


def record(trial: Trial, extra: dict[str, Any] | None, listing: list[str], traceback: bytes | None) -> dict[str, Any]:
    """The panel of one trial; its `meta` maps each provider to its flattened fields."""
    document: dict[str, Any] = {}
    meta: dict[str, dict[str, Any]] = {}
    for key, item in (extra or {}).items():
        if key.split(".", 1)[0] in _SHOWN_ELSEWHERE:
            continue
        if key.startswith("meta."):
            provider, _, field = key[len("meta.") :].partition(".")
            meta.setdefault(provider, {})[field] = embed.value(item, limit=_VALUE_CHARACTERS)
        else:
            document[key] = embed.value(item, limit=_VALUE_CHARACTERS)
    if "git" in meta:
        meta = {"git": meta.pop("git"), **meta}
    text = None if traceback is None else traceback.decode("utf-8", "replace")
    cut = 0
    if text is not None and len(text) > TRACEBACK_CHARACTERS:
        cut = len(text) - TRACEBACK_CHARACTERS
        text = text[cut:]
    return {
        "path": trial.path,
        "document": document,
        "meta": meta,
        "traceback": text,
        "traceback_cut": cut,
        "attached": sorted(n for n in listing if n != layout.DOCUMENT and not n.startswith(layout.HIDDEN_PREFIX)),
    }


def shared(panel: dict[str, Any], sections: MetaSections) -> dict[str, Any]:
    """The panel with each metadata section replaced by its position in `sections`."""
    return {**panel, "meta": {provider: sections.refer(provider, fields) for provider, fields in panel["meta"].items()}}


def tracebacks(trials: list[Trial], listings: dict[str, list[str]]) -> dict[str, bytes | None]:
    """The `traceback.txt` of each trial folder that has one (fetched in one batch), by folder."""
    if not trials:
        return {}
    store = trials[0].store
    wanted = {
        t.folder: store.join(t.folder, layout.TRACEBACK) for t in trials if layout.TRACEBACK in listings[t.folder]
    }
    got = reading.read_many(store, list(wanted.values()))
    out: dict[str, bytes | None] = {}
    for folder, path in wanted.items():
        data = got.get(path)
        out[folder] = data if isinstance(data, bytes) else f"(traceback.txt cannot be read: {data})".encode()
    return out
