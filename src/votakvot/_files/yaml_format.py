"""The YAML serializer: plain, readable documents out; nothing executable in.

Dumping turns numpy, pandas, dataclasses, namedtuples, enums and paths into plain YAML and
keeps the seed's types (tuple, set, complex, bytes, datetime) round-tripping; a value YAML cannot
hold is stored as a readable stand-in (`storable`). Loading is safe by default: `!!python/...`
and unknown tags become `InertObject` placeholders (`trusted=True` builds them, which can run
code), and a document whose aliases would expand beyond reason (an alias bomb) is refused.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import io
import pathlib
import re
from typing import Any

import yaml

from . import fast_yaml

_BaseDumper: Any = getattr(yaml, "CDumper", yaml.Dumper)
_BaseSafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseUnsafeLoader: Any = getattr(yaml, "CUnsafeLoader", yaml.UnsafeLoader)

_PY = "tag:yaml.org,2002:python/"
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


class _Dumper(_BaseDumper):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _plain(data: Any) -> Any:
    """Returns a plain stand-in for `data`, or `data` itself if it has none."""
    if isinstance(data, enum.Enum):
        value = data.value
        return value if isinstance(value, (str, int, float, bool)) else data.name
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return dict(zip(data._fields, data, strict=True))
    if isinstance(data, pathlib.PurePath):
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


def _represent_other(dumper: Any, data: Any) -> Any:
    plain = _plain(data)
    if plain is data:
        return dumper.represent_object(data)
    return dumper.represent_data(plain)


_Dumper.add_representer(collections.OrderedDict, _Dumper.represent_dict)
for _base in (object, dict, list, str, int, float, tuple, enum.Enum):
    _Dumper.add_multi_representer(_base, _represent_other)


def dumps(doc: Any) -> str:
    """Serializes `doc` to block-style YAML, keys in insertion order."""
    if type(doc) is dict:
        fast = fast_yaml.dumps(doc)
        if fast is not None:
            return fast
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def dump_value(value: Any) -> str:
    """Serializes one value; raises TypeError/ValueError/RecursionError if it cannot be stored."""
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


class _Exceeded(Exception):
    pass


class _BoundedDumper(_Dumper):
    """Gives up (`_Exceeded`) once what it has represented would write more bytes than its
    budget. It counts what is surely written: each node at least a byte, each scalar its text
    and a separator, each explicit tag (`!!python/object:module.Class`) its text."""

    budget = 0

    def _spend(self, size: int) -> None:
        self.budget -= size
        if self.budget < 0:
            raise _Exceeded

    def represent_data(self, data: Any) -> Any:
        self._spend(1)
        return super().represent_data(data)

    def represent_scalar(self, tag: str, value: Any, style: str | None = None) -> Any:
        self._spend(len(value) + 1 + _explicit_tag_size(tag))
        return super().represent_scalar(tag, value, style)

    def represent_sequence(self, tag: str, sequence: Any, flow_style: bool | None = None) -> Any:
        self._spend(_explicit_tag_size(tag))
        return super().represent_sequence(tag, sequence, flow_style)

    def represent_mapping(self, tag: str, mapping: Any, flow_style: bool | None = None) -> Any:
        self._spend(_explicit_tag_size(tag))
        return super().represent_mapping(tag, mapping, flow_style)


def _explicit_tag_size(tag: str) -> int:
    """The size of `tag` as written (`!!python/...`); 0 for the tags YAML leaves implicit."""
    return len(tag) - len(_PY) + len("!!python/") if tag.startswith(_PY) else 0


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
    stream = io.StringIO()
    dumper = _BoundedDumper(stream, allow_unicode=True, sort_keys=False)
    dumper.budget = limit
    try:
        dumper.open()
        dumper.represent(value)
        dumper.close()
    except _Exceeded:
        return False
    finally:
        dumper.dispose()
    return len(stream.getvalue().encode()) <= limit


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


class _SafeLoader(_BaseSafeLoader):  # type: ignore[misc]
    pass


class _AliasCheckingSafeLoader(_SafeLoader):
    def get_single_data(self) -> Any:
        return _construct_checked(self)


class _AliasCheckingUnsafeLoader(_BaseUnsafeLoader):  # type: ignore[misc]
    def get_single_data(self) -> Any:
        return _construct_checked(self)


def _construct_checked(loader: Any) -> Any:
    node = loader.get_single_node()
    if node is None:
        return None
    _check_aliases(node)
    return loader.construct_document(node)


def _check_aliases(root: Any) -> None:
    """Refuses a node graph whose aliases stand for more than MAX_ALIASED_NODES nodes, or
    that contains itself: building it is cheap, but anything that walks it (a comparison, a
    report, writing it again) would expand it."""
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    aliased = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:  # met again: an alias of a node already counted
            aliased += sizes[key]
            if aliased > MAX_ALIASED_NODES:
                problem = f"its aliases expand to more than {MAX_ALIASED_NODES} nodes (an alias bomb?)"
                raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)
            continue
        if key in entered:
            problem = "an alias refers to a node containing it"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)
        entered.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _inert(loader: Any, tag_suffix: str, node: Any = None) -> InertObject:
    if node is None:  # the catch-all constructor gets (loader, node)
        node, tag = tag_suffix, tag_suffix.tag  # type: ignore[attr-defined]
    else:
        tag = node.tag
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return InertObject(tag, value)


def _tuple(loader: Any, node: Any) -> tuple[Any, ...]:
    return tuple(loader.construct_sequence(node, deep=True))


def _complex(loader: Any, node: Any) -> complex:
    return complex(loader.construct_scalar(node))


_SafeLoader.add_constructor(_PY + "tuple", _tuple)
_SafeLoader.add_constructor(_PY + "complex", _complex)
_SafeLoader.add_constructor(_PY + "str", _SafeLoader.construct_yaml_str)
_SafeLoader.add_constructor(_PY + "unicode", _SafeLoader.construct_yaml_str)
_SafeLoader.add_constructor(_PY + "bytes", _SafeLoader.construct_yaml_binary)
_SafeLoader.add_constructor(_PY + "int", _SafeLoader.construct_yaml_int)
_SafeLoader.add_constructor(_PY + "long", _SafeLoader.construct_yaml_int)
_SafeLoader.add_constructor(_PY + "float", _SafeLoader.construct_yaml_float)
_SafeLoader.add_constructor(_PY + "bool", _SafeLoader.construct_yaml_bool)
_SafeLoader.add_constructor(_PY + "none", _SafeLoader.construct_yaml_null)
_SafeLoader.add_constructor(_PY + "list", _SafeLoader.construct_yaml_seq)
_SafeLoader.add_constructor(_PY + "dict", _SafeLoader.construct_yaml_map)
_SafeLoader.add_multi_constructor(_PY, _inert)
_SafeLoader.add_constructor(None, _inert)


def loads(text: str | bytes, *, trusted: bool = False) -> Any:
    """Parses YAML; python tags stay inert unless `trusted` (which may run code from the text).

    A document whose aliases would expand beyond MAX_ALIASED_NODES nodes raises a YAMLError.
    Documents of plain values as `dumps` writes them are read by `fast_yaml` (the same values,
    several times faster); any other text goes to PyYAML.
    """
    fast = fast_yaml.loads(text)
    if fast is not None:
        return fast
    # No anchor, no alias: nothing to check.
    anchored = b"&" in text if isinstance(text, bytes) else "&" in text
    if trusted:
        loader = _AliasCheckingUnsafeLoader if anchored else _BaseUnsafeLoader
    else:
        loader = _AliasCheckingSafeLoader if anchored else _SafeLoader
    return yaml.load(text, Loader=loader)


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
