"""The plug-in's options (`--votakvot[=ROOT]`, the ini option `votakvot_root`) and the root they name.

Imported at every pytest start-up, so it imports nothing of votakvot.
"""

from __future__ import annotations

import itertools
import os
import shlex
from pathlib import Path

import pytest

OPTION = "--votakvot"
INI_ROOT = "votakvot_root"
DEFAULT_ROOT = ".votakvot/tests"
"""Where trials go when `--votakvot` has no value and no `votakvot_root` is set, below pytest's rootdir."""

# What argparse stores for a bare `--votakvot`; an empty `--votakvot=` means the same.
_NO_VALUE = ""


def add_options(parser: pytest.Parser) -> None:
    """Adds `--votakvot[=ROOT]` and the ini option `votakvot_root`."""
    group = parser.getgroup("votakvot", "recording tests as votakvot trials")
    group.addoption(
        OPTION,
        dest="votakvot",
        nargs="?",
        const=_NO_VALUE,
        default=None,
        metavar="ROOT",
        help=(
            "record each test as a votakvot trial, with the session as their parent, below ROOT "
            "(a folder or fsspec URL; write it with '=': --votakvot=ROOT). Without ROOT: the ini "
            f"option {INI_ROOT}, else {DEFAULT_ROOT} in the rootdir."
        ),
    )
    parser.addini(
        INI_ROOT,
        help=f"where --votakvot records trials when given no ROOT (relative to the rootdir; default {DEFAULT_ROOT})",
        default=None,
    )


def root(config: pytest.Config) -> str | None:
    """Returns the absolute root (or URL) to record into, or None when `--votakvot` was not given.

    A ROOT on the command line is relative to the folder pytest was started in; the ini option
    and the default are relative to the rootdir, so runs started in a sub-folder land together.
    """
    value = config.getoption("votakvot")
    if value is None:
        return None
    if value != _NO_VALUE:
        return _absolute(value, config.invocation_params.dir)
    configured = config.getini(INI_ROOT)
    return _absolute(configured or DEFAULT_ROOT, config.rootpath)


def _absolute(location: str, base: Path) -> str:
    if "://" in location:
        return location
    return str(base / os.path.expanduser(location))


def check_value_form(config: pytest.Config) -> None:
    """Refuses `--votakvot VALUE` written as two words, which argparse reads as ROOT=VALUE:
    `pytest --votakvot tests/` would run every test and write trials into `tests/`."""
    value = config.getoption("votakvot")
    if not value:
        return
    words = [
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
        *config.getini("addopts"),
        *map(str, config.invocation_params.args),
    ]
    for word, following in itertools.pairwise(words):
        if word == OPTION and following == value:
            raise pytest.UsageError(
                f"{OPTION} {value}: is {value!r} where the trials go, or a test path? Write the root "
                f"with '=' ({OPTION}={value}), or put test paths before {OPTION}"
            )
