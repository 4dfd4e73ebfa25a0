"""Values in votakvot.yaml: the seed's types round-trip, rich objects become plain YAML, the rest warns."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import math
import pathlib
import threading

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import votakvot
from conftest import read_yaml

FAST = {"heartbeat": 0.2, "flush_interval": 0.1}

SEED_TYPES = {
    "int": 42,
    "negative_int": -7,
    "big_int": 2**70,
    "float": 0.1,
    "infinity": float("-inf"),
    "complex": 1.5 - 2j,
    "bool": True,
    "false": False,
    "str": "héllo: wörld\n# not a comment",
    "bytes": b"\x00\x01\xfe\xff",
    "list": [1, "a", None, [2.5]],
    "dict": {"a": {"b": [1, 2]}, "c": None},
    "tuple": (1, "a", (2, 3)),
    "set": {1, 2, 3},
    "datetime": datetime.datetime(2021, 5, 20, 15, 30, 1, 123456),
    "aware_datetime": datetime.datetime(2021, 5, 20, 15, 30, tzinfo=datetime.timezone.utc),
    "date": datetime.date(2021, 5, 20),
    "none": None,
    "strings_that_look_like_other_types": ["true", "null", "1.5", "2021-05-20", "~", "", "yes", "0x1F", "- x"],
}


def _load(root: str, tid: str) -> votakvot.Trial:
    return votakvot.load_trials(root)[tid]


def _same(a, b) -> bool:
    """Equal values of exactly the same types, all the way down (a loaded dict may be a dict subclass)."""
    if isinstance(a, dict) or isinstance(b, dict):
        both = isinstance(a, dict) and isinstance(b, dict)
        return both and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_seed_types_round_trip_through_the_document(root):
    """int, float, complex, bool, str, bytes, list, dict, tuple, set, datetime and None load back equal and typed."""
    votakvot.init(path=root, meta_providers={}, **FAST)
    with votakvot.trial("values", **SEED_TYPES) as t:
        t.inform(**SEED_TYPES)
        t.result = SEED_TYPES
    trial = _load(root, t.tid)
    for section in (dict(trial.params), dict(trial.info), dict(trial.result)):
        for key, value in SEED_TYPES.items():
            assert _same(section[key], value), (key, section[key], value)


@pytest.mark.parametrize(
    "result",
    [0, 2.5, "text", None, True, b"raw", (1, 2), [1, [2]], {"k": "v"}, 1j],
    ids=["int", "float", "str", "none", "bool", "bytes", "tuple", "list", "dict", "complex"],
)
def test_scalar_and_container_results_round_trip(root, result):
    """A result of any seed type loads back as an equal value of the same type."""
    votakvot.init(path=root, meta_providers={}, **FAST)
    with votakvot.trial("values") as t:
        t.result = result
    assert _same(_load(root, t.tid).result, result)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    y: float


@dataclasses.dataclass
class Run:
    where: pathlib.Path
    at: Point
    tags: list


Pair = collections.namedtuple("Pair", ["left", "right"])

RICH = {
    "np_int": np.int64(7),
    "np_float": np.float32(1.5),
    "np_bool": np.bool_(True),
    "np_array": np.array([[1, 2], [3, 4]]),
    "np_float_array": np.array([0.5, 1.5]),
    "series": pd.Series([1, 2], index=["a", "b"]),
    "frame": pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}),
    "timestamp": pd.Timestamp("2021-05-20 15:30:00"),
    "dataclass": Point(1, 2.5),
    "nested_dataclass": Run(pathlib.Path("/data/run1"), Point(0, 0.0), ["a"]),
    "namedtuple": Pair(1, "two"),
    "enum": Color.RED,
    "int_enum": Level.HIGH,
    "path": pathlib.PurePosixPath("/tmp/data/file.csv"),
    "list_of_numpy": [np.int32(1), np.float64(2.0)],
}

PLAIN = {
    "np_int": 7,
    "np_float": 1.5,
    "np_bool": True,
    "np_array": [[1, 2], [3, 4]],
    "np_float_array": [0.5, 1.5],
    "series": {"a": 1, "b": 2},
    "frame": {"x": [1, 2], "y": ["a", "b"]},
    "timestamp": datetime.datetime(2021, 5, 20, 15, 30),
    "dataclass": {"x": 1, "y": 2.5},
    "nested_dataclass": {"where": "/data/run1", "at": {"x": 0, "y": 0.0}, "tags": ["a"]},
    "namedtuple": {"left": 1, "right": "two"},
    "enum": "red",
    "int_enum": 3,
    "path": "/tmp/data/file.csv",
    "list_of_numpy": [1, 2.0],
}


def test_rich_objects_are_stored_as_plain_yaml(root):
    """numpy, pandas, dataclasses, namedtuples, enums and paths are written as plain YAML a safe loader reads."""
    votakvot.init(path=root, meta_providers={}, **FAST)
    with votakvot.trial("rich", **RICH) as t:
        t.inform(**RICH)
        t.result = RICH
    doc = read_yaml(f"{t.path}/votakvot.yaml")  # yaml.safe_load: any python tag would fail here
    for section in ("params", "info", "result"):
        for key, plain in PLAIN.items():
            assert _same(doc[section][key], plain), (section, key, doc[section][key], plain)
    loaded = _load(root, t.tid)
    assert dict(loaded.params) == PLAIN


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        (np.arange(3), [0, 1, 2]),
        (pd.Series({"a": 1.5}), {"a": 1.5}),
        (Point(3, 4.0), {"x": 3, "y": 4.0}),
        (pathlib.Path("relative/file.txt"), "relative/file.txt"),
        (Color.BLUE, "blue"),
    ],
    ids=["numpy", "series", "dataclass", "path", "enum"],
)
def test_rich_result_is_stored_plain(root, value, plain):
    """A rich object as the whole result is stored as its plain form."""
    votakvot.init(path=root, meta_providers={}, **FAST)
    with votakvot.trial("rich") as t:
        t.result = value
    assert _same(read_yaml(f"{t.path}/votakvot.yaml")["result"], plain)


def test_unstorable_param_warns_and_the_trial_completes(root):
    """A param YAML cannot hold warns naming it; the trial is done and its other params are intact."""
    votakvot.init(path=root, meta_providers={}, **FAST)
    lock = threading.Lock()
    with pytest.warns(UserWarning, match="mutex"), votakvot.trial("values", mutex=lock, lr=0.1, layers=[64, 32]) as t:
        t.inform(note="kept")
        t.result = {"acc": 0.9}
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    assert doc["params"]["lr"] == 0.1
    assert doc["params"]["layers"] == [64, 32]
    assert "mutex" in doc["params"]
    assert doc["info"] == {"note": "kept"}
    assert doc["result"] == {"acc": 0.9}
    assert _load(root, t.tid).status == "done"


def test_unstorable_result_warns_and_the_trial_completes(root):
    """A result YAML cannot hold warns naming the result; params and status are still written."""
    votakvot.init(path=root, meta_providers={}, **FAST)
    with pytest.warns(UserWarning, match="result"), votakvot.trial("values", lr=0.1) as t:
        t.result = threading.Lock()
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    assert doc["params"] == {"lr": 0.1}


def test_unstorable_info_warns_naming_the_field(root):
    """An informed value YAML cannot hold warns naming that field; the other info is written."""
    votakvot.init(path=root, meta_providers={}, **FAST)
    with pytest.warns(UserWarning, match="handle"), votakvot.trial("values", lr=0.1) as t:
        t.inform(handle=threading.Lock(), epoch=3)
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["status"] == "done"
    assert doc["info"]["epoch"] == 3
    assert doc["params"] == {"lr": 0.1}


def test_a_param_larger_than_a_document_may_be_is_replaced_by_a_note_and_warned(local_root):
    """A param that would make votakvot.yaml larger than plugins.MAX_DOCUMENT_BYTES (64 MiB) warns
    naming it and is stored as a short note; the document stays loadable with every other value."""
    votakvot.init(path=local_root, meta_providers={}, **FAST)
    blob = "x" * (votakvot.plugins.MAX_DOCUMENT_BYTES + 1)
    warns = pytest.warns(UserWarning, match=r"params\.blob of trial .* larger than 67,108,864 bytes")
    with warns as seen, votakvot.trial("big", blob=blob, lr=0.1) as t:
        t.inform(note="kept")
        t.result = 0.5
    assert len([w for w in seen if "params.blob" in str(w.message)]) == 1
    assert (pathlib.Path(t.path) / "votakvot.yaml").stat().st_size < 10_000
    rep = votakvot.load_report(t.path)
    assert rep["blob"][0].startswith("<too large str: ")
    assert rep["lr"].tolist() == [0.1]
    assert rep["note"].tolist() == ["kept"]
    assert rep["result"].tolist() == [0.5]


def test_the_largest_values_make_way_until_the_document_fits(local_root, monkeypatch):
    """With several large values the largest are replaced first, only as many as the document
    needs to fit under the cap; info and result are covered as well as params."""
    votakvot.init(path=local_root, meta_providers={}, heartbeat=60, flush_interval=60)  # one write at the end
    monkeypatch.setattr(votakvot.plugins, "MAX_DOCUMENT_BYTES", 12_000)
    warns = pytest.warns(UserWarning, match=r"votakvot: result, info\.log of trial")
    with warns as seen, votakvot.trial("big", small="s" * 5_000, lr=0.1) as t:
        t.inform(log="l" * 20_000, epoch=3)
        t.result = ["r"] * 10_000
    assert len(seen) == 1
    doc = read_yaml(f"{t.path}/votakvot.yaml")
    assert doc["params"] == {"small": "s" * 5_000, "lr": 0.1}
    assert doc["info"]["log"].startswith("<too large str: ")
    assert doc["info"]["epoch"] == 3
    assert doc["result"].startswith("<too large list: ")
    assert (pathlib.Path(t.path) / "votakvot.yaml").stat().st_size <= 12_000


PLAIN_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


# The autouse fixture resets votakvot once around the whole property, which is all it needs.
@settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.text(min_size=1), PLAIN_VALUES, max_size=4), result=PLAIN_VALUES)
def test_nested_plain_values_round_trip(local_root, params, result):
    """Any nesting of dicts and lists of ints, floats, text, bools and None loads back equal and typed."""
    votakvot.init(path=local_root, meta_providers={}, sinks=["yaml"], **FAST)
    with votakvot.trial("property", **params) as t:
        t.result = result
    loaded = votakvot.load_trials(t.path)
    (trial,) = loaded.values()
    assert _same(dict(trial.params), params)
    assert _same(trial.result, result)
