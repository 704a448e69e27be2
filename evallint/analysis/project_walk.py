"""Phase 2 in two steps that can run apart: the call scan and the syntactic facts of two halves of
the files, then the walk of the two parts of the roots (``Analyzer.root_parts``).

The parts of the walk are fixed by the project and each has a memo of its own, so walking them in
turn or side by side gives the same facts. How the steps run is the caller's: it passes
``in_two_steps(first, second, items)``, which returns ``[first(item) for item in items]`` and then
``[second(position, firsts) for each position]`` (the scheduler's ``map_forked_in_two_steps``
runs position 0 here and position 1 in one forked process, which inherits the project's IR
instead of receiving it, and keeps what its scan warmed for its walk). Without it, or for a small
project, where a fork would cost more than the second CPU saves, everything runs here in turn.
"""

from __future__ import annotations

from collections.abc import Callable

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.relevance import scan_calls

MIN_FUNCTIONS_TO_FORK = 1500


def walk_project(analyzer, reported_files: frozenset[str] | None, in_two_steps: Callable | None = None) -> ProjectFacts:
    """The facts of the walk of every root, part by part, then the syntactic facts of every file
    (``analyzer``: a ``driver.Analyzer``, which calls this module)."""
    facts = ProjectFacts()
    if in_two_steps is None or len(analyzer.project.functions) < MIN_FUNCTIONS_TO_FORK:
        for part in analyzer.root_parts(analyzer.roots(reported_files)):
            facts.extend(analyzer.walk_part(part))
        facts.extend(analyzer.syntactic_facts())
        return facts

    def scan(piece: tuple[list[str], list[str]]) -> tuple:
        # Each process scans the calls of half of the files and collects their syntactic facts
        # (the functions it scanned are flattened once for both).
        functions, paths = piece
        return scan_calls(analyzer.evidence, functions), analyzer.syntactic_facts(paths)

    def walk(position: int, scanned: list[tuple]) -> ProjectFacts:
        analyzer.adopt_scan(scanned[0][0].merge(scanned[1][0]))
        return analyzer.walk_part(analyzer.root_parts(analyzer.roots(reported_files))[position])

    scanned, walked = in_two_steps(scan, walk, list(zip(analyzer.scan_halves(), analyzer.file_halves())))
    for part in walked:
        facts.extend(part)  # in path order: the first part's facts first
    for _, syntactic in scanned:
        facts.extend(syntactic)
    return facts
