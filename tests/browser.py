"""A real headless Chromium for the page tests: Debian's /usr/bin/chromium driven by Playwright.

Without the browser the tests fail when `CI` is set (CI must run them) and are skipped otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
    *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
]
# Recorded in every page before its own scripts run: what the Content-Security-Policy blocked.
WATCH_POLICY = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def unavailable(reason: str) -> None:
    """Fails under CI (the browser tests must run there), skips elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser tests must run)")
    pytest.skip(reason)


def playwright():  # type: ignore[no-untyped-def]
    """Playwright's synchronous API (a context manager), or fails/skips saying how to get it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[test]'")
    return sync_playwright()


def launch(playwright):  # type: ignore[no-untyped-def]
    """Starts Debian's Chromium headless, or fails/skips saying how to get it."""
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def wait_for(page, expression: str, timeout: float = 15) -> object:  # type: ignore[no-untyped-def]
    """Waits until a JavaScript expression is truthy in the page and returns its value.

    Playwright's own `wait_for_function` evaluates a string with `eval`, which the page's
    Content-Security-Policy forbids (as it should), so the condition is polled from here.
    """
    from conftest import wait_until

    got = wait_until(lambda: page.evaluate(expression), timeout=timeout, interval=0.05)
    assert got, f"the page never made {expression!r} true"
    return got


def screenshot(page, folder: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Saves a full-page screenshot for the test log and prints where it is."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
