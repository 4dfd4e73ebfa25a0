"""Continuing a trial stored at an explicit id: what is read back, and what the new run takes over."""

from __future__ import annotations

import os
import reprlib
import stat
from typing import TYPE_CHECKING

from .._files import layout, yaml_format
from .._files.layout import MAX_DOCUMENT_BYTES
from .._files.storage import LocalStore
from .._read.trial import Trial, read_trial
from ..errors import ParamsMismatchError, TrialLoadError

if TYPE_CHECKING:
    from .trial import LiveTrial

_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def stored(trial: LiveTrial) -> Trial | None:
    """Returns the trial already stored at `trial`'s folder, or None.

    Raises ParamsMismatchError if it was run with other params (compared as stored: a value
    YAML cannot hold counts as its stand-in), and TrialLoadError if the folder holds something
    votakvot cannot safely read or write: a document that cannot be read, or a named pipe,
    link or folder where one of votakvot's own files belongs.
    """
    check_own_files(trial)
    try:
        previous = read_trial(trial.store, trial.folder, trial.tid, limit=MAX_DOCUMENT_BYTES)
    except TrialLoadError as e:
        raise TrialLoadError(
            f"cannot continue trial {trial.tid!r}: its {layout.DOCUMENT} cannot be read ({e}); "
            "fix or remove the folder, or use another id"
        ) from e
    if previous is not None:
        wanted = yaml_format.stored_form(trial.params)
        if previous.params != wanted:
            raise ParamsMismatchError(
                f"trial {trial.tid!r} already exists with params {_short(dict(previous.params))}, "
                f"not {_short(wanted)}; use another id, or delete the folder to start over"
            )
    return previous


def take_over(trial: LiveTrial, previous: Trial) -> None:
    """Makes `trial` the continuation of `previous`: same uid, creation and first start time,
    its info kept, this run appended to `at.resumed`, metric steps going on from the last
    stored ones (a resumable task then goes back to its snapshot's, see `LiveTrial.restore`)."""
    trial.previous = previous
    trial.uid = previous.uid or trial.uid
    at = previous.data.get("at") or {}
    for key in ("created", "started"):
        if at.get(key) is not None:
            trial.at[key] = at[key]
    earlier = at.get("resumed") or []
    trial.at["resumed"] = list(earlier) if isinstance(earlier, list) else []
    trial.resumed = len(trial.at["resumed"]) + 1
    # What this run said before it was entered is newer than what the earlier run stored.
    stored = dict(previous.data.get("info") or {})
    stored.update(trial.info)
    trial.info.clear()
    trial.info.update(stored)
    trial._buffer.continue_steps(previous.last_steps())


def _short(value: object) -> str:
    """A repr that stays short and finite, however large or deep the value."""
    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother, short.maxdict, short.maxlist = 4, 80, 80, 20, 20
    return short.repr(value)


def check_own_files(trial: LiveTrial) -> None:
    """Refuses a local trial folder where a name votakvot reads or writes is not a regular file:
    opening a named pipe blocks forever, and a link would lead writes out of the folder."""
    if not isinstance(trial.store, LocalStore):
        return
    try:
        entries = list(os.scandir(trial.folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if not _is_own(entry.name):
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISREG(mode):
            continue
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise TrialLoadError(
            f"cannot continue trial {trial.tid!r}: {entry.path} is {kind}, not a regular file, and votakvot "
            "would read or write it; remove it, or use another id"
        )


def _is_own(name: str) -> bool:
    return (
        name in (layout.DOCUMENT, layout.TRACEBACK, layout.HEARTBEAT, layout.CLAIM)
        or name.startswith(layout.SNAPSHOT_STEM + ".")
        or layout.parse_metrics_file(name) is not None
    )
