"""Worker processes: the same diagnostics for any --jobs, and a dying worker costs only its file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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


# ---- phase 2: the scan and the syntactic facts in a forked process, or here ---------------------


def _all_projects(tmp_path):
    """The fixtures and every test project in one tree: many roots, files that share callees."""
    root = tmp_path / "all"
    shutil.copytree(FIXTURES, root / "fixtures", ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(Path(__file__).parent / "projects", root / "projects")
    return root


def test_phase_two_in_a_second_process_gives_what_one_process_gives(tmp_path, monkeypatch):
    from evallint.analysis import parallel

    root = _all_projects(tmp_path)
    single = _run(root, 1)
    forks = []
    real_split = parallel._in_two_processes
    monkeypatch.setattr(parallel, "MIN_FUNCTIONS_TO_FORK", 1)
    monkeypatch.setattr(parallel, "_in_two_processes", lambda *args: forks.append(1) or real_split(*args))
    assert _run(root, 2) == single
    assert forks, "phase 2 did not fork"
    assert len({row[0] for row in single}) > 20
    # Facts of the walk and syntactic facts (collected by the worker) both came back.
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
    from evallint.analysis.relevance import scan_calls
    from evallint.analysis.driver import Analyzer
    from evallint.discovery import SourcePath
    from evallint.engine import index_file

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


# Where the forked worker dies: scanning its half (before sending it), or collecting the syntactic
# facts (after). Either way this process does the worker's part too: both halves are scanned
# here, or the syntactic facts collected here.
@pytest.mark.parametrize(
    "owner, name, calls_here", [("driver.Analyzer", "syntactic_facts", 1), ("parallel", "scan_calls", 2)]
)
def test_a_dying_phase_two_worker_costs_time_not_findings(tmp_path, monkeypatch, owner, name, calls_here):
    import os

    from evallint.analysis import driver, parallel

    target = driver.Analyzer if owner == "driver.Analyzer" else parallel
    root = _all_projects(tmp_path)
    single = _run(root, 1)
    monkeypatch.setattr(parallel, "MIN_FUNCTIONS_TO_FORK", 1)
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
    assert len(runs_here) == calls_here


def test_a_phase_two_worker_whose_scan_fails_neither_hangs_the_run_nor_loses_findings(tmp_path, monkeypatch):
    """The worker's process lives on after its task raised (a pool worker), so its ends of the
    pipes must close all the same: this process then reads an end of file and scans that half
    itself, instead of waiting forever for a scan that never comes."""
    import os
    import signal

    from evallint.analysis import parallel

    root = _all_projects(tmp_path)
    single = _run(root, 1)
    monkeypatch.setattr(parallel, "MIN_FUNCTIONS_TO_FORK", 1)
    monkeypatch.delenv("EVALLINT_STRICT")
    parent = os.getpid()
    real = parallel.scan_calls

    def failing(*args, **kwargs):
        if os.getpid() != parent:
            raise RuntimeError("an internal error in the worker's scan")
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "scan_calls", failing)

    def hung(signum, frame):
        raise AssertionError("the run waited for a scan the worker never sends")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        assert _run(root, 2) == single
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_an_error_in_the_main_process_before_the_walk_does_not_hang_the_run(tmp_path, monkeypatch):
    """When choosing the roots fails in this process, the error comes out; the worker is not
    left running, nor this process waiting for it."""
    import os
    import signal

    from evallint.analysis import driver, parallel

    root = _all_projects(tmp_path)
    monkeypatch.setattr(parallel, "MIN_FUNCTIONS_TO_FORK", 1)
    parent = os.getpid()
    real = driver.Analyzer.roots

    def failing(self, *args, **kwargs):
        if os.getpid() == parent:
            raise RuntimeError("an internal error while choosing the roots")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(driver.Analyzer, "roots", failing)

    def hung(signum, frame):
        raise AssertionError("the run waited for the worker")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        with pytest.raises(RuntimeError, match="choosing the roots"):
            _run(root, 2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_run_leaves_its_objects_to_the_oldest_generation():
    # The collector is paused during a run; left in the youngest generation, everything the run
    # allocated would be walked by the first collection after it (0.7 s on a large tree).
    import gc

    assert gc.isenabled()
    report = run([str(FIXTURES)], Settings(project_root=str(FIXTURES)), 1)
    indexed = next(result for result in report.results.values() if result.index is not None)
    assert gc.isenabled()
    assert any(item is indexed for item in gc.get_objects(generation=2))


def test_a_file_that_fails_in_the_main_process_is_indexed_again_in_a_worker(tmp_path, monkeypatch):
    # The main process indexes chunks from the end of the list itself; an internal error there
    # (outside strict mode) leaves the file to a worker instead of losing it.
    import os

    from evallint import engine

    expected = _run(FIXTURES, 1)
    main_pid = os.getpid()
    real_process = engine._process
    failed = []

    def failing_here(task):
        if os.getpid() == main_pid:
            failed.append(task.source.path)
            raise RuntimeError("simulated internal error")
        return real_process(task)

    monkeypatch.setattr(engine, "_process", failing_here)
    monkeypatch.setenv("EVALLINT_STRICT", "0")
    assert _run(FIXTURES, 2) == expected
    assert failed  # the main process did take part


def test_a_spool_is_read_as_it_grows_and_a_record_cut_short_is_not_read(tmp_path):
    from evallint.engine import FileResult, _Outcome, _Spool

    def outcome(number: int, *names: str) -> _Outcome:
        return _Outcome(None, FileResult(f"f{number}.py", f"/f{number}.py"), None, frozenset(names))

    spool = _Spool(str(tmp_path / "spool"))
    records = [_Spool.record(number, [outcome(number, "model", f"name{number}"), outcome(number)]) for number in range(3)]
    with open(spool.path, "ab") as worker:
        worker.write(records[0] + records[1] + records[2][:12])  # the worker is mid-way through a write
        worker.flush()
        # Each record holds the chunk's outcomes, and the union of their seeds' identifiers instead of theirs.
        assert spool.records() == [
            (0, [outcome(0), outcome(0)], frozenset({"model", "name0"})),
            (1, [outcome(1), outcome(1)], frozenset({"model", "name1"})),
        ]
        assert spool.records() == []  # nothing more is whole yet
        worker.write(records[2][12:])
        worker.flush()
        assert spool.records() == [(2, [outcome(2), outcome(2)], frozenset({"model", "name2"}))]
    spool.close()


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


def test_chunks_taken_from_both_ends_cover_every_task_once_and_shrink_towards_the_meeting_point():
    import multiprocessing

    from evallint.engine import CHUNK_FILES, _claim

    bounds = multiprocessing.get_context("fork").Array("q", 2)
    bounds[0], bounds[1] = 0, 1000
    taken, sizes, from_start = [], [], True
    while (claim := _claim(bounds, 2, from_start)) is not None:
        taken.extend(range(*claim))
        sizes.append(claim[1] - claim[0])
        from_start = not from_start
    assert sorted(taken) == list(range(1000))
    assert sizes[0] == CHUNK_FILES and sizes[-1] == 1
    assert sizes == sorted(sizes, reverse=True)
