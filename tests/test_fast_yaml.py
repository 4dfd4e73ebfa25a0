"""The fast YAML emitter: whatever it writes loads back equal; anything else is left to PyYAML."""

from __future__ import annotations

import datetime
import math
import re

import pytest
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
    tricky = [
        "1",
        "1.5",
        "1e3",
        "0x1F",
        "yes",
        "No",
        "on",
        "null",
        "~",
        "",
        " x",
        "x ",
        "a: b",
        "#c",
        "a #b",
        "2026-11-25",
        "12:30:00",
        "-",
        "- x",
        "?",
        "!tag",
        "&a",
        "*a",
        "[1]",
        "{a: 1}",
        "'q'",
        '"q"',
        "%x",
        "@x",
        "`x`",
        "a\nb",
        "tab\there",
        ".inf",
        ".nan",
        "0.2.0.dev0",
        "7e61be17",
        "1_000",
    ]
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
    for doc in (
        {"t": (1, 2)},
        {"s": {1}},
        {"b": b"x"},
        {"u": "héllo"},
        {1: "int key"},
        {"yes": 1},
        {"bad key": 1},
        {"l": [[1]]},
        {"l": [{"a": 1}]},
        {"sub": _MyInt(1)},
    ):
        assert _fast_yaml.dumps(doc) is None, doc


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\t", "\r", "\x7f", "\x85", "\u2028", "\ufeff", "\ud800"])
def test_characters_yaml_reads_otherwise_are_left_to_pyyaml(char):
    """A character that YAML reads otherwise than JSON (or refuses), raw inside a quoted string
    or a plain one, makes the fast loader decline, in ASCII and in other text."""
    for text in (f'a: "x{char}y"\n', f"a: x{char}y\n", f'a: "é{char}"\n', f"b: é\na: x{char}y\n"):
        assert _fast_yaml.loads(text) is None, repr(text)


def _same(a, b) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True would hide a wrong type)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, datetime.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


offsets = st.timedeltas(min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23))
loadable_scalars = (
    scalars
    | st.floats()
    | st.datetimes(timezones=st.builds(datetime.timezone, offsets.map(lambda d: d - d % datetime.timedelta(minutes=1))))
    | st.datetimes(timezones=st.builds(datetime.timezone, offsets))
)
loadable_documents = st.recursive(
    st.dictionaries(keys, loadable_scalars | st.lists(loadable_scalars, max_size=4), max_size=6),
    lambda children: st.dictionaries(keys, children | loadable_scalars, max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(loadable_documents)
def test_the_fast_loader_reads_what_the_emitter_writes_as_pyyaml_does(doc):
    """What the emitter writes, the fast loader reads back to exactly what PyYAML's safe loader
    builds (values and types), or declines."""
    text = _fast_yaml.dumps(doc)
    if text is None:
        return
    fast = _fast_yaml.loads(text)
    if re.search(r"[-+][0-9]{2}:[0-9]{2}:[0-9]{2}", text):  # an offset with seconds: PyYAML reads a string
        return
    assert fast is not None, text
    assert _same(fast, yaml.load(text, Loader=SAFE))
    assert _same(fast, _yaml.loads(text))


_TRICKY = [
    "1",
    "-0",
    "007",
    "1.5",
    "1.",
    "1.0e+3",
    "1e3",
    "1.0e3",
    ".nan",
    "-.inf",
    "+1",
    "0x1F",
    "0o7",
    "1_000",
    "12:30",
    "yes",
    "Null",
    "NULL",
    "~",
    "null",
    "true",
    "True",
    "text",
    "a:b",
    "a: b",
    "a #c",
    "#c",
    '"q"',
    '"\\u00e9\\n"',
    '"\\/"',
    '"\\ud83d"',
    '"a\\"b"',
    '"\\x41"',
    "'s'",
    '"unterminated',
    '"a" "b"',
    '""',
    '"',
    "2025-01-02",
    "2025-13-02",
    "2025-1-2",
    "2025-01-02 03:04:05",
    "2025-01-02 03:04:05.123456+01:00",
    "2025-01-02 03:04:05.1",
    "2025-01-02T03:04:05",
    "2025-01-02 03:04:05+05:30:15",
    "2025-01-02 03:04:05 +01:00",
    "{}",
    "[]",
    "[1]",
    "{a: 1}",
    "!!python/tuple [1]",
    "&a x",
    "*a",
    "é",
    "x\x85y",
    "x\u2028y",
    "x\ty",
    "x\x7fy",
    "x\x1by",
    "x\x00y",
    "x\ufeffy",
    "- x",
    "|",
    ">",
    "? x",
    "@x",
    "%x",
    "=",
    "<<",
    "_",
    "a,b",
    "9" * 5000,
]


@st.composite
def _mutated(draw) -> str:
    """A document the emitter wrote, with some of its lines changed the way a hand or another
    tool could change them: another scalar, another indent, a line removed or repeated."""
    text = draw(st.just("a: 1\n") | st.builds(lambda d: _fast_yaml.dumps(d) or "a: 1\n", loadable_documents))
    lines = text.splitlines()
    for _ in range(draw(st.integers(0, 3))):
        if not lines:
            lines.append("a: 1")
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        how = draw(st.sampled_from(["value", "value", "value", "indent", "drop", "repeat", "item"]))
        head, sep, _ = line.partition(": ") if ": " in line else line.partition("- ")
        if how == "value":
            start = head + sep if sep else line + (" " if line.endswith(":") else ": ")
            lines[i] = start + draw(st.sampled_from(_TRICKY))
        elif how == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "    ", "\t"])) + line.lstrip(" ")
        elif how == "drop":
            del lines[i]
        elif how == "repeat":
            lines.insert(i, line)
        else:
            lines.insert(i, line[: len(line) - len(line.lstrip(" "))] + "- " + draw(st.sampled_from(_TRICKY)))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\r\n"]))


@settings(max_examples=1500, deadline=None)
@given(_mutated())
def test_the_fast_loader_never_disagrees_with_pyyaml(text):
    """On text of any shape near what the emitter writes, the fast loader either declines or
    builds exactly what PyYAML's safe loader builds."""
    fast = _fast_yaml.loads(text)
    if fast is None:
        return
    assert _same(fast, yaml.load(text, Loader=SAFE)), text


def test_the_fast_loader_reads_real_trial_documents():
    """A document as a trial writes it (nested sections, lists, quoted text, times) loads fast
    and equal to PyYAML's reading."""
    doc = {
        "tid": "exp/25-11-26/10:15:02/7f3c",
        "uid": "7f3c0a",
        "status": "done",
        "at": {
            "created": datetime.datetime(2025, 11, 26, 10, 15, 2, 123456, tzinfo=datetime.timezone.utc),
            "duration": 0.0123,
        },
        "params": {"lr": 0.1, "layers": [64, 64], "opt": {"name": "adam", "betas": [0.9, 0.99]}},
        "result": None,
        "info": {},
        "version": "0.2.0.dev0",
        "tags": [],
        "meta": {"process": {"argv": ["/x/y.py", "--lr", "0.1"], "pid": 42}},
    }
    text = _fast_yaml.dumps(doc)
    assert text is not None
    assert _same(_fast_yaml.loads(text), doc)
    assert _same(_fast_yaml.loads(text.encode()), yaml.load(text, Loader=SAFE))
