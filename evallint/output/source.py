"""The source lines a diagnostic points at, for formats that quote code (full)."""

from __future__ import annotations

from functools import lru_cache

from evallint.types import Diagnostic


@lru_cache(maxsize=64)
def _file_lines(path: str, cell: int | None) -> tuple[str, ...]:
    from evallint.parsing.notebook import NotebookError, cell_sources
    from evallint.parsing.python import ParseFailure, decode_source, split_lines

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return ()
    if cell is not None:
        try:
            text = cell_sources(data).get(cell, "")
        except NotebookError:
            return ()
    else:
        decoded = decode_source(data)
        text = "" if isinstance(decoded, ParseFailure) else decoded
    return tuple(line.rstrip("\r\n") for line in split_lines(text))


def source_line(diagnostic: Diagnostic, row: int) -> str | None:
    """Line ``row`` (1-based) of the file, or of the diagnostic's notebook cell; None when unavailable."""
    lines = _file_lines(diagnostic.path, diagnostic.cell)
    if 1 <= row <= len(lines):
        return lines[row - 1]
    return None
