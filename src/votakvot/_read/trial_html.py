"""A loaded trial as compact HTML for notebooks; what the folder holds is shown as text, never as markup."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from ..errors import TrialLoadError
from .values import short_text

if TYPE_CHECKING:
    from .trial import Trial

_STYLE = "text-align:left;vertical-align:top;padding:1px 8px"


def render(trial: Trial) -> str:
    """Returns an HTML table of the trial's id, status, times, params, info, result and error."""
    rows: list[tuple[str, str]] = [("tid", _text(trial.tid))]
    try:
        head = trial.head()
        rows.append(("status", _text(trial.status)))
        at = head.get("at")
        at = at if isinstance(at, dict) else {}
        for key in ("created", "finished", "duration"):
            if key in at:
                rows.append((key, _text(at[key]) + (" s" if key == "duration" else "")))
        for section in ("params", "info"):
            value = head.get(section)
            if value:
                rows.append((section, _fields(value) if isinstance(value, dict) else _text(value)))
        if head.get("status") != "failed":
            result = head.get("result")
            rows.append(("result", _fields(result) if isinstance(result, dict) else _text(result)))
        error = trial.error
        if error is not None:
            rows.append(("error", _text(error) + _traceback(trial.traceback_text)))
    except (TrialLoadError, OSError) as e:
        rows.append(("cannot read", _text(str(e))))
    body = "".join(f'<tr><th style="{_STYLE}">{name}</th><td style="{_STYLE}">{cell}</td></tr>' for name, cell in rows)
    return f'<table class="votakvot-trial"><caption>votakvot.Trial</caption>{body}</table>'


def _text(value: Any) -> str:
    return html.escape(short_text(value))


def _fields(values: dict[Any, Any]) -> str:
    """A mapping as one `name = value` per line."""
    return "<br>".join(f"{html.escape(short_text(str(key)))} = {_text(value)}" for key, value in values.items())


def _traceback(text: str | None) -> str:
    if not text:
        return ""
    return f"<details><summary>traceback</summary><pre>{html.escape(text)}</pre></details>"
