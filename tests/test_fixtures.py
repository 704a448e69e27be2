"""Every fixture script is linted and must give exactly the findings its inline markers name."""

from __future__ import annotations

import pytest

from evallint.config import Settings
from evallint.engine import lint_paths

from .conftest import FIXTURES, expected_findings, found

FIXTURE_FILES = sorted(FIXTURES.glob("*.py"))


def test_there_are_fixtures_of_both_kinds():
    names = [f.name for f in FIXTURE_FILES]
    assert sum(n.startswith("bug_") for n in names) >= 10
    assert sum(n.startswith("ok_") for n in names) >= 10


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=[f.name for f in FIXTURE_FILES])
def test_fixture_findings_match_markers(fixture):
    expected = expected_findings(fixture.read_text(encoding="utf-8"))
    if fixture.name.startswith("ok_"):
        assert expected == set(), "correct-pattern fixtures carry no markers"
    if fixture.name.startswith("bug_"):
        assert expected, "bug fixtures mark at least one finding"
    diagnostics = lint_paths([str(fixture)], Settings(project_root=str(FIXTURES)), jobs=1)
    assert found(diagnostics) == expected, "\n".join(f"{d.location.row} {d.code} {d.message}" for d in diagnostics)


def test_whole_fixture_directory_in_one_run_matches_markers():
    """Linting the folder at once (one project) must not change any file's findings."""
    diagnostics = lint_paths([str(FIXTURES)], Settings(project_root=str(FIXTURES)), jobs=1)
    by_file: dict[str, set] = {}
    for d in diagnostics:
        by_file.setdefault(d.path.rsplit("/", 1)[-1], set()).add((d.location.row, d.code))
    for fixture in FIXTURE_FILES:
        assert by_file.get(fixture.name, set()) == expected_findings(fixture.read_text(encoding="utf-8")), fixture.name
