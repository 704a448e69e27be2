"""`path:row:col: CODE message`, one line per finding (notebooks: `path:cell N:row:col:`)."""

from __future__ import annotations

from evallint.types import Diagnostic


def location_prefix(diagnostic: Diagnostic) -> str:
    cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
    return f"{diagnostic.path}:{cell}{diagnostic.location.row}:{diagnostic.location.column}"


def render(diagnostics: list[Diagnostic], options) -> str:
    color = getattr(options, "color", False)
    lines = []
    for diagnostic in diagnostics:
        prefix = location_prefix(diagnostic)
        code = diagnostic.code
        fixable = " [*]" if diagnostic.fix is not None and diagnostic.fix.applicability == "safe" else ""
        if color:
            prefix = f"\x1b[1m{prefix}\x1b[0m"
            code = f"\x1b[1;31m{code}\x1b[0m"
        lines.append(f"{prefix}: {code}{fixable} {diagnostic.message}")
    return "\n".join(lines) + ("\n" if lines else "")
