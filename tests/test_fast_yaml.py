"""The fast YAML emitter: whatever it writes loads back equal; anything else is left to PyYAML."""

from __future__ import annotations

import datetime
import math

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from votakvot._files import fast_yaml as _fast_yaml
from votakvot._files import yaml_format as _yaml

SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.datetimes(timezones=st.none() | st.just(datetime.timezone.utc))
    | st.dates()
)
documents = st.recursive(
    st.dictionaries(keys, scalars | st.lists(scalars, max_size=4), max_size=6),
    lambda children: st.dictionaries(keys, children | scalars, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_emitted_documents_load_back_equal(doc):
    """Every document the fast emitter accepts loads back equal with PyYAML's safe loader."""
    text = _fast_yaml.dumps(doc)
    if text is not None:
        assert yaml.load(text, Loader=SAFE) == doc
    assert _yaml.loads(_yaml.dumps(doc)) == doc


def test_tricky_strings_keep_their_type():
    """Strings that look like numbers, booleans, nulls or dates stay strings."""
    tricky = ["1", "1.5", "1e3", "0x1F", "yes", "No", "on", "null", "~", "", " x", "x ", "a: b", "#c", "a #b",
              "2026-11-25", "12:30:00", "-", "- x", "?", "!tag", "&a", "*a", "[1]", "{a: 1}", "'q'", '"q"', "%x",
              "@x", "`x`", "a\nb", "tab\there", ".inf", ".nan", "0.2.0.dev0", "7e61be17", "1_000"]
    doc = {f"k{i}": s for i, s in enumerate(tricky)}
    assert yaml.load(_fast_yaml.dumps(doc) or "", Loader=SAFE) == doc


def test_floats_round_trip_exactly():
    """Floats, including huge, tiny, infinite and NaN ones, load back as the same float."""
    values = [0.0, -0.0, 1.0, 1e17, 1e-7, 123456789.123456789, 2.0**60, float("inf"), float("-inf")]
    loaded = yaml.load(_fast_yaml.dumps({"v": values}), Loader=SAFE)["v"]
    assert loaded == values and all(type(x) is float for x in loaded)
    assert math.isnan(yaml.load(_fast_yaml.dumps({"v": float("nan")}), Loader=SAFE)["v"])


class _MyInt(int):
    pass


def test_anything_else_is_left_to_pyyaml():
    """Tuples, sets, bytes, non-ASCII text, odd keys and subclasses make the emitter decline."""
    for doc in ({"t": (1, 2)}, {"s": {1}}, {"b": b"x"}, {"u": "héllo"}, {1: "int key"}, {"yes": 1},
                {"bad key": 1}, {"l": [[1]]}, {"l": [{"a": 1}]}, {"sub": _MyInt(1)}):
        assert _fast_yaml.dumps(doc) is None, doc
