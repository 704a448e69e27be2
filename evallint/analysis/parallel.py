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

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.summaries import Analyzer
from evallint.strict import strict

# Below this many roots a fork costs more than the second CPU saves.
MIN_ROOTS_TO_FORK = 200

# What a forked worker walks: set just before the fork, read by the child from its copy of memory.
_inherited: tuple[Analyzer, list[list[str]]] | None = None


def walk_groups(analyzer: Analyzer, groups: list[list[str]], jobs: int = 1) -> list[ProjectFacts]:
    """Each group's facts, in group order, each walked by its own fresh analyzer."""
    walked: list[ProjectFacts | None] = [None] * len(groups)
    if jobs > 1 and _can_fork() and sum(len(group) for group in groups) >= MIN_ROOTS_TO_FORK:
        _walk_in_parallel(analyzer, groups, walked)
    # A group whose worker failed is walked here: the result is the same, only later.
    return [facts if facts is not None else analyzer.fresh().walk_roots(group) for facts, group in zip(walked, groups)]


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
