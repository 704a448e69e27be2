"""--statistics in JSON, --show-settings, --show-files, the warning when no file is found, and links
that lead to pages that exist."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evallint.rules import ALL_RULES
from evallint.types import DOCS_BASE_URL, REPOSITORY_URL

from .conftest import REPO

BUGGY = textwrap.dedent(
    """
    import torch

    def validate(model, loader):
        model.eval
        for x in loader:
            out = model(x)
    """
).lstrip()


def evallint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evallint", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "EVALLINT_STRICT": "1"},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.evallint]\nignore = ['EVL101']\n")
    (tmp_path / "train.py").write_text(BUGGY)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "copy.py").write_text(BUGGY)
    return tmp_path


def test_statistics_honours_json(project):
    result = evallint("train.py", "--no-cache", "--statistics", "--output-format", "json", cwd=project)
    assert result.returncode == 1
    assert json.loads(result.stdout) == [
        {"code": "EVL104", "name": "mode-method-not-called", "count": 1, "fixable": True},
        {"code": "EVL201", "name": "eval-with-grad", "count": 1, "fixable": True},
    ]


def test_show_files_lists_what_would_be_linted(project):
    result = evallint("--show-files", cwd=project)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["train.py"]  # build/ is excluded by default


def test_show_settings_prints_the_resolved_settings(project):
    sub = project / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[tool.evallint]\nselect = ['EVL2']\n")
    (sub / "a.py").write_text("x = 1\n")
    result = evallint("--show-settings", "--extend-select", "EVL901", cwd=project)
    assert result.returncode == 0
    text = result.stdout
    assert f"# settings file: {project / 'pyproject.toml'}" in text
    assert 'ignore = ["EVL101"]' in text and 'extend-select = ["EVL901"]' in text
    assert f"# files under {sub} are reported with {sub / 'pyproject.toml'}:" in text
    assert 'select = ["EVL2"]' in text


def test_a_warning_when_no_python_file_is_found(project):
    (project / "docs").mkdir()
    (project / "docs" / "notes.txt").write_text("nothing to lint\n")
    result = evallint("docs", "--no-cache", cwd=project)
    assert result.returncode == 0
    assert "warning: no Python files found under docs" in result.stderr


def test_every_rule_has_its_page_where_the_links_point():
    assert DOCS_BASE_URL.startswith(REPOSITORY_URL + "/blob/main/")
    docs_path = DOCS_BASE_URL.removeprefix(REPOSITORY_URL + "/blob/main/")
    for code in ALL_RULES:
        assert (REPO / docs_path / f"{code}.md").is_file(), code


def test_every_link_in_the_output_is_a_page_of_the_repository(project):
    links = set()
    for output_format in ("json", "sarif", "full"):
        result = evallint("train.py", "--no-cache", "--output-format", output_format, cwd=project)
        links |= set(re.findall(r"https?://[^\s\"')>]+", result.stdout))
    links |= set(re.findall(r"https?://[^\s\"')>]+", (REPO / "pyproject.toml").read_text()))
    assert links
    for link in links:
        if link.startswith("https://json.schemastore.org/"):
            continue  # SARIF's own schema
        assert link.startswith(REPOSITORY_URL), link
        relative = link.removeprefix(REPOSITORY_URL).removeprefix("/blob/main/").strip("/")
        assert relative == "" or (REPO / relative).exists(), link
