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


# -- IPython's rules: escapes only at the start of a logical line; cell magics ------------------------

TRAIN = (
    "def train(model, loader, optimizer, num_epochs):\n",
    "    for epoch in range(num_epochs):\n",
    "        for x in loader:\n",
    "            loss = model(x).sum()\n",
    "            loss.backward()\n",
    "            optimizer.step()\n",
    "            print('Epoch: %03d/%03d | Cost: %.4f'\n",
    "                  %(epoch+1, num_epochs, loss))\n",
    "        evaluate(model, loader)\n",
)


def test_percent_inside_brackets_is_the_operator_not_a_magic(tmp_path: Path):
    sets_eval = ("def evaluate(model, loader):\n", "    model.eval()\n", *EVALUATE[1:])
    diagnostics = lint(tmp_path, notebook(code("import torch\n"), code(*sets_eval), code(*TRAIN)))
    # The training cell is analysed: evaluate() leaves the model in eval mode for the next step.
    assert [(d.code, d.cell, d.location.row) for d in diagnostics] == [("EVL102", 3, 4)]


@pytest.mark.parametrize(
    "source",
    [
        "total = 10 \\\n    % 3\n",  # after a backslash continuation
        "text = '''\n%matplotlib inline\n!ls\n'''\n",  # inside a triple-quoted string
        "pairs = [\n    7\n    %2,\n]\n",  # inside brackets
        "value = f(1,  # a comment with a bracket (\n    2) \\\n    % 5\n",
    ],
    ids=["backslash", "triple-quoted", "brackets", "comment-then-backslash"],
)
def test_percent_and_bang_mid_statement_are_left_to_python(source: str):
    assert mask_ipython(source) == source


def test_escapes_at_the_start_of_a_logical_line_are_masked_after_a_closed_statement():
    source = "x = f(1,\n      2)\n%time y = x\ns = '''a\nb'''\n!ls\n"
    assert mask_ipython(source) == "x = f(1,\n      2)\npass\ns = '''a\nb'''\npass\n"


def test_writefile_is_text_and_capture_is_python(tmp_path: Path):
    written = code("%%writefile train.sh\n", "python train.py --epochs 3 &&\n", "def evaluate(model, loader): return model(loader)\n")
    captured = code("\n", "%%capture output\n", *EVALUATE)
    diagnostics = lint(tmp_path, notebook(code("import torch\n"), written, captured))
    assert [(d.code, d.cell, d.location.row) for d in diagnostics] == [("EVL101", 3, 5)]


def test_a_syntax_error_message_names_the_row_in_the_cell_as_its_location_does(tmp_path: Path):
    broken = code("values = (1,\n", "    2]\n")
    diagnostics = lint(tmp_path, notebook(code("import torch\n", "x = 1\n"), markdown("m"), broken))
    [error] = diagnostics
    assert (error.code, error.cell, error.location.row) == ("EVL001", 3, 2)
    assert "on line 1" in error.message and "line 3" not in error.message


def test_a_message_naming_a_line_of_another_cell_says_which():
    cells = CellMap(((1, 1), (3, 4)))
    assert cells.cell_rows_in("does not match '(' on line 2", 3) == "does not match '(' on line 2 of cell 1"
    assert cells.cell_rows_in("(detected at line 5)", 3) == "(detected at line 2)"


def test_a_cell_indented_as_a_whole_is_dedented_as_ipython_does(tmp_path: Path):
    indented = code(" # every line starts with a space\n", *(" " + line for line in EVALUATE))
    diagnostics = lint(tmp_path, notebook(code("import torch\n"), indented))
    # The column is the one in the cell as written: `model(x)` after 17 characters, plus the space.
    assert [(d.code, d.cell, d.location.row, d.location.column) for d in diagnostics] == [("EVL101", 2, 4, 18)]


def test_a_wildcard_help_search_is_masked():
    assert mask_ipython("torch.*Tensor?\n") == "pass\n"
