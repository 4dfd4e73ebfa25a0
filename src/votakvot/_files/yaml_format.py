"""The YAML serializer: plain, readable documents out; nothing executable in.

Dumping turns numpy, pandas, dataclasses, namedtuples, enums and paths into plain YAML and
keeps the seed's types (tuple, set, complex, bytes, datetime) round-tripping; a value YAML cannot
hold is stored as a readable stand-in (`storable`). Documents of plain values are written and read
by `fast_yaml`; PyYAML (`pyyaml_codec`) is imported only for anything else, so a process whose
documents are plain never pays its import. Loading is safe by default: `!!python/...`
and unknown tags become `InertObject` placeholders (`trusted=True` builds them, which can run
code), and a document whose aliases would expand beyond reason (an alias bomb) is refused.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
import sys
from typing import Any

from . import fast_yaml

# Nodes that aliases may stand for in one document, counted as if expanded. votakvot writes no
# aliases; a hand-written document reuses a few anchors; an alias bomb expands to billions.
MAX_ALIASED_NODES = 1_000_000
# Memory addresses in a repr say nothing once stored, and would make equal values differ.
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


class InertObject:
    """A tagged YAML value from an untrusted document, kept as data instead of being built."""

    __module__ = "votakvot"

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __repr__(self) -> str:
        tag = self.tag.replace("tag:yaml.org,2002:", "!!")
        return f"<inert {tag} {self.value!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InertObject) and (self.tag, self.value) == (other.tag, other.value)

    def __hash__(self) -> int:
        return hash(self.tag)


def plain_value(data: Any) -> Any:
    """Returns a plain stand-in for `data`, or `data` itself if it has none."""
    if isinstance(data, enum.Enum):
        value = data.value
        return value if isinstance(value, (str, int, float, bool)) else data.name
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return dict(zip(data._fields, data, strict=True))
    pathlib = sys.modules.get("pathlib")  # a path exists only once pathlib was imported
    if pathlib is not None and isinstance(data, pathlib.PurePath):
        return str(data)
    if isinstance(data, datetime.timedelta):
        return data.total_seconds()
    module = type(data).__module__
    if module.startswith("numpy") and hasattr(data, "tolist"):
        return data.tolist()
    if module.startswith("pandas"):
        return _plain_pandas(data)
    base: Any
    for base in (dict, list, str, bool, int, float, bytes):  # subclasses of plain types
        if isinstance(data, base):
            return base(data)
    return data


def _plain_pandas(data: Any) -> Any:
    kind = type(data).__name__
    if kind == "DataFrame":
        return data.to_dict(orient="list")
    if kind == "Series":
        return data.to_dict()
    if kind == "Timestamp":
        return data.to_pydatetime()
    if kind == "Timedelta":
        return data.total_seconds()
    if hasattr(data, "tolist"):
        return data.tolist()
    if type(data).__name__ in ("NAType", "NaTType"):
        return None
    return data


def dumps(doc: Any) -> str:
    """Serializes `doc` to block-style YAML, keys in insertion order."""
    if type(doc) is dict:
        fast = fast_yaml.dumps(doc)
        if fast is not None:
            return fast
    from . import pyyaml_codec

    return pyyaml_codec.dump_document(doc)


def dump_value(value: Any) -> str:
    """Serializes one value; raises TypeError/ValueError/RecursionError if it cannot be stored."""
    from . import pyyaml_codec

    return pyyaml_codec.dump_value(value)


def fits(value: Any, limit: int) -> bool:
    """Tells whether `value` as YAML takes at most `limit` bytes.

    Gives up early: a large object (an object graph, a long list) costs about as much as `limit`
    bytes of YAML, not its whole size. A value that cannot be stored at all raises, as
    `dump_value` does.
    """
    # The quick emitter writes `v: ...`, a few bytes more than the value alone: within the limit
    # with them, the value is within it too; anything else is measured exactly.
    text = fast_yaml.dumps({"v": value})
    if text is not None and len(text.encode()) <= limit:
        return True
    from . import pyyaml_codec

    return pyyaml_codec.fits(value, limit)


def storable(value: Any) -> tuple[Any, Exception | None]:
    """Returns `value` as a trial document stores it, and why it had to be replaced (or None).

    A value YAML can hold is returned as it is; any other (a lock, a socket, a structure too
    deep to write) becomes the string `"<unstorable TYPE: repr>"`, without memory addresses, so
    the same kind of value gives the same stand-in in every process.
    """
    try:
        dumps(value)
    except Exception as e:
        return f"<unstorable {type(value).__qualname__}: {_short_repr(value)}>", e
    return value, None


def stored_form(mapping: dict[str, Any]) -> Any:
    """Returns `mapping` (params, info) as it reads back from a trial document: each value
    replaced by its stand-in if it cannot be stored, then written and parsed."""
    return loads(dumps({key: storable(value)[0] for key, value in mapping.items()}))


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__, or one too deep to finish
        text = object.__repr__(value)
    text = _ADDRESS.sub("", text)
    return text if len(text) <= 200 else text[:197] + "..."


def loads(text: str | bytes, *, trusted: bool = False) -> Any:
    """Parses YAML; python tags stay inert unless `trusted` (which may run code from the text).

    A document whose aliases would expand beyond MAX_ALIASED_NODES nodes raises a YAMLError.
    Documents of plain values as `dumps` writes them are read by `fast_yaml` (the same values,
    several times faster); any other text goes to PyYAML.
    """
    fast = fast_yaml.loads(text)
    if fast is not None:
        return fast
    from . import pyyaml_codec

    return pyyaml_codec.load(text, trusted=trusted)


class YamlSerializer:
    """Serializes trial documents as YAML (the `yaml` entry of `votakvot.serializers`)."""

    suffix = ".yaml"

    def dumps(self, obj: Any) -> bytes:
        return dumps(obj).encode()

    def loads(self, data: bytes, *, trusted: bool = False) -> Any:
        return loads(data, trusted=trusted)

    def storable(self, value: Any) -> tuple[Any, Exception | None]:
        """Returns `value` as a document stores it, and why it was replaced (see `storable`)."""
        return storable(value)
