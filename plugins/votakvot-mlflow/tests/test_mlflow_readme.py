"""The MLflow examples of votakvot's README run as written and print what it shows."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from mlflow_bridge_fixtures import clean, run_script  # noqa: F401  (fixtures used by name)

README = Path(__file__).resolve().parents[3] / "README.md"


def _examples() -> list[tuple[str, str]]:
    """(code, printed output) of each Python block in the README's MLflow section."""
    section = README.read_text().split("### MLflow\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S)
    pairs = []
    for (kind, code), (_, shown) in itertools.pairwise(blocks):
        if kind == "python":
            pairs.append((code, shown))
    return pairs


@pytest.mark.slow
def test_the_readme_examples_run_and_print_what_it_shows(tmp_path: Path):
    examples = _examples()
    assert len(examples) == 2  # the bridge, then the import of what it mirrored
    for code, shown in examples:
        done = run_script(code, cwd=tmp_path, env={})
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == shown.split()
