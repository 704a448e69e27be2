"""Suppressions and selection the way ruff users expect them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import REPO

BUGGY = textwrap.dedent(
    """
    import torch

    def validate(model, loader):
        for x in loader:
            out = model(x)
    """
).lstrip()


def evallint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evallint", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "EVALLINT_STRICT": "1"},
    )


def codes(result: subprocess.CompletedProcess) -> list[tuple[str, str, int]]:
    return sorted((Path(i["filename"]).as_posix(), i["code"], i["location"]["row"]) for i in json.loads(result.stdout))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "train.py").write_text(BUGGY)
    return tmp_path


def test_syntax_errors_are_reported_whatever_is_selected(project):
    (project / "broken.py").write_text("def f(:\n")
    for selection in (["--select", "EVL1"], ["--select", "EVL201"], ["--ignore", "EVL"]):
        result = evallint("broken.py", "--no-cache", *selection, cwd=project)
        assert result.returncode == 1, selection
        assert "broken.py:1:7: EVL001" in result.stdout


def test_file_level_noqa_with_codes_suppresses_only_those(project):
    (project / "train.py").write_text("# evallint: noqa: EVL201\n" + BUGGY)
    result = evallint("train.py", "--no-cache", "--output-format", "json", cwd=project)
    assert [code for _, code, _ in codes(result)] == ["EVL101"]
    (project / "train.py").write_text("# evallint: noqa\n" + BUGGY)
    assert evallint("train.py", "--no-cache", cwd=project).returncode == 0


@pytest.mark.parametrize(
    ("comment", "reported"),
    [
        ("# noqa:EVL101", {"EVL201"}),  # no space after the colon: still the code EVL101
        ("# noqa: EVL101 EVL201", set()),
        ("# noqa: EVL1", {"EVL101", "EVL201"}),  # a prefix is not a code (ruff's rule)
        ("# noqa:EVL10", {"EVL101", "EVL201"}),
        ("# NOQA: evl201", {"EVL101"}),
    ],
)
def test_noqa_codes_are_whole_codes(project, comment, reported):
    (project / "train.py").write_text(BUGGY.replace("out = model(x)", f"out = model(x)  {comment}"))
    result = evallint("train.py", "--no-cache", "--output-format", "json", cwd=project)
    assert {code for _, code, _ in codes(result)} == reported


def test_per_file_ignores_are_relative_to_the_config_not_the_working_directory(project):
    (project / "pyproject.toml").write_text('[tool.evallint]\nper-file-ignores = {"scripts/*" = ["EVL101"]}\n')
    (project / "scripts").mkdir()
    (project / "scripts" / "a.py").write_text(BUGGY)
    from_root = evallint("scripts/a.py", "--no-cache", "--output-format", "json", cwd=project)
    from_inside = evallint("a.py", "--no-cache", "--output-format", "json", cwd=project / "scripts")
    assert [code for _, code, _ in codes(from_root)] == ["EVL201"]
    assert [code for _, code, _ in codes(from_inside)] == ["EVL201"]


def test_each_file_takes_the_settings_of_its_nearest_config(project):
    (project / "pyproject.toml").write_text("[tool.evallint]\nignore = ['EVL101']\n")
    sub = project / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[tool.evallint]\nignore = ['EVL201']\n")
    (sub / "b.py").write_text(BUGGY)
    plain = project / "plain"
    plain.mkdir()
    (plain / "pyproject.toml").write_text("[project]\nname = 'no-evallint-table'\n")  # passed over
    (plain / "c.py").write_text(BUGGY)
    result = evallint(".", "--no-cache", "--output-format", "json", cwd=project)
    assert codes(result) == [("plain/c.py", "EVL201", 5), ("sub/b.py", "EVL101", 5), ("train.py", "EVL201", 5)]
    # The command line's selection wins over every config; --config makes one file settle all.
    # (--ignore replaces each config's ignore, sub/'s too.)
    overridden = evallint(".", "--no-cache", "--output-format", "json", "--ignore", "EVL101", cwd=project)
    assert codes(overridden) == [("plain/c.py", "EVL201", 5), ("sub/b.py", "EVL201", 5), ("train.py", "EVL201", 5)]
    (project / "only.toml").write_text("ignore = ['EVL201']\n")
    one = evallint(".", "--no-cache", "--output-format", "json", "--config", "only.toml", cwd=project)
    assert {code for _, code, _ in codes(one)} == {"EVL101"}


def test_a_run_started_in_a_nested_project_keeps_its_settings_for_its_own_files(project):
    """Whatever the order of the paths, or the directory a run starts in, a file takes its
    nearest config: starting in sub/ and reaching the parent does not give sub/'s files the
    parent's settings."""
    (project / "pyproject.toml").write_text("[tool.evallint]\nignore = ['EVL101']\n")
    sub = project / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[tool.evallint]\nignore = ['EVL201']\n")
    (sub / "b.py").write_text(BUGGY)
    expected = [("sub/b.py", "EVL101", 5), ("train.py", "EVL201", 5)]
    for paths in (["train.py", "sub/b.py"], ["sub/b.py", "train.py"], ["sub", "."]):
        assert codes(evallint(*paths, "--no-cache", "--output-format", "json", cwd=project)) == expected, paths
    from_sub = evallint(".", "..", "--no-cache", "--output-format", "json", cwd=sub)
    assert codes(from_sub) == [("../train.py", "EVL201", 5), ("b.py", "EVL101", 5)]


def test_add_noqa_then_nothing_is_reported(project):
    source = BUGGY + textwrap.dedent(
        """
        def evaluate(model, loader):
            return [model(x) for x in loader]  # noqa: E501
        """
    )
    (project / "train.py").write_text(source)
    result = evallint("train.py", "--no-cache", "--add-noqa", cwd=project)
    assert result.returncode == 0 and "Added 2 noqa directives." in result.stderr
    text = (project / "train.py").read_text()
    assert "        out = model(x)  # noqa: EVL101, EVL201\n" in text
    assert "    return [model(x) for x in loader]  # noqa: E501, EVL101, EVL201\n" in text
    assert evallint("train.py", "--no-cache", cwd=project).returncode == 0
    again = evallint("train.py", "--no-cache", "--add-noqa", cwd=project)
    assert "Added 0 noqa directives." in again.stderr and (project / "train.py").read_text() == text


def test_add_noqa_leaves_a_line_inside_a_string_alone():
    from evallint.add_noqa import edits_for
    from evallint.types import Diagnostic, Location

    text = 'x = f("""\n  model(y)\n""")\n'
    diagnostic = Diagnostic("EVL201", "m", "a.py", Location(1, 5), Location(1, 6))
    edits, skipped = edits_for(text, [diagnostic])
    assert edits == [] and skipped == [1]


def test_unused_noqa_is_off_by_default_and_fixed_safely(project):
    source = BUGGY.replace("out = model(x)", "out = model(x)  # noqa: EVL101, EVL201, EVL103, EVL1, E501")
    source += "\nvalue = 1  # noqa: EVL104\nother = 2  # noqa\n"
    (project / "train.py").write_text(source)
    assert evallint("train.py", "--no-cache", cwd=project).returncode == 0
    result = evallint("train.py", "--no-cache", "--extend-select", "EVL901", "--output-format", "json", cwd=project)
    found = json.loads(result.stdout)
    assert [(i["code"], i["location"]["row"]) for i in found] == [("EVL901", 5), ("EVL901", 7)]
    assert found[0]["message"] == "Unused `noqa` directive (unused: `EVL103`; unknown: `EVL1`)"
    assert found[1]["message"] == "Unused `noqa` directive (unused: `EVL104`)"
    assert all(i["fix"]["applicability"] == "safe" for i in found)
    evallint("train.py", "--no-cache", "--extend-select", "EVL901", "--fix", cwd=project)
    lines = (project / "train.py").read_text().splitlines()
    assert lines[4] == "        out = model(x)  # noqa: EVL101, EVL201, E501"
    assert lines[6:] == ["value = 1", "other = 2  # noqa"]
    assert evallint("train.py", "--no-cache", "--extend-select", "EVL901", cwd=project).returncode == 0


def test_unused_noqa_names_codes_of_rules_not_selected(project):
    (project / "train.py").write_text(BUGGY.replace("out = model(x)", "out = model(x)  # noqa: EVL101, EVL201"))
    result = evallint("train.py", "--no-cache", "--select", "EVL101,EVL901", "--output-format", "json", cwd=project)
    assert [i["message"] for i in json.loads(result.stdout)] == ["Unused `noqa` directive (non-enabled: `EVL201`)"]
