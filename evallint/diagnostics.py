"""Facts -> diagnostics: the selected rules read the facts, their findings get positions and fixes,
then the run's selection, `# noqa` comments and EVL001 decide what is reported (``reporting``).

A bug of evallint's met here costs what it touched (a rule's findings, a file's positions), not
the run: it is added to the run's internal errors.
"""

from __future__ import annotations

from evallint.analysis.facts import ProjectFacts
from evallint.config import Settings
from evallint.internal_errors import InternalError, describe
from evallint.reporting import codes_of_run, reported
from evallint.sources import FileResult
from evallint.strict import strict
from evallint.types import UNSAFE_NAMED, UNSAFE_PLANNED, Diagnostic, Finding, Fix, Location


def diagnose(
    facts: ProjectFacts, results: list[FileResult], settings: Settings, report_paths: set[str],
    unsafe_fixes: str, internal_errors: list[InternalError],
) -> list[Diagnostic]:
    """The sorted diagnostics of the files in ``report_paths``."""
    from evallint.rules import ALL_RULES

    codes = codes_of_run(settings)
    by_path = {r.path: r for r in results}
    findings: list[Finding] = []
    for code, rule in ALL_RULES.items():
        if code in codes:
            try:
                findings.extend(rule.check(facts))
            except Exception as error:
                if strict():
                    raise
                internal_errors.append(InternalError(f"checking rule {code} in", None, None, describe(error)))
    findings = [f for f in findings if by_path[f.file].absolute in report_paths]
    resolved = resolve_findings(findings, by_path, unsafe_fixes, internal_errors)
    return sorted(reported(resolved, results, settings, report_paths), key=Diagnostic.sort_key)


def resolve_findings(
    findings: list[Finding], by_path: dict[str, FileResult], unsafe_fixes: str = UNSAFE_PLANNED,
    internal_errors: list[InternalError] | None = None,
) -> list[Diagnostic]:
    """Give findings positions (and fixes), computing positions only for the files involved. A
    file whose positions cannot be computed (a bug of evallint's, added to ``internal_errors``)
    loses its findings, not the run."""
    from evallint.positions import PositionTable

    needed: dict[str, set[int]] = {}
    for finding in findings:
        needed.setdefault(finding.file, set()).add(finding.node)
        for file, node in finding.refs:
            needed.setdefault(file, set()).add(node)
    tables = {}
    for path, nodes in needed.items():
        if path not in by_path:
            continue
        try:
            tables[path] = PositionTable.build(by_path[path], nodes)
        except Exception as error:
            if strict():
                raise
            if internal_errors is not None:
                internal_errors.append(InternalError("locating findings in", path, None, describe(error)))
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
        # Unsafe edits are written only when asked for; otherwise the fix is planned, which tells
        # whether it exists (None when it cannot be built) without rewriting the module. A
        # notebook's fix is built: it exists only if its edits stay in the finding's cell (an
        # added `import torch` would land in the first one).
        spec = finding.fix
        result = by_path[finding.file]
        unsafe = spec is not None and spec.applicability == "unsafe"
        if unsafe and unsafe_fixes == UNSAFE_PLANNED and result.cell_map is None:
            fix = table.planned_fix(finding)
        elif unsafe and unsafe_fixes == UNSAFE_NAMED:
            fix = Fix(spec.applicability, spec.message, ())
        else:
            fix = table.fix_for(finding)
        cell = None
        if result.cell_map is not None:
            from evallint.notebook_writer import fix_in_cell

            cell, start_row = result.cell_map.locate(start.row)
            _, end_row = result.cell_map.locate(end.row)
            start, end = (
                Location(start_row, result.cell_map.column(start.row, start.column)),
                Location(end_row, result.cell_map.column(end.row, end.column)),
            )
            fix = fix_in_cell(fix, cell, result.cell_map)
        diagnostics.append(Diagnostic(finding.code, message, finding.file, start, end, fix, cell))
    return diagnostics
