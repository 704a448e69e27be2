"""`--add-noqa`: end each line that has findings with `# noqa: CODES`, as ruff's `--add-noqa` does,
so that a codebase can adopt evallint today and hold new code to it.

A line that already has `# noqa: ...` gets the missing codes added to it; a blanket `# noqa`
already covers everything. A line whose end lies inside a string or after a backslash
continuation cannot take a comment: it is left alone, and reported as such. Notebooks are
rewritten cell by cell (``evallint.notebook_writer``).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field

from evallint.parsing.python import split_lines
from evallint.suppression import read_suppressions
from evallint.types import Diagnostic, Edit, Location

_ENDING = re.compile(r"(\r\n|\r|\n)$")


@dataclass
class NoqaOutcome:
    added: dict[str, int] = field(default_factory=dict)  # display path -> directives written or extended
    notes: list[str] = field(default_factory=list)


def noqa_edit(lines: list[str], row: int, codes: list[str], blocked_rows: frozenset[int] = frozenset()) -> Edit | None:
    """The edit that makes line ``row`` (1-based) suppress ``codes``; None when nothing is needed or
    the line cannot take a comment."""
    if row - 1 >= len(lines) or row in blocked_rows:
        return None
    line = _ENDING.sub("", lines[row - 1])
    if line.rstrip().endswith("\\"):
        return None
    existing = read_suppressions(line)
    end = Location(row, len(line) + 1)
    if existing.comments:
        comment = existing.comments[0]
        if comment.codes is None:
            return None  # a blanket `# noqa` already covers them
        merged = list(comment.codes) + [code for code in codes if code not in comment.codes]
        if len(merged) == len(comment.codes):
            return None
        return Edit(f"# noqa: {', '.join(merged)}", Location(row, comment.start + 1), Location(row, comment.end + 1))
    stripped = len(line.rstrip(" \t"))
    return Edit(f"  # noqa: {', '.join(codes)}", Location(row, stripped + 1), end)


def rows_inside_strings(text: str) -> frozenset[int]:
    """Rows whose end lies inside a multi-line string (a comment there would become text)."""
    rows: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                rows.update(range(token.start[0], token.end[0]))
            elif getattr(tokenize, "FSTRING_MIDDLE", None) == token.type and token.end[0] > token.start[0]:
                rows.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return frozenset(rows)


def edits_for(text: str, diagnostics: list[Diagnostic]) -> tuple[list[Edit], list[int]]:
    """The edits for one text's diagnostics (rows of ``text``), and the rows that could not take one."""
    lines = split_lines(text)
    blocked = rows_inside_strings(text)
    by_row: dict[int, list[str]] = defaultdict(list)
    for diagnostic in diagnostics:
        if diagnostic.code != "EVL001" and diagnostic.code not in by_row[diagnostic.location.row]:
            by_row[diagnostic.location.row].append(diagnostic.code)
    edits, skipped = [], []
    for row, codes in sorted(by_row.items()):
        edit = noqa_edit(lines, row, sorted(codes), blocked)
        if edit is not None:
            edits.append(edit)
        elif row - 1 < len(lines) and (row in blocked or _ENDING.sub("", lines[row - 1]).rstrip().endswith("\\")):
            skipped.append(row)
    return edits, skipped


def add_noqa(report) -> NoqaOutcome:
    """Write the directives for every diagnostic of the report, file by file."""
    from evallint.apply_fixes import _load, apply_edits, write_atomically

    outcome = NoqaOutcome()
    by_path: dict[str, list[Diagnostic]] = defaultdict(list)
    for diagnostic in report.diagnostics:
        by_path[diagnostic.path].append(diagnostic)
    for path, diagnostics in sorted(by_path.items()):
        result = report.results.get(path)
        if result is None:
            continue
        if result.cell_map is not None:
            from evallint.notebook_writer import rewrite_cells

            def per_cell(cell_text: str, cell_diagnostics: list[Diagnostic]) -> str:
                edits, skipped = edits_for(cell_text, cell_diagnostics)
                for row in skipped:
                    outcome.notes.append(f"{path}: cell {cell_diagnostics[0].cell}, line {row}: no `# noqa` added: the line ends inside a string or continues on the next")
                outcome.added[path] = outcome.added.get(path, 0) + len(edits)
                return apply_edits(cell_text, edits)

            error = rewrite_cells(result.absolute, diagnostics, per_cell)
            if error is not None:
                outcome.notes.append(f"{path}: not written: {error}")
                outcome.added.pop(path, None)
            continue
        state = _load(path, result.absolute, outcome.notes)
        if state is None:
            continue
        edits, skipped = edits_for(state.text, diagnostics)
        for row in skipped:
            outcome.notes.append(f"{path}:{row}: no `# noqa` added: the line ends inside a string or continues on the next")
        if not edits:
            continue
        error = write_atomically(result.absolute, apply_edits(state.text, edits), state.encoding)
        if error is not None:
            outcome.notes.append(f"{path}: not written: {error}")
            continue
        outcome.added[path] = len(edits)
    return outcome
