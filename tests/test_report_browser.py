"""The report page in a real headless Chromium: table, sorting, filtering, curves, escaping."""

from __future__ import annotations

import re

import pytest

import browser
import votakvot
from test_report_page import HOSTILE_NAME, HOSTILE_VALUE, make_root

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium():
    with browser.playwright() as playwright:
        launched = browser.launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def page(chromium):
    """A fresh tab that records script errors and what the Content-Security-Policy blocked."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.add_init_script(browser.WATCH_POLICY)
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()


def open_report(page, root: str, out) -> None:
    votakvot.write_report(root, out)
    page.goto(out.as_uri())
    page.wait_for_selector("#trials tbody tr.row")


def shown_tids(page) -> list[str]:
    return page.eval_on_selector_all("#trials tbody tr.row td:nth-child(2)", "cells => cells.map(c => c.title)")


def column(page, name: str) -> list[str]:
    """The texts of one column of the rows shown, by its header name."""
    names = page.eval_on_selector_all("#trials thead th", "ths => ths.map(th => th.textContent)")
    at = names.index(name) + 1
    return page.eval_on_selector_all(
        f"#trials tbody tr.row td:nth-child({at})", "cells => cells.map(c => c.textContent)"
    )


FIRST_TID = "document.querySelector('#trials tbody tr.row td:nth-child(2)').title"


def no_trouble(page) -> None:
    assert page.errors == []
    assert page.evaluate("window.__violations") == []


def test_table_shows_every_trial(page, local_root, tmp_path):
    """Every trial of the root is a row, in report order, with its status; failed rows are red."""
    make_root(local_root)
    open_report(page, local_root, tmp_path / "report.html")
    assert shown_tids(page) == list(votakvot.load_report(local_root).tid)
    assert page.text_content("#shown-count").startswith("4 of 4 trials shown")
    failed = page.locator("#trials tbody tr.status-failed td.status")
    assert failed.count() == 1 and failed.text_content() == "failed"
    red = failed.evaluate("td => getComputedStyle(td).backgroundColor")
    assert [int(x) for x in re.findall(r"\d+", red)][:3] == [253, 228, 226]
    browser.screenshot(page, tmp_path, "table")
    no_trouble(page)


def test_sorting_and_filtering_change_what_is_shown(page, local_root, tmp_path):
    """A click on a column sorts by it (again: descending, again: report order); the filter keeps
    matching rows: `lr>0.2`, `status=failed`, plain text."""
    make_root(local_root)
    open_report(page, local_root, tmp_path / "report.html")
    order = shown_tids(page)
    page.click("#trials thead th[data-column=lr]")
    assert column(page, "lr")[:3] == ["0.1", "0.5", "2"]
    page.click("#trials thead th[data-column=lr]")
    assert column(page, "lr")[:3] == ["2", "0.5", "0.1"]
    page.click("#trials thead th[data-column=lr]")
    assert shown_tids(page) == order
    page.fill("#filter", "lr>0.2")
    browser.wait_for(page, "document.getElementById('shown-count').textContent.startsWith('2 of 4')")
    assert sorted(column(page, "lr")) == ["0.5", "2"]
    page.fill("#filter", "status=failed")
    browser.wait_for(page, "document.getElementById('shown-count').textContent.startsWith('1 of 4')")
    assert column(page, "status") == ["failed"]
    page.fill("#filter", "hostile")
    browser.wait_for(page, FIRST_TID + ".startsWith('hostile/')")
    assert page.text_content("#shown-count").startswith("1 of 4")
    page.fill("#filter", "nosuchcolumn>1")
    browser.wait_for(page, "document.getElementById('shown-count').textContent.startsWith('0 of 4')")
    assert "no column nosuchcolumn" in page.text_content("#filter-problem")
    browser.screenshot(page, tmp_path, "filtered")
    no_trouble(page)


def test_ticking_two_trials_draws_two_curves(page, local_root, tmp_path):
    """Two ticked trials draw two loss curves; the metric list offers every series' metrics."""
    make_root(local_root)
    open_report(page, local_root, tmp_path / "report.html")
    boxes = page.locator("#trials tbody tr.row input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    browser.wait_for(page, "document.querySelectorAll('#chart .scatterlayer .trace').length === 2")
    assert page.get_attribute("#chart", "data-curves") == "2"
    options = page.eval_on_selector_all("#metric option", "os => os.map(o => o.textContent)")
    assert options == ["loss", "acc", "eval / val_loss"]
    page.select_option("#metric", label="acc")
    page.select_option("#xaxis", "elapsed")
    browser.wait_for(page, "document.getElementById('chart').layout.title.text === 'acc'")
    assert page.locator("#chart .scatterlayer .trace").count() == 2
    browser.screenshot(page, tmp_path, "curves")
    no_trouble(page)


def test_hostile_names_and_values_show_as_text(page, local_root, tmp_path):
    """A param named <script> with a value that closes the script and adds an <img onerror> shows
    as those characters, in the table, in its panel and in the chart legend; no script of theirs runs."""
    make_root(local_root)
    open_report(page, local_root, tmp_path / "report.html")
    assert page.locator("#trials thead th", has_text=HOSTILE_NAME).count() == 1
    cell = page.locator("#trials tbody td", has_text=HOSTILE_VALUE)
    assert cell.count() == 1
    hostile = page.locator("#trials tbody tr.row", has_text=HOSTILE_VALUE)
    hostile.locator("input[type=checkbox]").check()
    hostile.locator("td.status").click()
    page.wait_for_selector("#detail h2")
    assert HOSTILE_VALUE in page.text_content("#detail")
    browser.wait_for(page, "document.querySelectorAll('#chart .scatterlayer .trace').length === 1")
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("window.__pwned") is None
    browser.screenshot(page, tmp_path, "hostile")
    no_trouble(page)


def test_a_large_root_puts_few_rows_in_the_dom(page, local_root, tmp_path):
    """With 3,000 trials the table builds only the rows in view; scrolling shows the last ones."""
    votakvot.init(path=local_root)
    for i in range(3000):
        with votakvot.trial("many", i=i) as t:
            t.result = i
    open_report(page, local_root, tmp_path / "report.html")
    assert page.text_content("#shown-count").startswith("3000 of 3000")
    assert page.locator("#trials tbody tr.row").count() < 80
    page.eval_on_selector("#viewport", "v => { v.scrollTop = v.scrollHeight; }")
    browser.wait_for(
        page,
        "[...document.querySelectorAll('#trials tbody tr.row td:nth-child(7)')].some(td => td.textContent === '2999')",
    )
    assert page.locator("#trials tbody tr.row").count() < 80
    browser.screenshot(page, tmp_path, "large")
    no_trouble(page)
