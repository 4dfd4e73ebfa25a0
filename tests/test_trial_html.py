"""`Trial._repr_html_` and `repr`: how a loaded trial shows in a notebook; what the folder holds stays text."""

from __future__ import annotations

import html.parser
import pathlib

import pytest

import votakvot
from votakvot._files.storage import open_store

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
# The only tags the summary itself writes.
OWN_TAGS = {"table", "caption", "tr", "th", "td", "br", "details", "summary", "pre"}


class _Tags(html.parser.HTMLParser):
    """Collects the tags and attributes of an HTML text, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]

    def handle_data(self, data):
        self.text.append(data)


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser


def _hostile_trial(root: str) -> votakvot.Trial:
    votakvot.init(path=root)
    with pytest.raises(ValueError), votakvot.trial("exp", **{SCRIPT: IMG, "lr": 0.1}) as t:
        t.inform(**{"note": SCRIPT})
        raise ValueError(f"bad value {IMG}")
    return votakvot.load_trials(root)[t.tid]


def test_hostile_names_and_values_show_as_escaped_text(root):
    """A param named `<script>alert(1)</script>`, markup in values and in the error appear escaped,
    as text; the HTML holds no tag or attribute but the summary's own."""
    trial = _hostile_trial(root)
    page = trial._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert "<script" not in page.lower() and "<img" not in page.lower()
    parsed = _parse(page)
    assert set(parsed.tags) <= OWN_TAGS
    assert set(parsed.attributes) <= {"class", "style"}
    text = "".join(parsed.text)
    assert f"{SCRIPT} = {IMG}" in text
    assert f"note = {SCRIPT}" in text
    assert f"ValueError: bad value {IMG}" in text


def test_summary_shows_status_times_params_result_and_error(root):
    """The summary names the tid, status, times, params, result, and the error with its traceback."""
    votakvot.init(path=root)
    with votakvot.trial("exp", lr=0.5, depth=3) as good:
        good.result = {"acc": 0.75}
    with pytest.raises(ZeroDivisionError), votakvot.trial("exp", lr=1) as bad:
        1 / 0  # noqa: B018
    trials = votakvot.load_trials(root)
    text = "".join(_parse(trials[good.tid]._repr_html_()).text)
    for part in (good.tid, "done", "lr = 0.5", "depth = 3", "acc = 0.75", "created", "finished", "duration"):
        assert part in text
    assert "error" not in text
    page = trials[bad.tid]._repr_html_()
    text = "".join(_parse(page).text)
    assert "failed" in text and "ZeroDivisionError: division by zero" in text
    assert "1 / 0" in text and "<details>" in page  # the traceback, folded


def test_a_broken_document_still_renders(local_root):
    """A trial whose document cannot be parsed shows why, escaped, instead of raising."""
    folder = pathlib.Path(local_root) / "broken"
    folder.mkdir(parents=True)
    (folder / "votakvot.yaml").write_text("status: [unclosed <b>\n")
    trial = votakvot.Trial(open_store(local_root)[0], str(folder), "broken")
    page = trial._repr_html_()
    assert "not valid YAML" in page and "<b>" not in page


def test_repr_stays_one_short_line(root):
    """repr() of a loaded trial is one line with its tid and status, however big its params are."""
    votakvot.init(path=root)
    with votakvot.trial("exp", big="x" * 10_000, many=list(range(1000))) as t:
        pass
    trial = votakvot.load_trials(root)[t.tid]
    text = repr(trial)
    assert text == f"<votakvot.Trial {t.tid!r} done>"
    assert "\n" not in text and len(text) < 120
