"""Trial names from node ids and params from parametrize values (`votakvot_pytest.naming`)."""

from __future__ import annotations

import datetime
import enum

import pytest
from votakvot_pytest.naming import plain, shown, trial_name

import votakvot
from votakvot.errors import TrialNameError


@pytest.mark.parametrize(
    ("nodeid", "name"),
    [
        ("test_a.py::test_b", "test/test_a.py/test_b"),
        ("tests/unit/test_a.py::TestX::test_y", "test/tests/unit/test_a.py/TestX/test_y"),
        ("test_a.py::test_b[1-x]", "test/test_a.py/test_b[1-x]"),
        ("test_a.py::test_b[a::b]", "test/test_a.py/test_b[a%3A%3Ab]"),
        ("test_a.py::test_b[a/b]", "test/test_a.py/test_b[a%2Fb]"),
        ("test_a.py::test_b[50%]", "test/test_a.py/test_b[50%25]"),
        ("../outside/test_a.py::test_b", "test/%2E./outside/test_a.py/test_b"),
        ("test_a.py::.hidden", "test/test_a.py/%2Ehidden"),
        ("doc.txt::doc.txt", "test/doc.txt/doc.txt"),
        ("test_a.py::test_b[\x1b]", "test/test_a.py/test_b[%1B]"),
    ],
)
def test_trial_names_are_node_ids_as_folders(nodeid, name):
    """`::` separates folders, '/' inside a name or id is escaped, and every name is one votakvot takes."""
    assert trial_name(nodeid) == name
    votakvot.trial(name)  # would raise TrialNameError


def test_long_ids_are_cut_with_a_digest():
    """A segment longer than 200 bytes keeps its first 150 bytes and a digest of the whole, so two
    long ids that start alike still get different names."""
    first = trial_name("test_a.py::test_b[" + "x" * 300 + "1]")
    second = trial_name("test_a.py::test_b[" + "x" * 300 + "2]")
    assert first != second
    for name in (first, second):
        last = name.rsplit("/", 1)[1]
        assert len(last.encode()) <= 200
        assert last.startswith("test_b[xxx")
    with pytest.raises(TrialNameError):
        votakvot.trial("test/..")  # the escapes above exist because of this


class Color(enum.Enum):
    RED = 1


class Opaque:
    pass


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (3, 3),
        (2.5, 2.5),
        (None, None),
        ("s", "s"),
        (b"b", b"b"),
        (True, True),
        (1j, 1j),
        (datetime.date(2025, 1, 2), datetime.date(2025, 1, 2)),
        ([1, (2, "x")], [1, (2, "x")]),
        ({"a": [1, None]}, {"a": [1, None]}),
        ({1, 2}, {1, 2}),
        ({1: "x"}, "{1: 'x'}"),
        (Color.RED, "<Color.RED: 1>"),
        (Opaque(), f"<{__name__}.Opaque object>"),
        ([Opaque()], [f"<{__name__}.Opaque object>"]),
        (BadRepr(), "<BadRepr>"),
        ("z" * 500, "z" * 500),
        (["z" * 500], ["z" * 500]),
    ],
    ids=lambda v: type(v).__name__,
)
def test_params_are_plain_data_or_reprs(value, stored):
    """Plain data stays as it is; other objects become their repr without a memory address."""
    assert plain(value) == stored
    assert type(plain(value)) is type(stored)


def test_reprs_are_cut_at_200_characters():
    """A long repr keeps 199 characters and an ellipsis."""
    long_object = type("Long", (), {"__repr__": lambda self: "y" * 1000})()
    assert shown(long_object) == "y" * 199 + "…"
