"""Plain `evallint` reads the code it lints and never runs it.

Every file of the linted project does something visible the moment it is
imported or executed (writes a marker file). After linting, with findings
reported and fixes written, no marker may exist and none of the project's
modules may have been imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from evallint.config import Settings
from evallint.engine import lint_paths

from .conftest import REPO


def _side_effect(marker: Path) -> str:
    return f"import pathlib\npathlib.Path({str(marker)!r}).write_text('executed')\n"


def _hostile_project(root: Path, markers: Path) -> list[Path]:
    """A project whose every Python file, imported or run, leaves a marker in ``markers``."""
    markers.mkdir()
    files = {
        "train.py": textwrap.dedent(
            """
            import torch
            from helpers import evaluate

            def validate(model, loader):
                for x in loader:
                    model(x)
                model.eval
                torch.no_grad()

            if __name__ == "__main__":
                validate(None, [])
            """
        ),
        "helpers.py": "def evaluate(model):\n    model.eval()\n",
        "pkg/__init__.py": "",
        "pkg/module.py": "from . import __name__ as _\n",
        "conftest.py": "",
        "setup.py": "",
        "sitecustomize.py": "",
        "usercustomize.py": "",
        "__main__.py": "",
        # Names of modules evallint itself imports: a linter that put the project on sys.path would run these.
        "click.py": "",
        "libcst.py": "",
        "pathspec.py": "",
        "json.py": "",
        "torch.py": "",
    }
    written = []
    for relative, body in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        marker = markers / (relative.replace("/", "_") + ".ran")
        path.write_text(_side_effect(marker) + body, encoding="utf-8")
        written.append(path)
    notebook = root / "notebook.ipynb"
    cell = _side_effect(markers / "notebook.ran") + "model.eval\n!touch " + str(markers / "shell.ran") + "\n"
    notebook.write_text(
        '{"cells": [{"cell_type": "code", "source": %s}]}' % __import__("json").dumps(cell), encoding="utf-8"
    )
    (root / "pyproject.toml").write_text("[project]\nname = 'hostile'\n")
    return written


def test_linting_in_process_runs_and_imports_nothing(tmp_path):
    project, markers = tmp_path / "project", tmp_path / "markers"
    project.mkdir()
    _hostile_project(project, markers)
    modules_before = set(sys.modules)
    diagnostics = lint_paths([str(project)], Settings(project_root=str(project)), jobs=1)
    assert {d.code for d in diagnostics} >= {"EVL104", "EVL201", "EVL202"}
    assert list(markers.iterdir()) == []
    new_modules = set(sys.modules) - modules_before
    assert not new_modules & {"train", "helpers", "pkg", "pkg.module", "conftest", "setup"}


def test_command_line_with_workers_and_fixes_runs_nothing(tmp_path):
    """The `evallint` command as installed (the project is not on sys.path), with worker processes and --fix."""
    project, markers = tmp_path / "project", tmp_path / "markers"
    project.mkdir()
    _hostile_project(project, markers)
    env = {
        "PYTHONPATH": str(REPO),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "EVALLINT_STRICT": "1",
        # The console script puts its own directory first on sys.path, not the working directory; so does this.
        "PYTHONSAFEPATH": "1",
    }
    for args in (["."], [".", "--jobs", "2"], [".", "--fix", "--unsafe-fixes"], ["train.py", "helpers.py"]):
        result = subprocess.run(
            [sys.executable, "-m", "evallint", "--no-cache", *args],
            cwd=project, capture_output=True, text=True, timeout=300, env=env,
        )
        assert result.returncode in (0, 1), (args, result.stderr[-3000:])
        assert "Traceback" not in result.stderr
        assert list(markers.iterdir()) == [], args
    fixed = (project / "train.py").read_text(encoding="utf-8")
    assert "model.eval()" in fixed  # --fix did write, and still nothing ran
