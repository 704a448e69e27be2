"""Phase 2 on two CPUs: the call scan in two halves, then the fixed root groups walked at once.

The project's IR is never sent anywhere: a forked process inherits it. Each of
the two processes scans the calls of half of the project's files; they swap
their halves of the scan, and both merge them into the scan one process would
have made (``CallScan.merge``). From that scan this process forms the root
groups (``Analyzer.root_groups``) and sends them over, while the worker collects
the syntactic facts of every file; each then walks one group, and only the
second group's facts (with the syntactic facts) come back. Where fork is not
available (Windows, macOS), with one job, or for a small project, all of it
runs in this process, one group after the other; the results are the same
either way, because each group is walked by its own analyzer in both cases.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.relevance import CallScan, scan_calls
from evallint.analysis.driver import ROOT_GROUPS, Analyzer
from evallint.lifetime import keep, worker_pool
from evallint.strict import strict

# Below this many functions a fork costs more than the second CPU saves.
MIN_FUNCTIONS_TO_FORK = 1500

# What the forked worker works on: set just before the fork, read by the child from its copy of memory.
_inherited: tuple | None = None


def walk_project(analyzer: Analyzer, reported_files: frozenset[str] | None, jobs: int = 1) -> list[ProjectFacts]:
    """Each root group's facts, in group order, each walked by its own fresh analyzer; then the
    syntactic facts of every file."""
    walked: list[ProjectFacts | None] = [None] * ROOT_GROUPS
    syntactic: ProjectFacts | None = None
    groups = None
    if jobs > 1 and can_fork() and len(analyzer.project.functions) >= MIN_FUNCTIONS_TO_FORK:
        walked, syntactic, groups = _in_two_processes(analyzer, reported_files)
    if groups is None:
        groups = analyzer.root_groups(reported_files)
    # What a failed worker did not deliver is done here: the result is the same, only later.
    walks = [facts if facts is not None else _walk(analyzer, group) for facts, group in zip(walked, groups)]
    return walks + [syntactic if syntactic is not None else analyzer.syntactic_facts()]


def _in_two_processes(
    analyzer: Analyzer, reported_files: frozenset[str] | None
) -> tuple[list[ProjectFacts | None], ProjectFacts | None, list[list[str]] | None]:
    """Scan and walk with a forked worker: the groups' facts and the syntactic facts (None for
    what the worker did not deliver; a half of the scan it did not deliver is made here) and the
    groups.

    Only this process forms the groups: the worker, which would otherwise form the same groups
    at the same time, collects the syntactic facts of every file meanwhile (0.1 s on a large
    tree), and both start their walks sooner."""
    global _inherited
    from concurrent.futures.process import BrokenProcessPool

    halves = analyzer.scan_halves()
    from_child, to_parent = multiprocessing.Pipe(duplex=False)
    from_parent, to_child = multiprocessing.Pipe(duplex=False)
    walked: list[ProjectFacts | None] = [None] * ROOT_GROUPS
    syntactic: ProjectFacts | None = None
    groups: list[list[str]] | None = None
    theirs: CallScan | None = None
    sending: threading.Thread | None = None
    _inherited = (analyzer, halves[1], to_parent, from_parent, (from_child, to_child))
    try:
        with worker_pool(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
            future = pool.submit(_child)  # forks now: the worker holds its own ends of the pipes
            # Closing ours means the worker's death ends the pipe instead of leaving a read waiting.
            to_parent.close()
            from_parent.close()
            try:
                mine = scan_calls(analyzer.evidence, halves[0])
                sending = _send_behind(to_child, mine)
                try:
                    theirs = from_child.recv()
                except (EOFError, OSError):
                    if strict():
                        raise
                if not isinstance(theirs, CallScan):
                    theirs = scan_calls(analyzer.evidence, halves[1])
                analyzer.adopt_scan(mine.merge(theirs))
                groups = analyzer.root_groups(reported_files)
            except BaseException:
                # The worker waits for what this process sends, and the pool waits for the worker
                # on the way out of this block: tell it that nothing is coming.
                sending = _send_behind(to_child, None, after=sending)
                raise
            sending = _send_behind(to_child, groups, after=sending)
            here = _main_process_group(groups)
            walked[here] = _walk(analyzer, groups[here])
            try:
                walked[1 - here], syntactic = future.result()
            except Exception:
                if strict():
                    raise
    except BrokenProcessPool:
        if strict():
            raise
    finally:
        _inherited = None
        if sending is not None:
            sending.join()  # done once the worker read it, or ended (its end of the pipe then closes)
        for end in (from_child, to_child, to_parent, from_parent):
            end.close()
    return walked, syntactic, groups


def _child() -> tuple[ProjectFacts, ProjectFacts]:
    assert _inherited is not None, "_child runs only in the process forked by _in_two_processes"
    analyzer, half, to_parent, from_parent, parent_ends = _inherited
    for end in parent_ends:
        end.close()  # so that the parent's death ends the pipe here too
    sending = None
    try:
        mine = scan_calls(analyzer.evidence, half)
        sending = _send_behind(to_parent, mine)
        syntactic = analyzer.syntactic_facts()  # while the parent forms the groups
        theirs = from_parent.recv()
        if not isinstance(theirs, CallScan):
            raise RuntimeError("the main process stopped before phase 2's walks")
        analyzer.adopt_scan(theirs.merge(mine))  # half 0 first, as the parent merges
        groups = from_parent.recv()
        if groups is None:
            raise RuntimeError("the main process stopped before phase 2's walks")
    finally:
        if sending is not None:
            sending.join()
        # Whatever happened here, the parent's reads and sends end now instead of waiting.
        to_parent.close()
        from_parent.close()
    return _walk(analyzer, groups[1 - _main_process_group(groups)]), syntactic


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


def _walk(analyzer: Analyzer, group: list[str]) -> ProjectFacts:
    """One group's facts, walked by a fresh analyzer (kept, if the process ends with a hard exit:
    its memos hold every state of the walk)."""
    walker = analyzer.fresh()
    keep(walker)
    return walker.walk_roots(group)


def _main_process_group(groups: list[list[str]]) -> int:
    """Which group the main process walks: the one with more roots, since the worker's facts
    still have to come back. Both processes compute the same groups, so they agree."""
    return 0 if len(groups[0]) >= len(groups[1]) else 1


def can_fork() -> bool:
    # macOS offers fork but system libraries may not survive it; Windows has none.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
