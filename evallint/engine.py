"""The lint pipeline: discover -> index each file -> analyse the project -> rules -> diagnostics.

- ``sources``: where a file's text comes from (disk or unsaved overlays), its module name.
- ``indexing``: phase 1, each file read, pre-screened and indexed once, cached by content.
- ``analysis``: phase 2, the project's facts (``Analyzer.run``), the same for any ``--jobs``.
- ``diagnostics`` and ``reporting``: facts -> findings -> what is reported, with positions.
- ``scheduler``: how both phases use the CPUs; handed to them as functions.

The CLI, the flake8 plugin (through ``buffer_lint``), the LSP server, ``--fix`` and ``verify``
all lint through ``run`` or ``analyse``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from evallint.config import Settings
from evallint.discovery import SourcePath, discover, project_files
from evallint.indexing import file_key, index_files
from evallint.internal_errors import InternalError, describe, unique
from evallint.lifetime import collector_paused, keep
from evallint.sources import FileResult
from evallint.strict import strict
from evallint.types import UNSAFE_PLANNED, Diagnostic


@dataclass
class LintReport:
    diagnostics: list[Diagnostic]
    files_checked: int
    results: dict[str, FileResult] = field(default_factory=dict)
    internal_errors: list[InternalError] = field(default_factory=list)
    # Files in a newer Python's syntax that this Python cannot read (not parse errors: no EVL001).
    newer_python: list[str] = field(default_factory=list)


def lint_paths(paths: list[str], settings: Settings | None = None, jobs: int | None = None) -> list[Diagnostic]:
    """Lint files and directories, using the whole project around them; diagnostics sorted."""
    return run(paths, settings, jobs).diagnostics


def run(
    paths: list[str],
    settings: Settings | None = None,
    jobs: int | None = None,
    *,
    use_cache: bool = False,
    prescreen: bool = True,
    unsafe_fixes: str = UNSAFE_PLANNED,
) -> LintReport:
    """Lint ``paths``. ``use_cache`` reads and writes the cache (the CLI turns it on; the API leaves it off)."""
    from evallint.config import load_settings, with_nested_configs

    if settings is None:
        settings = load_settings(None, paths)
    jobs = jobs or os.cpu_count() or 1
    targets = discover(paths or ["."], settings)
    settings = with_nested_configs(settings, [t.absolute for t in targets])
    sources = list(targets)
    if settings.project_root is not None and any(Path(p).is_file() for p in paths):
        # Explicit files (pre-commit passes only the staged ones): read the rest of the project for summaries.
        known = {s.absolute for s in sources}
        sources += [s for s in project_files(settings) if s.absolute not in known]
    report_paths = {t.absolute for t in targets}
    cache, run_key, file_keys = None, None, None
    if use_cache:
        from evallint.cache import Cache

        cache = Cache.for_settings(settings)
        # Each file is read and hashed once per run: the run's key and the per-file lookups share these.
        file_keys = [file_key(cache, source) for source in sources]
        run_key = _run_key(cache, file_keys, settings, report_paths, (prescreen, unsafe_fixes))
        cached = _cached_run(cache, run_key, sources, file_keys)
        if cached is not None:
            return LintReport(cached[1], len(targets), cached[0])
    with collector_paused():
        results = index_files(sources, jobs, cache=cache, prescreen=prescreen, settings=settings, file_keys=file_keys)
        internal_errors = [r.internal_error for r in results if r.internal_error is not None]
        diagnostics = analyse(results, settings, report_paths, unsafe_fixes, jobs, internal_errors)
    keep(results)
    # A run that met a bug is not kept: the next run reports it again instead of hiding it.
    if run_key is not None and not internal_errors:
        cache.store(run_key, list(diagnostics))
    newer = sorted(r.path for r in results if r.error is not None and r.error.newer_python and r.absolute in report_paths)
    return LintReport(diagnostics, len(targets), {r.path: r for r in results}, unique(internal_errors), newer)


def analyse(
    results: list[FileResult], settings: Settings, report_paths: set[str], unsafe_fixes: str = UNSAFE_PLANNED,
    jobs: int = 1, internal_errors: list[InternalError] | None = None,
) -> list[Diagnostic]:
    """Phase 2 and the rules. ``unsafe_fixes`` says how far unsafe fixes are built
    (writing one rewrites the whole module; concise output only counts them). With ``jobs`` > 1
    phase 2 may use a second process; the findings are the same. Bugs of evallint's met on the way
    are appended to ``internal_errors``: what they touched is left out, the rest is reported."""
    from evallint.analysis.callgraph import ProjectIndex
    from evallint.analysis.facts import ProjectFacts
    from evallint.analysis.driver import Analyzer
    from evallint.diagnostics import diagnose
    from evallint.scheduler import map_forked_in_two_steps

    errors = internal_errors if internal_errors is not None else []
    indexes = [r.index for r in results if r.index is not None]
    reported_files = frozenset(r.path for r in results if r.index is not None and r.absolute in report_paths)
    try:
        analyzer = Analyzer(ProjectIndex(indexes), settings)
        # Only some files reported (pre-commit): the walk can skip what cannot reach them.
        facts = analyzer.run(
            reported_files if len(reported_files) < len(indexes) else None,
            functools.partial(map_forked_in_two_steps, jobs=jobs) if jobs > 1 else None,
        )
        keep(analyzer)
    except Exception as error:
        if strict():
            raise
        errors.append(InternalError("analysing", None, None, describe(error)))
        facts = ProjectFacts()
    errors.extend(facts.internal_errors)
    return diagnose(facts, results, settings, report_paths, unsafe_fixes, errors)


def _run_key(cache, file_keys: list[str | None], settings: Settings, report_paths: set[str], run_options: tuple) -> str | None:
    """One key for a whole run: every file's key, what is reported, all settings. None if a file is unreadable."""
    if any(key is None for key in file_keys):
        return None
    return cache.run_key(repr(settings), repr(run_options), "\n".join(sorted(report_paths)), "\n".join(file_keys))  # type: ignore[arg-type]


def _cached_run(
    cache, run_key: str | None, sources: list[SourcePath], file_keys: list[str | None]
) -> tuple[dict[str, FileResult], list[Diagnostic]] | None:
    """A whole run answered from the cache: the diagnostics, and the file results of the files they name."""
    stored = cache.load(run_key) if run_key is not None else None
    if not (isinstance(stored, list) and all(isinstance(d, Diagnostic) for d in stored)):
        return None
    named = {d.path for d in stored}
    results: dict[str, FileResult] = {}
    for source, key in zip(sources, file_keys):
        result = FileResult(source.path, source.absolute)
        if source.path in named:
            entry = cache.load(key or "")
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], FileResult)):
                return None
            result = entry[1]
        results[source.path] = result
    return results, stored
