"""PyYAML behind `yaml_format`: the dumper that writes any value as plain YAML, and the loaders
that read any document safely (tagged values stay inert, alias bombs are refused). Imported when a
value or document is not one `fast_yaml` handles.
"""

from __future__ import annotations

import collections
import enum
import io
from typing import Any

import yaml

from .yaml_format import MAX_ALIASED_NODES, InertObject, plain_value

_BaseDumper: Any = getattr(yaml, "CDumper", yaml.Dumper)
_BaseSafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseUnsafeLoader: Any = getattr(yaml, "CUnsafeLoader", yaml.UnsafeLoader)

_PY = "tag:yaml.org,2002:python/"


class _Dumper(_BaseDumper):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_other(dumper: Any, data: Any) -> Any:
    plain = plain_value(data)
    if plain is data:
        return dumper.represent_object(data)
    return dumper.represent_data(plain)


_Dumper.add_representer(collections.OrderedDict, _Dumper.represent_dict)
for _base in (object, dict, list, str, int, float, tuple, enum.Enum):
    _Dumper.add_multi_representer(_base, _represent_other)


def dump_document(doc: Any) -> str:
    """Serializes a document to block-style YAML, keys in insertion order."""
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
    """Tells whether `value` as YAML takes at most `limit` bytes, giving up once it is past it."""
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


def load(text: str | bytes, *, trusted: bool = False) -> Any:
    """Parses YAML with PyYAML; python tags stay inert unless `trusted`."""
    # No anchor, no alias: nothing to check.
    anchored = b"&" in text if isinstance(text, bytes) else "&" in text
    if trusted:
        loader = _AliasCheckingUnsafeLoader if anchored else _BaseUnsafeLoader
    else:
        loader = _AliasCheckingSafeLoader if anchored else _SafeLoader
    return yaml.load(text, Loader=loader)
