"""Applying a fix's edits to a text: shared by ``--fix``, ``--add-noqa`` and notebook cells."""

from __future__ import annotations

from evallint.parsing.lines import split_lines
from evallint.types import Edit


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (1-based rows and columns into ``text``), later ones first."""
    starts = [0]
    for line in split_lines(text):
        starts.append(starts[-1] + len(line))

    def offset(location) -> int:
        if location.row - 1 >= len(starts):
            return len(text)
        return min(starts[location.row - 1] + location.column - 1, len(text))

    spans = sorted(((offset(e.location), offset(e.end_location), e.content) for e in edits), reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text
