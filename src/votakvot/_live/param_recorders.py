"""Params that plug-ins record in a form of their own (the `votakvot.params` group): an Optuna
trial as the params it sampled, not as the object with its study."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .. import plugins
from .._process import state
from ..errors import ParamNotStoredWarning
from .caller import warn_at_caller
from .type_table import TypeTable

log = logging.getLogger("votakvot.plugins")

# (the discovered entries the table was built from, the table); rebuilt after `plugins.reset()`.
_built: list[tuple[dict[str, Any], TypeTable[plugins.ParamRecorder]]] = []
state.register(reset=_built.clear)


def _table() -> TypeTable[plugins.ParamRecorder]:
    found = plugins.entries(plugins.PARAMS)
    if _built and _built[0][0] is found:
        return _built[0][1]
    merged: dict[str, plugins.ParamRecorder] = {}
    for name, recorders in found.items():  # sorted by name: the first plug-in naming a class wins
        if not isinstance(recorders, Mapping) or not all(
            isinstance(path, str) and callable(recorder) for path, recorder in recorders.items()
        ):
            log.warning(
                "skipping plug-in %s:%s, it is not a mapping {'module.Class': recorder}: %r",
                plugins.PARAMS,
                name,
                recorders,
            )
            continue
        for path, recorder in recorders.items():
            merged.setdefault(path, recorder)
    table = TypeTable(merged)
    _built[:] = [(found, table)]
    return table


def recorder_of(value: Any) -> plugins.ParamRecorder | None:
    """Returns the installed recorder for `value`'s class, or None."""
    table = _table()
    return table.lookup(type(value)) if table else None


def recorders_for(params: Mapping[str, Any]) -> dict[str, plugins.ParamRecorder] | None:
    """Returns `{param name: recorder}` for the params a plug-in records, or None for none
    (nearly always: then the params are stored as given, at no cost)."""
    table = _table()
    if not table:
        return None
    lookup = table.lookup
    found = {name: recorder for name, value in params.items() if (recorder := lookup(type(value))) is not None}
    return found or None


def recorded(
    tid: str,
    params: Mapping[str, Any],
    recorders: Mapping[str, plugins.ParamRecorder],
    warned: set[str],
) -> dict[str, Any]:
    """Returns `params` as the trial document records them: each param with a recorder replaced
    by the params its recorder gives, in its place.

    A recorder that raises or returns something other than a mapping of str keys is not lost
    silently: a stand-in is recorded and a `ParamNotStoredWarning` names the param (once per
    trial, `warned` remembers). A name given by a recorder that another param already has
    keeps the other param, with a warning too.
    """
    out: dict[str, Any] = {}
    taken = {name for name in params if name not in recorders}
    for name, value in params.items():
        recorder = recorders.get(name)
        if recorder is None:
            out[name] = value
            continue
        try:
            given = recorder(name, value)
            if not isinstance(given, Mapping) or not all(isinstance(key, str) for key in given):
                raise TypeError(f"the recorder returned {type(given).__qualname__}, not a mapping of str keys")
        except Exception as e:
            out[name] = f"<unrecorded {type(value).__qualname__}: {e!r}>"
            _warn(
                warned,
                name,
                f"votakvot: param {name!r} of trial {tid!r} could not be recorded by its plug-in "
                f"({recorder!r}): {e!r}; a stand-in is stored instead. Fix or uninstall the plug-in, "
                "or leave the argument out (@votakvot.track(exclude=[...])).",
            )
            continue
        for key, item in given.items():
            if key in taken or key in out:
                _warn(
                    warned,
                    f"{name}->{key}",
                    f"votakvot: param {key!r} that the plug-in recording {name!r} gives is already a param "
                    f"of trial {tid!r}; the other one is kept. Rename the argument or the plug-in's param.",
                )
                continue
            out[key] = item
    return out


def _warn(warned: set[str], key: str, message: str) -> None:
    if key not in warned:
        warned.add(key)
        warn_at_caller(message, ParamNotStoredWarning)
