"""Worker processes: the same diagnostics for any --jobs, and a dying worker costs only its file."""

from __future__ import annotations

import shutil

from evallint.config import Settings
from evallint.engine import CRASH_HOOK_VARIABLE, run

from .conftest import FIXTURES


def _run(path, jobs, **options):
    settings = Settings(project_root=str(path))
    return [(d.path, d.location, d.code, d.message) for d in run([str(path)], settings, jobs, **options).diagnostics]


def test_one_and_two_workers_give_the_same_diagnostics():
    single = _run(FIXTURES, 1)
    assert single
    assert _run(FIXTURES, 2) == single
    assert _run(FIXTURES, 2, prescreen=False) == single


def test_a_worker_that_dies_costs_its_file_an_evl001_and_the_run_goes_on(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(FIXTURES, project, ignore=shutil.ignore_patterns("*.md"))
    healthy = [row for row in _run(project, 2) if not row[0].endswith("bug_eval_in_train_step.py")]
    # Test-only hook, read by pool workers: this file's worker kills itself with SIGSEGV.
    monkeypatch.setenv(CRASH_HOOK_VARIABLE, "bug_eval_in_train_step.py")
    crashed = _run(project, 2)
    lost = [row for row in crashed if row[0].endswith("bug_eval_in_train_step.py")]
    assert [row[2] for row in lost] == ["EVL001"]
    assert "crashed" in lost[0][3]
    others = [row for row in crashed if not row[0].endswith("bug_eval_in_train_step.py")]
    # The crashed file's functions are missing from the project; every other file is still analysed.
    assert {row[0] for row in others} == {row[0] for row in healthy}
