"""The pre-commit hooks, end to end through real pre-commit, in a throwaway git repository.

The shipped .pre-commit-hooks.yaml uses `language: python`, for which pre-commit
pip-installs evallint and its dependencies into a fresh environment: that
needs a package index. So the end-to-end test publishes a throwaway hook
repository whose manifest is the shipped one with only two things changed:
`language: system`, and the `evallint` command replaced by this interpreter
running this checkout. Everything else a user gets (ids, file types, serial
running, arguments) is exactly what ships, and pre-commit clones the hook
repository by path, as it would clone one from GitHub.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pre_commit.clientlib import load_manifest

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"

BUGGY = "import torch\n\n\ndef validate(model, x):\n    model.eval\n    with torch.no_grad():\n        return model(x)\n"
CLEAN = "import torch\n\n\ndef validate(model, x):\n    model.eval()\n    with torch.no_grad():\n        return model(x)\n"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def init_repo(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=path)
    git("config", "user.email", "test@example.com", cwd=path)
    git("config", "user.name", "evallint tests", cwd=path)
    git("config", "commit.gpgsign", "false", cwd=path)


def test_shipped_manifest_is_valid_and_as_documented():
    hooks = {hook["id"]: hook for hook in load_manifest(str(MANIFEST))}
    assert set(hooks) == {"evallint", "evallint-fix"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python", "jupyter"]
        assert hook["require_serial"] is True
        assert hook["entry"].split()[:2] == ["evallint", "check"]
    assert "--fix" in hooks["evallint-fix"]["entry"].split()
    assert "--fix" not in hooks["evallint"]["entry"].split()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    repo = tmp_path_factory.mktemp("hooks")
    init_repo(repo)
    hooks = yaml.safe_load(MANIFEST.read_text())
    command = f"{shlex.quote(sys.executable)} -m evallint"
    for hook in hooks:
        hook["language"] = "system"
        assert hook["entry"].startswith("evallint ")
        hook["entry"] = command + hook["entry"][len("evallint") :]
    (repo / ".pre-commit-hooks.yaml").write_text(yaml.safe_dump(hooks, sort_keys=False))
    git("add", ".pre-commit-hooks.yaml", cwd=repo)
    git("commit", "-q", "-m", "hooks", cwd=repo)
    return repo, git("rev-parse", "HEAD", cwd=repo).strip()


@pytest.fixture()
def project(tmp_path: Path, hook_repo) -> tuple[Path, dict[str, str]]:
    repo, rev = hook_repo
    project = tmp_path / "project"
    init_repo(project)
    config = {"repos": [{"repo": str(repo), "rev": rev, "hooks": [{"id": "evallint"}, {"id": "evallint-fix", "stages": ["manual"]}]}]}
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    (project / "README.md").write_text("not python\n")
    git("add", ".", cwd=project)
    git("commit", "-q", "-m", "start", cwd=project)
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("NO_COLOR", None)
    return project, env


def pre_commit(project: tuple[Path, dict[str, str]], *args: str) -> subprocess.CompletedProcess:
    path, env = project
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--color", "never", *args],
        cwd=path, env=env, capture_output=True, text=True, timeout=120,
    )


def stage(project, **files: str) -> None:
    path, _ = project
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
        git("add", name, cwd=path)


def test_no_staged_files_skips(project):
    result = pre_commit(project, "evallint")
    assert result.returncode == 0, result.stdout
    assert "(no files to check)Skipped" in result.stdout


def test_one_staged_file_with_a_finding_fails(project):
    stage(project, **{"train.py": BUGGY})
    result = pre_commit(project, "evallint")
    assert result.returncode == 1
    assert "train.py:5:5: EVL104 [*] `model.eval` is not called" in result.stdout
    assert (project[0] / "train.py").read_text() == BUGGY, "the check hook must not modify files"


def test_many_staged_files_and_a_notebook(project):
    notebook = (
        '{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# nb"]},'
        ' {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": ['
        '"import torch\\n", "def evaluate(model, loader):\\n", "    with torch.no_grad():\\n",'
        ' "        return [model(x) for x in loader]\\n"]}],'
        ' "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    files = {f"pkg/clean_{i}.py": CLEAN for i in range(12)}
    stage(project, **files, **{"pkg/buggy.py": BUGGY, "analysis.ipynb": notebook, "notes.txt": "model.eval\n"})
    result = pre_commit(project, "evallint")
    assert result.returncode == 1
    reported = sorted({line.split(":")[0] for line in result.stdout.splitlines() if ": EVL" in line})
    assert reported == ["analysis.ipynb", "pkg/buggy.py"], result.stdout
    assert "analysis.ipynb:cell 2:4:17: EVL101" in result.stdout


def test_clean_staged_files_pass(project):
    stage(project, **{"a.py": CLEAN, "b.py": CLEAN})
    result = pre_commit(project, "evallint")
    assert result.returncode == 0, result.stdout
    assert "evallint" in result.stdout and "Passed" in result.stdout


def test_fix_hook_fixes_the_staged_file(project):
    stage(project, **{"train.py": BUGGY})
    result = pre_commit(project, "--hook-stage", "manual", "evallint-fix")
    assert result.returncode == 1, "pre-commit fails a hook that modified files, so the user can review"
    assert "files were modified by this hook" in result.stdout
    assert (project[0] / "train.py").read_text() == CLEAN
    git("add", "train.py", cwd=project[0])
    assert pre_commit(project, "--hook-stage", "manual", "evallint-fix").returncode == 0
