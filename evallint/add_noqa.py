"""`--add-noqa`: end each line that has findings with `# noqa: CODES`, as ruff's `--add-noqa` does,
so that a codebase can adopt evallint today and hold new code to it.

A line that already has `# noqa: ...` gets the missing codes added to it; a blanket `# noqa`
already covers everything. A line whose end lies inside a string or after a backslash
continuation cannot take a comment: it is left alone, and reported as such. Notebooks get the
comments in their code cells; the rest of the notebook is kept (``evallint.notebook_writer``).
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
CANNOT = "no `# noqa` added: the line ends inside a string or continues on the next"


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
        # A parse error cannot be silenced, and a `noqa` for an unused `noqa` would defeat the rule.
        if diagnostic.code not in ("EVL001", "EVL901") and diagnostic.code not in by_row[diagnostic.location.row]:
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
    from evallint.apply_fixes import _load, write_atomically
    from evallint.edits import apply_edits

    outcome = NoqaOutcome()
    by_path: dict[str, list[Diagnostic]] = defaultdict(list)
    for diagnostic in report.diagnostics:
        by_path[diagnostic.path].append(diagnostic)
    for path, diagnostics in sorted(by_path.items()):
        result = report.results.get(path)
        if result is None:
            continue
        if result.cell_map is not None:
            _add_to_notebook(path, result.absolute, diagnostics, outcome)
            continue
        state = _load(path, result.absolute, outcome.notes)
        if state is None:
            continue
        edits, skipped = edits_for(state.text, diagnostics)
        for row in skipped:
            outcome.notes.append(f"{path}:{row}: {CANNOT}")
        if not edits:
            continue
        error = write_atomically(result.absolute, apply_edits(state.text, edits), state.encoding)
        if error is not None:
            outcome.notes.append(f"{path}: not written: {error}")
            continue
        outcome.added[path] = len(edits)
    return outcome


def _add_to_notebook(path: str, absolute: str, diagnostics: list[Diagnostic], outcome: NoqaOutcome) -> None:
    from evallint.apply_fixes import write_atomically
    from evallint.notebook_writer import NotebookText, NotebookWriteError, apply_cell_edits
    from evallint.parsing.notebook import mask_ipython

    try:
        with open(absolute, encoding="utf-8") as handle:
            notebook = NotebookText.parse(handle.read())
    except (OSError, UnicodeDecodeError, NotebookWriteError) as error:
        outcome.notes.append(f"{path}: not written: {error}")
        return
    by_cell: dict[int, list[Diagnostic]] = defaultdict(list)
    for diagnostic in diagnostics:
        if diagnostic.cell is not None:
            by_cell[diagnostic.cell].append(diagnostic)
    added = 0
    for cell, cell_diagnostics in sorted(by_cell.items()):
        source = notebook.cell_source(cell)
        edits, skipped = edits_for(mask_ipython(source), cell_diagnostics)
        for row in skipped:
            outcome.notes.append(f"{path}:cell {cell}:{row}: {CANNOT}")
        try:
            notebook.set_cell_source(cell, apply_cell_edits(source, edits))
        except NotebookWriteError as error:
            outcome.notes.append(f"{path}:cell {cell}: no `# noqa` added: {error}")
            continue
        added += len(edits)
    if not added:
        return
    error = write_atomically(absolute, notebook.dump(), "utf-8")
    if error is not None:
        outcome.notes.append(f"{path}: not written: {error}")
        return
    outcome.added[path] = added
