"""What a trial records of Lightning's checkpoints: the best and last files of each
`ModelCheckpoint` (named relative to the trial folder when they lie in it), and copies of
them in the trial folder when the user asks for them."""

from __future__ import annotations

import os
import posixpath
import shutil
from typing import Any

import fsspec

import votakvot

from ._values import plain

# The folder of the trial where Lightning writes checkpoints by default, and where copies go.
CHECKPOINTS = "checkpoints"
_CHUNK = 1 << 20


def describe(callback: Any, folder: str | None) -> dict[str, Any]:
    """Returns `{best, best_score, monitor, last}` of a `ModelCheckpoint` (absent ones left out).

    Paths inside the local trial folder `folder` are relative to it (what `Trial.attach` opens);
    others are absolute paths or URLs.
    """
    described = {
        "best": relative(callback.best_model_path, folder),
        "best_score": plain(callback.best_model_score),
        "monitor": callback.monitor,
        "last": relative(callback.last_model_path, folder),
    }
    return {key: value for key, value in described.items() if value is not None and value != ""}


def relative(path: str | None, folder: str | None) -> str | None:
    """Returns `path` relative to the local trial folder `folder` (with `/`) if it lies inside it,
    else absolute (or the URL it is), so that a relative name always means "in the trial"."""
    if not path:
        return None
    if "://" in str(path):
        return str(path)
    absolute = os.path.abspath(path)
    if folder is None or not absolute.startswith(folder.rstrip(os.sep) + os.sep):
        return absolute
    return os.path.relpath(absolute, folder).replace(os.sep, "/")


def outside(path: str) -> bool:
    """Whether a path from `describe` names a file outside the trial folder."""
    return "://" in path or os.path.isabs(path)


def copy_name(path: str) -> str:
    """The name in the trial folder of the copy of the checkpoint `path`: `checkpoints/{file name}`."""
    return posixpath.join(CHECKPOINTS, posixpath.basename(str(path).replace(os.sep, "/")))


def copy_into(trial: votakvot.LiveTrial, path: str) -> str:
    """Copies the checkpoint file `path` (local or any fsspec URL) into the trial folder's
    `checkpoints/` with `trial.attach`, so it lands on whatever store the trial lives on;
    returns its name in the trial folder."""
    name = copy_name(path)
    with fsspec.open(path, "rb") as source, trial.attach(name, "wb") as target:
        shutil.copyfileobj(source, target, _CHUNK)
    return name
