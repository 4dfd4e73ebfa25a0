"""The YAML serializer: plain, readable documents out; nothing executable in.

Dumping turns numpy, pandas, dataclasses, namedtuples, enums and paths into plain YAML and
keeps the seed's types (tuple, set, complex, bytes, datetime) round-tripping. Loading is safe
by default: `!!python/...` and unknown tags become `InertObject` placeholders; `trusted=True`
builds them (which can run code, so only for folders you trust).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import pathlib
from typing import Any

import yaml

from . import fast_yaml

_BaseDumper: Any = getattr(yaml, "CDumper", yaml.Dumper)
_BaseSafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseUnsafeLoader: Any = getattr(yaml, "CUnsafeLoader", yaml.UnsafeLoader)

_PY = "tag:yaml.org,2002:python/"


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


class _SafeLoader(_BaseSafeLoader):  # type: ignore[misc]
    pass


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
    """Parses YAML; python tags stay inert unless `trusted` (which may run code from the text)."""
    return yaml.load(text, Loader=_BaseUnsafeLoader if trusted else _SafeLoader)


class YamlSerializer:
    """Serializes trial documents as YAML (the `yaml` entry of `votakvot.serializers`)."""

    suffix = ".yaml"

    def dumps(self, obj: Any) -> bytes:
        return dumps(obj).encode()

    def loads(self, data: bytes, *, trusted: bool = False) -> Any:
        return loads(data, trusted=trusted)
