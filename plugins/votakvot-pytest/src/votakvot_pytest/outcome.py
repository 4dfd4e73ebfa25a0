"""How a test ended, read from its reports (set-up, call, tear-down), and the output it printed."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
"""pytest's words for how a test ended, as its summary line counts them."""

_CAPTURED = ("stdout", "stderr", "log")
_PHASES = ("setup", "call", "teardown")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one test ended: pytest's word, the trial status it gives, and what explains it."""

    word: str  # one of OUTCOMES
    phase: str | None  # where a failure, error or skip happened
    error: str | None = None  # the first line of the failure, for failed and error
    traceback: str | None = None  # pytest's report of every failed phase
    reason: str | None = None  # why it was skipped or expected to fail

    @property
    def status(self) -> str:
        """The trial status: `done` for a passed test, else pytest's word."""
        return "done" if self.word == "passed" else self.word


def outcome_of(reports: Sequence[pytest.TestReport]) -> Outcome:
    """Returns how a test ended, as pytest's summary counts it, from the reports of its phases.

    A failed set-up is an `error`; so is a failed tear-down of a test that did not fail itself
    (pytest counts both a pass and an error then; the trial keeps the error).
    """
    phases: dict[str, pytest.TestReport] = {r.when: r for r in reports}  # a rerun's later report wins
    setup, call, teardown = (phases.get(p) for p in _PHASES)
    decisive = setup if setup is not None and not setup.passed else call
    if decisive is None:  # no call: interrupted, or a report of its own (an xdist worker that crashed)
        decisive = next((r for r in reports if r.failed), reports[-1] if reports else None)
    if decisive is None:
        return Outcome("error", None, error="pytest reported nothing for this test")
    word = _word(decisive)
    if teardown is not None and teardown.failed and word != "failed":
        word, decisive = "error", teardown
    failed = [r for r in reports if r.failed]
    return Outcome(
        word=word,
        phase=None if word == "passed" else decisive.when,
        error=_first_line(decisive) if decisive.failed else None,
        traceback=_tracebacks(failed) if failed else None,
        reason=_reason(decisive) if word in ("skipped", "xfailed", "xpassed") else None,
    )


def _word(report: pytest.TestReport) -> str:
    expected_to_fail = hasattr(report, "wasxfail")
    if report.failed:  # as pytest counts: an error in set-up or tear-down, a failure elsewhere
        return "error" if report.when in ("setup", "teardown") else "failed"
    if report.skipped:
        return "xfailed" if expected_to_fail else "skipped"
    return "xpassed" if expected_to_fail else "passed"


def _first_line(report: pytest.TestReport) -> str | None:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or report.longreprtext
    lines = text.strip().splitlines()
    return lines[0] if lines else None


def _tracebacks(failed: list[pytest.TestReport]) -> str:
    if len(failed) == 1:
        return failed[0].longreprtext
    return "\n".join(f"----- {r.when} -----\n{r.longreprtext}" for r in failed)


def _reason(report: pytest.TestReport) -> str | None:
    wasxfail = getattr(report, "wasxfail", None)
    if wasxfail:
        return str(wasxfail)
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ") or None
    return None


def captured(reports: Sequence[pytest.TestReport]) -> dict[str, str]:
    """Returns `{file name: text}` of the output pytest captured, for each kind that has any:
    `stdout.txt`, `stderr.txt`, `log.txt`. When a kind has output from more than one phase,
    each phase's part starts with a line `----- setup -----` (or call, teardown)."""
    parts: dict[tuple[str, str], str] = {}
    for report in reports:
        # Each report repeats the sections of the phases before it; a phase's text is the same.
        for header, text in report.sections:
            words = header.split()
            if len(words) == 3 and words[0] == "Captured" and words[1] in _CAPTURED and text:
                parts[(words[1], words[2])] = text
    files = {}
    for kind in _CAPTURED:
        chunks = [(phase, text) for (k, phase), text in parts.items() if k == kind]
        if len(chunks) == 1:
            files[f"{kind}.txt"] = chunks[0][1]
        elif chunks:
            files[f"{kind}.txt"] = "".join(f"----- {phase} -----\n{_line_ended(text)}" for phase, text in chunks)
    return files


def _line_ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
