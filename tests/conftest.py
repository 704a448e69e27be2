"""Shared helpers: lint a snippet as a one-file project, read inline expectations."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

# Set before anything imports evallint: the IR and lattice records are built frozen only when the
# switch is on at import time, and internal errors that normal runs absorb fail the tests.
os.environ["EVALLINT_STRICT"] = "1"

from evallint.config import Settings  # noqa: E402
from evallint.engine import lint_paths  # noqa: E402

EXPECTATION = re.compile(r"#\s*(EVL\d{3}(?:\s*,\s*EVL\d{3})*)\s*$")
REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def expected_findings(source: str) -> set[tuple[int, str]]:
    """Lines ending in `# EVL101` or `# EVL101, EVL201` expect those codes there."""
    expected = set()
    for row, line in enumerate(source.splitlines(), start=1):
        match = EXPECTATION.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group(1)):
                expected.add((row, code))
    return expected


def lint_snippet(tmp_path: Path, source: str, name: str = "example.py", settings: Settings | None = None):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return lint_paths([str(path)], settings or Settings(project_root=str(tmp_path)), jobs=1)


def found(diagnostics) -> set[tuple[int, str]]:
    return {(d.location.row, d.code) for d in diagnostics}


@pytest.fixture
def lint(tmp_path):
    def run(source: str, name: str = "example.py", settings: Settings | None = None):
        return lint_snippet(tmp_path, source, name, settings)

    return run
