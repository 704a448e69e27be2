"""Code in a newer Python's syntax than the one evallint runs on is analysed, not called a parse error."""

from __future__ import annotations

import ast
import sys
import textwrap

import pytest
from click.testing import CliRunner

from evallint.cli import main

from .conftest import expected_findings, found, lint_snippet

PEP_695_FUNCTION = """
import torch

def evaluate[T](model: T, loader) -> list[T]:
    return [model(x) for x in loader]  # EVL101, EVL201
"""

PEP_695_CLASS = """
import torch

class Runner[M: torch.nn.Module, *Shape, **P](object):
    def validate(self, model: M, loader):
        for x in loader:
            model(x)  # EVL101, EVL201
"""

TYPE_ALIAS = """
import torch

type Batch[T] = list[T]; type Loader = list[Batch[int]]

def evaluate(model, loader: Loader):
    for x in loader:
        model(x)  # EVL101, EVL201
"""

PEP_701_FSTRING = """
import torch

def evaluate(model, loader):
    for x in loader:
        print(f"{"accuracy"}: {f"{'é'}"}"); model(x)  # EVL101, EVL201
"""

ALL = [PEP_695_FUNCTION, PEP_695_CLASS, TYPE_ALIAS, PEP_701_FSTRING]


@pytest.mark.parametrize("source", ALL, ids=["pep695-function", "pep695-class", "type-alias", "pep701-fstring"])
def test_newer_syntax_is_analysed_with_positions_kept(tmp_path, source):
    source = textwrap.dedent(source).lstrip("\n")
    if sys.version_info < (3, 12):
        with pytest.raises(SyntaxError):
            ast.parse(source)  # what this test is about: this Python cannot parse it
    diagnostics = lint_snippet(tmp_path, source)
    assert found(diagnostics) == expected_findings(source)


def test_the_column_after_a_nested_fstring_is_kept(tmp_path):
    source = textwrap.dedent(PEP_701_FSTRING).lstrip("\n")
    columns = {d.location.column for d in lint_snippet(tmp_path, source)}
    assert columns == {source.splitlines()[4].index("model(x)") + 1}


def test_a_real_syntax_error_beside_an_fstring_is_still_evl001(tmp_path):
    diagnostics = lint_snippet(tmp_path, 'def evaluate(model):\n    print(f"{"x"}")\n    return model(\n')
    assert [d.code for d in diagnostics] == ["EVL001"]


def test_newer_syntax_evallint_cannot_rewrite_is_named_once_not_evl001(tmp_path, monkeypatch):
    # Valid for Python 3.12 (a replacement field over two lines, then a concatenated string), and
    # beyond what evallint blanks out for this Python's parser.
    (tmp_path / "new.py").write_text('import torch\nmessage = (f"{1 +\n 2}" "!")\n')
    (tmp_path / "old.py").write_text("import torch\n\ndef evaluate(model, loader):\n    return [model(x) for x in loader]\n")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()
    result = runner.invoke(main, ["--no-cache", "."])
    if sys.version_info >= (3, 12):
        assert "new.py" not in result.stdout and "not analysed" not in result.stderr
        return
    assert "EVL001" not in result.stdout and "old.py:4:13: EVL101" in result.stdout
    assert result.exit_code == 1
    [notice] = [line for line in result.stderr.splitlines() if "not analysed" in line]
    assert "new.py" in notice and "newer than 3.11" in notice
