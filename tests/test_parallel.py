"""Worker processes: the same diagnostics for any --jobs, and a dying worker costs only its file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evallint.config import Settings
from evallint.engine import run
from evallint.indexing import CRASH_HOOK_VARIABLE

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
    # The main process indexes files too, from the end; the first file is always a worker's.
    (project / "0_first").mkdir()
    (project / "bug_eval_in_train_step.py").rename(project / "0_first" / "bug_eval_in_train_step.py")
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


# ---- phase 2: the scan's halves and the syntactic facts, in a forked process or here -----------


def _all_projects(tmp_path):
    """The fixtures and every test project in one tree: many roots, files that share callees."""
    root = tmp_path / "all"
    shutil.copytree(FIXTURES, root / "fixtures", ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(Path(__file__).parent / "projects", root / "projects")
    return root


def test_phase_two_in_a_second_process_gives_what_one_process_gives(tmp_path, monkeypatch):
    import os

    from evallint.analysis import driver, project_walk

    root = _all_projects(tmp_path)
    single = _run(root, 1)
    parent = os.getpid()
    log = tmp_path / "syntactic-in"
    real = driver.Analyzer.syntactic_facts

    def recording(self, *args, **kwargs):
        with open(log, "a") as handle:  # from whichever process collects them
            handle.write(f"{os.getpid()}\n")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(project_walk, "MIN_FUNCTIONS_TO_FORK", 1)
    monkeypatch.setattr(driver.Analyzer, "syntactic_facts", recording)
    assert _run(root, 2) == single
    collected_in = log.read_text().split()
    assert len(collected_in) == 2 and str(parent) in collected_in and len(set(collected_in)) == 2, \
        "each process collects the syntactic facts of its half of the files"
    assert len({row[0] for row in single}) > 20
    # Facts of the walk and syntactic facts (collected in both processes) all came back.
    assert {"EVL101", "EVL102", "EVL104", "EVL202"} <= {row[2] for row in single}


def test_findings_do_not_depend_on_the_processs_string_hashing(tmp_path):
    """Sets of strings iterate in an order that changes with PYTHONHASHSEED: whatever the analysis
    takes from such an order must not reach what it reports."""
    import os
    import subprocess
    import sys

    root = _all_projects(tmp_path)
    outputs = set()
    for seed in ("1", "2", "3"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "evallint", "check", "--no-cache", "--jobs", "1", str(root)],
            env=environment, capture_output=True, text=True,
        )
        assert done.returncode == 1, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert "EVL102" in outputs.pop()


def test_the_halves_of_the_scan_merge_into_the_whole_scan(tmp_path):
    from evallint.analysis.callgraph import ProjectIndex
    from evallint.analysis.driver import Analyzer
    from evallint.analysis.relevance import scan_calls
    from evallint.discovery import SourcePath
    from evallint.indexing import index_file

    root = _all_projects(tmp_path)
    indexes = [index_file(SourcePath(str(p), str(p))).index for p in sorted(root.rglob("*.py"))]
    analyzer = Analyzer(ProjectIndex([i for i in indexes if i is not None]))
    halves = analyzer.scan_halves()
    assert all(halves) and not set(halves[0]) & set(halves[1])
    assert set(halves[0]) | set(halves[1]) == set(analyzer.project.functions)
    whole = scan_calls(analyzer.evidence)
    merged = scan_calls(analyzer.evidence, halves[0]).merge(scan_calls(analyzer.evidence, halves[1]))
    assert whole.sources and whole.called and whole.callers
    assert (merged.called, merged.referenced, merged.sources) == (whole.called, whole.referenced, whole.sources)
    assert dict(merged.callers) == dict(whole.callers)


# Where the forked worker dies: scanning its half of the calls, or collecting its half of the
# syntactic facts. Either way this process does the worker's part too.
@pytest.mark.parametrize("owner, name", [("driver.Analyzer", "syntactic_facts"), ("project_walk", "scan_calls")])
def test_a_dying_phase_two_worker_costs_time_not_findings(tmp_path, monkeypatch, owner, name):
    import os

    from evallint.analysis import driver, project_walk

    target = driver.Analyzer if owner == "driver.Analyzer" else project_walk
    root = _all_projects(tmp_path)
    single = _run(root, 1)
    monkeypatch.setattr(project_walk, "MIN_FUNCTIONS_TO_FORK", 1)
    monkeypatch.delenv("EVALLINT_STRICT")
    parent = os.getpid()
    real = getattr(target, name)
    runs_here: list[int] = []

    def dying(*args, **kwargs):
        if os.getpid() != parent:
            os._exit(3)  # the forked worker ends without a word
        runs_here.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, dying)
    assert _run(root, 2) == single
    # The worker's piece was done here: both halves of the scan and of the syntactic facts.
    assert len(runs_here) == 2


def test_a_phase_two_worker_whose_scan_fails_neither_hangs_the_run_nor_loses_findings(tmp_path, monkeypatch):
    """The worker's process lives on after its task raised (a pool worker): this process scans
    that half itself instead of waiting for a scan that never comes."""
    import os
    import signal

    from evallint.analysis import project_walk

    root = _all_projects(tmp_path)
    single = _run(root, 1)
    monkeypatch.setattr(project_walk, "MIN_FUNCTIONS_TO_FORK", 1)
    monkeypatch.delenv("EVALLINT_STRICT")
    parent = os.getpid()
    real = project_walk.scan_calls

    def failing(*args, **kwargs):
        if os.getpid() != parent:
            raise RuntimeError("an internal error in the worker's scan")
        return real(*args, **kwargs)

    monkeypatch.setattr(project_walk, "scan_calls", failing)

    def hung(signum, frame):
        raise AssertionError("the run waited for a scan the worker never sends")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        assert _run(root, 2) == single
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_an_error_in_the_main_process_while_choosing_roots_does_not_hang_the_run(tmp_path, monkeypatch):
    """Choosing the roots fails here, after the worker's fork: the error comes out instead of the
    run waiting on a worker."""
    import signal

    from evallint.analysis import driver, project_walk

    root = _all_projects(tmp_path)
    monkeypatch.setattr(project_walk, "MIN_FUNCTIONS_TO_FORK", 1)

    def failing(self, *args, **kwargs):
        raise RuntimeError("an internal error while choosing the roots")

    monkeypatch.setattr(driver.Analyzer, "roots", failing)

    def hung(signum, frame):
        raise AssertionError("the run waited for a worker")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        with pytest.raises(RuntimeError, match="choosing the roots"):
            _run(root, 2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_without_a_spool_directory_the_workers_send_their_results_back(monkeypatch):
    import tempfile

    expected = _run(FIXTURES, 1)
    refused = []

    def unwritable(*args, **kwargs):
        refused.append(1)
        raise OSError("no space left on device")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", unwritable)
    assert _run(FIXTURES, 2) == expected
    assert refused
