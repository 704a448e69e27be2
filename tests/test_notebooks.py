"""Notebooks: code cells joined in order, IPython syntax masked without shifting lines, cells named as ruff names them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evallint.cli import main
from evallint.engine import lint_paths
from evallint.parsing.notebook import CellMap, NotebookError, cell_sources, mask_ipython, notebook_to_python


def code(*lines: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": list(lines)}


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": [text]}


def notebook(*cells: dict, language: str = "python") -> str:
    return json.dumps({"cells": list(cells), "metadata": {"language_info": {"name": language}}, "nbformat": 4, "nbformat_minor": 5})


EVALUATE = ("def evaluate(model, loader):\n", "    with torch.no_grad():\n", "        return [model(x) for x in loader]\n")


def lint(tmp_path: Path, text: str, name: str = "nb.ipynb"):
    (tmp_path / name).write_text(text)
    return lint_paths([str(tmp_path / name)])


def test_cells_are_numbered_like_ruff_markdown_included(tmp_path: Path):
    text = notebook(markdown("# Title"), code("import torch\n"), markdown("Now evaluate:"), code(*EVALUATE))
    diagnostics = lint(tmp_path, text)
    assert [(d.code, d.cell, d.location.row, d.location.column) for d in diagnostics] == [("EVL101", 4, 3, 17)]


def test_concise_and_json_name_the_cell(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nb.ipynb").write_text(notebook(markdown("x"), code("import torch\n"), code(*EVALUATE)))
    output = CliRunner().invoke(main, ["nb.ipynb"]).output
    assert output.startswith("nb.ipynb:cell 3:3:17: EVL101 ")
    items = json.loads(CliRunner().invoke(main, ["nb.ipynb", "--output-format", "json"]).output)
    assert items[0]["cell"] == 3 and items[0]["location"] == {"row": 3, "column": 17}
    assert items[0]["filename"] == "nb.ipynb"


def test_notebooks_are_found_in_directories(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "analysis.ipynb").write_text(notebook(code("import torch\n"), code(*EVALUATE)))
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "analysis-checkpoint.ipynb").write_text(notebook(code("import torch\n"), code(*EVALUATE)))
    diagnostics = lint_paths([str(tmp_path)])
    assert [Path(d.path).name for d in diagnostics] == ["analysis.ipynb"]


@pytest.mark.parametrize(
    "magic",
    [
        "%matplotlib inline\n",
        "!pip install torch\n",
        "files = !ls data\n",
        "%time x = 1\n",
        "%load_ext autoreload\n",
        "torch.nn.Linear?\n",
        "!echo a \\\n",
    ],
)
def test_magics_neither_fail_parsing_nor_shift_lines(tmp_path: Path, magic: str):
    text = notebook(code("import torch\n", magic, "y = 2\n"), code(*EVALUATE))
    diagnostics = lint(tmp_path, text)
    assert [(d.code, d.cell, d.location.row) for d in diagnostics] == [("EVL101", 2, 3)]


def test_cell_magics(tmp_path: Path):
    shell = code("%%bash\n", "for f in *; do echo $f; done\n")
    timed = code("%%time\n", *EVALUATE)
    diagnostics = lint(tmp_path, notebook(code("import torch\n"), shell, timed))
    assert [(d.code, d.cell, d.location.row) for d in diagnostics] == [("EVL101", 3, 4)]


def test_masking_keeps_line_count_and_indentation():
    source = "for i in range(3):\n    !echo $i\n    %time f(i)\nx = !ls\n"
    masked = mask_ipython(source)
    assert masked.count("\n") == source.count("\n")
    assert masked == "for i in range(3):\n    pass\n    pass\npass\n"


def test_noqa_in_a_cell(tmp_path: Path):
    suppressed = ("def evaluate(model, loader):\n", "    with torch.no_grad():\n", "        return [model(x) for x in loader]  # noqa: EVL101\n")
    assert lint(tmp_path, notebook(code("import torch\n"), code(*suppressed))) == []
    other = (*EVALUATE[:2], "        return [model(x) for x in loader]  # noqa: EVL201\n")
    assert [d.code for d in lint(tmp_path, notebook(code("import torch\n"), code(*other)))] == ["EVL101"]


def test_file_level_noqa_in_any_cell(tmp_path: Path):
    assert lint(tmp_path, notebook(code("# evallint: noqa\nimport torch\n"), code(*EVALUATE))) == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "notebook is not valid JSON"),
        (json.dumps({"metadata": {}}), "notebook has no 'cells' list"),
        (json.dumps({"cells": [3]}), "cell 1 is not an object"),
        (json.dumps({"cells": [{"cell_type": "code", "source": [1, 2]}]}), "cell 1 has a malformed 'source'"),
        (notebook(code("x <- 1\n"), language="R"), "notebook language is R"),
        (b"\xff\xfe\x00".decode("latin-1"), "notebook is not valid JSON"),
    ],
)
def test_a_broken_notebook_is_an_evl001_finding(tmp_path: Path, text: str, message: str):
    diagnostics = lint(tmp_path, text)
    assert [d.code for d in diagnostics] == ["EVL001"]
    assert message in diagnostics[0].message


def test_syntax_error_in_a_cell_is_reported_in_that_cell(tmp_path: Path):
    diagnostics = lint(tmp_path, notebook(markdown("m"), code("import torch\n"), code("x = 1\n", "def broken(:\n")))
    assert [d.code for d in diagnostics] == ["EVL001"]
    assert diagnostics[0].cell == 3 and diagnostics[0].location.row == 2


def test_empty_cells_and_notebooks(tmp_path: Path):
    assert lint(tmp_path, notebook()) == []
    assert lint(tmp_path, notebook(code(), markdown(""), code("\n"))) == []


def test_cell_map_round_trip():
    text, cells = notebook_to_python(notebook(markdown("a"), code("a = 1\n", "b = 2"), code("c = 3\n")).encode())
    assert text == "a = 1\nb = 2\nc = 3\n"
    assert cells == CellMap(((2, 1), (3, 3)))
    assert cells.locate(2) == (2, 2) and cells.locate(3) == (3, 1)
    assert cells.joined_row(3, 1) == 3


def test_cell_sources_are_unmasked():
    data = notebook(markdown("a"), code("%time f()\n", "g()")).encode()
    assert cell_sources(data) == {2: "%time f()\ng()"}
    with pytest.raises(NotebookError):
        cell_sources(b"[]")
