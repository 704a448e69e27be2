"""`pytest --evallint`: two small projects whose own tests train and validate, run under the plugin.

The projects live in tests/pytest_projects/ (see the README there). Each
configuration runs once, in a child pytest (torch does not survive pytester's
in-process runs, which unload the modules a run imported), on a copy of the
project.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "pytest_projects"
# An installed evallint registers the plugin through its entry point; a checkout
# on PYTHONPATH is loaded by name (both at once would register it twice).
INSTALLED = any(ep.value == "evallint.pytest_plugin"
                for ep in importlib.metadata.entry_points(group="pytest11"))
PLUGIN = () if INSTALLED else ("-p", "evallint.pytest_plugin")
RUN_TIMEOUT = 180


@dataclass
class Run:
    ret: int
    stdout: str
    stderr: str
    report: dict | None


def run_pytest(directory: Path, *args: str) -> Run:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-m", "pytest", *PLUGIN, *args], cwd=directory,
                            env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    report_file = directory / "report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    return Run(result.returncode, result.stdout, result.stderr, report)


def run_project(tmp_path_factory, project: str, *args: str) -> Run:
    directory = tmp_path_factory.mktemp(project)
    shutil.copytree(PROJECTS / project, directory, dirs_exist_ok=True)
    return run_pytest(directory, *args)


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["pytest11"] == {"evallint": "evallint.pytest_plugin"}


def test_without_the_flag_the_plugin_imports_no_torch_and_reports_nothing(tmp_path):
    (tmp_path / "test_nothing.py").write_text(
        "import sys\n\ndef test_torch_not_loaded():\n    assert 'torch' not in sys.modules\n"
    )
    run = run_pytest(tmp_path, "-p", "no:cacheprovider", "-q")
    assert run.ret == 0, run.stdout + run.stderr
    assert "evallint" not in run.stdout


@pytest.mark.parametrize("option", [("--evallint-strict",), ("--evallint-report", "r.json"),
                                    ("--evallint-device", "cpu")])
def test_plugin_options_without_the_flag_are_a_usage_error(tmp_path, option):
    run = run_pytest(tmp_path, *option)
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs --evallint" in run.stderr
    assert "Traceback" not in run.stderr


torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def correct(tmp_path_factory) -> Run:
    return run_project(tmp_path_factory, "correct", "--evallint", "--evallint-strict",
                       "--evallint-report", "report.json")


@pytest.fixture(scope="module")
def buggy(tmp_path_factory) -> Run:
    return run_project(tmp_path_factory, "buggy", "--evallint")


@pytest.fixture(scope="module")
def buggy_strict(tmp_path_factory) -> Run:
    return run_project(tmp_path_factory, "buggy", "--evallint", "--evallint-strict",
                       "--evallint-report", "report.json")


def test_correct_project_gets_no_confirmed_and_no_runtime_finding(correct):
    assert correct.ret == 0, correct.stdout + correct.stderr
    assert "4 passed" in correct.stdout
    assert [f for f in correct.report["findings"] if f["verdict"] == "confirmed"] == []
    assert correct.report["runtime_findings"] == []
    assert correct.report["failed"] is False
    assert "4 tests ran on cpu: 0 confirmed," in correct.stdout


def test_buggy_project_report_names_the_bugs_and_the_tests_that_showed_them(buggy):
    # Without --evallint-strict the suite's outcome is the suite's own.
    assert buggy.ret == 0, buggy.stdout + buggy.stderr
    assert "4 passed" in buggy.stdout
    report = buggy.stdout[buggy.stdout.index("= evallint ="):]
    blocks = report.split("\n\n")
    assert blocks[0].splitlines()[1].startswith("CONFIRMED: trainer.py:40:")
    assert " EVL101 " in blocks[0]
    assert blocks[0].splitlines()[2:] == [
        "    evidence: validate() ran 2 forwards of Net in train mode with BatchNorm1d, "
        "Dropout(p=0.3) active",
        "    tests: check_trainer.py::test_validate_after_training_gives_an_accuracy",
    ]
    assert blocks[1].startswith("CONFIRMED: trainer.py:40:") and " EVL201 " in blocks[1]
    runtime = blocks[2].splitlines()
    assert runtime[0].startswith("FOUND AT RUNTIME: trainer.py:68:")
    assert "EVL102 Net was trained in eval mode" in runtime[0]
    assert runtime[1].endswith("it was switched to eval mode by switch() at trainer.py:52, "
                               "called from on_epoch_end() at trainer.py:58")
    assert runtime[2] == "    tests: check_trainer.py::test_fit_runs_and_learns_something"
    assert ("4 tests ran on cpu: 2 confirmed, 0 not reproduced, 0 inconclusive, 0 not reached, "
            "1 found at runtime.") in report


def test_strict_mode_fails_a_session_whose_tests_all_passed(buggy_strict):
    assert "4 passed" in buggy_strict.stdout
    assert buggy_strict.ret == pytest.ExitCode.TESTS_FAILED
    assert "evallint: --evallint-strict fails the session" in buggy_strict.stdout


def test_json_report_has_verdicts_evidence_and_test_ids(buggy_strict):
    report = buggy_strict.report
    assert report["device"] == "cpu" and report["tests"] == 4 and report["failed"] is True
    confirmed = {(f["code"], f["filename"], f["location"]["row"]): f for f in report["findings"]
                 if f["verdict"] == "confirmed"}
    assert set(confirmed) == {("EVL101", "trainer.py", 40), ("EVL201", "trainer.py", 40)}
    grad = confirmed[("EVL201", "trainer.py", 40)]
    assert grad["tests"] == ["check_trainer.py::test_validate_after_training_gives_an_accuracy"]
    assert "2 built autograd graphs that were never used" in grad["evidence"]
    [runtime] = report["runtime_findings"]
    assert (runtime["code"], runtime["filename"], runtime["location"]["row"]) == \
        ("EVL102", "trainer.py", 68)
    assert runtime["tests"] == ["check_trainer.py::test_fit_runs_and_learns_something"]


def test_a_tests_own_smoke_call_of_an_untrained_model_is_not_an_evaluation(correct):
    # check_trainer.py::test_output_shape calls Net() in train mode with autograd on.
    assert "check_trainer.py::test_output_shape" not in json.dumps(correct.report)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without a GPU")
def test_device_cuda_without_a_gpu_is_a_usage_error(tmp_path):
    run = run_pytest(tmp_path, "--evallint", "--evallint-device", "cuda")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "--evallint-device cuda needs a CUDA GPU" in run.stderr
    assert "Traceback" not in run.stderr
