"""The summary counts only the fixes `--fix` / `--unsafe-fixes` will apply, and notebooks are fixed
as ruff fixes them: code cells rewritten; outputs, metadata and the JSON layout kept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def evallint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evallint", *args, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "EVALLINT_STRICT": "1"},
    )


def test_with_unsafe_fixes_a_fix_that_cannot_be_built_is_not_counted(tmp_path: Path):
    # EVL101's fix inserts `model.eval()` before the statement: a one-line function leaves it no place.
    (tmp_path / "a.py").write_text("import torch\n\ndef test(model, loader): return [model(x) for x in loader]\n")
    as_json = json.loads(evallint("a.py", "--output-format", "json", cwd=tmp_path).stdout)
    assert {item["code"]: item["fix"] is None for item in as_json} == {"EVL101": True, "EVL201": False}
    # With --unsafe-fixes the edits are built, and the count is of those --fix --unsafe-fixes applies.
    assert "[*] 1 fixable with the `--fix --unsafe-fixes` option." in evallint("a.py", "--unsafe-fixes", cwd=tmp_path).stdout
    fixed = evallint("a.py", "--fix", "--unsafe-fixes", cwd=tmp_path).stdout
    assert "Found 2 errors (1 fixed, 1 remaining)." in fixed


def test_the_hidden_fix_count_leaves_out_a_fix_that_cannot_be_built(tmp_path: Path):
    # Without --unsafe-fixes the unsafe fixes are not written out, yet the count is of those that exist:
    # the EVL101 of the one-line function has none, the EVL201 has one, and so has each finding in
    # the loop.
    (tmp_path / "a.py").write_text(
        "import torch\n\ndef test(model, loader): return [model(x) for x in loader]\n\n"
        "def evaluate(model, loader):\n    for x in loader:\n        model(x)\n"
    )
    summary = evallint("a.py", cwd=tmp_path).stdout
    assert "Found 4 errors." in summary
    assert "(3 hidden fixes can be enabled with the `--unsafe-fixes` option.)" in summary
    as_json = json.loads(evallint("a.py", "--output-format", "json", cwd=tmp_path).stdout)
    assert sum(item["fix"] is not None for item in as_json) == 3


def test_the_hidden_fix_count_is_the_number_of_fixes_json_builds(tmp_path: Path):
    # Counting plans each fix on the top-level statement around it; JSON builds it on the whole
    # module. Decorated functions, methods, a training loop and module-level code must agree.
    (tmp_path / "b.py").write_text(
        "import functools\nimport torch\n\nmodel = torch.nn.Linear(2, 2)\nloader = [torch.randn(1, 2)]\n\n"
        "def test(model, loader): return [model(x) for x in loader]\n\n"
        "@functools.lru_cache()\ndef evaluate(model, loader):\n    for x in loader:\n        model(x)\n\n"
        "class Runner:\n    def validate(self, model, loader):\n        for x in loader:\n            model(x)\n\n"
        "def train(model, loader, optimizer):\n    model.eval()\n    for x in loader:\n"
        "        model(x).sum().backward()\n        optimizer.step()\n\n"
        "for x in loader: model(x)\n"
    )
    as_json = json.loads(evallint("b.py", "--output-format", "json", cwd=tmp_path).stdout)
    unsafe = [item for item in as_json if item["fix"] is not None and item["fix"]["applicability"] == "unsafe"]
    assert len(unsafe) < len(as_json)  # the one-line function's EVL101 has no fix
    summary = evallint("b.py", cwd=tmp_path).stdout
    assert f"({len(unsafe)} hidden fixes can be enabled with the `--unsafe-fixes` option.)" in summary


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Validation"]},
        {
            "cell_type": "code", "execution_count": 1, "metadata": {"tags": ["setup"]},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": ["ready\n"]}],
            "source": ["%matplotlib inline\n", "import torch\n", "print('ready')"],
        },
        {
            "cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [],
            "source": ["def validate(model, loader):\n", "    model.eval\n", "    for x in loader:\n", "        model(x)"],
        },
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def write_notebook(path: Path) -> str:
    # nbformat's own layout: one-space indent, unescaped non-ASCII, a final newline.
    text = json.dumps(NOTEBOOK, indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def test_notebook_fix_rewrites_code_cells_and_keeps_the_rest(tmp_path: Path):
    notebook = tmp_path / "nb.ipynb"
    original = write_notebook(notebook)
    before = evallint("nb.ipynb", cwd=tmp_path).stdout
    assert "[*] 1 fixable with the `--fix` option." in before
    assert "(2 hidden fixes can be enabled with the `--unsafe-fixes` option.)" in before

    result = evallint("nb.ipynb", "--fix", cwd=tmp_path)
    # Calling `model.eval()` settles the EVL101 too; the EVL201 remains.
    assert "Found 2 errors (1 fixed, 1 remaining)." in result.stdout
    fixed = notebook.read_text(encoding="utf-8")
    assert fixed == original.replace('"    model.eval\\n"', '"    model.eval()\\n"')

    assert "Found 1 error (1 fixed, 0 remaining)." in evallint("nb.ipynb", "--fix", "--unsafe-fixes", cwd=tmp_path).stdout
    document = json.loads(notebook.read_text(encoding="utf-8"))
    assert document["cells"][2]["source"] == [
        "@torch.no_grad()\n", "def validate(model, loader):\n", "    model.eval()\n", "    for x in loader:\n", "        model(x)",
    ]
    assert document["cells"][:2] == NOTEBOOK["cells"][:2]  # the magic, outputs and metadata are untouched
    assert document["metadata"] == NOTEBOOK["metadata"]
    assert evallint("nb.ipynb", cwd=tmp_path).returncode == 0


def test_a_notebook_fix_that_would_need_an_import_in_another_cell_is_not_promised(tmp_path: Path):
    """The EVL201 fix adds `import torch` when the notebook has none; that lands in the first
    cell, not the finding's, so the fix does not exist and the summary does not count it."""
    document = json.loads(json.dumps(NOTEBOOK))
    document["cells"][1]["source"] = ["from torch import nn\n", "print('ready')"]
    document["cells"][2]["source"] = ["def validate(model, loader):\n", "    model.eval()\n",
                                      "    for x in loader:\n", "        model(x)"]
    (tmp_path / "nb.ipynb").write_text(json.dumps(document, indent=1) + "\n")
    summary = evallint("nb.ipynb", cwd=tmp_path).stdout
    assert "EVL201" in summary and "hidden fix" not in summary
    as_json = json.loads(evallint("nb.ipynb", "--output-format", "json", cwd=tmp_path).stdout)
    assert [(item["code"], item["fix"]) for item in as_json] == [("EVL201", None)]
    # With `import torch` there, the same fix exists, and is counted.
    document["cells"][1]["source"] = ["import torch\n", "print('ready')"]
    (tmp_path / "nb.ipynb").write_text(json.dumps(document, indent=1) + "\n")
    assert "(1 hidden fix can be enabled" in evallint("nb.ipynb", cwd=tmp_path).stdout


def test_notebook_diff_names_the_cell(tmp_path: Path):
    notebook = tmp_path / "nb.ipynb"
    original = write_notebook(notebook)
    result = evallint("nb.ipynb", "--diff", cwd=tmp_path)
    assert result.stdout.startswith("--- a/nb.ipynb:cell 3\n+++ b/nb.ipynb:cell 3\n")
    assert "+    model.eval()\n" in result.stdout
    assert notebook.read_text(encoding="utf-8") == original


def test_a_fix_never_rewrites_an_ipython_line(tmp_path: Path):
    from evallint.notebook_writer import NotebookWriteError, apply_cell_edits
    from evallint.types import Edit, Location

    cell = "%time model.eval\nx = 1"
    try:
        apply_cell_edits(cell, [Edit("()", Location(1, 17), Location(1, 17))])
    except NotebookWriteError as error:
        assert "IPython line" in str(error)
    else:
        raise AssertionError("an edit of a masked magic line was applied")
    assert apply_cell_edits(cell, [Edit("y = 2\n", Location(2, 1), Location(2, 1))]) == "%time model.eval\ny = 2\nx = 1"


def test_quiet_concise_output_shows_what_the_summary_run_shows_without_planning_fixes(tmp_path: Path, monkeypatch):
    # `-q` prints no summary, so nothing it shows depends on whether an unsafe fix can be built:
    # the fixes are named, not planned (planning costs a libcst parse of the statement).
    from click.testing import CliRunner

    from evallint.cli import main
    from evallint.positions import PositionTable

    (tmp_path / "a.py").write_text(
        "import torch\n\ndef test(model, loader): return [model(x) for x in loader]\n\n"
        "def evaluate(model, loader):\n    for x in loader:\n        model(x)\n"
    )
    monkeypatch.chdir(tmp_path)
    full = CliRunner().invoke(main, ["a.py", "--no-cache"], catch_exceptions=False).output
    planned: list = []
    monkeypatch.setattr(PositionTable, "planned_fix", lambda table, finding: planned.append(finding))
    quiet = CliRunner().invoke(main, ["a.py", "--no-cache", "-q"], catch_exceptions=False).output
    assert planned == []
    assert quiet and full.startswith(quiet) and "hidden fixes" in full[len(quiet):]
