"""flake8 plugin: `flake8 --select EVL` reports what `evallint FILE` reports for that file.

flake8 calls the plugin once per file. The plugin lints that file the way the
CLI does when given one file (reading the rest of its project for
cross-file summaries, honouring `[tool.evallint]`), from the lines flake8 read,
so what flake8 shows and what it checked agree. flake8 wants 0-based columns
from plugins and adds one when printing, so the printed column is evallint's.
The plugin reports what is left after evallint's own `# noqa` handling, which
matches whole codes as ruff does. flake8 would then apply its own, which also
takes a code as a prefix (`# noqa: EVL1` would hide EVL101): loading the
plugin tells flake8 to leave EVL findings to evallint's handling, so a comment
means the same under flake8 as under the CLI.
"""

from __future__ import annotations

import ast
import os
import tempfile
from typing import Iterator

from evallint import __version__
from evallint.types import UNSAFE_NAMED


class EvallintChecker:
    name = "evallint"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: list[str] | None = None) -> None:
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        for diagnostic in self._diagnostics():
            if diagnostic.code == "EVL001":
                continue  # flake8 reports unparsable files itself (E999)
            yield diagnostic.location.row, diagnostic.location.column - 1, f"{diagnostic.code} {diagnostic.message}", type(self)

    def _diagnostics(self):
        from evallint.config import load_settings
        from evallint.engine import run

        text = "".join(self.lines) if self.lines is not None else None
        if self.filename in ("-", "stdin") or not os.path.isfile(self.filename):
            # Source from stdin has no project around it: lint it as a lone file.
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "stdin.py")
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text or "")
                return run([path], load_settings(None, [path]), jobs=1).diagnostics
        return _lint_in_project(self.filename, text, load_settings(None, [self.filename]))


def _leave_evallint_noqa_to_evallint() -> None:
    """Make flake8's inline `# noqa` check pass over EVL findings: evallint already applied
    the comment, with whole codes. Other plugins' codes keep flake8's own matching."""
    try:
        from flake8.violation import Violation
    except ImportError:  # a flake8 older than 6: its own prefix matching applies (README)
        return
    flake8_check = Violation.is_inline_ignored
    if getattr(flake8_check, "evallint_applies_noqa", False):
        return

    def is_inline_ignored(self, disable_noqa: bool) -> bool:
        if self.code.startswith("EVL"):
            return False
        return flake8_check(self, disable_noqa)

    is_inline_ignored.evallint_applies_noqa = True  # type: ignore[attr-defined]
    is_inline_ignored.__wrapped__ = flake8_check  # type: ignore[attr-defined]
    Violation.is_inline_ignored = is_inline_ignored


_leave_evallint_noqa_to_evallint()


# flake8 calls the plugin once per file, in a few long-lived processes. Each call needs the
# summaries of the whole project; re-indexing it every time would make a flake8 run quadratic
# in the project's size, so a process keeps the per-file results of unchanged files.
_linter = None


def _lint_in_project(filename: str, text: str | None, settings):
    """What `evallint FILENAME` reports, with the file's text as flake8 read it."""
    global _linter
    from evallint.buffer_lint import BufferLinter
    from evallint.sources import read_source

    if _linter is None:
        _linter = BufferLinter(use_cache=False)
    if text is None:
        text = read_source(os.path.abspath(filename))[0] or ""
    return _linter.lint(filename, text, settings, unsafe_fixes=UNSAFE_NAMED).diagnostics
