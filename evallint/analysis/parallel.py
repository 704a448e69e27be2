"""Phase 2 on two CPUs: the fixed root groups of ``Analyzer.root_groups`` walked at once.

The project's IR is never sent anywhere: a forked process inherits it, and
only the facts of its group come back. Where fork is not available (Windows,
macOS), with one job, or for a small project, the groups run one after the
other in this process; the results are the same either way, because each
group is walked by its own analyzer in both cases.
"""

from __future__ import annotations

import multiprocessing
import sys

from evallint.analysis.callgraph import ProjectIndex
from evallint.analysis.facts import ProjectFacts
from evallint.analysis.summaries import Analyzer
from evallint.strict import strict

# Below this many roots a fork costs more than the second CPU saves.
MIN_ROOTS_TO_FORK = 200

# What a forked worker walks: set just before the fork, read by the child from its copy of memory.
_inherited: tuple[Analyzer, list[list[str]]] | None = None


def analyse_project(project: ProjectIndex, settings=None, jobs: int = 1,
                    reported_files: frozenset[str] | None = None) -> ProjectFacts:
    """The facts of the whole project, or of what can reach ``reported_files`` (display paths)."""
    analyzer = Analyzer(project, settings)
    groups = analyzer.root_groups(reported_files)
    walked: list[ProjectFacts | None] = [None] * len(groups)
    if jobs > 1 and _can_fork() and sum(len(group) for group in groups) >= MIN_ROOTS_TO_FORK:
        _walk_in_parallel(analyzer, groups, walked)
    facts = ProjectFacts()
    for position, group in enumerate(groups):
        # A group whose worker failed is walked here: the result is the same, only later.
        facts.extend(walked[position] or analyzer.fresh().walk_roots(group))
    analyzer.facts = facts
    analyzer.collect_syntactic_facts()
    return facts


def _walk_in_parallel(analyzer: Analyzer, groups: list[list[str]], walked: list[ProjectFacts | None]) -> None:
    global _inherited
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    _inherited = (analyzer, groups)
    try:
        with ProcessPoolExecutor(max_workers=len(groups) - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [(position, pool.submit(_walk_group, position)) for position in range(1, len(groups))]
            walked[0] = analyzer.fresh().walk_roots(groups[0])
            for position, future in futures:
                try:
                    walked[position] = future.result()
                except Exception:
                    if strict():
                        raise
    except BrokenProcessPool:
        if strict():
            raise
    finally:
        _inherited = None


def _walk_group(position: int) -> ProjectFacts:
    assert _inherited is not None, "a group is walked only in a process forked by _walk_in_parallel"
    analyzer, groups = _inherited
    return analyzer.fresh().walk_roots(groups[position])


def _can_fork() -> bool:
    # macOS offers fork but system libraries may not survive it; Windows has none.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
