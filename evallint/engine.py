"""The lint pipeline: discover -> index each file (parallel) -> analyse the project -> rules -> diagnostics.

Per-file work returns values, never raises: a file that cannot be read or
parsed becomes a ``FileResult`` with an error, reported as EVL001.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from evallint.analysis import ir
from evallint.config import Settings
from evallint.discovery import SourcePath, discover, project_files
from evallint.parsing.notebook import CellMap
from evallint.parsing.python import ParseFailure
from evallint.selection import ignored_for_path, is_ignored, selected_codes
from evallint.types import Diagnostic, Finding, Location

VERSION_SALT = "evallint-index-1"


@dataclass
class FileResult:
    path: str  # display path
    absolute: str
    index: ir.FileIndex | None = None
    error: ParseFailure | None = None
    file_noqa: bool = False
    noqa: dict[int, frozenset[str]] = field(default_factory=dict)
    cell_map: CellMap | None = None
    digest: str = ""


@dataclass
class LintReport:
    diagnostics: list[Diagnostic]
    files_checked: int
    results: dict[str, FileResult] = field(default_factory=dict)


def module_name_for(absolute: str) -> tuple[str, bool]:
    """Dotted module name from the package directories above a file (``pkg/sub/mod.py`` -> ``pkg.sub.mod``)."""
    path = Path(absolute)
    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file() and directory.parent != directory:
        parts.append(directory.name)
        directory = directory.parent
    if is_package and not parts:
        parts.append(path.parent.name)
    return ".".join(reversed(parts)) or path.stem, is_package


def read_source(absolute: str) -> tuple[str | None, CellMap | None, ParseFailure | None]:
    """Text of a file as Python (notebooks converted), or the failure to report."""
    from evallint.parsing.notebook import NotebookError, notebook_to_python
    from evallint.parsing.python import decode_source

    try:
        with open(absolute, "rb") as handle:
            data = handle.read()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return None, None, ParseFailure(f"cannot read file: {reason}")
    if absolute.endswith(".ipynb"):
        try:
            text, cells = notebook_to_python(data)
        except NotebookError as error:
            return None, None, ParseFailure(str(error))
        return text, cells, None
    decoded = decode_source(data)
    if isinstance(decoded, ParseFailure):
        return None, None, decoded
    return decoded, None, None


def index_file(source: SourcePath) -> FileResult:
    """Phase 1 for one file. Runs in worker processes; returns a value for every input."""
    from evallint.analysis.index import index_module
    from evallint.parsing.python import parse_python
    from evallint.suppression import noqa_map

    result = FileResult(source.path, source.absolute)
    text, cells, failure = read_source(source.absolute)
    if failure is not None:
        result.error = failure
        return result
    assert text is not None
    result.cell_map = cells
    result.digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    result.file_noqa, result.noqa = noqa_map(text)
    module = parse_python(text)
    if isinstance(module, ParseFailure):
        result.error = module
        return result
    name, is_package = module_name_for(source.absolute)
    try:
        result.index = index_module(source.path, name, is_package, module)
    except RecursionError:
        result.error = ParseFailure("source is too deeply nested to analyse")
    return result


def index_files(sources: list[SourcePath], jobs: int | None = None) -> list[FileResult]:
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(sources) < 4:
        return [index_file(source) for source in sources]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(jobs, len(sources))) as pool:
        return list(pool.map(index_file, sources, chunksize=max(1, len(sources) // (jobs * 8))))


def lint_paths(paths: list[str], settings: Settings | None = None, jobs: int | None = None) -> list[Diagnostic]:
    """Lint files and directories, using the whole project around them; diagnostics sorted."""
    return run(paths, settings, jobs).diagnostics


def run(paths: list[str], settings: Settings | None = None, jobs: int | None = None) -> LintReport:
    from evallint.config import load_settings

    if settings is None:
        settings = load_settings(None, paths)
    targets = discover(paths or ["."], settings)
    sources = list(targets)
    if settings.project_root is not None and any(Path(p).is_file() for p in paths):
        # Explicit files (pre-commit passes only the staged ones): read the rest of the project for summaries.
        known = {s.absolute for s in sources}
        sources += [s for s in project_files(settings) if s.absolute not in known]
    results = index_files(sources, jobs)
    report_paths = {t.absolute for t in targets}
    by_display = {r.path: r for r in results}
    diagnostics = analyse(results, settings, report_paths)
    return LintReport(diagnostics, len(targets), by_display)


def analyse(results: list[FileResult], settings: Settings, report_paths: set[str]) -> list[Diagnostic]:
    from evallint.analysis.callgraph import ProjectIndex
    from evallint.analysis.summaries import Analyzer
    from evallint.rules import ALL_RULES

    codes = selected_codes(settings.select, settings.ignore, settings.extend_select)
    indexes = [r.index for r in results if r.index is not None]
    project = ProjectIndex(indexes)
    facts = Analyzer(project, settings).run()
    by_path = {r.path: r for r in results}
    findings: list[Finding] = []
    for code, rule in ALL_RULES.items():
        if code in codes:
            findings.extend(rule.check(facts))
    findings = [f for f in findings if by_path[f.file].absolute in report_paths]
    diagnostics = [d for d in resolve_findings(findings, by_path) if _reported(d, by_path, settings)]
    if "EVL001" in codes:
        for result in results:
            if result.error is not None and result.absolute in report_paths:
                error = result.error
                location = Location(error.row, error.column)
                diagnostic = Diagnostic("EVL001", error.message, result.path, location, location)
                if _reported(diagnostic, by_path, settings):
                    diagnostics.append(diagnostic)
    return sorted(diagnostics, key=Diagnostic.sort_key)


def _reported(diagnostic: Diagnostic, by_path: dict[str, FileResult], settings: Settings) -> bool:
    from evallint.suppression import is_suppressed

    result = by_path.get(diagnostic.path)
    if result is not None:
        if result.file_noqa:
            return False
        row = diagnostic.location.row
        if result.cell_map is not None and diagnostic.cell is not None:
            row = result.cell_map.joined_row(diagnostic.cell, row)
        if is_suppressed(diagnostic.code, row, result.noqa):
            return False
    ignored = ignored_for_path(diagnostic.path, settings.per_file_ignores)
    return not is_ignored(diagnostic.code, ignored)


def resolve_findings(findings: list[Finding], by_path: dict[str, FileResult]) -> list[Diagnostic]:
    """Give findings positions (and fixes), computing positions only for the files involved."""
    from evallint.positions import PositionTable

    needed: dict[str, set[int]] = {}
    for finding in findings:
        needed.setdefault(finding.file, set()).add(finding.node)
        for file, node in finding.refs:
            needed.setdefault(file, set()).add(node)
    tables = {path: PositionTable.build(by_path[path], nodes) for path, nodes in needed.items() if path in by_path}
    diagnostics = []
    for finding in findings:
        table = tables.get(finding.file)
        if table is None or finding.node not in table.ranges:
            continue
        start, end = table.ranges[finding.node]
        message = finding.message
        if finding.refs:
            lines = []
            for file, node in finding.refs:
                ref_table = tables.get(file)
                row = ref_table.display_row(node) if ref_table is not None else "?"
                lines.append(str(row) if file == finding.file else f"{row} of {file}")
            message = message.format(*lines)
        fix = table.fix_for(finding)
        cell = None
        result = by_path[finding.file]
        if result.cell_map is not None:
            cell, start_row = result.cell_map.locate(start.row)
            _, end_row = result.cell_map.locate(end.row)
            start, end = Location(start_row, start.column), Location(end_row, end.column)
        diagnostics.append(Diagnostic(finding.code, message, finding.file, start, end, fix, cell))
    return diagnostics


def with_overrides(settings: Settings, **overrides) -> Settings:
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
