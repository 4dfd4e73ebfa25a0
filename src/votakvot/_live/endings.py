"""The status a trial ends with when an exception ends its block: `failed`, unless a plug-in
(the `votakvot.statuses` group) names the exception's class with a status of its own, such as
`optuna.TrialPruned` as `pruned`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .. import plugins
from .._process import state
from .type_table import TypeTable

log = logging.getLogger("votakvot.plugins")

_built: list[tuple[dict[str, Any], TypeTable[str]]] = []
state.register(reset=_built.clear)


def _table() -> TypeTable[str]:
    found = plugins.entries(plugins.STATUSES)
    if _built and _built[0][0] is found:
        return _built[0][1]
    merged: dict[str, str] = {}
    for name, statuses in found.items():  # sorted by name: the first plug-in naming a class wins
        if not isinstance(statuses, Mapping) or not all(
            isinstance(path, str) and status in plugins.ENDING_STATUSES for path, status in statuses.items()
        ):
            log.warning(
                "skipping plug-in %s:%s, it is not a mapping {'module.ExceptionClass': status} with a "
                "status out of %s: %r",
                plugins.STATUSES,
                name,
                plugins.ENDING_STATUSES,
                statuses,
            )
            continue
        for path, status in statuses.items():
            merged.setdefault(path, status)
    table = TypeTable(merged)
    _built[:] = [(found, table)]
    return table


# Statuses that record a decision (cut short on purpose, not run), not an error: a trial ended
# with one by an exception keeps its message as `error` but writes no traceback.
DECISIONS = frozenset({"pruned", "skipped"})


def status_for(exc_type: type[BaseException]) -> str:
    """Returns the status of a trial whose block raised an exception of `exc_type` (an
    `Exception`; interrupts are handled before this is asked)."""
    table = _table()
    return (table.lookup(exc_type) if table else None) or "failed"
