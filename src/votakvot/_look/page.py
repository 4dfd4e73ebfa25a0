"""The page itself: one HTML file holding its style, its script, the chart library and the data,
under a Content-Security-Policy that lets only those exact scripts run."""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import importlib.resources
import re
from typing import Any

from ..errors import MissingDependencyError
from . import embed

_SLOT = re.compile(r"@@(\w+)@@")


@functools.cache
def _asset(name: str) -> str:
    return importlib.resources.files(__package__).joinpath("assets").joinpath(name).read_text("utf-8")


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the `plotly` package (so the page needs no network)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as e:
        raise MissingDependencyError(
            f"the report page and the dashboard draw their charts with plotly; pip install 'votakvot[report]' ({e})"
        ) from e
    # A script holding "</script" would end its element early: plotly.js has none, and must not.
    source: str = get_plotlyjs()
    if "</script" in source.lower():
        raise MissingDependencyError("this plotly's bundled JavaScript cannot be inlined (it holds '</script')")
    return source


def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def policy(scripts: list[str], *, live: bool) -> str:
    """The Content-Security-Policy: only these inline scripts run (by hash), nothing is loaded
    from anywhere, and a live page may only ask its own server."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(_hash(s) for s in scripts),
            "style-src 'unsafe-inline'",  # the page's own <style> and plotly's inline styles
            "img-src data:",
            "connect-src 'self'" if live else "connect-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def scripts() -> list[str]:
    """The page's scripts, in order: its own, then plotly.js."""
    return [_asset("page.js"), plotly_js()]


def render(data: dict[str, Any]) -> str:
    """Returns the whole page for `data` (see `page_data`), ready to open from a file."""
    app, chart = scripts()
    live = data.get("live") is not None
    slots = {
        "csp": html.escape(policy([app, chart], live=live)),
        "title": html.escape(f"votakvot: {data['root']}"),
        "style": _asset("page.css"),
        "data": embed.script_json(data),
        "app": app,
        "plotly": chart,
    }
    # One pass: text put into one slot is never searched for another.
    return _SLOT.sub(lambda m: slots[m.group(1)], _asset("page.html"))
