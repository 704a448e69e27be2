"""The concise line, then the source line with a caret under the finding, and the fix if there is one.

    train.py:41:5: EVL104 [*] `model.eval` is not called: ...
       |
    40 | def validate(model, loader):
    41 |     model.eval
       |     ^^^^^^^^^^ EVL104
       |
       = fix: Call it: `model.eval()` (safe fix)
"""

from __future__ import annotations

from evallint.output.concise import CYAN, RED, RESET, fix_line, headline
from evallint.output.source import source_line
from evallint.types import Diagnostic


def _snippet(diagnostic: Diagnostic, color: bool) -> list[str]:
    row = diagnostic.location.row
    line = source_line(diagnostic, row)
    if line is None:
        return []
    previous = source_line(diagnostic, row - 1) if row > 1 else None
    width = len(str(row))
    gutter = " " * width
    start = diagnostic.location.column
    if diagnostic.end_location.row == row:
        end = max(diagnostic.end_location.column, start + 1)
    else:
        end = max(len(line) + 1, start + 1)
    carets = "^" * (end - start)
    marker = f"{' ' * (start - 1)}{carets} {diagnostic.code}"
    if color:
        marker = f"{' ' * (start - 1)}{RED}{carets} {diagnostic.code}{RESET}"
    bar = f"{CYAN}|{RESET}" if color else "|"
    out = [f"{gutter} {bar}"]
    if previous is not None and previous.strip():
        out.append(f"{row - 1:>{width}} {bar} {previous}")
    out.append(f"{row} {bar} {line}")
    out.append(f"{gutter} {bar} {marker}")
    out.append(f"{gutter} {bar}")
    return out


def render(diagnostics: list[Diagnostic], options) -> str:
    color = getattr(options, "color", False)
    blocks = []
    for diagnostic in diagnostics:
        lines = [headline(diagnostic, options), *_snippet(diagnostic, color)]
        if diagnostic.fix is not None:
            width = len(str(diagnostic.location.row))
            lines.append(f"{' ' * width} = fix: {fix_line(diagnostic)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + ("\n" if blocks else "")
