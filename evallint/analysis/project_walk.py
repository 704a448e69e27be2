"""Phase 2 as pieces that can run apart: the call scan in two halves (and the syntactic facts),
then two root groups.

Each root group is walked by its own analyzer (``Analyzer.root_groups``), so the groups can be
walked at the same time and still give what one process gives. How the pieces run is the
caller's: it passes ``map_pieces(work, items)``, which returns ``[work(item) for item in
items]`` (the scheduler's ``map_forked`` runs the first here and the second in a forked
process). Without it, or for a small project, where a fork would cost more than the second CPU
saves, everything runs here in turn.
"""

from __future__ import annotations

from collections.abc import Callable

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.relevance import scan_calls
from evallint.lifetime import keep

MIN_FUNCTIONS_TO_FORK = 1500


def walk_project(
    analyzer, reported_files: frozenset[str] | None, map_pieces: Callable[[Callable, list], list] | None = None
) -> ProjectFacts:
    """Every root group's facts, in group order, then the syntactic facts of every file, gathered
    into ``analyzer.facts`` (``analyzer``: a ``summaries.Analyzer``, which calls this module)."""
    if map_pieces is None or len(analyzer.project.functions) < MIN_FUNCTIONS_TO_FORK:
        parts = [_walk(analyzer, group) for group in analyzer.root_groups(reported_files)]
        parts.append(analyzer.syntactic_facts())
    else:
        # The other process scans the second half and collects the syntactic facts: forming
        # the groups must wait for both halves, the walks for the groups.
        halves = analyzer.scan_halves()
        (mine, _), (theirs, syntactic) = map_pieces(lambda piece: _scan_piece(analyzer, *piece), [(halves[0], False), (halves[1], True)])
        analyzer.adopt_scan(mine.merge(theirs))
        groups = analyzer.root_groups(reported_files)
        # This process walks the group with more roots, since the other's facts still have to
        # come back.
        here = 0 if len(groups[0]) >= len(groups[1]) else 1
        mine, theirs = map_pieces(lambda group: _walk(analyzer, group), [groups[here], groups[1 - here]])
        parts = [mine, theirs, syntactic] if here == 0 else [theirs, mine, syntactic]
    for facts in parts:
        analyzer.facts.extend(facts)
    return analyzer.facts


def _walk(analyzer, group: list[str]) -> ProjectFacts:
    """One group's facts, walked by a fresh analyzer (kept, if the process ends with a hard exit:
    its memos hold every state of the walk)."""
    walker = analyzer.fresh()
    keep(walker)
    return walker.walk_roots(group)


def _scan_piece(analyzer, half: list[str], syntactic: bool) -> tuple:
    return scan_calls(analyzer, half), analyzer.syntactic_facts() if syntactic else None
