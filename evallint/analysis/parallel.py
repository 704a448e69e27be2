"""Phase 2 on two CPUs: the call scan in two halves; the syntactic facts beside the walk.

The project's IR is never sent anywhere: a forked process inherits it. Each of
the two processes scans the calls of half of the project's files; the worker
sends its half, and the main process merges both into the scan one process
would have made (``CallScan.merge``). The main process then walks every root in
one analyzer (``Analyzer.walk_roots``), while the worker collects the syntactic
facts of every file. The walk is not split: one analyzer walking every root in
one order is what makes the findings independent of how work is split. Where
fork is not available (Windows, macOS), with one job, or for a small project,
all of it runs in this process; a half the worker did not deliver is done here.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.relevance import CallScan, scan_calls
from evallint.analysis.driver import Analyzer
from evallint.lifetime import worker_pool
from evallint.strict import strict

# Below this many functions a fork costs more than the second CPU saves.
MIN_FUNCTIONS_TO_FORK = 1500

# What the forked worker works on: set just before the fork, read by the child from its copy of memory.
_inherited: tuple | None = None


def walk_project(analyzer: Analyzer, reported_files: frozenset[str] | None, jobs: int = 1) -> list[ProjectFacts]:
    """The facts of the walk of every root, then the syntactic facts of every file."""
    if jobs > 1 and can_fork() and len(analyzer.project.functions) >= MIN_FUNCTIONS_TO_FORK:
        return _in_two_processes(analyzer, reported_files)
    return [analyzer.walk_roots(analyzer.roots(reported_files)), analyzer.syntactic_facts()]


def _in_two_processes(analyzer: Analyzer, reported_files: frozenset[str] | None) -> list[ProjectFacts]:
    """Scan with a forked worker, which then collects the syntactic facts while this process
    walks; what the worker does not deliver is done here."""
    global _inherited
    from concurrent.futures.process import BrokenProcessPool

    halves = analyzer.scan_halves()
    from_child, to_parent = multiprocessing.Pipe(duplex=False)
    walked: ProjectFacts | None = None
    syntactic: ProjectFacts | None = None
    theirs: CallScan | None = None
    _inherited = (analyzer, halves[1], to_parent, from_child)
    try:
        with worker_pool(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
            future = pool.submit(_child)  # forks now: the worker holds its own end of the pipe
            # Closing ours means the worker's death ends the pipe instead of leaving a read waiting.
            to_parent.close()
            mine = scan_calls(analyzer.evidence, halves[0])
            try:
                theirs = from_child.recv()
            except (EOFError, OSError):
                if strict():
                    raise
            if not isinstance(theirs, CallScan):
                theirs = scan_calls(analyzer.evidence, halves[1])
            analyzer.adopt_scan(mine.merge(theirs))
            walked = analyzer.walk_roots(analyzer.roots(reported_files))
            try:
                syntactic = future.result()
            except Exception:
                if strict():
                    raise
    except BrokenProcessPool:
        if strict():
            raise
    finally:
        _inherited = None
        for end in (from_child, to_parent):
            end.close()
    if walked is None:  # the pool broke before the walk: the scan is this process's to finish
        walked = analyzer.walk_roots(analyzer.roots(reported_files))
    return [walked, syntactic if syntactic is not None else analyzer.syntactic_facts()]


def _child() -> ProjectFacts:
    assert _inherited is not None, "_child runs only in the process forked by _in_two_processes"
    analyzer, half, to_parent, parent_end = _inherited
    parent_end.close()
    sending = None
    try:
        sending = _send_behind(to_parent, scan_calls(analyzer.evidence, half))
        return analyzer.syntactic_facts()  # while the parent merges the scan and walks
    finally:
        if sending is not None:
            sending.join()
        to_parent.close()


def _send_behind(connection, value, after: threading.Thread | None = None) -> threading.Thread:
    """Send ``value`` from a thread of its own, once the send ``after`` is done (two sends on one
    connection must not interleave). A scan half is megabytes, more than a pipe holds, so a
    send waits until the other process reads; both have other work meanwhile, and a send in
    line made each wait for the other (0.07 s). A send that fails (the other process ended) is
    the reader's to notice."""

    def send() -> None:
        if after is not None:
            after.join()
        try:
            connection.send(value)
        except OSError:
            pass

    thread = threading.Thread(target=send, name="evallint-send", daemon=True)
    thread.start()
    return thread


def can_fork() -> bool:
    # macOS offers fork but system libraries may not survive it; Windows has none.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
