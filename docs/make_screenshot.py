#!/usr/bin/env python3
"""Makes docs/report.png, the README's picture of the report page: a demo root (a small grid of a
toy training loop, one failed and one interrupted trial), its report, three trials ticked and one
clicked, photographed by headless Chromium (Debian's /usr/bin/chromium, through Playwright).

    python docs/make_screenshot.py            # needs the test extra (plotly, playwright)
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import sys
import tempfile
import time

import votakvot

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@votakvot.track(name="mnist/mlp")
def train(lr: float, hidden: int, optimizer: str = "adam", epochs: int = 30) -> dict[str, float]:
    """A toy training loop: the loss falls at a rate set by lr and hidden, with noise."""
    rng = random.Random(f"{lr}-{hidden}-{optimizer}")
    speed = lr * 40 * (1.3 if optimizer == "adam" else 1.0) * math.log2(hidden) / 7
    loss = 2.3
    for step in range(epochs * 20):
        loss = max(0.03, loss * (1 - min(speed, 0.9) * 0.02) + rng.gauss(0, 0.012))
        votakvot.meter(loss=loss, acc=1 - loss / 2.6)
        if step % 20 == 19:
            votakvot.series("eval").meter(val_loss=loss * 1.08 + 0.02, val_acc=1 - loss / 2.4)
        time.sleep(0.0005)
        if lr >= 0.1 and step == 140:
            raise FloatingPointError("loss is nan at step 140")
    votakvot.inform(best_epoch=epochs - rng.randint(0, 5), gpu="cpu")
    return {"acc": round(1 - loss / 2.6, 4), "loss": round(loss, 4)}


def make_root(root: str) -> None:
    votakvot.init(path=root, meta_providers={k: v for k, v in votakvot.meta.providers.items() if k != "python"})
    for lr in (0.001, 0.003, 0.01, 0.03, 0.1):
        for hidden in (64, 256):
            with contextlib.suppress(FloatingPointError):  # lr 0.1 diverges: the failed rows
                train(lr, hidden, optimizer="adam" if hidden == 256 else "sgd")
    stopped = votakvot.trial("mnist/mlp", lr=0.02, hidden=128, optimizer="adam", epochs=30)
    with contextlib.suppress(KeyboardInterrupt), stopped as t:  # the interrupted row
        for step in range(90):
            t.meter(loss=2.3 * 0.985**step, acc=1 - 2.3 * 0.985**step / 2.6)
        t.inform(note="stopped by hand")
        raise KeyboardInterrupt


def main() -> None:
    from playwright.sync_api import sync_playwright

    out = os.path.join(HERE, "report.png")
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        make_root("my-results")
        page_file = os.path.abspath(votakvot.write_report("my-results", "report.html"))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto("file://" + page_file)
            page.wait_for_selector("#trials tbody tr.row")
            page.click("#trials thead th[data-column=acc]")
            page.click("#trials thead th[data-column=acc]")
            rows = page.locator("#trials tbody tr.row")
            for i in (0, 1, 4):
                rows.nth(i).locator("input[type=checkbox]").check()
            page.select_option("#metric", label="eval / val_loss")
            page.locator("#trials tbody tr.status-failed").first.locator("td.status").click()
            page.wait_for_selector("#detail h2")
            page.wait_for_timeout(800)  # plotly's transitions
            page.screenshot(path=out, full_page=True)
            browser.close()
    print(f"wrote {out} ({os.path.getsize(out) // 1024} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
