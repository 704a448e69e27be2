"""A bug of evallint's met on one function or file is contained: that part is skipped, every other
finding is reported, one line on stderr names the file and function, and the run exits 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from evallint.cli import main
from evallint.config import Settings
from evallint.engine import run
from evallint.internal_errors import ISSUES_URL

REPO = Path(__file__).resolve().parent.parent

BUGGY = textwrap.dedent(
    """
    import torch


    def validate(model, loader):
        for x in loader:
            model(x)


    def evaluate_other(model, loader):
        for x in loader:
            model(x)
    """
)


@pytest.fixture
def not_strict(monkeypatch):
    """As users run evallint: internal errors are contained instead of raised."""
    monkeypatch.delenv("EVALLINT_STRICT", raising=False)


def _failing_on(monkeypatch, function_name: str):
    from evallint.analysis import interpreter

    real = interpreter.Interpreter.run

    def run_or_fail(self, entry):
        if self.fn.info.name == function_name:
            raise TypeError("a construct the analysis mishandles")
        return real(self, entry)

    monkeypatch.setattr(interpreter.Interpreter, "run", run_or_fail)


def test_an_error_in_one_function_is_reported_and_the_others_findings_kept(tmp_path, monkeypatch, not_strict):
    (tmp_path / "train.py").write_text(BUGGY)
    clean = run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1)
    _failing_on(monkeypatch, "evaluate_other")
    report = run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1)
    assert [(Path(e.file).name, e.function) for e in report.internal_errors] == [("train.py", "evaluate_other")]
    validate_findings = {(d.location.row, d.code) for d in clean.diagnostics if d.location.row <= 7}
    assert validate_findings
    assert {(d.location.row, d.code) for d in report.diagnostics} == validate_findings


def test_the_command_prints_one_line_per_error_and_exits_2(tmp_path, monkeypatch, not_strict):
    (tmp_path / "train.py").write_text(BUGGY)
    _failing_on(monkeypatch, "evaluate_other")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()
    result = runner.invoke(main, ["--no-cache", "."])
    assert result.exit_code == 2
    assert "EVL101" in result.stdout  # validate()'s findings are still reported
    lines = [line for line in result.stderr.splitlines() if "internal error" in line]
    assert len(lines) == 1
    assert "train.py" in lines[0] and "function evaluate_other" in lines[0] and ISSUES_URL in lines[0]
    # --exit-zero is about findings: a run that met a bug still says so.
    assert runner.invoke(main, ["--no-cache", "--exit-zero", "."]).exit_code == 2


def test_an_error_while_indexing_a_file_costs_that_file_only(tmp_path, monkeypatch, not_strict):
    from evallint.analysis import index

    (tmp_path / "a.py").write_text(BUGGY)
    (tmp_path / "b.py").write_text(BUGGY)
    real = index.index_module

    def index_or_fail(path, *args, **kwargs):
        if path.endswith("b.py"):
            raise KeyError("unexpected node")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(index, "index_module", index_or_fail)
    report = run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1)
    assert [(e.step, Path(e.file).name) for e in report.internal_errors] == [("indexing", "b.py")]
    assert {Path(d.path).name for d in report.diagnostics} == {"a.py"}


def test_the_strict_switch_still_raises(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(BUGGY)
    _failing_on(monkeypatch, "evaluate_other")
    with pytest.raises(TypeError):
        run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1)


def test_a_module_that_imports_itself_by_name_is_analysed(tmp_path):
    """The crash of issue 19: `from foo import foo_loss` inside foo/foo.py, no __init__.py."""
    (tmp_path / "foo").mkdir()
    (tmp_path / "foo" / "foo.py").write_text(
        "import torch\nfrom foo import foo_loss\n\n"
        "def step(model, x):\n    loss = foo_loss.compute(model(x))\n    loss.backward()\n\n"
        "def evaluate(model, loader):\n    for x in loader:\n        model(x)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "evallint", "--no-cache", "."], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "foo/foo.py:10:9: EVL101" in result.stdout


def test_output_file_in_a_missing_directory_is_created(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(BUGGY)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--no-cache", "--output-format", "json", "-o", "reports/lint/out.json", "."])
    assert result.exit_code == 1
    assert '"code": "EVL101"' in (tmp_path / "reports" / "lint" / "out.json").read_text()


def test_output_file_that_cannot_be_written_is_a_usage_error(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(BUGGY)
    (tmp_path / "blocker").write_text("a file, not a directory")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()
    result = runner.invoke(main, ["--no-cache", "-o", "blocker/out.txt", "."])
    assert result.exit_code == 2
    assert "cannot write the report to blocker/out.txt" in result.stderr


def test_an_error_in_phase_twos_forked_worker_is_reported_too(tmp_path, monkeypatch, not_strict):
    from evallint import scheduler
    from evallint.analysis import project_walk

    if not scheduler.can_fork():
        pytest.skip("phase 2 forks only on Linux")
    for number in range(4):
        (tmp_path / f"train_{number}.py").write_text(BUGGY)
    monkeypatch.setattr(project_walk, "MIN_FUNCTIONS_TO_FORK", 1)
    forks = []
    real_map = scheduler.map_forked_in_two_steps
    monkeypatch.setattr(scheduler, "map_forked_in_two_steps", lambda *args, **kwargs: forks.append(1) or real_map(*args, **kwargs))
    _failing_on(monkeypatch, "evaluate_other")
    report = run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=2)
    assert forks
    assert sorted(Path(e.file).name for e in report.internal_errors) == [f"train_{n}.py" for n in range(4)]
    assert {(Path(d.path).name, d.location.row) for d in report.diagnostics if d.code == "EVL101"} == {
        (f"train_{n}.py", 7) for n in range(4)
    }


def test_a_class_whose_helper_builds_its_layers_is_analysed_without_an_internal_error(tmp_path, not_strict):
    """Found on the corpus (issue 19): a memo shadowed the method of the same name, and every
    function meeting such a class failed with a TypeError, hidden before errors were reported."""
    (tmp_path / "train.py").write_text(textwrap.dedent(
        """
        import torch
        import torch.nn as nn


        def make_head(width):
            return nn.Sequential(nn.Linear(width, width), nn.Dropout(0.1))


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.head = make_head(8)


        def evaluate(loader):
            model = Net()
            for x in loader:
                model(x)
        """
    ))
    report = run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1)
    assert report.internal_errors == []
