"""`path:row:col: CODE message`, one line per finding (notebooks: `path:cell N:row:col:`)."""

from __future__ import annotations

from evallint.types import Diagnostic

BOLD, RED, CYAN, RESET = "\x1b[1m", "\x1b[1;31m", "\x1b[36m", "\x1b[0m"


def location_prefix(diagnostic: Diagnostic) -> str:
    cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
    return f"{diagnostic.path}:{cell}{diagnostic.location.row}:{diagnostic.location.column}"


def fix_marker(diagnostic: Diagnostic, options) -> str:
    """ruff's `[*]`: the finding has a fix that `--fix` would apply with the options given."""
    fix = diagnostic.fix
    if fix is None:
        return ""
    if fix.applicability == "safe" or getattr(options, "unsafe_fixes", False):
        return " [*]"
    return ""


def headline(diagnostic: Diagnostic, options) -> str:
    prefix = location_prefix(diagnostic)
    code = diagnostic.code
    if getattr(options, "color", False):
        prefix = f"{BOLD}{prefix}{RESET}"
        code = f"{RED}{code}{RESET}"
    return f"{prefix}: {code}{fix_marker(diagnostic, options)} {diagnostic.message}"


def fix_line(diagnostic: Diagnostic) -> str:
    fix = diagnostic.fix
    assert fix is not None
    return f"{fix.message} ({fix.applicability} fix)"


def render(diagnostics: list[Diagnostic], options) -> str:
    lines = []
    for diagnostic in diagnostics:
        lines.append(headline(diagnostic, options))
        if getattr(options, "show_fixes", False) and diagnostic.fix is not None:
            lines.append(f"  = fix: {fix_line(diagnostic)}")
    return "\n".join(lines) + ("\n" if lines else "")
