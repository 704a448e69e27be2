"""`--stdin-filename PATH` and `-`: the source comes from stdin and is reported as PATH, with PATH's
project (its other files) and PATH's settings."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import REPO

BUFFER = textwrap.dedent(
    """
    import torch
    from pkg.helpers import prepare


    def validate(model, loader):
        prepare(model)
        with torch.no_grad():
            for x in loader:
                model(x)
    """
).lstrip()


def evallint(*args: str, cwd: Path, stdin: str | bytes) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evallint", *args], cwd=cwd, capture_output=True, timeout=120,
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "EVALLINT_STRICT": "1", "XDG_CACHE_HOME": str(cwd / ".xdg")},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.evallint]\nper-file-ignores = {"scripts/*" = ["EVL104"]}\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "helpers.py").write_text("def prepare(model):\n    model.eval()\n")
    (tmp_path / "pkg" / "train.py").write_text("x = 1\n")
    return tmp_path


def test_stdin_is_linted_with_the_project_of_the_named_file(project, tmp_path_factory):
    # In the project, prepare() (pkg/helpers.py) sets eval mode: nothing to report.
    inside = evallint("--stdin-filename", "pkg/train.py", "--no-cache", cwd=project, stdin=BUFFER)
    assert inside.returncode == 0, inside.stdout + inside.stderr
    # The same text named as a file of another (empty) directory: prepare() is unknown there.
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    outside = evallint("--stdin-filename", str(elsewhere / "train.py"), "--no-cache", "--output-format", "json",
                       cwd=project, stdin=BUFFER)
    assert outside.returncode == 1
    assert {item["code"] for item in json.loads(outside.stdout)} == {"EVL101"}


def test_stdin_is_reported_under_the_given_name_with_its_settings(project):
    (project / "scripts").mkdir()
    result = evallint("--stdin-filename", "pkg/new_module.py", "--no-cache", cwd=project, stdin="model.eval\n")
    assert result.stdout.decode().startswith("pkg/new_module.py:1:1: EVL104")
    # scripts/* has EVL104 ignored by the project's config: the name decides.
    ignored = evallint("--stdin-filename", "scripts/run.py", "--no-cache", cwd=project, stdin="model.eval\n")
    assert ignored.returncode == 0, ignored.stdout


def test_dash_reads_stdin(project):
    result = evallint("-", "--no-cache", cwd=project, stdin="model.eval\n")
    assert result.returncode == 1
    assert result.stdout.decode().startswith("-:1:1: EVL104")


def test_stdin_syntax_error_and_undecodable_bytes_are_evl001(project):
    broken = evallint("--stdin-filename", "pkg/train.py", "--no-cache", cwd=project, stdin="def f(:\n")
    assert broken.returncode == 1 and b"EVL001" in broken.stdout
    undecodable = evallint("--stdin-filename", "pkg/train.py", "--no-cache", cwd=project, stdin=b"x = '\xff'\n")
    assert undecodable.returncode == 1 and b"EVL001" in undecodable.stdout


def test_stdin_notebook_is_located_by_cell(project):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# notes"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["model.eval\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    result = evallint("--stdin-filename", "nb.ipynb", "--no-cache", cwd=project, stdin=json.dumps(notebook))
    assert result.stdout.decode().startswith("nb.ipynb:cell 2:1:1: EVL104")


def test_stdin_with_other_paths_or_fix_is_a_usage_error(project):
    assert evallint("--stdin-filename", "a.py", "pkg", cwd=project, stdin="").returncode == 2
    assert evallint("-", "--fix", cwd=project, stdin="").returncode == 2
