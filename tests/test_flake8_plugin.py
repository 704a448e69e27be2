"""The flake8 plugin, run through real flake8: same findings and columns as the CLI, `# noqa` honoured.

flake8 finds plugins through installed distributions' entry points. So that
the test needs no install, it puts a minimal ``evallint.dist-info`` declaring
the entry point from pyproject.toml on PYTHONPATH next to this checkout; with
an installed evallint as well, flake8 keeps the first one (the same code).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from evallint.engine import lint_paths

from .conftest import REPO

FIXTURE_FILES = [
    "fixtures/bug_eval_without_parens.py",
    "fixtures/bug_val_loader_module_level.py",
    "fixtures/bug_validate_no_eval_no_grad.py",
    "fixtures/bug_mid_epoch_validation.py",
    "fixtures/ok_canonical_loop.py",
]


@pytest.fixture(scope="module")
def flake8_env(tmp_path_factory) -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["flake8.extension"]
    assert entry_points == {"EVL": "evallint.flake8_plugin:EvallintChecker"}
    site = tmp_path_factory.mktemp("site")
    dist_info = site / f"evallint-{project['project']['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: evallint\nVersion: {project['project']['version']}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[flake8.extension]\n{lines}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def flake8(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "EVL", "--format", "default", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def concise(diagnostics) -> list[str]:
    return [f"{d.path}:{d.location.row}:{d.location.column}: {d.code} {d.message}" for d in diagnostics]


def test_plugin_is_registered(flake8_env):
    result = subprocess.run([sys.executable, "-m", "flake8", "--version"], env=flake8_env, capture_output=True, text=True)
    assert "evallint:" in result.stdout


@pytest.fixture(scope="module")
def fixture_project(tmp_path_factory) -> Path:
    """A small project (a pyproject.toml marks its root) holding some of the fixtures."""
    project = tmp_path_factory.mktemp("project")
    (project / "pyproject.toml").write_text("[tool.evallint]\n")
    (project / "fixtures").mkdir()
    for path in FIXTURE_FILES:
        shutil.copyfile(REPO / path, project / path)
    return project


def test_same_findings_and_columns_as_the_cli(flake8_env, fixture_project):
    result = flake8(flake8_env, *FIXTURE_FILES, cwd=fixture_project)
    reported = sorted(result.stdout.splitlines())
    previous = os.getcwd()
    os.chdir(fixture_project)
    try:
        expected = sorted(line for path in FIXTURE_FILES for line in concise(lint_paths([path])))
    finally:
        os.chdir(previous)
    assert expected, "the fixtures should have findings"
    assert reported == expected, result.stderr
    assert result.returncode == 1


SOURCE = """import torch


def validate(model, loader):
    with torch.no_grad():
        return [model(x) for x in loader]{noqa}
"""


@pytest.mark.parametrize(
    "noqa, reported",
    [("", True), ("  # noqa", False), ("  # noqa: EVL101", False), ("  # noqa: EVL201", True), ("  # noqa:EVL101,E501", False),
     # Whole codes, as under the CLI (and ruff): a prefix names no rule.
     ("  # noqa: EVL1", True), ("  # noqa:EVL10", True), ("  # noqa: evl101", False)],
)
def test_noqa_is_honoured(flake8_env, tmp_path: Path, noqa: str, reported: bool):
    (tmp_path / "evaluate.py").write_text(SOURCE.format(noqa=noqa))
    result = flake8(flake8_env, "evaluate.py", cwd=tmp_path)
    assert ("EVL101" in result.stdout) == reported, result.stdout + result.stderr
    assert result.stdout.startswith("evaluate.py:6:17: EVL101") or not reported


def test_other_plugins_keep_flake8s_own_noqa_matching(flake8_env, tmp_path: Path):
    """Only EVL findings are left to evallint's whole-code matching; flake8's prefix match
    still hides another plugin's code (`# noqa: F4` hides F401)."""
    (tmp_path / "mixed.py").write_text("import os  # noqa: F4\n" + SOURCE.format(noqa="  # noqa: EVL1"))
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "EVL,F401", "mixed.py"],
        cwd=tmp_path, env=flake8_env, capture_output=True, text=True, timeout=120,
    )
    codes = sorted(line.split()[1] for line in result.stdout.splitlines())
    assert codes == ["EVL101"], result.stdout + result.stderr


def test_a_syntax_error_is_flake8s_e999_selected_with_the_evl_codes(flake8_env, tmp_path: Path):
    """flake8 runs no plugin on a file it cannot parse; the README's `--select EVL,E999` shows it."""
    (tmp_path / "broken.py").write_text("def f(:\n")
    result = flake8(flake8_env, "--select", "EVL,E999", "broken.py", cwd=tmp_path)
    assert result.stdout.startswith("broken.py:1:") and " E999 " in result.stdout, result.stdout + result.stderr
    assert result.returncode == 1


def test_file_level_noqa_and_stdin(flake8_env, tmp_path: Path):
    (tmp_path / "quiet.py").write_text("# evallint: noqa\n" + SOURCE.format(noqa=""))
    assert flake8(flake8_env, "quiet.py", cwd=tmp_path).stdout == ""
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "EVL", "-"],
        input=SOURCE.format(noqa=""), cwd=tmp_path, env=flake8_env, capture_output=True, text=True, timeout=120,
    )
    assert result.stdout.startswith("stdin:6:17: EVL101"), result.stdout + result.stderr


def test_flake8_sees_the_lines_it_read(flake8_env, tmp_path: Path):
    """flake8 --select EVL reports nothing for other rules' codes and keeps working with its own checks."""
    (tmp_path / "mixed.py").write_text("import os\n" + SOURCE.format(noqa=""))
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "EVL,F401", "mixed.py"],
        cwd=tmp_path, env=flake8_env, capture_output=True, text=True, timeout=120,
    )
    codes = sorted(line.split()[1] for line in result.stdout.splitlines())
    assert codes == ["EVL101", "F401"], result.stdout + result.stderr


def test_file_level_codes_and_unused_noqa_agree_with_the_cli(flake8_env, tmp_path: Path):
    """`# evallint: noqa: EVL201` hides only EVL201, and EVL901 (when enabled) reports an unknown
    code, under flake8 as under the CLI."""
    (tmp_path / "pyproject.toml").write_text("[tool.evallint]\nextend-select = ['EVL901']\n")
    source = "# evallint: noqa: EVL201\n" + SOURCE.format(noqa="  # noqa: EVL101, EVL2")
    (tmp_path / "evaluate.py").write_text(source)
    result = flake8(flake8_env, "evaluate.py", cwd=tmp_path)
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        expected = concise(lint_paths(["evaluate.py"]))
    finally:
        os.chdir(previous)
    assert [line.split()[1] for line in result.stdout.splitlines()] == ["EVL901"], result.stdout + result.stderr
    assert result.stdout.splitlines() == expected
    assert "unknown: `EVL2`" in result.stdout
