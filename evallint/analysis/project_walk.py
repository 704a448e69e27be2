"""Phase 2 as pieces that can run apart: the call scan and the syntactic facts in two halves of the
files, then the walk in its two parts (``Analyzer.root_parts``).

The parts of the walk are fixed by the project and each has a memo of its own, so walking them in
turn or side by side gives the same facts. How the pieces run is the caller's: it passes
``map_pieces(work, items)``, which returns ``[work(item) for item in items]`` (the scheduler's
``map_forked`` runs the first here and the second in a forked process, which inherits the
project's IR instead of receiving it). Without it, or for a small project, where a fork would cost
more than the second CPU saves, everything runs here in turn.
"""

from __future__ import annotations

from collections.abc import Callable

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.relevance import scan_calls

MIN_FUNCTIONS_TO_FORK = 1500


def walk_project(
    analyzer, reported_files: frozenset[str] | None, map_pieces: Callable[[Callable, list], list] | None = None
) -> ProjectFacts:
    """The facts of the walk of every root, part by part, then the syntactic facts of every file
    (``analyzer``: a ``driver.Analyzer``, which calls this module)."""
    facts = ProjectFacts()
    syntactic = None
    forking = map_pieces is not None and len(analyzer.project.functions) >= MIN_FUNCTIONS_TO_FORK
    if forking:
        # Each process scans the calls of half of the files and collects their syntactic facts
        # (the functions it scanned are flattened once for both).
        pieces = list(zip(analyzer.scan_halves(), analyzer.file_halves()))
        (mine, my_facts), (theirs, their_facts) = map_pieces(lambda piece: _scan_piece(analyzer, *piece), pieces)
        analyzer.adopt_scan(mine.merge(theirs))
        syntactic = ProjectFacts()
        syntactic.extend(my_facts)
        syntactic.extend(their_facts)
    parts = analyzer.root_parts(analyzer.roots(reported_files))
    for part in (map_pieces if forking else _in_turn)(analyzer.walk_part, parts):
        facts.extend(part)  # in path order: the first part's facts first
    facts.extend(syntactic if syntactic is not None else analyzer.syntactic_facts())
    return facts


def _in_turn(work: Callable, items: list) -> list:
    return [work(item) for item in items]


def _scan_piece(analyzer, functions: list[str], paths: list[str]) -> tuple:
    return scan_calls(analyzer.evidence, functions), analyzer.syntactic_facts(paths)
